"""Answer-level evaluation: does the chat answer's first sentence answer, and does the service
refuse exactly when the reports do not say?

Every question is asked through ``chat.answer`` (the function behind ``POST /v1/chat`` and
``qa chat``), as the first turn of a conversation. The evidence quotes of a question are its
gold answer; an answer sentence *answers* when, after the same normalisation on both sides
(markup, footnote markers, quote styles and whitespace), it is a quote, holds one, or lies
inside one (or shares with one a run of at least ``MIN_SHARED`` of the shorter text: a
sentence cut differently at a footnote or a list).

Metrics (each a share of the questions it is defined over):
- answer@1: answerable questions whose first answer sentence answers;
- answer@any: answerable questions where some answer sentence answers;
- wrongly refused: answerable questions answered ``not_answered``;
- abstain: ``none`` questions not answered as ``answered`` (``partial`` says what the
  reports lack, so it abstains from the question asked); abstain (strict): ``not_answered``;
- partial accuracy: ``partial`` questions answered ``partial``; partial cited: ``partial``
  questions not refused whose answer quotes the part the reports do give.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import pairwise
from pathlib import Path
from typing import Any

from ..answer.chat import answer
from ..answer.retriever import Retriever
from ..ingest.textnorm import collapse_ws, remove_footnote_marks, strip_markup
from .retrieval import Question

MIN_SHARED = 0.6
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"})
_FOOTNOTE_REF = re.compile(r"\[\^?\d{1,3}\]")


def normalise(text: str) -> str:
    """Text as compared: markup and footnote markers removed, quotes and dashes plain,
    whitespace collapsed, lower case, no closing full stop."""
    text = remove_footnote_marks(strip_markup(_FOOTNOTE_REF.sub("", text)))
    return collapse_ws(text.translate(_QUOTES)).lower().rstrip(" .")


def answers_quote(sentence: str, quote: str) -> bool:
    """Whether an answer sentence is, holds, or lies inside the evidence quote."""
    s, q = normalise(sentence), normalise(quote)
    if not s or not q:
        return False
    if s in q or q in s:
        return True
    m = SequenceMatcher(None, s, q, autojunk=False).find_longest_match(0, len(s), 0, len(q))
    return m.size >= MIN_SHARED * min(len(s), len(q))


@dataclass(frozen=True)
class AnswerOutcome:
    """What the chat answer did for one question."""

    question: Question
    state: str
    confidence: float
    sentences: tuple[str, ...]
    first_answers: bool
    any_answers: bool

    @property
    def answerable(self) -> bool:
        """Whether the reports answer the question in full (by the question set)."""
        return bool(self.question.evidence) and self.question.kind != "partial"


def run_answers(
    retriever: Retriever,
    questions: list[Question],
    top_k: int = 5,
    progress: Callable[[int], None] | None = None,
) -> list[AnswerOutcome]:
    """Ask every question through the chat answer and judge its sentences."""
    out = []
    for i, q in enumerate(questions, 1):
        reply = answer(retriever, q.turns(), top_k=top_k)
        texts = tuple(s.text for s in reply.sentences)
        hits = [any(answers_quote(t, e.text) for e in q.evidence) for t in texts]
        out.append(
            AnswerOutcome(
                q,
                reply.result.state if texts else "not_answered",
                reply.result.confidence,
                texts,
                bool(hits and hits[0]),
                any(hits),
            )
        )
        if progress:
            progress(i)
    return out


def _share(flags: Iterable[bool]) -> float | None:
    values = list(flags)
    return round(sum(values) / len(values), 4) if values else None


def answer_metrics(outcomes: list[AnswerOutcome]) -> dict[str, float | None]:
    """The answer metrics of a set of outcomes (None where undefined)."""
    answerable = [o for o in outcomes if o.answerable]
    nones = [o for o in outcomes if o.question.kind == "none"]
    partial = [o for o in outcomes if o.question.kind == "partial"]
    return {
        "questions": float(len(outcomes)),
        "answer@1": _share(o.first_answers for o in answerable),
        "answer@any": _share(o.any_answers for o in answerable),
        "wrongly_refused": _share(o.state == "not_answered" for o in answerable),
        "answered_partial": _share(o.state == "partial" for o in answerable),
        "abstain": _share(o.state != "answered" for o in nones),
        "abstain_strict": _share(o.state == "not_answered" for o in nones),
        "partial_accuracy": _share(o.state == "partial" for o in partial),
        "partial_cited": _share(o.state != "not_answered" and o.any_answers for o in partial),
    }


def answer_report(outcomes: list[AnswerOutcome]) -> dict[str, Any]:
    """Answer metrics overall and per kind, and abstain per ``none_type`` (why the reports do
    not answer: another force, another topic, a missing fact, a year, a false premise, a
    swapped entity)."""
    by_kind: dict[str, list[AnswerOutcome]] = defaultdict(list)
    by_type: dict[str, list[AnswerOutcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.question.kind].append(o)
        if o.question.kind == "none":
            by_type[o.question.none_type or "untyped"].append(o)
    return {
        "overall": answer_metrics(outcomes),
        "by_kind": {k: answer_metrics(v) for k, v in sorted(by_kind.items())},
        "abstain_by_none_type": {
            t: {
                "questions": len(v),
                "abstain": _share(o.state != "answered" for o in v),
                "abstain_strict": _share(o.state == "not_answered" for o in v),
            }
            for t, v in sorted(by_type.items())
        },
    }


def none_type_table(rep: dict[str, Any]) -> str:
    """Abstain per kind of unanswerable question, as a markdown table."""
    lines = ["| none_type | questions | abstain | abstain (strict) |", "|---|---|---|---|"]
    for t, m in rep.get("abstain_by_none_type", {}).items():
        lines.append(f"| {t} | {m['questions']} | {m['abstain']:.3f} | {m['abstain_strict']:.3f} |")
    return "\n".join(lines)


def answer_table(rep: dict[str, Any]) -> str:
    """Answer metrics per kind and overall, as a markdown table."""
    cols = [
        ("answer@1", "answer@1"),
        ("answer@any", "answer@any"),
        ("wrongly_refused", "wrongly refused"),
        ("answered_partial", "answerable marked partial"),
        ("abstain", "abstain"),
        ("abstain_strict", "abstain (strict)"),
        ("partial_accuracy", "partial accuracy"),
    ]
    lines = [
        "| kind | questions | " + " | ".join(name for _, name in cols) + " |",
        "|---" * (len(cols) + 2) + "|",
    ]
    rows = [*rep["by_kind"].items(), ("**all**", rep["overall"])]
    for kind, m in rows:
        cells = ["–" if m.get(key) is None else f"{m[key]:.3f}" for key, _ in cols]
        lines.append(f"| {kind} | {int(m['questions'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_reliability(outcomes: list[AnswerOutcome], path: Path, title: str, bins: int = 8) -> None:
    """Reliability diagram of the answerable probability: per confidence bin, the share of
    questions the reports answer (fully or in part), with the bin's size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = [(o.confidence, bool(o.question.evidence)) for o in outcomes]
    edges = [i / bins for i in range(bins + 1)]
    xs, ys, ns = [], [], []
    for lo, hi in pairwise(edges):
        inside = [y for p, y in pairs if lo <= p < hi or (hi == 1.0 and p == 1.0)]
        if inside:
            xs.append(
                sum(p for p, _ in pairs if lo <= p < hi or (hi == 1.0 and p == 1.0)) / len(inside)
            )
            ys.append(sum(inside) / len(inside))
            ns.append(len(inside))
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=120)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(xs, ys, marker="o", label="service")
    for x, y, n in zip(xs, ys, ns, strict=True):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("confidence (predicted probability the reports answer)")
    ax.set_ylabel("share the reports answer")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
