"""Operation mix, targets and dataset statistics of synthetic episodes (DeltaMem §3.2).

The paper's synthesis draws operations from three sources (intra-event evolution,
inter-event evolution, padding). A dataset that is mostly ADDs teaches a memory manager
nothing about revising memory, so the project sets two targets, checked for every
generated user and every dataset:

* UPDATE + DELETE make up at least 25 % of all operations;
* inter-event evolution (revising what an earlier session recorded) is at least 10 % of
  the UPDATEs.

:func:`dataset_stats` computes what ``stats.json`` holds.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..episodes import EVOLUTION_KINDS, Episode
from ..memory import OpType
from .text import padded

__all__ = ["TargetError", "check_targets", "dataset_stats", "extraction_difficulty", "operation_counts"]

OP_TYPES = ("ADD", "UPDATE", "DELETE")


class TargetError(ValueError):
    """The operation mix misses a target; the message names the shortfall."""


def operation_counts(episodes: Iterable[Episode]) -> dict[str, Any]:
    """Counts of gold operations: by type, by evolution kind and by (type, evolution).

    NOOPs are not operations here (a session without change has no gold operations).
    """
    by_type: Counter[str] = Counter()
    by_evo: Counter[str] = Counter()
    table: Counter[tuple[str, str]] = Counter()
    for ep in episodes:
        for s in ep.sessions:
            for op in s.gold_ops:
                if op.op is OpType.NOOP:
                    continue
                evo = op.evolution or "unlabelled"
                by_type[op.op.value] += 1
                by_evo[evo] += 1
                table[(op.op.value, evo)] += 1
    total = sum(by_type.values())
    updates = by_type["UPDATE"]
    return {
        "total": total,
        "by_type": {t: by_type[t] for t in OP_TYPES},
        "by_evolution": {e: by_evo[e]
                         for e in (*EVOLUTION_KINDS, *sorted(set(by_evo) - set(EVOLUTION_KINDS)))},
        "table": {t: {e: table[(t, e)] for e in EVOLUTION_KINDS} for t in OP_TYPES},
        "update_delete_share": (updates + by_type["DELETE"]) / total if total else None,
        "inter_share_of_updates": table[("UPDATE", "inter")] / updates if updates else None,
    }


def check_targets(episodes: Iterable[Episode] | Mapping[str, Any], min_update_delete_share: float = 0.25,
                  min_inter_share_of_updates: float = 0.10) -> list[str]:
    """The shortfalls against the two targets (an empty list when both are met).

    Accepts episodes or the result of :func:`operation_counts`. A dataset without
    operations, or without UPDATEs for the second target, meets them vacuously.
    """
    counts = episodes if isinstance(episodes, Mapping) else operation_counts(episodes)
    problems = []
    ud = counts["update_delete_share"]
    if ud is not None and ud < min_update_delete_share:
        problems.append(f"UPDATE+DELETE are {ud:.1%} of {counts['total']} operations "
                        f"(target >= {min_update_delete_share:.0%})")
    inter = counts["inter_share_of_updates"]
    if inter is not None and inter < min_inter_share_of_updates:
        problems.append(f"inter-event evolution is {inter:.1%} of {counts['by_type']['UPDATE']} UPDATEs "
                        f"(target >= {min_inter_share_of_updates:.0%})")
    return problems


def _summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "min": 0.0, "max": 0.0}
    return {"mean": round(statistics.fmean(values), 3), "min": min(values), "max": max(values)}


def dataset_stats(episodes: Sequence[Episode], *, seed: int | None = None, generator: str = "procedural",
                  splits: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """What ``stats.json`` holds: sizes, operation mix, memory sizes, keywords, turns, splits."""
    counts = operation_counts(episodes)
    sessions = [s for ep in episodes for s in ep.sessions]
    entries = [e for ep in episodes for s in ep.sessions for e in s.state_after]
    final_sizes = [len(ep.sessions[-1].state_after) if ep.sessions else len(ep.initial_memory)
                   for ep in episodes]
    session_sizes = [len(s.state_after) for s in sessions]
    turns = [len(s.turns) for s in sessions]
    words = [sum(len(t.text.split()) for t in s.turns) for s in sessions]
    ops_per_session = [sum(op.op is not OpType.NOOP for op in s.gold_ops) for s in sessions]
    kw_per_entry = [len(e.keywords) for e in entries]
    distractors = [len(s.event.get("distractors", ())) for s in sessions]
    total = counts["total"]
    out: dict[str, Any] = {
        "generator": generator,
        "seed": seed,
        "users": len(episodes),
        "sessions": len(sessions),
        "operations": total,
        "op_mix": counts["by_type"],
        "op_share": {k: round(v / total, 4) if total else 0.0 for k, v in counts["by_type"].items()},
        "evolution_mix": counts["by_evolution"],
        "op_by_evolution": counts["table"],
        "update_delete_share": counts["update_delete_share"],
        "inter_share_of_updates": counts["inter_share_of_updates"],
        "targets_met": not check_targets(counts),
        "no_change_session_share": round(sum(n == 0 for n in ops_per_session) / len(sessions), 4) if sessions
        else 0.0, "ops_per_session": _summary(ops_per_session),
        "initial_memory_size": _summary([len(ep.initial_memory) for ep in episodes]),
        "memory_size": _summary(session_sizes),
        "final_memory_size": _summary(final_sizes),
        "keywords_per_entry": _summary(kw_per_entry),
        "turns_per_session": _summary(turns),
        "words_per_session": _summary(words),
        "distractors_per_session": _summary(distractors),
        "event_kinds": dict(Counter(s.event.get("kind", "?") for s in sessions).most_common()),
    }
    if splits is not None:
        users_per = {name: len(ids) for name, ids in splits.items()}
        sessions_by_user = {ep.user_id: len(ep.sessions) for ep in episodes}
        out["splits"] = {name: {"users": users_per[name],
                                "sessions": sum(sessions_by_user.get(u, 0) for u in ids)}
                         for name, ids in splits.items()}
    return out


def extraction_difficulty(episodes: Iterable[Episode]) -> dict[str, float]:
    """How far the dialogues are from "copy the memory out of the text".

    Over the ADDs and UPDATEs: ``verbatim`` — the entry's sentence occurs word for word in the
    user's turns; ``predicate`` — the sentence minus its subject ("lives in Leeds") does;
    ``spread`` — the evidence spans two or more user turns. Over sessions: ``distractor`` —
    a fact about someone else is mentioned; ``corrections`` — an earlier statement is corrected.
    """
    written = verbatim = predicate = spread = sessions = distractor = corrections = 0
    for ep in episodes:
        for s in ep.sessions:
            sessions += 1
            distractor += bool(s.event.get("distractors"))
            corrections += any(o.evolution == "inter" and o.op is OpType.UPDATE for o in s.gold_ops)
            text = padded(" ".join(t.text for t in s.turns if t.speaker == "user"))
            for op in s.gold_ops:
                if op.op not in (OpType.ADD, OpType.UPDATE) or not op.content:
                    continue
                written += 1
                verbatim += padded(op.content) in text
                predicate += padded(op.content.split(" ", 1)[-1]) in text
                spread += len(op.evidence) >= 2
    return {"verbatim": verbatim / max(written, 1), "predicate": predicate / max(written, 1),
            "spread": spread / max(written, 1), "distractor": distractor / max(sessions, 1),
            "corrections": corrections / max(sessions, 1)}
