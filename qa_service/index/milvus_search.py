"""Searching a generation held in Milvus: the SearchIndex a reader loads from it, and a dense
index whose nearest-neighbour search runs in Milvus with the report filters pushed down.

What is read back is what the embedded store would load (the same passages, vectors and
sentences, checked against the manifest), so the project's scoring, fusion and answer layer
run unchanged and give the same figures. The retriever scores every passage from the loaded
vectors while an index is small enough for that (``retriever.FUSION_SCAN_LIMIT``); above it
the dense candidates come from Milvus's own index (FLAT or HNSW, as the embedded store would
choose), filtered in Milvus by a filter expression on the passages' report. BM25 is the
project's own (bm25s with its stemming, stop words and weighted query terms: Milvus's BM25
function takes neither weights nor this analyzer), built from the passages read back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..settings import Settings
from . import milvus_store
from .dense import DenseIndex
from .lexical import LexicalIndex
from .search_index import SearchIndex, check_model
from .store import IndexStoreError

# Milvus answers at most this many neighbours per search (its topk limit).
MAX_TOPK = 16_384


def docs_expression(allowed_docs: NDArray[np.bool_]) -> str:
    """The Milvus filter expression keeping the passages of the allowed reports (given as a
    mask over report positions): whichever of the two lists is shorter."""
    keep = np.flatnonzero(allowed_docs).tolist()
    drop = np.flatnonzero(~allowed_docs).tolist()
    if not drop:
        return ""
    if len(keep) <= len(drop):
        return f"doc in {keep}"
    return f"doc not in {drop}"


class MilvusDense(DenseIndex):
    """A DenseIndex whose ``search`` asks Milvus; row reads and exact scores stay local."""

    def __init__(
        self, vectors: NDArray[np.float32], kind: str, milvus: Any, collection: str
    ) -> None:
        super().__init__(vectors, None, kind)
        self.milvus = milvus
        self.collection = collection

    def search(
        self, query: NDArray[np.float32], k: int
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-k (scores, row ids) from Milvus; ids are -1 past the end."""
        return self.search_where(query, k, "")

    def search_in_docs(
        self, query: NDArray[np.float32], k: int, allowed_docs: NDArray[np.bool_]
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-k among the allowed reports' passages, filtered inside Milvus."""
        return self.search_where(query, k, docs_expression(allowed_docs))

    def search_where(
        self, query: NDArray[np.float32], k: int, expression: str
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-k (scores, row ids) among the passages a Milvus filter expression keeps."""
        k = max(1, min(k, len(self), MAX_TOPK))
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.kind.startswith("hnsw"):
            params["params"] = {"ef": max(64, k)}
        hits = self.milvus.search(
            self.collection,
            data=[np.asarray(query, dtype=np.float32).reshape(-1).tolist()],
            limit=k,
            filter=expression,
            anns_field="vector",
            output_fields=["row"],
            search_params=params,
        )[0]
        scores = np.full(k, -np.inf, dtype=np.float32)
        ids = np.full(k, -1, dtype=np.int64)
        for i, hit in enumerate(hits):
            ids[i] = int(hit["entity"]["row"] if "entity" in hit else hit["id"])
            scores[i] = float(hit["distance"])
        return scores, ids


def load_milvus_index(settings: Settings) -> SearchIndex:
    """Load the generation the alias names, checked against its manifest."""
    collection = milvus_store.published(settings)
    if collection is None:
        raise IndexStoreError(
            f"no index in the Milvus store at {milvus_store.uri_of(settings)}:"
            " build one with `qa index` (QA_STORE=milvus)"
        )
    try:
        stored = milvus_store.read_generation(settings, collection)
    except IndexStoreError:
        raise
    except Exception as exc:  # any reader failure is a damaged store, never a crash
        raise IndexStoreError(
            f"{collection}: cannot read the index from Milvus ({type(exc).__name__}: {exc})"
        ) from None
    manifest, vectors, chunks = stored.manifest, stored.vectors, stored.chunks
    check_model(manifest, settings)
    dense_meta = manifest.get("dense") or {}
    kind = str(dense_meta.get("kind", "flat"))
    if int(dense_meta.get("dimension", -1)) != vectors.shape[1]:
        raise IndexStoreError(f"{collection}: vector dimension disagrees with the manifest")
    # Milvus holds float vectors whatever the embedded generation stored ("hnsw-int8")
    kind = "hnsw" if kind.startswith("hnsw") else kind
    dense = MilvusDense(vectors, kind, milvus_store.client(settings), collection)
    lexical = LexicalIndex.build([c.text for c in chunks])  # as indexer.index_documents does
    return SearchIndex(
        Path(str(manifest["generation"])),
        manifest,
        stored.documents,
        chunks,
        dense,
        lexical,
        stored.acronyms,
        stored.sentences,
    )


def published_collection(settings: Settings, version: str) -> str:
    """The passages collection a generation of this name has (to compare with the alias)."""
    return milvus_store.collection_of(settings, version, "passages")
