"""Retrieval hits as CONTRACT.md passages (plain dicts, shared by the CLI and the API)."""

from __future__ import annotations

from typing import Any

from ..types import Chunk, Document
from .types import Hit, SearchResult


def passage_dict(hit: Hit) -> dict[str, Any]:
    """One hit in the CONTRACT.md Passage shape."""
    c, meta = hit.chunk, hit.document.metadata
    return {
        "passage_id": c.chunk_id,
        "doc_id": c.doc_id,
        "source": c.source,
        "title": meta.title,
        "force": meta.force,
        "report_type": meta.report_type,
        "published": meta.published,
        "section": list(c.section),
        "char_start": c.start,
        "char_end": c.end,
        "text": c.text,
        "score": round(hit.score, 6),
        "highlights": [list(h) for h in hit.highlights],
        "type": c.type,
        # What rides along (merging.Riders): the footnotes whose [N] markers the text shows,
        # and the captions of figures it discusses.
        "footnotes": [_attached(a, hit.document) for a in hit.attached if a.type == "footnote"],
        "captions": [_attached(a, hit.document) for a in hit.attached if a.type == "caption"],
    }


def _attached(chunk: Chunk, doc: Document) -> dict[str, Any]:
    """A footnote or caption shown with a passage: its number, text and span."""
    marker = next((f.marker for f in doc.footnotes if chunk.start <= f.start < chunk.end), "")
    return {
        "marker": marker,
        "passage_id": chunk.chunk_id,
        "char_start": chunk.start,
        "char_end": chunk.end,
        "text": chunk.text,
    }


def result_dict(result: SearchResult) -> dict[str, Any]:
    """A search result as JSON: answerable, passages, applied filters and the message."""
    f = result.filters
    return {
        "question": result.question,
        "answerable": result.answerable,
        "state": result.state,
        "confidence": round(result.confidence, 4),
        "missing": result.missing,
        "message": result.message,
        "results": [passage_dict(h) for h in result.hits],
        "filters": {
            "forces": list(f.forces),
            "report_types": list(f.report_types),
            "year_from": f.year_from,
            "year_to": f.year_to,
            "section": list(f.section),
        },
        "detected_forces": list(result.plan.forces_named),
        "expansions": list(result.plan.expansions),
        "timings_ms": result.timings_ms,
    }


def chat_dict(reply: Any) -> dict[str, Any]:
    """A chat reply (``chat.ChatReply``) as JSON: the answer, its sentences and citations, and
    when the reports do not answer, the closest passages labelled as related."""
    result = reply.result
    cited = result.hits[: reply.citations]
    answered = result.state != "not_answered" and bool(reply.sentences)
    return {
        "question": reply.question,
        "rewritten_question": reply.rewritten,
        "answer": reply.answer,
        "sentences": [
            {"text": s.text, "citation": s.citation, "force": s.force} for s in reply.sentences
        ],
        "citations": [{**passage_dict(h), "marker": n} for n, h in enumerate(cited, 1)],
        "related": [] if answered else [passage_dict(h) for h in result.hits[:3]],
        "answerable": answered,
        "state": result.state if answered else "not_answered",
        "confidence": round(result.confidence, 4),
        "missing": result.missing,
        "message": result.message,
    }


def cite_result_dict(result: Any) -> dict[str, Any]:
    """A citation lookup (``cite.CiteResult``) as JSON."""
    return {
        "quote": result.quote,
        "status": result.status,
        "message": result.message,
        "matches": [
            {
                "status": m.status,
                "similarity": m.similarity,
                "doc_id": m.doc_id,
                "source": m.source,
                "title": m.title,
                "force": m.force,
                "section": list(m.section),
                "paragraph": m.paragraph,
                "char_start": m.char_start,
                "char_end": m.char_end,
                "text": m.text,
                "passage_id": m.passage_id,
                "diff": None
                if m.diff is None
                else {
                    "quote": [list(s) for s in m.diff.quote],
                    "text": [list(s) for s in m.diff.text],
                },
            }
            for m in result.matches
        ],
    }


def comparison_dict(result: Any) -> dict[str, Any]:
    """A force-by-force comparison (``compare.Comparison``) as JSON."""
    return {
        "question": result.question,
        "topic": result.topic,
        "forces": [
            {
                "force": f.force,
                "status": f.status,
                "state": f.state,
                "sentence": f.sentence,
                "missing": f.missing,
                "confidence": f.confidence,
                "passages": [passage_dict(h) for h in f.hits],
            }
            for f in result.forces
        ],
    }
