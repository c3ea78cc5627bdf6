"""The HTTP routes, one module per group of users: ``questions`` (search, chat, compare, cite),
``reports`` (the recommendation tracker, reports, passages) and ``operations`` (liveness,
readiness, metrics), with what they share in ``common``. Each route parses its request, makes
one library call and shapes the response; every operation has a summary, a description (its
docstring) and its error responses, and the tags group them by who uses them (``state.TAGS``).
``ROUTERS`` lists the modules' routers in the order /openapi.json lists their operations."""

from __future__ import annotations

from fastapi import APIRouter

from . import operations, questions, reports

ROUTERS: tuple[APIRouter, ...] = (questions.router, reports.router, operations.router)

__all__ = ["ROUTERS"]
