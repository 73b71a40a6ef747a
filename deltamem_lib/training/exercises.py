"""Exercises of notebook 04 (GRPO on the MLD reward, DeltaMem §3.3): checks that explain.

Predict-then-check questions (:func:`check_advantages`, :func:`check_zero_spread`,
:func:`check_noop_outcome`) compare what the reader wrote down with the library's answer and
show the computation; the coding task (:func:`check_reward_function`) runs the reader's
reward function the way TRL calls it, on hand-made rollouts, and names the first case that
goes wrong. Each returns a :class:`deltamem_lib.exercises.Check` (``ok`` True / False / None).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..exercises import Check
from .explain import group_advantages

__all__ = ["check_advantages", "check_noop_outcome", "check_reward_function", "check_zero_spread",
           "too_many_operations_reference"]


def check_advantages(rewards: Sequence[float], answer: Sequence[float] | None, *, tol: float = 0.02) -> Check:
    """Predict the GRPO advantages of a group with these rewards (``scale_rewards="group"``)."""
    want = group_advantages(list(rewards))
    shown = ", ".join(f"{a:+.2f}" for a in want)
    if answer is None:
        return Check(None, f"Write down one advantage per reward in {list(rewards)}, then run the check.")
    if len(answer) != len(want):
        return Check(False, f"A group of {len(want)} rollouts has {len(want)} advantages; you gave {len(answer)}.")
    mean = sum(rewards) / len(rewards)
    if all(abs(a - w) <= tol for a, w in zip(answer, want)):
        return Check(True, f"Advantages {shown}: reward minus the group mean ({mean:.3f}), divided by the group's "
                           "standard deviation. They sum to zero: GRPO only moves probability between rollouts.")
    if all(abs(a - (r - mean)) <= tol for a, r in zip(answer, rewards)):
        return Check(False, "You subtracted the mean but did not divide by the group's standard deviation "
                            f"(unbiased, plus 1e-4). The advantages are {shown}.")
    return Check(False, f"The advantages are {shown}: (reward − {mean:.3f}) / (std + 1e-4).")


def check_zero_spread(answer: float | None) -> Check:
    """A group of 4 rollouts of a session with no change all answer ``[]`` (each r_trans = 1).
    What gradient does this group contribute (its advantages' largest absolute value)?"""
    want = max(abs(a) for a in group_advantages([1.0, 1.0, 1.0, 1.0]))
    if answer is None:
        return Check(None, "Predict the largest |advantage| in a group whose rollouts all score 1.")
    if abs(float(answer) - want) < 1e-6:
        return Check(True, "Zero: every rollout equals the group mean, so every advantage is 0 and the group "
                           "teaches nothing, however good it is. TRL counts such groups in "
                           "`frac_reward_zero_std`; when most groups look like this, learning stops.")
    return Check(False, "All rewards equal the group mean, so every advantage is (1 − 1)/(0 + 1e-4) = 0: "
                        "the group contributes no gradient.")


def check_noop_outcome(row: Mapping[str, Any], answer: float | None, *, tol: float = 1e-6) -> Check:
    """Predict the outcome reward of doing nothing on this session (share of its probe
    questions the reader answers from the memory before the session)."""
    from ..episodes import parse_rl_row
    from .outcome import answer_probe, outcome_accuracy

    ex = parse_rl_row(row)
    probes = json.loads(row.get("probes") or "[]")
    want = outcome_accuracy(ex.state_before.entries, probes)
    lines = [f"- {p['question']} (gold: {p['answer']}, {p['kind']}): reader says "
             f"{answer_probe(ex.state_before.entries, p).answer!r}" for p in probes]
    detail = "\n".join(lines)
    if answer is None:
        return Check(None, f"{len(probes)} probe question(s) are asked after this session. Predict the share "
                           "answered correctly if the memory is left as it was.")
    if abs(float(answer) - want) <= tol:
        return Check(True, f"{want:.3f}. Questions about untouched facts are still answered; those about what "
                           f"the session changed are not:\n{detail}")
    return Check(False, f"It is {want:.3f}:\n{detail}\nThe outcome reward gives a do-nothing policy credit for "
                        "every fact the session left alone — r_trans gives it none on a session with changes.")


def too_many_operations_reference(prompts: Any = None, completions: Sequence[Any] = (), **kwargs: Any) -> list[float]:
    """Reference solution: -1 when a one-shot answer lists more than 3 operations, else 0."""
    from ..agent.parsing import parse_operation_list
    from .rewards import completion_text

    return [-1.0 if len(parse_operation_list(completion_text(c)).operations) > 3 else 0.0 for c in completions]


def check_reward_function(fn: Callable[..., list[float]] | None) -> Check:
    """Coding task: a reward function ``too_many_operations(prompts, completions, **kwargs)`` that
    returns -1.0 for a one-shot answer with more than 3 operations and 0.0 otherwise, following
    TRL's contract (one float per completion; unknown keyword arguments accepted)."""
    if fn is None:
        return Check(None, "Write `too_many_operations(prompts, completions, **kwargs)` and pass it to the check.")
    op = {"op": "ADD", "content": "User likes tea."}
    cases = [("[]", 0.0), (json.dumps([op] * 3), 0.0), (json.dumps([op] * 4), -1.0),
             ("Sure! " + json.dumps([op] * 5), -1.0), ("not json at all", 0.0)]
    completions = [[{"role": "assistant", "content": c}] for c, _ in cases]
    kwargs = {"session_id": ["s"] * len(cases), "trainer_state": None, "log_metric": lambda *a: None}
    try:
        got = fn(prompts=[None] * len(cases), completions=completions, **kwargs)
    except TypeError as exc:
        return Check(False, f"TRL calls `fn(prompts=..., completions=..., **columns)`; yours raised {exc!r}. "
                            "Accept `**kwargs`.")
    except Exception as exc:  # noqa: BLE001 - a reader's bug is reported, not raised
        return Check(False, f"Your function raised {type(exc).__name__}: {exc}")
    if not isinstance(got, (list, tuple)) or len(got) != len(cases):
        return Check(False, f"Return one float per completion ({len(cases)}), got {got!r}.")
    for (text, want), g in zip(cases, got):
        try:
            ok = math.isclose(float(g), want)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            return Check(False, f"For the answer {text[:60]!r} the reward should be {want}, yours is {g!r}. "
                                "Hint: completions are lists of messages; read the assistant's content and "
                                "parse it with deltamem_lib.agent.parsing.parse_operation_list.")
    return Check(True, "Right: one float per completion, extra columns ignored. Add it to the reward list with a "
                       "weight (`reward_funcs=[..., too_many_operations]`, `reward_weights=[..., 0.2]`) and TRL "
                       "logs it as rewards/too_many_operations.")
