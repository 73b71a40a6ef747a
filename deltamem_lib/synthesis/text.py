"""Keyword occurrence as the MLD reward and the episode integrity check see it.

A phrase *occurs* in a text when its token sequence (``docs/mld_spec.md``: ``\\w+`` tokens of the
lower-cased string) appears contiguously among the text's tokens. Comparing space-padded
normal forms (:func:`deltamem_lib.mld.norm`) is the same test, and fast.
"""

from __future__ import annotations

from functools import lru_cache

from ..mld import norm

__all__ = ["occurs", "padded"]


@lru_cache(maxsize=8192)
def padded(s: str) -> str:
    """``" " + norm(s) + " "``: substring tests on it are token-sequence tests."""
    return f" {norm(s)} "


def occurs(phrase: str, text: str) -> bool:
    """True when ``phrase``'s tokens occur contiguously in ``text`` (False for an empty phrase)."""
    p = padded(phrase)
    return len(p) > 2 and p in padded(text)
