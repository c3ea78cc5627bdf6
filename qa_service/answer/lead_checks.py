"""What the answer's lead leaves unsaid of what the question asks or takes as given.

Each check reads the lead as the reader reads it first (after ``rank.compose``), with the
returned passages, and gives what a partial answer says the reports lack, or None. In turn:

- a post-inspection review asked of forces the index holds only inspections of, or an age,
  agency, age group or rank the lead gives as another (``contrasts``);
- a unit or scheme the question names (a corpus acronym, "CRT") that the reports of the
  forces asked about never use while another force's report does, or, with no force asked
  of, that the lead's own report never uses (``elsewhere``);
- a "who" question the lead names no one for (``asking.says_who_does``);
- one part of a two-part question no shown sentence speaks to;
- a premise of every one, of always or in full, of praise or of fault, a percentage, or of
  how the force ranks among forces, that the lead (or the passages) do not bear out;
- an action a "why" or "how does X ...?" question takes as given that the lead denies, or
  "only ..." restricting to what the lead does not hold (``premises``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .asking import says_who_does
from .contrasts import (
    praise_unsaid,
    ranking_unsaid,
    review_missing,
    share_unsaid,
    swap_missing,
    unanswered_part,
    universal_unsaid,
)
from .elsewhere import named_elsewhere
from .premises import denied_unsaid, only_unsaid

if TYPE_CHECKING:
    from ..search.query import QueryPlan
    from .answering import AnswerLayer
    from .rank import Candidate, PassageInput


def lead_unsaid(
    layer: AnswerLayer,
    plan: QueryPlan,
    forces: tuple[str, ...],
    composed: Sequence[tuple[Candidate, float]],
    passages: Sequence[PassageInput],
    texts: Sequence[str],
    asking: frozenset[str],
) -> str | None:
    """What the reports lack that the question asks, judged by the lead of ``composed`` (the
    answer as shown) and ``texts`` (the top passages' texts); None when nothing is."""
    r = layer.retriever
    question = plan.question
    lead = composed[0][0].text if composed else ""
    swap = review_missing(question, layer.report_types(forces))
    lead_passage = passages[composed[0][0].hit].text if composed else ""
    swap = swap or swap_missing(question, lead, texts, lead_passage)
    if not swap and (elsewhere := named_elsewhere(r, question, forces)):
        swap = f"anything on the {', '.join(elsewhere)} for {' or '.join(forces)}"
    own = (composed[0][0].force,) if composed and composed[0][0].force else ()
    # no force asked of: the lead's own report must use the name the question gives
    if not swap and not forces and (elsewhere := named_elsewhere(r, question, own)):
        swap = f"an answer about the {', '.join(elsewhere)}"
    if not swap and not says_who_does(question, lead):
        swap = "the person or team asked for"
    if not swap:  # a part of the question no shown sentence speaks to
        wanted = set(plan.terms) - plan.translated - asking
        swap = unanswered_part(question, [c.text for c, _ in composed], r.terms, wanted)
    swap = swap or universal_unsaid(question, lead) or praise_unsaid(question, lead)
    swap = swap or share_unsaid(question, texts, lead) or ranking_unsaid(question, lead)
    return swap or denied_unsaid(question, lead, r.terms) or only_unsaid(question, lead, r.terms)
