"""Offline evaluation of retrieval on a question set with quoted evidence.

Relevance: a returned passage answers an evidence quote when it lies in the quote's report and
contains the quote or covers at least half of it ("overlaps most of"). Judgements are made per
evidence quote, so a question with two quotes needs both found for full recall. Metrics are
computed by ir-measures (R@k, RR@10, nDCG@10) from qrels and runs built here.

Recall@k is the share of a question's quotes that some result in the top k answers, so one
passage holding both quotes of a two-quote answer reaches both. ir-measures sees one query per
quote for it (is that quote reached by rank k?), averaged per question, then over questions.
RR and nDCG are computed on the question's run with each result labelled by one quote (the
first it answers that no earlier result did): the first relevant rank, and a gain per result.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..answer.chat import rewrite_conversation
from ..answer.reply import Turn
from ..answer.retriever import Retriever
from ..ingest.textnorm import collapse_ws
from ..search.types import Hit, RetrievalConfig, SearchResult

KINDS = ("staff", "inspector", "quote", "fact", "compare", "followup", "partial", "none")
CUTOFFS = (1, 3, 5, 10)


class EvalError(Exception):
    """A question file that cannot be evaluated (message says which line and why)."""


@dataclass(frozen=True)
class Evidence:
    """An exact quote from a report that answers a question."""

    source: str
    text: str


@dataclass(frozen=True)
class Question:
    """One evaluation question."""

    id: str
    question: str
    kind: str
    force: str | None
    split: str | None
    evidence: tuple[Evidence, ...]
    history: tuple[str, ...] = ()  # the user's earlier turns, oldest first (a follow-up)
    none_type: str | None = None  # why the reports do not answer a ``none`` question

    def turns(self) -> list[Turn]:
        """The conversation the question ends: its history's user turns, then itself."""
        return [Turn("user", t) for t in (*self.history, self.question)]

    def asked(self) -> str:
        """The question as searched: a follow-up rewritten against its history by the same
        rules as the chat's (``POST /v1/chat``), otherwise as written."""
        if not self.history:
            return self.question
        return rewrite_conversation(self.turns())[-1]


@dataclass
class QuestionOutcome:
    """What one retriever did on one question."""

    question: Question
    answerable: bool
    ranked: list[str]  # per result: the evidence id it answers, or "passage:<id>"
    sources: list[str]
    spans: list[tuple[str, int, int]]  # (source, start, end) per result
    # per result: every evidence id it answers (empty: derived from ``ranked``)
    covers: list[frozenset[str]] = field(default_factory=list)

    def reached(self) -> list[frozenset[str]]:
        """The evidence ids each result answers."""
        if self.covers:
            return self.covers
        return [
            frozenset() if lab.startswith("passage:") else frozenset({lab}) for lab in self.ranked
        ]


@dataclass
class RunReport:
    """Metrics of one retriever configuration over a question set."""

    name: str
    overall: dict[str, float]
    by_kind: dict[str, dict[str, float]]
    compare_all_reached: float | None
    none_flagged: float | None
    answerable_flagged: float | None
    recall_curve: list[float]
    outcomes: list[QuestionOutcome] = field(default_factory=list, repr=False)


def load_questions(path: Path, split: str | None = None) -> list[Question]:
    """Read a JSON-lines question file; keep one split when asked."""
    out: list[Question] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"cannot read {path}: {exc}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            q = Question(
                id=str(row["id"]),
                question=str(row["question"]),
                kind=str(row.get("kind") or "staff"),
                force=row.get("force"),
                split=row.get("split"),
                evidence=tuple(
                    Evidence(str(e["source"]), str(e["text"])) for e in row.get("evidence") or []
                ),
                history=tuple(str(t) for t in row.get("history") or ()),
                none_type=row.get("none_type"),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise EvalError(f"{path}:{n}: not a question line ({exc})") from None
        if split is None or q.split == split:
            out.append(q)
    if not out:
        raise EvalError(f"{path}: no questions" + (f" in split {split!r}" if split else ""))
    return out


def locate(texts: dict[str, str], ev: Evidence) -> tuple[int, int] | None:
    """The evidence quote's span in its report's canonical text (whitespace-insensitive)."""
    text = texts.get(ev.source)
    if text is None:
        return None
    i = text.find(ev.text)
    if i >= 0:
        return i, i + len(ev.text)
    # Fall back to a whitespace-collapsed search, mapped back to canonical offsets.
    want = collapse_ws(ev.text)
    positions = [k for k, ch in enumerate(text) if not ch.isspace()]
    squeezed = "".join(text[k] for k in positions)
    j = squeezed.find(want.replace(" ", ""))
    if j < 0:
        return None
    return positions[j], positions[j + len(want.replace(" ", "")) - 1] + 1


def answers(span: tuple[int, int], ev_span: tuple[int, int], min_cover: float = 0.5) -> bool:
    """A passage answers a quote when it covers at least ``min_cover`` of the quote."""
    overlap = min(span[1], ev_span[1]) - max(span[0], ev_span[0])
    return overlap > 0 and overlap >= min_cover * (ev_span[1] - ev_span[0])


def covered(
    hits: list[Hit], evidence: dict[str, tuple[str, tuple[int, int]]]
) -> list[frozenset[str]]:
    """Every evidence id each hit answers (a footnote riding along with it counts: it is
    shown with the passage)."""
    return [
        frozenset(
            ev_id
            for ev_id, (source, span) in evidence.items()
            if h.chunk.source == source
            and any(answers((c.start, c.end), span) for c in (h.chunk, *h.attached))
        )
        for h in hits
    ]


def judge(hits: list[Hit], covers: list[frozenset[str]], order: list[str]) -> list[str]:
    """Label each hit with the evidence id it answers (the first in ``order`` that no earlier
    hit took), or its passage; ``covers`` is what ``covered`` found."""
    labels: list[str] = []
    used: set[str] = set()
    for h, ids in zip(hits, covers, strict=True):
        label = next(
            (e for e in order if e in ids and e not in used), f"passage:{h.chunk.chunk_id}"
        )
        used.add(label)
        labels.append(label)
    return labels


def run_questions(
    retriever: Retriever,
    questions: list[Question],
    config: RetrievalConfig,
    top_k: int = 10,
    progress: Callable[[int], None] | None = None,
) -> list[QuestionOutcome]:
    """Ask every question and judge the results."""
    texts = {d.source: d.text for d in retriever.index.documents.values()}
    outcomes = []
    for i, q in enumerate(questions, 1):
        res: SearchResult = retriever.search(q.asked(), top_k=top_k, config=config)
        evidence = {}
        for j, ev in enumerate(q.evidence):
            span = locate(texts, ev)
            if span is not None:
                evidence[f"{q.id}#e{j}"] = (ev.source, span)
        covers = covered(res.hits, evidence)
        outcomes.append(
            QuestionOutcome(
                q,
                res.answerable,
                judge(res.hits, covers, list(evidence)),
                [h.chunk.source for h in res.hits],
                [(h.chunk.source, h.chunk.start, h.chunk.end) for h in res.hits],
                covers,
            )
        )
        if progress:
            progress(i)
    return outcomes


def _metrics(outcomes: list[QuestionOutcome]) -> dict[str, float]:
    import ir_measures
    from ir_measures import RR, R, nDCG

    judged = [o for o in outcomes if o.question.evidence]
    if not judged:
        return {}
    qrels, run = [], []
    for o in judged:
        for j in range(len(o.question.evidence)):
            qrels.append(ir_measures.Qrel(o.question.id, f"{o.question.id}#e{j}", 1))
        seen: set[str] = set()
        for rank, label in enumerate(o.ranked):
            if label not in seen:
                seen.add(label)
                run.append(ir_measures.ScoredDoc(o.question.id, label, float(100 - rank)))
    others = [RR @ 10, nDCG @ 10]
    per_question: dict[object, dict[str, float]] = defaultdict(dict)
    for m in ir_measures.iter_calc(others, qrels, run):
        per_question[m.measure][m.query_id] = float(m.value)
    # Recall: one query per quote, "reached" when a result up to rank k answers it.
    quote_qrels, quote_run, owner = [], [], {}
    for o in judged:
        reached = o.reached()
        for j in range(len(o.question.evidence)):
            ev_id = f"{o.question.id}#e{j}"
            owner[ev_id] = o.question.id
            quote_qrels.append(ir_measures.Qrel(ev_id, ev_id, 1))
            first = next((r for r, ids in enumerate(reached) if ev_id in ids), None)
            for rank in range(len(reached)):
                label = ev_id if rank == first else f"result-{rank}"
                quote_run.append(ir_measures.ScoredDoc(ev_id, label, float(100 - rank)))
    recall_at = [R @ k for k in CUTOFFS]
    by_quote: dict[object, dict[str, float]] = defaultdict(dict)
    for m in ir_measures.iter_calc(recall_at, quote_qrels, quote_run):
        by_quote[m.measure][m.query_id] = float(m.value)
    for measure in recall_at:  # a question's recall: the mean over its quotes
        sums: dict[str, list[float]] = defaultdict(list)
        for ev_id, qid in owner.items():
            sums[qid].append(by_quote[measure].get(ev_id, 0.0))
        per_question[measure] = {qid: sum(v) / len(v) for qid, v in sums.items()}
    names = {**{R @ k: f"recall@{k}" for k in CUTOFFS}, RR @ 10: "mrr@10", nDCG @ 10: "ndcg@10"}
    # Questions with no results count as zero (ir-measures leaves them out).
    out = {
        name: round(sum(per_question[m].get(o.question.id, 0.0) for o in judged) / len(judged), 4)
        for m, name in names.items()
    }
    out["questions"] = float(len(judged))
    return out


def recall_curve(outcomes: list[QuestionOutcome], k_max: int = 10) -> list[float]:
    """Mean recall at k = 1..k_max over questions with evidence."""
    rows = [o for o in outcomes if o.question.evidence]
    curve = []
    for k in range(1, k_max + 1):
        total = 0.0
        for o in rows:
            found = frozenset().union(*o.reached()[:k])
            total += len(found) / len(o.question.evidence)
        curve.append(round(total / len(rows), 4) if rows else 0.0)
    return curve


def report(name: str, outcomes: list[QuestionOutcome]) -> RunReport:
    """Aggregate metrics overall, per kind, and the compare/none checks."""
    by_kind: dict[str, list[QuestionOutcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.question.kind].append(o)
    compare = by_kind.get("compare", [])
    reached = [
        all(src in o.sources[:10] for src in {e.source for e in o.question.evidence})
        for o in compare
    ]
    nones = by_kind.get("none", [])
    answerable_qs = [o for o in outcomes if o.question.evidence]
    return RunReport(
        name=name,
        overall=_metrics(outcomes),
        by_kind={k: _metrics(v) for k, v in sorted(by_kind.items()) if k != "none"},
        compare_all_reached=round(sum(reached) / len(reached), 4) if reached else None,
        none_flagged=round(sum(not o.answerable for o in nones) / len(nones), 4) if nones else None,
        answerable_flagged=(
            round(sum(not o.answerable for o in answerable_qs) / len(answerable_qs), 4)
            if answerable_qs
            else None
        ),
        recall_curve=recall_curve(outcomes),
        outcomes=outcomes,
    )


def report_to_json(r: RunReport) -> dict[str, Any]:
    """A run report as JSON (without per-question outcomes)."""
    return {
        "name": r.name,
        "overall": r.overall,
        "by_kind": r.by_kind,
        "compare_all_reports_in_top10": r.compare_all_reached,
        "none_flagged_not_answerable": r.none_flagged,
        "answerable_flagged_not_answerable": r.answerable_flagged,
        "recall_curve": r.recall_curve,
    }


def markdown_table(reports: Iterable[RunReport]) -> str:
    """One row per retriever: the headline metrics side by side."""
    head = (
        "| retriever | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 | compare: all reports in top 10 "
        "| none flagged | answerable flagged |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for r in reports:
        o = r.overall
        lines.append(
            f"| {r.name} | {o.get('recall@1', 0):.3f} | {o.get('recall@5', 0):.3f} "
            f"| {o.get('recall@10', 0):.3f} | {o.get('mrr@10', 0):.3f} | {o.get('ndcg@10', 0):.3f} "
            f"| {_pct(r.compare_all_reached)} | {_pct(r.none_flagged)} "
            f"| {_pct(r.answerable_flagged)} |"
        )
    return "\n".join(lines)


def kind_table(r: RunReport) -> str:
    """Per-kind metrics of one retriever."""
    lines = [
        "| kind | questions | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, m in r.by_kind.items():
        lines.append(
            f"| {kind} | {int(m.get('questions', 0))} | {m.get('recall@1', 0):.3f} "
            f"| {m.get('recall@5', 0):.3f} | {m.get('recall@10', 0):.3f} "
            f"| {m.get('mrr@10', 0):.3f} | {m.get('ndcg@10', 0):.3f} |"
        )
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def plot_recall(reports: list[RunReport], path: Path, title: str) -> None:
    """Recall@k curves (k = 1..10) of every retriever, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ks = list(range(1, 11))
    for r in reports:
        ax.plot(ks, r.recall_curve, marker="o", label=r.name)
    ax.set_xlabel("k (passages returned)")
    ax.set_ylabel("Recall@k (answerable questions)")
    ax.set_xticks(ks)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
