"""Exercises of notebook 03 (the memory agent and its baselines): checks that explain.

Predict-then-check questions compare a number the reader wrote down with what the library
computes, and show why; the coding task runs the reader's memory system through the same
harness as the agent and names the first thing that goes wrong.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..episodes import SessionExample
from ..exercises.mld import Check
from ..memory import Operation
from .evaluate import match_operations, session_metrics
from .systems import SessionResult

__all__ = ["check_delete_readd", "check_noop_reward", "check_system"]


def _close(a: Any, b: float) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool) and math.isclose(float(a), b, abs_tol=1e-3)


def check_noop_reward(answer: float | None, example: SessionExample) -> Check:
    """Exercise 1: the ``r_trans`` of doing nothing on ``example``."""
    from ..mld import memory_levenshtein

    res = memory_levenshtein(list(example.state_before.entries), list(example.state_after.entries))
    why = (f"The memory before the session is left as it is. Gold operations: "
           f"{', '.join(o.op.value for o in example.gold_ops) or 'none'}. {res.summary()}. "
           + ("No change was due, so both deltas are empty and r_trans = 1." if not example.gold_ops else
              "Every entry the session should have changed is either missing (a deletion) or stale; a stale "
              "entry may be similar to its update, but it lacks the new keyword, so lexical fidelity pays 0."))
    if answer is None:
        return Check(None, "Write your prediction as a number in [0, 1].")
    return Check(_close(answer, res.reward), f"r_trans = {res.reward:.3f}. {why}")


def check_delete_readd(answer_update_f1: float | None, answer_r_trans: float | None) -> Check:
    """Exercise 2: an agent that replaces an UPDATE by DELETE + ADD of the same sentence."""
    from ..mld import memory_levenshtein
    from ..memory import MemoryState

    before = MemoryState([{"id": "m1", "content": "User lives in Hamburg.", "keywords": ["Hamburg"]}])
    gold_ops = [Operation.update("m1", "User lives in Berlin.", keywords=("Berlin",))]
    pred_ops = [Operation.delete("m1"), Operation.add("User lives in Berlin.")]
    gold, pred = before.copy(), before.copy()
    gold.apply(gold_ops)
    res = pred.apply(pred_ops)
    f1 = match_operations(res.applied, gold_ops).prf("UPDATE")["f1"]
    r = memory_levenshtein(list(pred.entries), list(gold.entries)).reward
    msg = (f"UPDATE F1 = {f1} (the gold UPDATE of m1 has no predicted UPDATE; the DELETE and the ADD match no "
           f"gold operation of their type), r_trans = {r:.1f} (the state holds exactly the gold sentence, under a "
           "new id: ids are labels, the reward compares contents). Operation F1 is a diagnostic; the state reward "
           "is what the paper trains on, because many operation sequences reach the same memory.")
    if answer_update_f1 is None or answer_r_trans is None:
        return Check(None, "Write both predictions (numbers in [0, 1]).")
    return Check(_close(answer_update_f1, f1) and _close(answer_r_trans, r), msg)


def check_system(system: Any, examples: Sequence[SessionExample]) -> Check:
    """Exercise 4: run your memory system on ``examples`` and check it keeps the contract
    (one :class:`SessionResult` per session, in order, states built from the state before)."""
    try:
        results = system.run(list(examples), seed=0)
    except Exception as exc:  # noqa: BLE001 — the reader's code: report, don't crash the notebook
        return Check(False, f"`system.run(examples)` raised {type(exc).__name__}: {exc}")
    if not isinstance(results, list) or len(results) != len(examples):
        return Check(False, f"expected a list of {len(examples)} SessionResult, got {type(results).__name__} "
                            f"of length {len(results) if hasattr(results, '__len__') else '?'}")
    for i, (res, ex) in enumerate(zip(results, examples)):
        if not isinstance(res, SessionResult):
            return Check(False, f"result {i} is a {type(res).__name__}, not a SessionResult")
        if (res.user_id, res.session_id) != (ex.user_id, ex.session_id):
            return Check(False, f"result {i} is for session {res.session_id}, expected {ex.session_id} (keep the order)")
        if res.state_after is ex.state_before:
            return Check(False, f"result {i} returns the example's own state object; work on a copy "
                                "(`example.state_before.copy()`) so the gold data is never changed")
    scores = [session_metrics(r, e)["r_trans"] for r, e in zip(results, examples)]
    return Check(True, f"The contract holds. Mean r_trans on these {len(examples)} sessions: "
                       f"{sum(scores) / len(scores):.3f}. Compare it with the table of section 7.")
