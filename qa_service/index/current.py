"""The published generation, from either store: load it, and notice when another is published.

``settings.store`` picks the embedded files (search_index.py) or Milvus (milvus_search.py);
both give the same ``SearchIndex``.
"""

from __future__ import annotations

from ..settings import Settings
from . import milvus_search, milvus_store, store
from .search_index import SearchIndex, load_embedded_index
from .store import IndexStoreError


def load_search_index(settings: Settings) -> SearchIndex:
    """Load the current generation and check that its parts agree with each other."""
    if settings.store == "milvus":
        return milvus_search.load_milvus_index(settings)
    return load_embedded_index(settings)


def published_signature(settings: Settings) -> object | None:
    """A cheap value that changes when a generation is published: a stat of index/CURRENT,
    or (Milvus) the collection the alias names. None: nothing published."""
    if settings.store == "milvus":
        try:
            return milvus_store.published(settings)
        except IndexStoreError:  # Milvus unreachable: keep serving what is loaded
            return None
    return store.current_signature(settings.index_dir)


def is_published(settings: Settings, version: str) -> bool:
    """Whether the generation named ``version`` is the published one."""
    if settings.store == "milvus":
        return published_signature(settings) == milvus_search.published_collection(
            settings, version
        )
    return store.current_name(settings.index_dir) == version
