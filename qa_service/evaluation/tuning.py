"""Retriever ladders for side-by-side evaluation, and tuning fusion on the dev split."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..answer.retriever import Retriever
from ..search.types import RetrievalConfig
from .retrieval import Question, report, run_questions


def ladder(base: RetrievalConfig) -> list[tuple[str, RetrievalConfig]]:
    """BM25 only, dense only, hybrid, then hybrid plus each stage in turn."""
    plain = replace(
        base,
        expand=False,
        force_filter=False,
        diversify=False,
        answerable_threshold=-1.0,
        merge_window=1,
    )
    return [
        ("bm25", replace(plain, mode="lexical")),
        ("dense", replace(plain, mode="dense")),
        ("hybrid", replace(plain, mode="hybrid")),
        ("hybrid + force filter", replace(plain, mode="hybrid", force_filter=True)),
        ("+ compare coverage", replace(plain, mode="hybrid", force_filter=True, diversify=True)),
        ("+ query expansion", replace(base, mode="hybrid", merge_window=1)),
        ("+ adjacent passages merged (full)", replace(base, mode="hybrid")),
    ]


def tune(
    retriever: Retriever,
    dev: list[Question],
    base: RetrievalConfig,
    progress: Callable[[str], None] | None = None,
) -> tuple[RetrievalConfig, list[dict[str, float | str]]]:
    """Grid-search fusion and expansion settings on dev by Recall@5 + MRR@10, the two figures
    the evaluation gates on, weighted equally (ties: R@5), then calibrate
    the answerable threshold: the highest that keeps answerable questions flagged <= 5%."""
    trials: list[dict[str, float | str]] = []
    best: tuple[float, float] | None = None
    chosen = base
    grid: list[RetrievalConfig] = []
    for alpha in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        for weight in (0.3, 0.5, 0.7):
            for sentence_weight in (0.0, 0.3, 0.5, 0.7):
                cfg = replace(base, fusion="convex", alpha=alpha, expansion_weight=weight)
                grid.append(replace(cfg, sentence_weight=sentence_weight))
    for k in (10, 30, 60):
        grid.append(replace(base, fusion="rrf", rrf_k=k))
    for cfg in grid:
        cfg = replace(cfg, answerable_threshold=-1.0, highlight=False)
        r = report("trial", run_questions(retriever, dev, cfg))
        mrr, r5 = r.overall["mrr@10"], r.overall["recall@5"]
        trials.append(
            {
                "fusion": cfg.fusion,
                "alpha": cfg.alpha,
                "rrf_k": cfg.rrf_k,
                "expansion_weight": cfg.expansion_weight,
                "sentence_weight": cfg.sentence_weight,
                "mrr@10": mrr,
                "recall@5": r5,
            }
        )
        if progress:
            knob = f"k={cfg.rrf_k}" if cfg.fusion == "rrf" else f"alpha={cfg.alpha}"
            progress(
                f"{cfg.fusion} {knob} w={cfg.expansion_weight} s={cfg.sentence_weight}:"
                f" MRR {mrr:.3f} R@5 {r5:.3f}"
            )
        if best is None or (r5 + mrr, r5) > best:
            best, chosen = (r5 + mrr, r5), cfg
    threshold = calibrate_threshold(retriever, dev, chosen)
    return replace(chosen, answerable_threshold=threshold, highlight=base.highlight), trials


def calibrate_threshold(
    retriever: Retriever, dev: list[Question], config: RetrievalConfig, max_false: float = 0.05
) -> float:
    """Highest confidence threshold flagging at most ``max_false`` of answerable dev questions."""
    scores = []
    for q in dev:
        if not q.evidence:
            continue
        cfg = replace(config, answerable_threshold=-1.0, highlight=False)
        res = retriever.search(q.asked(), top_k=5, config=cfg)
        top = [h.row for h in res.hits]
        scores.append(retriever.confidence(res.plan, top, cfg) if top else -1.0)
    scores.sort()
    allowed = int(max_false * len(scores))  # this many answerable questions may fall below
    return round(scores[allowed] - 1e-4, 4) if scores else 0.0
