"""QA_INDEX_PRECISION=bf16: `qa index` embeds with PyTorch in bfloat16 (two model copies on one
torch thread each), queries stay fp32; the vectors are the fp32 ones to within bfloat16's
rounding, and builds of the two precisions never mix their vectors."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qa_service.index import reuse, store
from qa_service.index.embedding import SentenceTransformerEmbedder
from qa_service.index.indexer import build_index
from qa_service.settings import Settings
from tests.conftest import CORPUS, SEEDS

TEXTS = [
    "Custody officers must look for somewhere for a child to stay when bail is refused.",
    "Kids.",
    "The force has set up a quarterly oversight meeting with agencies that have a"
    " responsibility for detained children, including children's social care.",
    "Officers now notify schools about children affected by domestic abuse incidents.",
    "A THRIVE assessment uses information held on police systems.",
] * 3


@pytest.fixture
def torch_threads() -> Iterator[None]:
    """A bf16 embedder sets one torch thread for the process: give the others theirs back."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("torch_threads")
def test_bf16_vectors_are_the_fp32_ones_within_rounding() -> None:
    s = Settings()
    fp32 = SentenceTransformerEmbedder(s.model).load().encode(TEXTS, batch_size=4)
    bf16 = SentenceTransformerEmbedder(s.model, precision="bf16", workers=2).load()
    got = bf16.encode(TEXTS, batch_size=4)  # texts of many lengths: order must be kept
    assert got.dtype == np.float32 and got.shape == fp32.shape
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert float((got * fp32).sum(axis=1).min()) > 0.999
    assert bf16.encode([], batch_size=4).shape == (0, fp32.shape[1])
    # One batch on one copy: the same vector as in the padded batches shared over the copies,
    # within bf16 rounding (padding changes the kernels' shapes, not the attended words).
    alone = bf16.encode(TEXTS[:1], batch_size=4)
    assert float(alone[0] @ got[0]) > 0.99999


@pytest.mark.usefixtures("torch_threads")
def test_bf16_and_fp32_builds_do_not_mix_vectors(tmp_path: Path, built_index: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / SEEDS["leicestershire"], corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", index_precision="bf16")
    shutil.copytree(built_index / "encoders", settings.index_dir / "encoders")
    first = build_index(settings)
    manifest = store.load(settings.index_dir).manifest
    assert manifest["embedding"]["encoder"]["bf16"] == settings.model
    assert manifest["embedder"]["precision"] == "bf16"
    assert first.reused["passages_embedded"] == len({c.embed_text for c in first.chunks})
    # The same reports at fp32: the bf16 vectors are not reused, everything is embedded again.
    fp32 = settings.model_copy(update={"index_precision": "fp32"})
    assert reuse.embedder_signature(fp32) != manifest["embedder"]
    again = build_index(fp32)
    assert again.reused["passages_embedded"] == first.reused["passages_embedded"]
    assert store.load(settings.index_dir).manifest["embedding"]["backend"] == "onnx"
