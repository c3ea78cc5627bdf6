"""Typos in a question's terms: "safegaurding", "custdy", "accomodation".

A term the index does not know is replaced by the known term one edit away (a letter deleted,
inserted, changed, or two neighbours swapped: Damerau-Levenshtein distance 1, the edit most
typing slips make) that the most passages hold. Edits are tried on the stemmed term, so
"safegaurding" (stem "safegaurd") finds "safeguard". Candidates are generated, not searched
for: about 50 lookups per letter of the term, whatever the size of the index.

Only a word that is no English word is corrected: "bother", "decent" or "chase" are words the
reports happen not to use, not slips for "other", "detent" or "case". The English words are the
whole words of the embedding model's own word-piece vocabulary (its ``vocab.txt``, about 20,000
of them); a model without one gets no corrections. Short words are left alone too, and so is a
term with no neighbour held by at least ``MIN_PASSAGES`` passages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from string import ascii_lowercase

from ..index.embedding import ModelError, resolve_model

MIN_WORD = 6  # letters in the word as typed
MIN_LENGTH = 5  # letters in its stemmed term
MIN_PASSAGES = 5


@lru_cache(maxsize=4)
def english_words(model_name: str) -> frozenset[str]:
    """The whole lower-case words of the model's word-piece vocabulary (empty without one)."""
    try:
        folder = Path(resolve_model(model_name))
        vocab, fast = folder / "vocab.txt", folder / "tokenizer.json"
        if vocab.is_file():
            lines = vocab.read_text(encoding="utf-8").split("\n")
        elif fast.is_file():  # a model saved with its fast tokenizer only (an adapted one)
            from tokenizers import Tokenizer

            lines = list(Tokenizer.from_file(str(fast)).get_vocab())
        else:
            lines = []
    except (OSError, ValueError, UnicodeDecodeError, ModelError):
        return frozenset()
    return frozenset(w for w in lines if w.isalpha() and w.isascii() and w.islower())


def one_edit(term: str) -> Iterator[str]:
    """Every string one deletion, transposition, substitution or insertion from ``term``."""
    for i in range(len(term) + 1):
        head, tail = term[:i], term[i:]
        if tail:
            yield head + tail[1:]
            if len(tail) > 1:
                yield head + tail[1] + tail[0] + tail[2:]
            for c in ascii_lowercase:
                if c != tail[0]:
                    yield head + c + tail[1:]
        for c in ascii_lowercase:
            yield head + c + tail


def correction(term: str, passages_with: Callable[[str], int]) -> str | None:
    """The known term ``term`` is most likely a slip for, or None (``term`` is known, too short,
    not a plain word, or has no well-attested neighbour). ``passages_with`` gives how many
    passages hold a term (0 when unknown)."""
    if len(term) < MIN_LENGTH or not term.isalpha() or not term.isascii():
        return None
    if passages_with(term) > 0:
        return None
    best, best_n = None, MIN_PASSAGES - 1
    for candidate in dict.fromkeys(one_edit(term)):
        n = passages_with(candidate)
        if n > best_n or (n == best_n and best is not None and candidate < best):
            best, best_n = candidate, n
    return best


def spell(
    english: frozenset[str],
    terms_of: Callable[[str], list[str]],
    passages_with: Callable[[str], int],
    word: str,
) -> str | None:
    """The index term a mistyped question word stands for ("safegaurding" -> safeguard), or
    None: a word of the model's English vocabulary, a short word, a word of several terms and
    a term the index knows are never corrected (and nothing is without a vocabulary)."""
    w = word.lower()
    if not english or len(w) < MIN_WORD or w in english:
        return None
    stems = terms_of(w)
    if len(stems) != 1:
        return None
    return correction(stems[0], passages_with)
