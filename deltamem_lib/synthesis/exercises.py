"""Self-checks for the exercises of notebook 01 (data synthesis, DeltaMem §3.2).

Each helper returns a short message: what was right, or what to look at. None of them
raises on a wrong answer, so a notebook can call them before the reader has tried.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence

from ..episodes import Episode
from ..memory import OpType
from .events import EVENT_TYPES
from .procedural import SynthConfig, synthesize_user
from .text import occurs

__all__ = ["check_event_template", "check_inter_counter", "check_prediction"]


def check_prediction(predicted: float | None, actual: float, *, what: str, tolerance: float = 0.05) -> str:
    """Compare a predicted number with the measured one (absolute ``tolerance``)."""
    if predicted is None:
        return f"No prediction yet for {what}: write your guess first, then run the cell again."
    if abs(predicted - actual) <= tolerance:
        return f"✓ {what}: you predicted {predicted:.3g}, measured {actual:.3g}."
    return (f"✗ {what}: you predicted {predicted:.3g}, measured {actual:.3g}. "
            "Which step of the synthesis decides this number?")


def check_event_template(kind: str, template: str | None, *, users: int = 40, seed: int = 0) -> str:
    """Would ``template`` be a valid single-turn phrasing of event ``kind``?

    Renders it for every event of that kind in ``users`` procedural users and checks that
    each placeholder is filled and every keyword of the event's operations occurs in it
    (the rule :func:`deltamem_lib.episodes.check_episode` enforces on user turns).
    """
    if template is None:
        return "No template yet: write one and run the cell again."
    if kind not in EVENT_TYPES:
        return f"✗ unknown event kind {kind!r}; known: {', '.join(EVENT_TYPES)}"
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
                return f"✗ placeholder(s) {sorted(unknown)} are not available for {kind}; available: {sorted(ctx)}"
            text = template.format(**ctx)
            missing = [k for c in main if c.op is not OpType.DELETE for k in c.fact.keywords() if not occurs(k, text)]
            if missing:
                return f"✗ {text!r} does not say the keyword(s) {missing}: the reward could never check them"
            tried += 1
    if not tried:
        return f"(no {kind} event among {users} users; try more users or another seed)"
    return f"✓ valid for all {tried} {kind} events tried, e.g. {template.format(**ctx)!r}"


def check_inter_counter(fn: Callable[[Episode], int] | None, episodes: Sequence[Episode]) -> str:
    """Check a function that counts the inter-event UPDATEs of an episode."""
    if fn is None:
        return "No function yet: write count_inter_updates(episode) and run the cell again."
    for ep in episodes:
        want = sum(o.op is OpType.UPDATE and o.evolution == "inter" for s in ep.sessions for o in s.gold_ops)
        try:
            got = fn(ep)
        except NotImplementedError:
            return "Not implemented yet: fill in count_inter_updates and run the cell again."
        if got != want:
            return f"✗ {ep.user_id}: your function says {got}, the episode has {want} inter-event UPDATEs"
    return f"✓ correct on all {len(episodes)} episodes"
