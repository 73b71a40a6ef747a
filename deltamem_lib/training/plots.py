"""Figures of a training run (DeltaMem Figure 2 and the before/after comparison), written by
:mod:`.pipeline` into the run's ``figures/``.

* :func:`plot_reward_dynamics` — the analogue of the paper's Figure 2 ("reward dynamics
  during RL"): each reward component per GRPO step (points) with a smoothed line, and the
  diagnostics that warn of a collapse before the reward does (``frac_reward_zero_std``, the
  share of rollouts that change nothing, the invalid-call rate);
* :func:`plot_before_after` — held-out ``r_trans`` (with the
  paired bootstrap intervals against a reference row), operation F1 per type, invalid-call
  rate and probe accuracy for the no-op floor, the base model, SFT, SFT + GRPO and the
  ablations.

Each ``plot_*`` returns the figure and, given ``save_dir``, writes ``<name>.png`` and
``<name>.json`` (the numbers drawn) there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..io import save_figure

__all__ = ["plot_before_after", "plot_reward_dynamics", "plot_seeds", "reward_components", "smooth"]


def smooth(values: Sequence[float], *, window: int | None = None) -> list[float]:
    """Centred moving average (window about a tenth of the run, at least 3, odd), NaNs skipped."""
    v = np.asarray([np.nan if x is None else x for x in values], dtype=float)
    n = len(v)
    if n == 0:
        return []
    w = window or max(3, (n // 10) | 1)
    half = w // 2
    out = []
    for i in range(n):
        seg = v[max(0, i - half): i + half + 1]
        seg = seg[~np.isnan(seg)]
        out.append(float(seg.mean()) if len(seg) else float("nan"))
    return out


def reward_components(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Names of the reward components logged in GRPO records (``rewards/<name>/mean``)."""
    names: list[str] = []
    for r in records:
        for k in r:
            if k.startswith("rewards/") and k.endswith("/mean"):
                name = k[len("rewards/"):-len("/mean")]
                if name not in names:
                    names.append(name)
    return names


def _label(name: str) -> str:
    return "r_trans (MemoryEnv.get_reward)" if name == "MemoryEnv" else name


def plot_reward_dynamics(records: Sequence[Mapping[str, Any]], *, title: str = "", window: int | None = None,
                         save_dir: str | os.PathLike[str] | None = None,
                         name: str = "04_reward_dynamics") -> Any:
    """Reward components and collapse diagnostics per GRPO step, with smoothed lines."""
    records = [r for r in records if any(k.startswith("rewards/") for k in r)]
    if not records:
        raise ValueError("no GRPO records with rewards: run GRPO first (metrics.jsonl, phase 'grpo')")
    steps = [int(r["step"]) for r in records]
    comps = reward_components(records)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    data: dict[str, Any] = {"step": steps, "components": {}, "diagnostics": {}, "title": title}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, c in enumerate(comps):
        y = [r.get(f"rewards/{c}/mean") for r in records]
        s = smooth(y, window=window)
        col = colors[i % len(colors)]
        ax1.plot(steps, [np.nan if v is None else v for v in y], "o", ms=3, alpha=0.35, color=col)
        ax1.plot(steps, s, "-", lw=2, color=col, label=_label(c))
        data["components"][c] = {"mean": y, "smoothed": s,
                                 "std": [r.get(f"rewards/{c}/std") for r in records]}
    ax1.set_xlabel("GRPO step")
    ax1.set_ylabel("reward (mean over the step's rollouts)")
    ax1.set_title("reward components" + (f" — {title}" if title else ""))
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    diag = {"frac_reward_zero_std": "groups with no reward spread",
            "rollouts/no_op_share": "rollouts changing nothing",
            "rollouts/invalid_call_rate": "invalid-call rate",
            "rollouts/malformed_rate": "unreadable outputs", "tools/call_frequency": "tool calls per rollout"}
    for i, (k, lab) in enumerate(diag.items()):
        y = [r.get(k) for r in records]
        if all(v is None for v in y):
            continue
        s = smooth(y, window=window)
        col = colors[(i + 3) % len(colors)]
        ax2.plot(steps, [np.nan if v is None else v for v in y], "o", ms=3, alpha=0.3, color=col)
        ax2.plot(steps, s, "-", lw=2, color=col, label=lab)
        data["diagnostics"][k] = {"value": y, "smoothed": s}
    ax2.set_xlabel("GRPO step")
    ax2.set_ylabel("share")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_title("collapse warnings")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, data, save_dir, name)
    plt.close(fig)
    return fig


def plot_before_after(evaluations: Mapping[str, Mapping[str, Any]],
                      comparisons: Mapping[str, Mapping[str, Any]] | None = None, *, title: str = "",
                      save_dir: str | os.PathLike[str] | None = None, name: str = "04_before_after") -> Any:
    """Held-out r_trans per system (error bars: s.e.m.) with, above each bar that has a comparison,
    its paired difference and 95% interval labelled with its own reference ("Δ vs sft"), since
    the reference changes from bar to bar; and operation F1 per type."""
    comparisons = comparisons or {}
    labels = list(evaluations)
    means = [evaluations[k]["r_trans_mean"] for k in labels]
    sems = [evaluations[k].get("r_trans_sem", 0.0) for k in labels]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.1, 1]})
    x = np.arange(len(labels))
    bars = ax1.bar(x, means, yerr=sems, capsize=3, color=["#bbbbbb" if k in ("no-op", "base") else "#1f77b4"
                                                          for k in labels])
    for b, k, sem in zip(bars, labels, sems):
        c = comparisons.get(k)
        txt = f"{evaluations[k]['r_trans_mean']:.3f}"
        if c:
            txt += (f"\nΔ vs {c.get('reference', '?')} {c['mean_diff']:+.3f}\n[{c['ci_low']:+.3f}, "
                    f"{c['ci_high']:+.3f}]")
        ax1.text(b.get_x() + b.get_width() / 2, b.get_height() + (sem or 0.0) + 0.005, txt, ha="center",
                 va="bottom",
                 fontsize=7)  # above the error bar
    ax1.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax1.set_ylabel("held-out r_trans (mean ± s.e.m.)")
    ax1.set_ylim(0, min(1.05, max([m + (s or 0.0) for m, s in zip(means, sems)] + [0.1]) * 1.5 + 0.05))
    ax1.set_title("r_trans; Δ vs X = paired difference to X [95% CI]" if comparisons else "r_trans")
    kinds = ("ADD", "UPDATE", "DELETE")
    w = 0.8 / len(labels)
    # F1 is undefined (None) for a type with neither gold nor predicted operations: not drawn
    f1 = {k: [evaluations[k].get("op_f1", {}).get(t, {}).get("f1") for t in kinds] for k in labels}
    for i, k in enumerate(labels):
        ax2.bar(np.arange(3) + (i - (len(labels) - 1) / 2) * w, [np.nan if v is None else v for v in f1[k]],
                w, label=k)
    ax2.set_xticks(np.arange(3), kinds)
    ax2.set_ylabel("operation F1")
    ax2.set_ylim(0, 1)
    ax2.legend(fontsize=7, ncol=2)
    ax2.set_title("operation F1 per type")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    data = {"systems": labels, "r_trans_mean": means, "r_trans_sem": sems, "op_f1": f1,
            "invalid_call_rate": [evaluations[k].get("invalid_call_rate") for k in labels],
            "probe_accuracy": [evaluations[k].get("probe_accuracy") for k in labels],
            "comparisons": {k: dict(v) for k, v in comparisons.items()}, "title": title}
    save_figure(fig, data, save_dir, name)
    plt.close(fig)
    return fig


def plot_seeds(seeds: Mapping[str, Any], *, title: str = "", save_dir: str | os.PathLike[str] | None = None,
               name: str = "04_seeds") -> Any:
    """Several seeds of one recipe (a seeds file of :mod:`.seeds`): each seed's training
    ``r_trans`` per GRPO step (points, smoothed line), and each seed's paired held-out
    differences with their 95 % intervals beside the pooled (seeds × sessions) interval."""
    per = seeds["per_seed"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    data: dict[str, Any] = {"title": title, "curves": {}, "differences": {}}
    for i, (seed, block) in enumerate(per.items()):
        curve = block.get("grpo_reward_per_step") or []
        if not curve:
            continue
        col = colors[i % len(colors)]
        steps = list(range(1, len(curve) + 1))
        s = smooth(curve)
        ax1.plot(steps, curve, "o", ms=3, alpha=0.35, color=col)
        ax1.plot(steps, s, "-", lw=2, color=col, label=f"seed {seed}")
        data["curves"][seed] = {"r_trans": curve, "smoothed": s}
    ax1.set_xlabel("GRPO step")
    ax1.set_ylabel("training r_trans (mean over the step's rollouts)")
    ax1.set_title("training reward per seed" + (f" — {title}" if title else ""))
    ax1.grid(alpha=0.3)
    if data["curves"]:
        ax1.legend(fontsize=8)
    comps = list(seeds["pooled"])
    rows = [(f"seed {seed}", block["comparisons"].get(c), c) for c in comps for seed, block in per.items()]
    rows += [("pooled", seeds["pooled"][c], c) for c in comps]
    y = np.arange(len(rows))[::-1]
    for yi, (lab, c, comp) in zip(y, rows):
        if not c or c.get("ci_low") is None:  # no interval measured for this row
            continue
        col = colors[comps.index(comp) % len(colors)]
        ax2.errorbar(c["mean_diff"], yi,
                     xerr=[[c["mean_diff"] - c["ci_low"]], [c["ci_high"] - c["mean_diff"]]],
                     fmt="s" if lab == "pooled" else "o", color=col, capsize=3, ms=6 if lab == "pooled"
                     else 4)
        data["differences"][f"{comp} / {lab}"] = {k: c[k] for k in ("mean_diff", "ci_low", "ci_high")}
    ax2.axvline(0, color="grey", lw=1)
    ax2.set_yticks(y, [f"{comp.replace('sft+grpo vs ', 'vs ')}: {lab}" for lab, _, comp in rows], fontsize=8)
    ax2.set_xlabel("held-out Δ r_trans, SFT+GRPO minus reference [95% CI]")
    ax2.set_title("per seed and pooled")
    ax2.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    save_figure(fig, data, save_dir, name)
    plt.close(fig)
    return fig
