"""One set of input limits on every route, blank input refused alike, readable errors, and
filters that the corpus lacks or the question contradicts handled by a stated rule."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.api.state import AppState, TooBusy
from qa_service.settings import LIMITS, Settings

QUESTION = (
    "How are children who are detained in police custody after charge treated, and what did"
    " the inspectors find about transfers to local authority accommodation? "
)


@pytest.fixture(scope="module")
def client(built_index: Path, retriever: Any) -> Iterator[TestClient]:
    state = AppState(Settings(index_dir=built_index))
    state.retriever = retriever
    with TestClient(create_app(state=state)) as c:
        yield c


def _question(chars: int) -> str:
    return (QUESTION * (chars // len(QUESTION) + 1))[:chars]


def _ask_both(client: TestClient, question: str) -> tuple[Any, Any]:
    search = client.post("/v1/search", json={"question": question})
    chat = client.post("/v1/chat", json={"messages": [{"role": "user", "content": question}]})
    return search, chat


def test_same_long_question_same_outcome_in_search_and_chat(client: TestClient) -> None:
    search, chat = _ask_both(client, _question(1500))
    assert search.status_code == chat.status_code == 200
    s, c = search.json(), chat.json()
    assert s["notes"] == c["notes"] and s["state"] == c["state"]
    assert s["answerable"] == c["answerable"]


def test_longer_than_the_model_reads_is_said_not_cut(client: TestClient) -> None:
    question = _question(LIMITS.question_chars)
    for r in _ask_both(client, question):
        assert r.status_code == 200
        data = r.json()
        assert data["question"] == question  # nothing cut
        assert any("word pieces" in n and "256" in n for n in data["notes"]), data["notes"]


def test_over_the_question_limit_both_name_it(client: TestClient) -> None:
    over = _question(LIMITS.question_chars + 1)
    search, chat = _ask_both(client, over)
    compare = client.post("/v1/compare", json={"question": over})
    for r in (search, chat, compare):
        assert r.status_code == 422
        detail = r.json()["detail"]
        assert "question_chars" in detail and f"{LIMITS.question_chars:,}" in detail
    at_limit = _question(LIMITS.question_chars)
    assert all(r.status_code == 200 for r in _ask_both(client, at_limit))


@pytest.mark.parametrize("blank", ["", " ", "   \t\n  "])
def test_blank_input_refused_alike_everywhere(client: TestClient, blank: str) -> None:
    requests = [
        ("/v1/search", {"question": blank}),
        ("/v1/chat", {"messages": [{"role": "user", "content": blank}]}),
        ("/v1/compare", {"question": blank}),
        ("/v1/cite", {"quote": blank}),
    ]
    for url, body in requests:
        r = client.post(url, json=body)
        assert r.status_code == 422, url
        assert "empty or only spaces" in r.json()["detail"], (url, r.json())


def test_other_limits_name_themselves(client: TestClient) -> None:
    cases = [
        ("/v1/search", {"question": "x", "top_k": LIMITS.top_k + 1}, "top_k"),
        ("/v1/chat", {"messages": [{"role": "user", "content": "x"}], "top_k": 51}, "top_k"),
        (
            "/v1/chat",
            {"messages": [{"role": "user", "content": "x"}] * (LIMITS.messages + 1)},
            "(messages)",
        ),
        ("/v1/cite", {"quote": "x" * (LIMITS.quote_chars + 1)}, "quote_chars"),
        ("/v1/compare", {"question": "x", "per_force": LIMITS.per_force + 1}, "per_force"),
        (
            "/v1/search",
            {"question": "x", "filters": {"doc_ids": ["a"] * (LIMITS.doc_ids + 1)}},
            "(doc_ids)",
        ),
        (
            "/v1/search",
            {"question": "x", "filters": {"section": ["y" * (LIMITS.filter_value_chars + 1)]}},
            "filter_value_chars",
        ),
    ]
    for url, body, limit in cases:
        r = client.post(url, json=body)
        assert r.status_code == 422 and limit in r.json()["detail"], (url, r.json())


def test_malformed_json_gets_an_actionable_400(client: TestClient) -> None:
    for raw in [b"{not json", b'{"question": "x",}', b"", b"\xff\xfe"]:
        r = client.post("/v1/search", content=raw, headers={"content-type": "application/json"})
        assert r.status_code in (400, 422), raw
        detail = r.json()["detail"]
        assert "body.0" not in detail and "JSON" in detail, (raw, detail)
    r = client.post(
        "/v1/chat", content=b'{"messages": [', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "character" in r.json()["detail"]


def test_force_filter_the_question_contradicts(client: TestClient) -> None:
    """The stated rule: a force the question names wins over a forces filter without it."""
    body = {
        "question": "How quickly do appropriate adults arrive for children in Lancashire custody?",
        "filters": {"forces": ["Kent"]},
    }
    data = client.post("/v1/search", json=body).json()
    assert data["filters"]["forces"] == ["Lancashire Constabulary"]
    assert all(p["force"] == "Lancashire Constabulary" for p in data["results"])
    assert any("filter set aside" in n for n in data["notes"])
    # a conversation whose filter is left over from an earlier question
    messages = [
        {"role": "user", "content": "Does Kent hold children overnight after charge?"},
        {"role": "assistant", "content": "..."},
        {"role": "user", "content": body["question"]},
    ]
    reply = client.post("/v1/chat", json={"messages": messages, "filters": body["filters"]})
    assert reply.status_code == 200
    r = reply.json()
    assert any("filter set aside" in n for n in r["notes"])
    assert all(c["force"] == "Lancashire Constabulary" for c in r["citations"] + r["related"])
    # a question within the filter, or naming no force, keeps it (no note)
    same = client.post(
        "/v1/search", json={"question": "custody in Kent", "filters": {"forces": ["Kent"]}}
    ).json()
    assert same["filters"]["forces"] == ["Kent Police"] and same["notes"] == []


def test_filter_values_the_corpus_lacks_are_named(client: TestClient) -> None:
    data = client.post(
        "/v1/search",
        json={
            "question": "missing children",
            "filters": {
                "forces": ["Norfolk"],
                "doc_ids": ["no-such-report"],
                "report_types": ["thematic"],
            },
        },
    ).json()
    notes = " ".join(data["notes"])
    assert "no report on Norfolk" in notes and "'no-such-report'" in notes
    assert "'thematic'" in notes and data["results"] == []
    years = client.post(
        "/v1/search",
        json={"question": "custody", "filters": {"year_from": 2030, "year_to": 2040}},
    ).json()
    assert any("inspected in those years" in n for n in years["notes"])
    recs = client.get("/v1/recommendations", params={"force": "Norfolk"}).json()
    assert recs["recommendations"] == [] and "no report on Norfolk" in recs["message"]
    kent = client.get("/v1/recommendations", params={"force": "kent"}).json()
    assert kent["recommendations"] and kent["message"] is None
    bad = client.get("/v1/recommendations", params={"force": "000"})
    assert bad.status_code == 422 and "police force" in bad.json()["detail"]


def test_reversed_year_range_is_read_in_order(client: TestClient) -> None:
    r = client.post(
        "/v1/search",
        json={"question": "custody", "filters": {"year_from": 2021, "year_to": 2017}},
    )
    assert r.status_code == 200
    data = r.json()
    assert (data["filters"]["year_from"], data["filters"]["year_to"]) == (2017, 2021)
    assert any("read as the years 2017 to 2021" in n for n in data["notes"])


def test_healthz_names_the_index_as_readyz_does(client: TestClient) -> None:
    version = client.get("/readyz").json()["index_version"]
    assert version and client.get("/healthz").json()["index_version"] == version


def test_too_many_waiting_is_429() -> None:
    """More than QA_MAX_QUEUED requests in the worker queue: the next one is told to retry."""
    state = AppState(Settings(index_dir=Path("/nonexistent"), max_queued=1))
    release = threading.Event()

    async def scenario() -> None:
        first = asyncio.ensure_future(state.run(release.wait, 5))
        await asyncio.sleep(0.05)
        with pytest.raises(TooBusy, match="QA_MAX_QUEUED"):
            await state.run(lambda: None)
        release.set()
        assert await first is True
        await state.run(lambda: None)  # room again

    worker = threading.Thread(target=lambda: asyncio.run(scenario()))
    worker.start()
    worker.join(30)
    assert release.is_set()
