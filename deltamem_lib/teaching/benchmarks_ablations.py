"""Notebook 05, benchmarks and ablations (DeltaMem §4): the paper's results tables with measured
rows beside them, the notebook's figures, and the checks of its exercises.

Published numbers are quoted from ``docs/paper_notes.md`` §1 (DeltaMem's tables:
GPT-4o-mini answers for every system, judge not disclosed) and ``docs/benchmark_protocols.md``
(HaluMem leaderboard, judge GPT-4o). Every measured row carries its labels — system, memory
model, answer model, judge, profile (:func:`deltamem_lib.benchmarks.runner.label_line`) — because a score
depends on all of them (``docs/benchmark_protocols.md`` §1: answer prompt and judge move J by ten points).

Figure functions return a matplotlib ``Figure`` and, given ``save_dir``, write the PNG and the
numbers behind it as JSON (:func:`~.common.save_figure`). Nothing here prints. Predict-then-check questions
compare the reader's number with what the library computes and say why; the coding task runs the
reader's answerer on the tiny LoCoMo fixture.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..ablation_names import label_of
from ..benchmarks.locomo import (
    CATEGORY_NAMES,
    MEM0_CATEGORY_NAMES,
    bleu1,
    load_locomo,
    locomo_f1,
    mem0_tokenize,
    scored_questions,
)
from ..benchmarks.provenance import evidence_recall_at_k
from ..benchmarks.runner import label_line, result_data_label, summary_line
from .common import Check, Table, save_figure

__all__ = [
    "Check", "FIXTURE", "LOCOMO_COLUMNS", "PUBLISHED_HALUMEM", "PUBLISHED_LOCOMO_F1",
    "PUBLISHED_LOCOMO_J", "PUBLISHED_PERSONAMEM", "check_answerer", "check_evidence_recall", "check_f1",
    "check_mem0_label", "data_labels", "halumem_table", "identical_groups", "locomo_f1_table",
    "locomo_j_table", "mem0_relabel_check", "personamem_table", "plot_cumulative", "plot_mistake_rewards",
    "plot_recall_at_k", "summary_line"
]

#: Columns of the paper's LoCoMo table, official category names (category number in brackets).
LOCOMO_COLUMNS: tuple[tuple[str, int | str], ...] = (
    ("single-hop", 4), ("multi-hop", 1), ("temporal", 2), ("open-domain", 3), ("overall", "overall"))

_PAPER = "DeltaMem paper §4 (docs/benchmark_protocols.md §5); answers GPT-4o-mini, judge not disclosed"

#: LLM-judge accuracy (%), official categories (DeltaMem §4; docs/benchmark_protocols.md §5).
PUBLISHED_LOCOMO_J: tuple[tuple[str, float, float, float, float, float], ...] = (
    ("A-Mem", 54.05, 39.79, 49.91, 18.85, 48.38),
    ("Mem0", 60.88, 52.84, 59.50, 40.62, 57.86),
    ("LangMem", 71.12, 62.23, 23.43, 47.92, 58.11),
    ("Zep", 76.60, 61.70, 49.31, 41.35, 65.99),
    ("LightMem", 72.06, 53.90, 69.16, 44.79, 66.43),
    ("DeltaMem-4B (prompted)", 75.62, 61.35, 70.09, 47.92, 70.13),
    ("DeltaMem-8B (prompted)", 77.41, 61.70, 69.78, 46.88, 71.04),
    ("DeltaMem-4o-mini (prompted)", 80.38, 58.87, 73.21, 47.92, 72.92),
    ("DeltaMem-4B-RL", 80.02, 65.60, 72.59, 51.04, 74.03),
    ("DeltaMem-8B-RL", 82.05, 64.18, 73.83, 51.04, 75.13),
)

#: LoCoMo F1 and BLEU-1 (%), overall (DeltaMem §4; docs/benchmark_protocols.md §5).
PUBLISHED_LOCOMO_F1: tuple[tuple[str, float, float], ...] = (
    ("Mem0", 42.55, 33.79), ("LightMem", 44.81, 34.17), ("DeltaMem-8B-RL", 50.72, 39.78))

#: HaluMem (Medium, per docs/benchmark_protocols.md §2 and §5): extraction F1, update correct,
#: QA correct (%); ``None`` where the source gives no number.
PUBLISHED_HALUMEM: tuple[tuple[str, float | None, float | None, float | None, str], ...] = (
    ("MemOS", 79.70, 62.11, 67.23, "HaluMem leaderboard (docs/benchmark_protocols.md §2), judge GPT-4o"),
    ("Zep", None, 47.28, 55.47, "HaluMem leaderboard (docs/benchmark_protocols.md §2), judge GPT-4o"),
    ("Mem0", 57.31, 25.50, 53.02, "HaluMem leaderboard (docs/benchmark_protocols.md §2), judge GPT-4o"),
    ("DeltaMem-8B (prompted)", 68.02, None, None, _PAPER + "; 'memory extraction' score"),
    ("DeltaMem-8B-RL", 80.65, 41.54, 66.43, _PAPER + "; 'memory extraction' score"),
)

#: PersonaMem overall accuracy (%) (docs/benchmark_protocols.md §5 marks it secondary, split not stated).
PUBLISHED_PERSONAMEM: tuple[tuple[str, float], ...] = (
    ("Mem0", 43.12), ("Supermemory", 53.88), ("Zep", 56.71), ("Memobase", 58.89),
    ("DeltaMem-4o-mini (prompted)", 59.71), ("DeltaMem-8B-RL", 63.61))


def _pct(v: Any) -> Any:
    return "–" if v is None else round(100 * v, 2)


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> Any:
    return Table(tuple(columns), tuple(tuple(r) for r in rows), digits=2, title=title)


def data_labels(results: Sequence[Mapping[str, Any]]) -> str:
    """The data sources of ``results``, each once, joined: "sample", "locomo10.json", or
    "sample and locomo10.json" when a table mixes them."""
    return " and ".join(dict.fromkeys(result_data_label(r) for r in results))


def _measured(res: Mapping[str, Any]) -> str:
    return f"measured: {res['labels']['system']} ({result_data_label(res)})"


def _title(what: str, measured: Sequence[Mapping[str, Any]]) -> str:
    if not measured:
        return f"{what}: published numbers only"
    return f"{what}: published numbers, and measured rows on {data_labels(measured)}"


def locomo_j_table(measured: Sequence[Mapping[str, Any]] = ()) -> Any:
    """The paper's LoCoMo table (J, %) with a measured row per run: J where a judge was given,
    else "not computed"."""
    cols = ["system", *[c for c, _ in LOCOMO_COLUMNS], "source / labels"]
    rows: list[list[Any]] = [[name, *vals, "paper"] for name, *vals in PUBLISHED_LOCOMO_J]
    for res in measured:
        m = res["metrics"]
        if m.get("j") is None:
            cells = ["not computed"] * len(LOCOMO_COLUMNS)
        else:
            by = {r["category"]: r.get("J") for r in m["per_category"]}
            cells = [_pct(by.get(key)) for _, key in LOCOMO_COLUMNS]
        rows.append([_measured(res), *cells, label_line(res)])
    return _table(cols, rows, _title("LoCoMo, LLM-judge accuracy J (%)", measured))


def locomo_f1_table(measured: Sequence[Mapping[str, Any]] = (), *, per_category: bool = True) -> Any:
    """Published LoCoMo F1 / BLEU-1 (overall) and the measured ones; with ``per_category`` the
    measured rows also give F1 per official category."""
    cats = [c for c, key in LOCOMO_COLUMNS if key != "overall"] if per_category else []
    cols = ["system", "questions", "F1", "BLEU-1", *[f"F1 {c}" for c in cats], "source / labels"]
    rows: list[list[Any]] = [[n, "1540", f, b, *["–"] * len(cats), "paper"]
                             for n, f, b in PUBLISHED_LOCOMO_F1]
    for res in measured:
        m = res["metrics"]
        by = {r["category"]: r for r in m["per_category"]}
        keys = dict(LOCOMO_COLUMNS)
        cells = [_pct(by[keys[c]]["F1"]) if keys[c] in by else "–" for c in cats]
        rows.append([_measured(res), m["questions"], _pct(m["f1"]), _pct(m["bleu1"]),
                     *cells, label_line(res)])
    return _table(cols, rows, _title("LoCoMo, F1 and BLEU-1 (%)", measured))


def halumem_table(measured: Sequence[Mapping[str, Any]] = ()) -> Any:
    """Published HaluMem numbers (%) with measured rows (judged metrics or "not computed")."""
    cols = ["system", "extraction F1", "update correct", "QA correct", "source / labels"]
    rows: list[list[Any]] = [[n, *("–" if v is None else v for v in (f1, u, qa)), src]
                             for n, f1, u, qa, src in PUBLISHED_HALUMEM]
    for res in measured:
        m = res["metrics"]
        f1 = _pct(m["extraction"]["f1"]) if "extraction" in m else "not computed"
        up = _pct(m["update"]["correct"]) if "update" in m else "not computed"
        qa = _pct(m["qa"]["correct"]) if "qa" in m else "not computed"
        rows.append([_measured(res), f1, up, qa, f"{label_line(res)} · file {res['data']['path']}"])
    return _table(cols, rows, _title("HaluMem (%)", measured))


def personamem_table(measured: Sequence[Mapping[str, Any]] = ()) -> Any:
    """Published PersonaMem accuracies (%) with measured rows."""
    cols = ["system", "questions", "accuracy", "source / labels"]
    rows: list[list[Any]] = [[n, "589?", v, "paper (secondary source; split not stated)"]
                             for n, v in PUBLISHED_PERSONAMEM]
    for res in measured:
        m = res["metrics"]
        rows.append([_measured(res), m["questions"], _pct(m["accuracy"]),
                     f"{label_line(res)} · file {res['data']['path']}"])
    return _table(cols, rows, _title("PersonaMem, accuracy (%)", measured))


def mem0_relabel_check() -> list[tuple[str, str, float, float]]:
    """The LangMem and Zep rows of the paper equal the Mem0 paper's numbers (docs/benchmark_protocols.md §1)
    once Mem0's category labels are translated to the official ones: evidence that the paper's
    table uses the official convention. Returns ``(system, official column, paper value,
    Mem0-paper value)`` for every cell."""
    # Mem0 paper, Table 1, in Mem0's own labels (docs/benchmark_protocols.md §1 "Published numbers").
    mem0_paper = {"LangMem": {"single-hop": 62.23, "multi-hop": 47.92, "open-domain": 71.12,
                              "temporal": 23.43},
                  "Zep": {"single-hop": 61.70, "multi-hop": 41.35, "open-domain": 76.60, "temporal": 49.31}}
    paper = {name: dict(zip([c for c, _ in LOCOMO_COLUMNS], vals)) for name, *vals in PUBLISHED_LOCOMO_J}
    out = []
    for system, cells in mem0_paper.items():
        for mem0_label, value in cells.items():
            cat = next(k for k, v in MEM0_CATEGORY_NAMES.items() if v == mem0_label)
            official = CATEGORY_NAMES[cat]
            out.append((system, official, paper[system][official], value))
    return out


# ----------------------------------------------------------------------------- figures
def identical_groups(series: Sequence[Sequence[Any]], *, tol: float = 1e-9) -> list[list[int]]:
    """Indices of ``series`` grouped by equal values (within ``tol``), in first-seen order: series
    that coincide are drawn once, labelled "A = B", instead of one hiding the other."""
    groups: list[list[int]] = []
    for i, s in enumerate(series):
        vals = [float("nan") if v is None else float(v) for v in s]
        for g in groups:
            ref = [float("nan") if v is None else float(v) for v in series[g[0]]]
            if len(ref) == len(vals) and all(math.isclose(a, b, abs_tol=tol)
                                             or (math.isnan(a) and math.isnan(b))
                                             for a, b in zip(ref, vals)):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def plot_recall_at_k(results: Sequence[Mapping[str, Any]], *, save_dir: Any = None,
                     name: str = "05_evidence_recall") -> Any:
    """Evidence recall@k (all evidence turns found) against k, turn level (solid) and session
    level (dashed), one colour per run. Lines with the same values are drawn once and labelled
    "A = B" (a session line equal to its turn line, two runs that found the same evidence)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    data, lines = [], []
    with_rec = [r for r in results if r["metrics"].get("evidence_recall")]
    for i, res in enumerate(with_rec):
        rec = res["metrics"]["evidence_recall"]
        ks = rec["k_per_speaker"]
        turn = [rec["turn"][str(k)]["all"] for k in ks]
        sess = [rec["session"][str(k)]["all"] for k in ks]
        lines += [(f"{res['labels']['system']} · turn", ks, turn, "o-", f"C{i}"),
                  (f"{res['labels']['system']} · session", ks, sess, "s--", f"C{i}")]
        data.append({"labels": res["labels"], "data": result_data_label(res), "k": ks, "turn_all": turn,
                     "session_all": sess, "questions": rec["turn"][str(ks[0])]["n"],
                     "turn_sources": rec["turn_sources"]})
    for g in identical_groups([list(k) + list(v) for _, k, v, _, _ in lines]):
        label, ks, vals, style, color = lines[g[0]]
        ax.plot(ks, vals, style, color=color, alpha=1.0 if len(g) > 1 or style == "o-" else 0.7, mfc="none",
                ms=6 + 2 * (len(g) - 1), label=" = ".join(lines[j][0] for j in g))
    ax.set_xlabel("memories retrieved per speaker (k)")
    ax.set_ylabel("questions with all evidence found")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"LoCoMo evidence recall@k on {data_labels(with_rec) or 'no data'} (no judge needed)")
    if lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, data, save_dir, name)
    plt.close(fig)
    return fig


def plot_cumulative(curves: Sequence[Mapping[str, Any]], *, band: str = "std", title: str = "",
                    data_label: str = "synthetic users", save_dir: Any = None,
                    name: str = "05_cumulative") -> Any:
    """Cumulative accuracy against the number of ingested sessions: mean over users, shaded band
    (``band="std"``: mean ± one standard deviation, clipped to [0, 1]; ``"range"``: min to max)
    — the analogue of the paper's Figures 4–5. Curves with identical means and bands are drawn
    once, labelled "A = B = C", so no curve hides under another; the title names the data
    (``data_label``)."""
    fig, ax = plt.subplots(figsize=(6.8, 4.0))
    data = []
    for c in curves:
        st = c["cumulative"]
        xs = [t + 1 for t, m in enumerate(st["mean"]) if m is not None]
        mean = [m for m in st["mean"] if m is not None]
        if band == "range":
            lo = [v for v in st["min"] if v is not None]
            hi = [v for v in st["max"] if v is not None]
        else:
            sd = [v for v in st["std"] if v is not None]
            lo = [max(0.0, m - s) for m, s in zip(mean, sd)]
            hi = [min(1.0, m + s) for m, s in zip(mean, sd)]
        data.append({"label": c["label"], "system": c.get("system"), "model": c.get("model"),
                     "answerer": c.get("answerer"), "sessions": xs, "mean": mean, "low": lo, "high": hi,
                     "band": band, "users": c["users"]})
    groups = identical_groups([d["sessions"] + d["mean"] + d["low"] + d["high"] for d in data])
    for i, g in enumerate(groups):
        d, c = data[g[0]], curves[g[0]]
        reference = all((curves[j].get("system") or curves[j]["label"]) in ("oracle", "noop", "no-op")
                        for j in g)
        label = " = ".join(data[j]["label"] for j in g) + f" ({len(c['users'])} users)"
        ax.plot(d["sessions"], d["mean"], "--" if reference else "-", marker="osD^vxP*"[i % 8],
                ms=5 + 1.5 * (i % 3), mfc="none", color=f"C{i}", label=label)
        ax.fill_between(d["sessions"], d["low"], d["high"], color=f"C{i}", alpha=0.15)
        for j in g:
            data[j]["drawn_as"] = label
    ax.set_xlabel("sessions ingested")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("cumulative probe accuracy")
    ax.set_ylim(-0.02, 1.02)
    spread = "± 1 std over users" if band == "std" else "min-max over users"
    ax.set_title(title or f"Accuracy as sessions accumulate, {data_label} (mean; band: {spread})")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    save_figure(fig, data, save_dir, name)
    plt.close(fig)
    return fig


def plot_mistake_rewards(records: Sequence[Mapping[str, Any]], *, save_dir: Any = None,
                         name: str = "05_reward_ablation") -> Any:
    """Reward of each typical mistake under each reward variant (grouped bars): the reward-side
    view of the paper's Figure 3 and of state vs outcome reward."""
    mistakes = list(dict.fromkeys(r["mistake"] for r in records))
    variants = list(dict.fromkeys(r["reward"] for r in records))
    by = {(r["mistake"], r["reward"]): r["mean"] for r in records}
    x = np.arange(len(mistakes))
    w = 0.8 / max(1, len(variants))
    fig, ax = plt.subplots(figsize=(10, 3.8))
    for i, v in enumerate(variants):
        ax.bar(x + (i - (len(variants) - 1) / 2) * w, [by.get((m, v), np.nan) for m in mistakes], w,
               label=label_of(v))
    ax.set_xticks(x, [m.replace("_", " ") for m in mistakes], rotation=25, ha="right")
    ax.set_ylim(0, 1.3)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("mean reward")
    ax.set_title("The same predictions scored by each reward variant")
    ax.legend(fontsize=8, ncol=len(variants), loc="upper center")
    fig.tight_layout()
    save_figure(fig, list(records), save_dir, name)
    plt.close(fig)
    return fig


# ----- exercises --------------------------------------------------------------------------------
FIXTURE = Path(__file__).resolve().parents[2] / "data" / "samples" / "locomo_tiny.json"


def _close(a: Any, b: float, tol: float = 0.01) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool) and math.isclose(float(a), b, abs_tol=tol)


def check_f1(answer: float | None, prediction: str = "Caroline went on 7 May 2023",
             gold: str = "7 May 2023") -> Check:
    """Exercise 1: the Mem0-style LoCoMo F1 of ``prediction`` against ``gold``."""
    f1 = locomo_f1(prediction, gold)
    p, g = set(mem0_tokenize(prediction)), set(mem0_tokenize(gold))
    why = (f"Token sets: prediction {sorted(p)}, gold {sorted(g)}; {len(p & g)} shared, so precision "
           f"{len(p & g)}/{len(p)}, recall {len(p & g)}/{len(g)}, F1 = {f1:.3f}. A correct but wordy answer "
           "loses precision — the reason the protocol asks for 5-6 words. (BLEU-1 here: "
           f"{bleu1(prediction, gold):.3f}.)")
    if answer is None:
        return Check(None, "Write your prediction as a number in [0, 1].")
    return Check(_close(answer, f1), why)


def check_mem0_label(answer: int | None, mem0_label: str = "open-domain") -> Check:
    """Exercise 2: which official LoCoMo category a column labelled ``mem0_label`` in a table
    copied from the Mem0 paper really holds."""
    cat = next(k for k, v in MEM0_CATEGORY_NAMES.items() if v == mem0_label)
    why = (f"Mem0's '{mem0_label}' is category {cat}, whose official name is '{CATEGORY_NAMES[cat]}' "
           "(docs/benchmark_protocols.md §1, label trap). Overall scores agree; per-category columns of "
           "different papers are comparable only after translating the labels.")
    if answer is None:
        return Check(None, "Write the category number (1-4).")
    return Check(answer == cat, why)


def check_evidence_recall(answer_at_2: float | None, answer_at_3: float | None) -> Check:
    """Exercise 3: a question with evidence D1:3 and D2:5; the ranked memories come from
    [D1:3], [D4:1], [D2:5, D2:6]. Predict the strict recall ("all") at k = 2 and k = 3."""
    ev = [["D1:3", "D2:5"]]
    ranked = [[["D1:3"], ["D4:1"], ["D2:5", "D2:6"]]]
    r2, r3 = (evidence_recall_at_k(ev, ranked, k).all for k in (2, 3))
    why = (f"At k=2 the sources are D1:3 and D4:1: one of two evidence turns, so 'all' = {r2:.0f} (the 'any' "
           f"variant would give 1 and 'fraction' 0.5); at k=3 D2:5 joins them, 'all' = {r3:.0f}. A multi-hop "
           "question needs every hop retrieved.")
    if answer_at_2 is None or answer_at_3 is None:
        return Check(None, "Write both predictions (0 or 1).")
    return Check(_close(answer_at_2, r2) and _close(answer_at_3, r3), why)


def check_answerer(fn: Callable[[str, Sequence[str]], str] | None) -> Check:
    """Exercise 4: ``fn(question, memories) -> answer``. It answers the tiny fixture's questions
    from memories that copy the evidence turns word for word; it should beat the empty answer
    and the "first memory" answer on F1."""
    if fn is None:
        return Check(None, "Write `answer(question, memories)` and pass it.")
    convs = {c.sample_id: c for c in load_locomo(FIXTURE)}
    scores, firsts = [], []
    for q in scored_questions(convs.values()):
        turns = [convs[q.sample_id].turn(d) for d in q.evidence]
        memories = [t.text for t in turns if t is not None] + ["The weather was nice that day."]
        try:
            got = fn(q.question, list(reversed(memories)))
        except Exception as exc:  # noqa: BLE001 — the reader's code
            return Check(False, f"your answerer raised {type(exc).__name__}: {exc}")
        scores.append(locomo_f1(got, q.answer))
        firsts.append(locomo_f1(list(reversed(memories))[0], q.answer))
    mean, base = sum(scores) / len(scores), sum(firsts) / len(firsts)
    return Check(mean > base, f"Your mean F1 on {len(scores)} questions: {mean:.3f}; answering with the "
                              f"first memory: {base:.3f}; the empty answer: 0. Short answers that keep the "
                              "key words score best.")
