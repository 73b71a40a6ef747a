"""Notebook 02, the MLD reward (DeltaMem §3.3, Definition 3.1, Figure 3): its figures and the
checks of its exercises.

* :func:`plot_alignment` / :func:`plot_alignments` — the optimal-transport alignment of one
  comparison: rows ΔP, columns ΔG, cells ``sim``, matched pairs boxed with ``cov`` and ``q``.
* :func:`order_vs_set` + :func:`plot_order_vs_set` — the ordered edit distance changes when
  the same memory is listed in another order; the set distance (MLD) does not.
* :func:`reward_vs_threshold` + :func:`plot_reward_vs_threshold` — ``r_trans`` as ``τ``
  moves, with lexical fidelity on and off.
* :func:`plot_mistake_rewards` — reward per typical mistake (from
  :func:`deltamem_lib.mistakes.mistake_rewards`): the lexical-fidelity ablation of Figure 3.
* :func:`threshold_explorer` — a slider for ``τ`` when a notebook front end is attached,
  else the static reward-vs-``τ`` figure.

Each ``plot_*`` function returns the figure and, given ``save_dir``, writes
``<name>.png`` and ``<name>.json`` (the numbers drawn) there.

Exercises: predict-then-check questions (:func:`check_reward`, :func:`check_largest_threshold`)
compare a number the reader wrote down with the library's answer and show the computation.
Coding tasks (:func:`check_dice`, :func:`check_order_example`, :func:`check_touched_reward`,
:func:`check_shared_first_counterexample`) run the reader's function or example against the
spec and name the first case that goes wrong.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from scipy.optimize import linear_sum_assignment

from ..memory import MemoryState
from ..mistakes import make_scenarios, predictions
from ..mld import (
    EntryLike,
    Item,
    LexicalSimilarity,
    MLDOptions,
    MLDResult,
    OrderedResult,
    SimilaritySpec,
    as_items,
    get_similarity,
    keyword_coverage,
    memory_levenshtein,
    ordered_levenshtein,
)
from .common import Check, Table, has_widget_frontend, save_figure

__all__ = [
    "Check", "Table", "edit_script_table", "save_figure", "plot_alignment", "plot_alignments",
    "order_vs_set", "plot_order_vs_set", "reward_vs_threshold", "plot_reward_vs_threshold", "threshold_steps",
    "plot_mistake_rewards", "has_widget_frontend", "threshold_explorer", "explain", "check_reward",
    "check_largest_threshold", "check_dice", "check_order_example", "touched_reward_reference",
    "check_touched_reward", "full_assignment_credit", "check_shared_first_counterexample"
]

_RED = "#d62728"
_GROUP_COLORS = {("lexical", True): "#1f77b4", ("lexical", False): "#aec7e8",
                 ("embedding", True): "#ff7f0e", ("embedding", False): "#ffbb78",
                 ("exact", True): "#2ca02c", ("exact", False): "#98df8a"}


# ----- small helpers ---------------------------------------------------------------------------
def edit_script_table(result: OrderedResult, pred: Sequence[EntryLike], gold: Sequence[EntryLike]) -> Table:
    """The edit script of :func:`deltamem_lib.mld.ordered_levenshtein` as a table:
    one row per step (``match``/``sub``/``del``/``ins``) with the entries and the cost."""
    P, G = as_items(pred, "pred"), as_items(gold, "gold")
    rows = tuple((op, P[i].content if i is not None else "", G[j].content if j is not None else "", cost)
                 for op, i, j, cost in result.alignment)
    return Table(("step", "predicted entry", "gold entry", "cost"), rows)


def _wrap(text: str, width: int = 26) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _done(fig: Figure) -> Figure:
    """Detach from pyplot so the notebook shows the figure once (when it is returned)."""
    plt.close(fig)
    return fig


# ----- alignment heatmap -----------------------------------------------------------------------
def _alignment_panel(ax: Any, title: str, result: MLDResult, pred: Sequence[EntryLike],
                     gold: Sequence[EntryLike], threshold: float) -> dict[str, Any]:
    P, G = as_items(pred, "pred"), as_items(gold, "gold")
    rows = [P[i] for i in result.delta_pred]
    cols = [G[j] for j in result.delta_gold]
    S, C, Q = result.sim_matrix, result.cov_matrix, result.q_matrix
    label = "r_trans" if result.scope == "delta" else "r_state"
    head = (f"{title}\n" if title else "") + (
        f"{label} = {result.reward:.3f}   Q* = {result.q_total:.3f}   "
        f"|ΔP| = {len(rows)}, |ΔG| = {len(cols)}, shared = {len(result.shared)}")
    ax.set_title(head, fontsize=9, loc="left")
    matched = {(p.pred_index, p.gold_index): p for p in result.pairs}
    if not rows or not cols:
        side = "ΔP" if not rows else "ΔG"
        other = cols if not rows else rows
        lines = [f"{side} is empty: nothing to align."] + [
            f"{'missed' if not rows else 'spurious'}: {x.content}" for x in other]
        ax.text(0.02, 0.5, "\n".join(lines), va="center", fontsize=8, transform=ax.transAxes)
        ax.set_axis_off()
    else:
        ax.imshow(S, vmin=0.0, vmax=1.0, cmap="Blues", aspect="auto")
        for r in range(len(rows)):
            for c in range(len(cols)):
                s = float(S[r, c])
                txt = f"sim {s:.2f}"
                if s >= threshold:
                    txt += f"\ncov {float(C[r, c]):.2f}\nq {float(Q[r, c]):.2f}"
                else:
                    ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, hatch="///",
                                           edgecolor="0.75", linewidth=0))
                ax.text(c, r, txt, ha="center", va="center", fontsize=7.5,
                        color="white" if s > 0.65 else ("0.45" if s < threshold else "black"))
                if (result.delta_pred[r], result.delta_gold[c]) in matched:
                    ax.add_patch(Rectangle((c - 0.46, r - 0.46), 0.92, 0.92, fill=False,
                                           edgecolor=_RED, linewidth=2.5))
        used_p = {p for p, _ in matched}
        used_g = {g for _, g in matched}
        ylabels = [_wrap(x.content) for x in rows]
        xlabels = [_wrap(x.content + (f"  [{', '.join(x.keywords)}]" if x.keywords else ""), 22)
                   for x in cols]
        ax.set_yticks(range(len(rows)), ylabels, fontsize=8)
        ax.set_xticks(range(len(cols)), xlabels, fontsize=8)
        for lab, i in zip(ax.get_yticklabels(), result.delta_pred):
            lab.set_color("black" if i in used_p else _RED)
        for lab, j in zip(ax.get_xticklabels(), result.delta_gold):
            lab.set_color("black" if j in used_g else _RED)
        ax.set_ylabel("ΔP: predicted, not shared", fontsize=8)
        ax.set_xlabel("ΔG: gold [keywords], not shared\n(red label: unmatched; hatched: sim < τ)", fontsize=8)
    return {
        "title": title, "scope": result.scope, "reward": result.reward, "distance": result.distance,
        "normalized": result.normalized, "precision": result.precision, "recall": result.recall,
        "q_total": result.q_total, "threshold": threshold,
        "delta_pred": [x.content for x in rows], "delta_gold": [x.content for x in cols],
        "gold_keywords": [list(x.keywords) for x in cols],
        "shared": [P[i].content for i, _ in result.shared],
        "sim": np.asarray(S, dtype=float).round(6).tolist(),
        "cov": np.asarray(C, dtype=float).round(6).tolist(),
        "q": np.asarray(Q, dtype=float).round(6).tolist(),
        "pairs": [{"pred": p.pred, "gold": p.gold, "sim": p.sim, "cov": p.cov, "q": p.q}
                  for p in result.pairs],
    }


def plot_alignments(panels: Sequence[tuple[str, MLDResult, Sequence[EntryLike], Sequence[EntryLike]]], *,
                    threshold: float = 0.5, save_dir: str | os.PathLike[str] | None = None,
                    name: str = "alignment") -> Figure:
    """Side-by-side alignment heatmaps, one per ``(title, result, pred, gold)``.

    ``result`` must come from ``memory_levenshtein(pred, gold, threshold=threshold, ...)``:
    rows are ΔP, columns ΔG, each cell shows ``sim`` (and ``cov``, ``q`` where
    ``sim ≥ τ``), the optimal matching is boxed in red, unmatched entries have red labels.
    """
    if not panels:
        raise ValueError("plot_alignments: give at least one (title, result, pred, gold) panel")
    widths = [max(2.6, 1.9 * max(len(r.delta_gold), 1)) for _, r, _, _ in panels]
    height = max(2.8, 1.05 * max(max(len(r.delta_pred), 1) for _, r, _, _ in panels) + 2.2)
    fig, axes = plt.subplots(1, len(panels), figsize=(sum(widths) + 2.6 * len(panels), height),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    data = [_alignment_panel(ax, *panel, threshold) for ax, panel in zip(axes[0], panels)]
    fig.tight_layout()
    save_figure(fig, {"threshold": threshold, "panels": data}, save_dir, name)
    return _done(fig)


def plot_alignment(result: MLDResult, pred: Sequence[EntryLike], gold: Sequence[EntryLike], *,
                   title: str = "", threshold: float = 0.5,
                   save_dir: str | os.PathLike[str] | None = None, name: str = "alignment") -> Figure:
    """One alignment heatmap (see :func:`plot_alignments`)."""
    return plot_alignments([(title, result, pred, gold)], threshold=threshold, save_dir=save_dir, name=name)


# ----- order versus set ------------------------------------------------------------------------
def order_vs_set(pred: Sequence[EntryLike], gold: Sequence[EntryLike], *, n_orders: int = 24, seed: int = 0,
                 similarity: SimilaritySpec = "lexical", threshold: float = 0.5,
                 lexical_fidelity: bool = True) -> list[dict[str, Any]]:
    """Ordered edit distance and set distance (MLD) for several orderings of ``pred``.

    The first record is the order given; the others are distinct permutations (all of
    them when there are at most ``n_orders``). Returns ``order`` (indices into ``pred``),
    ``ordered_distance`` and ``set_distance`` per record.
    """
    n = len(pred)
    perms: list[tuple[int, ...]] = [tuple(range(n))]
    if n <= 6 and len(perms) < n_orders:
        perms += [p for p in itertools.permutations(range(n)) if p != perms[0]][: n_orders - 1]
    else:
        rng, seen = random.Random(seed), set(perms)
        while len(perms) < n_orders and len(seen) < 10 * n_orders:
            p = tuple(rng.sample(range(n), n))
            if p not in seen:
                seen.add(p)
                perms.append(p)
    opts = MLDOptions(similarity=get_similarity(similarity), threshold=threshold,
                      lexical_fidelity=lexical_fidelity)
    out = []
    for p in perms:
        shuffled = [pred[i] for i in p]
        out.append({"order": list(p), "ordered_distance": opts.ordered(shuffled, gold).distance,
                    "set_distance": opts.score(shuffled, gold).distance})
    return out


def plot_order_vs_set(records: Sequence[Mapping[str, Any]], *, title: str = "",
                      save_dir: str | os.PathLike[str] | None = None, name: str = "order_vs_set") -> Figure:
    """Dots: ordered edit distance per ordering of the prediction; line: the set distance."""
    recs = sorted(records, key=lambda r: r["ordered_distance"])
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    x = np.arange(len(recs))
    ax.plot(x, [r["ordered_distance"] for r in recs], "o", color="#1f77b4",
            label="ordered edit distance (Levenshtein DP)")
    ax.plot(x, [r["set_distance"] for r in recs], "-", color=_RED, lw=2,
            label="set distance (MLD, assignment)")
    ax.set_xlabel("orderings of the same predicted memory (sorted)")
    ax.set_ylabel("distance to the gold state")
    ax.set_ylim(0, max(r["ordered_distance"] for r in recs) * 1.25 + 0.1)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title or "The order of a memory changes the ordered distance, not the set distance",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, {"records": list(records)}, save_dir, name)
    return _done(fig)


# ----- reward against the threshold ------------------------------------------------------------
def reward_vs_threshold(pred: Sequence[EntryLike], gold: Sequence[EntryLike], *,
                        taus: Sequence[float] | None = None, similarity: SimilaritySpec = "lexical",
                        fidelity: Iterable[bool] = (True, False),
                        scope: str = "delta") -> list[dict[str, Any]]:
    """``r_trans`` (or ``r_state``) for each ``τ`` in ``taus`` (default 0, 0.01, …, 1)."""
    grid = [round(float(t), 4) for t in (np.linspace(0, 1, 101) if taus is None else taus)]
    sim = get_similarity(similarity)
    return [{"threshold": t, "lexical_fidelity": bool(f), "scope": scope,
             "reward": memory_levenshtein(pred, gold, similarity=sim, threshold=t,
                                          lexical_fidelity=f, scope=scope).reward}
            for f in fidelity for t in grid]


def threshold_steps(records: Sequence[Mapping[str, Any]], *, lexical_fidelity: bool = False) -> list[float]:
    """Where a curve of :func:`reward_vs_threshold` steps down: the last ``τ`` of the grid before each
    drop of the reward (the similarity of a pair that stops earning there), for one fidelity setting.
    A page describing the figure quotes these, so its text names the steps of the backend it drew."""
    rs = sorted((r for r in records if r["lexical_fidelity"] == lexical_fidelity),
                key=lambda r: r["threshold"])
    return [a["threshold"] for a, b in zip(rs, rs[1:]) if b["reward"] < a["reward"] - 1e-12]


def plot_reward_vs_threshold(records: Sequence[Mapping[str, Any]], *, threshold: float | None = None,
                             title: str = "", save_dir: str | os.PathLike[str] | None = None,
                             name: str = "reward_vs_threshold") -> Figure:
    """Reward against ``τ``, one step curve per fidelity setting; ``threshold`` is marked."""
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for fid, color, lw in ((False, "#ffbb78", 4.0), (True, "#1f77b4", 1.8)):  # "on" drawn over "off"
        rs = [r for r in records if r["lexical_fidelity"] == fid]
        if not rs:
            continue
        ax.step([r["threshold"] for r in rs], [r["reward"] for r in rs], where="post", color=color,
                lw=lw, label=f"lexical fidelity {'on' if fid else 'off'}")
        if threshold is not None:
            at = min(rs, key=lambda r: abs(r["threshold"] - threshold))
            ax.annotate(f"{at['reward']:.3f}", (at["threshold"], at["reward"]), textcoords="offset points",
                        xytext=(6, 6 if fid else -12), color=color if fid else "#e6550d", fontsize=8)
    if threshold is not None:
        ax.axvline(threshold, color="0.4", ls="--", lw=1, label=f"τ = {threshold:g}")
    ax.set_xlabel("threshold τ (pairs with sim < τ earn nothing)")
    ax.set_ylabel("r_trans" if all(r.get("scope", "delta") == "delta" for r in records) else "reward")
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title(title or "Reward as the threshold moves", fontsize=9)
    fig.tight_layout()
    save_figure(fig, {"threshold": threshold, "records": list(records)}, save_dir, name)
    return _done(fig)


# ----- reward per mistake ----------------------------------------------------------------------
def plot_mistake_rewards(records: Sequence[Mapping[str, Any]], *, title: str = "",
                         save_dir: str | os.PathLike[str] | None = None, name: str = "mistakes") -> Figure:
    """Mean reward (± sd over scenarios) per mistake; one panel per scope, one bar per
    (similarity backend, lexical fidelity). ``records`` from
    :func:`deltamem_lib.mistakes.mistake_rewards` (several calls may be concatenated)."""
    if not records:
        raise ValueError("plot_mistake_rewards: no records")
    mistakes = list(dict.fromkeys(r["mistake"] for r in records))
    scopes = list(dict.fromkeys(r["scope"] for r in records))
    groups = list(dict.fromkeys((r["similarity"], r["lexical_fidelity"]) for r in records))
    index = {(r["mistake"], r["scope"], r["similarity"], r["lexical_fidelity"]): r for r in records}
    height = 0.8 / len(groups)
    fig, axes = plt.subplots(1, len(scopes),
                             figsize=(5.2 * len(scopes), 0.55 * len(mistakes) * max(1, len(groups) / 2)
                                      + 1.6), sharey=True, squeeze=False)
    for ax, scope in zip(axes[0], scopes):
        for g, (sim, fid) in enumerate(groups):
            ys, means, sds = [], [], []
            for m, mistake in enumerate(mistakes):
                r = index.get((mistake, scope, sim, fid))
                if r is None:
                    continue
                ys.append(m - 0.4 + height * (g + 0.5))
                means.append(r["mean"])
                sds.append(r["std"])
            color = _GROUP_COLORS.get((sim, fid), f"C{g}")
            ax.barh(ys, means, height=height * 0.95, xerr=sds, color=color, ecolor="0.3", capsize=2,
                    hatch=None if fid else "//", edgecolor="white" if fid else "0.35", linewidth=0.4,
                    label=f"{sim}, fidelity {'on' if fid else 'off'}")
            for y, v, sd in zip(ys, means, sds):
                ax.text(min(v + sd, 1.0) + 0.02, y, f"{v:.2f}", va="center", fontsize=6.5)
        ax.set_xlim(0, 1.12)
        ax.axvline(1.0, color="0.8", lw=0.8)
        ax.set_title({"delta": "r_trans (dense: the workbook's reward)",
                      "residual": "residual normalisation (ablation)"}.get(scope,
                                                                           "r_state (whole states, "
                                                                           "ablation)"),
                     fontsize=9)
        ax.set_xlabel("reward")
    axes[0][0].invert_yaxis()  # shared y: the first mistake on top in every panel
    axes[0][0].set_yticks(range(len(mistakes)), [m.replace("_", " ") for m in mistakes], fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(groups), fontsize=8, frameon=False)
    n = max(r["n"] for r in records)
    fig.suptitle(title or f"Reward per typical mistake (mean ± sd over {n} scenarios)", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    save_figure(fig, {"records": list(records)}, save_dir, name)
    return _done(fig)


# ----- interactive explorer --------------------------------------------------------------------
def threshold_explorer(pred: Sequence[EntryLike], gold: Sequence[EntryLike], *,
                       similarity: SimilaritySpec = "lexical", threshold: float = 0.5,
                       lexical_fidelity: bool = True, interactive: bool | None = None,
                       save_dir: str | os.PathLike[str] | None = None,
                       name: str = "threshold_explorer") -> Any:
    """Explore ``τ`` and lexical fidelity on one comparison.

    With a live front end (``interactive=None`` asks :func:`has_widget_frontend`) it returns
    an ipywidgets box — a ``τ`` slider and a fidelity checkbox redrawing the alignment
    heatmap. Without one it returns the static view: reward against ``τ`` for both fidelity
    settings, the chosen ``τ`` marked (saved under ``name`` if ``save_dir`` is given).
    """
    sim = get_similarity(similarity)
    if interactive is None:
        interactive = has_widget_frontend()
    if not interactive:
        records = reward_vs_threshold(pred, gold, similarity=sim)
        return plot_reward_vs_threshold(records, threshold=threshold, save_dir=save_dir, name=name,
                                        title=f"Reward as τ moves ({sim.name} similarity)")
    import ipywidgets as widgets
    from IPython.display import display

    slider = widgets.FloatSlider(value=threshold, min=0.0, max=1.0, step=0.01, description="τ",
                                 continuous_update=False)
    box = widgets.Checkbox(value=lexical_fidelity, description="lexical fidelity")
    out = widgets.Output()

    def redraw(tau: float, fid: bool) -> None:
        res = memory_levenshtein(pred, gold, similarity=sim, threshold=tau, lexical_fidelity=fid)
        out.clear_output(wait=True)
        with out:
            display(plot_alignment(res, pred, gold, threshold=tau,
                                   title=f"τ = {tau:.2f}, fidelity {'on' if fid else 'off'}"))

    widgets.interactive_output(redraw, {"tau": slider, "fid": box})
    return widgets.VBox([widgets.HBox([slider, box]), out])


# ----- exercises --------------------------------------------------------------------------------
def _fmt_items(items: Sequence[str]) -> str:
    return ", ".join(f"“{s}”" for s in items) if items else "∅"


def explain(result: MLDResult, pred: Sequence[EntryLike], gold: Sequence[EntryLike],
            threshold: float = 0.5) -> str:
    """The computation behind ``result`` in a few Markdown lines: E, ΔP, ΔG, pairs, formula."""
    P, G = as_items(pred, "pred"), as_items(gold, "gold")
    dp = [P[i].content for i in result.delta_pred]
    dg = [G[j].content for j in result.delta_gold]
    lines = [f"- shared E ({len(result.shared)}): {_fmt_items([P[i].content for i, _ in result.shared])}",
             f"- ΔP ({len(dp)}): {_fmt_items(dp)}", f"- ΔG ({len(dg)}): {_fmt_items(dg)}"]
    for p in result.pairs:
        lines.append(f"- matched “{p.pred}” ↔ “{p.gold}”: sim {p.sim:.3f}, cov {p.cov:.2f}, q {p.q:.3f}")
    S, C = result.sim_matrix, result.cov_matrix
    for r, i in enumerate(result.delta_pred):
        for c, j in enumerate(result.delta_gold):
            if any(p.pred_index == i and p.gold_index == j for p in result.pairs):
                continue
            if S[r, c] >= threshold and C[r, c] < 1:
                lines.append(f"- “{P[i].content}” vs “{G[j].content}”: sim {S[r, c]:.3f} ≥ τ, but "
                             f"cov {C[r, c]:.2f} (keywords {list(G[j].keywords)})")
    n = len(dp) + len(dg)
    if result.scope == "delta" and result.normalizer == "transitions":
        tp, tg = result.transitions
        formula = (f"MLD = |ΔP|+|ΔG|−2·Q* = {n}−2·{result.q_total:.3f} = {result.distance:.3f}; "
                   f"N = |P⊖B|+|G⊖B| = {tp}+{tg}; r_trans = 1 − MLD/N = {result.reward:.3f}" if tp + tg
                   else "nothing was due and nothing was done: r_trans = 1")
    elif result.scope == "delta":
        formula = (f"residual normalisation: 2·Q*/(|ΔP|+|ΔG|) = 2·{result.q_total:.3f}/{n} = "
                   f"{result.reward:.3f}"
                   if n else "both deltas are empty: the state is exactly right, reward 1")
    else:
        formula = (f"r_state = 2·(|E|+Q*)/(|P|+|G|) = 2·({len(result.shared)}+{result.q_total:.3f})/"
                   f"{result.n_pred + result.n_gold} = {result.reward:.3f}")
    lines.append(f"- {formula}")
    return "\n".join(lines)


def _no_answer(answer: Any, what: str) -> Check | None:
    if answer is None or answer is Ellipsis:
        return Check(None, f"Write down {what} first (replace `None`), then run the cell again.")
    if not isinstance(answer, (int, float)) or isinstance(answer, bool) or math.isnan(answer):
        return Check(False, f"Expected a number for {what}, got {answer!r}.")
    return None


def check_reward(answer: float | None, pred: Sequence[EntryLike], gold: Sequence[EntryLike], *,
                 tol: float = 0.01, similarity: SimilaritySpec = "lexical", threshold: float = 0.5,
                 lexical_fidelity: bool = True, scope: str = "delta",
                 before: Sequence[EntryLike] | None = None) -> Check:
    """Is ``answer`` the reward of ``pred`` against ``gold`` (within ``tol``)? Shows the computation.
    With ``before`` (the state before the session) the delta scope is the dense ``r_trans``."""
    early = _no_answer(answer, "your predicted reward")
    if early is not None:
        return early
    res = memory_levenshtein(pred, gold, similarity=similarity, threshold=threshold,
                             lexical_fidelity=lexical_fidelity, scope=scope, before=before)
    why = explain(res, pred, gold, threshold)
    if abs(float(answer) - res.reward) <= tol:  # type: ignore[arg-type]
        return Check(True, f"The reward is {res.reward:.3f}.\n\n{why}")
    # type: ignore[arg-type]
    return Check(False, f"You said {float(answer):.3f}; the reward is {res.reward:.3f}. "
                        f"Here is the computation:\n\n{why}")


def check_largest_threshold(answer: float | None, pred: Sequence[EntryLike], gold: Sequence[EntryLike], *,
                            tol: float = 0.005, similarity: SimilaritySpec = "lexical") -> Check:
    """Is ``answer`` the largest ``τ`` at which ``pred`` still earns some credit with lexical
    fidelity off? That is the largest ``sim`` between ΔP and ΔG, since credit needs ``sim ≥ τ``."""
    early = _no_answer(answer, "the largest τ")
    if early is not None:
        return early
    res = memory_levenshtein(pred, gold, similarity=similarity, threshold=0.0, lexical_fidelity=False)
    S = res.sim_matrix
    if S.size == 0:
        return Check(False, "ΔP or ΔG is empty here: no τ gives credit, the question has no answer.")
    r, c = np.unravel_index(int(np.argmax(S)), S.shape)
    best = float(S[r, c])
    P, G = as_items(pred), as_items(gold)
    pair = f"“{P[res.delta_pred[r]].content}” vs “{G[res.delta_gold[c]].content}”"
    if abs(float(answer) - best) <= tol:  # type: ignore[arg-type]
        return Check(True, f"The most similar pair, {pair}, has sim {best:.3f}; credit needs sim ≥ τ, "
                           f"so any τ above {best:.3f} takes the stale credit away — and lexical fidelity "
                           "takes it away at every τ.")
    hint = ("Too low: at that τ the pair still earns credit." if answer < best  # type: ignore[operator]
            else "Too high: at that τ no pair earns credit any more.")
    return Check(False, f"{hint} Look for the largest sim between a ΔP entry and a ΔG entry "
                        f"(the alignment heatmap shows it): it is {pair}.")


_DICE_CASES: tuple[tuple[str, str, str], ...] = (
    ("User lives in Berlin now", "User lives in Berlin", "2·|shared tokens| / (|T(p)| + |T(g)|)"),
    ("User lives in Hamburg", "User lives in Berlin", "2·|shared tokens| / (|T(p)| + |T(g)|)"),
    ("The user's home is in Berlin", "user lives in berlin",
     "tokens are `re.findall(r'\\w+', s.lower())`: lower case, and `user's` is two tokens"),
    ("a a a b", "a b b", "a repeated token counts min(count in p, count in g) times: `(Counter(p) & "
                         "Counter(g))`"),
    ("Hello, WORLD!", "hello world", "case and punctuation do not matter: `re.findall(r'\\w+', s.lower())`"),
    ("", "User works as a nurse", "an empty side shares nothing"),
    ("", "", "both empty gives 0 (the spec's convention), not a division by zero"),
    ("x", "y", "no shared token gives 0"),
)


def check_dice(fn: Callable[[str, str], float]) -> Check:
    """Does ``fn(p, g)`` compute the spec's lexical similarity (Dice of token multisets)?"""
    lex = LexicalSimilarity()
    for a, b, hint in _DICE_CASES:
        want = float(lex.matrix([Item.of(a)], [Item.of(b)])[0, 0])
        try:
            got = fn(a, b)
        except NotImplementedError:
            return Check(None, "`dice` is not written yet: replace the `raise NotImplementedError`.")
        except Exception as exc:  # noqa: BLE001 - the reader's code may fail in any way
            return Check(False, f"`dice({a!r}, {b!r})` raised {type(exc).__name__}: {exc}. Hint: {hint}.")
        if not isinstance(got, (int, float)) or not math.isclose(float(got), want, abs_tol=1e-9):
            return Check(False, f"`dice({a!r}, {b!r})` returned {got!r}, the spec gives {want:.4f}. Hint: "
                                f"{hint}.")
    return Check(True, f"`dice` agrees with the library on all {len(_DICE_CASES)} cases "
                       "(repeated tokens, case, punctuation, empty strings).")


def check_order_example(pred_a: Sequence[EntryLike] | None, pred_b: Sequence[EntryLike] | None,
                        gold: Sequence[EntryLike], *,
                        similarity: SimilaritySpec = "lexical", threshold: float = 0.5) -> Check:
    """Are ``pred_a`` and ``pred_b`` the same memory in two orders whose *ordered* distances
    to ``gold`` differ? (Their set rewards are then equal: the check shows it.)"""
    if pred_a is None or pred_b is None:
        return Check(None, "Fill in `pred_a` and `pred_b` (the same entries in two orders), then run again.")
    A, B = as_items(pred_a, "pred_a"), as_items(pred_b, "pred_b")
    if not A:
        return Check(False, "`pred_a` is empty: list a few entries.")
    if Counter(x.key for x in A) != Counter(x.key for x in B):
        return Check(False, "`pred_a` and `pred_b` must hold the same entries, only in another order.")
    sim = get_similarity(similarity)
    kw = {"similarity": sim, "threshold": threshold}
    oa, ob = ordered_levenshtein(pred_a, gold, **kw).distance, ordered_levenshtein(pred_b, gold,
                                                                                   **kw).distance
    sa, sb = memory_levenshtein(pred_a, gold, **kw), memory_levenshtein(pred_b, gold, **kw)
    sets = f"the set distance is {sa.distance:.3f} for both (r_trans {sa.reward:.3f})"
    assert math.isclose(sa.reward, sb.reward), "set reward depends on order: report this as a library bug"
    if math.isclose(oa, ob):
        return Check(False, f"Both orders have ordered distance {oa:.3f}; {sets}. Move an entry that "
                            "matches a gold entry to the other end of the list.")
    return Check(True, f"Ordered distances {oa:.3f} vs {ob:.3f}, while {sets}: the order of a memory "
                       "changes the ordered edit distance but not the set distance.")


def _entries(x: MemoryState | Sequence[EntryLike]) -> list[EntryLike]:
    return list(x.entries) if isinstance(x, MemoryState) else list(x)


def touched_reward_reference(before: MemoryState | Sequence[EntryLike],
                             pred: MemoryState | Sequence[EntryLike], gold: MemoryState | Sequence[EntryLike],
                             *, similarity: SimilaritySpec = "lexical", threshold: float = 0.5,
                             lexical_fidelity: bool = True) -> float:
    """The solution of exercise 6: the library's opt-in ``scope="transition"`` (not the spec's
    reward). It drops the entries identical in all three of ``before``, ``pred`` and ``gold``
    (what the session left untouched and the manager kept), then scores the rest as whole
    states (``scope="state"``), so correct changes earn credit; 1 when nothing is left."""
    return memory_levenshtein(_entries(pred), _entries(gold), similarity=similarity, threshold=threshold,
                              lexical_fidelity=lexical_fidelity, scope="transition",
                              before=_entries(before)).reward


def check_touched_reward(fn: Callable[..., float], *, n_scenarios: int = 3, seed: int = 0) -> Check:
    """Does ``fn(before, pred, gold)`` (MemoryState arguments) match
    :func:`touched_reward_reference` on every mistake of a few scenarios?"""
    checked = 0
    for s in make_scenarios(n_scenarios, seed=seed):
        gold = s.after
        for name, p in predictions(s).items():
            want = touched_reward_reference(s.before, p.state, gold)
            try:
                got = fn(s.before, p.state, gold)
            except NotImplementedError:
                return Check(None, "`touched_reward` is not written yet: replace the `raise "
                                   "NotImplementedError`.")
            except Exception as exc:  # noqa: BLE001
                return Check(False, f"on mistake `{name}` your function raised {type(exc).__name__}: {exc}")
            if not isinstance(got, (int, float)) or not math.isclose(float(got), want, abs_tol=1e-6):
                return Check(False, f"on mistake `{name}` you return {got!r}, expected {want:.4f}.\n\n"
                                    f"```\n{s.render()}\n```\nHint: remove only entries present in all three "
                                    "states (a multiset intersection), then call `memory_levenshtein(..., "
                                    "scope=\"state\")` on what is left.")
            checked += 1
    return Check(True, f"Matches the reference on {checked} (scenario, mistake) pairs.")


def full_assignment_credit(pred: Sequence[EntryLike], gold: Sequence[EntryLike], *, threshold: float = 0.5,
                           lexical_fidelity: bool = True) -> float:
    """Best total credit of a one-to-one matching of *all* of ``pred`` and ``gold`` (identical
    entries q = 1, others the spec's q with lexical similarity), without removing the shared
    part first. The spec's credit is ``|E| + Q*``."""
    P, G = as_items(pred, "pred"), as_items(gold, "gold")
    if not P or not G:
        return 0.0
    S = LexicalSimilarity().matrix(P, G)
    Q = np.zeros_like(S)
    for i, p in enumerate(P):
        for j, g in enumerate(G):
            if p.key == g.key:
                Q[i, j] = 1.0
            elif S[i, j] >= threshold:
                Q[i, j] = S[i, j] * (keyword_coverage(p.toks, g.kw_toks) if lexical_fidelity else 1.0)
    r, c = linear_sum_assignment(Q, maximize=True)
    return float(Q[r, c].sum())


def check_shared_first_counterexample(pred: Sequence[EntryLike] | None, gold: Sequence[EntryLike] | None, *,
                                      threshold: float = 0.5) -> Check:
    """Is this a case where removing the identical entries first (spec step 1) gives less
    credit than one assignment over all entries?"""
    if pred is None or gold is None:
        return Check(None, "Fill in `pred` and `gold`, then run again.")
    if not as_items(pred) or not as_items(gold):
        return Check(False, "Both lists need entries.")
    res = memory_levenshtein(pred, gold, threshold=threshold, scope="state")
    spec = len(res.shared) + res.q_total
    full = full_assignment_credit(pred, gold, threshold=threshold)
    if full > spec + 1e-9:
        return Check(True, f"Removing the shared part first gives credit |E| + Q* = {spec:.3f}; one "
                           f"assignment over everything gives {full:.3f}. Breaking an identical pair frees "
                           "two entries that each match something else well.")
    return Check(False, f"Both give credit {spec:.3f}. You need an identical pair (p ≡ g) where p is also "
                        "similar to another gold entry and g to another prediction, while those two are not "
                        "similar to each other. Short made-up sentences like 'c c d' make it easier.")
