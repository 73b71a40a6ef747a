"""Worked examples for notebook 04: one GRPO group, and why the state reward is dense.

GRPO (DeltaMem §3.3) samples a *group* of rollouts for one session and turns each rollout's
reward into an advantage by comparing it with the rest of its group::

    A_i = (r_i − mean(r)) / (std(r) + 1e-4)          (scale_rewards="group", TRL's default)

so only *differences within a group* teach anything. :func:`mistake_group` builds a group by
hand from a real synthetic session — the gold answer and the typical mistakes of
:mod:`deltamem_lib.mistakes` (missed update, add instead of update, wrong delete, a vague
rewrite, doing nothing …), written as one-shot answers — and :func:`score_group` scores it
with the *same reward functions GRPO calls* (TRL's contract). The state reward ``r_trans``
gives each mistake its own value (partial credit per entry); the outcome reward (probe
questions) often gives several mistakes the same value, and :func:`density` measures that
over many sessions: the share of groups in which every rollout scores the same (such a group
has zero advantage everywhere — in TRL's log, ``frac_reward_zero_std``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..episodes import parse_rl_row
from ..memory import OpType
from ..viz.mld import Table

__all__ = ["GROUP_MISTAKES", "density", "group_advantages", "group_table", "mistake_group", "pick_session",
           "score_group"]

#: The rollouts of the hand-made group: the gold answer and typical mistakes.
GROUP_MISTAKES = ("perfect", "paraphrase", "missed_update", "add_not_update", "wrong_delete", "keyword_dropped",
                  "spurious_add", "do_nothing")


def group_advantages(rewards: Sequence[float], *, scale: str = "group") -> list[float]:
    """GRPO advantages of one group, as TRL computes them: reward minus the group mean,
    divided by the group's (unbiased) standard deviation plus 1e-4 when ``scale="group"``."""
    n = len(rewards)
    if n < 2:
        raise ValueError("a GRPO group needs at least two rollouts")
    mean = sum(rewards) / n
    std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / (n - 1))
    if scale == "group":
        return [(r - mean) / (std + 1e-4) for r in rewards]
    return [r - mean for r in rewards]


def pick_session(rows: Sequence[Mapping[str, Any]], *, kinds: tuple[str, ...] = ("UPDATE", "ADD")) -> Mapping[str, Any]:
    """The first RL row whose gold operations include every kind in ``kinds``."""
    for r in rows:
        ops = {o["op"] for o in json.loads(r["gold_ops"])}
        if set(kinds) <= ops:
            return r
    raise ValueError(f"no session with {kinds} operations; use more users or sessions")


def _oneshot_json(ops: Sequence[Any]) -> str:
    out = []
    for o in ops:
        if o.op is OpType.ADD:
            out.append({"op": "ADD", "content": o.content})
        elif o.op is OpType.UPDATE:
            out.append({"op": "UPDATE", "memory_id": o.memory_id, "content": o.content})
        elif o.op is OpType.DELETE:
            out.append({"op": "DELETE", "memory_id": o.memory_id})
    return json.dumps(out, ensure_ascii=False)


def mistake_group(row: Mapping[str, Any], mistakes: Sequence[str] = GROUP_MISTAKES) -> list[dict[str, str]]:
    """A hand-made group for one session: ``{"rollout": name, "completion": one-shot JSON}``
    per mistake that applies to the session (e.g. ``missed_update`` needs an UPDATE)."""
    from ..mistakes import make_prediction

    ex = parse_rl_row(row)
    out = []
    for name in mistakes:
        try:
            pred = make_prediction(name, ex.state_before, list(ex.gold_ops))
        except ValueError:  # the session has no operation of the kind this mistake needs
            continue
        out.append({"rollout": name, "completion": _oneshot_json(pred.operations)})
    return out


def score_group(row: Mapping[str, Any], group: Sequence[Mapping[str, str]], cfg: Any) -> dict[str, list[float]]:
    """Each reward component of each rollout, computed by the reward functions GRPO uses,
    called exactly as TRL calls them (columns repeated per rollout)."""
    from .config import TrainConfig
    from .rewards import build_reward_functions

    out: dict[str, list[float]] = {}
    for reward in ("state", "outcome"):
        c = (cfg if isinstance(cfg, TrainConfig) else TrainConfig()).replace(reward=reward, agent="oneshot")
        funcs, weights, _ = build_reward_functions(c)
        columns = {k: [row[k]] * len(group) for k in row if k != "prompt"}
        completions = [[{"role": "assistant", "content": g["completion"]}] for g in group]
        total = [0.0] * len(group)
        for f, w in zip(funcs, weights):
            vals = f(prompts=[None] * len(group), completions=completions, **columns)
            out.setdefault(f.__name__, vals)
            total = [t + w * v for t, v in zip(total, vals)]
        out[f"total ({reward} reward)"] = total
    return out


def group_table(row: Mapping[str, Any], cfg: Any, mistakes: Sequence[str] = GROUP_MISTAKES) -> Table:
    """The hand-made group as a table: each component and the advantage under each reward."""
    group = mistake_group(row, mistakes)
    scores = score_group(row, group, cfg)
    adv_s = group_advantages(scores["total (state reward)"])
    adv_o = group_advantages(scores["total (outcome reward)"])
    recs = [{"rollout": g["rollout"], "answer": g["completion"], "r_trans": scores["r_trans"][i],
             "outcome": scores["outcome"][i], "invalid_calls": scores["invalid_calls"][i],
             "advantage (state)": adv_s[i], "advantage (outcome)": adv_o[i]} for i, g in enumerate(group)]
    return Table.from_records(recs, ("rollout", "answer", "r_trans", "outcome", "invalid_calls",
                                     "advantage (state)", "advantage (outcome)"), digits=2)


def density(rows: Sequence[Mapping[str, Any]], cfg: Any, *, mistakes: Sequence[str] = GROUP_MISTAKES,
            limit: int = 60) -> dict[str, dict[str, float]]:
    """Over up to ``limit`` sessions with changes: for each reward, the share of hand-made
    groups whose rollouts all score the same, and the mean number of distinct values per group."""
    stats: dict[str, list[tuple[bool, int]]] = {"r_trans": [], "outcome": []}
    used = 0
    for r in rows:
        if used >= limit:
            break
        if not json.loads(r["gold_ops"]):
            continue
        group = mistake_group(r, mistakes)
        if len(group) < 2:
            continue
        used += 1
        scores = score_group(r, group, cfg)
        for k in stats:
            vals = [round(v, 6) for v in scores[k]]
            stats[k].append((len(set(vals)) == 1, len(set(vals))))
    return {k: {"groups": len(v), "zero_std_share": round(sum(z for z, _ in v) / len(v), 3) if v else math.nan,
                "distinct_values": round(sum(d for _, d in v) / len(v), 2) if v else math.nan}
            for k, v in stats.items()}
