"""Boilerplate: what reports say about their own inspection, repeated from report to report.

"In April 2019, HMICFRS inspected how well Kent Police keeps children safe", "In September
2019, we published our findings": such sentences match questions well (an inspection, a year,
a force) and answer none. A sentence is boilerplate when another report repeats it nearly word
for word (cosine >= ``BOILERPLATE_COSINE``) and it speaks of the inspection itself (the
inspectorate, "we", "our" or "the review", with its inspecting, reporting, recommending or
checking: "The review included:" and its list of methods). A
finding two reports share word for word ("Custody officers know they must look for somewhere
for a child to stay ...", written for two forces by the same team) is true of both forces and
stays a finding.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from .retriever import Retriever

BOILERPLATE_COSINE = 0.9
# Above this many sentences no sentence is flagged (the scan is an all-pairs product).
BOILERPLATE_SCAN = 40_000

_INSPECTORATE = re.compile(
    r"\b(?:HMICFRS|HMIC|HMI|inspectorate|we|us|our|"
    r"(?:the|this|that|its) (?:post-inspection )?(?:review|inspection|revisit))\b",
    re.IGNORECASE,
)
_OWN_WORK = re.compile(
    r"\b(?:inspect\w*|publish\w*|report\w*|recommend\w*|action plan|findings|revisit\w*|"
    r"review\w*|check\w*|monitor\w*|evaluat\w*|methodolog\w*|fieldwork|terms of reference)\b",
    re.IGNORECASE,
)


def about_inspection(sentence: str) -> bool:
    """Whether a sentence speaks of the inspection itself rather than of the force."""
    return bool(_INSPECTORATE.search(sentence) and _OWN_WORK.search(sentence))


def repeated_sentences(retriever: Retriever) -> NDArray[np.bool_]:
    """Per stored sentence: whether another report repeats it nearly word for word."""
    sentences = retriever.index.sentences
    n = len(sentences)
    flags = np.zeros(n, dtype=bool)
    if n == 0 or n > BOILERPLATE_SCAN:
        return flags
    doc = retriever.doc_of[np.asarray(sentences.owner, dtype=np.int64)]
    vectors = sentences.rows(np.arange(n, dtype=np.int64))
    step = 2048
    for a in range(0, n, step):
        sims = vectors[a : a + step] @ vectors.T
        sims[doc[a : a + step, None] == doc[None, :]] = -1.0
        flags[a : a + step] = sims.max(axis=1) >= BOILERPLATE_COSINE
    return flags


def about_inspection_flags(retriever: Retriever, repeated: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Per stored sentence: whether it is boilerplate (``repeated``, and about the inspection)."""
    flags = repeated.copy()
    chunks = retriever.index.chunks
    spans = retriever.index.sentences.spans
    owners = retriever.index.sentences.owner
    for i in np.flatnonzero(flags):
        a, b = spans[i]
        flags[i] = about_inspection(chunks[int(owners[i])].text[a:b])
    return flags
