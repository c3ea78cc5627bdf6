"""Int8 sentence vectors against float32 and a brute-force numpy reference; memory-mapped
loading; indexes written before int8 (store format 2, float32 sentences.npy) still read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qa_service.index import store
from qa_service.index.current import load_search_index
from qa_service.index.dense import CODES_FILE, FLOAT_FILE, SCALES_FILE, SentenceVectors
from qa_service.index.indexer import build_index
from qa_service.index.quantize import dequantize_int8, quantize_int8
from qa_service.settings import Settings
from tests.conftest import CORPUS
from tests.index.older_formats import as_jsonl_layout


def _unit(n: int, d: int = 384, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_codes_against_a_reference() -> None:
    x = _unit(500)
    x[7] = 0.0  # a zero row: scale 0, codes 0, decoded exactly
    codes, scales = quantize_int8(x)
    peak = np.abs(x).max(axis=1)
    assert codes.dtype == np.int8 and scales.dtype == np.float32
    np.testing.assert_allclose(scales, peak / 127, rtol=1e-6)
    assert np.abs(codes).max() == 127
    ref = np.where(scales[:, None] > 0, np.rint(x / np.where(scales > 0, scales, 1)[:, None]), 0)
    assert np.array_equal(codes, ref.astype(np.int8))
    back = dequantize_int8(codes, scales)
    assert np.all(np.abs(back - x) <= scales[:, None] / 2 + 1e-7)
    assert not back[7].any()


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, (4, 16), elements=st.floats(-1, 1, width=32)))
def test_stored_vectors_code_to_the_same_codes(x: np.ndarray) -> None:
    """A vector read back from int8 and stored again (an incremental build reusing it) keeps
    its codes: reuse never drifts."""
    codes, scales = quantize_int8(x)
    again, scales2 = quantize_int8(dequantize_int8(codes, scales))
    assert np.array_equal(codes, again)
    np.testing.assert_allclose(scales2, scales, rtol=1e-6)


def test_int8_cosines_rank_like_float32() -> None:
    """Cosines off by at most 3e-3 (MiniLM's dimension), top 10 of 5,000 nearly unchanged."""
    vecs, queries = _unit(5000), _unit(50, seed=1)
    owner = np.arange(5000, dtype=np.int32)
    spans = np.zeros((5000, 2), dtype=np.int32)
    exact, int8 = SentenceVectors(vecs, owner, spans), SentenceVectors.quantized(vecs, owner, spans)
    assert int8.encoding == "int8" and int8.vectors.dtype == np.int8
    overlap = 0
    for q in queries:
        ref = vecs @ q
        got = int8.best_per_chunk(q, 5000)
        assert np.abs(got - ref).max() < 3e-3
        assert np.allclose(exact.best_per_chunk(q, 5000), ref, atol=1e-6)
        overlap += len(set(np.argsort(-ref)[:10]) & set(np.argsort(-got)[:10]))
    assert overlap / (10 * len(queries)) >= 0.95


def test_accessors_agree_with_float(tmp_path: Path) -> None:
    vecs = _unit(40, d=32, seed=2)
    owner = np.array([0] * 5 + [1] * 10 + [3] * 25, dtype=np.int32)
    spans = np.arange(80, dtype=np.int32).reshape(40, 2)
    exact = SentenceVectors(vecs, owner, spans)
    int8 = SentenceVectors.quantized(vecs, owner, spans)
    q = _unit(1, d=32, seed=3)[0]
    rows = np.array([3, 0, 1, 2], dtype=np.int64)
    np.testing.assert_allclose(int8.best_of_rows(q, rows), exact.best_of_rows(q, rows), atol=5e-3)
    np.testing.assert_allclose(int8.best_per_chunk(q, 5), exact.best_per_chunk(q, 5), atol=5e-3)
    np.testing.assert_allclose(int8.rows(np.array([4, 39])), vecs[[4, 39]], atol=5e-3)
    s, v = int8.of_chunk(1)
    assert np.array_equal(s, spans[5:15]) and v.dtype == np.float32
    np.testing.assert_allclose(v, vecs[5:15], atol=5e-3)
    assert int8.of_chunk(4)[1].shape == (0, 32)


def _memory_mapped(a: np.ndarray) -> bool:
    while a is not None:
        if isinstance(a, np.memmap):
            return True
        a = a.base  # type: ignore[assignment]
    return False


def test_saved_int8_is_memory_mapped(tmp_path: Path) -> None:
    vecs = _unit(300, d=32)
    owner = np.repeat(np.arange(100, dtype=np.int32), 3)
    sv = SentenceVectors.quantized(vecs, owner, np.zeros((300, 2), dtype=np.int32))
    sv.save(tmp_path)
    assert (tmp_path / CODES_FILE).stat().st_size == 300 * 32 + 128  # a byte a dimension + header
    assert not (tmp_path / FLOAT_FILE).exists()
    loaded = SentenceVectors.load(tmp_path)
    assert loaded.encoding == "int8"
    assert _memory_mapped(loaded.vectors) and _memory_mapped(loaded.scales)  # read on demand
    assert np.array_equal(loaded.vectors, sv.vectors)
    with pytest.raises(ValueError):  # a float file where codes belong is refused
        np.save(tmp_path / CODES_FILE, vecs, allow_pickle=False)
        SentenceVectors.load(tmp_path)


def _as_format_2(gen: Path) -> None:
    """Rewrite a generation as a build before int8 wrote it: float32 sentences.npy, format 2
    (reports and passages as JSON lines)."""
    as_jsonl_layout(gen, version=2)
    folder = gen / "sentences"
    sv = SentenceVectors.load(folder)
    np.save(folder / FLOAT_FILE, sv.rows(np.arange(len(sv))), allow_pickle=False)
    (folder / CODES_FILE).unlink()
    (folder / SCALES_FILE).unlink()
    manifest = json.loads((gen / store.MANIFEST).read_text())
    manifest.pop("sentence_vectors")
    manifest["format_version"] = 2
    files = {k: v for k, v in manifest["files"].items() if not k.startswith("sentences/")}
    for path in folder.iterdir():
        files[f"sentences/{path.name}"] = store.sha256_file(path)
    manifest["files"] = dict(sorted(files.items()))
    manifest[store.MANIFEST_SHA] = store.manifest_digest(manifest)
    (gen / store.MANIFEST).write_text(json.dumps(manifest, indent=2))


def test_a_format_2_index_still_loads_and_is_rebuilt_as_int8(
    tmp_path: Path, built_index: Path
) -> None:
    new = load_search_index(Settings(index_dir=built_index)).sentences
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    _as_format_2(store.current_generation(index))
    settings = Settings(corpus_dir=CORPUS, index_dir=index)
    old = load_search_index(settings)
    assert old.manifest["format_version"] == 2 and old.sentences.encoding == "float32"
    rows = np.arange(len(new))
    np.testing.assert_array_equal(old.sentences.rows(rows), new.rows(rows))

    # The next build reuses every stored vector (nothing embedded) and stores int8 codes,
    # the very codes a fresh build wrote.
    report = build_index(settings)
    assert report.reused["sentences_embedded"] == report.reused["passages_embedded"] == 0
    again = load_search_index(settings)
    assert again.manifest["format_version"] == store.FORMAT_VERSION
    assert again.manifest["sentence_vectors"] == {"encoding": "int8", "dimension": 384}
    assert np.array_equal(again.sentences.vectors, new.vectors)


def test_float32_setting_writes_float32(tmp_path: Path, built_index: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    settings = Settings(corpus_dir=CORPUS, index_dir=index, sentence_vectors="float32")
    build_index(settings)
    loaded = load_search_index(settings)
    assert loaded.sentences.encoding == "float32"
    assert loaded.manifest["sentence_vectors"]["encoding"] == "float32"
    base = load_search_index(Settings(index_dir=built_index)).sentences
    np.testing.assert_allclose(
        loaded.sentences.rows(np.arange(len(base))), base.rows(np.arange(len(base))), atol=0
    )
