"""Small real indexes (one or two reports, real model) for the reliability tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.api.state import AppState
from qa_service.index.indexer import build_index
from qa_service.settings import Settings
from tests.conftest import CORPUS, SEEDS


def make_corpus(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(CORPUS / SEEDS[name], folder)
    return folder


@pytest.fixture(scope="session")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published one-report (Kent) index."""
    root = tmp_path_factory.mktemp("small")
    corpus = make_corpus(root / "corpus", "kent")
    settings = Settings(corpus_dir=corpus, index_dir=root / "index")
    build_index(settings)
    return settings.index_dir


@pytest.fixture(scope="module")
def api(built_index: Path, retriever) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The app over the session's four-report index and loaded retriever."""
    state = AppState(Settings(index_dir=built_index))
    state.retriever = retriever
    with TestClient(create_app(state=state)) as c:
        yield c
