"""Hostile questions through the HTTP API: never a server error, always the schema or a 4xx
with a ``detail`` message."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_service.api.schemas import answers as S

SPECIAL = [
    "",
    " ",
    "\t\n\r ",
    "\x00",
    "Kent\x00custody",
    "\u202eKent custody\u202c",  # right-to-left override
    "مرحبا كيف حال الأطفال في الحجز",
    "שלום Kent",
    "👮‍♀️🚓 children 🧒 in custody?",
    "\ufeff\u200b\u200d",
    "x" * 10_000,
    "custody" * 1500,
    "a" * 999 + "é",
    "Lancs Kent Leics Lincs the Met Essex " * 20,
    "\ud7ff\ue000\uffff",
    "AND OR NOT * ? ( ) [ ] { } : ^ ~ \\\\ / \" '",
]

questions = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=1200),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), max_size=50),
    st.builds(
        lambda w, n: " ".join([w] * n), st.text(min_size=1, max_size=30), st.integers(1, 400)
    ),
    st.text(min_size=2000, max_size=10_000).map(lambda s: s.replace(" ", "")),
)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _check(response: Any, model: type[S.BaseModel]) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code == 200:
        model.model_validate(response.json())
    else:
        assert 400 <= response.status_code < 500
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail


@FUZZ
@given(q=questions, top_k=st.integers(min_value=-1, max_value=60))
def test_fuzz_search(api: TestClient, q: str, top_k: int) -> None:
    r = api.post("/v1/search", json={"question": q, "top_k": top_k})
    _check(r, S.SearchResponse)


@FUZZ
@given(q=questions, history=st.lists(questions, max_size=3))
def test_fuzz_chat(api: TestClient, q: str, history: list[str]) -> None:
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": h} for i, h in enumerate(history)
    ]
    messages.append({"role": "user", "content": q})
    _check(api.post("/v1/chat", json={"messages": messages}), S.ChatResponse)


@FUZZ
@given(q=questions)
def test_fuzz_cite(api: TestClient, q: str) -> None:
    _check(api.post("/v1/cite", json={"quote": q}), S.CiteResponse)


@FUZZ
@given(
    q=questions,
    forces=st.lists(
        st.one_of(st.sampled_from(["Kent", "Lancs", "Essex"]), st.text(max_size=20)), max_size=3
    ),
)
def test_fuzz_compare(api: TestClient, q: str, forces: list[str]) -> None:
    _check(api.post("/v1/compare", json={"question": q, "forces": forces}), S.CompareResponse)
