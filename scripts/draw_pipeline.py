"""Draw docs/pipeline.svg from the package tree: one column per stage, with its modules.

The stages, their order and their modules are read from ``qa_service/`` itself, so the picture
cannot drift from the code (tests/test_layout.py checks that the committed file is current).
Run: .venv/bin/python scripts/draw_pipeline.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "qa_service"
OUT = ROOT / "docs" / "pipeline.svg"

# (folder(s), title, what goes in -> what comes out), in pipeline order.
STAGES = [
    (("ingest",), "1. read", "report file → Document"),
    (("index",), "2. index", "Document → generation"),
    (("search",), "3. search", "question → passages"),
    (("answer",), "4. answer", "passages → cited answer"),
    (("evaluation",), "5. evaluate", "questions → figures, models"),
    (("api", "cli"), "6. serve", "HTTP, page and qa command"),
]
COL_W, GAP, LEFT, TOP, LINE = 196, 12, 20, 120, 17


def modules(folder: str) -> list[str]:
    """The folder's modules (and the web page's folder), as the picture lists them."""
    path = PACKAGE / folder
    names = sorted(p.name for p in path.glob("*.py") if p.name != "__init__.py")
    names += sorted(f"{p.name}/" for p in path.iterdir() if p.is_dir() and p.name != "__pycache__")
    return names


def draw() -> str:
    """The SVG text."""
    columns = []
    for folders, title, flow in STAGES:
        lines: list[str] = []
        for folder in folders:
            lines.append(f"{folder}/")
            lines += [f"  {name}" for name in modules(folder)]
        columns.append((title, flow, lines))
    shared = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    tallest = max(len(lines) for _, _, lines in columns)
    height = TOP + 48 + tallest * LINE + 40
    width = LEFT * 2 + len(STAGES) * COL_W + (len(STAGES) - 1) * GAP
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-labelledby="t d">',
        '<title id="t">ncpi-qa pipeline</title>',
        '<desc id="d">Six stages left to right, one subpackage of qa_service each: read (ingest),'
        " index, search, answer, evaluate and serve (api and cli), each listing its modules;"
        " a stage imports only the stages to its left and the shared modules.</desc>",
        '<defs><marker id="a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8"'
        ' markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"'
        ' fill="#1d3557"/></marker></defs>',
        '<style>text{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;fill:#1d1d1d}'
        '.m{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}'
        ".h{font-size:17px;font-weight:bold;fill:#1d3557}.s{font-size:11.5px;fill:#444}"
        ".arrow{stroke:#1d3557;stroke-width:2;fill:none}</style>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        '<text x="20" y="32" style="font-size:20px;font-weight:bold">'
        "ncpi-qa: from report files to cited answers (qa_service/)</text>",
        '<text class="s" x="20" y="56">qa index runs read and index once per corpus and'
        " publishes a generation under index/; qa serve, qa search, qa chat, qa compare and"
        " qa cite load it and run search and answer for every question.</text>",
        '<text class="s" x="20" y="76">A stage imports only the stages to its left'
        " (tests/test_layout.py checks it)."
        f" Shared by every stage: {escape(', '.join(shared))}.</text>",
    ]
    box_h = 48 + tallest * LINE + 20
    for i, (title, flow, lines) in enumerate(columns):
        x = LEFT + i * (COL_W + GAP)
        out.append(
            f'<rect x="{x}" y="{TOP - 24}" width="{COL_W}" height="{box_h}" rx="8"'
            ' fill="#f1f5fb" stroke="#1d3557" stroke-width="1.5"/>'
        )
        out.append(f'<text class="h" x="{x + 12}" y="{TOP}">{escape(title)}</text>')
        out.append(f'<text class="s" x="{x + 12}" y="{TOP + 20}">{escape(flow)}</text>')
        for j, line in enumerate(lines):
            y = TOP + 48 + j * LINE
            out.append(
                f'<text class="m" x="{x + 12}" y="{y}" xml:space="preserve">{escape(line)}</text>'
            )
        if i:
            ax = x - GAP
            out.append(
                f'<path class="arrow" d="M{ax - 2},{TOP - 6} H{x - 1}" marker-end="url(#a)"/>'
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/pipeline.svg is stale")
    args = ap.parse_args()
    svg = draw()
    if args.check:
        sys.exit(0 if OUT.read_text(encoding="utf-8") == svg else 1)
    OUT.write_text(svg, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
