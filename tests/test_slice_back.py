"""bench/slice_back.py as a check: every passage the service returns, and every passage of the
index, slices back from the canonical text, with no footnote number glued to a word."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("slice_back", ROOT / "bench" / "slice_back.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_returned_passages_slice_back(built_index: Path, tmp_path: Path) -> None:
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(lines[:80]) + "\n", encoding="utf-8")
    report = _bench().run(built_index, questions, 10)
    assert report["passages"] >= 700
    assert report["share"] == 1.0, report["examples"]
    assert report["glued_numbers"] == {}
    assert report["index_slice_back"] == report["index_passages"]
    assert report["index_glued_numbers"] == 0


def test_the_judge_sees_glued_markers() -> None:
    judge = _bench()
    canonical = "under the Children Act 1989<sup>21</sup>, a constable"
    assert judge.slices_back(
        canonical, 0, len(canonical), "under the Children Act 1989[21], a constable"
    )
    assert not judge.slices_back(
        canonical, 0, len(canonical), "under the Children Act 198921, a constable"
    )
    assert judge.glued_numbers(canonical, 0, len(canonical), "Children Act 198921, a") == ["198921"]
