"""Typical mistakes of a memory manager, generated from a gold session (DeltaMem §3.3, Figure 3).

The MLD reward (``docs/mld_spec.md``) compares the state a manager's operations produce with the
gold state. To see how it responds to each kind of error, this module takes a gold session —
the state before it and the gold operations — and produces the operations (and hence the
predicted state) of a manager that makes exactly one typical mistake:

================  ==========================================================================
``perfect``       the gold operations
``do_nothing``    no operation at all (the policy RL collapses to when the reward allows it)
``missed_update`` the UPDATE is left out: the stale fact stays
``spurious_add``  the gold operations plus an ADD of a fact the session never stated
``wrong_delete``  the changed fact is DELETEd instead of UPDATEd (a Mem0 complaint)
``add_not_update`` the new fact is ADDed and the old one kept: a contradictory pair
``paraphrase``    the UPDATE is right but reworded (the keyword is kept)
``keyword_dropped`` the UPDATE is reworded vaguely and loses its keyword
``duplicate_add`` the gold operations plus an ADD repeating a memory already stored
================  ==========================================================================

Each mistake is a function ``(before, gold_ops, **options) -> Prediction`` that works on any
gold session; the texts of paraphrases, vague rewrites and spurious facts come from a small
set of hand-written :data:`TEMPLATES` when the content is one of theirs, and from a generic
rewrite otherwise. :func:`make_scenarios` builds random sessions from the same templates, so
figures of "reward per mistake" are generated, not hand-tuned. (The full synthetic data
generator of §3.2 lives elsewhere; this module needs none of it.)
"""

from __future__ import annotations

import random
import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .memory import MemoryEntry, MemoryState, Operation, OpType
from .mld import get_similarity, memory_levenshtein_batch

__all__ = [
    "FactTemplate",
    "TEMPLATES",
    "Scenario",
    "Prediction",
    "make_scenario",
    "make_scenarios",
    "paraphrase_text",
    "vague_text",
    "default_distractor",
    "perfect",
    "do_nothing",
    "missed_update",
    "spurious_add",
    "wrong_delete",
    "add_not_update",
    "paraphrase",
    "keyword_dropped",
    "duplicate_add",
    "MISTAKES",
    "MISTAKE_DESCRIPTIONS",
    "make_prediction",
    "predictions",
    "mistake_rewards",
    "select_records",
]


# ----- templates -----------------------------------------------------------------------------
@dataclass(frozen=True)
class FactTemplate:
    """One kind of persona fact, in three wordings that share the slot ``{v}``.

    Attributes:
        topic: short name (``city``, ``job`` …).
        gold: the canonical sentence, e.g. ``"User lives in {v}"``; ``{v}`` is the keyword.
        paraphrase: the same fact in other words, keeping ``{v}``.
        vague: the same fact without ``{v}`` (what a manager writes when it drops the keyword).
        values: values of the slot.
    """

    topic: str
    gold: str
    paraphrase: str
    vague: str
    values: tuple[str, ...]

    def fact(self, value: str) -> str:
        """The canonical sentence for ``value``."""
        return self.gold.format(v=value)

    def value_of(self, content: str) -> str | None:
        """The slot value if ``content`` is this template's canonical sentence, else None."""
        pre, post = self.gold.split("{v}")
        m = re.fullmatch(re.escape(pre) + r"(.+?)" + re.escape(post), content.strip())
        return m.group(1) if m else None


TEMPLATES: tuple[FactTemplate, ...] = (
    FactTemplate("city", "User lives in {v}", "The user's home is now in {v}", "User lives in a big city",
                 ("Berlin", "Hamburg", "Lisbon", "Madrid", "Oslo", "Vienna")),
    FactTemplate("job", "User works as a {v}", "The user is employed as a {v}", "User has a new job",
                 ("nurse", "teacher", "pharmacist", "carpenter", "accountant", "software engineer")),
    FactTemplate("pet", "User has a dog named {v}", "The user owns a dog called {v}", "User has a dog",
                 ("Rex", "Bella", "Milo", "Luna", "Biscuit")),
    FactTemplate("diet", "User follows a {v} diet", "The user sticks to a {v} diet",
                 "User watches what they eat", ("vegetarian", "vegan", "keto", "pescatarian", "gluten-free")),
    FactTemplate("sport", "User plays {v} on weekends", "On weekends the user plays {v}",
                 "User does sport on weekends", ("tennis", "football", "badminton", "volleyball", "squash")),
    FactTemplate("partner", "User is married to {v}", "{v} is the user's spouse", "User is married",
                 ("Anna", "Tom", "Priya", "Kenji", "Lucia")),
    FactTemplate("car", "User drives a {v}", "The user's car is a {v}", "User owns a car",
                 ("Toyota", "Volvo", "Tesla", "Fiat", "Skoda")),
    FactTemplate("language", "User is learning {v}", "The user takes {v} lessons",
                 "User is learning a new language", ("Spanish", "Japanese", "Portuguese", "Arabic",
                                                     "Korean")),
    FactTemplate("allergy", "User is allergic to {v}", "The user has an allergy to {v}",
                 "User has an allergy", ("peanuts", "pollen", "shellfish", "penicillin", "cats")),
    FactTemplate("instrument", "User plays the {v}", "The user is a {v} player", "User plays an instrument",
                 ("guitar", "piano", "violin", "drums", "cello")),
    FactTemplate("commute", "User commutes to work by {v}", "The user gets to work by {v}",
                 "User commutes to work", ("bike", "train", "bus", "car", "tram")),
    FactTemplate("author", "User's favourite author is {v}", "The author the user likes best is {v}",
                 "User has a favourite author", ("Toni Morrison", "Haruki Murakami", "Jane Austen",
                                                 "Terry Pratchett")),
)


def _template_of(content: str) -> tuple[FactTemplate, str] | None:
    for t in TEMPLATES:
        v = t.value_of(content)
        if v is not None:
            return t, v
    return None


def paraphrase_text(content: str, keywords: Sequence[str] = ()) -> str:
    """Reword a fact and keep its keywords: the template's paraphrase when ``content`` is a
    template sentence, else ``"According to the user, <content>"``."""
    hit = _template_of(content)
    if hit:
        t, v = hit
        return t.paraphrase.format(v=v)
    body = content.strip()
    return f"According to the user, {body[:1].lower()}{body[1:]}"


def vague_text(content: str, keywords: Sequence[str] = ()) -> str:
    """Reword a fact so that it loses its keywords: the template's vague form, else the
    content with every keyword replaced by ``something``."""
    hit = _template_of(content)
    if hit:
        return hit[0].vague
    out = content
    for kw in keywords:
        out = re.sub(re.escape(kw), "something", out, flags=re.IGNORECASE)
    return out


def default_distractor(before: MemoryState, gold_ops: Sequence[Operation]) -> str:
    """A template fact about a topic that neither the state nor the gold operations mention."""
    texts = [e.content for e in before] + [op.content for op in gold_ops if op.content]
    used = {hit[0].topic for hit in map(_template_of, texts) if hit}
    for t in TEMPLATES:
        if t.topic not in used:
            return t.fact(t.values[-1])
    raise ValueError("every template topic is already in the memory; pass extra= to spurious_add")


# ----- scenarios -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """A gold session: the state before it, its gold operations and a distractor fact.

    The gold operations UPDATE one stored fact to a new value and ADD one new fact; the
    other entries stay as they are. ``distractor`` is a fact on a topic the session never
    mentions (what a ``spurious_add`` writes).
    """

    before: MemoryState
    operations: tuple[Operation, ...]
    distractor: str

    @property
    def after(self) -> MemoryState:
        """The gold state after the session (``before`` with the gold operations applied)."""
        state = self.before.copy()
        state.apply(self.operations)
        return state

    def render(self) -> str:
        ops = "\n".join(f"  {op.op.value} {op.memory_id or ''} {op.content or ''}".rstrip()
                        for op in self.operations)
        return (f"before:\n{_indent(self.before.render())}\ngold "
                f"operations:\n{ops}\nafter:\n{_indent(self.after.render())}")


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def make_scenario(rng: random.Random | int = 0, n_facts: int = 4) -> Scenario:
    """A random gold session built from :data:`TEMPLATES`.

    Args:
        rng: a ``random.Random`` or a seed.
        n_facts: entries in the state before the session (2 to ``len(TEMPLATES) - 2``).
            Only the whole-state score (``scope="state"``) depends on it.
    """
    if isinstance(rng, int):
        rng = random.Random(rng)
    if not 2 <= n_facts <= len(TEMPLATES) - 2:
        raise ValueError(f"n_facts={n_facts}: must be between 2 and {len(TEMPLATES) - 2} "
                         f"(the templates cover {len(TEMPLATES)} topics; two are kept for the session)")
    chosen = rng.sample(TEMPLATES, n_facts + 2)
    stored, new, spare = chosen[:n_facts], chosen[n_facts], chosen[n_facts + 1]
    entries, values = [], []
    for i, t in enumerate(stored, start=1):
        v = rng.choice(t.values)
        values.append(v)
        entries.append(MemoryEntry(f"m{i}", t.fact(v), keywords=(v,)))
    before = MemoryState(entries)
    k = rng.randrange(n_facts)
    new_value = rng.choice([v for v in stored[k].values if v != values[k]])
    added = rng.choice(new.values)
    ops = (
        Operation.update(f"m{k + 1}", stored[k].fact(new_value), keywords=(new_value,)),
        Operation.add(new.fact(added), memory_id=before.peek_next_id(), keywords=(added,)),
    )
    return Scenario(before, ops, spare.fact(rng.choice(spare.values)))


def make_scenarios(n: int, *, seed: int = 0, n_facts: int = 4) -> list[Scenario]:
    """``n`` scenarios from one seeded generator (the same seed gives the same list)."""
    if n < 1:
        raise ValueError(f"n={n}: need at least one scenario")
    rng = random.Random(seed)
    return [make_scenario(rng, n_facts) for _ in range(n)]


# ----- the mistakes ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Prediction:
    """What a manager with one mistake emits, and the memory state that results."""

    mistake: str
    operations: tuple[Operation, ...]
    state: MemoryState

    def render_operations(self) -> str:
        """The operations on one line, e.g. ``UPDATE m2 "…" · ADD "…"`` (``NOOP`` if none)."""
        parts = [" ".join(x for x in (op.op.value, op.memory_id, f'"{op.content}"' if op.content else None)
                          if x)
                 for op in self.operations]
        return " · ".join(parts) or "NOOP"


def _plain(op: Operation) -> Operation:
    """The operation as an agent would emit it: no labels, and no id for an ADD."""
    return Operation(op.op, None if op.op is OpType.ADD else op.memory_id, op.content)


def _predict(name: str, before: MemoryState, ops: Iterable[Operation]) -> Prediction:
    ops = tuple(_plain(op) for op in ops)
    state = before.copy()
    state.apply(ops)
    return Prediction(name, ops, state)


def _first(gold_ops: Sequence[Operation], kinds: tuple[OpType, ...], mistake: str) -> int:
    for kind in kinds:
        for i, op in enumerate(gold_ops):
            if op.op is kind:
                return i
    names = " or ".join(k.value for k in kinds)
    raise ValueError(f"{mistake}: the gold operations hold no {names} to get wrong")


def perfect(before: MemoryState, gold_ops: Sequence[Operation]) -> Prediction:
    """The gold operations, as the agent would emit them."""
    return _predict("perfect", before, gold_ops)


def do_nothing(before: MemoryState, gold_ops: Sequence[Operation]) -> Prediction:
    """No operation: the state stays as it was before the session."""
    return _predict("do_nothing", before, ())


def missed_update(before: MemoryState, gold_ops: Sequence[Operation]) -> Prediction:
    """The first gold UPDATE is left out, so the stale fact stays in memory."""
    i = _first(gold_ops, (OpType.UPDATE,), "missed_update")
    return _predict("missed_update", before, [op for j, op in enumerate(gold_ops) if j != i])


def spurious_add(before: MemoryState, gold_ops: Sequence[Operation], *,
                 extra: str | None = None) -> Prediction:
    """The gold operations plus an ADD of ``extra`` (default: :func:`default_distractor`)."""
    text = extra if extra is not None else default_distractor(before, gold_ops)
    return _predict("spurious_add", before, [*gold_ops, Operation.add(text)])


def wrong_delete(before: MemoryState, gold_ops: Sequence[Operation]) -> Prediction:
    """The first gold UPDATE becomes a DELETE of the same memory: the fact is lost."""
    i = _first(gold_ops, (OpType.UPDATE,), "wrong_delete")
    ops = list(gold_ops)
    ops[i] = Operation.delete(gold_ops[i].memory_id)  # type: ignore[arg-type]
    return _predict("wrong_delete", before, ops)


def add_not_update(before: MemoryState, gold_ops: Sequence[Operation]) -> Prediction:
    """The first gold UPDATE becomes an ADD of the new content; the old fact stays beside it."""
    i = _first(gold_ops, (OpType.UPDATE,), "add_not_update")
    ops = list(gold_ops)
    ops[i] = Operation.add(gold_ops[i].content)  # type: ignore[arg-type]
    return _predict("add_not_update", before, ops)


def _rewritten(name: str, before: MemoryState, gold_ops: Sequence[Operation],
               rewrite: Callable[[str, Sequence[str]], str]) -> Prediction:
    i = _first(gold_ops, (OpType.UPDATE, OpType.ADD), name)
    ops = list(gold_ops)
    op = gold_ops[i]
    ops[i] = Operation(op.op, op.memory_id, rewrite(op.content or "", op.keywords))
    return _predict(name, before, ops)


def paraphrase(before: MemoryState, gold_ops: Sequence[Operation], *,
               rewrite: Callable[[str, Sequence[str]], str] = paraphrase_text) -> Prediction:
    """The first gold UPDATE (else ADD) reworded by ``rewrite``, keywords kept."""
    return _rewritten("paraphrase", before, gold_ops, rewrite)


def keyword_dropped(before: MemoryState, gold_ops: Sequence[Operation], *,
                    rewrite: Callable[[str, Sequence[str]], str] = vague_text) -> Prediction:
    """The first gold UPDATE (else ADD) reworded by ``rewrite`` so that its keywords are lost."""
    return _rewritten("keyword_dropped", before, gold_ops, rewrite)


def duplicate_add(before: MemoryState, gold_ops: Sequence[Operation]) -> Prediction:
    """The gold operations plus an ADD repeating a stored memory the session leaves untouched
    (the session restated it and the manager stored it again); if every memory is touched,
    the first gold ADD is issued twice."""
    touched = {op.memory_id for op in gold_ops if op.op in (OpType.UPDATE, OpType.DELETE)}
    keep = [e for e in before if e.id not in touched]
    if keep:
        text = keep[0].content
    else:
        text = gold_ops[_first(gold_ops, (OpType.ADD,), "duplicate_add")].content  # type: ignore[assignment]
    return _predict("duplicate_add", before, [*gold_ops, Operation.add(text)])


MistakeFn = Callable[..., Prediction]

#: The mistakes in the order figures show them.
MISTAKES: dict[str, MistakeFn] = {
    "perfect": perfect,
    "do_nothing": do_nothing,
    "missed_update": missed_update,
    "spurious_add": spurious_add,
    "wrong_delete": wrong_delete,
    "add_not_update": add_not_update,
    "paraphrase": paraphrase,
    "keyword_dropped": keyword_dropped,
    "duplicate_add": duplicate_add,
}

MISTAKE_DESCRIPTIONS: dict[str, str] = {
    "perfect": "the gold operations",
    "do_nothing": "no operation",
    "missed_update": "UPDATE left out, stale fact kept",
    "spurious_add": "extra ADD of an unstated fact",
    "wrong_delete": "DELETE instead of UPDATE",
    "add_not_update": "ADD new fact, old one kept",
    "paraphrase": "UPDATE reworded, keyword kept",
    "keyword_dropped": "UPDATE reworded, keyword lost",
    "duplicate_add": "extra ADD repeating a stored fact",
}


def make_prediction(mistake: str, before: MemoryState, gold_ops: Sequence[Operation],
                    **options: Any) -> Prediction:
    """Apply the mistake named ``mistake`` (a key of :data:`MISTAKES`)."""
    try:
        fn = MISTAKES[mistake]
    except KeyError:
        raise ValueError(f"unknown mistake {mistake!r}; known: {', '.join(MISTAKES)}") from None
    return fn(before, gold_ops, **options)


def predictions(scenario: Scenario, mistakes: Iterable[str] = MISTAKES) -> dict[str, Prediction]:
    """Every mistake applied to one scenario (the spurious ADD writes its distractor)."""
    out = {}
    for name in mistakes:
        opts = {"extra": scenario.distractor} if name == "spurious_add" else {}
        out[name] = make_prediction(name, scenario.before, scenario.operations, **opts)
    return out


def mistake_rewards(scenarios: Sequence[Scenario], *, mistakes: Iterable[str] = MISTAKES,
                    similarity: Any = "lexical", threshold: float = 0.5,
                    fidelity: Iterable[bool] = (True, False),
                    scopes: Iterable[str] = ("delta", "state")) -> list[dict[str, Any]]:
    """Reward of every mistake, averaged over ``scenarios``.

    Args:
        scenarios: gold sessions (e.g. :func:`make_scenarios`).
        mistakes: names of :data:`MISTAKES` to score.
        similarity: backend for :func:`deltamem_lib.mld.memory_levenshtein_batch` (a name or
            a ``Similarity`` object, which keeps its embedding cache between calls).
        threshold: ``τ``.
        fidelity: values of ``lexical_fidelity`` to score (on, off: the Figure 3 ablation).
        scopes: ``"delta"`` (the dense ``r_trans``, normalised by the two transitions),
            ``"residual"`` (the delta scope normalised by its own residual: the ablation
            that gives a partly right session nothing) and/or ``"state"``.

    Returns:
        One record per (mistake, fidelity, scope): ``mean``, ``std`` (population), ``min``,
        ``max``, ``n`` and the per-scenario ``values`` — plain JSON-ready types.
    """
    names = list(mistakes)
    sim = get_similarity(similarity)
    preds = [predictions(s, names) for s in scenarios]
    golds = [s.after.entries for s in scenarios]
    jobs = [(p[name].state.entries, g, s.before.entries) for p, g, s in zip(preds, golds, scenarios)
            for name in names]
    records = []
    for fid in fidelity:
        for scope in scopes:
            if scope not in ("delta", "residual", "state"):
                raise ValueError(f"scopes: {scope!r} is not 'delta', 'residual' or 'state'")
            res = memory_levenshtein_batch([j[:2] if scope == "residual" else j for j in jobs],
                                           similarity=sim, threshold=threshold, lexical_fidelity=fid,
                                           scope="delta" if scope == "residual" else scope)
            for k, name in enumerate(names):
                vals = [res[s * len(names) + k].reward for s in range(len(scenarios))]
                records.append({
                    "mistake": name, "similarity": sim.name, "lexical_fidelity": bool(fid),
                    "scope": scope, "threshold": threshold, "n": len(vals),
                    "mean": statistics.fmean(vals), "std": statistics.pstdev(vals),
                    "min": min(vals), "max": max(vals), "values": [round(v, 6) for v in vals],
                })
    return records


def select_records(records: Iterable[Mapping[str, Any]], **where: Any) -> list[Mapping[str, Any]]:
    """The records whose fields equal ``where`` (e.g. ``mistake="paraphrase", scope="delta"``)."""
    return [r for r in records if all(r.get(k) == v for k, v in where.items())]
