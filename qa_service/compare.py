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
    state: str = "not_answered"  # the search's answered / partial / not_answered
    sentence: str | None = None  # the answer sentence from this force's report
    missing: str | None = None  # with state partial: what the report does not give


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
        if res.hits and res.state != "not_answered":
            sentence = None
            if res.answer:
                pick = res.answer[0]
                sentence = " ".join(res.hits[pick.hit].chunk.text[pick.start : pick.end].split())
                # The passage holding the answer sentence comes first.
                order = [pick.hit, *(i for i in range(len(res.hits)) if i != pick.hit)]
                hits = [res.hits[i] for i in order][:per_force]
            else:
                hits = res.hits[:per_force]
            out.append(
                ForceAnswer(
                    force, "cited", hits, res.confidence, res.state, sentence, res.missing
                )
            )
        else:
            out.append(ForceAnswer(force, "no relevant passage", [], res.confidence))
    return Comparison(question, plan.topic, out)
