"""Notebook 01, the synthetic data (DeltaMem §3.2): figures, the session explorer, and the
checks of its exercises.

Every figure function computes its numbers, draws them on a fresh matplotlib ``Figure``
(never the global pyplot state), saves ``NAME.png`` and ``NAME.json`` (the numbers behind
the figure) into ``save_dir`` when one is given, and returns a :class:`Plot`, which a
notebook displays as the image.

:func:`session_html` puts a session's dialogue beside its gold operations and the state
diff; :class:`SessionExplorer` steps through a user's sessions with an ipywidgets slider,
and falls back to a static HTML rendering of every session where no widget front end is
attached (papermill output, GitHub, nbviewer).
"""

from __future__ import annotations

import html
import re
import statistics
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..episodes import EVOLUTION_KINDS, Episode, render_dialogue
from ..memory import MemoryState, OpType
from ..synthesis.events import EVENT_TYPES
from ..synthesis.procedural import SynthConfig, synthesize_user
from ..synthesis.stats import OP_TYPES, operation_counts
from ..synthesis.text import occurs
from .common import Check, save_figure

__all__ = [
    "Check", "Plot", "check_event_template", "check_inter_counter", "check_prediction",
    "SessionExplorer", "plot_keywords_per_entry", "plot_memory_size", "plot_operation_mix",
    "plot_ops_per_session", "plot_session_length", "session_html", "session_text", "synthesis_figures"
]

_EVO_COLOURS = {"intra": "#4C72B0", "inter": "#DD8452", "padding": "#55A868"}


@dataclass
class Plot:
    """A figure, the numbers behind it, and where both were saved."""

    name: str
    figure: Any
    data: dict[str, Any]
    png: Path | None = None
    json: Path | None = None

    def __repr__(self) -> str:
        where = f", saved to {self.png}" if self.png else ""
        return f"Plot({self.name!r}{where})"

    def _repr_png_(self) -> bytes:
        import io

        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        return buf.getvalue()


def _new_figure(size: tuple[float, float] = (6.4, 3.6)) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _save(name: str, fig: Any, data: dict[str, Any], save_dir: str | Path | None) -> Plot:
    png = save_figure(fig, data, save_dir, name)
    return Plot(name, fig, data, png, png.with_suffix(".json") if png else None)


def _histogram(values: Sequence[int]) -> dict[str, int]:
    c = Counter(values)
    return {str(k): c[k] for k in range(min(c, default=0), max(c, default=-1) + 1)}


def plot_operation_mix(episodes: Sequence[Episode], save_dir: str | Path | None = None,
                       name: str = "01_operation_mix") -> Plot:
    """Gold operations by type, stacked by evolution kind (intra, inter, padding)."""
    counts = operation_counts(episodes)
    fig, ax = _new_figure()
    bottom = [0] * len(OP_TYPES)
    for evo in EVOLUTION_KINDS:
        vals = [counts["table"][t][evo] for t in OP_TYPES]
        ax.bar(OP_TYPES, vals, bottom=bottom, label=evo, color=_EVO_COLOURS[evo])
        bottom = [b + v for b, v in zip(bottom, vals)]
    total = max(counts["total"], 1)
    for i, b in enumerate(bottom):
        ax.text(i, b, f"{b / total:.0%}", ha="center", va="bottom")
    ax.set_ylabel("operations")
    ax.set_title(f"Gold operations by type and evolution kind ({counts['total']} in all)")
    ax.legend(title="evolution")
    ax.margins(y=0.12)
    return _save(name, fig, counts, save_dir)


def plot_ops_per_session(episodes: Sequence[Episode], save_dir: str | Path | None = None,
                         name: str = "01_ops_per_session") -> Plot:
    """How many operations a session carries (0 = nothing to change)."""
    n = [sum(o.op is not OpType.NOOP for o in s.gold_ops) for ep in episodes for s in ep.sessions]
    hist = _histogram(n)
    fig, ax = _new_figure()
    ax.bar([int(k) for k in hist], list(hist.values()), color="#4C72B0")
    ax.set_xlabel("gold operations in the session")
    ax.set_ylabel("sessions")
    ax.set_title(f"Operations per session (mean {statistics.fmean(n) if n else 0:.2f}; "
                 f"{hist.get('0', 0) / max(len(n), 1):.0%} with none)")
    return _save(name, fig, {"histogram": hist, "mean": statistics.fmean(n) if n else 0.0,
                             "sessions": len(n)},
                 save_dir)


def plot_memory_size(episodes: Sequence[Episode], save_dir: str | Path | None = None,
                     name: str = "01_memory_size") -> Plot:
    """Gold memory size after each session: mean over users with the 10–90 % band."""
    longest = max((len(ep.sessions) for ep in episodes), default=0)
    rows = []
    for t in range(longest + 1):
        sizes = sorted(len(ep.initial_memory) if t == 0 else len(ep.sessions[t - 1].state_after)
                       for ep in episodes if len(ep.sessions) >= t)
        q = lambda p: sizes[min(len(sizes) - 1, int(p * (len(sizes) - 1) + 0.5))]  # noqa: E731
        rows.append({"after_session": t, "mean": statistics.fmean(sizes), "p10": q(0.1), "p90": q(0.9),
                     "min": sizes[0], "max": sizes[-1], "users": len(sizes)})
    fig, ax = _new_figure()
    x = [r["after_session"] for r in rows]
    ax.fill_between(x, [r["p10"] for r in rows], [r["p90"] for r in rows], alpha=0.25,
                    label="10–90 % of users")
    ax.plot(x, [r["mean"] for r in rows], marker="o", ms=3, label="mean")
    ax.set_xlabel("sessions ingested (0 = initial memory)")
    ax.set_ylabel("entries in the gold memory")
    ax.set_title("Memory size over sessions")
    ax.legend()
    return _save(name, fig, {"by_session": rows}, save_dir)


def plot_keywords_per_entry(episodes: Sequence[Episode], save_dir: str | Path | None = None,
                            name: str = "01_keywords_per_entry") -> Plot:
    """Keywords per entry written by an ADD or UPDATE (what lexical fidelity will check)."""
    n = [len(o.keywords) for ep in episodes for s in ep.sessions for o in s.gold_ops
         if o.op in (OpType.ADD, OpType.UPDATE)]
    words = Counter(len(k.split()) for ep in episodes for s in ep.sessions for o in s.gold_ops
                    for k in o.keywords)
    hist = _histogram(n)
    fig, ax = _new_figure()
    ax.bar([int(k) for k in hist], list(hist.values()), color="#55A868")
    ax.set_xlabel("keywords of the entry")
    ax.set_ylabel("entries written")
    ax.set_xticks([int(k) for k in hist])
    ax.set_title(f"Keywords per written entry (mean {statistics.fmean(n) if n else 0:.2f})")
    return _save(name, fig, {"histogram": hist, "mean": statistics.fmean(n) if n else 0.0,
                             "words_per_keyword": _histogram(list(words.elements()))}, save_dir)


def plot_session_length(episodes: Sequence[Episode], save_dir: str | Path | None = None,
                        name: str = "01_session_length") -> Plot:
    """Turns per session, split by whether the session changes memory."""
    changed = [len(s.turns) for ep in episodes for s in ep.sessions if s.gold_ops]
    quiet = [len(s.turns) for ep in episodes for s in ep.sessions if not s.gold_ops]
    words = [sum(len(t.text.split()) for t in s.turns) for ep in episodes for s in ep.sessions]
    fig, ax = _new_figure()
    bins = range(min(changed + quiet, default=0), max(changed + quiet, default=0) + 3, 2)
    ax.hist([changed, quiet], bins=list(bins), stacked=True, label=["with operations", "no change"],
            color=["#4C72B0", "#BBBBBB"])
    ax.set_xlabel("turns in the session")
    ax.set_ylabel("sessions")
    ax.set_title(f"Session length (mean {statistics.fmean(changed + quiet) if changed + quiet else 0:.1f} "
                 f"turns, {statistics.fmean(words) if words else 0:.0f} words)")
    ax.legend()
    return _save(name, fig, {"turns_with_operations": _histogram(changed),
                             "turns_no_change": _histogram(quiet),
                             "mean_turns_with_operations": statistics.fmean(changed) if changed else 0.0,
                             "mean_turns_no_change": statistics.fmean(quiet) if quiet else 0.0,
                             "mean_turns": statistics.fmean(changed + quiet) if changed + quiet else 0.0,
                             "mean_words": statistics.fmean(words) if words else 0.0}, save_dir)


def synthesis_figures(episodes: Sequence[Episode], save_dir: str | Path | None = None,
                      tag: str = "") -> dict[str, Plot]:
    """All five figures of notebook 01, keyed by name; ``tag`` (a profile) is appended to file names."""
    figures = {"01_operation_mix": plot_operation_mix, "01_ops_per_session": plot_ops_per_session,
               "01_memory_size": plot_memory_size, "01_keywords_per_entry": plot_keywords_per_entry,
               "01_session_length": plot_session_length}
    return {base: f(episodes, save_dir, name=f"{base}_{tag}" if tag else base) for base, f in figures.items()}


# ----- one session: dialogue, gold operations, state diff -------------------------------------
def _states(episode: Episode, index: int) -> tuple[MemoryState, MemoryState]:
    before = episode.initial_memory if index == 0 else episode.sessions[index - 1].state_after
    return MemoryState(before), MemoryState(episode.sessions[index].state_after)


def session_text(episode: Episode, index: int) -> str:
    """A session as plain text: dialogue, gold operations, state diff."""
    s = episode.sessions[index]
    before, after = _states(episode, index)
    ops = [f"  {o.op.value:<6} {o.memory_id or '':<4} {o.content or '':<55} kw={list(o.keywords)} "
           f"{o.evolution} evidence={list(o.evidence)}" for o in s.gold_ops] or ["  (none: nothing to "
                                                                                 "change)"]
    return "\n".join([f"{episode.user_id} · session {index + 1}/{len(episode.sessions)} · {s.date} · "
                      f"{s.event.get('kind')}: {s.event.get('summary')}", "", render_dialogue(s.turns), "",
                      "Gold operations:", *ops, "", "State diff:", before.diff(after).render()])


def _highlight(text: str, phrases: dict[str, str]) -> str:
    out = html.escape(text)
    for phrase, style in sorted(phrases.items(), key=lambda kv: -len(kv[0])):
        if phrase:
            pat = re.compile(rf"(?<![\w>]){re.escape(html.escape(phrase))}(?!\w)", re.I)
            out = pat.sub(lambda m: f'<span style="{style}">{m.group(0)}</span>', out)
    return out


_KW = "background:#fff3a3;border-radius:3px;padding:0 2px"
_DISTRACT = "text-decoration:underline wavy #c44;"


def session_html(episode: Episode, index: int) -> str:
    """The dialogue (keywords highlighted, distractor facts underlined) beside the gold
    operations and the state diff."""
    s = episode.sessions[index]
    before, after = _states(episode, index)
    marks = {k: _KW for o in s.gold_ops for k in o.keywords}
    marks.update({d["value"]: _DISTRACT for d in s.event.get("distractors", ()) if d.get("value")})
    evidence = {e for o in s.gold_ops for e in o.evidence}
    rows = []
    for t in s.turns:
        bg = "#eef4ff" if t.speaker == "user" else "#f6f6f6"
        border = "border-left:3px solid #DD8452;" if t.turn_id in evidence else ""
        rows.append(f'<div style="background:{bg};{border}margin:2px 0;padding:3px 6px;border-radius:4px">'
                    f'<b>{t.turn_id} {t.speaker}</b>: {_highlight(t.text, marks)}</div>')
    op_rows = "".join(
        f"<tr><td>{o.op.value}</td><td>{o.memory_id or ''}</td><td>{html.escape(o.content or '')}</td>"
        f"<td>{html.escape(', '.join(o.keywords))}</td>"
        f'<td style="color:{_EVO_COLOURS.get(o.evolution or "", "#000")}">{o.evolution}</td>'
        f"<td>{', '.join(o.evidence)}</td></tr>" for o in s.gold_ops) or ('<tr><td colspan="6">(none: '
                                                                          'nothing to change)</td></tr>')
    diff = before.diff(after)
    diff_lines = ([f'<div style="color:#a33">− [{e.id}] {html.escape(e.content)}</div>' for e in diff.removed]
                  + [f'<div style="color:#a60">~ [{o.id}] {html.escape(o.content)} → '
                     f'{html.escape(n.content)}</div>'
                     for o, n in diff.changed]
                  + [f'<div style="color:#282">+ [{e.id}] {html.escape(e.content)}</div>'
                     for e in diff.added]) \
        or ["<div>(no change)</div>"]
    head = (f"<b>{html.escape(episode.user_id)}</b> · session {index + 1}/{len(episode.sessions)} · {s.date} "
            f"· <i>{html.escape(str(s.event.get('kind')))}</i>: {html.escape(str(s.event.get('summary')))}")
    return (f'<div style="font-family:sans-serif;font-size:13px">{head}'
            f'<div style="display:flex;gap:14px;margin-top:6px">'
            f'<div style="flex:1.2;min-width:0">{"".join(rows)}</div>'
            f'<div style="flex:1;min-width:0"><b>Gold operations</b>'
            f'<table style="font-size:12px"><tr><th>op</th><th>id</th><th>content</th><th>keywords</th>'
            f"<th>evolution</th><th>evidence</th></tr>{op_rows}</table>"
            f'<b>State diff</b> ({len(before)} → {len(after)} entries){"".join(diff_lines)}</div></div>'
            '<div style="font-size:11px;color:#666;margin-top:4px">highlighted: keywords of the gold '
            'operations · '
            "wavy underline: facts about other people (distractors) · orange bar: evidence "
            "turns</div></div>")


@dataclass
class SessionExplorer:
    """Step through one user's sessions: a slider with the view of :func:`session_html`.

    Displayed in a Jupyter front end it is an ipywidgets control; everywhere else (an executed
    notebook on GitHub, a terminal) it renders every session statically.
    """

    episode: Episode
    start: int = 0
    _widget: Any = field(default=None, repr=False)

    def widget(self) -> Any:
        import ipywidgets as w

        if self._widget is None:
            n = len(self.episode.sessions)
            slider = w.IntSlider(value=self.start, min=0, max=max(n - 1, 0), description="session",
                                 continuous_update=False)
            view = w.HTML(session_html(self.episode, self.start))
            slider.observe(lambda change: setattr(view, "value", session_html(self.episode, change["new"])),
                           names="value")
            self._widget = w.VBox([slider, view])
        return self._widget

    def static_html(self) -> str:
        parts = [f"<details{' open' if i == self.start else ''}><summary>session {i + 1}: "
                 f"{html.escape(str(s.event.get('summary')))}</summary>"
                 f"{session_html(self.episode, i)}</details>"
                 for i, s in enumerate(self.episode.sessions)]
        return "".join(parts)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": session_text(self.episode, self.start),
                                  "text/html": self.static_html()}
        try:
            widget_bundle = self.widget()._repr_mimebundle_()
        except Exception:  # no ipywidgets or no kernel: the static view is all there is
            return bundle
        view = (widget_bundle or {}).get("application/vnd.jupyter.widget-view+json")
        if view is not None:
            bundle["application/vnd.jupyter.widget-view+json"] = view
        return bundle


# ----- exercises --------------------------------------------------------------------------------
def check_prediction(predicted: float | None, actual: float, *, what: str, tolerance: float = 0.05) -> Check:
    """Compare a predicted number with the measured one (absolute ``tolerance``)."""
    if predicted is None:
        return Check(None, f"No prediction yet for {what}: write your guess first, then run the cell again.")
    if abs(predicted - actual) <= tolerance:
        return Check(True, f"{what}: you predicted {predicted:.3g}, measured {actual:.3g}.")
    return Check(False, f"{what}: you predicted {predicted:.3g}, measured {actual:.3g}. "
                        "Which step of the synthesis decides this number?")


def check_event_template(kind: str, template: str | None, *, users: int = 40, seed: int = 0) -> Check:
    """Would ``template`` be a valid single-turn phrasing of event ``kind``?

    Renders it for every event of that kind in ``users`` procedural users and checks that
    each placeholder is filled and every keyword of the event's operations occurs in it
    (the rule :func:`deltamem_lib.episodes.check_episode` enforces on user turns).
    """
    if template is None:
        return Check(None, "No template yet: write one and run the cell again.")
    if kind not in EVENT_TYPES:
        return Check(False, f"unknown event kind {kind!r}; known: {', '.join(EVENT_TYPES)}")
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    tried = 0
    for i in range(users):
        for ev in synthesize_user(SynthConfig(users=users, sessions=12, seed=seed), i).timeline:
            main = [c for c in ev.changes if c.cause == kind]
            if ev.kind != kind or not main:
                continue
            ctx = {"first": "Alex"}
            for c in main:
                ctx.update({k: v for k, v in c.context().items() if k not in ctx})
            unknown = fields - ctx.keys()
            if unknown:
                return Check(False, f"placeholder(s) {sorted(unknown)} are not available for {kind}; "
                                    f"available: {sorted(ctx)}")
            text = template.format(**ctx)
            missing = [k for c in main if c.op is not OpType.DELETE for k in c.fact.keywords()
                       if not occurs(k, text)]
            if missing:
                return Check(False, f"{text!r} does not say the keyword(s) {missing}: "
                                    "the reward could never check them")
            tried += 1
    if not tried:
        return Check(None, f"(no {kind} event among {users} users; try more users or another seed)")
    return Check(True, f"valid for all {tried} {kind} events tried, e.g. {template.format(**ctx)!r}")


def check_inter_counter(fn: Callable[[Episode], int] | None, episodes: Sequence[Episode]) -> Check:
    """Check a function that counts the inter-event UPDATEs of an episode."""
    if fn is None:
        return Check(None, "No function yet: write count_inter_updates(episode) and run the cell again.")
    for ep in episodes:
        want = sum(o.op is OpType.UPDATE and o.evolution == "inter" for s in ep.sessions for o in s.gold_ops)
        try:
            got = fn(ep)
        except NotImplementedError:
            return Check(None, "Not implemented yet: fill in count_inter_updates and run the cell again.")
        if got != want:
            return Check(False, f"{ep.user_id}: your function says {got}, "
                                f"the episode has {want} inter-event UPDATEs")
    return Check(True, f"correct on all {len(episodes)} episodes")
