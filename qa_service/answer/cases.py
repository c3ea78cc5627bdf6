"""The case a question retells is not its answer.

Staff often retell a case from a report before asking about it ("15yo girl got sent nudes by a
lad from her school, did lancs prosecute him"). The report's sentence that opens the case ("A
report was made in relation to a 15-year-old girl having been sent indecent images by a
15-year-old boy from school.") holds most of the question's words and scores best, yet it only
tells the reader what they said themselves; the sentences after it, what happened next, answer.

The scene is the unit that would lead, when it shares with the question's scene the age of a
child (a case, not a practice: "kid's been missing 3 times" gives none) and holds more of the
scene's words than any other unit of its passage, and at least a quarter of their weight. The
best of the next few ranked units that come after it in its passage, what happened next, leads
instead; the scene follows it, and never leads nor joins ahead of the lead as one run
(``Candidate.plate``, read by ``rank.compose``). With no such unit, the ranking stands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from .contrasts import ages
from .rank import Candidate

# The share of the scene's weighted terms a unit must hold to restate it.
SCENE_COVER = 0.25
FOLLOWERS = 4  # the ranked units after it that may take its place


def restated_scene(
    ranked: Sequence[tuple[Candidate, float]],
    setup: str,
    setup_weights: Sequence[tuple[str, float]],
    terms_of: Callable[[str], list[str]],
) -> list[tuple[Candidate, float]]:
    """``ranked`` with the unit that restates the case the question's ``setup`` tells (its
    terms weighted by ``setup_weights``) after the unit that says what happened next, and
    marked as never leading, so that highlights, the chat's lead and the checks of the lead
    agree."""
    told = ages(setup)
    total = sum(w for _, w in setup_weights)
    if not told or not total or not ranked:
        return list(ranked)

    def cover(c: Candidate) -> float:
        held = set(terms_of(c.text))
        return sum(w for t, w in setup_weights if t in held) / total

    scene = ranked[0][0]
    own = [cover(c) for c, _ in ranked if c.hit == scene.hit]
    if cover(scene) < max(SCENE_COVER, *own) or not told & ages(scene.text):
        return list(ranked)
    rest = list(ranked[1:])
    # what happened next: a unit after it in its passage, among the best few
    after = next(
        (
            i
            for i, (c, _) in enumerate(rest[:FOLLOWERS])
            if not c.plate and c.hit == scene.hit and c.unit.start > scene.unit.start
        ),
        None,
    )
    if after is None:
        return list(ranked)
    marked = (replace(scene, plate=True), ranked[0][1])
    return [rest[after], marked, *rest[:after], *rest[after + 1 :]]
