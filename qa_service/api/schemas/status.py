"""What the service says about itself: ``Health`` (liveness and readiness, with the index
generation loaded) and ``ErrorBody``, the body of every 4xx and 5xx response."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    """Liveness/readiness."""

    status: str = Field(description="ok (live), ready, or not ready.")
    index_version: str | None = Field(
        default=None, description="The index generation loaded, once one is."
    )
    detail: str | None = Field(
        default=None, description="Why it is not ready, or why a newer index was not loaded."
    )


class ErrorBody(BaseModel):
    """Every error response."""

    detail: str = Field(
        description="One line a person can act on: the field, the limit and what to do.",
        examples=["question: 2,001 characters is over the limit of 2,000 (question_chars)"],
    )
