"""Life events and the timeline of a user (DeltaMem §3.2, steps 2 and 3).

Step 2 of the paper's synthesis writes a chronological timeline of dated life events for a
profile; step 3 derives, per event, memory operations from three sources:

* **intra-event evolution** — the event changes what is true (a move changes the home city:
  UPDATE; a break-up ends a relationship: DELETE; a new pet: ADD);
* **inter-event evolution** — a later event revises what an *earlier* session recorded,
  without the world changing now: the user corrects an earlier statement ("I told you I was
  a nurse, but I'm a paramedic"), calls off a trip announced before, or takes back a hobby
  they claimed to have started;
* **padding** — facts of the profile that the user mentions in passing (ADDs), so that the
  operation set covers everything the session reveals.

Here an event is a :class:`EventType` with an eligibility test on the current world and a
function producing :class:`Change` objects (a fact before and after). Step 3 proper, turning
changes into operations with memory ids, is :func:`deltamem_lib.synthesis.procedural.label_operations`.

The planner steers the event mix so that every user meets the project's targets:
UPDATE + DELETE at least 25 % of operations and inter-event evolution at least 10 % of UPDATEs
(:func:`deltamem_lib.synthesis.stats.check_targets`).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..memory import OpType
from .world import BAD_HABITS, EMPLOYERS, JOBS, Fact, Profile, new_fact

__all__ = ["EVENT_TYPES", "Change", "EventType", "TimelineEvent", "World", "plan_timeline"]


@dataclass(frozen=True)
class Change:
    """One fact changing: ADD (``before`` None), DELETE (``after`` None) or UPDATE."""

    slot: str
    before: Fact | None
    after: Fact | None
    evolution: str  # "intra" | "inter" | "padding"
    cause: str  # the event kind that produced it ("move", "correction", "padding" …)

    @property
    def op(self) -> OpType:
        if self.before is None:
            return OpType.ADD
        return OpType.DELETE if self.after is None else OpType.UPDATE

    @property
    def fact(self) -> Fact:
        """The fact the change is about (after it if it still exists)."""
        return self.after or self.before  # type: ignore[return-value]

    def context(self) -> dict[str, str]:
        ctx = self.before.context("old_") if self.before else {}
        ctx.update(self.fact.context())
        return ctx


@dataclass
class TimelineEvent:
    """One dated session of the timeline: its main event and every change it carries."""

    index: int
    date: str
    kind: str
    summary: str
    changes: list[Change] = field(default_factory=list)


class World:
    """What is true about the user and what the memory already knows, while planning."""

    def __init__(self, profile: Profile):
        self.profile = profile
        self.facts: dict[str, Fact] = {f.slot: f for f in profile.facts}
        self.known: set[str] = set(profile.initial)
        self.last_changed: dict[str, int] = {}
        self.added_at: dict[str, int] = {}  # slot -> session that added it (not initial ones)
        self.seen_values: dict[str, set[str]] = {}
        for f in profile.facts:
            self.seen_values.setdefault(f.type, set()).update(f.values())
        self._n = max(int(s[1:]) for s in self.facts) if self.facts else 0
        self.last_breakup = -10

    def new_slot(self) -> str:
        self._n += 1
        return f"f{self._n}"

    def true_of(self, ftype: str) -> list[Fact]:
        return [f for f in self.facts.values() if f.type == ftype]

    def known_of(self, ftype: str, t: int | None = None, gap: int = 0) -> list[Fact]:
        """Known facts of a type, optionally unchanged for at least ``gap`` sessions before ``t``."""
        return [f for f in self.facts.values() if f.type == ftype and f.slot in self.known
                and (t is None or t - self.last_changed.get(f.slot, -100) >= gap)]

    def hidden(self) -> list[Fact]:
        return [f for f in self.facts.values() if f.slot not in self.known]

    def new(self, ftype: str, rng: random.Random, avoid: tuple[str, ...] = (), **kw: Any) -> Fact:
        """A new fact of a type with values this user has not had before."""
        return new_fact(ftype, rng, self.new_slot(), used_names=self.profile.used_names,
                        exclude=self.seen_values.get(ftype, set()) | set(avoid), **kw)

    def apply(self, change: Change, t: int) -> None:
        if change.after is None:
            del self.facts[change.slot]
            self.known.discard(change.slot)
        else:
            self.facts[change.slot] = change.after
            self.known.add(change.slot)
            self.seen_values.setdefault(change.after.type, set()).update(change.after.values())
        if change.before is None:
            self.added_at[change.slot] = t
        self.last_changed[change.slot] = t


Maker = Callable[[World, random.Random, int], list[Change]]
Check = Callable[[World, int], bool]


@dataclass(frozen=True)
class EventType:
    """A kind of life event: when it can happen, what it changes, how to summarise it."""

    kind: str
    weight: float
    ops: tuple[str, ...]  # operation types it produces (for steering the mix)
    evolution: str
    eligible: Check
    make: Maker
    summary: str  # format string over the first change's context


def _upd(fact: Fact, evo: str, cause: str, **attrs: str) -> Change:
    return Change(fact.slot, fact, fact.replace(**attrs), evo, cause)


def _mk_move(w: World, rng: random.Random, t: int) -> list[Change]:
    home = w.known_of("home")[0]
    city = w.new("home", rng).attrs["city"]
    return [_upd(home, "intra", "move", city=city)]


def _mk_new_job(w: World, rng: random.Random, t: int) -> list[Change]:
    emp = w.known_of("employer")[0]
    sector = emp.attrs["sector"]
    options = [c for c in EMPLOYERS[sector] if c not in w.seen_values["employer"]] or EMPLOYERS[sector]
    return [_upd(emp, "intra", "new_job", company=rng.choice(options))]


def _mk_career_change(w: World, rng: random.Random, t: int) -> list[Change]:
    occ, emp = w.known_of("occupation")[0], w.known_of("employer")[0]
    sector = rng.choice([s for s in JOBS if s != occ.attrs["sector"]])
    job = rng.choice(JOBS[sector])
    company = rng.choice([c for c in EMPLOYERS[sector] if c not in w.seen_values["employer"]]
                         or EMPLOYERS[sector])
    return [_upd(occ, "intra", "career_change", job=job, sector=sector),
            _upd(emp, "intra", "career_change", company=company, sector=sector)]


def _mk_promotion(w: World, rng: random.Random, t: int) -> list[Change]:
    occ = w.known_of("occupation")[0]
    job = occ.attrs["job"]
    new = f"lead {job.removeprefix('senior ')}" if job.startswith("senior ") else f"senior {job}"
    return [_upd(occ, "intra", "promotion", job=new)]


def _can_promote(w: World, t: int) -> bool:
    occ = w.known_of("occupation", t, 3)
    return bool(occ) and not occ[0].attrs["job"].startswith("lead ")


def _mk_new_partner(w: World, rng: random.Random, t: int) -> list[Change]:
    fact = w.new("partner", rng)
    return [Change(fact.slot, None, fact, "intra", "new_partner")]


def _mk_breakup(w: World, rng: random.Random, t: int) -> list[Change]:
    p = [f for f in w.known_of("partner", t, 2) if f.attrs["rel"] != "married to"][0]
    w.last_breakup = t
    return [Change(p.slot, p, None, "intra", "breakup")]


def _mk_engagement(w: World, rng: random.Random, t: int) -> list[Change]:
    p = [f for f in w.known_of("partner", t, 2) if f.attrs["rel"] == "dating"][0]
    return [_upd(p, "intra", "engagement", rel="engaged to", rel_kw="engaged")]


def _mk_wedding(w: World, rng: random.Random, t: int) -> list[Change]:
    p = [f for f in w.known_of("partner", t, 2) if f.attrs["rel"] == "engaged to"][0]
    return [_upd(p, "intra", "wedding", rel="married to", rel_kw="married")]


def _mk_adopt_pet(w: World, rng: random.Random, t: int) -> list[Change]:
    owned = {f.attrs["species"] for f in w.true_of("pet")}
    fact = w.new("pet", rng)
    if fact.attrs["species"] in owned:
        fact = fact.replace(species=rng.choice([s for s in ("dog", "cat", "rabbit", "parrot")
                                                if s not in owned]))
    return [Change(fact.slot, None, fact, "intra", "adopt_pet")]


def _mk_delete(ftype: str, cause: str, gap: int, evo: str = "intra") -> Maker:
    def make(w: World, rng: random.Random, t: int) -> list[Change]:
        f = rng.choice(w.known_of(ftype, t, gap))
        return [Change(f.slot, f, None, evo, cause)]
    return make


def _mk_add(ftype: str, cause: str, avoid: tuple[str, ...] = (), **fixed: str) -> Maker:
    def make(w: World, rng: random.Random, t: int) -> list[Change]:
        fact = w.new(ftype, rng, avoid, **fixed)
        return [Change(fact.slot, None, fact, "intra", cause)]
    return make


def _mk_finish_degree(w: World, rng: random.Random, t: int) -> list[Change]:
    edu = [f for f in w.known_of("education", t, 2) if f.attrs["form"] == "studying"][0]
    return [_upd(edu, "intra", "finish_degree", form="done")]


def _mk_buy_car(w: World, rng: random.Random, t: int) -> list[Change]:
    car = w.new("vehicle", rng).attrs["car"]
    known = w.known_of("vehicle")
    if known:
        return [_upd(known[0], "intra", "buy_car", car=car)]
    fact = w.new("vehicle", rng, car=car)
    return [Change(fact.slot, None, fact, "intra", "buy_car")]


def _mk_change_taste(w: World, rng: random.Random, t: int) -> list[Change]:
    fact = rng.choice([f for ft in ("cuisine", "music", "author") for f in w.known_of(ft, t, 2)])
    key = fact.spec.keyword_keys[0]
    return [_upd(fact, "intra", "change_taste", **{key: w.new(fact.type, rng).attrs[key]})]


def _mk_change_diet(w: World, rng: random.Random, t: int) -> list[Change]:
    known = w.known_of("diet")
    diet = w.new("diet", rng).attrs["diet"]
    if known:
        return [_upd(known[0], "intra", "change_diet", diet=diet)]
    fact = w.new("diet", rng, diet=diet)
    return [Change(fact.slot, None, fact, "intra", "change_diet")]


def _mk_take_trip(w: World, rng: random.Random, t: int) -> list[Change]:
    trip = [f for f in w.known_of("trip", t, 1) if f.attrs["form"] == "planning"][0]
    return [_upd(trip, "intra", "take_trip", form="done")]


def _mk_new_baby(w: World, rng: random.Random, t: int) -> list[Change]:
    relation = rng.choice([r for r in ("daughter", "son")
                           if r not in {f.attrs["relation"] for f in w.true_of("family")}])
    fact = w.new("family", rng, relation=relation)
    return [Change(fact.slot, None, fact, "intra", "new_baby")]


# ----- inter-event evolution -------------------------------------------------------------------
def _correctable(w: World, t: int, touched: set[str] = frozenset()) -> list[Fact]:
    return [f for f in w.facts.values() if f.slot in w.known and f.slot not in touched
            and f.spec.correctable and w.last_changed.get(f.slot, -100) < t]


def make_correction(w: World, rng: random.Random, t: int, touched: set[str] = frozenset()) -> list[Change]:
    """The user corrects an earlier statement: the memory recorded a wrong value."""
    fact = rng.choice(_correctable(w, t, touched))
    key = rng.choice(fact.spec.correctable)
    if fact.type == "family":
        value = new_fact("family", rng, "", used_names=w.profile.used_names,
                         relation=fact.attrs["relation"]).attrs["name"]
    elif fact.type == "best_friend":
        value = new_fact("best_friend", rng, "", used_names=w.profile.used_names).attrs["name"]
    elif fact.type in ("occupation", "employer"):
        pool = (JOBS if fact.type == "occupation" else EMPLOYERS)[fact.attrs["sector"]]
        prefix = " ".join(word for word in fact.attrs.get("job", "").split() if word in ("senior", "lead"))
        options = [v for v in pool if v not in w.seen_values[fact.type] and v != fact.attrs[key]]
        value = rng.choice(options or [v for v in pool if v != fact.attrs[key]])
        if prefix:
            value = f"{prefix} {value}"
    else:
        value = w.new(fact.type, rng).attrs[key]
        if value == fact.attrs[key]:  # catalogue exhausted for this user: take any other value
            value = new_fact(fact.type, rng, "", used_names=set()).attrs[key]
    if value == fact.attrs[key]:
        raise _Ineligible
    return [_upd(fact, "inter", "correction", **{key: value})]


class _Ineligible(Exception):
    pass


def _mk_cancel_trip(w: World, rng: random.Random, t: int) -> list[Change]:
    trip = [f for f in w.known_of("trip", t, 1) if f.attrs["form"] == "planning"][0]
    return [Change(trip.slot, trip, None, "inter", "cancel_trip")]


def _mk_change_trip(w: World, rng: random.Random, t: int) -> list[Change]:
    trip = [f for f in w.known_of("trip", t, 1) if f.attrs["form"] == "planning"][0]
    return [_upd(trip, "inter", "change_trip", place=w.new("trip", rng).attrs["place"])]


def _retractable(w: World, t: int) -> list[Fact]:
    return [f for f in w.known_of("hobby", t, 1) if 0 <= t - w.added_at.get(f.slot, -100) <= 4]


def _mk_retract(w: World, rng: random.Random, t: int) -> list[Change]:
    f = rng.choice(_retractable(w, t))
    return [Change(f.slot, f, None, "inter", "retract_hobby")]


def _planning_trip(w: World, t: int, gap: int = 1) -> bool:
    return any(f.attrs["form"] == "planning" for f in w.known_of("trip", t, gap))


EVENT_TYPES: dict[str, EventType] = {e.kind: e for e in [
    EventType("move", 1.2, ("UPDATE",), "intra", lambda w, t: bool(w.known_of("home", t, 2)), _mk_move,
              "Moved from {old_city} to {city}."),
    EventType("new_job", 1.0, ("UPDATE",), "intra",
              lambda w, t: bool(w.known_of("employer", t, 2) and w.known_of("occupation")), _mk_new_job,
              "Left {old_company} for a job at {company}."),
    EventType("career_change", 0.5, ("UPDATE", "UPDATE"), "intra",
              lambda w, t: bool(w.known_of("employer", t, 3) and w.known_of("occupation", t, 3)),
              _mk_career_change, "Changed career from {old_job} to {job}."),
    EventType("promotion", 0.9, ("UPDATE",), "intra", _can_promote, _mk_promotion,
              "Promoted from {old_job} to {job}."),
    EventType("new_partner", 0.8, ("ADD",), "intra",
              lambda w, t: not w.true_of("partner") and t - w.last_breakup >= 2, _mk_new_partner,
              "Started dating {name}."),
    EventType("breakup", 0.8, ("DELETE",), "intra",
              lambda w, t: any(f.attrs["rel"] != "married to" for f in w.known_of("partner", t, 2)),
              _mk_breakup, "Broke up with {old_name}."),
    EventType("engagement", 0.7, ("UPDATE",), "intra",
              lambda w, t: any(f.attrs["rel"] == "dating" for f in w.known_of("partner", t, 2)),
              _mk_engagement, "Got engaged to {name}."),
    EventType("wedding", 0.7, ("UPDATE",), "intra",
              lambda w, t: any(f.attrs["rel"] == "engaged to" for f in w.known_of("partner", t, 2)),
              _mk_wedding, "Married {name}."),
    EventType("adopt_pet", 0.9, ("ADD",), "intra", lambda w, t: len(w.true_of("pet")) < 2, _mk_adopt_pet,
              "Adopted a {species} called {name}."),
    EventType("lose_pet", 0.6, ("DELETE",), "intra", lambda w, t: bool(w.known_of("pet", t, 2)),
              _mk_delete("pet", "lose_pet", 2), "Lost {old_name}, their {old_species}."),
    EventType("injury", 0.8, ("ADD",), "intra", lambda w, t: not w.true_of("injury"),
              _mk_add("injury", "injury"), "Got {a_injury}."),
    EventType("recovery", 1.2, ("DELETE",), "intra", lambda w, t: bool(w.known_of("injury", t, 1)),
              _mk_delete("injury", "recovery", 1), "Recovered from {old_a_injury}."),
    EventType("take_up_hobby", 1.0, ("ADD",), "intra", lambda w, t: len(w.true_of("hobby")) < 4,
              _mk_add("hobby", "take_up_hobby"), "Took up {hobby}."),
    EventType("quit_hobby", 0.8, ("DELETE",), "intra", lambda w, t: bool(w.known_of("hobby", t, 2)),
              _mk_delete("hobby", "quit_hobby", 2), "Gave up {old_hobby}."),
    EventType("take_up_habit", 0.6, ("ADD",), "intra", lambda w, t: len(w.true_of("habit")) < 2,
              _mk_add("habit", "take_up_habit", BAD_HABITS), "Started {habit}."),
    EventType("quit_habit", 0.8, ("DELETE",), "intra", lambda w, t: bool(w.known_of("habit", t, 2)),
              _mk_delete("habit", "quit_habit", 2), "Stopped {old_habit}."),
    EventType("start_degree", 0.5, ("ADD",), "intra", lambda w, t: not w.true_of("education"),
              _mk_add("education", "start_degree", form="studying"), "Started {a_degree} in {field}."),
    EventType("finish_degree", 1.0, ("UPDATE",), "intra",
              lambda w, t: any(f.attrs["form"] == "studying" for f in w.known_of("education", t, 2)),
              _mk_finish_degree, "Finished {a_degree} in {field}."),
    EventType("buy_car", 0.7, ("UPDATE",), "intra",
              lambda w, t: bool(w.known_of("vehicle", t, 2)) or not w.true_of("vehicle"), _mk_buy_car,
              "Bought {a_car}."),
    EventType("sell_car", 0.5, ("DELETE",), "intra", lambda w, t: bool(w.known_of("vehicle", t, 2)),
              _mk_delete("vehicle", "sell_car", 2), "Sold the {old_car} and went car-free."),
    EventType("change_taste", 0.8, ("UPDATE",), "intra",
              lambda w, t: any(w.known_of(ft, t, 2) for ft in ("cuisine", "music", "author")),
              _mk_change_taste, "Changed a favourite: {old_value} → {value}."),
    EventType("change_diet", 0.6, ("UPDATE",), "intra",
              lambda w, t: bool(w.known_of("diet", t, 3)) or not w.true_of("diet"), _mk_change_diet,
              "Became {diet}."),
    EventType("plan_trip", 0.8, ("ADD",), "intra", lambda w, t: not any(
        f.attrs["form"] == "planning" for f in w.true_of("trip")),
              _mk_add("trip", "plan_trip", form="planning"), "Started planning a trip to {place}."),
    EventType("take_trip", 1.0, ("UPDATE",), "intra", lambda w, t: _planning_trip(w, t), _mk_take_trip,
              "Went on the trip to {place}."),
    EventType("new_baby", 0.4, ("ADD",), "intra",
              lambda w, t: w.profile.age < 46 and bool(w.known_of("partner"))
              and len([f for f in w.true_of("family") if f.attrs["relation"] in ("daughter", "son")]) < 2,
              _mk_new_baby, "Had a baby: {a_relation} named {name}."),
    EventType("correction", 0.5, ("UPDATE",), "inter", lambda w, t: bool(_correctable(w, t)), make_correction,
              "Corrected an earlier statement: {old_value} → {value}."),
    EventType("cancel_trip", 0.5, ("DELETE",), "inter", lambda w, t: _planning_trip(w, t), _mk_cancel_trip,
              "Called off the trip to {old_place} announced earlier."),
    EventType("change_trip", 0.5, ("UPDATE",), "inter", lambda w, t: _planning_trip(w, t), _mk_change_trip,
              "The planned trip to {old_place} is now a trip to {place}."),
    EventType("retract_hobby", 0.35, ("DELETE",), "inter", lambda w, t: bool(_retractable(w, t)), _mk_retract,
              "Took back having taken up {old_hobby}."),
]}


def summarize(kind: str, changes: list[Change]) -> str:
    """The one-line summary of a session's main event."""
    if not changes:
        return "Chit-chat; nothing about the user changes."
    first = changes[0]
    ctx = dict(first.context())
    ctx.update(fact_type=first.fact.type, value=first.fact.content().rstrip("."),
               old_value=first.before.content().rstrip(".") if first.before else "")
    return EVENT_TYPES[kind].summary.format(**ctx)


# ----- planning -------------------------------------------------------------------------------
@dataclass
class _Counts:
    add: int = 0
    update: int = 0
    delete: int = 0
    inter_update: int = 0

    def add_changes(self, changes: list[Change]) -> None:
        for c in changes:
            if c.op is OpType.ADD:
                self.add += 1
            elif c.op is OpType.UPDATE:
                self.update += 1
                self.inter_update += c.evolution == "inter"
            else:
                self.delete += 1

    def ud_share(self) -> float:
        n = self.add + self.update + self.delete
        return (self.update + self.delete) / n if n else 1.0

    def inter_share(self) -> float:
        return self.inter_update / self.update if self.update else 1.0


def _dates(profile: Profile, n: int, rng: random.Random, gap: tuple[int, int]) -> list[str]:
    d = dt.date.fromisoformat(profile.start_date)
    out = []
    for _ in range(n):
        d += dt.timedelta(days=rng.randint(*gap))
        out.append(d.isoformat())
    return out


def plan_timeline(profile: Profile, n_sessions: int, rng: random.Random, cfg: Any) -> list[TimelineEvent]:
    """Step 2 (with step 3's choice of padding): a dated event per session and its changes.

    ``cfg`` is a :class:`~deltamem_lib.synthesis.procedural.SynthConfig` (its quiet rate,
    padding and correction rates, gap between sessions and the two targets). The mix is
    steered towards the targets while planning; the last session adds corrections if a
    target is still short.
    """
    world = World(profile)
    counts = _Counts()
    dates = _dates(profile, n_sessions, rng, (cfg.min_gap_days, cfg.max_gap_days))
    ud_goal = cfg.min_update_delete_share + 0.10
    inter_goal = cfg.min_inter_share_of_updates + 0.08
    timeline = []
    for t in range(n_sessions):
        changes: list[Change] = []
        kind = "quiet"
        if rng.random() >= cfg.quiet_rate:
            weights = {}
            for et in EVENT_TYPES.values():
                if not et.eligible(world, t):
                    continue
                w = et.weight
                if counts.ud_share() < ud_goal:
                    w *= 3.0 if "ADD" not in et.ops else 0.4
                if et.evolution == "inter":
                    w *= 4.0 if counts.inter_share() < inter_goal else 1.0
                weights[et.kind] = w
            if weights:
                kind = rng.choices(list(weights), weights=list(weights.values()))[0]
                changes = _make(EVENT_TYPES[kind].make, world, rng, t)
                if not changes:
                    kind = "quiet"
        touched = {c.slot for c in changes}
        # An extra correction now and then, on top of the main event.
        if kind not in ("quiet", "correction") and rng.random() < cfg.extra_correction_rate:
            changes += _make(lambda w, r, tt: make_correction(w, r, tt, touched), world, rng, t)
        # Padding: hidden facts of the profile mentioned in passing.
        if kind != "quiet":
            hidden = world.hidden()
            n_pad = rng.choices((0, 1, 2), weights=cfg.padding_weights)[0]
            if counts.ud_share() < ud_goal:
                n_pad = min(n_pad, 1)
            for fact in rng.sample(hidden, min(n_pad, len(hidden))):
                changes.append(Change(fact.slot, None, fact, "padding", "padding"))
        if t == n_sessions - 1:
            changes = _repair(world, rng, t, counts, changes, cfg)
            if changes and kind == "quiet":
                kind = "correction"
        for c in changes:
            world.apply(c, t)
        counts.add_changes(changes)
        main = [c for c in changes if c.cause == kind]
        timeline.append(TimelineEvent(t, dates[t], kind, summarize(kind, main), changes))
    return timeline


def _make(make: Maker, world: World, rng: random.Random, t: int) -> list[Change]:
    try:
        return make(world, rng, t)
    except (_Ineligible, IndexError):
        return []


def _repair(world: World, rng: random.Random, t: int, counts: _Counts, changes: list[Change],
            cfg: Any) -> list[Change]:
    """Last session: drop padding and add corrections while a target is still short."""
    def short(extra: list[Change]) -> bool:
        c = _Counts(counts.add, counts.update, counts.delete, counts.inter_update)
        c.add_changes(extra)
        return c.ud_share() < cfg.min_update_delete_share or c.inter_share() < cfg.min_inter_share_of_updates
    if not short(changes):
        return changes
    changes = [c for c in changes if c.evolution != "padding"]
    while short(changes):
        touched = {c.slot for c in changes}
        extra = _make(lambda w, r, tt: make_correction(w, r, tt, touched), world, rng, t)
        if not extra:
            break
        changes.append(extra[0])
    return changes
