"""Build an index from a corpus folder: read, chunk, publish (the ``qa index`` pipeline)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import __version__
from ..ingest import corpus_files, read_corpus
from ..ingest.acronyms import extract_acronyms
from ..settings import Settings
from ..types import Chunk, Document
from . import reuse, store
from .adapted import adapted_dir, is_adapted, read_recipe
from .agreement import check_agreement, vectors_encoder
from .chunking import ChunkParams, chunk_corpus
from .dense import FLOAT_FILE, DenseIndex, SentenceVectors
from .embedding import ModelTokenizer
from .lexical import LexicalIndex
from .onnx_export import IndexEncoder, sweep_exports
from .onnx_files import encoders_root
from .passage_vectors import fill_pooled
from .quantize import PQ_MIN_TRAIN
from .tokens import tiktoken_counter

log = logging.getLogger(__name__)

BUILD_LOCK_WAIT_S = 10.0


class BuildError(Exception):
    """Nothing could be indexed, or the index would not fit (the message says why)."""


def sweep_leftovers(index_dir: Path) -> list[str]:
    """Remove the temporary folders interrupted builds and exports left in ``index_dir``
    (none that a build running now is still using); returns their names."""
    root = encoders_root(index_dir)
    try:
        removed = store.sweep_leftovers(index_dir)
        removed += [f"{root.name}/{name}" for name in sweep_exports(root)]
    except OSError as exc:  # e.g. a read-only index folder: the build itself will say so
        log.warning("could not remove leftovers of interrupted builds in %s: %s", index_dir, exc)
        return []
    if removed:
        log.info("removed %d leftover(s) of interrupted builds: %s", len(removed), removed)
    return removed


def check_disk_space(settings: Settings, needed: int) -> None:
    """BuildError unless ``needed`` bytes, plus the ``min_free_mb`` reserve, fit in the index
    folder's filesystem."""
    reserve = int(settings.min_free_mb * 2**20)
    free = store.free_bytes(settings.index_dir)
    if free < needed + reserve:
        raise BuildError(
            f"not enough disk space for the index in {settings.index_dir}: the new generation"
            f" needs about {needed / 2**20:.1f} MB and {settings.min_free_mb:g} MB are kept"
            f" free (QA_MIN_FREE_MB), but only {free / 2**20:.1f} MB are free; free some space"
            " or build on another disk (--index)"
        )


@dataclass
class BuildReport:
    """What a build did."""

    generation: Path
    documents: list[Document]
    chunks: list[Chunk]
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reused: dict[str, Any] = field(default_factory=dict)  # what was reused from earlier builds
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


def chunk_params(settings: Settings, model_max_tokens: int) -> ChunkParams:
    """Chunk sizes from the settings and the model's window."""
    return ChunkParams(
        target_tokens=settings.chunk_target_tokens,
        max_tokens=max(settings.chunk_max_tokens, settings.chunk_target_tokens),
        model_max_tokens=model_max_tokens,
        heading_context_tokens=settings.heading_context_tokens,
    )


def corpus_hash(docs: list[Document]) -> str:
    """sha256 over every report's name and canonical text."""
    h = hashlib.sha256()
    for d in sorted(docs, key=lambda d: d.source):
        h.update(d.source.encode())
        h.update(hashlib.sha256(d.text.encode()).digest())
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "ncpi-qa": __version__}
    for pkg in ("sentence-transformers", "faiss-cpu", "bm25s", "tiktoken", "torch", "transformers"):
        with contextlib.suppress(importlib_metadata.PackageNotFoundError):
            out[pkg] = importlib_metadata.version(pkg)
    return out


def _chunker_settings(settings: Settings, params: ChunkParams) -> dict[str, Any]:
    return {
        "target_tokens": params.target_tokens,
        "max_tokens": params.max_tokens,
        "model_max_tokens": params.model_max_tokens,
        "heading_context_tokens": params.heading_context_tokens,
        "tiktoken_encoding": settings.tiktoken_encoding,
    }


def build_index(
    settings: Settings,
    progress: Callable[[str, int, int], None] | None = None,
    full: bool = False,
    vectors_from: list[Path] | None = None,
) -> BuildReport:
    """Read every report in the corpus folder, chunk it, and publish a new generation.

    Unless ``full``, unchanged reports and already embedded texts of the current generation
    are reused (see ``reuse``); ``vectors_from`` names more generations to take vectors from.
    """
    t0 = time.perf_counter()
    corpus = settings.corpus_dir
    if not corpus.is_dir():
        raise BuildError(f"corpus folder {corpus} does not exist")
    sweep_leftovers(settings.index_dir)
    total = sum(1 for _ in corpus_files(corpus))
    files_done = [0]

    def on_file(path: Path) -> None:
        files_done[0] += 1
        if progress:
            progress(f"reading {path.name}", files_done[0], total)

    clock = _Clock()
    if (
        is_adapted(settings.model)
        and read_recipe(adapted_dir(settings.model, settings.models_dir)) is None
    ):
        raise BuildError(
            f"the adapted model {settings.model!r} is not built in {settings.models_dir}:"
            " run `qa prepare` (the README's set-up does)"
        )
    tokenizer = ModelTokenizer(settings.model, settings.models_dir).load()
    params = chunk_params(settings, tokenizer.max_tokens)
    chunker = _chunker_settings(settings, params)
    pipeline = reuse.pipeline_fingerprint(settings, chunker)
    clock.lap("setup")
    previous = reuse.load_previous(settings) if not full else None
    extra = [reuse.load_previous(settings, g) for g in (vectors_from or [])]
    clock.lap("load_previous")

    reused_from: dict[str, reuse.Previous] = {}  # doc id -> the generation its parse came from
    older = reuse.OlderGenerations(settings, previous.generation if previous else None)

    def cached(source: str, fingerprint: str) -> Document | None:
        if full:
            return None
        if previous is not None:
            doc = previous.document(source, fingerprint, pipeline)
            if doc is not None:
                reused_from[doc.doc_id] = previous
                return doc
        found = older.document(source, fingerprint, pipeline)  # perhaps removed and put back
        if found is None:
            return None
        reused_from[found[0].doc_id] = found[1]
        return found[0]

    docs, problems = read_corpus(corpus, settings.max_file_bytes, on_file, cached)
    if not docs:
        detail = "; ".join(problems) if problems else "no report files found"
        raise BuildError(f"nothing could be indexed from {corpus}: {detail}")
    encoder = IndexEncoder(settings)
    if previous is None or previous.passages is None or len(reused_from) < len(docs):
        encoder.open_in_background()  # a new or changed report: it will have texts to embed
    clock.lap("read")

    count: Callable[[str], int] | None = None  # built only if some report is chunked
    chunks: list[Chunk] = []
    for i, doc in enumerate(docs, 1):
        origin = reused_from.get(doc.doc_id)
        kept = origin.chunks.get(doc.doc_id) if origin else None
        if not kept:
            count = count or tiktoken_counter(settings.tiktoken_encoding)
            kept = chunk_corpus([doc], params, count, tokenizer)
        chunks.extend(kept)
        if progress:
            progress(f"chunking {doc.source}", i, len(docs))
    clock.lap("chunk")

    return index_documents(
        settings,
        docs,
        chunks,
        problems=problems,
        sources=[p for p in (previous, *older.loaded, *extra) if p is not None],
        reused={
            "from": previous.generation if previous else None,
            "documents": len(reused_from),
            "older": [p.generation for p in older.loaded],
        },
        progress=progress,
        started=t0,
        timings=clock.seconds,
        encoder=encoder,
    )


def index_documents(
    settings: Settings,
    docs: list[Document],
    chunks: list[Chunk],
    *,
    problems: list[str] | None = None,
    sources: list[reuse.Previous] | None = None,
    reused: dict[str, Any] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    embed: Callable[[list[str], int], NDArray[np.float32]] | None = None,
    started: float | None = None,
    timings: dict[str, float] | None = None,
    encoder: IndexEncoder | None = None,
) -> BuildReport:
    """Embed (reusing the vectors ``sources`` hold), index and publish parsed, chunked reports.

    ``embed(texts, batch_size)`` defaults to the configured model, loaded only if some text
    has no vector yet (``encoder``, if given, may already be opening it); ``timings`` holds
    seconds of stages the caller already ran.
    """
    t0 = time.perf_counter() if started is None else started
    problems = problems or []
    tokenizer_max = ModelTokenizer(settings.model, settings.models_dir).load().max_tokens
    params = chunk_params(settings, tokenizer_max)
    chunker = _chunker_settings(settings, params)
    encoder = encoder or IndexEncoder(settings)  # opened only if some text has no vector yet
    clock = _Clock(timings, exclude=lambda: encoder.load_seconds)
    own_encoder = embed is None
    if embed is None:

        def embed(texts: list[str], size: int) -> NDArray[np.float32]:
            return encoder.get().encode(texts, batch_size=size)

    # Before anything waits for the encoder: while it opens in the background (a fresh build
    # asks it for the vector dimension just below), this is work done meanwhile.
    lexical = LexicalIndex.build([c.text for c in chunks])
    clock.lap("lexical")
    acronyms = extract_acronyms(d.text for d in docs)
    clock.lap("acronyms")
    batch = max(1, settings.embed_batch_size)
    usable = [p for p in sources or [] if p.passages and p.sentences]
    dimension = usable[0].passages.dimension if usable and usable[0].passages else None
    passage_cache = reuse.VectorCache(dimension or encoder.get().dimension)
    sentence_cache = reuse.VectorCache(passage_cache.dimension)
    for p in usable:
        assert p.passages and p.sentences
        passage_cache.absorb(p.passages)
        sentence_cache.absorb(p.sentences)
    # The codebook of the newest generation that has one is kept (reused vectors then code
    # to the same codes); vectors decoded from another codebook are coded with it once.
    codebook = next((p.codebook for p in usable if p.codebook is not None), None)
    ranges = next((p.ranges for p in usable if p.ranges is not None), None)  # the same
    stats = {"passages": reuse.EmbedStats(), "sentences": reuse.EmbedStats()}
    passage_texts = [c.embed_text for c in chunks]
    pooled = settings.passage_vectors == "sentences"
    pipeline = reuse.pipeline_fingerprint(settings, chunker)
    texts, owner, spans = reuse.sentence_texts(chunks, reuse.known_spans(usable, pipeline))
    dim = passage_cache.dimension
    needed = store.estimate_generation_bytes(
        docs,
        chunks,
        len(texts),
        dim,
        len(chunks) > settings.approx_threshold,
        sentence_bytes=_sentence_bytes(
            sentence_encoding(settings, len(texts), dim, len(chunks)),
            dim,
            settings.sentence_pq_bytes,
        ),
    )
    check_disk_space(settings, needed)  # before the slow part, embedding
    clock.lap("vectors_reused")

    agreement: float | None = None
    same_encoder = False
    stored_by = reuse.common_encoder(usable)
    if (
        own_encoder
        and usable
        and (
            reuse.any_missing(passage_texts, passage_cache)
            or reuse.any_missing(texts, sentence_cache)
        )
    ):
        if stored_by is not None and encoder.get() and encoder.identity() == stored_by:
            same_encoder = True  # the stored vectors came from this very export: no check
        else:
            # New vectors will sit beside stored ones: check the encoder reproduces them first.
            # Pooled passage vectors follow from sentence vectors: checking those suffices.
            agreement, passage_cache, sentence_cache = check_agreement(
                encoder,
                passage_cache,
                sentence_cache,
                [] if pooled else passage_texts,
                texts,
                sentences_coded=codebook is not None,
                passage_ranges=ranges,
            )
    clock.lap("agreement_check")

    def embedding(size: int) -> reuse.Embed:
        assert embed is not None
        return lambda texts: embed(texts, size)

    def bar(stage: str) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        return lambda done, total: progress(stage, done, total)

    def embed_kind(kind: str, items: list[str], cache: reuse.VectorCache, size: int) -> None:
        progress_bar = bar(f"embedding {kind}")
        reuse.embed_missing(items, cache, embedding(size), size, stats[kind], progress_bar)
        clock.lap(f"embed_{kind}")

    if pooled:  # sentences first: passage vectors are made from theirs
        fresh_from = len(sentence_cache)  # rows from here on are this build's own
        embed_kind("sentences", texts, sentence_cache, batch * 2)
        count = ModelTokenizer(settings.model, settings.models_dir)
        made = (passage_cache, sentence_cache, embedding(batch * 2), count, stats["passages"])
        fill_pooled(chunks, owner, texts, *made, fresh_from)
        clock.lap("embed_passages")
    else:
        embed_kind("passages", passage_texts, passage_cache, batch)
    vectors = passage_cache.take(passage_texts)
    dense = DenseIndex.build(
        vectors, settings.approx_threshold, settings.approx_vectors == "int8", ranges
    )
    clock.lap("dense")
    if not pooled:
        embed_kind("sentences", texts, sentence_cache, batch * 2)
    encoder.finish()  # the ONNX export queries use, if this run did not open it already
    clock.lap("export_check")
    clock.seconds["encoder_load"] = round(encoder.load_seconds, 3)

    encoding = sentence_encoding(settings, len(texts), sentence_cache.dimension, len(chunks))

    def save_sentences(folder: Path) -> None:
        # Straight from the cache to disk: no second in-memory copy of every sentence vector.
        if encoding == "pq":
            reuse.write_pq(folder, texts, sentence_cache, settings.sentence_pq_bytes, codebook)
        elif encoding == "int8":
            reuse.write_int8(folder, texts, sentence_cache)
        else:
            reuse.write_vectors(folder / FLOAT_FILE, texts, sentence_cache)
        SentenceVectors.save_positions(
            folder,
            np.array(owner, dtype=np.int32),
            np.array(spans, dtype=np.int32).reshape(-1, 2),
        )

    reused = {
        "from": None,
        "documents": 0,
        **(reused or {}),
        "passages_embedded": stats["passages"].embedded,
        "passages_reused": stats["passages"].reused,
        "sentences_embedded": stats["sentences"].embedded,
        "sentences_reused": stats["sentences"].reused,
    }
    # Waits out a moment of another run's sweep_leftovers; a build still writing after that
    # is refused (two builds never write at once).
    with store.build_lock(settings.index_dir, wait_s=BUILD_LOCK_WAIT_S):
        check_disk_space(settings, needed)  # again: another build may have published since
        writer = store.GenerationWriter(settings.index_dir)
        try:
            writer.write_documents(docs)
            writer.write_chunks(chunks)
            writer.write_dir("dense", dense.save)
            writer.write_dir("sentences", save_sentences)
            writer.write_dir("bm25", lexical.save)
            writer.write_bytes(
                "acronyms.json", json.dumps(acronyms, ensure_ascii=False, indent=1).encode()
            )
            clock.lap("write")
            manifest = {
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "corpus_hash": corpus_hash(docs),
                "model": settings.model,
                "model_max_tokens": tokenizer_max,
                "chunker": chunker,
                "pipeline": pipeline,
                "embedder": reuse.embedder_signature(settings),
                # Which runtime embedded this build's new texts (None: nothing was embedded
                # here), and how closely it reproduced stored vectors it was mixed with.
                "embedding": {
                    "backend": encoder.backend if own_encoder else "caller",
                    "agreement_min_cosine": agreement,
                    "same_encoder_as_stored": same_encoder,
                    "encoder": vectors_encoder(encoder, own_encoder, stored_by, agreement),
                },
                "reused": reused,
                "counts": {"documents": len(docs), "chunks": len(chunks)},
                # Report file fingerprints, so a later build can find a report put back.
                "sources": {d.source: d.fingerprint for d in docs if d.fingerprint},
                "dense": {"kind": dense.kind, "dimension": dense.dimension, "count": len(dense)},
                "sentences": len(texts),
                "sentence_vectors": {
                    "encoding": encoding,
                    "dimension": sentence_cache.dimension,
                    **({"pq_bytes": settings.sentence_pq_bytes} if encoding == "pq" else {}),
                },
                "problems": problems,
                "versions": _versions(),
                "build_seconds": dict(clock.seconds),  # stages up to here (not publishing)
            }
            gen = writer.publish(manifest, keep=settings.keep_generations)
        except BaseException:
            writer.abort()
            raise
        if settings.store == "milvus":  # the folder was the staging area: publish it there
            from . import milvus_store

            milvus_store.publish(settings, gen)
    clock.lap("publish")
    return BuildReport(
        gen, docs, chunks, problems, time.perf_counter() - t0, reused, dict(clock.seconds)
    )


def _sentence_bytes(encoding: str, dimension: int, pq_bytes: int) -> int:
    """Bytes one sentence vector takes on disk in ``encoding``."""
    return {"float32": 4 * dimension, "int8": dimension + 4, "pq": pq_bytes}[encoding]


def sentence_encoding(settings: Settings, sentences: int, dimension: int, passages: int) -> str:
    """How this build of ``passages`` passages stores sentence vectors: the configured
    encoding ("auto": pq when the passage index is approximate, above ``approx_threshold``
    passages, else int8), except that product quantisation falls back to int8 below
    ``PQ_MIN_TRAIN`` sentences (too few to learn a codebook from) or when its byte count does
    not divide the dimension."""
    wanted = settings.sentence_vectors
    if wanted == "auto":
        wanted = "pq" if passages > settings.approx_threshold else "int8"
    if wanted != "pq":
        return wanted
    if sentences < PQ_MIN_TRAIN or dimension % settings.sentence_pq_bytes:
        return "int8"
    return "pq"


class _Clock:
    """Seconds per build stage: ``lap`` closes the stage that ran since the previous lap,
    leaving out the time ``exclude`` reports (opening the encoder, counted on its own)."""

    def __init__(
        self, seconds: dict[str, float] | None = None, exclude: Callable[[], float] = float
    ) -> None:
        self.seconds = dict(seconds or {})
        self._exclude = exclude
        self._last = time.perf_counter()
        self._excluded = exclude()

    def lap(self, stage: str) -> None:
        """Add the time since the previous lap to ``stage``."""
        now, excluded = time.perf_counter(), self._exclude()
        spent = now - self._last - (excluded - self._excluded)
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + spent, 3)
        self._last, self._excluded = now, excluded
