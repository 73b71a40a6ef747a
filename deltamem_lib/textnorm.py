"""One spelling per text: the normal form every memory entry, gold entry and keyword takes.

The same fact can reach the workbook in several byte sequences: ``Zürich`` precomposed
(NFC) or as ``u`` plus a combining diaeresis (NFD), ``Berlin`` with a zero-width space in
the middle (``Ber\\u200blin``), a byte-order mark or a soft hyphen pasted from a web page.
The MLD reward (DeltaMem §3.3) tokenises with ``\\w+``, so such variants would split words
and score one fact differently by its encoding; an entry made only of format characters
would look non-empty. :func:`normalize_text` is applied once, where text enters the library
(:class:`~deltamem_lib.memory.MemoryEntry`, :class:`~deltamem_lib.memory.Operation`, the
reward's items and tokenizer), so the reward and the integrity checks see the same text.
"""

from __future__ import annotations

import unicodedata

__all__ = ["is_blank", "normalize_text"]


def normalize_text(text: str) -> str:
    """``text`` in NFC with every Unicode format character (category ``Cf``: zero-width
    space and joiners, byte-order mark, soft hyphen, bidirectional marks) removed.

    ASCII text is returned unchanged (it holds neither). Idempotent.
    """
    if text.isascii():
        return text
    text = unicodedata.normalize("NFC", text)
    if any(unicodedata.category(c) == "Cf" for c in text):
        text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return text


def is_blank(text: str) -> bool:
    """True when nothing but white space (or format characters) is left after normalising."""
    return not normalize_text(text).strip()
