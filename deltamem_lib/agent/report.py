"""Tables, figures and transcripts of the memory agent and its baselines (notebook 03).

Every figure function returns a matplotlib ``Figure`` and, given ``save_dir``, writes the
PNG and the numbers behind it (JSON) next to it (:func:`deltamem_lib.viz.save_figure`).
Nothing here prints.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["format_transcript", "plot_systems", "systems_table"]

_COLORS = {"oracle": "#2ca02c", "noop": "#7f7f7f", "deltamem": "#1f77b4", "deltamem-oneshot": "#aec7e8",
           "mem0-style": "#ff7f0e", "add-only": "#ffbb78"}


def _fmt(v: Any, digits: int = 2) -> Any:
    return "–" if v is None else round(v, digits) if isinstance(v, float) else v


def systems_table(results: Sequence[Mapping[str, Any]]) -> Any:
    """One row per evaluated system (the dicts of :func:`~.evaluate.evaluate_system`):
    ``r_trans`` (± standard error), operation F1 per type, invalid-call and malformed-output
    rates, tokens and seconds per session."""
    from ..viz import Table

    cols = ("system", "model", "sessions", "r_trans", "± sem", "F1 ADD", "F1 UPDATE", "F1 DELETE",
            "invalid calls", "malformed", "tokens/session", "s/session")
    rows = []
    for r in results:
        f1 = r["op_f1"]
        rows.append((r["system"], r.get("model") or "–", r["sessions"], _fmt(r["r_trans_mean"], 3),
                     _fmt(r["r_trans_sem"], 3), _fmt(f1["ADD"]["f1"]), _fmt(f1["UPDATE"]["f1"]),
                     _fmt(f1["DELETE"]["f1"]), _fmt(r["invalid_call_rate"]), _fmt(r["malformed_output_rate"]),
                     round(r["tokens_per_session"]), _fmt(r["seconds_per_session"])))
    return Table(cols, tuple(rows))


def plot_systems(results: Sequence[Mapping[str, Any]], *, title: str = "", save_dir: Any = None,
                 name: str = "03_systems") -> Any:
    """Two panels: mean ``r_trans`` per system (error bar: standard error over sessions,
    split into sessions with and without gold changes), and operation F1 per type."""
    import matplotlib.pyplot as plt
    import numpy as np

    from ..viz import save_figure

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
    fig.suptitle(title or f"Memory systems on {results[0]['sessions']} test sessions" + (f" · {model}" if model else ""))
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
