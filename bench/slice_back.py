"""Share of returned passages that slice back from the report's canonical text (CONTRACT.md).

Runs every eval question (all splits) through the final retriever, then checks each returned
passage with its own reading of the contract rule, written apart from ``qa_service.ingest.textnorm``
so that it judges the service rather than repeating it:

    canonical_text[char_start:char_end], markup removed (HTML tags, markdown heading marks,
    emphasis, link syntax, footnote markers) and whitespace collapsed
    == text with whitespace collapsed and its ``[21]`` footnote markers removed

It also counts glued footnote numbers: a digit run in ``text`` that the canonical text prints
as a word or number followed by a footnote marker (``1989<sup>21</sup>`` shown as ``198921``).

    .venv/bin/python bench/slice_back.py --index /tmp/idx [--questions eval/questions.jsonl]
        [--top-k 10] [--json out.json] [--min-share 1.0]
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Footnote markers as the formats print them: <sup>21</sup>, [^21], [21], superscript digits.
_MARKERS = re.compile(r"<sup>\s*\d{1,3}\s*</sup>|\[\^\d{1,3}\]|\[\d{1,3}\](?!\()|[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_TEXT_MARKERS = re.compile(r"\[\d{1,3}\]")
_TAGS = re.compile(r"</?[A-Za-z][^<>]*>")
_HEADING = re.compile(r"(?m)^[ \t]{0,3}#{1,6}[ \t]+")
_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\s]*\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EM = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_WS = re.compile(r"\s+")


def _norm(s: str) -> str:
    return _WS.sub(" ", s).strip()


def visible(raw: str) -> str:
    """The canonical text of a span as a reader sees it: markup and footnote markers removed."""
    raw = _MARKERS.sub("", raw)
    raw = _TAGS.sub("", raw)
    raw = _HEADING.sub("", raw)
    raw = _LINK.sub(r"\1", raw)
    raw = _STRONG.sub(r"\2", raw)
    raw = _EM.sub(r"\1", raw)
    raw = _ESCAPE.sub(r"\1", raw)
    return _norm(html.unescape(raw))


def shown(text: str) -> str:
    """A passage's text with its ``[21]`` markers removed."""
    return _norm(_TEXT_MARKERS.sub(" ", text))


def _no_space_before_punct(s: str) -> str:
    return re.sub(r" (?=[.,;:!?)\]’”])", "", s)


def slices_back(canonical: str, start: int, end: int, text: str) -> bool:
    """The contract rule (a removed marker leaves no trace: spaces before punctuation squeezed)."""
    a = _no_space_before_punct(visible(canonical[start:end]))
    b = _no_space_before_punct(shown(text))
    return a == b


def glued_numbers(canonical: str, start: int, end: int, text: str) -> list[str]:
    """Digit runs of ``text`` made of a printed word/number and a footnote number."""
    out = []
    for m in re.finditer(
        r"<sup>\s*(\d{1,3})\s*</sup>|\[\^(\d{1,3})\]|([⁰¹²³⁴⁵⁶⁷⁸⁹]+)", canonical[start:end]
    ):
        before = re.search(r"(\w+)$", visible(canonical[start : start + m.start()]) or "")
        if not before or not before.group(1)[-1].isdigit():
            continue
        num = (
            m.group(1)
            or m.group(2)
            or m.group(3).translate(str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789"))
        )
        glued = before.group(1) + num
        if re.search(rf"(?<![\w\[]){re.escape(glued)}(?!\w)", text):
            out.append(glued)
    return out


def run(index: Path, questions: Path, top_k: int) -> dict[str, Any]:
    """Search every question and judge every returned passage."""
    from qa_service.answer.service import open_retriever
    from qa_service.settings import Settings

    settings = Settings(index_dir=index)
    retriever = open_retriever(settings)
    docs = retriever.index.documents
    rows = [
        json.loads(line)
        for line in questions.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    total = ok = 0
    bad_by_source: Counter[str] = Counter()
    by_source: Counter[str] = Counter()
    glued: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    for row in rows:
        result = retriever.search(row["question"], top_k=top_k)
        for hit in result.hits:
            c = hit.chunk
            canonical = docs[c.doc_id].text
            total += 1
            by_source[c.source] += 1
            if slices_back(canonical, c.start, c.end, c.text):
                ok += 1
            else:
                bad_by_source[c.source] += 1
                if len(examples) < 5:
                    examples.append(
                        {
                            "id": row["id"],
                            "passage_id": c.chunk_id,
                            "source": c.source,
                            "canonical": visible(canonical[c.start : c.end])[:300],
                            "text": shown(c.text)[:300],
                        }
                    )
            for g in glued_numbers(canonical, c.start, c.end, c.text):
                glued[g] += 1
    index_ok = index_glued = 0
    for c in retriever.index.chunks:
        canonical = docs[c.doc_id].text
        index_ok += slices_back(canonical, c.start, c.end, c.text)
        index_glued += len(glued_numbers(canonical, c.start, c.end, c.text))
    return {
        "index_passages": len(retriever.index.chunks),
        "index_slice_back": index_ok,
        "index_glued_numbers": index_glued,
        "questions": len(rows),
        "passages": total,
        "slice_back": ok,
        "share": round(ok / total, 4) if total else 1.0,
        "failing_by_source": dict(bad_by_source),
        "returned_by_source": dict(by_source),
        "glued_numbers": dict(glued),
        "examples": examples,
    }


def main() -> None:
    """Parse arguments, run, print a summary (exit 1 below --min-share)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--questions", type=Path, default=ROOT / "eval" / "questions.jsonl")
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--min-share", type=float, default=0.0)
    args = ap.parse_args()
    report = run(args.index, args.questions, args.top_k)
    print(
        f"{report['slice_back']}/{report['passages']} returned passages slice back "
        f"({report['share']:.1%}) over {report['questions']} questions, top {args.top_k}"
    )
    print(f"failing by source: {report['failing_by_source']}")
    print(
        f"whole index: {report['index_slice_back']}/{report['index_passages']} passages slice"
        f" back, {report['index_glued_numbers']} glued footnote numbers"
    )
    print(f"glued footnote numbers in returned text: {sum(report['glued_numbers'].values())}")
    for ex in report["examples"][:3]:
        print(json.dumps(ex, ensure_ascii=False)[:700])
    if args.json:
        args.json.write_text(
            json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    if report["share"] < args.min_share:
        sys.exit(1)


if __name__ == "__main__":
    main()
