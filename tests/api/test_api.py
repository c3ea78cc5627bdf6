"""The HTTP API through the real app, on the real corpus and model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.api.state import AppState
from qa_service.forces import short_name
from qa_service.ingest.textnorm import collapse_ws, matches_span
from qa_service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
FORCES = ["Kent Police", "Lancashire Constabulary", "Leicestershire Police", "Lincolnshire Police"]


@pytest.fixture(scope="module")
def client(built_index: Path, retriever) -> Iterator[TestClient]:
    state = AppState(Settings(index_dir=built_index))
    state.retriever = retriever  # share the session's loaded index and model
    with TestClient(create_app(state=state)) as c:
        yield c


def _chat(client: TestClient, questions: list[str]) -> list[dict]:
    messages: list[dict] = []
    replies = []
    for q in questions:
        messages.append({"role": "user", "content": q})
        r = client.post("/v1/chat", json={"messages": messages})
        assert r.status_code == 200, r.text
        replies.append(r.json())
        messages.append({"role": "assistant", "content": r.json()["answer"]})
    return replies


def test_follow_up_chain(client: TestClient) -> None:
    replies = _chat(
        client,
        [
            "Does Kent still hold under-18s at the station after charge?",
            "and Leicestershire?",
            "what about missing children?",
            "why was that?",
        ],
    )
    assert [r["rewritten_question"] for r in replies] == [
        "Does Kent still hold under-18s at the station after charge?",
        "Does Leicestershire still hold under-18s at the station after charge?",
        "What about missing children in Leicestershire?",
        "Why: missing children in Leicestershire?",
    ]
    assert all(c["force"] == "Kent Police" for c in replies[0]["citations"])
    for reply in replies[1:]:
        assert reply["citations"] and all(
            c["force"] == "Leicestershire Police" for c in reply["citations"]
        )


@pytest.mark.parametrize(
    "question",
    [
        "how does a force handle missing children?",
        "Are Lincolnshire officers recording the voice of the child?",
        "What did the review find about MOSOVO training in Kent?",
        "How quickly do appropriate adults arrive for children in Lancashire custody?",
        "Is supervision of child abuse investigations good enough in Leicestershire?",
    ],
)
def test_every_answer_sentence_is_cited(client: TestClient, question: str) -> None:
    reply = _chat(client, [question])[0]
    assert reply["answerable"] and reply["sentences"]
    by_marker = {c["marker"]: c for c in reply["citations"]}
    for s in reply["sentences"]:
        assert f"{s['text']} [{s['citation']}]" in reply["answer"]
        cited = by_marker[s["citation"]]
        assert collapse_ws(s["text"]) in collapse_ws(cited["text"])
    # no sentence of the answer without a marker
    stripped = reply["answer"]
    for s in reply["sentences"]:
        stripped = stripped.replace(f"{s['text']} [{s['citation']}]", "")
    if reply["state"] == "partial":  # says what the reports lack first
        stripped = stripped.replace(reply["message"], "").replace("What they do say:", "")
    # an answer drawing on several forces' reports names the force before each sentence
    for s in reply["sentences"]:
        if s["force"]:
            stripped = stripped.replace(f"{short_name(s['force'])}:", "")
    assert stripped.strip() == "", stripped


def test_unanswerable_chat(client: TestClient) -> None:
    reply = _chat(client, ["How does Essex Police handle missing children?"])[0]
    assert not reply["answerable"] and reply["citations"] == [] and "Essex" in reply["answer"]


THEMES = [
    "how do forces handle missing children?",
    "appropriate adults for children in custody",
    "recording the voice of the child",
    "managing registered sex offenders",
    "supervision of child abuse investigations",
    "domestic abuse referrals to children's social care",
]


@pytest.mark.parametrize("theme", THEMES)
def test_compare_covers_every_force(client: TestClient, theme: str) -> None:
    r = client.post("/v1/compare", json={"question": theme})
    assert r.status_code == 200, r.text
    forces = r.json()["forces"]
    assert [f["force"] for f in forces] == FORCES
    for f in forces:
        assert f["status"] in ("cited", "no relevant passage")
        assert (f["status"] == "cited") == bool(f["passages"])
        for p in f["passages"]:
            assert p["force"] == f["force"]
    assert sum(f["status"] == "cited" for f in forces) >= 2


def test_search_contract_and_filters(client: TestClient) -> None:
    r = client.post(
        "/v1/search",
        json={
            "question": "children detained overnight",
            "top_k": 5,
            "filters": {"forces": ["Lincs"], "report_types": ["post-inspection review"]},
        },
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["filters"]["forces"] == ["Lincolnshire Police"] and data["index_version"]
    for p in data["results"]:
        text = client.get(f"/v1/documents/{p['doc_id']}/text").text
        assert matches_span(text, p["char_start"], p["char_end"], p["text"])
        assert p["force"] == "Lincolnshire Police"


def test_documents_and_passages(client: TestClient) -> None:
    docs = client.get("/v1/documents").json()
    assert sorted(d["force"] for d in docs) == FORCES
    kent = client.get("/v1/documents/kent-2021-post-inspection-review").json()
    # "Post-inspection review findings: police detention", the heading line whole
    assert any(s["path"][-1].lower().endswith(": police detention") for s in kent["section_tree"])
    hit = client.post("/v1/search", json={"question": "MOSOVO", "top_k": 1}).json()["results"][0]
    p = client.get(f"/v1/passages/{hit['passage_id']}").json()
    assert p["text"] == hit["text"] and (p["previous"] or p["next"])


def test_merged_passages_resolve_by_id(client: TestClient) -> None:
    # Two neighbouring chunks of one finding that both rank come back as one passage whose id
    # joins theirs; the passage route serves it, with the chunks around it.
    questions = [
        json.loads(line)["question"]
        for line in (ROOT / "eval" / "questions.jsonl").read_text().splitlines()[:60]
    ]
    merged = []
    for q in questions:
        r = client.post("/v1/search", json={"question": q, "top_k": 5}).json()
        merged += [p for p in r["results"] if "+" in p["passage_id"]]
    assert merged, "no merged passage in 60 questions"
    for hit in merged[:5]:
        p = client.get(f"/v1/passages/{hit['passage_id']}").json()
        assert (p["text"], p["char_start"], p["char_end"]) == (
            hit["text"],
            hit["char_start"],
            hit["char_end"],
        )
        text = client.get(f"/v1/documents/{hit['doc_id']}/text").text
        assert matches_span(text, p["char_start"], p["char_end"], p["text"])
        first, second = hit["passage_id"].split("+")
        assert client.get(f"/v1/passages/{first}").json()["next"]["passage_id"] == second
        for h0, h1 in hit["highlights"]:
            assert 0 <= h0 < h1 <= len(hit["text"])
    assert client.get(f"/v1/passages/{second}+{first}").status_code == 404


def test_recommendations(client: TestClient) -> None:
    data = client.get("/v1/recommendations").json()
    counts: dict[str, int] = {}
    for rec in data["recommendations"]:
        counts[rec["force"]] = counts.get(rec["force"], 0) + 1
        if rec["kind"] == "reviewed":
            assert rec["summary"] is not None
    assert counts == {
        "Kent Police": 7,
        "Lancashire Constabulary": 10,
        "Leicestershire Police": 7,
        "Lincolnshire Police": 9,
    }
    kent = client.get("/v1/recommendations", params={"force": "Kent", "area": "police detention"})
    recs = kent.json()["recommendations"]
    assert len(recs) == 1 and recs[0]["summary"]["text"]
    assert client.get("/v1/recommendations", params={"area": "nonsense"}).status_code == 422


def test_errors(client: TestClient) -> None:
    for url in ["/v1/documents/nope", "/v1/documents/nope/text", "/v1/passages/nope"]:
        r = client.get(url)
        assert r.status_code == 404 and "nope" in r.json()["detail"]
    bad = [
        {"question": ""},
        {"question": "x", "top_k": 0},
        {"question": "x", "top_k": 51},
        {"question": "x" * 2001},
        {"question": "   "},
        {"question": "x", "filters": {"forces": ["Narnia"]}},
        {"question": "x", "unknown": 1},
        {},
    ]
    for body in bad:
        r = client.post("/v1/search", json=body)
        assert r.status_code == 422 and r.json()["detail"], body
    r = client.post(
        "/v1/search", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    r = client.post("/v1/chat", json={"messages": [{"role": "assistant", "content": "hi"}]})
    assert r.status_code == 422 and "user" in r.json()["detail"]
    r = client.post("/v1/chat", json={"messages": []})
    assert r.status_code == 422


def test_openapi_lists_every_route_with_models(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in [
        "/v1/search",
        "/v1/chat",
        "/v1/cite",
        "/v1/compare",
        "/v1/recommendations",
        "/v1/documents",
        "/v1/documents/{doc_id}",
        "/v1/documents/{doc_id}/text",
        "/v1/passages/{passage_id}",
        "/healthz",
        "/readyz",
        "/metrics",
    ]:
        assert path in paths, path
        for op in paths[path].values():
            ok = op["responses"]["200"]
            assert "content" in ok, path
    json.dumps(spec)


def test_health_ready_metrics(client: TestClient) -> None:
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert client.get("/healthz").json() == {
        "status": "ok",
        "index_version": ready["index_version"],
        "detail": None,
    }
    client.post("/v1/search", json={"question": "custody"})
    text = client.get("/metrics").text
    assert 'qa_requests_total{method="POST",route="/v1/search",status="200"}' in text
    assert "qa_request_seconds_bucket" in text and "qa_index_passages" in text


def test_not_ready_without_index(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(index_dir=tmp_path))) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and "no index" in r.json()["detail"]
        assert c.post("/v1/search", json={"question": "x"}).status_code == 503
        assert c.get("/healthz").status_code == 200


def test_web_page(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")


def _quote_questions() -> list[dict]:
    rows = [
        json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").read_text().splitlines()
    ]
    return [r for r in rows if r["kind"] == "quote"]


def test_cite_locates_every_eval_quote(client: TestClient) -> None:
    from qa_service.ingest.textnorm import strip_markup

    quotes = _quote_questions()
    assert len(quotes) >= 20
    for q in quotes:
        r = client.post("/v1/cite", json={"quote": q["question"]})
        assert r.status_code == 200, r.text
        data = r.json()
        evidence = q["evidence"][0]
        best = data["matches"][0]
        assert best["source"] == evidence["source"], q["id"]
        text = client.get(f"/v1/documents/{best['doc_id']}/text").text
        span_text = collapse_ws(strip_markup(text[best["char_start"] : best["char_end"]]))
        verbatim = collapse_ws(q["question"]) in collapse_ws(text)
        assert data["status"] == ("exact" if verbatim else "near"), q["id"]
        # the span found is the evidence sentence (or covers it)
        ev = collapse_ws(evidence["text"])
        assert ev in span_text or span_text in ev, q["id"]


def test_cite_near_match_carries_a_word_diff(client: TestClient) -> None:
    quote = (
        "Investigators feel their work-\nloads are too high and they don't have\nPage 12\n"
        "enough spare time to commit to their “enquiries”."
    )
    data = client.post("/v1/cite", json={"quote": quote}).json()
    assert data["status"] == "near" and data["quote"] == quote
    best = data["matches"][0]
    assert best["text"].startswith("Investigators feel their workloads")
    diff = best["diff"]
    assert [quote[a:b] for a, b in diff["quote"]] == ["spare"]
    assert [best["text"][a:b] for a, b in diff["text"]] == [""]
    exact = client.post("/v1/cite", json={"quote": best["text"]}).json()
    assert exact["status"] == "exact" and exact["matches"][0]["diff"] is None


def test_cite_not_found_and_errors(client: TestClient) -> None:
    for sentence in [
        "The force has introduced a drone unit to search for missing teenagers at night.",
        "Officers now receive weekly briefings on cryptocurrency fraud targeting pensioners.",
        "We found that every custody suite had a dedicated children's play area and library.",
    ]:
        data = client.post("/v1/cite", json={"quote": sentence}).json()
        assert data["status"] == "not_found" and data["message"]
        # the closest passages, each saying how close, none of them a match
        assert data["matches"] and {m["status"] for m in data["matches"]} == {"closest"}
        assert all(0 < m["similarity"] < 0.7 for m in data["matches"])
    assert client.post("/v1/cite", json={"quote": ""}).status_code == 422
    assert client.post("/v1/cite", json={"quote": "   "}).status_code == 422
    assert client.post("/v1/cite", json={"quote": "x" * 5001}).status_code == 422
