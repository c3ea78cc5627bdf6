"""What a chat reply is made of: the conversation's turns, the answer's sentences with their
citations, and the reply itself (built by chat.py, or by progress.py for progress questions)."""

from __future__ import annotations

from dataclasses import dataclass

from ..search.types import SearchResult


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: str  # "user" | "assistant"
    content: str


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of the extractive answer and the citation it comes from."""

    text: str
    citation: int  # 1-based marker; citations[citation - 1] contains ``text``
    force: str | None = None  # the force whose report it is from


@dataclass(frozen=True)
class ChatReply:
    """The reply to the last user message."""

    question: str  # as typed
    rewritten: str  # what was searched
    answer: str  # sentences each followed by its marker, e.g. "... [1] ... [2]"
    sentences: list[AnswerSentence]
    result: SearchResult  # citations are result.hits[:len(citations)]
    citations: int
