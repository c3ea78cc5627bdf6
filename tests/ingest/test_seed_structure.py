"""Each seed report is read into the section tree it really has."""

from __future__ import annotations

import re

import pytest

from qa_service.ingest.lines import title_key
from qa_service.types import Document, Section

AREAS = [
    "initial contact",
    "assessment and help",
    "investigation",
    "decision making",
    "trusted adult",
    "managing those posing a risk to children",
    "police detention",
]

# Areas each report covers (from reading the reports: Leicestershire's review has no
# "managing those posing a risk" part; Lincolnshire's and Kent's have no "trusted adult").
EXPECTED_AREAS = {
    "lincolnshire": [a for a in AREAS if a != "trusted adult"],
    "kent": [a for a in AREAS if a != "trusted adult"],
    "leicestershire": [a for a in AREAS if a != "managing those posing a risk to children"],
    "lancashire": AREAS,
}

# The parent every area sits under: the review's findings part, or the top level (the web
# reviews write each area's heading whole, "Post-inspection review findings: Initial contact").
AREA_PARENT = {
    "lincolnshire": None,
    "kent": None,
    "leicestershire": "post inspection review findings",
    "lancashire": None,
}
_WEB_AREAS = [f"post inspection review findings {a}" for a in AREAS if a != "trusted adult"]

EXPECTED_TOP_LEVEL = {
    "lincolnshire": [
        "introduction",
        "summary of findings from the post inspection review",
        *_WEB_AREAS,
        "next steps",
        "references",
    ],
    "kent": [
        "introduction",
        "summary of findings from the post inspection review",
        *_WEB_AREAS,
        "next steps",
    ],
    "leicestershire": ["background", "post inspection review findings"],
    "lancashire": [
        "foreword",
        "summary",
        "introduction",
        "context for the force",
        "leadership management and governance",
        "case file analysis",
        "initial contact",
        "assessment and help",
        "investigation",
        "decision making",
        "trusted adult",
        "managing those posing a risk to children",
        "police detention",
        "conclusion the overall effectiveness of the force and its response to children who "
        "need help and protection",
        "next steps",
        "annex a child protection inspection methodology",
        "annex b definitions interpretations",
    ],
}


def _key(s: Section) -> str:
    return title_key(s.title)


def _sides(title: str) -> set[str]:
    """A heading's key, and each side's of an "Area: Part" heading."""
    return {title_key(title), *(title_key(p) for p in title.split(": ") if ": " in title)}


def _area(doc: Document, area: str) -> Section:
    """The outermost section an area's heading opens ("Initial contact", or
    "Post-inspection review findings: Initial contact")."""
    return next(s for s in doc.sections if area in _sides(s.title))


def _children(doc: Document, parent: Section | None) -> list[Section]:
    pid = parent.index if parent else None
    return [s for s in doc.sections if s.parent == pid]


def _find(doc: Document, *path: str) -> Section:
    """The section whose path ends with the given (normalised) titles."""
    want = tuple(path)
    for s in doc.sections:
        sides = [_sides(t) for t in s.path][-len(want) :]
        if len(sides) == len(want) and all(w in k for w, k in zip(want, sides, strict=True)):
            return s
    raise AssertionError(f"no section {path} in {doc.source}")


@pytest.mark.parametrize("name", list(EXPECTED_TOP_LEVEL))
def test_top_level_sections(corpus_docs: dict[str, Document], name: str) -> None:
    doc = corpus_docs[name]
    top = [_key(s).replace("decision-making", "decision making") for s in _children(doc, None)]
    assert top == EXPECTED_TOP_LEVEL[name]


@pytest.mark.parametrize("name", list(EXPECTED_AREAS))
def test_areas_are_sections_in_the_right_place(corpus_docs: dict[str, Document], name: str) -> None:
    doc = corpus_docs[name]
    parent_key = AREA_PARENT[name]
    parent = next(s for s in doc.sections if _key(s) == parent_key) if parent_key else None
    found = [k for s in _children(doc, parent) for k in _sides(s.title)]
    for area in EXPECTED_AREAS[name]:
        assert area in found, f"{area!r} missing under {parent_key!r}: {found}"
    absent = set(AREAS) - set(EXPECTED_AREAS[name])
    assert not absent & set(found)


@pytest.mark.parametrize("name", ["lincolnshire", "kent", "leicestershire"])
def test_review_areas_have_recommendation_summary_and_detail(
    corpus_docs: dict[str, Document], name: str
) -> None:
    doc = corpus_docs[name]
    for area in EXPECTED_AREAS[name]:
        sec = _area(doc, area)
        kids = [k for s in _children(doc, sec) for k in _sides(s.title)]
        assert any(k.startswith("recommendation") for k in kids), (area, kids)
        assert any(k.startswith("summary of post inspection review findings") for k in kids)
        assert any(k.startswith("detailed post inspection review findings") for k in kids)


@pytest.mark.parametrize(
    ("name", "area", "headline"),
    [
        ("lincolnshire", "police detention", "fewer children are being detained after charge"),
        ("kent", "police detention", "fewer children are arrested and detained in custody"),
        (
            "kent",
            "investigation",
            "risk assessments in child protection investigations are inconsistent",
        ),
        (
            "lincolnshire",
            "assessment and help",
            "missing from home procedures have been rewritten and are comprehensive",
        ),
    ],
)
def test_finding_headlines_sit_under_detailed_findings(
    corpus_docs: dict[str, Document], name: str, area: str, headline: str
) -> None:
    doc = corpus_docs[name]
    sec = _find(doc, area, "detailed post inspection review findings", headline)
    assert sec.level == 3
    blocks = [b for b in doc.blocks if b.section == sec.index]
    assert blocks and {b.type for b in blocks} <= {"finding", "case_study", "footnote", "table"}


def test_lancashire_subsections(corpus_docs: dict[str, Document]) -> None:
    doc = corpus_docs["lancashire"]
    # Wrongly levelled and bold markdown headings still land under their chapter.
    for chapter in ["initial contact", "assessment and help", "investigation", "police detention"]:
        sec = next(s for s in doc.sections if _key(s) == chapter and s.parent is None)
        assert any(_key(c).startswith("recommendation") for c in _children(doc, sec)), chapter
    sec = next(s for s in doc.sections if _key(s) == "case file analysis")
    assert [_key(c) for c in _children(doc, sec)] == [
        "results of case file reviews",
        "breakdown of case file audit results by area of child protection",
    ]
    annex_a = next(s for s in doc.sections if _key(s).startswith("annex a"))
    assert [_key(c) for c in _children(doc, annex_a)] == [
        "objectives",
        "inspection approach",
        "methods",
        "self assessment and case inspection",
    ]


TOC_LINE = re.compile(r"(\.{3,}|\t)\s*(<b>)?\d{1,3}(</b>)?\s*$")


@pytest.mark.parametrize("name", list(EXPECTED_TOP_LEVEL))
def test_no_toc_or_furniture_in_content(corpus_docs: dict[str, Document], name: str) -> None:
    doc = corpus_docs[name]
    for b in doc.blocks:
        text = doc.text[b.start : b.end]
        for line in text.splitlines():
            assert not TOC_LINE.search(line) or b.type == "table", line
            assert line.strip().lower() not in {
                "contents",
                "print this document",
                "back to publication",
            }
    for s in doc.sections:
        assert _key(s) not in {"contents", "print this document", "back to publication"}
        assert "national child protection" not in _key(s)  # the title is not a heading


def test_leicestershire_footnote_does_not_split_paragraph(corpus_docs: dict[str, Document]) -> None:
    doc = corpus_docs["leicestershire"]
    para = next(b for b in doc.blocks if "Nor did we find evidence" in doc.text[b.start : b.end])
    text = doc.text[para.start : para.end]
    assert text.rstrip().endswith("since our 2017 inspection.")  # continuation joined
    assert len(para.gaps) == 1 and doc.text[para.gaps[0][0]].startswith("⁸")
    note = next(f for f in doc.footnotes if f.marker == "8")
    assert note.section == para.section
    assert doc.sections[note.section].path[-2:] == (
        "Police detention",
        "Detailed post-inspection review findings",
    )


@pytest.mark.parametrize(("name", "count"), [("leicestershire", 8), ("lincolnshire", 7)])
def test_footnotes_found(corpus_docs: dict[str, Document], name: str, count: int) -> None:
    assert [f.marker for f in corpus_docs[name].footnotes] == [str(i) for i in range(1, count + 1)]


def test_lancashire_tables_keep_their_captions(corpus_docs: dict[str, Document]) -> None:
    doc = corpus_docs["lancashire"]
    tables = [doc.text[b.start : b.end] for b in doc.blocks if b.type == "table"]
    captions = [t for t in tables if re.match(r"(\*\*)?Figure \d+:", t)]
    assert len(captions) == 10
    fig1 = next(t for t in captions if "Figure 1:" in t)
    assert "Constabulary assessment</b>\t13\t18\t2" in fig1


def test_case_studies_are_typed(corpus_docs: dict[str, Document]) -> None:
    for name in ["lincolnshire", "kent"]:
        doc = corpus_docs[name]
        cases = [b for b in doc.blocks if b.type == "case_study"]
        assert cases, name
        assert all(doc.text[b.start : b.end].startswith("Case study") for b in cases[:1])


def test_block_types(corpus_docs: dict[str, Document]) -> None:
    doc = corpus_docs["kent"]
    by_type = {b.type for b in doc.blocks}
    assert {"recommendation", "summary", "finding", "case_study", "text"} <= by_type
    rec = _find(doc, "police detention", "recommendation from 2019 inspection report")
    assert {b.type for b in doc.blocks if b.section == rec.index} == {"recommendation"}


@pytest.mark.parametrize(
    ("name", "force", "report_type", "published", "year"),
    [
        ("lincolnshire", "Lincolnshire Police", "post-inspection review", "2019", 2019),
        ("kent", "Kent Police", "post-inspection review", "2021", 2021),
        ("leicestershire", "Leicestershire Police", "post-inspection review", "2018-05", 2017),
        ("lancashire", "Lancashire Constabulary", "inspection", "2018-03", 2017),
    ],
)
def test_metadata(
    corpus_docs: dict[str, Document],
    name: str,
    force: str,
    report_type: str,
    published: str | None,
    year: int,
) -> None:
    meta = corpus_docs[name].metadata
    assert (meta.force, meta.report_type, meta.published, meta.inspection_year) == (
        force,
        report_type,
        published,
        year,
    )
    assert name in meta.title.lower()


def test_inspection_dates(corpus_docs: dict[str, Document]) -> None:
    assert corpus_docs["lancashire"].metadata.inspection_dates == "9–19 October 2017"
    assert corpus_docs["leicestershire"].metadata.inspection_dates == "4 – 8 December 2017"
    assert corpus_docs["lincolnshire"].metadata.inspection_dates == "October 2019"
