"""Schemathesis against the app's own OpenAPI document, answered by the real app over the
real four-report index: at least 500 generated requests for every operation that takes input
(valid and invalid ones), no server error, and every response as the document describes it:
status code, content type, headers and body schema. Nothing is tolerated: the first run
found four gaps (422 bodies, an undocumented 400, the text route's 404 content type, request
integers accepting true and "5"), all fixed in the app.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from qa_service.api import create_app
from qa_service.api.state import AppState
from qa_service.settings import Settings

# Hypothesis examples of the fuzzing phase, valid and invalid inputs together; the coverage
# phase (boundary values, wrong methods, missing parts) adds its own cases on top.
EXAMPLES = 500
MIN_CASES = 500  # per operation that takes input

# The document does not depend on the index: it is read here, at collection, from an app that is
# never started (``from_asgi`` would run the lifespan, loading whatever index/ holds). The app
# that answers is the fixture below; the test checks it serves this same document.
OPENAPI: dict[str, Any] = create_app(Settings(index_dir=Path("/nonexistent"))).openapi()

# Schema-valid requests the app refuses on purpose, with a documented status: ids that name
# nothing (404), and what JSON Schema cannot say (a force that does not exist, year_from after
# year_to, a quote of spaces: 422 with a message). Anything else, 5xx included, is a failure.
ACCEPTED_FOR_VALID_INPUT = ["2xx", "404", "422"]
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_FOR_VALID_INPUT}}}
)
schema = schemathesis.openapi.from_dict(OPENAPI, config=CONFIG)

# Real ids, for half the generated path parameters: random strings alone only ever reach 404.
KNOWN_IDS: dict[str, list[str]] = {}
CASES: Counter[str] = Counter()
STATUSES: dict[str, Counter[int]] = {}


def _with_known_ids(params: dict[str, Any] | None) -> st.SearchStrategy[dict[str, Any] | None]:
    if not params:
        return st.just(params)
    return st.fixed_dictionaries(
        {
            k: st.sampled_from(KNOWN_IDS[k]) if k in KNOWN_IDS else st.just(v)
            for k, v in params.items()
        }
    )


@schema.hook
def before_generate_path_parameters(context: Any, strategy: st.SearchStrategy[Any]) -> Any:
    """Either what the schema generates or the same with real document and passage ids."""
    return st.one_of(strategy, strategy.flatmap(_with_known_ids))


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in OPENAPI["paths"].items():
        for method, op in ops.items():
            yield path, method, op


# --- the tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(built_index: Path, retriever: Any) -> Iterator[FastAPI]:
    """The real app over the session's four-report index and loaded retriever."""
    state = AppState(Settings(index_dir=built_index))
    state.retriever = retriever
    KNOWN_IDS["doc_id"] = sorted(retriever.index.documents)
    KNOWN_IDS["passage_id"] = [c.chunk_id for c in retriever.index.chunks]
    application = create_app(state=state)
    with TestClient(application) as client:
        assert client.get("/openapi.json").json() == OPENAPI  # the document under test
    yield application


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: a CI failure reproduces
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi(case: schemathesis.Case[Any], app: FastAPI) -> None:
    response = case.call(app=app)
    CASES[case.operation.label] += 1
    STATUSES.setdefault(case.operation.label, Counter())[response.status_code] += 1
    assert response.status_code < 500, response.text[:300]
    case.validate_response(response, transport_kwargs={"app": app})


def _takes_input(op: dict[str, Any]) -> bool:
    return bool(op.get("parameters") or op.get("requestBody"))


def test_enough_cases_per_operation() -> None:
    """Runs after the generated tests (file order): every operation was exercised enough."""
    if not CASES:
        pytest.skip("the schemathesis tests did not run")
    short = {}
    for path, method, op in _operations():
        label = f"{method.upper()} {path}"
        if label not in CASES:
            continue  # deselected
        # An operation without input has one valid request (and the wrong-method ones).
        if CASES[label] < (MIN_CASES if _takes_input(op) else 1):
            short[label] = CASES[label]
    print("\nschemathesis cases:", dict(CASES), "\nstatuses:", STATUSES)
    assert short == {}
