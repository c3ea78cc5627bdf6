"""Request validation errors as one line a person can act on: the field, the limit by its
name in ``settings.LIMITS``, and what to do. A body that is not JSON at all is a 400."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Which limit a field's length or count is checked against (names as in settings.LIMITS).
_TEXT_LIMITS = {"question": "question_chars", "content": "question_chars", "quote": "quote_chars"}
_LIST_LIMITS = {"messages": "messages", "doc_ids": "doc_ids"}
_NUMBER_LIMITS = {"top_k": "top_k", "per_force": "per_force"}

_EXAMPLE = 'send a JSON object such as {"question": "custody of children"}'


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "request body"


def _name(loc: Sequence[Any]) -> str:
    """The last field name in ``loc`` (list positions skipped)."""
    for p in reversed(loc):
        if isinstance(p, str):
            return p
    return ""


def _one(err: Mapping[str, Any]) -> str:
    loc = err.get("loc", ())
    field, kind = _field(loc), err.get("type", "")
    ctx = err.get("ctx") or {}
    value = err.get("input")
    name = _name(loc)
    if kind == "string_too_long":
        limit = _TEXT_LIMITS.get(name) or (
            "filter_value_chars" if "filters" in loc or name in ("force",) else "length"
        )
        length = len(value) if isinstance(value, str) else "?"
        return (
            f"{field}: {length:,} characters is over the limit of {ctx.get('max_length'):,}"
            f" ({limit}); nothing is cut, so shorten it"
        )
    if kind == "too_long":
        limit = _LIST_LIMITS.get(name, "filter_values")
        return (
            f"{field}: {ctx.get('actual_length')} items is over the limit of"
            f" {ctx.get('max_length')} ({limit})"
        )
    if kind == "less_than_equal":
        limit = _NUMBER_LIMITS.get(name, "year_max" if name.startswith("year") else "maximum")
        return f"{field}: {value} is over the limit of {ctx.get('le')} ({limit})"
    if kind == "greater_than_equal":
        return f"{field}: {value} is below the minimum of {ctx.get('ge')}"
    if kind in ("string_pattern_mismatch", "string_too_short"):
        return f"{field}: is empty or only spaces; write some text"
    if kind == "too_short":
        return f"{field}: needs at least {ctx.get('min_length', 1)} item(s)"
    if kind == "missing":
        return f"{field}: is required" if loc[1:] else f"the request body is missing; {_EXAMPLE}"
    if kind == "extra_forbidden":
        return f"{field}: is not a field of this request (a typo?)"
    if kind in ("model_attributes_type", "dict_type") and len(loc) <= 1:
        return f"the request body must be a JSON object; {_EXAMPLE}"
    return f"{field}: {err.get('msg', 'invalid')}"


def describe_validation_errors(errors: Sequence[Mapping[str, Any]]) -> tuple[int, str]:
    """(status, detail) for FastAPI's validation errors: 400 for a body that is not JSON,
    else 422 with one readable line per problem."""
    for err in errors:
        if err.get("type") == "json_invalid":
            loc = err.get("loc", ())
            at = loc[1] if len(loc) > 1 else "?"
            problem = (err.get("ctx") or {}).get("error", "not JSON")
            return 400, (
                f"the request body is not valid JSON ({problem} at character {at});"
                f" {_EXAMPLE} with Content-Type: application/json"
            )
    lines = list(dict.fromkeys(_one(err) for err in errors))
    return 422, "; ".join(lines) or "invalid request"
