"""Argument types for the ``deltamem`` command line: bad numbers are refused by argparse.

``type=int`` accepts ``--batch-size 0`` (which later fails deep inside with "range() arg 3
must not be zero") and ``--limit-sessions -1`` (which silently meant "all"). These types
refuse such values while parsing, so argparse prints the argument's name, the bad value and
what is allowed, and exits with code 2 before any work starts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["int_at_least", "nonnegative_int", "positive_int", "similarity_name"]


def int_at_least(lo: int, *, hint: str = "") -> Callable[[str], int]:
    """An argparse ``type`` for integers ``>= lo`` (``hint`` is added to the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}{hint}")
        return value

    parse.__name__ = f"integer >= {lo}"
    return parse


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0, hint=" (0 means no limit)")


def similarity_name(text: str) -> str:
    """An argparse ``type`` for an MLD similarity: ``lexical``, ``exact``, ``embedding`` or
    ``embedding:<model id>`` (checked while parsing, before any model is loaded or called)."""
    if text in ("lexical", "exact", "embedding") or (text.startswith("embedding:")
                                                     and len(text) > len("embedding:")):
        return text
    raise argparse.ArgumentTypeError("expected lexical, exact, embedding or embedding:<model id>, got "
                                     f"{text!r}")


similarity_name.__name__ = "similarity"
