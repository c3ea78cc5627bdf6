"""The 43 territorial police forces of England and Wales and the names people use for them."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

# Official name -> extra short forms (the name without "Police"/"Constabulary" is always added).
FORCES: dict[str, tuple[str, ...]] = {
    "Avon and Somerset Constabulary": ("Avon & Somerset", "A&S"),
    "Bedfordshire Police": ("Beds",),
    "Cambridgeshire Constabulary": ("Cambs",),
    "Cheshire Constabulary": (),
    "City of London Police": ("City of London",),
    "Cleveland Police": (),
    "Cumbria Constabulary": (),
    "Derbyshire Constabulary": ("Derbys",),
    "Devon and Cornwall Police": ("Devon & Cornwall",),
    "Dorset Police": (),
    "Durham Constabulary": (),
    "Dyfed-Powys Police": ("Dyfed Powys",),
    "Essex Police": (),
    "Gloucestershire Constabulary": ("Glos", "Gloucs"),
    "Greater Manchester Police": ("GMP", "Manchester Police"),
    "Gwent Police": (),
    "Hampshire and Isle of Wight Constabulary": ("Hampshire Constabulary", "Hampshire", "Hants"),
    "Hertfordshire Constabulary": ("Herts",),
    "Humberside Police": (),
    "Kent Police": (),
    "Lancashire Constabulary": ("Lancs",),
    "Leicestershire Police": ("Leics",),
    "Lincolnshire Police": ("Lincs",),
    "Merseyside Police": (),
    "Metropolitan Police Service": (
        "Metropolitan Police",
        "the Met",
        "Met Police",
        "MPS",
    ),
    "Norfolk Constabulary": (),
    "North Wales Police": (),
    "North Yorkshire Police": ("North Yorks",),
    "Northamptonshire Police": ("Northants",),
    "Northumbria Police": (),
    "Nottinghamshire Police": ("Notts",),
    "South Wales Police": (),
    "South Yorkshire Police": ("South Yorks",),
    "Staffordshire Police": ("Staffs",),
    "Suffolk Constabulary": (),
    "Surrey Police": (),
    "Sussex Police": (),
    "Thames Valley Police": ("TVP",),
    "Warwickshire Police": ("Warks",),
    "West Mercia Police": (),
    "West Midlands Police": ("WMP", "West Mids"),
    "West Yorkshire Police": ("West Yorks",),
    "Wiltshire Police": ("Wilts",),
}

# Other UK and Crown dependency forces: never in an HMICFRS England-and-Wales corpus, but
# people ask about them, and the answer should say so rather than cite another force.
OTHER_FORCES: dict[str, tuple[str, ...]] = {
    "Police Scotland": ("Scotland",),
    "Police Service of Northern Ireland": ("PSNI", "Northern Ireland"),
    "British Transport Police": ("BTP",),
    "Ministry of Defence Police": ("MDP",),
    "Civil Nuclear Constabulary": (),
    "States of Jersey Police": ("Jersey",),
    "Guernsey Police": ("Guernsey",),
    "Isle of Man Constabulary": ("Isle of Man",),
}
ALL_FORCES: dict[str, tuple[str, ...]] = {**FORCES, **OTHER_FORCES}

# Short forms that are also everyday words ("secure beds", "a jersey"): they name a force only
# when written with a capital letter. A city ("a children's home in Manchester") is no force
# either, so Greater Manchester Police goes by "Manchester Police", not "Manchester".
CAPITALISED_ONLY = frozenset({"Beds", "Jersey", "Staffs", "Wilts"})

_SUFFIX = re.compile(r"\s+(?:Police(?: Service)?|Constabulary)$|^Police (?=Scotland$)")


def short_name(force: str) -> str:
    """``Kent Police`` -> ``Kent``."""
    return _SUFFIX.sub("", force)


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[str, re.Pattern[str], str]]:
    """(first word lower-cased, pattern, force) for every name, longest name first. The
    first word is a cheap substring test that rules most patterns out for a question."""
    names: list[tuple[str, str]] = []
    for force, extra in ALL_FORCES.items():
        for name in {force, short_name(force), *extra}:
            names.append((name, force))
    # Longest first so "West Yorkshire" wins over "Yorkshire"-like prefixes.
    names.sort(key=lambda p: -len(p[0]))
    out = []
    for name, force in names:
        exact = name.isupper() or name.startswith("the ") or name in CAPITALISED_ONLY
        flags = 0 if exact else re.IGNORECASE
        words = [r"(?:and|&)" if w == "and" else re.escape(w) for w in re.split(r"[\s-]+", name)]
        body = r"[\s-]+".join(words)
        pattern = re.compile(rf"(?<![\w-]){body}(?![\w-])", flags)
        out.append((re.split(r"[\s-]+", name)[0].lower(), pattern, force))
    return out


def names_of(force: str) -> list[str]:
    """Every name a force goes by (official, short, extra forms), longest first."""
    return sorted({force, short_name(force), *ALL_FORCES.get(force, ())}, key=len, reverse=True)


def force_mentions(text: str) -> list[tuple[int, int, str]]:
    """Where ``text`` names a force: (start, end, force), longest names first, no overlaps."""
    taken: list[tuple[int, int, str]] = []
    low = text.lower()
    for needle, pattern, force in _patterns():
        if needle not in low:
            continue
        for m in pattern.finditer(text):
            if any(s < m.end() and m.start() < e for s, e, _ in taken):
                continue
            taken.append((m.start(), m.end(), force))
    return taken


def find_forces(text: str) -> list[str]:
    """Forces named in ``text``, most mentioned first (ties in order of first mention)."""
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for start, _, force in force_mentions(text):
        counts[force] += 1
        first[force] = min(first.get(force, start), start)
    return sorted(counts, key=lambda f: (-counts[f], first[f]))
