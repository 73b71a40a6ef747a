"""Probe questions per session, answered from the gold memory state (the outcome-reward view).

DeltaMem rewards the memory manager by comparing memory *states*; the alternative the
workbook compares it with (AtomMem, Memory-R1) rewards the *outcome*: can questions about the
user be answered from the memory? Probes make that possible on synthetic data: after every
session, short questions whose answers follow from the gold state after it —

* ``added``: a fact this session introduced ("What is the name of the user's dog?" → "Biscuit");
* ``changed``: a fact this session revised ("Which city does the user live in?" → "Leeds",
  with ``stale_answer`` "York": what a memory that missed the update would say);
* ``deleted``: a fact that no longer holds ("Is it still true that the user has a dog
  named Biscuit?" → "no");
* ``unchanged``: a sample of facts the session left alone (a memory must not lose them).

Each probe names the memory ids it depends on and that entry's gold content and keywords. Answers
are short: a keyword (``answer_type="span"``, correct when the answer's tokens occur in the
prediction) or yes/no (``answer_type="yes_no"``, correct when the first yes/no word of the
prediction matches). :func:`score_answer` is that rule.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..episodes import Episode
from ..memory import MemoryEntry, OpType
from ..mld import norm, tokens
from .text import occurs
from .world import FACT_TYPES

__all__ = ["PROBE_FIELDS", "gold_lookup_answer", "lookup_accuracy", "probe_questions", "probe_rows",
           "score_answer"]

PROBE_FIELDS = ("user_id", "session_id", "question", "answer", "answer_type", "kind", "fact_type",
                "memory_ids", "gold_content", "keywords", "stale_answer", "asked_after_session_index")


def _claim(content: str) -> str:
    """``"User lives in Leeds."`` → ``"the user lives in Leeds"``."""
    text = content.strip().rstrip(".")
    return "the user" + text[4:] if text.startswith("User") else text[:1].lower() + text[1:]


def _ask(entry: MemoryEntry, fact_type: str | None) -> tuple[str, str, str]:
    spec = FACT_TYPES.get(fact_type or "")
    if spec is not None and len(entry.keywords) >= 1:
        try:
            return spec.probe(entry.content, entry.keywords)
        except (KeyError, IndexError):
            pass
    return f"Is it true that {_claim(entry.content)}?", "yes", "yes_no"


def probe_questions(episode: Episode, *, n_unchanged: int = 2, seed: int = 0) -> list[dict[str, Any]]:
    """Probe questions for every session of an episode (fields: :data:`PROBE_FIELDS`).

    ``n_unchanged`` facts the session did not touch are sampled per session (deterministic
    for ``seed``). Fact types come from ``episode.meta["fact_types"]`` (the procedural
    generator writes it); without them every probe is a yes/no question about the entry.
    """
    types: Mapping[str, str] = episode.meta.get("fact_types", {}) if episode.meta else {}
    out: list[dict[str, Any]] = []
    previous: Sequence[MemoryEntry] = episode.initial_memory
    for idx, s in enumerate(episode.sessions):
        # The gold states are stored with the episode (check_episode verifies them against a
        # replay of the gold operations), so no replay is needed here.
        before = {e.id: e for e in previous}
        after = {e.id: e for e in s.state_after}
        previous = s.state_after

        def probe(kind: str, entry: MemoryEntry, question: str, answer: str, answer_type: str,
                  stale: str | None) -> None:
            out.append({"user_id": episode.user_id, "session_id": s.session_id, "question": question,
                        "answer": answer, "answer_type": answer_type, "kind": kind,
                        "fact_type": types.get(entry.id, "unknown"), "memory_ids": [entry.id],
                        "gold_content": entry.content, "keywords": list(entry.keywords),
                        "stale_answer": stale, "asked_after_session_index": idx})

        touched = set()
        for op in s.gold_ops:
            mid = op.memory_id
            if op.op is OpType.NOOP or mid is None:
                continue
            touched.add(mid)
            if op.op is OpType.DELETE:
                old = before[mid]
                probe("deleted", old, f"Is it still true that {_claim(old.content)}?", "no", "yes_no", "yes")
                continue
            entry = after[mid]
            q, a, t = _ask(entry, types.get(mid))
            if op.op is OpType.ADD:
                probe("added", entry, q, a, t, None)
                continue
            old_q, old_a, _ = _ask(before[mid], types.get(mid))
            if t == "span" and (old_q != q or old_a.lower() == a.lower()):
                # The question would not tell old from new (same answer, or it changed form):
                # ask about the new fact itself.
                q, a, t = f"Is it true that {_claim(entry.content)}?", "yes", "yes_no"
                old_a = "no"
            probe("changed", entry, q, a, t, old_a if t == "span" else "no")
        rest = [e for e in after.values() if e.id not in touched]
        rng = random.Random(f"probes:{seed}:{episode.user_id}:{idx}")
        for entry in rng.sample(rest, min(n_unchanged, len(rest))):
            q, a, t = _ask(entry, types.get(entry.id))
            probe("unchanged", entry, q, a, t, None)
    return out


def probe_rows(episodes: Iterable[Episode], **kw: Any) -> list[dict[str, Any]]:
    """Probes of many episodes as flat rows (``memory_ids``/``keywords`` stay lists)."""
    return [p for ep in episodes for p in probe_questions(ep, **kw)]


def score_answer(probe: Mapping[str, Any], prediction: str) -> float:
    """1.0 if ``prediction`` answers the probe, else 0.0.

    Span answers: the answer's tokens occur contiguously in the prediction. Yes/no answers:
    the first ``yes`` or ``no`` token of the prediction equals the answer.
    """
    if probe["answer_type"] == "yes_no":
        first = next((t for t in tokens(prediction) if t in ("yes", "no")), None)
        return float(first == probe["answer"])
    return float(occurs(probe["answer"], prediction))


def gold_lookup_answer(probe: Mapping[str, Any], entries: Iterable[MemoryEntry]) -> str:
    """Answer a probe by reading the entries it depends on, by id — a check that probes are
    answerable from the gold state (and not from a stale one), not a question-answering model.

    Span probes get the entry's content ("unknown" if the id is absent); yes/no probes get
    "yes" when the entry exists and says what the gold entry says (``gold_content``).
    """
    by_id = {e.id: e for e in entries}
    found = [by_id[m] for m in probe["memory_ids"] if m in by_id]
    if probe["answer_type"] == "yes_no":
        return "yes" if any(norm(e.content) == norm(probe["gold_content"]) for e in found) else "no"
    return " ".join(e.content for e in found) or "unknown"


def lookup_accuracy(episodes: Iterable[Episode], memory: str = "gold") -> dict[str, float]:
    """Share of probes :func:`gold_lookup_answer` gets right, by probe kind and in all.

    ``memory`` says which state answers a probe asked after session *t*: ``"gold"`` the gold
    state after *t*; ``"previous"`` the gold state before *t* (a manager that missed only this
    session); ``"initial"`` the initial memory (a manager that never writes anything).
    """
    if memory not in ("gold", "previous", "initial"):
        raise ValueError(f"memory must be 'gold', 'previous' or 'initial', got {memory!r}")
    right: dict[str, list[float]] = {}
    for ep in episodes:
        states = [ep.initial_memory] + [s.state_after for s in ep.sessions]
        for p in probe_questions(ep):
            t = p["asked_after_session_index"]
            state = {"gold": states[t + 1], "previous": states[t], "initial": states[0]}[memory]
            score = score_answer(p, gold_lookup_answer(p, state))
            right.setdefault(p["kind"], []).append(score)
            right.setdefault("all", []).append(score)
    return {k: sum(v) / len(v) for k, v in sorted(right.items())}
