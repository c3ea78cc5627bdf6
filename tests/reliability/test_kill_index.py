"""kill -9 of a real ``qa index`` process at 20 moments spread over the build, publishing
included: whatever the moment, the index served afterwards is the old generation or the new
one, whole (every checksum passes), never a ``.building-*`` leftover, and it answers a golden
query set exactly as that corpus's clean build did. The build lock dies with the process, and
the next build succeeds and sweeps the leftovers away.

Two small corpora (excerpts of two reports, so a build takes seconds) alternate, A with one
report and B with both, so that old and new differ and the served corpus hash says which one
is served. Kill moments are drawn (seeded) from a clean build of the same variant over the
other, as the kills see it (vector reuse makes it much faster than a first build): anywhere in
the build, while the new generation is being written, and just after CURRENT switched."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa_service.answer.retriever import Retriever
from qa_service.answer.service import retrieval_config
from qa_service.index import store
from qa_service.index.current import load_search_index
from qa_service.index.embedding import SentenceTransformerEmbedder
from qa_service.settings import Settings
from tests.conftest import CORPUS, SEEDS

pytestmark = pytest.mark.slow

QA = Path(sys.executable).with_name("qa")
KILLS = 20
SEED = 20_26_11_22
# What the kills aim at, shuffled with the seed: a moment anywhere in the build, a moment in
# the writing of the new generation (its .building-* folder exists, CURRENT not yet switched),
# a moment just after CURRENT switched (the process still cleaning up and exiting).
KINDS = {"anywhere": 11, "while writing": 5, "after publishing": 4}
AFTER_PUBLISH_S = 0.15
BUILD_TIMEOUT_S = 180.0
# Excerpts (characters, cut at a line end) of two small reports.
EXCERPTS = {"leicestershire": 12_000, "lincolnshire": 9_000}
VARIANTS = {"A": ["leicestershire"], "B": ["leicestershire", "lincolnshire"]}
GOLDEN_QUERIES = [
    "children who go missing from home",
    "high-risk domestic abuse cases downgraded",
    "referrals of children at risk of sexual exploitation",
    "Lincolnshire child protection inspection findings",
    "what did the post-inspection review find about supervision?",
]
SCORE_TOLERANCE = 1e-4  # reused vs re-encoded vectors may differ in the last float bits


@dataclass
class Build:
    """One ``qa index`` run as observed from outside (seconds from its start)."""

    returncode: int
    seconds: float  # until it exited
    writing_at: float | None  # a new .building-* folder appeared
    published_at: float | None  # CURRENT switched
    killed_at: float | None  # SIGKILL sent while it ran
    log: str


@dataclass(frozen=True)
class Kill:
    """When to send SIGKILL: ``delay`` s after the start, or after an event of the build."""

    after: str  # "start", "writing" or "publish"
    delay: float


def _make_corpora(root: Path) -> dict[str, Path]:
    texts = {}
    for name, chars in EXCERPTS.items():
        text = (CORPUS / SEEDS[name]).read_text(encoding="utf-8")
        texts[name] = text[: text.rfind("\n", 0, chars) + 1]
    folders = {}
    for variant, names in VARIANTS.items():
        folder = root / f"corpus-{variant}"
        folder.mkdir()
        for name in names:
            (folder / SEEDS[name]).write_text(texts[name], encoding="utf-8")
        folders[variant] = folder
    return folders


def _temp_dirs(index: Path) -> set[str]:
    if not index.is_dir():
        return set()
    return {e.name for e in os.scandir(index) if e.name.startswith(".building-")}


def _run_build(corpus: Path, index: Path, log: Path, kill: Kill | None = None) -> Build:
    """Run ``qa index`` and watch the index folder; SIGKILL it when ``kill`` says."""
    before, stale = store.current_signature(index), _temp_dirs(index)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with log.open("wb") as out:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [str(QA), "index", "--corpus", str(corpus), "--index", str(index), "--quiet"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        seen: dict[str, float] = {"start": 0.0}
        killed_at = None
        try:
            while proc.poll() is None:
                now = time.monotonic() - t0
                if "writing" not in seen and _temp_dirs(index) - stale:
                    seen["writing"] = now
                if "publish" not in seen and store.current_signature(index) != before:
                    seen["publish"] = now
                if kill is not None and kill.after in seen and now >= seen[kill.after] + kill.delay:
                    proc.send_signal(signal.SIGKILL)
                    killed_at = now
                    break
                if now > BUILD_TIMEOUT_S:
                    proc.kill()
                    pytest.fail(f"qa index ran for more than {BUILD_TIMEOUT_S} s")
                time.sleep(0.002)
        finally:
            returncode = proc.wait(timeout=60)
        seconds = time.monotonic() - t0
    if "publish" not in seen and store.current_signature(index) != before:
        seen["publish"] = seconds  # switched between the last look and the exit
    return Build(
        returncode,
        seconds,
        seen.get("writing"),
        seen.get("publish"),
        killed_at,
        log.read_text(errors="replace"),
    )


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    s = Settings()
    return SentenceTransformerEmbedder(s.model, s.device, s.torch_threads, s.blas_threads).load()


Answer = tuple[bool, list[tuple[str, float]]]


def _served(index: Path, embedder: SentenceTransformerEmbedder) -> tuple[str, dict[str, Answer]]:
    """The served generation (loaded with every check) and its answers to the golden queries."""
    settings = Settings(index_dir=index)
    loaded = load_search_index(settings)  # checksums, counts, parts agree: or IndexStoreError
    assert loaded.path.parent == index and loaded.path.name.startswith("gen-"), loaded.path
    assert loaded.version == loaded.path.name == store.current_name(index)
    retriever = Retriever(loaded, embedder, retrieval_config(settings))
    answers: dict[str, Answer] = {}
    for q in GOLDEN_QUERIES:
        result = retriever.search(q, top_k=5)
        answers[q] = (result.answerable, [(h.chunk.chunk_id, h.score) for h in result.hits])
    return str(loaded.manifest["corpus_hash"]), answers


def _same_answers(got: dict[str, Answer], want: dict[str, Answer]) -> list[str]:
    """The golden queries answered differently (ids, order, answerable flag, scores)."""
    wrong = []
    for q, (answerable, hits) in want.items():
        got_answerable, got_hits = got[q]
        if (
            got_answerable != answerable
            or [pid for pid, _ in got_hits] != [pid for pid, _ in hits]
            or any(
                abs(a - b) > SCORE_TOLERANCE for (_, a), (_, b) in zip(got_hits, hits, strict=True)
            )
        ):
            wrong.append(q)
    return wrong


def _leftovers(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir() if p.name.startswith((".building-", ".CURRENT.")))


def _lock_is_free(index: Path) -> bool:
    try:
        with store.build_lock(index):
            return True
    except store.IndexStoreError:
        return False


def _moment(kind: str, clean: Build, rng: random.Random) -> Kill:
    """A kill moment drawn from a clean build of the same variant."""
    assert clean.writing_at is not None and clean.published_at is not None
    if kind == "anywhere":
        return Kill("start", rng.uniform(0.0, clean.seconds))
    if kind == "while writing":
        return Kill("writing", rng.uniform(0.0, clean.published_at - clean.writing_at))
    return Kill("publish", rng.uniform(0.0, AFTER_PUBLISH_S))


def test_kill_9_during_qa_index(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    corpora = _make_corpora(tmp_path)
    index = tmp_path / "index"
    logs = tmp_path / "logs"
    logs.mkdir()
    rng = random.Random(SEED)
    count = iter(range(1000))

    def build(variant: str, kill: Kill | None = None) -> Build:
        return _run_build(corpora[variant], index, logs / f"{next(count):02d}.log", kill)

    # Clean builds: A from nothing, then B over A and A over B, as the kills will see them.
    golden: dict[str, dict[str, Answer]] = {}
    variant_of: dict[str, str] = {}  # corpus hash -> variant
    clean: dict[str, Build] = {}
    for variant in ("A", "B", "A"):
        done = build(variant)
        assert done.returncode == 0 and done.published_at is not None, done.log
        corpus_hash, answers = _served(index, embedder)
        if variant in golden:  # a rebuild of the same corpus answers the same
            assert _same_answers(answers, golden[variant]) == []
        golden[variant], variant_of[corpus_hash] = answers, variant
        clean[variant] = done
    assert len(variant_of) == 2 and golden["A"] != golden["B"]

    kinds = [kind for kind, n in KINDS.items() for _ in range(n)]
    assert len(kinds) == KILLS
    rng.shuffle(kinds)
    served = "A"
    outcomes: Counter[str] = Counter()
    report = []
    for n, kind in enumerate(kinds):
        target = "B" if served == "A" else "A"
        kill = _moment(kind, clean[target], rng)
        done = build(target, kill)
        where = f"kill {n} ({kind}, {kill}, building {target} over {served}): {done}"
        # Killed, or finished before the moment came; anything else (e.g. exit 2 because a
        # dead builder still held the lock) is a failure.
        assert done.returncode in (-signal.SIGKILL, 0), where
        assert _lock_is_free(index), where
        if done.returncode == 0:
            outcome = "finished first"
        elif done.published_at is not None:
            outcome = "killed after publishing"
        elif done.writing_at is not None:
            outcome = "killed while writing"
        else:
            outcome = "killed before writing"
        outcomes[outcome] += 1
        left = [name for name in _leftovers(index) if name.startswith(".building-")]
        if done.returncode == 0:  # a build that ran to the end swept earlier kills' leftovers
            assert _leftovers(index) == [], where
        report.append(f"{kind} {kill.after}+{kill.delay:.3f}s: {outcome}, temp left: {bool(left)}")

        corpus_hash, answers = _served(index, embedder)  # never a .building-* folder
        expected = target if done.published_at is not None else served
        assert variant_of.get(corpus_hash) == expected, where
        assert _same_answers(answers, golden[expected]) == [], where
        served = expected

    summary = "\n".join([str(dict(outcomes)), *report])
    print(f"\n{summary}")
    assert outcomes["killed before writing"] >= 1, summary
    assert outcomes["killed while writing"] >= 1, summary
    assert outcomes["killed after publishing"] >= 1, summary

    # A build after all this succeeds, is served, and leaves no temporary files behind.
    target = "B" if served == "A" else "A"
    done = build(target)
    assert done.returncode == 0 and done.published_at is not None, done.log
    corpus_hash, answers = _served(index, embedder)
    assert variant_of.get(corpus_hash) == target
    assert _same_answers(answers, golden[target]) == []
    assert _leftovers(index) == []
    assert _lock_is_free(index)
