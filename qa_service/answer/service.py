"""Open the pieces a query needs from settings: the loaded index, the model, the retriever."""

from __future__ import annotations

from ..index.current import load_search_index
from ..index.encoders import make_embedder
from ..search.types import RetrievalConfig
from ..settings import Settings
from .retriever import Retriever


def retrieval_config(settings: Settings) -> RetrievalConfig:
    """The retrieval configuration the settings ask for (defaults: tuned on dev)."""
    return RetrievalConfig(
        mode=settings.retrieval_mode,
        fusion=settings.fusion,
        alpha=settings.fusion_alpha,
        rrf_k=settings.rrf_k,
        expansion_weight=settings.expansion_weight,
        sentence_weight=settings.sentence_weight,
        answerable_threshold=settings.answerable_threshold,
    )


def open_retriever(settings: Settings) -> Retriever:
    """Load the current index and the embedding model (refusing a mismatched index)."""
    index = load_search_index(settings)
    embedder = make_embedder(settings).load()
    if embedder.dimension != index.dense.dimension:
        from ..index.store import IndexStoreError

        raise IndexStoreError(
            f"the index has {index.dense.dimension}-dimensional vectors but model"
            f" {settings.model!r} makes {embedder.dimension}; rebuild with `qa index`"
        )
    return Retriever(index, embedder, retrieval_config(settings))
