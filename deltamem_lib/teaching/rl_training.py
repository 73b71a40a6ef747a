"""Notebook 04, RL training (DeltaMem §3.3): worked examples (one GRPO group, why the state
reward is dense), the tables of the notebook, and the checks of its exercises.

GRPO (DeltaMem §3.3) samples a *group* of rollouts for one session and turns each rollout's
reward into an advantage by comparing it with the rest of its group::

    A_i = (R_i − mean(R)) / (std(R) + 1e-4)          (scale_rewards="group", TRL's default)

where ``R_i`` is the weighted sum of the reward components (TRL's default
``multi_objective_aggregation="sum_then_normalize"``) and ``std`` is the sample standard
deviation with ``G − 1`` in the denominator (TRL's ``nanstd`` applies Bessel's correction),
so only *differences within a group* teach anything. :func:`mistake_group` builds a group by
hand from a real synthetic session — the gold answer and the typical mistakes of
:mod:`deltamem_lib.mistakes` (missed update, add instead of update, wrong delete, a vague
rewrite, doing nothing …), written as one-shot answers — and :func:`score_group` scores it
with the *same reward functions GRPO calls* (TRL's contract). The state reward ``r_trans``
gives each mistake its own value (partial credit per entry); the outcome reward (probe
questions) often gives several mistakes the same value, and :func:`density` measures that
over many sessions: the share of groups in which every rollout scores the same (such a group
has zero advantage everywhere — in TRL's log, ``frac_reward_zero_std``).

Tables: :func:`before_after_table` (held-out results with the paired bootstrap intervals)
and :func:`profile_table` (time, memory and result per profile). Exercises:
predict-then-check questions (:func:`check_advantages`, :func:`check_zero_spread`,
:func:`check_noop_outcome`) and a coding task (:func:`check_reward_function`, which runs the
reader's reward function the way TRL calls it). The figures of a training run are drawn by
:mod:`deltamem_lib.training.plots` (the run writes them).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import PROJECT_ROOT, list_profiles
from ..episodes import parse_rl_row
from ..io import read_json
from ..mistakes import make_prediction
from ..models.parsing import parse_operation_list
from ..outcome import answer_probe, outcome_accuracy
from ..training.datasets import oneshot_json
from ..training.rewards import apply_rewards, build_reward_functions, completion_text
from ..training.settings import TrainConfig
from .common import Check, Table

__all__ = [
    "ADVANTAGE_EPS", "GROUP_MISTAKES", "before_after_table", "Check", "check_advantages",
    "check_noop_outcome", "check_reward_function", "check_zero_spread", "decisions_table", "density",
    "group_advantages", "group_mean_std", "group_table", "mistake_group", "pick_session", "profile_rows",
    "profile_table", "reward_terms", "score_group", "seeds_table", "too_many_operations_reference",
    "training_steps"
]

#: The rollouts of the hand-made group: the gold answer and typical mistakes.
GROUP_MISTAKES = ("perfect", "paraphrase", "missed_update", "add_not_update", "wrong_delete",
                  "keyword_dropped", "spurious_add", "do_nothing")


#: The epsilon TRL adds to the group's standard deviation (``advantages / (std_rewards + 1e-4)``).
ADVANTAGE_EPS = 1e-4


def group_mean_std(rewards: Sequence[float]) -> tuple[float, float]:
    """The group's mean and its sample standard deviation, ``G − 1`` in the denominator, as
    TRL's ``nanstd`` computes it (Bessel's correction)."""
    n = len(rewards)
    if n < 2:
        raise ValueError("a GRPO group needs at least two rollouts")
    mean = sum(rewards) / n
    return mean, math.sqrt(sum((r - mean) ** 2 for r in rewards) / (n - 1))


def group_advantages(rewards: Sequence[float], *, scale: str = "group") -> list[float]:
    """GRPO advantages of one group, as TRL computes them: reward minus the group mean,
    divided by the group's sample standard deviation (``G − 1``) plus 1e-4 when ``scale="group"``."""
    mean, std = group_mean_std(rewards)
    if scale == "group":
        return [(r - mean) / (std + ADVANTAGE_EPS) for r in rewards]
    return [r - mean for r in rewards]


def pick_session(rows: Sequence[Mapping[str, Any]], *,
                 kinds: tuple[str, ...] = ("UPDATE", "ADD")) -> Mapping[str, Any]:
    """The first RL row whose gold operations include every kind in ``kinds``."""
    for r in rows:
        ops = {o["op"] for o in json.loads(r["gold_ops"])}
        if set(kinds) <= ops:
            return r
    raise ValueError(f"no session with {kinds} operations; use more users or sessions")


def mistake_group(row: Mapping[str, Any], mistakes: Sequence[str] = GROUP_MISTAKES) -> list[dict[str, str]]:
    """A hand-made group for one session: ``{"rollout": name, "completion": one-shot JSON}``
    per mistake that applies to the session (e.g. ``missed_update`` needs an UPDATE)."""
    ex = parse_rl_row(row)
    out = []
    for name in mistakes:
        try:
            pred = make_prediction(name, ex.state_before, list(ex.gold_ops))
        except ValueError:  # the session has no operation of the kind this mistake needs
            continue
        out.append({"rollout": name, "completion": oneshot_json(pred.operations)})
    return out


def score_group(row: Mapping[str, Any], group: Sequence[Mapping[str, str]], cfg: TrainConfig) -> dict[str,
                                                                                              list[float]]:
    """Each reward component of each rollout, computed by the reward functions GRPO uses,
    called exactly as TRL calls them (columns repeated per rollout)."""
    out: dict[str, list[float]] = {}
    for reward in ("state", "outcome"):
        c = cfg.replace(reward=reward, agent="oneshot")
        funcs, weights, _ = build_reward_functions(c)
        columns = {k: [row[k]] * len(group) for k in row if k != "prompt"}
        completions = [[{"role": "assistant", "content": g["completion"]}] for g in group]
        values, total = apply_rewards(funcs, weights, completions, **columns)
        for name, vals in values.items():
            out.setdefault(name, vals)
        out[f"total ({reward} reward)"] = total
    return out


def reward_terms(cfg: TrainConfig, reward: str) -> list[tuple[str, float]]:
    """``(component, weight)`` of the training reward ``reward`` ("state" or "outcome") for
    ``cfg``, in the order :func:`score_group` sums them (the functions and weights GRPO gets)."""
    c = cfg.replace(reward=reward, agent="oneshot")
    funcs, weights, _ = build_reward_functions(c)
    return [(f.__name__, float(w)) for f, w in zip(funcs, weights)]


def _formula(terms: Sequence[tuple[str, float]], totals: Sequence[float]) -> str:
    mean, std = group_mean_std(totals)
    summed = " + ".join(f"{w:g}·{name}" for name, w in terms if w)
    logged = [name for name, w in terms if not w]
    extra = f" ({', '.join(logged)} logged with weight 0)" if logged else ""
    return (f"R = {summed}{extra}; over the G = {len(totals)} rollouts mean(R) = {mean:.3f}, "
            f"std(R) = {std:.3f} (sample standard deviation, G − 1 = {len(totals) - 1} in the denominator), "
            f"so A = (R − {mean:.3f}) / ({std:.3f} + {ADVANTAGE_EPS:g}).")


def _signs(names: Sequence[str], adv: Sequence[float]) -> str:
    up = [n for n, a in zip(names, adv) if a > 1e-9]
    down = [n for n, a in zip(names, adv) if a < -1e-9]
    same = [n for n, a in zip(names, adv) if abs(a) <= 1e-9]
    parts = [f"Raised (A > 0): {', '.join(up) or 'none'}", f"lowered (A < 0): {', '.join(down) or 'none'}"]
    return "; ".join(parts + ([f"unchanged (A = 0): {', '.join(same)}"] if same else [])) + "."


def group_table(row: Mapping[str, Any], cfg: TrainConfig, mistakes: Sequence[str] = GROUP_MISTAKES) -> Table:
    """The hand-made group as a table to check by hand: every reward component, the weighted
    total ``R`` and the advantage ``A`` under the state reward and under the outcome reward;
    the note under the table gives each ``R``'s weights, the group's mean and standard
    deviation that ``A`` is computed with, and which rollouts GRPO raises (A > 0) and lowers."""
    group = mistake_group(row, mistakes)
    scores = score_group(row, group, cfg)
    terms = {rw: reward_terms(cfg, rw) for rw in ("state", "outcome")}
    totals = {rw: scores[f"total ({rw} reward)"] for rw in terms}
    adv = {rw: group_advantages(totals[rw]) for rw in terms}
    seen: list[str] = []
    cols: list[str] = ["rollout"]
    for rw in ("state", "outcome"):
        new = [name for name, _ in terms[rw] if name not in seen]
        seen += new
        cols += new + [f"R ({rw})", f"A ({rw})"]
    cols.append("answer")
    recs = []
    for i, g in enumerate(group):
        rec: dict[str, Any] = {"rollout": g["rollout"], "answer": g["completion"]}
        rec.update({name: scores[name][i] for name in seen})
        for rw in terms:
            rec[f"R ({rw})"], rec[f"A ({rw})"] = totals[rw][i], adv[rw][i]
        recs.append(rec)
    names = [g["rollout"] for g in group]
    note = "  \n".join(f"**{rw.capitalize()} reward:** {_formula(terms[rw], totals[rw])} "
                       f"{_signs(names, adv[rw])}"
                       for rw in ("state", "outcome"))
    return Table.from_records(recs, cols, digits=3, note=note)


def density(rows: Sequence[Mapping[str, Any]], cfg: TrainConfig, *, mistakes: Sequence[str] = GROUP_MISTAKES,
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
    return {k: {"groups": len(v), "zero_std_share": round(sum(z for z, _ in v) / len(v), 3) if v
                else math.nan, "distinct_values": round(sum(d for _, d in v) / len(v), 2) if v else math.nan}
            for k, v in stats.items()}


# ----- tables --------------------------------------------------------------------------------
def before_after_table(evaluations: Mapping[str, Mapping[str, Any]],
                       comparisons: Mapping[str, Mapping[str, Any]] | None = None, *,
                       empty: str = "no system was evaluated.") -> Table:
    """One row per system: held-out r_trans (± s.e.m.), its paired difference to the
    reference with the bootstrap interval, operation F1 per type, invalid-call rate,
    unreadable outputs and probe accuracy. Without any system it shows the sentence ``empty``
    instead of a header-only table."""
    comparisons = comparisons or {}
    rows = []
    for label, ev in evaluations.items():
        f1 = ev.get("op_f1", {})
        cmp = comparisons.get(label)
        rows.append({
            "system": label, "sessions": ev.get("sessions"),
            "r_trans": f"{ev['r_trans_mean']:.3f} ± {ev.get('r_trans_sem', 0):.3f}",
            "Δ vs reference [95% CI]": (f"{cmp['mean_diff']:+.3f} [{cmp['ci_low']:+.3f}, "
                                        f"{cmp['ci_high']:+.3f}] vs {cmp['reference']}") if cmp else "",
            "F1 ADD": f1.get("ADD", {}).get("f1"), "F1 UPDATE": f1.get("UPDATE", {}).get("f1"),
            "F1 DELETE": f1.get("DELETE", {}).get("f1"), "invalid calls": ev.get("invalid_call_rate"),
            "unreadable": ev.get("malformed_output_rate"), "probe accuracy": ev.get("probe_accuracy"),
        })
    cols = ("system", "sessions", "r_trans", "Δ vs reference [95% CI]", "F1 ADD", "F1 UPDATE", "F1 DELETE",
            "invalid calls", "unreadable", "probe accuracy")
    return Table.from_records(rows, cols, empty=empty)


def training_steps(cfg: TrainConfig) -> str:
    """The training a profile does, in words: "SFT 2 steps + GRPO 20 steps", "SFT 1 epoch + GRPO
    20 steps" (``sft_max_steps`` -1: the epochs decide) or "no SFT + GRPO 20 steps"."""
    if not cfg.sft:
        sft = "no SFT"
    elif cfg.sft_max_steps is not None and cfg.sft_max_steps >= 0:
        sft = f"SFT {cfg.sft_max_steps} step{'' if cfg.sft_max_steps == 1 else 's'}"
    else:
        e = cfg.sft_epochs
        n = int(e) if float(e).is_integer() else e
        sft = f"SFT {n} epoch{'' if n == 1 else 's'}"
    return f"{sft} + GRPO {cfg.grpo_max_steps} step{'' if cfg.grpo_max_steps == 1 else 's'}"


def profile_rows(results_dir: str | os.PathLike[str] | None = None,
                 current: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """One row per profile: model, GRPO steps, measured seconds per GRPO step, peak memory and
    held-out r_trans after training — from the results file of that profile where one exists
    (``results_dir/04_rl_training_<profile>.json``, or ``current`` for the run at hand),
    else "not measured". Model and steps come from the profile's settings."""
    folder = Path(results_dir) if results_dir is not None else PROJECT_ROOT / "results"
    rows = []
    for name in ("smallest", "cpu", "colab-t4", "gpu-a100"):
        if name not in list_profiles():
            continue
        cfg = TrainConfig.from_profile(name)
        res: Mapping[str, Any] | None = None
        if current is not None and current.get("profile") == name:
            res = current
        elif (folder / f"04_rl_training_{name}.json").is_file():
            res = read_json(folder / f"04_rl_training_{name}.json")
        row: dict[str, Any] = {"profile": name, "model": cfg.model, "agent": cfg.agent,
                               "training": training_steps(cfg),
                               "s / GRPO step": "not measured", "peak memory (GB)": "not measured",
                               "held-out r_trans after": "not measured", "source": "—"}
        if res is not None:
            st = res.get("grpo_step_time") or {}
            head = res.get("headline") or {}
            row.update({"s / GRPO step": st.get("median_s", "not measured"),
                        "peak memory (GB)": res.get("grpo_peak_memory_gb", "not measured"),
                        "held-out r_trans after": head.get("mean_after", "not measured"),
                        "source": "this run" if res is current else f"results/04_rl_training_{name}.json"})
        rows.append(row)
    return rows


def profile_table(results_dir: str | os.PathLike[str] | None = None,
                  current: Mapping[str, Any] | None = None) -> Table:
    """:func:`profile_rows` as a table (GPU rows say "not measured" until someone measures them)."""
    rows = profile_rows(results_dir, current)
    cols = ("profile", "model", "agent", "training", "s / GRPO step", "peak memory (GB)",
            "held-out r_trans after", "source")
    return Table.from_records(rows, cols, digits=3)


# ----- exercises --------------------------------------------------------------------------------
def check_advantages(rewards: Sequence[float], answer: Sequence[float] | None, *, tol: float = 0.02) -> Check:
    """Predict the GRPO advantages of a group with these rewards (``scale_rewards="group"``)."""
    want = group_advantages(list(rewards))
    shown = ", ".join(f"{a:+.2f}" for a in want)
    if answer is None:
        return Check(None, f"Write down one advantage per reward in {list(rewards)}, then run the check.")
    if len(answer) != len(want):
        return Check(False, f"A group of {len(want)} rollouts has {len(want)} advantages; you gave "
                            f"{len(answer)}.")
    mean, std = group_mean_std(list(rewards))
    if all(abs(a - w) <= tol for a, w in zip(answer, want)):
        return Check(True, f"Advantages {shown}: reward minus the group mean ({mean:.3f}), divided by the "
                           f"group's standard deviation ({std:.3f}, G − 1 in its denominator) plus 1e-4. "
                           "They sum to zero: GRPO only moves probability between rollouts.")
    if all(abs(a - (r - mean)) <= tol for a, r in zip(answer, rewards)):
        return Check(False, "You subtracted the mean but did not divide by the group's standard deviation "
                            f"(G − 1 in its denominator, plus 1e-4). The advantages are {shown}.")
    n = len(rewards)
    pop = math.sqrt(sum((r - mean) ** 2 for r in rewards) / n)
    if pop > 0 and all(abs(a - (r - mean) / (pop + ADVANTAGE_EPS)) <= tol for a, r in zip(answer, rewards)):
        return Check(False, f"You divided by the standard deviation with n = {n} in its denominator "
                            f"({pop:.3f}); TRL uses G − 1 = {n - 1} ({std:.3f}). The advantages are {shown}.")
    return Check(False, f"The advantages are {shown}: (reward − {mean:.3f}) / ({std:.3f} + 1e-4), the "
                        f"standard deviation with G − 1 = {n - 1} in its denominator.")


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
        return Check(True, f"{want:.3f}. Questions about untouched facts are still answered; those about "
                           f"what the session changed are not:\n{detail}")
    return Check(False, f"It is {want:.3f}:\n{detail}\nThe outcome reward gives a do-nothing policy credit "
                        "for every fact the session left alone — r_trans gives it none on a session with "
                        "changes.")


def too_many_operations_reference(prompts: Any = None, completions: Sequence[Any] = (),
                                  **kwargs: Any) -> list[float]:
    """Reference solution: -1 when a one-shot answer lists more than 3 operations, else 0."""
    return [-1.0 if len(parse_operation_list(completion_text(c)).operations) > 3 else 0.0
            for c in completions]


def check_reward_function(fn: Callable[..., list[float]] | None) -> Check:
    """Coding task: a reward function ``too_many_operations(prompts, completions, **kwargs)`` that
    returns -1.0 for a one-shot answer with more than 3 operations and 0.0 otherwise, following
    TRL's contract (one float per completion; unknown keyword arguments accepted)."""
    if fn is None:
        return Check(None, "Write `too_many_operations(prompts, completions, **kwargs)` and pass it to the "
                           "check.")
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
                                "parse it with deltamem_lib.models.parsing.parse_operation_list.")
    return Check(True, "Right: one float per completion, extra columns ignored. Add it to the reward list "
                       "with a weight (`reward_funcs=[..., too_many_operations]`, `reward_weights=[..., "
                       "0.2]`) and TRL logs it as rewards/too_many_operations.")


# ----- several seeds ----------------------------------------------------------------------------
def _interval(c: Mapping[str, Any] | None) -> str:
    return f"{c['mean_diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]" if c else "—"


def seeds_table(seeds: Mapping[str, Any]) -> Table:
    """One row per seed of a seeds file (:mod:`deltamem_lib.training.seeds`) and a pooled row:
    the paired held-out differences with their 95 % intervals, the training ``r_trans`` over
    the first and the last third of GRPO, the share of groups without reward spread, and what
    the policy decides after GRPO (type accuracy and the largest share one kind takes)."""
    rows = []
    for seed, b in seeds["per_seed"].items():
        cmp, thirds = b["comparisons"], b.get("grpo_reward_thirds") or {}
        after = (b.get("decisions") or {}).get("sft+grpo") or {}
        before = (b.get("decisions") or {}).get("sft") or {}
        rows.append({
            "seed": seed, "Δ vs SFT [95% CI]": _interval(cmp.get("sft+grpo vs sft")),
            "Δ vs doing nothing [95% CI]": _interval(cmp.get("sft+grpo vs no-op")),
            "training r_trans, first → last third": (f"{thirds['first_third']:.3f} → "
                                                     f"{thirds['last_third']:.3f}"
                                                     if thirds.get("first_third") is not None else "—"),
            "groups without spread": b.get("grpo_zero_spread_share"),
            "type accuracy, SFT → SFT+GRPO": (f"{before.get('type_accuracy', float('nan')):.2f} → "
                                              f"{after.get('type_accuracy', float('nan')):.2f}" if after
                                              else "—"),
            "largest share after": (f"{after['largest_kind']} {after['largest_share']:.0%}" if after
                                    else "—"),
            "training min": f"{b['training_seconds'] / 60:.1f}"})
    pooled = seeds["pooled"]
    rows.append({"seed": f"pooled ({len(seeds['per_seed'])} seeds × sessions)",
                 "Δ vs SFT [95% CI]": _interval(pooled.get("sft+grpo vs sft")),
                 "Δ vs doing nothing [95% CI]": _interval(pooled.get("sft+grpo vs no-op"))})
    cols = ("seed", "Δ vs SFT [95% CI]", "Δ vs doing nothing [95% CI]",
            "training r_trans, first → last third", "groups without spread", "type accuracy, SFT → SFT+GRPO",
            "largest share after", "training min")
    return Table.from_records(rows, cols, digits=3)


def decisions_table(evaluations: Mapping[str, Mapping[str, Any]]) -> Table | None:
    """"Does the model read the session?" — one row per evaluated system of a single-change
    run (:mod:`deltamem_lib.training.decisions`): greedy type accuracy per gold kind, the
    largest share of predictions one kind takes, id accuracy of UPDATE and DELETE, and the
    separation of the teacher-forced kind probabilities (``P(kind | its sessions) −
    P(kind | other sessions)``; 0 for a policy with a global preference only). None when no
    evaluation carries decisions (the full level)."""
    kinds = ("none", "ADD", "UPDATE", "DELETE")
    rows = []
    for label, ev in evaluations.items():
        d = ev.get("decisions")
        if not d:
            continue
        by, sep, ids = (d.get("type_accuracy_by_kind") or {}, d.get("separation") or {},
                        d.get("id_accuracy") or {})

        def fmt(values: Mapping[str, Any], keys: Sequence[str]) -> str:
            return " / ".join("–" if values.get(k) is None else f"{values[k]:.2f}" for k in keys)

        rows.append({"system": label, "type accuracy": d.get("type_accuracy"),
                     "per kind (none / ADD / UPD / DEL)": fmt(by, kinds),
                     "largest share": f"{d['largest_kind']} {d['largest_share']:.0%}",
                     "id accuracy (UPD / DEL)": fmt(ids, ("UPDATE", "DELETE")),
                     "separation (none / ADD / UPD / DEL)": fmt(sep, kinds) if sep else "not measured"})
    if not rows:
        return None
    cols = ("system", "type accuracy", "per kind (none / ADD / UPD / DEL)", "largest share",
            "id accuracy (UPD / DEL)", "separation (none / ADD / UPD / DEL)")
    return Table.from_records(rows, cols, digits=2)
