"""Difficulty levels of the session task: the full sessions, or one change at a time.

The full level is what the generator writes (DeltaMem §3.2): a session of 6–14 turns that
can hold several changes, against a memory of a dozen entries. Measured on 2 CPU cores
(``docs/training_notes.md``), a 135M model does not learn that task from a few hundred
examples: it collapses onto one operation type. The **single-change level** cuts the same
synthetic sessions into a task sized for a CPU, so that the question "does RL make the
manager better?" can be asked where the model has something to learn:

* each session holds exactly one change (one ADD, UPDATE or DELETE) or none, and the four
  kinds are balanced;
* the session keeps only the user's turns that carry the change (its gold evidence), plus
  at most one distractor turn of the same session that carries no change; a session with
  no change keeps one or two such turns;
* the memory before the session holds at most ``max_memories`` entries of the gold state
  before it: the entry the change targets (UPDATE, DELETE), every entry whose keywords the
  kept turns repeat, then random others. The gold state after is that memory with the one
  gold operation applied.

A change whose evidence turns also carry another change is skipped, so the kept turns
never show a second change. The rows are :func:`deltamem_lib.episodes.rl_rows` rows plus a
``kind`` column (``ADD``, ``UPDATE``, ``DELETE`` or ``none``).
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Sequence
from typing import Any

from ..episodes import Episode, Session, Turn, _gold_op_dict, state_before_each_session
from ..memory import MemoryState, Operation, OpType
from ..mld import keyword_coverage, tokens

__all__ = ["KINDS", "LEVELS", "LevelError", "balanced_rows", "single_change_pools", "single_change_rows"]

#: The task levels the training settings name (``level``).
LEVELS = ("full", "single")
#: The kinds of a single-change session, in the order the decision diagnostics use.
KINDS = ("none", "ADD", "UPDATE", "DELETE")


class LevelError(ValueError):
    """The episodes hold too few sessions of some kind for the requested level."""


def _restated(turns: Sequence[Turn], before: MemoryState) -> list[str]:
    """Ids of the entries whose keywords one of ``turns`` repeats (they must stay visible)."""
    out = []
    for e in before.entries:
        kws = [tuple(tokens(k)) for k in e.keywords]
        if kws and any(keyword_coverage(tokens(t.text), kws) > 0 for t in turns):
            out.append(e.id)
    return out


def _row(ep: Episode, s: Session, index: int, before: MemoryState, turns: list[Turn], op: Operation | None,
         rng: random.Random, tag: str, max_memories: int) -> dict[str, Any] | None:
    must: list[str] = []
    if op is not None and op.op in (OpType.UPDATE, OpType.DELETE):
        if op.memory_id not in before:
            return None
        must.append(op.memory_id)  # type: ignore[arg-type]
    must += [m for m in _restated(turns, before) if m not in must]
    if len(must) > max_memories or not len(before):
        return None
    others = [e.id for e in before.entries if e.id not in must]
    rng.shuffle(others)
    size = rng.randint(max(min(2, len(before)), len(must)), min(max_memories, len(before)))
    keep = set(must) | set(others[:max(0, size - len(must))])
    memory = MemoryState([e for e in before.entries if e.id in keep], next_id=before.next_id)
    after = memory.copy()
    gold: list[Operation] = []
    if op is not None:
        if op.op is OpType.ADD:  # the id the reduced memory hands out next
            op = dataclasses.replace(op, memory_id=memory.peek_next_id())
        after.apply([op], timestamp=s.date)
        gold = [op]
    kept = sorted(turns, key=lambda t: s.turns.index(t))
    return {"user_id": ep.user_id, "session_id": f"{s.session_id}-{tag}", "session_index": index,
            "date": s.date, "session": json.dumps([t.to_dict() for t in kept], ensure_ascii=False),
            "state_before": json.dumps(memory.to_dict(), ensure_ascii=False),
            "state_after": json.dumps(after.to_dict(), ensure_ascii=False),
            "gold_ops": json.dumps([_gold_op_dict(o) for o in gold], ensure_ascii=False),
            "kind": "none" if op is None else op.op.value}


def single_change_pools(episodes: Sequence[Episode], *, seed: int = 0, p_distractor: float = 0.7,
                        max_memories: int = 5) -> dict[str, list[dict[str, Any]]]:
    """Every single-change session the episodes allow, by kind (seeded; module docstring).

    Args:
        episodes: synthetic users (:func:`deltamem_lib.synthesis.generate_episodes`).
        seed: chooses the distractor turns and the memories shown.
        p_distractor: chance that a session with a change also keeps one distractor turn.
        max_memories: the most entries the memory before the session holds.
    """
    if not 0.0 <= p_distractor <= 1.0:
        raise ValueError(f"p_distractor={p_distractor!r}: must be between 0 and 1")
    if not isinstance(max_memories, int) or max_memories < 1:
        raise ValueError(f"max_memories={max_memories!r}: must be an integer >= 1")
    rng = random.Random(f"single-change:{seed}")
    pools: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for ep in episodes:
        for index, (s, before, _after) in enumerate(state_before_each_session(ep)):
            user_turns = [t for t in s.turns if t.speaker == "user"]
            evidence = {t for o in s.gold_ops for t in o.evidence}
            quiet = [t for t in user_turns[1:-1] if t.turn_id not in evidence]  # no opener, closer or change
            ops = [o for o in s.gold_ops if o.op is not OpType.NOOP]
            for j, op in enumerate(ops):
                ev = set(op.evidence)
                if not ev or any(ev & set(o.evidence) for o in ops if o is not op):
                    continue
                turns = [t for t in user_turns if t.turn_id in ev]
                if not turns:
                    continue
                if quiet and rng.random() < p_distractor:
                    turns.append(rng.choice(quiet))
                row = _row(ep, s, index, before, turns, op, rng, f"c{j}", max_memories)
                if row:
                    pools[row["kind"]].append(row)
            if quiet:
                turns = rng.sample(quiet, min(len(quiet), rng.choice((1, 1, 2))))
                row = _row(ep, s, index, before, turns, None, rng, "none", max_memories)
                if row:
                    pools["none"].append(row)
    return pools


def balanced_rows(pools: dict[str, list[dict[str, Any]]], per_kind: int, *, seed: int = 0,
                  where: str = "episodes") -> list[dict[str, Any]]:
    """``per_kind`` rows of each kind, drawn without replacement and shuffled (seeded).

    Raises :class:`LevelError` naming the kind that has too few sessions (add users)."""
    rng = random.Random(f"balanced:{seed}")
    out: list[dict[str, Any]] = []
    for kind in KINDS:
        pool = list(pools.get(kind, ()))
        if len(pool) < per_kind:
            raise LevelError(f"{where}: only {len(pool)} single-change sessions of kind {kind} for "
                             f"{per_kind} asked; synthesise more users or ask for fewer sessions")
        out += rng.sample(pool, per_kind)
    rng.shuffle(out)
    return out


def single_change_rows(episodes: Sequence[Episode], per_kind: int, *, seed: int = 0,
                       p_distractor: float = 0.7, max_memories: int = 5,
                       where: str = "episodes") -> list[dict[str, Any]]:
    """The balanced single-change level of ``episodes``: ``per_kind`` sessions of each kind."""
    pools = single_change_pools(episodes, seed=seed, p_distractor=p_distractor, max_memories=max_memories)
    return balanced_rows(pools, per_kind, seed=seed, where=where)
