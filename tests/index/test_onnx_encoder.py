"""The ONNX Runtime encoder against the PyTorch one (the judge), and its failure paths."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa_service.index.embedding import SentenceTransformerEmbedder, resolve_model
from qa_service.index.encoders import make_embedder
from qa_service.index.onnx_encoder import OnnxEmbedder
from qa_service.index.onnx_export import _publish, ensure_encoder, export_encoder, is_valid
from qa_service.index.onnx_files import (
    MODEL_FILE,
    SIDECAR,
    OnnxUnavailable,
    UnsupportedModel,
    encoder_key,
    encoders_root,
    pool,
    read_pipeline,
)
from qa_service.settings import BUNDLED_MODEL, Settings
from qa_service.types import Chunk

pytestmark = pytest.mark.slow
MIN_COSINE = 0.99999  # onnx_export.MIN_COSINE: `qa index` mixes its vectors with torch's
EDGE_TEXTS = [
    "",
    "a",
    "   ",
    "line one\n\nline two\ttabbed",
    "Ünïcödé – “curly quotes”, naïve café, 日本語の文, emoji 🙂👍🏽, Ελληνικά, עברית",
    " ".join(f"word{i} of a very long passage" for i in range(400)),  # beyond the window
]


@pytest.fixture(scope="session")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder().load()


@pytest.fixture(scope="session")
def exported(built_index: Path) -> Path:
    """The export `qa index` made for the session's index (made here if the backend is torch)."""
    return export_encoder(BUNDLED_MODEL, encoders_root(built_index))


@pytest.fixture(scope="session")
def onnx_embedder(exported: Path) -> OnnxEmbedder:
    emb = OnnxEmbedder(folder=exported).load()
    assert emb.backend == "onnx"
    return emb


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    return (a * b).sum(axis=1)


def test_same_vectors_as_torch_on_real_passages(
    corpus_chunks: list[Chunk], torch_embedder, onnx_embedder
) -> None:
    # The longest passages (truncated at the window) and a spread of the rest: ~100 of them.
    by_length = sorted((c.embed_text for c in corpus_chunks), key=len, reverse=True)
    texts = by_length[:24] + by_length[24 :: max(1, len(by_length) // 72)]
    want = torch_embedder.encode(texts, batch_size=32)
    got = onnx_embedder.encode(texts, batch_size=32)
    assert _cosines(want, got).min() >= MIN_COSINE
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # batch size and order do not change a row
    again = onnx_embedder.encode(texts[::-1][:40], batch_size=7)[::-1]
    assert _cosines(got[-40:], again).min() >= MIN_COSINE
    sample = texts[:: max(1, len(texts) // 50)]
    assert [onnx_embedder.count_tokens(t) for t in sample] == [
        torch_embedder.count_tokens(t) for t in sample
    ]


def test_same_vectors_on_edge_inputs(torch_embedder, onnx_embedder) -> None:
    want = torch_embedder.encode(EDGE_TEXTS)
    assert _cosines(want, onnx_embedder.encode(EDGE_TEXTS)).min() >= MIN_COSINE
    for text, row in zip(EDGE_TEXTS, want, strict=True):  # one at a time: no padding at all
        assert float(onnx_embedder.encode([text])[0] @ row) >= MIN_COSINE, repr(text[:40])
        assert onnx_embedder.count_tokens(text) == torch_embedder.count_tokens(text)
    assert onnx_embedder.count_tokens(EDGE_TEXTS[-1]) > onnx_embedder.max_tokens
    assert onnx_embedder.max_tokens == torch_embedder.max_tokens
    assert onnx_embedder.dimension == torch_embedder.dimension
    assert onnx_embedder.encode([]).shape == (0, torch_embedder.dimension)


def test_pooling_matches_sentence_transformers() -> None:
    import torch
    from sentence_transformers.models import Pooling

    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(4, 7, 8)).astype(np.float32)
    mask = np.array([[1] * 7, [1] * 3 + [0] * 4, [1] + [0] * 6, [0] * 2 + [1] * 5])
    for modes in [("mean",), ("cls",), ("max",), ("mean_sqrt_len_tokens",), ("cls", "mean")]:
        ref = Pooling(8, pooling_mode=modes if len(modes) > 1 else modes[0])
        features = {
            "token_embeddings": torch.from_numpy(tokens),
            "attention_mask": torch.from_numpy(mask),
        }
        want = ref(features)["sentence_embedding"].numpy()
        assert np.allclose(pool(tokens, mask, modes), want, atol=1e-6), modes


def _copy(exported: Path, root: Path) -> Path:
    folder = root / exported.name
    shutil.copytree(exported, folder)
    return folder


def test_missing_export_falls_back_to_torch(
    tmp_path: Path, torch_embedder, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        emb = OnnxEmbedder(root=tmp_path / "none", fallback=SentenceTransformerEmbedder()).load()
    assert emb.backend == "torch" and "no exported ONNX encoder" in caplog.text
    want = torch_embedder.encode(EDGE_TEXTS[:3])
    assert np.allclose(emb.encode(EDGE_TEXTS[:3]), want, atol=1e-6)
    with pytest.raises(OnnxUnavailable, match="no exported ONNX encoder"):
        OnnxEmbedder(root=tmp_path / "none").load()  # no fallback: a clear error, no crash


@pytest.mark.parametrize("damage", ["model", "sidecar", "key", "truncated"])
def test_damaged_export_falls_back_to_torch(
    exported: Path, tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _copy(exported, tmp_path)
    model, sidecar = folder / MODEL_FILE, folder / SIDECAR
    if damage == "model":  # same size, one flipped byte in the weights
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0xFF
        model.write_bytes(bytes(data))
    elif damage == "truncated":
        model.write_bytes(model.read_bytes()[:1000])
    elif damage == "sidecar":
        sidecar.write_text("{not json")
    else:  # exported for another model / other library versions
        meta = json.loads(sidecar.read_text())
        sidecar.write_text(json.dumps({**meta, "key": "0" * 64}))
    with caplog.at_level(logging.WARNING):
        emb = OnnxEmbedder(root=tmp_path, fallback=SentenceTransformerEmbedder()).load()
    assert emb.backend == "torch" and "encoding with PyTorch" in caplog.text
    assert emb.encode(["custody"]).shape == (1, 384)
    key = json.loads((exported / SIDECAR).read_text())["key"]
    assert not is_valid(folder, key)


def test_damaged_export_is_replaced(exported: Path, tmp_path: Path) -> None:
    key = json.loads((exported / SIDECAR).read_text())["key"]
    final = _copy(exported, tmp_path / "root")
    (final / MODEL_FILE).write_bytes(b"damaged")
    fresh = _copy(exported, tmp_path / "tmp")
    _publish(fresh, final, key)
    assert is_valid(final, key) and not fresh.exists()
    # and export_encoder finds it valid, so nothing is exported again
    assert export_encoder(BUNDLED_MODEL, tmp_path / "root") == final


def _model_variant(
    tmp_path: Path, modules: list[dict] | None = None, pooling: dict | None = None
) -> Path:
    """A copy of the bundled model folder (weights linked) with changed config files."""
    src = Path(resolve_model(BUNDLED_MODEL))
    dst = tmp_path / "model"
    for path in src.rglob("*"):
        if path.is_file():
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    if modules is not None:
        (dst / "modules.json").unlink()
        (dst / "modules.json").write_text(json.dumps(modules))
    if pooling is not None:
        (dst / "1_Pooling" / "config.json").unlink()
        (dst / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return dst


MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
]


def test_unsupported_modules_are_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dense = {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
    model = _model_variant(tmp_path, modules=[*MODULES, dense])
    with pytest.raises(
        UnsupportedModel, match=r"Transformer -> Pooling -> Dense.*QA_ENCODER_BACKEND=torch"
    ):
        read_pipeline(model)
    with pytest.raises(UnsupportedModel):
        export_encoder(str(model), tmp_path / "encoders")  # refused before loading anything
    assert not (tmp_path / "encoders").exists()
    settings = Settings(model=str(model), index_dir=tmp_path / "index", encoder_backend="onnx")
    with caplog.at_level(logging.WARNING):
        assert ensure_encoder(settings) is None  # `qa index` goes on with torch
    assert "Dense" in caplog.text


@pytest.mark.parametrize("mode", ["weightedmean", "lasttoken"])
def test_unsupported_pooling_is_refused(tmp_path: Path, mode: str) -> None:
    model = _model_variant(tmp_path, pooling={"embedding_dimension": 384, "pooling_mode": mode})
    with pytest.raises(UnsupportedModel, match=mode):
        read_pipeline(model)


def test_pipeline_from_config_files(tmp_path: Path) -> None:
    bundled = read_pipeline(Path(resolve_model(BUNDLED_MODEL)))
    assert bundled.pooling == ("mean",) and bundled.normalize
    legacy = {
        "word_embedding_dimension": 384,
        "pooling_mode_cls_token": True,
        "pooling_mode_max_tokens": True,
    }
    plain = read_pipeline(_model_variant(tmp_path, modules=MODULES, pooling=legacy))
    assert plain.pooling == ("cls", "max") and not plain.normalize


def test_key_follows_the_model_files(tmp_path: Path) -> None:
    bundled = Path(resolve_model(BUNDLED_MODEL))
    variant = _model_variant(tmp_path, pooling={"embedding_dimension": 384, "pooling_mode": "cls"})
    assert encoder_key(BUNDLED_MODEL, bundled) == encoder_key(BUNDLED_MODEL, bundled)
    assert encoder_key(BUNDLED_MODEL, bundled) != encoder_key(BUNDLED_MODEL, variant)
    assert encoder_key(BUNDLED_MODEL, bundled) != encoder_key("other-name", bundled)


def test_make_embedder_picks_the_backend(tmp_path: Path) -> None:
    assert isinstance(make_embedder(Settings(encoder_backend="torch")), SentenceTransformerEmbedder)
    onnx = make_embedder(Settings(encoder_backend="onnx", index_dir=tmp_path, onnx_threads=2))
    assert isinstance(onnx, OnnxEmbedder) and onnx.threads == 2
    assert onnx.root == tmp_path / "encoders"


def test_failed_export_leaves_the_build_to_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import qa_service.index.onnx_export as onnx_export

    def broken(*args: object) -> bytes:
        raise RuntimeError("exporter bug")

    monkeypatch.setattr(onnx_export, "onnx_bytes", broken)
    settings = Settings(index_dir=tmp_path / "index", encoder_backend="onnx")
    with caplog.at_level(logging.WARNING):
        assert ensure_encoder(settings) is None
    assert "exporter bug" in caplog.text
    assert list((tmp_path / "index" / "encoders").iterdir()) == []  # no half-written export


def test_token_budget_batches_give_the_same_vectors(
    corpus_chunks: list[Chunk], exported: Path, onnx_embedder: OnnxEmbedder
) -> None:
    texts = [c.embed_text for c in corpus_chunks[:12]] + EDGE_TEXTS
    want = onnx_embedder.encode(texts, batch_size=len(texts))  # one batch per 256 tokens
    wide = OnnxEmbedder(folder=exported, batch_tokens=1 << 20).load()
    assert _cosines(want, wide.encode(texts, batch_size=len(texts))).min() >= MIN_COSINE
    assert _cosines(want, wide.encode(texts, batch_size=1)).min() >= MIN_COSINE


def test_spin_setting_reaches_the_encoder(tmp_path: Path) -> None:
    from qa_service.settings import Settings

    assert getattr(make_embedder(Settings(index_dir=tmp_path)), "spin", None) is False
    on = make_embedder(Settings(index_dir=tmp_path, onnx_spin=True))
    assert getattr(on, "spin", None) is True
