"""One question across forces: each force's best passage(s) or "no relevant passage"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .retriever import Retriever
from .search_types import Filters, Hit


@dataclass(frozen=True)
class ForceAnswer:
    """What the corpus says about one force."""

    force: str
    status: str  # "cited" | "no relevant passage" | "not in corpus"
    hits: list[Hit]
    confidence: float


@dataclass(frozen=True)
class Comparison:
    """A force-by-force answer with guaranteed coverage of every force asked about."""

    question: str
    topic: str
    forces: list[ForceAnswer]


def compare(
    retriever: Retriever,
    question: str,
    forces: Sequence[str] | None = None,
    per_force: int = 1,
    filters: Filters | None = None,
) -> Comparison:
    """Search the question's topic once per force (all corpus forces unless some are named)."""
    plan = retriever.plan(question)
    covered = retriever.index.forces
    asked = list(forces or plan.forces_named or covered)
    out: list[ForceAnswer] = []
    base = filters or Filters()
    # Each force is searched on the topic alone: the names of other forces in a comparative
    # question must not pull in their passages or block the search.
    cfg = replace(retriever.config, force_filter=False, diversify=False)
    for force in asked:
        if force not in covered:
            out.append(ForceAnswer(force, "not in corpus", [], 0.0))
            continue
        # Judge relevance on the top five (as a search does), return the best ``per_force``.
        res = retriever.search(
            plan.topic or question,
            top_k=max(per_force, 5),
            filters=replace(base, forces=(force,)),
            config=cfg,
        )
        top = [h.row for h in res.hits]
        confidence = retriever.confidence(res.plan, top, cfg) if top else 0.0
        if res.hits and confidence >= cfg.answerable_threshold:
            out.append(ForceAnswer(force, "cited", res.hits[:per_force], round(confidence, 4)))
        else:
            out.append(ForceAnswer(force, "no relevant passage", [], round(confidence, 4)))
    return Comparison(question, plan.topic, out)
