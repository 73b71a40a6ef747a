"""Notebook 03, the memory agent and its baselines (DeltaMem §3.1): tables, figures,
transcripts, and the checks of its exercises.

Every figure function returns a matplotlib ``Figure`` and, given ``save_dir``, writes the
PNG and the numbers behind it (JSON) next to it (:func:`~.common.save_figure`). Nothing here
prints. Predict-then-check questions compare a number the reader wrote down with what the
library computes, and show why; the coding task runs the reader's memory system through the
same harness as the agent and names the first thing that goes wrong.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..agent.harness import match_operations, session_metrics
from ..agent.result import SessionResult
from ..episodes import SessionExample
from ..memory import MemoryState, Operation
from ..mld import memory_levenshtein
from .common import Check, Table, save_figure, ties_by_construction

__all__ = [
    "Check", "check_delete_readd", "check_noop_reward", "check_system", "format_transcript",
    "plot_systems", "systems_tie", "systems_table"
]

_COLORS = {"oracle": "#2ca02c", "noop": "#7f7f7f", "deltamem": "#1f77b4", "deltamem-oneshot": "#aec7e8",
           "mem0-style": "#ff7f0e", "add-only": "#ffbb78"}


def _fmt(v: Any, digits: int = 2) -> Any:
    return "–" if v is None else round(v, digits) if isinstance(v, float) else v


_REFERENCES = ("oracle", "noop")  # systems without a model: the ceiling and the floor


def systems_tie(results: Sequence[Mapping[str, Any]]) -> str | None:
    """The sentence saying that the model systems among ``results`` wrote no memory and so tie with
    doing nothing by construction (:func:`~.common.ties_by_construction`), or ``None``."""
    models = [r for r in results if r["system"] not in _REFERENCES]
    sessions = sorted({r.get("sessions") for r in models if r.get("sessions")})
    return ties_by_construction(models, on=f"these {sessions[0]} sessions" if len(sessions) == 1
                                else "these sessions")


def systems_table(results: Sequence[Mapping[str, Any]]) -> Any:
    """One row per evaluated system (the dicts of :func:`~.evaluate.evaluate_system`):
    ``r_trans`` (± standard error), operation F1 per type, invalid-call and malformed-output
    rates, tokens and seconds per session. When the model systems wrote no memory, the title
    says that they tie with doing nothing by construction (:func:`systems_tie`)."""
    cols = ("system", "model", "sessions", "r_trans", "± sem", "F1 ADD", "F1 UPDATE", "F1 DELETE",
            "invalid calls", "malformed", "tokens/session", "s/session")
    rows = []
    for r in results:
        f1 = r["op_f1"]
        rows.append((r["system"], r.get("model") or "–", r["sessions"], _fmt(r["r_trans_mean"], 3),
                     _fmt(r["r_trans_sem"], 3), _fmt(f1["ADD"]["f1"]), _fmt(f1["UPDATE"]["f1"]),
                     _fmt(f1["DELETE"]["f1"]), _fmt(r["invalid_call_rate"]), _fmt(r["malformed_output_rate"]),
                     round(r["tokens_per_session"]), _fmt(r["seconds_per_session"])))
    return Table(cols, tuple(rows), title=systems_tie(results) or "")


def plot_systems(results: Sequence[Mapping[str, Any]], *, title: str = "", save_dir: Any = None,
                 name: str = "03_systems") -> Any:
    """Two panels: mean ``r_trans`` per system (error bar: standard error over sessions,
    split into sessions with and without gold changes), and operation F1 per type."""
    names = [r["system"] for r in results]
    x = np.arange(len(results))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.1, 1]})
    means = [r["r_trans_mean"] for r in results]
    ax1.bar(x, means, yerr=[r["r_trans_sem"] for r in results], capsize=3,
            color=[_COLORS.get(n, "#9467bd") for n in names])
    for i, r in enumerate(results):
        for key, marker, label in (("r_trans_changed_sessions", "v", "sessions with changes"),
                                   ("r_trans_unchanged_sessions", "^", "sessions without")):
            if r.get(key) is not None:
                ax1.plot(i, r[key], marker, color="black", ms=5, label=label if i == 0 else None)
    ax1.set_xticks(x, names, rotation=25, ha="right")
    ax1.set_ylim(0, 1.05)
    ax1.set_ylabel("mean r_trans")
    ax1.set_title("State reward (teacher-forced sessions)")
    ax1.legend(fontsize=8, loc="center right")
    width = 0.25
    for k, (kind, color) in enumerate((("ADD", "#1f77b4"), ("UPDATE", "#ff7f0e"), ("DELETE", "#d62728"))):
        vals = [r["op_f1"][kind]["f1"] for r in results]
        ax2.bar(x + (k - 1) * width, [0 if v is None else v for v in vals], width, color=color, label=kind)
    ax2.set_xticks(x, names, rotation=25, ha="right")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("operation F1")
    ax2.set_title("Operations matched to the gold ones")
    ax2.legend(fontsize=8)
    model = ", ".join(sorted({str(r.get("model")) for r in results if r.get("model")}))
    tie = systems_tie(results)  # bars of equal height that compare nothing: said on the figure itself
    fig.suptitle((title or f"Memory systems on {results[0]['sessions']} test sessions"
                  + (f" · {model}" if model else ""))
                 + ("\n" + textwrap.fill(tie, 150) if tie else ""), **({"fontsize": 10} if tie else {}))
    fig.tight_layout()
    data = [{k: r.get(k) for k in ("system", "model", "sessions", "r_trans_mean", "r_trans_sem",
                                   "r_trans_changed_sessions", "r_trans_unchanged_sessions", "op_f1",
                                   "invalid_call_rate", "malformed_output_rate", "tokens_per_session",
                                   "seconds_per_session")} for r in results]
    save_figure(fig, data, save_dir, name)
    plt.close(fig)
    return fig


def format_transcript(messages: Sequence[Mapping[str, Any]], *, width: int = 100, max_chars: int = 600,
                      skip_system: bool = True) -> str:
    """A conversation as plain text, turn by turn (tool calls and results included)."""
    out = []
    turn = 0
    for m in messages:
        role = m.get("role")
        if role == "system" and skip_system:
            continue
        text = str(m.get("content") or "")
        if len(text) > max_chars:
            text = text[:max_chars] + f" … [{len(text) - max_chars} more characters]"
        if role == "assistant":
            turn += 1
            head = f"── assistant, turn {turn}"
        elif role == "tool":
            head = f"   ↳ {m.get('name', 'tool')} returned"
        else:
            head = f"── {role}"
        lines = [head]
        if text.strip():
            lines += [textwrap.indent(textwrap.fill(par, width) if len(par) > width else par, "   ")
                      for par in text.splitlines() if par.strip()]
        for c in m.get("tool_calls") or []:
            f = c.get("function", c)
            args = ", ".join(f"{k}={v!r}" for k, v in (f.get("arguments") or {}).items())
            lines.append(f"   → {f.get('name')}({args})")
        out.append("\n".join(lines))
    return "\n".join(out)


# ----- exercises --------------------------------------------------------------------------------
def _close(a: Any, b: float) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool) and math.isclose(float(a), b, abs_tol=1e-3)


def check_noop_reward(answer: float | None, example: SessionExample) -> Check:
    """Exercise 1: the ``r_trans`` of doing nothing on ``example``."""
    res = memory_levenshtein(list(example.state_before.entries), list(example.state_after.entries),
                             before=list(example.state_before.entries))
    why = (f"The memory before the session is left as it is. Gold operations: "
           f"{', '.join(o.op.value for o in example.gold_ops) or 'none'}. {res.summary()}. "
           + ("No change was due, so both deltas are empty and r_trans = 1." if not example.gold_ops else
              "Every entry the session should have changed is either missing (a deletion) or stale; a stale "
              "entry may be similar to its update, but it lacks the new keyword, so lexical fidelity pays "
              "0."))
    if answer is None:
        return Check(None, "Write your prediction as a number in [0, 1].")
    return Check(_close(answer, res.reward), f"r_trans = {res.reward:.3f}. {why}")


def check_delete_readd(answer_update_f1: float | None, answer_r_trans: float | None) -> Check:
    """Exercise 2: an agent that replaces an UPDATE by DELETE + ADD of the same sentence."""
    before = MemoryState([{"id": "m1", "content": "User lives in Hamburg.", "keywords": ["Hamburg"]}])
    gold_ops = [Operation.update("m1", "User lives in Berlin.", keywords=("Berlin",))]
    pred_ops = [Operation.delete("m1"), Operation.add("User lives in Berlin.")]
    gold, pred = before.copy(), before.copy()
    gold.apply(gold_ops)
    res = pred.apply(pred_ops)
    f1 = match_operations(res.applied, gold_ops).prf("UPDATE")["f1"]
    r = memory_levenshtein(list(pred.entries), list(gold.entries), before=list(before.entries)).reward
    msg = (f"UPDATE F1 = {f1} (the gold UPDATE of m1 has no predicted UPDATE; the DELETE and the ADD match "
           f"no gold operation of their type), r_trans = {r:.1f} (the state holds exactly the gold sentence, "
           "under a new id: ids are labels, the reward compares contents). Operation F1 is a diagnostic; the "
           "state reward is what the paper trains on, because many operation sequences reach the same "
           "memory.")
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
            return Check(False, f"result {i} is for session {res.session_id}, expected {ex.session_id} (keep "
                                "the order)")
        if res.state_after is ex.state_before:
            return Check(False, f"result {i} returns the example's own state object; work on a copy "
                                "(`example.state_before.copy()`) so the gold data is never changed")
    scores = [session_metrics(r, e)["r_trans"] for r, e in zip(results, examples)]
    return Check(True, f"The contract holds. Mean r_trans on these {len(examples)} sessions: "
                       f"{sum(scores) / len(scores):.3f}. Compare it with the table of section 7.")
