"""Where a memory came from: turn ids, the turns behind an entry, evidence recall@k.

A turn id is LoCoMo's dia id ``D<session>:<turn>`` (:class:`DiaId`, :func:`parse_dia_id`; the
LoCoMo loader reads evidence with them, and the memory's sources are compared with them).

Every entry of a :class:`~deltamem_lib.memory.MemoryState` records its ``source``: the session
that wrote it and, where the writer knew them, the turn ids (``docs/paper_notes.md`` §4:
provenance, a link from a memory to the message it came from). With LoCoMo's dia ids as turn
ids (:func:`.locomo.locomo_episodes`), "are the evidence turns of a question among the sources of the top-k
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

:func:`evidence_recall_at_k` — do the top-k retrieved memories come from the evidence turns?
(our diagnostic; the original LoCoMo RAG runs report the "fraction" variant).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..memory import MemoryEntry

__all__ = ["HOW", "DiaId", "EvidenceRecall", "attribute_turns", "content_words", "entry_sources",
           "evidence_recall_at_k", "parse_dia_id"]

HOW = ("recorded", "attributed", "none")

_STRICT_DIA_ID = re.compile(r"\s*D(\d+):(\d+)\s*")


class DiaId(NamedTuple):
    """A dialogue turn id ``D<session>:<turn>`` as numbers (``"D30:05"`` == ``DiaId(30, 5)``)."""

    session: int
    turn: int

    def __str__(self) -> str:
        return f"D{self.session}:{self.turn}"


def parse_dia_id(value: str) -> DiaId | None:
    """Parse one well-formed id ``"D<s>:<t>"`` (surrounding blanks allowed); else ``None``."""
    m = _STRICT_DIA_ID.fullmatch(value) if isinstance(value, str) else None
    return DiaId(int(m[1]), int(m[2])) if m else None


_WORD = re.compile(r"\w+")
_STOP = frozenset(
    "a an the of to in on at for and or is are was were be been being i me my you your he him his she her it "
    "its we our they them their user user's s t this that these those with as by from has have had do does "
    "did not no so but if then than very really just also about into over after before up out will would can "
    "could should what when where who which how all any some more most other such only own same too".split())


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


# =========================================================================== evidence recall


@dataclass(frozen=True)
class EvidenceRecall:
    """Evidence recall at ``k`` over the questions that have evidence.

    * ``all``: share of questions whose evidence turns are **all** among the sources of the
      top-``k`` memories (strict: a multi-hop question needs every hop);
    * ``any``: share with **at least one** evidence turn among those sources;
    * ``fraction``: mean share of each question's evidence turns covered (the per-question
      ``recall_acc`` of the original LoCoMo RAG evaluation).
    Values are ``None`` when no question has evidence."""

    k: int | None
    all: float | None
    any: float | None
    fraction: float | None
    n: int  # questions with evidence (the denominator)
    n_without_evidence: int  # left out


def _norm_id(x: Any) -> Hashable:
    if isinstance(x, DiaId):
        return x
    if isinstance(x, tuple) and len(x) == 2 and all(isinstance(v, int) for v in x):
        return DiaId(*x)
    if isinstance(x, str):
        d = parse_dia_id(x)
        return d if d is not None else x.strip()
    return x


def evidence_recall_at_k(evidence: Sequence[Iterable[Any]],
                         retrieved_sources: Sequence[Sequence[Iterable[Any]]],
                         k: int | None) -> EvidenceRecall:
    """Does retrieval surface memories written from the evidence turns?

    ``evidence[i]`` holds question ``i``'s gold dia ids; ``retrieved_sources[i]`` is the
    ranked list of retrieved memories, each given by its provenance (the dia ids it was
    written from, e.g. ``MemoryEntry.source.turns``). The sources at ``k`` are the union of
    the provenance of the first ``k`` memories (``k=None``: all retrieved). Ids may be
    :class:`~deltamem_lib.benchmarks.locomo.DiaId`, ``(s, t)`` tuples or strings
    (``"D1:3"`` and ``"D1:03"`` are the same turn). Questions with no evidence (4 in
    locomo10.json) are left out and counted in ``n_without_evidence``.
    """
    if len(evidence) != len(retrieved_sources):
        raise ValueError(f"{len(evidence)} evidence lists but {len(retrieved_sources)} retrieval lists")
    if k is not None and k < 1:
        raise ValueError(f"k={k}: must be at least 1 (or None for everything retrieved)")
    n = n_all = n_any = 0
    frac = 0.0
    skipped = 0
    for qi, (ev, ranked) in enumerate(zip(evidence, retrieved_sources)):
        if isinstance(ev, (str, bytes)):  # "D1:3" would be read as the characters D, 1, :, 3
            raise ValueError(f"evidence[{qi}]: expected a list of turn ids, got the string {ev!r:.40}; "
                             f"write [{ev!r:.20}] for one turn")
        gold = {_norm_id(e) for e in ev}
        if not gold:
            skipped += 1
            continue
        top = ranked if k is None else ranked[:k]
        sources = {_norm_id(s) for mem in top for s in mem}
        hit = len(gold & sources)
        n += 1
        n_all += hit == len(gold)
        n_any += hit > 0
        frac += hit / len(gold)
    if n == 0:
        return EvidenceRecall(k, None, None, None, 0, skipped)
    return EvidenceRecall(k, n_all / n, n_any / n, frac / n, n, skipped)
