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

import numpy as np

from . import __version__, store
from .chunking import ChunkParams, chunk_corpus
from .dense import DenseIndex, SentenceVectors
from .embedding import ModelTokenizer, SentenceTransformerEmbedder
from .ingest import corpus_files, read_corpus
from .lexical import LexicalIndex
from .query import extract_acronyms
from .sentences import sentence_spans
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


def embed_sentences(
    chunks: list[Chunk],
    embedder: SentenceTransformerEmbedder,
    batch: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> SentenceVectors:
    """Embed every sentence of every chunk (spans relative to the chunk's text)."""
    texts: list[str] = []
    owner: list[int] = []
    spans: list[tuple[int, int]] = []
    for row, chunk in enumerate(chunks):
        for start, end in sentence_spans(chunk.text):
            texts.append(chunk.text[start:end])
            owner.append(row)
            spans.append((start, end))
    parts = [np.zeros((0, embedder.dimension), dtype=np.float32)]
    for i in range(0, len(texts), batch * 2):
        parts.append(embedder.encode(texts[i : i + batch * 2], batch_size=batch * 2))
        if progress:
            progress(f"sentences {len(texts)}", min(i + batch * 2, len(texts)), len(texts))
    return SentenceVectors(
        np.concatenate(parts),
        np.array(owner, dtype=np.int32),
        np.array(spans, dtype=np.int32).reshape(-1, 2),
    )


def build_index(
    settings: Settings,
    progress: Callable[[str, int, int], None] | None = None,
) -> BuildReport:
    """Read every report in the corpus folder, chunk it, and publish a new generation."""
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

    docs, problems = read_corpus(corpus, settings.max_file_bytes, on_file)
    if not docs:
        detail = "; ".join(problems) if problems else "no report files found"
        raise BuildError(f"nothing could be indexed from {corpus}: {detail}")

    tokenizer = ModelTokenizer(settings.model).load()
    params = chunk_params(settings, tokenizer.max_tokens)
    count = tiktoken_counter(settings.tiktoken_encoding)
    chunks: list[Chunk] = []
    for i, doc in enumerate(docs, 1):
        chunks.extend(chunk_corpus([doc], params, count, tokenizer))
        if progress:
            progress(f"chunking {doc.source}", i, len(docs))

    embedder = SentenceTransformerEmbedder(
        settings.model, settings.device, settings.torch_threads, settings.blas_threads
    ).load()
    texts = [c.embed_text for c in chunks]
    vectors = np.zeros((0, embedder.dimension), dtype=np.float32)
    batch = max(1, settings.embed_batch_size)
    parts = []
    for i in range(0, len(texts), batch):
        parts.append(embedder.encode(texts[i : i + batch], batch_size=batch))
        if progress:
            progress(f"embedding {len(chunks)} passages", min(i + batch, len(texts)), len(texts))
    if parts:
        vectors = np.concatenate(parts)
    dense = DenseIndex.build(vectors, settings.approx_threshold)
    sentences = embed_sentences(chunks, embedder, batch, progress)
    lexical = LexicalIndex.build([c.text for c in chunks])
    acronyms = extract_acronyms(d.text for d in docs)

    with store.build_lock(settings.index_dir):
        writer = store.GenerationWriter(settings.index_dir)
        try:
            writer.write_documents(docs)
            writer.write_chunks(chunks)
            writer.write_dir("dense", dense.save)
            writer.write_dir("sentences", sentences.save)
            writer.write_dir("bm25", lexical.save)
            writer.write_bytes(
                "acronyms.json", json.dumps(acronyms, ensure_ascii=False, indent=1).encode()
            )
            manifest = {
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "corpus_hash": corpus_hash(docs),
                "model": settings.model,
                "model_max_tokens": tokenizer.max_tokens,
                "chunker": {
                    "target_tokens": params.target_tokens,
                    "max_tokens": params.max_tokens,
                    "heading_context_tokens": params.heading_context_tokens,
                    "tiktoken_encoding": settings.tiktoken_encoding,
                },
                "counts": {"documents": len(docs), "chunks": len(chunks)},
                "dense": {"kind": dense.kind, "dimension": dense.dimension, "count": len(dense)},
                "sentences": len(sentences),
                "problems": problems,
                "versions": _versions(),
            }
            gen = writer.publish(manifest, keep=settings.keep_generations)
        except BaseException:
            writer.abort()
            raise
    return BuildReport(gen, docs, chunks, problems, time.perf_counter() - t0)
