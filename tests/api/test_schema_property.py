"""Property-based run over the published OpenAPI document (schemathesis), bounded for CI:
every request the schema calls valid is accepted (2xx, or 404 for an id that names nothing:
never 422), every request it calls invalid is refused with a 4xx, no request gets a 5xx, and
every response is as documented. The schema states every constraint validation enforces
(lengths, blank text, force and area names, the user message a conversation needs), so a
client generated from it never sends what the service refuses.

``QA_SCHEMA_EXAMPLES`` raises the bound for a longer run (figures in docs/reliability.md).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from qa_service.api import create_app
from qa_service.api.state import AppState
from qa_service.settings import Settings

EXAMPLES = int(os.environ.get("QA_SCHEMA_EXAMPLES", "40"))

OPENAPI: dict[str, Any] = create_app(Settings(index_dir=Path("/nonexistent"))).openapi()
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "404"]}}}
)
schema = schemathesis.openapi.from_dict(OPENAPI, config=CONFIG)

STATUSES: dict[str, Counter[int]] = {}
REJECTED_VALID: list[str] = []


@pytest.fixture(scope="module")
def app(built_index: Path, retriever: Any) -> Iterator[FastAPI]:
    """The real app over the session's index and loaded retriever."""
    state = AppState(Settings(index_dir=built_index))
    state.retriever = retriever
    application = create_app(state=state)
    with TestClient(application) as client:
        assert client.get("/openapi.json").json() == OPENAPI
    yield application


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_schema_valid_requests_accepted_and_no_server_error(
    case: schemathesis.Case[Any], app: FastAPI
) -> None:
    response = case.call(app=app)
    STATUSES.setdefault(case.operation.label, Counter())[response.status_code] += 1
    positive = case.meta is None or not case.meta.generation.mode.is_negative
    if positive and response.status_code in (400, 413, 422):
        REJECTED_VALID.append(f"{case.operation.label} {response.status_code} {response.text}")
    assert response.status_code < 500, response.text[:300]
    case.validate_response(response, transport_kwargs={"app": app})


def test_report() -> None:
    """Runs after the generated cases: print what they got (shown with -s or on failure)."""
    if not STATUSES:
        pytest.skip("the property-based cases did not run")
    cases = sum(sum(c.values()) for c in STATUSES.values())
    errors = sum(n for c in STATUSES.values() for code, n in c.items() if code >= 500)
    print(f"\n{cases} cases, {errors} server errors, {len(REJECTED_VALID)} schema-valid rejected")
    print("statuses per operation:", {k: dict(v) for k, v in STATUSES.items()})
    assert errors == 0 and REJECTED_VALID == []
