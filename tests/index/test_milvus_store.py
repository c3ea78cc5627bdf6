"""The Milvus store (QA_STORE=milvus) against the embedded one, on Milvus Lite: what a reader
loads is the same index, searches give the same passages (filters pushed into Milvus on the
candidate path), a publication switches the alias, and two `qa serve` replicas on one Milvus
see a report added by `qa index` without a restart.

The retrieval, answer and API suites also run whole with QA_STORE=milvus (scripts/test.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from qa_service.answer.retriever import Retriever
from qa_service.cli import cli
from qa_service.index import milvus_store
from qa_service.index.current import load_search_index
from qa_service.index.milvus_search import MilvusDense, docs_expression
from qa_service.index.search_index import SearchIndex
from qa_service.index.store import IndexStoreError, current_generation
from qa_service.search.types import Filters
from qa_service.settings import Settings
from tests.conftest import CORPUS, SEEDS
from tests.reliability.test_serve_shutdown import qa_serve
from tests.reliability.test_slow_clients import QA, free_port

QUESTIONS = [
    "How are children detained overnight in custody?",
    "What did the inspection find about missing children in Kent?",
    "Does the force use the child sexual exploitation risk assessment?",
]


@pytest.fixture(scope="module")
def milvus_settings(built_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The session's embedded index, published into a Milvus Lite store of its own."""
    root = tmp_path_factory.mktemp("milvus")
    settings = Settings(store="milvus", index_dir=root, milvus_uri=str(root / "milvus.db"))
    milvus_store.publish(settings, current_generation(built_index))
    return settings


@pytest.fixture(scope="module")
def milvus_index(milvus_settings: Settings) -> SearchIndex:
    return load_search_index(milvus_settings)


def test_docs_expression() -> None:
    assert docs_expression(np.array([True, True, True])) == ""
    assert docs_expression(np.array([False, True, False, False])) == "doc in [1]"
    assert docs_expression(np.array([True, True, False, True])) == "doc not in [2]"


def test_a_reader_loads_the_same_index(retriever, milvus_index: SearchIndex) -> None:  # type: ignore[no-untyped-def]
    embedded = retriever.index
    assert milvus_index.version == embedded.version
    assert milvus_index.manifest == embedded.manifest
    assert milvus_index.documents == embedded.documents
    assert list(milvus_index.chunks) == list(embedded.chunks)
    assert milvus_index.acronyms == embedded.acronyms
    # Milvus holds the vectors as every score reads them (int8 codes decoded on this side)
    rows = np.arange(len(embedded.chunks), dtype=np.int64)
    assert np.array_equal(milvus_index.dense.rows(rows), embedded.dense.rows(rows))
    every = np.arange(len(embedded.sentences), dtype=np.int64)
    assert np.array_equal(milvus_index.sentences.rows(every), embedded.sentences.rows(every))
    assert np.array_equal(milvus_index.sentences.owner, embedded.sentences.owner)
    assert np.array_equal(milvus_index.sentences.spans, embedded.sentences.spans)
    assert milvus_index.lexical.size == embedded.lexical.size
    terms = {"custodi": 1.0, "child": 0.5}
    assert np.array_equal(milvus_index.lexical.scores(terms), embedded.lexical.scores(terms))


def test_milvus_search_is_the_exact_top_k(milvus_index: SearchIndex) -> None:
    dense = milvus_index.dense
    assert isinstance(dense, MilvusDense)
    q = dense.vectors[7]
    brute = np.argsort(-(dense.vectors @ q), kind="stable")[:10]
    scores, ids = dense.search(q, 10)
    assert set(ids.tolist()) == set(brute.tolist())
    assert np.allclose(scores, np.sort(dense.vectors @ q)[::-1][:10], atol=1e-5)
    allowed = np.zeros(len(milvus_index.documents), dtype=bool)
    allowed[2] = True
    _, ids = dense.search_in_docs(q, 10, allowed)
    doc_of = {c.doc_id: i for i, c in enumerate(milvus_index.documents.values())}
    assert {doc_of[milvus_index.chunks[i].doc_id] for i in ids.tolist()} == {2}


@pytest.mark.parametrize("limit", [50_000, 0], ids=["exact", "candidates"])
def test_searches_agree_with_the_embedded_store(
    retriever, milvus_index: SearchIndex, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The same passages, scores and answerability; ``limit=0`` takes the candidate path,
    where the dense candidates come from Milvus with the report filters pushed down."""
    from qa_service.search import candidates

    monkeypatch.setattr(candidates, "SUBSET_SCAN_LIMIT", 0)  # no exact scan of a filter's rows
    dense = milvus_index.dense
    assert isinstance(dense, MilvusDense)
    pushed: list[str] = []
    search_where = dense.search_where

    def counted(q, k, expression):  # type: ignore[no-untyped-def]
        pushed.append(expression)
        return search_where(q, k, expression)

    monkeypatch.setattr(dense, "search_where", counted)
    ours = Retriever(milvus_index, retriever.embedder, retriever.config, fusion_scan_limit=limit)
    theirs = Retriever(
        retriever.index, retriever.embedder, retriever.config, fusion_scan_limit=limit
    )
    kent = Filters(forces=("Kent Police",))
    for question in QUESTIONS:
        for filters in (Filters(), kent, Filters(year_from=2018)):
            a = ours.search(question, top_k=5, filters=filters)
            b = theirs.search(question, top_k=5, filters=filters)
            assert [h.chunk.chunk_id for h in a.hits] == [h.chunk.chunk_id for h in b.hits]
            # int8 codes times the query, or the decoded vectors times it: equal to rounding
            assert [round(h.score, 4) for h in a.hits] == [round(h.score, 4) for h in b.hits]
            assert a.answerable == b.answerable
            if filters == kent:
                assert {milvus_index.documents[h.chunk.doc_id].metadata.force for h in a.hits} <= {
                    "Kent Police"
                }
    if limit == 0:  # the filters reached Milvus as expressions
        assert any(e.startswith("doc ") for e in pushed) and "" in pushed
    else:  # scored exactly from the loaded vectors
        assert pushed == []


def test_publishing_switches_the_alias_and_drops_old_generations(
    built_index: Path, tmp_path: Path
) -> None:
    settings = Settings(
        store="milvus", index_dir=tmp_path, milvus_uri=str(tmp_path / "m.db"), keep_generations=1
    )
    with pytest.raises(IndexStoreError, match="no index in the Milvus store"):
        load_search_index(settings)
    gen = current_generation(built_index)
    first = milvus_store.publish(settings, gen)
    assert milvus_store.published(settings) == first
    # The same files under another generation name stand for a new build.
    other = tmp_path / "gen-29990101T000000.000000000-abcdef"
    shutil.copytree(gen, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["generation"] = other.name
    from qa_service.index.store import MANIFEST_SHA, manifest_digest

    manifest[MANIFEST_SHA] = manifest_digest(manifest)
    (other / "manifest.json").write_text(json.dumps(manifest))
    second = milvus_store.publish(settings, other)
    assert second != first and milvus_store.published(settings) == second
    assert milvus_store.generations(settings) == ["gen_29990101T000000_000000000_abcdef"]
    assert load_search_index(settings).version == other.name


def test_cli_on_the_milvus_store(
    milvus_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_STORE", "milvus")
    monkeypatch.setenv("QA_MILVUS_URI", milvus_settings.milvus_uri)
    runner = CliRunner()
    found = runner.invoke(cli, ["search", QUESTIONS[0], "--json", "--top-k", "3"])
    assert found.exit_code == 0, found.output
    assert len(json.loads(found.output)["results"]) == 3
    listed = runner.invoke(cli, ["documents", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.output)) == 4
    monkeypatch.setenv("QA_MILVUS_URI", str(milvus_settings.index_dir / "empty.db"))
    missing = runner.invoke(cli, ["search", QUESTIONS[0]])
    assert missing.exit_code == 2 and "no index in the Milvus store" in missing.output
    assert "Traceback" not in missing.output


def _search_sources(port: int, question: str) -> set[str]:
    body = json.dumps({"question": question, "top_k": 10}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/search", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return {p["source"] for p in json.loads(r.read())["results"]}


def test_two_replicas_on_one_milvus_see_a_new_report(built_index: Path, tmp_path: Path) -> None:
    """A Milvus Lite server (one process owns its folder) and two `qa serve` processes on it;
    `qa index` elsewhere adds a report, and both servers answer from it without a restart."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "milvus_lite",
            "server",
            "--data-dir",
            str(tmp_path / "lite"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        uri = f"http://127.0.0.1:{port}"
        env = {"QA_STORE": "milvus", "QA_MILVUS_URI": uri, "QA_RELOAD_CHECK_S": "0.2"}
        # The builder's staging folder starts from the session's index (nothing re-embedded).
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        for name in ("kent", "leicestershire", "lancashire"):
            shutil.copy(CORPUS / SEEDS[name], corpus)
        staging = tmp_path / "staging"
        shutil.copytree(built_index, staging, ignore=shutil.ignore_patterns("milvus.db", ".lock"))
        index = [str(QA), "index", "--quiet", "--corpus", str(corpus), "--index", str(staging)]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
        full_env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **env)
        deadline = time.monotonic() + 60
        while True:  # the Lite server takes a moment to listen
            done = subprocess.run(index, env=full_env, capture_output=True, text=True)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert done.returncode == 0, done.stderr
        question = "Lincolnshire Police post-inspection review findings"
        with (
            qa_serve(tmp_path / "a", **env) as (_, port_a),
            qa_serve(tmp_path / "b", **env) as (_, port_b),
        ):
            lincs = SEEDS["lincolnshire"]
            assert lincs not in _search_sources(port_a, question)
            assert lincs not in _search_sources(port_b, question)
            shutil.copy(CORPUS / lincs, corpus)
            done = subprocess.run(index, env=full_env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            for p in (port_a, port_b):
                deadline = time.monotonic() + 60
                while lincs not in _search_sources(p, question):
                    assert time.monotonic() < deadline, f"replica on {p} never saw the report"
                    time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(30)


def test_a_damaged_generation_in_milvus_is_refused(built_index: Path, tmp_path: Path) -> None:
    settings = Settings(store="milvus", index_dir=tmp_path, milvus_uri=str(tmp_path / "d.db"))
    passages = milvus_store.publish(settings, current_generation(built_index))
    milvus = milvus_store.client(settings)
    files = passages[: -len("passages")] + "files"
    row = milvus.query(files, filter='file == "acronyms.json"', output_fields=["*"])[0]
    milvus.upsert(files, [{**row, "part": row["part"].replace("a", "b", 1)}])
    with pytest.raises(
        IndexStoreError, match=r"acronyms\.json in the Milvus store fails its checksum"
    ):
        load_search_index(settings)
    milvus.upsert(files, [row])
    load_search_index(settings)
    passage = milvus.query(passages, filter="row == 3", output_fields=["*"])[0]
    milvus.upsert(passages, [{**passage, "chunk": passage["chunk"].replace("e", "a", 1)}])
    with pytest.raises(IndexStoreError, match="fail their checksum"):
        load_search_index(settings)
    milvus.delete(passages, filter="row == 3")
    with pytest.raises(IndexStoreError, match="rows, not"):
        load_search_index(settings)
