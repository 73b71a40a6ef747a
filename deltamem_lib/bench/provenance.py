"""Where a memory came from: the turns behind an entry, for evidence recall@k.

Every entry of a :class:`~deltamem_lib.memory.MemoryState` records its ``source``: the session
that wrote it and, where the writer knew them, the turn ids (``docs/paper_notes.md`` §4:
provenance, a link from a memory to the message it came from). With LoCoMo's dia ids as turn
ids (:mod:`.adapters`), "are the evidence turns of a question among the sources of the top-k
retrieved memories?" needs no judge — the benchmark's *evidence recall@k*.

The memory systems of this project record the session of each write but not yet the turns
(``MemoryEnv`` stamps ``turns=[]``: the agent's tools take no turn argument). So a turn
source is read in this order, and each entry says which rule gave it:

* ``recorded`` — ``source.turns`` as the writer stored them;
* ``attributed`` — none recorded: the turn(s) of the entry's own session whose content words
  overlap the entry most (Dice coefficient, ties kept, at least one shared content word). A
  heuristic, reported as such next to every turn-level number;
* ``none`` — no session, or no turn shares a content word.

The session-level variant (is the evidence's *session* among the sources?) needs only the
recorded session and is exact for every system.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..memory import MemoryEntry

__all__ = ["HOW", "attribute_turns", "content_words", "entry_sources"]

HOW = ("recorded", "attributed", "none")

_WORD = re.compile(r"\w+")
_STOP = frozenset(
    "a an the of to in on at for and or is are was were be been being i me my you your he him his she her it its "
    "we our they them their user user's s t this that these those with as by from has have had do does did not no "
    "so but if then than very really just also about into over after before up out will would can could should "
    "what when where who which how all any some more most other such only own same too".split())


def content_words(text: str) -> list[str]:
    """Lower-cased word tokens without stop words (``"User"`` included)."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def attribute_turns(content: str, turns: Sequence[Any]) -> tuple[str, ...]:
    """The ids of the turns (objects with ``turn_id`` and ``text``) whose content words overlap
    ``content`` most by Dice coefficient; ``()`` when none shares a word."""
    mem = set(content_words(content))
    if not mem:
        return ()
    best, ids = 0.0, []
    for t in turns:
        words = set(content_words(t.text))
        if not words:
            continue
        dice = 2 * len(mem & words) / (len(mem) + len(words))
        if dice > best + 1e-12:
            best, ids = dice, [t.turn_id]
        elif dice > 0 and abs(dice - best) <= 1e-12:
            ids.append(t.turn_id)
    return tuple(ids)


def entry_sources(entry: MemoryEntry, session_turns: Mapping[str, Sequence[Any]], *,
                  attribute: bool = True) -> tuple[str | None, tuple[str, ...], str]:
    """``(session_id, turn ids, how)`` of one entry (module docstring); ``how`` in :data:`HOW`.

    ``session_turns`` maps a session id to its turns; ``attribute=False`` keeps only recorded
    turns (an entry without them is ``"none"``)."""
    src = entry.source
    sid = src.session_id if src is not None else None
    if src is not None and src.turns:
        return sid, tuple(src.turns), "recorded"
    if attribute and sid is not None and sid in session_turns:
        turns = attribute_turns(entry.content, session_turns[sid])
        if turns:
            return sid, turns, "attributed"
    return sid, (), "none"
