"""Product-quantised sentence vectors (store format 5, QA_SENTENCE_VECTORS=pq): codes against
a float32 reference, a build's round trip, damage refused, and reuse without drift."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa_service.index import store
from qa_service.index.current import load_search_index
from qa_service.index.dense import PQ_CODES_FILE, SentenceVectors
from qa_service.index.indexer import build_index
from qa_service.index.quantize import PQ_MIN_TRAIN, decode_pq, encode_pq, train_pq
from qa_service.settings import Settings
from tests.conftest import CORPUS


def _unit(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_codes_decode_to_centroids_and_code_again_to_themselves() -> None:
    x = _unit(2_000, 32, 0)
    book = train_pq(x, 8)
    assert book.shape == (8, 256, 4) and book.dtype == np.float32
    codes = encode_pq(x, book)
    back = decode_pq(codes, book)
    for j in range(8):  # each slice is its code's centroid
        np.testing.assert_array_equal(back[:, 4 * j : 4 * j + 4], book[j, codes[:, j]])
    assert np.array_equal(encode_pq(back, book), codes)  # a reused vector keeps its codes


def test_pq_cosines_are_the_decoded_vectors_cosines() -> None:
    """Asymmetric distance (a lookup table per query) against the brute-force product of the
    query with the decoded vectors."""
    x = _unit(3_000, 32, 1)
    book = train_pq(x, 8)
    owner = np.repeat(np.arange(600, dtype=np.int32), 5)
    spans = np.zeros((3_000, 2), dtype=np.int32)
    sv = SentenceVectors(encode_pq(x, book), owner, spans, codebook=book)
    assert sv.encoding == "pq" and sv.dimension == 32
    q = _unit(1, 32, 2)[0]
    decoded = sv.rows(np.arange(3_000))
    reference = (decoded @ q).reshape(600, 5).max(axis=1)
    np.testing.assert_allclose(sv.best_per_chunk(q, 600), reference, atol=1e-5)
    rows = np.array([3, 599, 17])
    np.testing.assert_allclose(sv.best_of_rows(q, rows), reference[rows], atol=1e-5)
    spans_of, vecs = sv.of_chunk(4)
    assert len(spans_of) == 5 and np.allclose(vecs, decoded[20:25])
    # Unit vectors stay close to themselves through the codes.
    assert float(((decoded * x).sum(axis=1)).mean()) > 0.8


@pytest.fixture(scope="module")
def built_pq(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("index-pq")
    build_index(Settings(corpus_dir=CORPUS, index_dir=index, sentence_vectors="pq"))
    return index


def test_a_pq_build_loads_as_built(built_pq: Path) -> None:
    gen = store.current_generation(built_pq)
    manifest = json.loads((gen / store.MANIFEST).read_text())
    assert manifest["sentences"] >= PQ_MIN_TRAIN
    assert manifest["sentence_vectors"] == {"encoding": "pq", "dimension": 384, "pq_bytes": 64}
    index = load_search_index(Settings(index_dir=built_pq))
    assert index.sentences.encoding == "pq" and index.sentences.vectors.dtype == np.uint8
    assert index.sentences.vectors.shape == (manifest["sentences"], 64)


def test_a_damaged_pq_file_is_refused(built_pq: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(built_pq, index)
    target = store.current_generation(index) / "sentences" / PQ_CODES_FILE
    data = bytearray(target.read_bytes())
    data[-1] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(store.IndexStoreError, match="fails its checksum"):
        load_search_index(Settings(index_dir=index))


def test_a_rebuild_keeps_the_codebook_and_the_codes(built_pq: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(built_pq, index)
    before = store.current_generation(index) / "sentences"
    codes, book = (np.load(before / f) for f in (PQ_CODES_FILE, "sentence_pq_codebook.npy"))
    report = build_index(
        Settings(corpus_dir=CORPUS, index_dir=index, sentence_vectors="pq"), full=False
    )
    assert report.reused["sentences_embedded"] == 0
    after = report.generation / "sentences"
    assert np.array_equal(np.load(after / "sentence_pq_codebook.npy"), book)
    assert np.array_equal(np.load(after / PQ_CODES_FILE), codes)


def test_auto_stores_pq_where_the_passage_index_is_approximate() -> None:
    from qa_service.index.indexer import sentence_encoding

    auto = Settings(approx_threshold=1_000)
    assert auto.sentence_vectors == "auto"  # the default
    assert sentence_encoding(auto, 50_000, 384, 1_000) == "int8"  # exact search: int8
    assert sentence_encoding(auto, 50_000, 384, 1_001) == "pq"  # HNSW: pq
    assert sentence_encoding(auto, PQ_MIN_TRAIN - 1, 384, 1_001) == "int8"  # too few to learn
    chosen = Settings(approx_threshold=1_000, sentence_vectors="int8")
    assert sentence_encoding(chosen, 50_000, 384, 5_000) == "int8"  # a choice is kept
