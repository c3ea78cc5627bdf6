"""Shared fixtures: the real corpus, read once per session, and the real tokenizers."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_service.index.chunking import ChunkParams, chunk_corpus
from qa_service.index.embedding import ModelTokenizer
from qa_service.index.tokens import tiktoken_counter
from qa_service.ingest import read_corpus
from qa_service.types import Chunk, Document

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"

SEEDS = {
    "lincolnshire": "lincolnshire-2019-post-inspection-review.txt",
    "leicestershire": "leicestershire-2017-post-inspection-review.txt",
    "lancashire": "lancashire-2017-inspection.md",
    "kent": "kent-2021-post-inspection-review.txt",
}


@pytest.fixture(scope="session")
def corpus_docs() -> dict[str, Document]:
    docs, problems = read_corpus(CORPUS)
    assert problems == []
    by_source = {d.source: d for d in docs}
    return {name: by_source[source] for name, source in SEEDS.items()}


@pytest.fixture(scope="session")
def model_tokenizer() -> ModelTokenizer:
    return ModelTokenizer().load()


@pytest.fixture(scope="session")
def count_tokens():  # type: ignore[no-untyped-def]
    return tiktoken_counter()


@pytest.fixture(scope="session")
def chunk_params(model_tokenizer: ModelTokenizer) -> ChunkParams:
    return ChunkParams(model_max_tokens=model_tokenizer.max_tokens)


@pytest.fixture(scope="session")
def corpus_chunks(
    corpus_docs: dict[str, Document], chunk_params: ChunkParams, count_tokens, model_tokenizer
) -> list[Chunk]:
    return chunk_corpus(list(corpus_docs.values()), chunk_params, count_tokens, model_tokenizer)


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real index of the corpus (real model), built once per test session."""
    from qa_service.index.indexer import build_index
    from qa_service.settings import Settings

    index = tmp_path_factory.mktemp("search-index")
    build_index(Settings(corpus_dir=CORPUS, index_dir=index))
    return index


@pytest.fixture(scope="session")
def retriever(built_index: Path):  # type: ignore[no-untyped-def]
    from qa_service.answer.service import open_retriever
    from qa_service.settings import Settings

    return open_retriever(Settings(index_dir=built_index))
