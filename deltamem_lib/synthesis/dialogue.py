"""Rendering a planned session as a user–assistant dialogue (DeltaMem §3.2, step 4).

A session is a sequence of *beats* between a greeting and a goodbye: the main event, any
correction, padding facts mentioned in passing, distractor facts about other people,
restatements of facts memory already holds, and small talk. Beats are shuffled, a padding
fact may ride along in a turn about something else, and an event is often spread over two
user turns with the assistant's question between them — so a memory manager has to read the
whole session, not pattern-match one sentence.

Every change's *evidence* is the list of user turns of its beat (a teaser and the detail that
completes it are both needed to understand the fact). :func:`render_session` checks that each
keyword of an ADD or UPDATE occurs in those turns and raises if a template breaks that rule.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..episodes import Turn
from ..memory import OpType
from . import phrases as P
from .events import Change, TimelineEvent
from .text import occurs, padded
from .world import (
    CARS,
    CITIES,
    DEGREES,
    DIETS,
    EMPLOYERS,
    FEMALE_NAMES,
    FIELDS,
    HOBBIES,
    INJURIES,
    JOBS,
    MALE_NAMES,
    NEUTRAL_NAMES,
    PET_NAMES,
    PET_SPECIES,
    PLACES,
    Fact,
    article,
)

__all__ = ["RenderedSession", "render_session"]

_DISTRACTOR_REPLY = ["Sounds like {name} has a lot going on!", "Ha, good for {name}.",
                     "That's exciting for {name}!", "Oh nice — pass on my best to {name}.",
                     "Funny how things work out for people.", "Sounds like quite the news!"]
_DISTRACTOR_REPLY_SAD = ["Oh no, poor {name}! I hope {he} is okay.",
                         "Ouch — wish {name} a quick recovery from me."]


@dataclass
class _Beat:
    user: list[str]
    assistant: list[str]
    changes: list[int] = field(default_factory=list)


@dataclass
class RenderedSession:
    """Step 4's output for one session."""

    turns: list[Turn]
    evidence: list[tuple[str, ...]]  # per change of the event, the user turn ids carrying it
    distractors: list[dict[str, str]]  # facts about other people said in the session


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


@lru_cache(maxsize=4096)
def _fields(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def _usable(templates: list[Any], ctx: Mapping[str, str]) -> list[Any]:
    """Templates (or tuples of templates) whose placeholders ``ctx`` fills: a purchase with no
    previous car cannot say "traded in the old {old_car}"."""
    def ok(t: Any) -> bool:
        return all(_fields(x) <= ctx.keys() for x in ((t,) if isinstance(t, str) else t))
    return [t for t in templates if ok(t)]


def _key(fact: Fact, table: Mapping[str, Any]) -> str | None:
    form_key = f"{fact.type}:{fact.attrs.get('form', '')}"
    return form_key if form_key in table else (fact.type if fact.type in table else None)


class _Renderer:
    def __init__(self, event: TimelineEvent, known: Mapping[str, Fact], first: str, rng: random.Random,
                 taboo: Iterable[str], chitchat: list[tuple[str, str]]):
        self.event, self.known, self.rng = event, known, rng
        self.base = {"first": first}
        self.taboo = [padded(t) for t in taboo if t]
        self.chitchat = chitchat
        self.said: set[str] = set()  # distractor names and values used in this session

    # -- small helpers ------------------------------------------------------------------------
    def ctx(self, change: Change | None = None, **extra: str) -> dict[str, str]:
        c = dict(self.base)
        if change is not None:
            c.update(change.context())
        c.update(extra)
        return c

    def say(self, template: str, ctx: Mapping[str, str]) -> str:
        return _cap(template.format(**ctx))

    def request(self) -> tuple[str, str]:
        return self.chitchat.pop() if self.chitchat else self.rng.choice(P.CHITCHAT)

    def allowed(self, value: str) -> bool:
        v = padded(value)
        return not any(v in t or t in v for t in self.taboo)

    def pick(self, pool: list[str]) -> str:
        """A value for a distractor: none of the user's own values, none used earlier this session."""
        options = [v for v in pool if v not in self.said and self.allowed(v)]
        value = self.rng.choice(options or pool)
        self.said.add(value)
        return value

    # -- beats --------------------------------------------------------------------------------
    def event_beat(self, kind: str, changes: list[Change], indices: list[int]) -> _Beat:
        key = kind
        if kind == "change_taste":
            key = f"change_taste:{changes[0].fact.type}"
        bank = P.EVENTS[key]
        ctx = self.ctx(changes[0])
        for c in changes[1:]:
            ctx.update({k: v for k, v in c.context().items() if k not in ctx})
        react = self.say(self.rng.choice(_usable(bank["react"], ctx)), ctx)
        split = _usable(bank.get("split", []), ctx)
        if split and self.rng.random() < 0.5:
            teaser, question, detail = self.rng.choice(split)
            return _Beat([self.say(teaser, ctx), self.say(detail, ctx)], [self.say(question, ctx), react],
                         indices)
        return _Beat([self.say(self.rng.choice(_usable(bank["single"], ctx)), ctx)], [react], indices)

    def correction_beat(self, change: Change, index: int) -> _Beat:
        text = self.say(self.rng.choice(P.CORRECTIONS[change.fact.type]), self.ctx(change))
        return _Beat([text], [self.rng.choice(P.CORRECTION_REACT)], [index])

    def padding_sentence(self, change: Change) -> str:
        key = _key(change.fact, P.PADDING)
        if key is None:
            raise KeyError(f"no padding phrasing for fact type {change.fact.type!r}")
        return self.say(self.rng.choice(P.PADDING[key]), self.ctx(change))

    def chat_beat(self, lead: str = "", changes: Iterable[int] = ()) -> _Beat:
        req, reply = self.request()
        ack = self.rng.choice(P.ACKS) if lead else ""
        return _Beat([f"{lead} {req}".strip()], [ack + reply], list(changes))

    def restate_sentence(self) -> str | None:
        touched = {c.slot for c in self.event.changes}
        facts = [f for f in self.known.values() if f.slot not in touched and _key(f, P.RESTATE)]
        if not facts:
            return None
        fact = self.rng.choice(facts)
        return self.say(self.rng.choice(P.RESTATE[_key(fact, P.RESTATE)]), {**self.base, **fact.context()})

    def distractor(self) -> tuple[str, str, dict[str, str]]:
        ftype = self.rng.choice(list(P.DISTRACTORS))
        rng = self.rng
        gender = rng.choice("fm")
        name = self.pick(FEMALE_NAMES if gender == "f" else MALE_NAMES)
        ctx: dict[str, str] = {"person": rng.choice(P.DISTRACTOR_PEOPLE), "name": name,
                               "he": "she" if gender == "f" else "he", "his": "her" if gender == "f"
                               else "his"}
        if ftype == "home":
            ctx["city"] = value = self.pick(CITIES)
        elif ftype == "occupation":
            value = self.pick([j for js in JOBS.values() for j in js])
            ctx.update(job=value, a_job=article(value))
        elif ftype == "employer":
            ctx["company"] = value = self.pick([c for cs in EMPLOYERS.values() for c in cs])
        elif ftype == "pet":
            species = rng.choice(PET_SPECIES)
            ctx.update(species=species, a_species=article(species), pet=self.pick(PET_NAMES))
            value = ctx["pet"]
        elif ftype == "partner":
            ctx["name2"] = value = self.pick(FEMALE_NAMES + MALE_NAMES + NEUTRAL_NAMES)
        elif ftype == "injury":
            value = self.pick(INJURIES)
            ctx.update(injury=value, a_injury=article(value))
        elif ftype == "hobby":
            ctx["hobby"] = value = self.pick(HOBBIES)
        elif ftype == "trip":
            ctx["place"] = value = self.pick(PLACES)
        elif ftype == "vehicle":
            value = self.pick(CARS)
            ctx.update(car=value, a_car=article(value))
        elif ftype == "diet":
            ctx["diet"] = value = self.pick(DIETS)
        else:  # education
            ctx.update(degree=rng.choice(DEGREES)[1], field=self.pick(FIELDS))
            value = ctx["field"]
        text = self.say(rng.choice(P.DISTRACTORS[ftype]), ctx)
        replies = _DISTRACTOR_REPLY_SAD if ftype == "injury" else _DISTRACTOR_REPLY
        reply = self.say(rng.choice(replies), ctx)
        record = {"person": f"{ctx['person']} {name}".removeprefix("my ").strip(), "fact_type": ftype,
                  "value": value, "text": text}
        return text, reply, record


def render_session(event: TimelineEvent, known: Mapping[str, Fact], first_name: str, rng: random.Random,
                   taboo: Iterable[str]) -> RenderedSession:
    """Step 4 for one session: turns, the evidence turns of each change, the distractors.

    Args:
        event: the planned session (its main event and changes).
        known: facts memory holds before the session, by slot (for restatements).
        first_name: the user's first name (the assistant uses it).
        rng: the user's random stream.
        taboo: every value of the user's own facts over the whole timeline; distractor facts
            about other people avoid them, so a distractor can never be mistaken for a fact
            memory should hold.
    """
    r = _Renderer(event, known, first_name, rng, taboo, rng.sample(P.CHITCHAT, 4))
    changes = event.changes
    main = [i for i, c in enumerate(changes) if c.cause == event.kind and c.cause != "correction"]
    beats: list[_Beat] = []
    if main:
        beats.append(r.event_beat(event.kind, [changes[i] for i in main], main))
    beats += [r.correction_beat(c, i) for i, c in enumerate(changes) if c.cause == "correction"]
    rng.shuffle(beats)
    others: list[_Beat] = []
    distractors: list[dict[str, str]] = []
    for _ in range(rng.choices((0, 1, 2), weights=(35, 45, 20))[0]):
        text, reply, record = r.distractor()
        distractors.append(record)
        others.append(_Beat([text], [reply]))
    for i, c in enumerate(changes):
        if c.cause != "padding":
            continue
        sentence = r.padding_sentence(c)
        hosts = [b for b in others if not b.changes]
        if hosts and rng.random() < 0.4:  # mentioned in passing, inside a turn about someone else
            host = rng.choice(hosts)
            host.user[0] = f"{host.user[0]} {sentence}" if rng.random() < 0.5 else (f"{sentence} "
                                                                                    f"{host.user[0]}")
            host.changes.append(i)
        else:
            others.append(r.chat_beat(sentence, [i]))
    if rng.random() < 0.5:
        sentence = r.restate_sentence()
        if sentence:
            others.append(r.chat_beat(sentence) if rng.random() < 0.5
                          else _Beat([sentence], [rng.choice(P.ACKS).strip() or "Ha!"]))
    if not changes or rng.random() < 0.5 or len(others) + len(beats) < 2:
        others.append(r.chat_beat())
    rng.shuffle(others)
    position = rng.choice((0, 1)) if others else 0
    middle = others[:position] + beats + others[position:]
    opener = _Beat([rng.choice(P.OPEN_USER)], [r.say(rng.choice(P.OPEN_ASSISTANT), r.base)])
    closer = _Beat([rng.choice(P.CLOSE_USER)], [r.say(rng.choice(P.CLOSE_ASSISTANT), r.base)])

    turns: list[Turn] = []
    evidence: list[list[str]] = [[] for _ in changes]
    for beat in [opener, *middle, closer]:
        user_ids = []
        for u, a in zip(beat.user, beat.assistant):
            tid = f"t{len(turns) + 1}"
            turns.append(Turn(tid, "user", u))
            user_ids.append((tid, u))
            turns.append(Turn(f"t{len(turns) + 1}", "assistant", a))
        for i in beat.changes:  # the evidence is every user turn of the beat: a teaser and its detail
            kws = changes[i].fact.keywords() if changes[i].op is not OpType.DELETE else ()
            missing = [k for k in kws if not any(occurs(k, u) for _, u in user_ids)]
            if missing:
                raise RuntimeError(f"template bug: {changes[i].cause} for {changes[i].fact.type} "
                                   f"lost keyword(s) {missing} in {[u for _, u in user_ids]}")
            evidence[i] = [tid for tid, _ in user_ids]
    return RenderedSession(turns, [tuple(e) for e in evidence], distractors)
