"""The OpenAPI document says everything a client needs: every operation summarised and
described and tagged by its users, every field described, every request body and parameter
with an example, every limit stated as a schema constraint, and the error responses with
their body shape. Read from an app that is never started (no index needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa_service.api import create_app
from qa_service.api.state import INSPECTORS, OPERATORS, STAFF
from qa_service.search.inputs import FORCE_NAMES, NOT_BLANK
from qa_service.settings import LIMITS, Settings

SPEC: dict[str, Any] = create_app(Settings(index_dir=Path("/nonexistent"))).openapi()
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
OPERATIONS = [
    (path, method, op) for path, ops in SPEC["paths"].items() for method, op in ops.items()
]
ERROR_REF = "#/components/schemas/ErrorBody"


def _properties(schema: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, prop in schema.get("properties", {}).items():
        yield f"{where}.{name}", prop


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return SCHEMAS[ref.rsplit("/", 1)[-1]] if ref else schema


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=lambda v: str(v)[:30])
def test_every_operation_is_summarised_described_and_tagged(
    path: str, method: str, op: dict[str, Any]
) -> None:
    assert op.get("summary"), (method, path)
    assert len(op.get("description", "")) > 40, (method, path)
    assert op.get("tags") and op["tags"][0] in (STAFF, INSPECTORS, OPERATORS), (method, path)
    for code, response in op["responses"].items():
        assert response.get("description"), (method, path, code)


def test_tags_group_routes_by_their_users() -> None:
    by_tag: dict[str, set[str]] = {}
    for path, _method, op in OPERATIONS:
        by_tag.setdefault(op["tags"][0], set()).add(path)
    assert {"/v1/search", "/v1/chat"} <= by_tag[STAFF]
    assert {
        "/v1/cite",
        "/v1/documents",
        "/v1/documents/{doc_id}",
        "/v1/passages/{passage_id}",
        "/v1/recommendations",
    } <= by_tag[INSPECTORS]
    assert by_tag[OPERATORS] == {"/healthz", "/readyz", "/metrics"}
    assert [t["name"] for t in SPEC["tags"]] == [STAFF, INSPECTORS, OPERATORS]
    assert all(t.get("description") for t in SPEC["tags"])


def test_every_field_of_every_model_is_described() -> None:
    undescribed = [
        where
        for model, schema in SCHEMAS.items()
        for where, prop in _properties(schema, model)
        if not prop.get("description")
    ]
    assert undescribed == []
    assert all(schema.get("description") for schema in SCHEMAS.values())


def test_every_request_body_and_parameter_has_an_example() -> None:
    bodies = 0
    for path, method, op in OPERATIONS:
        for param in op.get("parameters", []):
            assert param.get("description"), (method, path, param["name"])
            assert (
                param.get("example") is not None
                or param.get("examples")
                or param["schema"].get("examples")
            ), (method, path, param["name"])
        if "requestBody" not in op:
            continue
        bodies += 1
        content = op["requestBody"]["content"]["application/json"]
        examples = content.get("examples") or {}
        assert examples, (method, path)
        for example in examples.values():
            assert example.get("summary") and example.get("value"), (method, path)
        # every field of the request model shows an example value too
        model = _resolve(content["schema"])
        for where, prop in _properties(model, path):
            if "$ref" not in prop:
                assert prop.get("examples") or _item_examples(prop), where
    assert bodies == 4  # search, chat, compare, cite


def _item_examples(prop: dict[str, Any]) -> bool:
    items = prop.get("items", {})
    return bool(items.get("examples") or items.get("enum") or items.get("$ref"))


def test_request_fields_have_examples_in_nested_models() -> None:
    for model in ("SearchFilters", "Message"):
        for where, prop in _properties(SCHEMAS[model], model):
            assert prop.get("examples") or _item_examples(prop) or _any_examples(prop), where


def _any_examples(prop: dict[str, Any]) -> bool:
    return any(alt.get("examples") for alt in prop.get("anyOf", [])) or bool(prop.get("examples"))


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=lambda v: str(v)[:30])
def test_error_responses_are_documented_with_their_body(
    path: str, method: str, op: dict[str, Any]
) -> None:
    codes = set(op["responses"])
    if method == "post":
        assert {"400", "413", "422", "429", "503", "504"} <= codes, path
    if "{" in path:
        assert "404" in codes, path
    if path.startswith("/v1/"):
        assert "503" in codes, path
    for code in codes - {"200"}:
        body = op["responses"][code]["content"]["application/json"]["schema"]
        expected = "#/components/schemas/Health" if path == "/readyz" else ERROR_REF
        assert body == {"$ref": expected}, (path, code)
    assert SCHEMAS["ErrorBody"]["properties"]["detail"]["examples"]


def test_limits_are_schema_constraints() -> None:
    search, chat = SCHEMAS["SearchRequest"]["properties"], SCHEMAS["ChatRequest"]["properties"]
    message, filters = SCHEMAS["Message"]["properties"], SCHEMAS["SearchFilters"]["properties"]
    compare, cite = SCHEMAS["CompareRequest"]["properties"], SCHEMAS["CiteRequest"]["properties"]
    # one question limit everywhere a question is asked
    for prop in (search["question"], message["content"], compare["question"]):
        assert prop["maxLength"] == LIMITS.question_chars
        assert prop["minLength"] == 1 and prop["pattern"] == NOT_BLANK  # blank refused
    assert cite["quote"]["maxLength"] == LIMITS.quote_chars
    assert cite["quote"]["pattern"] == NOT_BLANK
    assert search["top_k"]["maximum"] == chat["top_k"]["maximum"] == LIMITS.top_k
    assert compare["per_force"]["maximum"] == LIMITS.per_force
    assert chat["messages"]["maxItems"] == LIMITS.messages
    assert chat["messages"]["contains"]["properties"]["role"] == {"const": "user"}
    for name in ("forces", "report_types", "section"):
        assert filters[name]["maxItems"] == LIMITS.filter_values
    assert filters["doc_ids"]["maxItems"] == LIMITS.doc_ids
    assert filters["forces"]["items"]["enum"] == list(FORCE_NAMES)
    assert compare["forces"]["items"]["enum"] == list(FORCE_NAMES)
    for name in ("report_types", "section", "doc_ids"):
        assert filters[name]["items"]["maxLength"] == LIMITS.filter_value_chars
        assert filters[name]["items"]["pattern"] == NOT_BLANK
    years = filters["year_from"]["anyOf"][0]
    assert (years["minimum"], years["maximum"]) == (LIMITS.year_min, LIMITS.year_max)
    assert "after year_to" in filters["year_from"]["description"]  # the cross-field rule
    params = {p["name"]: p for p in SPEC["paths"]["/v1/recommendations"]["get"]["parameters"]}
    assert params["force"]["schema"]["enum"] == list(FORCE_NAMES)
    assert "police detention" in params["area"]["schema"]["enum"]
    # and the limits are listed in the document's description
    assert f"{LIMITS.question_chars:,} characters" in SPEC["info"]["description"]


def test_docs_pages_use_no_outside_assets() -> None:
    from fastapi.testclient import TestClient

    app = create_app(Settings(index_dir=Path("/nonexistent")))
    with TestClient(app) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page).text
            assert "cdn." not in html and "googleapis" not in html and "https://" not in html
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
            r = client.get(f"/docs-assets/{asset}")
            assert r.status_code == 200 and len(r.content) > 100_000
