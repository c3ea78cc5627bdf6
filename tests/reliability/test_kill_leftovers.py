"""kill -9 of ``qa index`` at 20 moments, three of them inside the real one-time ONNX export:
whatever a killed run left (``.building-*`` generations, ``.CURRENT.*`` pointers,
``encoders/.tmp-*`` exports, key-cache files), the next run removes it, and a run that
finishes leaves nothing behind. Two builds started together on a fresh index, one exporting
while the other waits, both finish and destroy nothing of each other's. The published index
always loads with every checksum.

Every run after a kill that left something must remove it before it may itself be killed (its
kill moment waits until the earlier leftovers are gone; if they never go, the run finishes and
the test fails). Kill moments are drawn with a seed from clean runs: anywhere in a build, while
the new generation is written, just after CURRENT switched, and at stratified moments of the
export (the folder made, the graph being traced and written, the check against torch).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qa_service.index import store
from qa_service.index.onnx_files import encoders_root
from tests.reliability.test_kill_index import _make_corpora
from tests.reliability.test_leftovers import leftovers
from tests.reliability.test_slow_clients import QA

pytestmark = pytest.mark.slow

SEED = 2026_12_06
KILLS = 20
# Seconds after the export folder appears: within the first 4.5 s, since a first export with
# the TorchScript exporter takes 5-14 s here (2 cores, idle to busy) and a kill after it ends
# kills nothing.
EXPORT_KILLS = [(0.0, 1.5), (1.5, 3.0), (3.0, 4.5)]
KINDS = {"anywhere": 9, "while writing": 5, "after publishing": 3}
AFTER_PUBLISH_S = 0.15
RUN_LIMIT_S = 120.0


@dataclass(frozen=True)
class Kill:
    """SIGKILL ``delay`` s after ``after`` ("start", "export", "writing" or "publish")."""

    after: str
    delay: float


@dataclass
class Run:
    """One ``qa index`` as seen from outside (seconds from its start)."""

    returncode: int
    seconds: float
    seen: dict[str, float]
    left: list[str]  # temporary entries right after it ended
    inherited: list[str]  # what earlier runs had left when it started
    still_there: list[str]  # of those, what it had not removed by the time it ended
    log: str = field(repr=False)


def _exports_in_progress(index: Path) -> set[str]:
    root = encoders_root(index)
    if not root.is_dir():
        return set()
    return {e.name for e in os.scandir(root) if e.name.startswith(".tmp-") and e.is_dir()}


def start(corpus: Path, index: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(QA), "index", "--corpus", str(corpus), "--index", str(index), "--quiet"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


def run(corpus: Path, index: Path, log: Path, kill: Kill | None = None) -> Run:
    """Run ``qa index``, watching the index folder; SIGKILL it when ``kill`` says, but never
    before the leftovers it inherited are gone."""
    inherited = set(leftovers(index)) if index.is_dir() else set()
    exports_before = _exports_in_progress(index)
    before = store.current_signature(index)
    t0 = time.monotonic()
    proc = start(corpus, index, log)
    seen: dict[str, float] = {"start": 0.0}
    present = inherited
    try:
        while proc.poll() is None:
            now = time.monotonic() - t0
            present = set(leftovers(index))
            if "swept" not in seen and not inherited & present:
                seen["swept"] = now
            if "export" not in seen and _exports_in_progress(index) - exports_before:
                seen["export"] = now
            if "writing" not in seen and any(n.startswith(".building-") for n in present):
                seen["writing"] = now
            if "publish" not in seen and store.current_signature(index) != before:
                seen["publish"] = now
            if (
                kill is not None
                and "swept" in seen
                and kill.after in seen
                and now >= seen[kill.after] + kill.delay
            ):
                proc.send_signal(signal.SIGKILL)
                seen["killed"] = now
                break
            if now > RUN_LIMIT_S:
                proc.kill()
                pytest.fail(f"qa index ran for more than {RUN_LIMIT_S} s")
            time.sleep(0.004)
    finally:
        returncode = proc.wait(60)
    seconds = time.monotonic() - t0
    if returncode == 0 and "publish" not in seen and store.current_signature(index) != before:
        # published and exited between two looks (a busy machine): it happened by the end
        seen["publish"] = seconds
    if returncode == 0 and "publish" in seen:
        seen.setdefault("writing", seen.get("export", seen["start"]))  # missed the same way
    left = leftovers(index)
    if returncode == 0:
        present = set(left)
    return Run(
        returncode,
        seconds,
        seen,
        left,
        sorted(inherited),
        sorted(inherited & present),
        log.read_text(errors="replace"),
    )


def check_published(index: Path) -> str | None:
    """The published generation, loaded whole (every checksum), or None if there is none."""
    if store.current_name(index) is None:
        return None
    return store.load(index).path.name


def test_kill_9_anywhere_leaves_nothing_the_next_run_keeps(tmp_path: Path) -> None:
    corpora = _make_corpora(tmp_path)
    index = tmp_path / "index"
    logs = tmp_path / "logs"
    logs.mkdir()
    rng = random.Random(SEED)
    counter = iter(range(1000))
    report: list[str] = []
    kills = attempts = 0

    def go(variant: str, kill: Kill | None, label: str) -> Run:
        nonlocal kills, attempts
        attempts += kill is not None
        done = run(corpora[variant], index, logs / f"{next(counter):02d}.log", kill)
        where = f"{label} ({kill}): {done}\n{done.log[-2000:]}"
        assert done.returncode in (0, -signal.SIGKILL), where
        assert done.still_there == [], where  # the next run removed what the last one left
        if done.returncode == 0:
            assert done.left == [], where
        else:
            kills += 1
        check_published(index)
        outcome = "finished" if done.returncode == 0 else f"killed at {done.seen['killed']:.2f}s"
        report.append(
            f"{label}: {outcome}; removed {len(done.inherited)} inherited; left {done.left}"
        )
        return done

    # 1. Kills inside the real export (no export yet: each of these runs makes one).
    export_leftovers = 0
    for n, (lo, hi) in enumerate(EXPORT_KILLS):
        done = go("A", Kill("export", rng.uniform(lo, hi)), f"export kill {n}")
        assert done.returncode == -signal.SIGKILL and "export" in done.seen, done
        export_leftovers += any(name.startswith("encoders/.tmp-") for name in done.left)
    assert export_leftovers >= 2, report  # those kills did leave half-made exports

    # 2. Two builds at once on the index with no export: one exports, the other waits for it
    #    (its sweep must not touch the export in progress); both finish with the export.
    first = start(corpora["A"], index, logs / "together-A.log")
    time.sleep(1.0)
    second = start(corpora["B"], index, logs / "together-B.log")
    for proc, name in ((first, "A"), (second, "B")):
        assert proc.wait(RUN_LIMIT_S) == 0, (logs / f"together-{name}.log").read_text()
        log = (logs / f"together-{name}.log").read_text()
        assert "PyTorch" not in log and "failed" not in log, log  # no export was destroyed
    assert leftovers(index) == []
    report.append("two builds at once: both finished, nothing left")

    # 3. Kills of ordinary builds, timed from clean runs of the same variant.
    clean = {v: go(v, None, f"clean {v}") for v in ("A", "B", "A")}  # B over A, A over B
    kinds = [kind for kind, n in KINDS.items() for _ in range(n)]
    rng.shuffle(kinds)
    variant = "A"
    for n, kind in enumerate(kinds):
        variant = "B" if variant == "A" else "A"
        base = clean[variant]
        if kind == "anywhere":
            kill = Kill("start", rng.uniform(0.0, base.seconds))
        elif kind == "while writing":
            span = base.seen["publish"] - base.seen["writing"]
            kill = Kill("writing", rng.uniform(0.0, span))
        else:
            kill = Kill("publish", rng.uniform(0.0, AFTER_PUBLISH_S))
        go(variant, kill, f"kill {n} ({kind})")

    # 4. The run after all this leaves nothing behind and serves a whole index.
    done = go("B" if variant == "A" else "A", None, "final")
    assert done.left == [] and leftovers(index) == []
    assert check_published(index) is not None
    print("\n" + "\n".join(report))
    assert attempts == KILLS
    assert kills >= KILLS - 4, report  # a few may come after the run has already finished
