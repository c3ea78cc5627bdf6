"""Build an index from a corpus folder: read, chunk, publish (the ``qa index`` pipeline)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import __version__, reuse, store
from .chunking import ChunkParams, chunk_corpus
from .dense import DenseIndex, SentenceVectors
from .embedding import ModelTokenizer, make_embedder
from .ingest import corpus_files, read_corpus
from .lexical import LexicalIndex
from .onnx_export import ensure_encoder
from .query import extract_acronyms
from .settings import Settings
from .tokens import tiktoken_counter
from .types import Chunk, Document


class BuildError(Exception):
    """Nothing could be indexed (the message says why)."""


@dataclass
class BuildReport:
    """What a build did."""

    generation: Path
    documents: list[Document]
    chunks: list[Chunk]
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reused: dict[str, Any] = field(default_factory=dict)  # what was reused from earlier builds


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
    total = sum(1 for _ in corpus_files(corpus))
    files_done = [0]

    def on_file(path: Path) -> None:
        files_done[0] += 1
        if progress:
            progress(f"reading {path.name}", files_done[0], total)

    tokenizer = ModelTokenizer(settings.model).load()
    params = chunk_params(settings, tokenizer.max_tokens)
    chunker = _chunker_settings(settings, params)
    pipeline = reuse.pipeline_fingerprint(settings, chunker)
    previous = reuse.load_previous(settings) if not full else None
    extra = [reuse.load_previous(settings, g) for g in (vectors_from or [])]

    reused_ids: set[str] = set()

    def cached(source: str, fingerprint: str) -> Document | None:
        doc = previous.document(source, fingerprint, pipeline) if previous else None
        if doc is not None:
            reused_ids.add(doc.doc_id)
        return doc

    docs, problems = read_corpus(corpus, settings.max_file_bytes, on_file, cached)
    if not docs:
        detail = "; ".join(problems) if problems else "no report files found"
        raise BuildError(f"nothing could be indexed from {corpus}: {detail}")

    count = tiktoken_counter(settings.tiktoken_encoding)
    chunks: list[Chunk] = []
    for i, doc in enumerate(docs, 1):
        kept = previous.chunks.get(doc.doc_id) if previous and doc.doc_id in reused_ids else None
        chunks.extend(kept if kept else chunk_corpus([doc], params, count, tokenizer))
        if progress:
            progress(f"chunking {doc.source}", i, len(docs))

    return index_documents(
        settings,
        docs,
        chunks,
        problems=problems,
        sources=[p for p in (previous, *extra) if p is not None],
        reused={"from": previous.generation if previous else None, "documents": len(reused_ids)},
        progress=progress,
        started=t0,
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
) -> BuildReport:
    """Embed (reusing the vectors ``sources`` hold), index and publish parsed, chunked reports.

    ``embed(texts, batch_size)`` defaults to the configured model, loaded only if some text
    has no vector yet.
    """
    t0 = time.perf_counter() if started is None else started
    problems = problems or []
    tokenizer_max = ModelTokenizer(settings.model).load().max_tokens
    params = chunk_params(settings, tokenizer_max)
    chunker = _chunker_settings(settings, params)
    ensure_encoder(settings)  # the ONNX export queries use (no-op for the torch backend)
    embedder = make_embedder(settings, batches=True)
    if embed is None:

        def embed(texts: list[str], size: int) -> NDArray[np.float32]:
            return embedder.load().encode(texts, batch_size=size)

    batch = max(1, settings.embed_batch_size)
    usable = [p for p in sources or [] if p.passages and p.sentences]
    dimension = usable[0].passages.dimension if usable and usable[0].passages else None
    passage_cache = reuse.VectorCache(dimension or embedder.load().dimension)
    sentence_cache = reuse.VectorCache(passage_cache.dimension)
    for p in usable:
        assert p.passages and p.sentences
        passage_cache.absorb(p.passages)
        sentence_cache.absorb(p.sentences)
    stats = {"passages": reuse.EmbedStats(), "sentences": reuse.EmbedStats()}

    def embedding(size: int) -> reuse.Embed:
        assert embed is not None
        return lambda texts: embed(texts, size)

    def bar(stage: str) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        return lambda done, total: progress(stage, done, total)

    passage_texts = [c.embed_text for c in chunks]
    reuse.embed_missing(
        passage_texts,
        passage_cache,
        embedding(batch),
        batch,
        stats["passages"],
        bar("embedding passages"),
    )
    vectors = passage_cache.take(passage_texts)
    dense = DenseIndex.build(vectors, settings.approx_threshold)
    texts, owner, spans = reuse.sentence_texts(chunks)
    reuse.embed_missing(
        texts,
        sentence_cache,
        embedding(batch * 2),
        batch * 2,
        stats["sentences"],
        bar("embedding sentences"),
    )

    def save_sentences(folder: Path) -> None:
        # Straight from the cache to disk: no second in-memory copy of every sentence vector.
        reuse.write_vectors(folder / "sentences.npy", texts, sentence_cache)
        SentenceVectors.save_positions(
            folder,
            np.array(owner, dtype=np.int32),
            np.array(spans, dtype=np.int32).reshape(-1, 2),
        )

    lexical = LexicalIndex.build([c.text for c in chunks])
    acronyms = extract_acronyms(d.text for d in docs)

    reused = {
        "from": None,
        "documents": 0,
        **(reused or {}),
        "passages_embedded": stats["passages"].embedded,
        "passages_reused": stats["passages"].reused,
        "sentences_embedded": stats["sentences"].embedded,
        "sentences_reused": stats["sentences"].reused,
    }
    with store.build_lock(settings.index_dir):
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
            manifest = {
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "corpus_hash": corpus_hash(docs),
                "model": settings.model,
                "model_max_tokens": tokenizer_max,
                "chunker": chunker,
                "pipeline": reuse.pipeline_fingerprint(settings, chunker),
                "embedder": reuse.embedder_signature(settings),
                "reused": reused,
                "counts": {"documents": len(docs), "chunks": len(chunks)},
                "dense": {"kind": dense.kind, "dimension": dense.dimension, "count": len(dense)},
                "sentences": len(texts),
                "problems": problems,
                "versions": _versions(),
            }
            gen = writer.publish(manifest, keep=settings.keep_generations)
        except BaseException:
            writer.abort()
            raise
    return BuildReport(gen, docs, chunks, problems, time.perf_counter() - t0, reused)
