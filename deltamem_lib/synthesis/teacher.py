"""The LLM teacher: DeltaMem's four synthesis steps through a chat model (§3.2).

The paper synthesises its data with a strong LLM. This module runs the same four steps
through any object with a ``chat(messages, *, max_new_tokens, temperature)`` method whose
result has a ``.text`` (the project's backends in :mod:`deltamem_lib.models`, a scripted
stand-in, a test double):

1. **profile** — the model expands a seed persona into facts (``"User …"`` + keywords):
   the initial memory;
2. **timeline** — the model writes one life event per session (the dates are ours);
3. **operations** — per event, the model writes ADD / UPDATE / DELETE operations against the
   current memory, with keywords and evolution kind;
4. **dialogue** — per event, the model writes the session, in which the user must say every
   keyword.

Every response is parsed and validated against the schema (JSON shape, operation fields,
known memory ids, keywords inside the content and inside the user's turns). An invalid
response is sent back to the model with the reasons and retried up to ``max_retries``
times; a step that still fails drops *that user*, and the failure is recorded in a
:class:`TeacherReport` with the step, the reasons and the last response. Nothing is dropped
silently and no partial or invalid episode is ever returned: every returned episode has
passed :func:`deltamem_lib.episodes.check_episode`.

Small local models mostly fail the JSON format — which is exactly what the report is for
(docs/paper_notes.md §3: users of memory systems complain that local models' invalid JSON makes
memories "silently come back empty").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..episodes import EVOLUTION_KINDS, Episode, EpisodeError, Session, Turn, check_episode
from ..memory import MemoryEntry, MemoryState, Operation, OperationError, OpType
from .events import EVENT_TYPES
from .procedural import SynthConfig, synthesize_user, user_id, user_rng
from .text import occurs
from .world import build_profile

__all__ = [
    "STEPS",
    "ChatLike",
    "ScriptedTeacherChat",
    "StepError",
    "TeacherConfig",
    "TeacherFailure",
    "TeacherReport",
    "extract_json",
    "run_teacher",
]

STEPS = ("profile", "timeline", "operations", "dialogue")


class ChatLike(Protocol):
    """What the teacher needs from a model."""

    def chat(self, messages: list[dict[str, Any]], *, max_new_tokens: int = 256,
             temperature: float = 0.0) -> Any: ...


class StepError(ValueError):
    """A response failed validation; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class TeacherConfig:
    """Settings of an LLM-teacher run."""

    users: int = field(default=1, metadata={"help": "number of users to synthesise"})
    sessions: int = field(default=2, metadata={"help": "sessions (events) per user"})
    seed: int = field(default=0, metadata={"help": "seed of the personas and dates"})
    max_retries: int = field(default=2, metadata={"help": "retries of an invalid response before the user is "
                                                          "dropped"})
    max_new_tokens: int = field(default=400, metadata={"help": "generation budget per call"})
    temperature: float = field(default=0.0, metadata={"help": "sampling temperature (0 = greedy)"})
    min_facts: int = field(default=3, metadata={"help": "fewest profile facts the model must write"})

    def __post_init__(self) -> None:
        problems = [f"{n} must be an integer >= 1, got {getattr(self, n)!r}"
                    for n in ("users", "sessions", "max_new_tokens")
                    if not isinstance(getattr(self, n), int) or getattr(self, n) < 1]
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            problems.append(f"max_retries must be an integer >= 0, got {self.max_retries!r}")
        if problems:
            raise ValueError("invalid teacher settings:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass
class TeacherFailure:
    """A user the teacher could not synthesise: at which step, why, and what the model said."""

    user_id: str
    step: str
    session_index: int | None
    attempts: int
    errors: list[str]
    response: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TeacherReport:
    """Every call, every invalid response and every dropped user of a teacher run."""

    model: str
    users_requested: int
    users_written: int = 0
    calls: int = 0
    invalid_responses: int = 0
    recovered_by_retry: int = 0
    invalid_by_step: Counter = field(default_factory=Counter)
    failures: list[TeacherFailure] = field(default_factory=list)
    examples: list[dict[str, str]] = field(default_factory=list)  # a few invalid responses with reasons

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["invalid_by_step"] = dict(self.invalid_by_step)
        return d

    def summary(self) -> str:
        lines = [f"teacher {self.model}: {self.users_written}/{self.users_requested} users written, "
                 f"{self.calls} calls, {self.invalid_responses} invalid responses "
                 f"({self.recovered_by_retry} fixed by a retry)"]
        if self.invalid_by_step:
            lines.append("invalid responses by step: "
                         + ", ".join(f"{k} {v}" for k, v in self.invalid_by_step.items()))
        for f in self.failures:
            where = f" session {f.session_index}" if f.session_index is not None else ""
            lines.append(f"  dropped {f.user_id}: step {f.step}{where} failed {f.attempts} time(s): "
                         f"{f.errors[0]}")
        return "\n".join(lines)


# ----- parsing --------------------------------------------------------------------------------
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def extract_json(text: str) -> Any:
    """The JSON value in a model's answer (a fenced block, or the outermost ``{…}`` / ``[…]``).

    Raises :class:`StepError` saying why nothing could be parsed.
    """
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    last_error = "no JSON object found"
    for cand in candidates:
        for open_, close in (("{", "}"), ("[", "]")):
            start, end = cand.find(open_), cand.rfind(close)
            if start == -1:
                continue
            if end <= start:
                last_error = f"the JSON is cut off (a '{open_}' without its closing '{close}')"
                continue
            try:
                return json.loads(cand[start:end + 1])
            except json.JSONDecodeError as exc:
                last_error = f"not valid JSON ({exc.msg} at character {exc.pos})"
    raise StepError([last_error])


def _text(response: Any) -> str:
    """The generated text. A backend that parses tool calls may move a bare JSON object with a
    ``"name"`` key out of ``.text``; its ``raw_text`` still has everything the model wrote."""
    if isinstance(response, str):
        return response
    return str(getattr(response, "raw_text", "") or getattr(response, "text", ""))


def _field(obj: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, Mapping):
        raise StepError([f"{where}: expected a JSON object, got {type(obj).__name__}"])
    value = obj.get(key)
    if not isinstance(value, kind) or (isinstance(value, (str, list)) and not value):
        raise StepError([f"{where}: missing or empty {key!r} ({kind.__name__})"])
    return value


def _keywords(raw: Any, content: str, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(k, str) and k.strip() for k in raw):
        raise StepError([f"{where}: 'keywords' must be a non-empty list of strings"])
    missing = [k for k in raw if not occurs(k, content)]
    if missing:
        raise StepError([f"{where}: keyword(s) {missing} do not occur in the fact {content!r}"])
    return tuple(k.strip() for k in raw)


# ----- the four steps: prompts and validators -------------------------------------------------
_SYSTEM = ("You write synthetic training data for a memory manager that keeps facts about a user. "
           "Step {step} of 4: {name}. Reply with one JSON object only, no explanations.")
_KINDS = ", ".join(list(EVENT_TYPES) + ["quiet"])


def _profile_prompt(seed: str, n: int) -> str:
    return (f"Seed persona: {seed}\nWrite the user's profile as JSON: "
            '{"name": "First Last", "facts": [{"fact": "User lives in Leeds.", "keywords": ["Leeds"]}]}. '
            f"Write at least {n} facts. Each fact is one short sentence in the third person starting with "
            "'User'; its keywords are one or two short phrases copied exactly from the fact.")


def _parse_profile(text: str, min_facts: int) -> tuple[str, list[tuple[str, tuple[str, ...]]]]:
    obj = extract_json(text)
    name = _field(obj, "name", str, "profile")
    facts = _field(obj, "facts", list, "profile")
    out, problems = [], []
    for i, f in enumerate(facts):
        try:
            content = _field(f, "fact", str, f"profile.facts[{i}]").strip()
            if not content.startswith("User"):
                raise StepError([f"profile.facts[{i}]: the fact must start with 'User', got "
                                 f"{content[:40]!r}"])
            out.append((content, _keywords(f.get("keywords"), content, f"profile.facts[{i}]")))
        except StepError as exc:
            problems += exc.problems
    if len(out) < min_facts:
        problems.append(f"profile: {len(out)} valid fact(s), at least {min_facts} needed")
    if problems:
        raise StepError(problems)
    return name, out


def _timeline_prompt(memory: MemoryState, n: int) -> str:
    return (f"The user's profile:\n{memory.render()}\n\nWrite a timeline of exactly {n} life events, oldest "
            "first, "
            'as JSON: {"events": [{"kind": "move", "summary": "Moved from York to Leeds."}]}. '
            f"kind is one of: {_KINDS}. Some events should correct something said before (kind correction); "
            "'quiet' means nothing about the user changes.")


def _parse_timeline(text: str, n: int) -> list[dict[str, str]]:
    events = _field(extract_json(text), "events", list, "timeline")
    if len(events) < n:
        raise StepError([f"timeline: {len(events)} event(s), exactly {n} needed"])
    out = []
    for i, e in enumerate(events[:n]):
        summary = _field(e, "summary", str, f"timeline.events[{i}]")
        kind = e.get("kind") if isinstance(e.get("kind"), str) and e.get("kind") else "event"
        out.append({"kind": kind, "summary": summary.strip()})
    return out


def _ops_prompt(memory: MemoryState, event: Mapping[str, str], date: str) -> str:
    return (f"Current memory:\n{memory.render()}\n\nEvent on {date} ({event['kind']}): {event['summary']}\n"
            "Write the memory operations this event causes, as JSON: "
            '{"operations": [{"op": "UPDATE", "memory_id": "m1", "content": "User lives in Leeds.", '
            '"keywords": ["Leeds"], "evolution": "intra"}]}. op is ADD (no memory_id), UPDATE or DELETE '
            "(no content). evolution is intra (the event changes a fact), inter (it revises something said "
            'earlier) or padding (a new fact mentioned in passing). Use {"operations": []} if nothing '
            'changes.')


def _parse_ops(text: str, memory: MemoryState) -> list[Operation]:
    raw = extract_json(text)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("operations"), list):
        raise StepError(['operations: expected {"operations": [...]}'])
    ops, problems = [], []
    next_id = memory.next_id
    for i, item in enumerate(raw["operations"]):
        where = f"operations[{i}]"
        try:
            op = Operation.from_dict(item, where)
        except OperationError as exc:
            problems += exc.problems
            continue
        if op.op is OpType.NOOP:
            continue
        evolution = op.evolution or "intra"
        if evolution not in EVOLUTION_KINDS:
            problems.append(f"{where}: evolution {evolution!r} is not one of {list(EVOLUTION_KINDS)}")
            continue
        keywords: tuple[str, ...] = ()
        if op.op is not OpType.DELETE:
            try:
                keywords = _keywords(list(op.keywords) or None, op.content or "", where)
            except StepError as exc:
                problems += exc.problems
                continue
        mid = op.memory_id
        if op.op is OpType.ADD:  # the id is the state's to allocate, whatever the model wrote
            mid, next_id = f"m{next_id}", next_id + 1
        ops.append(Operation(op.op, mid, op.content if op.op is not OpType.DELETE else None, keywords,
                             evolution))
    if not problems:
        try:  # unknown ids, an id touched twice, empty content: the state's own checks
            memory.copy().apply(ops)
        except OperationError as exc:
            problems += exc.problems
    if problems:
        raise StepError(problems)
    return ops


def _dialogue_prompt(event: Mapping[str, str], ops: Sequence[Operation]) -> str:
    kws = sorted({k for op in ops for k in op.keywords})
    must = (f" The user must say each of these phrases exactly: {json.dumps(kws)}." if kws else "")
    return (f"Write a chat session between the user and an AI assistant in which the user talks about: "
            f"{event['summary']}.{must} Use 6 to 10 turns and let the assistant reply naturally. "
            'JSON: {"turns": [{"speaker": "user", "text": "..."}, {"speaker": "assistant", "text": "..."}]}')


def _parse_dialogue(text: str, ops: Sequence[Operation]) -> list[Turn]:
    turns_raw = _field(extract_json(text), "turns", list, "dialogue")
    turns, problems = [], []
    for i, t in enumerate(turns_raw):
        if not isinstance(t, Mapping) or t.get("speaker") not in ("user", "assistant") \
                or not isinstance(t.get("text"), str) or not t["text"].strip():
            problems.append(f"dialogue.turns[{i}]: needs speaker 'user' or 'assistant' and a non-empty text")
            continue
        turns.append(Turn(f"t{len(turns) + 1}", t["speaker"], t["text"].strip()))
    if not any(t.speaker == "user" for t in turns):
        problems.append("dialogue: no user turn")
    user_text = " ".join(t.text for t in turns if t.speaker == "user")
    missing = sorted({k for op in ops for k in op.keywords if not occurs(k, user_text)})
    if missing:
        problems.append(f"dialogue: the user never says {missing}")
    if problems:
        raise StepError(problems)
    return turns


# ----- the run --------------------------------------------------------------------------------
class _UserFailed(Exception):
    def __init__(self, failure: TeacherFailure):
        self.failure = failure


class _Caller:
    def __init__(self, chat: ChatLike, cfg: TeacherConfig, report: TeacherReport, uid: str):
        self.chat, self.cfg, self.report, self.uid = chat, cfg, report, uid

    def ask(self, step: int, prompt: str, parse: Any, session: int | None = None) -> Any:
        messages = [{"role": "system", "content": _SYSTEM.format(step=step, name=STEPS[step - 1])},
                    {"role": "user", "content": prompt}]
        errors: list[str] = []
        text = ""
        for attempt in range(self.cfg.max_retries + 1):
            self.report.calls += 1
            text = _text(self.chat.chat(messages, max_new_tokens=self.cfg.max_new_tokens,
                                        temperature=self.cfg.temperature))
            try:
                value = parse(text)
            except StepError as exc:
                errors = exc.problems
                self.report.invalid_responses += 1
                self.report.invalid_by_step[STEPS[step - 1]] += 1
                if len(self.report.examples) < 5:
                    self.report.examples.append({"step": STEPS[step - 1], "response": text[:400],
                                                 "errors": "; ".join(errors)[:400]})
                messages = messages[:2] + [
                    {"role": "assistant", "content": text},
                    {"role": "user", "content": "That answer was invalid: " + "; ".join(errors)[:600]
                     + ". Reply again with one JSON object only, exactly in the requested format."}]
                continue
            if attempt:
                self.report.recovered_by_retry += 1
            return value
        raise _UserFailed(TeacherFailure(self.uid, STEPS[step - 1], session, self.cfg.max_retries + 1,
                                         errors, text[:500]))


def _synthesize(chat: ChatLike, cfg: TeacherConfig, index: int, report: TeacherReport, model: str) -> Episode:
    uid = user_id(index)
    rng = user_rng(cfg.seed, index)
    seed_profile = build_profile(uid, rng)
    call = _Caller(chat, cfg, report, uid)
    name, facts = call.ask(1, _profile_prompt(seed_profile.seed, cfg.min_facts),
                           lambda t: _parse_profile(t, cfg.min_facts))
    start = seed_profile.start_date
    initial = [MemoryEntry(f"m{i}", content, start, None, kws) for i, (content, kws) in enumerate(facts,
                                                                                                  start=1)]
    state = MemoryState(initial)
    events = call.ask(2, _timeline_prompt(state, cfg.sessions), lambda t: _parse_timeline(t, cfg.sessions))
    date = dt.date.fromisoformat(start)
    sessions = []
    for t, event in enumerate(events):
        date += dt.timedelta(days=rng.randint(4, 45))
        ops = call.ask(3, _ops_prompt(state, event, date.isoformat()), lambda x: _parse_ops(x, state), t)
        turns = call.ask(4, _dialogue_prompt(event, ops), lambda x: _parse_dialogue(x, ops), t)
        user_turns = [tr for tr in turns if tr.speaker == "user"]
        sid = f"{uid}-s{t + 1:02d}"
        final_ops = []
        for op in ops:
            evidence = tuple(tr.turn_id for tr in user_turns if not op.keywords
                             or any(occurs(k, tr.text) for k in op.keywords))
            op = dataclasses.replace(op, evidence=evidence)
            state.apply([op], timestamp=date.isoformat(), source={"session_id": sid, "turns": list(evidence)})
            final_ops.append(op)
        state.log = []
        sessions.append(Session(sid, date.isoformat(), dict(event), tuple(turns), tuple(final_ops),
                                state.entries))
    persona = {"name": name, "seed": seed_profile.seed,
               "profile": [{"content": c, "keywords": list(k), "in_initial_memory": True} for c, k in facts]}
    episode = Episode(uid, persona, tuple(initial), tuple(sessions),
                      {"generator": "llm", "model": model, "seed": cfg.seed})
    try:
        check_episode(episode)
    except EpisodeError as exc:
        raise _UserFailed(TeacherFailure(uid, "integrity", None, 1, str(exc).splitlines()[1:] or [str(exc)],
                                         "")) from None
    return episode


def run_teacher(chat: ChatLike, cfg: TeacherConfig, *, model_name: str | None = None,
                progress: bool = False) -> tuple[list[Episode], TeacherReport]:
    """Synthesise ``cfg.users`` users with a chat model; return the valid episodes and the report.

    A user whose step fails after ``cfg.max_retries`` retries is left out and recorded in
    ``report.failures``; every returned episode passed :func:`check_episode`.
    """
    name = model_name or getattr(chat, "name", None) or type(chat).__name__
    report = TeacherReport(model=name, users_requested=cfg.users)
    episodes = []
    indices: Any = range(cfg.users)
    if progress:
        from tqdm.auto import tqdm

        indices = tqdm(indices, desc="teacher", unit="user")
    for i in indices:
        try:
            episodes.append(_synthesize(chat, cfg, i, report, name))
        except _UserFailed as exc:
            report.failures.append(exc.failure)
    report.users_written = len(episodes)
    return episodes, report


# ----- a scripted teacher for demos and tests -------------------------------------------------
@dataclass
class _Reply:
    text: str


class ScriptedTeacherChat:
    """A stand-in "model" that answers the teacher's prompts from procedural episodes.

    It shows the teacher's machinery without a model: the first answer to a prompt is
    malformed with probability ``p_malformed`` (broken JSON) or invalid with probability
    ``p_invalid`` (an unknown memory id, a keyword the user never says); a retry gets the
    valid answer. Users in ``always_fail`` get an invalid answer at step 3 every time, so the
    report shows a dropped user.
    """

    name = "scripted"

    def __init__(self, seed: int = 0, sessions: int = 2, *, p_malformed: float = 0.2, p_invalid: float = 0.2,
                 always_fail: Sequence[int] = ()):
        self.cfg = SynthConfig(users=1, sessions=sessions, seed=seed)
        self.rng = random.Random(f"scripted:{seed}")
        self.p_malformed, self.p_invalid = p_malformed, p_invalid
        self.always_fail = set(always_fail)
        self.user = -1
        self.episode: Episode | None = None

    def chat(self, messages: list[dict[str, Any]], *, max_new_tokens: int = 256,
             temperature: float = 0.0) -> _Reply:
        step = int(re.search(r"Step (\d) of 4", messages[0]["content"]).group(1))  # type: ignore[union-attr]
        retry = len(messages) > 2
        if step == 1 and not retry:
            self.user += 1
            self.episode = synthesize_user(self.cfg, self.user).episode
            self.session = -1
        if step == 3 and not retry:
            self.session += 1
        valid = self._valid(step)
        if step == 3 and self.user in self.always_fail:
            return _Reply(json.dumps({"operations": [{"op": "UPDATE", "memory_id": "m999",
                                                      "content": "User x.", "keywords": ["x"],
                                                      "evolution": "intra"}]}))
        if retry:
            return _Reply(valid)
        roll = self.rng.random()
        if roll < self.p_malformed:
            return _Reply(valid[: len(valid) // 2])  # cut off mid-way, as a small model's output often is
        if roll < self.p_malformed + self.p_invalid:
            return _Reply(self._invalid(step, valid))
        return _Reply(valid)

    def _valid(self, step: int) -> str:
        ep = self.episode
        assert ep is not None
        if step == 1:
            return json.dumps({"name": ep.persona["name"],
                               "facts": [{"fact": e.content, "keywords": list(e.keywords)}
                                         for e in ep.initial_memory]})
        if step == 2:
            return json.dumps({"events": [{"kind": s.event["kind"], "summary": s.event["summary"]}
                                          for s in ep.sessions]})
        s = ep.sessions[self.session]
        if step == 3:
            return json.dumps({"operations": [{"op": o.op.value, "memory_id": o.memory_id
                                               if o.op is not OpType.ADD else None, "content": o.content,
                                               "keywords": list(o.keywords), "evolution": o.evolution}
                                              for o in s.gold_ops]})
        return json.dumps({"turns": [{"speaker": t.speaker, "text": t.text} for t in s.turns]})

    def _invalid(self, step: int, valid: str) -> str:
        obj = json.loads(valid)
        if step == 1:
            obj["facts"] = [{"fact": "likes stuff", "keywords": []}]
        elif step == 2:
            obj["events"] = obj["events"][:0]
        elif step == 3:
            obj["operations"] = [{"op": "DELETE", "memory_id": "m999"}]
        else:
            obj["turns"] = [{"speaker": "user", "text": "Hi!"}, {"speaker": "assistant", "text": "Hello!"}]
        return json.dumps(obj)
