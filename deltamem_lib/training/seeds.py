"""One claim, several seeds: the per-seed results of a training recipe and their pooled comparison.

One training run is an anecdote: two runs of the same settings on the same machine have
collapsed onto opposite operations (``docs/training_notes.md``). A claim that RL makes the
manager better is made on several seeds of one recipe (the same data, settings and held-out
sessions; only ``seed`` differs: LoRA initialisation, sampling, shuffling):

* ``per_seed[seed]`` keeps each run's ``comparisons`` (``"sft+grpo vs sft"``,
  ``"sft+grpo vs no-op"``), ``training_seconds``, ``grpo_reward_thirds`` and ``per_operation``;
* ``pooled`` compares the stages over sessions × seeds with a two-level bootstrap: each
  resample draws the seeds with replacement and, independently, the held-out sessions with
  replacement, and averages the paired differences ``d[seed, session]`` over the draw. The
  interval covers both sources of variation — which sessions were held out and which seed
  the run drew.

:func:`collect_seeds` builds ``results/04_rl_training_<profile>_seeds.json`` from the runs'
results files; :func:`compare_recipes` compares two recipes run on the same seeds and held-out
sessions (e.g. GRPO with and without a KL term) with the same two-level bootstrap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["COMPARED", "EVALUATION_ONLY", "collect_seeds", "compare_recipes", "pooled_bootstrap",
           "settings_differ"]

#: The comparisons every seed reports: (trained stage, reference).
COMPARED = (("sft+grpo", "sft"), ("sft+grpo", "no-op"))

#: Settings that add or skip evaluations without touching what was trained or on which held-out
#: sessions it is compared (e.g. the base model evaluated in one seed only): seeds may differ here.
EVALUATION_ONLY = frozenset({"eval_base", "eval_batch_size", "bootstrap_samples", "ablations",
                             "full_level_eval_sessions", "ablation_eval_sessions", "ablation_steps"})


def settings_differ(a: dict[str, Any], b: dict[str, Any]) -> dict[str, list[Any]]:
    """The settings in which two runs' configs differ, ``name -> [a's value, b's value]`` (sorted by
    name), leaving out ``seed`` and the :data:`EVALUATION_ONLY` settings: what makes two runs two
    recipes rather than two seeds of one."""
    skip = EVALUATION_ONLY | {"seed"}
    return {k: [a.get(k), b.get(k)] for k in sorted((set(a) | set(b)) - skip) if a.get(k) != b.get(k)}


def pooled_bootstrap(diffs: Sequence[Sequence[float]], *, n_boot: int = 2000, seed: int = 0,
                     confidence: float = 0.95) -> dict[str, Any]:
    """Mean paired difference over a seeds × sessions table, with a two-level bootstrap interval.

    Args:
        diffs: one row per seed, one column per held-out session (the same sessions in every row).
    """
    import numpy as np  # kept out of the command line's start-up

    d = np.asarray(diffs, dtype=float)
    if d.ndim != 2 or d.shape[0] < 1 or d.shape[1] < 1:
        raise ValueError(f"need a seeds × sessions table of differences, got shape {d.shape}")
    rng = np.random.default_rng(seed)
    s = rng.integers(0, d.shape[0], size=(n_boot, d.shape[0]))
    j = rng.integers(0, d.shape[1], size=(n_boot, d.shape[1]))
    means = np.array([d[np.ix_(s[b], j[b])].mean() for b in range(n_boot)])
    lo, hi = np.quantile(means, [(1 - confidence) / 2, 1 - (1 - confidence) / 2])
    return {"seeds": int(d.shape[0]), "sessions": int(d.shape[1]), "mean_diff": round(float(d.mean()), 4),
            "ci_low": round(float(lo), 4), "ci_high": round(float(hi), 4), "confidence": confidence,
            "excludes_zero": bool(lo > 0 or hi < 0),
            "per_seed_mean": [round(float(x), 4) for x in d.mean(axis=1)]}


def _per_session(res: dict[str, Any], label: str) -> dict[str, float]:
    block = res["per_session"][label]
    return dict(zip(block["keys"], block["r_trans"]))


def collect_seeds(results: Sequence[dict[str, Any]], *, n_boot: int = 2000,
                  reward_curves: Sequence[Sequence[float] | None] | None = None) -> dict[str, Any]:
    """The seeds file of one recipe from its runs' results (``04_rl_training_<profile>.json``).

    Refuses runs that differ in anything but the seed (and :data:`EVALUATION_ONLY` settings),
    runs that share a seed, and runs whose held-out sessions differ, naming what differs.
    ``sft_from`` names the one SFT start the seeds' GRPO runs continued, if they shared one.
    ``reward_curves``: each run's training ``r_trans`` per GRPO step (from its ``metrics.jsonl``),
    kept as ``per_seed[seed]["grpo_reward_per_step"]`` for the learning-curve figure.
    """
    if len(results) < 2:
        raise ValueError(f"need the results of at least two seeds, got {len(results)}")
    seeds = [r["config"]["seed"] for r in results]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {seeds}: every run must have its own seed")
    for r in results[1:]:
        diff = sorted(settings_differ(results[0]["config"], r["config"]))
        if diff:
            raise ValueError(f"seed {r['config']['seed']}: settings differ from seed {seeds[0]} in {diff}")
    out: dict[str, Any] = {"profile": results[0]["profile"], "level": results[0].get("level", "full"),
                           "model": results[0]["model"], "data": results[0]["data"].get("source"),
                           "seeds": seeds, "sft_from": results[0]["config"].get("sft_from") or None,
                           "per_seed": {}, "pooled": {}}
    curves = list(reward_curves) if reward_curves is not None else [None] * len(results)
    for r, curve in zip(results, curves):
        out["per_seed"][str(r["config"]["seed"])] = {
            "comparisons": {f"{a} vs {b}": r["comparisons"].get(f"{a} vs {b}") for a, b in COMPARED},
            "training_seconds": r["training_seconds"], "grpo_reward_thirds": r.get("grpo_reward_thirds"),
            "per_operation": r.get("per_operation"), "decisions": r.get("decisions"),
            "grpo_zero_spread_share": r.get("grpo_zero_spread_share"),
            "grpo_step_time": r.get("grpo_step_time"),
            "grpo_reward_per_step": [round(float(x), 4) for x in curve] if curve is not None else None}
    for a, b in COMPARED:
        rows, keys = [], None
        for r in results:
            after, before = _per_session(r, a), _per_session(r, b)
            if keys is None:
                keys = list(after)
            if list(after) != keys or list(before) != keys:
                raise ValueError(f"seed {r['config']['seed']}: its held-out sessions differ from seed "
                                 f"{seeds[0]}'s")
            rows.append([after[k] - before[k] for k in keys])
        out["pooled"][f"{a} vs {b}"] = pooled_bootstrap(rows, n_boot=n_boot)
    return out


def compare_recipes(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], *, stage: str = "sft+grpo",
                    n_boot: int = 2000) -> dict[str, Any]:
    """Recipe ``b`` minus recipe ``a``: held-out ``r_trans`` of ``stage`` paired by seed and session.

    ``a`` and ``b`` are the results files of the two recipes' runs, one per seed. Each seed of
    ``a`` is paired with the run of ``b`` that has the same seed, and each session with the same
    session, so the differences ``d[seed, session]`` remove what a seed's sampling and a session's
    difficulty share; :func:`pooled_bootstrap` gives the interval. Refuses recipes whose seeds or
    held-out sessions differ, and (in ``settings_differ``) names the settings in which they differ.
    """
    by_seed_a = {r["config"]["seed"]: r for r in a}
    by_seed_b = {r["config"]["seed"]: r for r in b}
    if len(by_seed_a) != len(a) or len(by_seed_b) != len(b):
        raise ValueError("each recipe needs one run per seed")
    if sorted(by_seed_a) != sorted(by_seed_b):
        raise ValueError(f"the recipes ran different seeds: {sorted(by_seed_a)} and {sorted(by_seed_b)}")
    rows = []
    for seed in sorted(by_seed_a):
        before, after = _per_session(by_seed_a[seed], stage), _per_session(by_seed_b[seed], stage)
        if list(before) != list(after):
            raise ValueError(f"seed {seed}: the recipes were evaluated on different held-out sessions")
        rows.append([after[k] - before[k] for k in before])
    differ = settings_differ(by_seed_a[min(by_seed_a)]["config"], by_seed_b[min(by_seed_b)]["config"])
    return {"stage": stage, "seed_ids": sorted(by_seed_a), "settings_differ": differ,
            **pooled_bootstrap(rows, n_boot=n_boot)}
