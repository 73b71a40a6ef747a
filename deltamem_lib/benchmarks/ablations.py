"""The ablations of the DeltaMem paper, on the workbook's synthetic sessions.

The paper ablates *local lexical fidelity* (its Figure 3: without the keyword check the reward
pays for vague rewrites, and RL learns them); the workbook adds the design choices it makes
where the paper is silent (``docs/paper_notes.md`` §4): ReAct vs one-shot, DELETE on/off, and the
*state* reward against an *outcome* reward (AtomMem, Memory-R1: reward = answering probe
questions). Three views, from cheapest to most expensive:

* :func:`mistake_rewards` — **reward side**: the same predictions (the gold session with one
  typical mistake, :mod:`deltamem_lib.mistakes`) scored by every reward variant of
  :data:`REWARD_VARIANTS`. A reward that pays a mistake as much as the correct answer cannot
  teach the difference — the mechanism behind Figure 3, without training anything.
* :func:`agent_ablations` — **agent side**: the prompted agent run in each configuration on the
  same test sessions (teacher-forced, :func:`deltamem_lib.agent.harness.evaluate_system`),
  and its rollouts scored by every reward variant.
* :func:`training_ablations` — **training side**: the rows of notebook 04's results file
  (short GRPO runs with one setting changed, judged with the main ``r_trans``), when a
  training run exists.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..ablation_names import check_ids, label_of
from ..agent.harness import evaluate_system
from ..agent.systems import make_system
from ..episodes import Episode, SessionExample
from ..io import read_json
from ..mistakes import MISTAKES, make_prediction
from ..mld import MLDOptions
from ..outcome import outcome_accuracy
from ..synthesis.probes import probe_questions

__all__ = ["AGENT_VARIANTS", "REWARD_VARIANTS", "agent_ablations", "mistake_rewards", "probes_by_session",
           "score_with_variants", "training_ablations"]


def _mld(mld: MLDOptions, *, dense: bool = True
         ) -> Callable[[Sequence[Any], SessionExample, Sequence[Mapping[str, Any]]], float]:
    """An MLD reward variant; ``dense=False`` drops ``before`` (the residual normalisation)."""

    def score(entries: Sequence[Any], example: SessionExample, probes: Sequence[Mapping[str, Any]]) -> float:
        before = list(example.state_before.entries) if dense else None
        return float(mld.score(list(entries), list(example.state_after.entries), before=before).reward)

    return score


def _outcome(entries: Sequence[Any], example: SessionExample, probes: Sequence[Mapping[str, Any]]) -> float:
    return float(outcome_accuracy(list(entries), probes))


#: Reward variants, keyed by the ids of :data:`~deltamem_lib.ablation_names.ABLATION_NAMES` (its
#: "reward" side; :func:`~deltamem_lib.ablation_names.label_of` gives the label shown), each
#: ``(predicted entries, session example, the session's probes) -> float``.
REWARD_VARIANTS: dict[str, Callable[..., float]] = {
    "r_trans": _mld(MLDOptions()),
    "no_lexical_fidelity": _mld(MLDOptions(lexical_fidelity=False)),
    "residual_normalisation": _mld(MLDOptions(), dense=False),
    "state_scope": _mld(MLDOptions(scope="state")),
    "outcome_reward": _outcome,
}

#: Agent configurations ("agent" side of the same ids): id → (system name, options).
AGENT_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "oneshot_agent": ("deltamem-oneshot", {}),
    "react_agent": ("deltamem", {}),
    "oneshot_no_delete": ("deltamem-oneshot", {"allow_delete": False}),
    "react_no_delete": ("deltamem", {"allow_delete": False}),
}


def probes_by_session(episodes: Sequence[Episode], *, n_unchanged: int = 2,
                      seed: int = 0) -> dict[str, list[dict]]:
    """``"user/session" -> probes asked after that session``."""
    out: dict[str, list[dict]] = {}
    for ep in episodes:
        for p in probe_questions(ep, n_unchanged=n_unchanged, seed=seed):
            out.setdefault(f"{ep.user_id}/{p['session_id']}", []).append(p)
    return out


def score_with_variants(entries: Sequence[Any], example: SessionExample, probes: Sequence[Mapping[str, Any]],
                        variants: Mapping[str, Callable[..., float]] = REWARD_VARIANTS) -> dict[str, float]:
    """One predicted state scored by every reward variant."""
    return {name: fn(entries, example, probes) for name, fn in variants.items()}


def mistake_rewards(examples: Sequence[SessionExample], probes: Mapping[str, Sequence[Mapping[str, Any]]], *,
                    mistakes: Sequence[str] | None = None,
                    variants: Mapping[str, Callable[..., float]] = REWARD_VARIANTS) -> list[dict[str, Any]]:
    """Mean reward of each typical mistake under each reward variant (module docstring).

    Only sessions with gold changes are used; a mistake that a session cannot express (no
    UPDATE to miss) skips that session, so each record says over how many sessions it is
    averaged (``n``)."""
    names = list(mistakes or MISTAKES)
    acc: dict[tuple[str, str], list[float]] = {}
    for ex in examples:
        if not any(o.op.value != "NOOP" for o in ex.gold_ops):
            continue
        ps = probes.get(f"{ex.user_id}/{ex.session_id}", [])
        for name in names:
            try:
                pred = make_prediction(name, ex.state_before, ex.gold_ops)
            except ValueError:
                continue
            for v, score in score_with_variants(pred.state.entries, ex, ps, variants).items():
                acc.setdefault((name, v), []).append(score)
    return [{"mistake": m, "reward": v, "label": label_of(v), "n": len(vals), "mean": statistics.fmean(vals)}
            for (m, v), vals in acc.items()]


def agent_ablations(model: Any, examples: Sequence[SessionExample],
                    probes: Mapping[str, Sequence[Mapping[str, Any]]], *,
                    variants: Sequence[str] = ("oneshot_agent", "react_agent", "oneshot_no_delete"),
                    batch_size: int = 8, seed: int = 0, progress: bool = False,
                    **options: Any) -> list[dict[str, Any]]:
    """Evaluate the prompted agent in each configuration of :data:`AGENT_VARIANTS` on the same
    sessions; every rollout is also scored by each reward variant.

    ``options`` go to :func:`~deltamem_lib.agent.systems.make_system` (``max_new_tokens``,
    ``max_tool_calls``, ``retriever`` …). Returns one record per configuration: the
    :func:`~deltamem_lib.agent.harness.evaluate_system` summary (without per-session rows)
    plus ``rewards`` (reward variant id → mean over sessions), ``variant`` (the id) and
    ``label``. ``variants`` are ids of :data:`AGENT_VARIANTS`; an unknown one is refused before
    anything runs."""
    out = []
    for variant in check_ids(variants, "agent", what="agent variant"):
        name, extra = AGENT_VARIANTS[variant]
        system = make_system(name, model, **{**options, **extra})
        res = evaluate_system(system, examples, batch_size=batch_size, seed=seed, progress=progress,
                              keep_results=True)
        rollouts = res.pop("results")
        per = [score_with_variants(r.state_after.entries, ex, probes.get(f"{ex.user_id}/{ex.session_id}", []))
               for r, ex in zip(rollouts, examples)]
        res.pop("per_session", None)
        res["variant"], res["label"] = variant, label_of(variant)
        res["rewards"] = {v: statistics.fmean(p[v] for p in per) for v in REWARD_VARIANTS}
        res["delete_calls"] = sum(o.op.value == "DELETE" for r in rollouts for o in r.operations)
        out.append(res)
    return out


def training_ablations(path: str | Path | None) -> dict[str, Any] | None:
    """The ablation rows of a notebook-04 results file (``04_rl_training_<profile>.json``), or
    ``None`` when there is none. Each row: label, sessions, mean ``r_trans``, probe accuracy
    and the paired-bootstrap difference to its reference."""
    if path is None or not Path(path).is_file():
        return None
    res = read_json(path)
    ev, comps = res.get("evaluation", {}), res.get("comparisons", {})
    rows = []
    for label, e in ev.items():
        c = comps.get(label, {})
        kind, _, ablation = label.partition(": ")
        shown = f"ablation: {label_of(ablation)}" if kind == "ablation" and ablation else label
        rows.append({"label": shown, "sessions": e.get("sessions"), "r_trans": e.get("r_trans_mean"),
                     "probe_accuracy": e.get("probe_accuracy"), "reference": c.get("reference"),
                     "diff": c.get("mean_diff"), "ci_low": c.get("ci_low"), "ci_high": c.get("ci_high")})
    return {"path": str(path), "profile": res.get("profile"), "model": res.get("model"),
            "agent": res.get("agent"), "rows": rows}
