"""A loaded, consistent index: passages, documents, dense vectors and BM25, checked together."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..ingest.metadata import report_years
from ..settings import Settings
from ..types import Chunk, Document, Metadata
from . import store
from .adapted import fingerprint, is_adapted
from .dense import DenseIndex, SentenceVectors
from .document_store import LazyDocuments
from .lexical import LexicalIndex
from .passage_store import LazyChunks, PassageColumns
from .store import IndexStoreError


@dataclass
class SearchIndex:
    """Everything a query needs from one generation. ``documents`` and ``chunks`` may read
    a report or build a passage on first access (store format 4); what every passage or
    report is asked at once (filters, ranking, forces) comes from ``columns``, ``row_of``
    and ``metadata``, which need neither."""

    path: Path
    manifest: dict[str, Any]
    documents: Mapping[str, Document]
    chunks: Sequence[Chunk]
    dense: DenseIndex
    lexical: LexicalIndex
    acronyms: dict[str, str]
    sentences: SentenceVectors
    columns: PassageColumns = field(init=False, repr=False)
    row_of: Mapping[str, int] = field(init=False, repr=False)  # passage id -> row
    passages_of: Counter[str] = field(init=False, repr=False)  # doc id -> passage count
    metadata: Mapping[str, Metadata] = field(init=False, repr=False)  # doc id -> metadata

    def __post_init__(self) -> None:
        if isinstance(self.chunks, LazyChunks):
            self.columns = self.chunks.columns
            self.row_of = self.chunks.row_of
        else:
            self.columns = PassageColumns.of_chunks(self.chunks, list(self.documents))
            self.row_of = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        if isinstance(self.documents, LazyDocuments):
            self.metadata = self.documents.metadata
        else:
            self.metadata = {k: d.metadata for k, d in self.documents.items()}
        counts = self.columns.passages_per_document(len(self.documents)).tolist()
        self.passages_of = Counter({d: n for d, n in zip(self.documents, counts, strict=True) if n})

    @property
    def version(self) -> str:
        """The generation name: changes with every published build."""
        return str(self.manifest.get("generation", self.path.name))

    def report_years(self, doc_id: str) -> list[str]:
        """``ingest.metadata.report_years`` of a report's text (format 4: stored by the build)."""
        if isinstance(self.documents, LazyDocuments):
            return self.documents.report_years(doc_id)
        return report_years(self.documents[doc_id].text)

    @property
    def forces(self) -> list[str]:
        """Forces the corpus covers, sorted."""
        return sorted({m.force for m in self.metadata.values() if m.force})


def check_model(manifest: dict[str, Any], settings: Settings) -> None:
    """Refuse an index built with another embedding model than the configured one."""
    built = manifest.get("model")
    if built != settings.model:
        raise IndexStoreError(
            f"the index was built with model {built!r} but the configured model is"
            f" {settings.model!r}; rebuild with `qa index` or set QA_MODEL={built}"
        )
    embedder = manifest.get("embedder")
    built_weights = embedder.get("model_weights") if isinstance(embedder, dict) else None
    if is_adapted(settings.model) and built_weights != fingerprint(
        settings.model, settings.models_dir
    ):
        raise IndexStoreError(
            f"the index was built with another training of {settings.model!r} than the one in"
            f" {settings.models_dir}; rebuild with `qa index`"
        )


def load_embedded_index(settings: Settings) -> SearchIndex:
    """Load the current generation of the embedded store and check that its parts agree."""
    base = store.load(settings.index_dir)
    manifest = base.manifest
    check_model(manifest, settings)
    dense_meta = manifest.get("dense")
    if not isinstance(dense_meta, dict):
        raise IndexStoreError(
            f"{base.path.name} has no vectors (built by an older version); rebuild with `qa index`"
        )
    kind = dense_meta.get("kind", "flat")
    if kind not in ("flat", "hnsw", "hnsw-int8", "hnsw-sq8"):
        raise IndexStoreError(f"{base.path.name}: unknown vector index kind {kind!r}; rebuild")
    # store.load has already checked every file against the manifest's checksums, so what
    # numpy, FAISS and bm25s read here is what the build wrote.
    try:
        # Memory-mapped: the page cache holds one copy, shared by every server process.
        dense = DenseIndex.load(base.path / "dense", kind, mmap=True)
        lexical = LexicalIndex.load(base.path / "bm25")
        sentences = SentenceVectors.load(base.path / "sentences")
        acronyms = json.loads((base.path / "acronyms.json").read_text(encoding="utf-8"))
        if not isinstance(acronyms, dict):
            raise ValueError("acronyms.json is not an object")
    except Exception as exc:  # any reader failure is a damaged index, never a crash
        raise IndexStoreError(
            f"{base.path.name}: cannot read the search index ({type(exc).__name__}: {exc}); rebuild"
        ) from None
    n = len(base.chunks)
    if sentences.owner.ndim != 1 or sentences.vectors.ndim != 2:
        raise IndexStoreError(f"{base.path.name}: sentence vectors are malformed; rebuild")
    stored = manifest.get("sentence_vectors", {"encoding": "float32"})
    held = "float32" if sentences.encoding == "float16" else sentences.encoding
    if not isinstance(stored, dict) or stored.get("encoding") != held:
        raise IndexStoreError(f"{base.path.name}: sentence vectors are not as built; rebuild")
    if len(sentences) != manifest.get("sentences") or (
        len(sentences) and int(sentences.owner.max()) >= n
    ):
        raise IndexStoreError(f"{base.path.name}: sentence vectors do not match; rebuild")
    if len(dense) != n or lexical.size != n:
        raise IndexStoreError(
            f"{base.path.name}: {len(dense)} vectors, {lexical.size} BM25 documents and {n}"
            " passages do not match; rebuild"
        )
    if dense.dimension != dense_meta.get("dimension"):
        raise IndexStoreError(
            f"{base.path.name}: vectors have dimension {dense.dimension}, the manifest says"
            f" {dense_meta.get('dimension')}; rebuild"
        )
    return SearchIndex(
        base.path, manifest, base.documents, base.chunks, dense, lexical, acronyms, sentences
    )
