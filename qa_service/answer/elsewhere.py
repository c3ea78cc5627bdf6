"""A named unit or scheme asked of a force whose reports never name it, where another force's
report does: "did Lancashire's central referral unit have a backlog?" asks of Lancashire what
Kent's report says (Lancashire has MASHs, no CRU). The names are the corpus's own acronyms and
their long forms (``index.acronyms``), read through the lexical index, so the check costs a
look-up per acronym the question names, not a scan of the reports."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

import numpy as np

from ..search.types import Filters

if TYPE_CHECKING:
    from ..search.retriever import PassageRetriever


def named_elsewhere(
    retriever: PassageRetriever, question: str, forces: tuple[str, ...]
) -> list[str]:
    """The corpus's acronyms the question names (as the acronym or its long form) that the
    reports of ``forces`` never use in either form while another force's report does, as
    "central referral unit (CRU)"."""
    if not forces:
        return []
    index = retriever.index
    asked = retriever.allowed_docs(Filters(forces=forces))
    if asked is None:
        return []
    lex = index.lexical
    low = " ".join(question.lower().split())
    names: dict[str, str] = {}  # acronym (singular) -> long form
    for acronym, long in index.acronyms.items():
        short = acronym[:-1] if acronym.endswith("s") and acronym[-2:-1].isupper() else acronym
        if len(short) < 3:
            continue  # "DC", "DO": too often something else
        named_short = re.search(rf"(?<![\w-]){re.escape(short)}s?(?![\w-])", question)
        long_form = " ".join(long.lower().split())
        if named_short is None and long_form not in low:
            continue
        rows = lex.rows_with(next(iter(lex.terms(short)), ""))
        if not len(rows) or asked[retriever.doc_of[rows]].any():
            continue  # never in the corpus, or in an asked force's report
        # the long form's words in one passage of an asked force's report name it too ("a
        # juvenile detention certificate", "multi-agency safeguarding hub"): the rows holding
        # every word, one vectorised intersection with no passage read
        terms = set(lex.terms(long_form))
        if terms:
            rows = functools.reduce(np.intersect1d, (lex.rows_with(t) for t in terms))
            if asked[retriever.doc_of[rows]].any():
                continue
        # one name an acronym: of "MASH" and "MASHs", each with its own long form, the
        # singular's ("multi agency safeguarding hub")
        if short not in names or acronym == short:
            names[short] = long_form
    return [f"{long} ({short})" for short, long in names.items()]
