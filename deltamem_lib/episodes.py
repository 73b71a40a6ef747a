"""Episodes: users, their dialogue sessions and the gold memory operations of each session.

This is the schema of DeltaMem's synthetic training data (§3.2, "memory-evolution guided
data synthesis"): every session carries its gold operations, hence a gold memory state
before and after it, which is what the MLD reward compares against. One user per line of
``episodes.jsonl``::

    {"user_id", "persona": {...}, "initial_memory": [Entry],
     "sessions": [{"session_id", "date": "YYYY-MM-DD", "event": {"kind", "summary"},
       "turns": [{"turn_id", "speaker": "user"|"assistant", "text"}],
       "gold_ops": [{"op", "memory_id", "content", "keywords", "evolution", "evidence"}],
       "state_after": [Entry]}]}

Integrity (checked by :func:`check_episode`): replaying ``gold_ops`` from
``initial_memory`` reproduces every ``state_after``; every keyword of an ADD or UPDATE
occurs in that session's user turns; no operation names an unknown id.

The per-session *RL row* view (:func:`rl_rows`) is what the agent environment's
``reset(**row)`` and the trainers receive. Nested values are stored as JSON strings so that
Arrow (``datasets``) does not merge the schemas of different dictionaries.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .io import DataFileError, atomic_write_jsonl, iter_jsonl
from .memory import MemoryEntry, MemoryState, Operation, OperationError, OpType
from .textnorm import normalize_text

__all__ = [
    "Turn",
    "Session",
    "Episode",
    "SessionExample",
    "EpisodeError",
    "load_episodes",
    "save_episodes",
    "check_episode",
    "state_before_each_session",
    "rl_rows",
    "parse_rl_row",
    "render_dialogue",
]

EVOLUTION_KINDS = ("intra", "inter", "padding")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class EpisodeError(DataFileError):
    """An episode violates the schema or its integrity rules (message names user/session/field)."""


@dataclass(frozen=True)
class Turn:
    turn_id: str
    speaker: str  # "user" | "assistant"
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"turn_id": self.turn_id, "speaker": self.speaker, "text": self.text}


@dataclass(frozen=True)
class Session:
    session_id: str
    date: str
    event: Mapping[str, Any]
    turns: tuple[Turn, ...]
    gold_ops: tuple[Operation, ...]
    state_after: tuple[MemoryEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "date": self.date,
            "event": dict(self.event),
            "turns": [t.to_dict() for t in self.turns],
            "gold_ops": [_gold_op_dict(o) for o in self.gold_ops],
            "state_after": [e.to_dict() for e in self.state_after],
        }


def _gold_op_dict(op: Operation) -> dict[str, Any]:
    return {
        "op": op.op.value,
        "memory_id": op.memory_id,
        "content": op.content,
        "keywords": list(op.keywords),
        "evolution": op.evolution,
        "evidence": list(op.evidence),
    }


@dataclass(frozen=True)
class Episode:
    """One synthetic user: persona, initial memory and dated sessions with gold labels."""

    user_id: str
    persona: Mapping[str, Any]
    initial_memory: tuple[MemoryEntry, ...]
    sessions: tuple[Session, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {
            "user_id": self.user_id,
            "persona": dict(self.persona),
            "initial_memory": [e.to_dict() for e in self.initial_memory],
            "sessions": [s.to_dict() for s in self.sessions],
        }
        if self.meta:
            d["meta"] = dict(self.meta)
        return d

    def initial_state(self) -> MemoryState:
        return MemoryState(self.initial_memory)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "episode") -> Episode:
        """Parse and type-check one episode; errors name the user, session and field."""
        if not isinstance(d, Mapping):
            raise EpisodeError(f"{where}: expected an object, got {type(d).__name__}")
        uid = d.get("user_id")
        if not isinstance(uid, str):
            raise EpisodeError(f"{where}.user_id: missing or not a string")
        where = f"{where} (user {uid})"
        try:
            persona = _mapping(d.get("persona", {}), f"{where}.persona")
            initial = tuple(MemoryEntry.from_dict(e, f"{where}.initial_memory[{i}]")
                            for i, e in enumerate(_list(d.get("initial_memory"), f"{where}.initial_memory")))
            sessions = []
            for si, s in enumerate(_list(d.get("sessions"), f"{where}.sessions")):
                sw = f"{where}.sessions[{si}]"
                s = _mapping(s, sw)
                sid = s.get("session_id")
                if not isinstance(sid, str):
                    raise EpisodeError(f"{sw}.session_id: missing or not a string")
                sw = f"{where} session {sid}"
                date = s.get("date")
                if not isinstance(date, str) or not _DATE_RE.match(date):
                    raise EpisodeError(f"{sw}.date: expected YYYY-MM-DD, got {date!r}")
                try:
                    datetime.date.fromisoformat(date)
                except ValueError:
                    raise EpisodeError(f"{sw}.date: {date!r} is not a calendar date") from None
                turns = []
                for ti, t in enumerate(_list(s.get("turns"), f"{sw}.turns")):
                    t = _mapping(t, f"{sw}.turns[{ti}]")
                    for k in ("turn_id", "speaker", "text"):
                        if not isinstance(t.get(k), str):
                            raise EpisodeError(f"{sw}.turns[{ti}].{k}: missing or not a string")
                    if t["speaker"] not in ("user", "assistant"):
                        raise EpisodeError(f"{sw}.turns[{ti}].speaker: expected user or assistant, got "
                                           f"{t['speaker']!r}")
                    turns.append(Turn(t["turn_id"], t["speaker"], t["text"]))
                ops = []
                for oi, o in enumerate(_list(s.get("gold_ops"), f"{sw}.gold_ops")):
                    try:
                        op = Operation.from_dict(o, f"{sw}.gold_ops[{oi}]")
                    except OperationError as exc:
                        raise EpisodeError("; ".join(exc.problems)) from None
                    if op.evolution is not None and op.evolution not in EVOLUTION_KINDS:
                        raise EpisodeError(f"{sw}.gold_ops[{oi}].evolution: expected one of "
                                           f"{EVOLUTION_KINDS}, got {op.evolution!r}")
                    ops.append(op)
                after = tuple(MemoryEntry.from_dict(e, f"{sw}.state_after[{i}]")
                              for i, e in enumerate(_list(s.get("state_after"), f"{sw}.state_after")))
                sessions.append(Session(sid, date, _mapping(s.get("event", {}), f"{sw}.event"),
                                        tuple(turns), tuple(ops), after))
        except (KeyError, TypeError) as exc:
            msg = exc.args[0] if exc.args else str(exc)
            raise EpisodeError(str(msg)) from None
        return cls(uid, persona, initial, tuple(sessions), _mapping(d.get("meta", {}), f"{where}.meta"))


def _list(v: Any, where: str) -> list[Any]:
    if not isinstance(v, list):
        raise EpisodeError(f"{where}: missing or not a list")
    return v


def _mapping(v: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise EpisodeError(f"{where}: expected an object, got {type(v).__name__}")
    return v


def load_episodes(path: str | os.PathLike[str], *, check: bool = False,
                  unique_users: bool = False) -> list[Episode]:
    """Read ``episodes.jsonl``; a bad line raises naming file, line, user and field.

    With ``check=True`` every episode also passes :func:`check_episode`; with
    ``unique_users=True`` a user id may appear on one line only (``deltamem evaluate``
    reads its episodes with both).
    """
    out = []
    first_line: dict[str, int] = {}
    for lineno, obj in iter_jsonl(path):
        try:
            ep = Episode.from_dict(obj)
            if unique_users and ep.user_id in first_line:
                raise EpisodeError(f"user {ep.user_id}.user_id: duplicate user id (first on line "
                                   f"{first_line[ep.user_id]})")
            if check:
                check_episode(ep)
        except EpisodeError as exc:
            raise EpisodeError(f"{path}: line {lineno}: {exc}") from None
        first_line.setdefault(ep.user_id, lineno)
        out.append(ep)
    return out


def save_episodes(path: str | os.PathLike[str], episodes: Iterable[Episode]) -> Path:
    """Write ``episodes.jsonl`` atomically."""
    return atomic_write_jsonl(path, (e.to_dict() for e in episodes))


def _tokens(s: str) -> list[str]:
    return re.findall(r"\w+", normalize_text(s).lower())


def _contains(hay: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return n > 0 and any(hay[i:i + n] == needle for i in range(len(hay) - n + 1))


def state_before_each_session(episode: Episode) -> Iterator[tuple[Session, MemoryState, MemoryState]]:
    """Yield ``(session, gold state before, gold state after)`` by replaying the gold ops.

    The replayed state after each session is returned (it equals ``state_after`` for a
    valid episode: :func:`check_episode` asserts this).
    """
    state = episode.initial_state()
    for s in episode.sessions:
        before = state.copy()
        for op in s.gold_ops:  # one by one, so each entry's provenance is its op's evidence
            state.apply([op], timestamp=s.date,
                        source={"session_id": s.session_id, "turns": list(op.evidence)})
        yield s, before, state.copy()


def check_episode(episode: Episode) -> None:
    """Check the integrity rules; raise ``EpisodeError`` listing every violation."""
    problems: list[str] = []
    state = episode.initial_state()
    seen_sessions: set[str] = set()
    previous: Session | None = None
    for s in episode.sessions:
        where = f"user {episode.user_id} session {s.session_id}"
        if s.session_id in seen_sessions:
            problems.append(f"{where}.session_id: duplicate session id in this user's episode")
        seen_sessions.add(s.session_id)
        if previous is not None and s.date < previous.date:  # ISO dates (checked on load) sort as text
            problems.append(f"{where}.date: {s.date} is before the previous session's date "
                            f"({previous.session_id}, {previous.date}); sessions must be in date order")
        previous = s
        seen_turns: set[str] = set()
        for ti, t in enumerate(s.turns):
            if t.turn_id in seen_turns:
                problems.append(f"{where}.turns[{ti}].turn_id: duplicate turn id {t.turn_id!r}")
            seen_turns.add(t.turn_id)
        user_tokens = _tokens(" ".join(t.text for t in s.turns if t.speaker == "user"))
        turn_ids = {t.turn_id for t in s.turns}
        for i, op in enumerate(s.gold_ops):
            if op.op in (OpType.ADD, OpType.UPDATE):
                for kw in op.keywords:
                    if not _contains(user_tokens, _tokens(kw)):
                        problems.append(f"{where} gold_ops[{i}]: keyword {kw!r} not in the user turns")
            for ev in op.evidence:
                if ev not in turn_ids:
                    problems.append(f"{where} gold_ops[{i}]: evidence {ev!r} is not a turn of the session")
        try:
            state.apply(s.gold_ops, timestamp=s.date)
        except OperationError as exc:
            problems += [f"{where}: " + re.sub(r"^operation (\d+)", r"gold_ops[\1]", p) for p in exc.problems]
            break
        got = [(e.id, e.content, e.keywords) for e in state]
        want = [(e.id, e.content, e.keywords) for e in s.state_after]
        if got != want:
            diff = [f"{g[0] if g else w[0]}" for g, w in zip(got + [None] * len(want),
                                                             want + [None] * len(got))
                    if g != w][:3]
            problems.append(f"{where}.state_after: replaying gold_ops does not reproduce state_after "
                            f"(replayed {len(got)} entries, stored {len(want)}; first differing ids: "
                            f"{', '.join(diff)})")
            break
    if problems:
        raise EpisodeError("episode integrity violated:\n" + "\n".join(f"  - {p}" for p in problems))


# ----- the per-session RL view ------------------------------------------------------------
@dataclass(frozen=True)
class SessionExample:
    """One RL example: a session with the gold state before and after it (DeltaMem §3.3:
    one rollout = one session, starting from the gold ``S_t``)."""

    user_id: str
    session_id: str
    session_index: int
    date: str
    turns: tuple[Turn, ...]
    state_before: MemoryState
    state_after: MemoryState
    gold_ops: tuple[Operation, ...]


def rl_rows(episodes: Iterable[Episode]) -> list[dict[str, Any]]:
    """Flatten episodes into per-session rows of plain strings and ints.

    Columns: ``user_id``, ``session_id``, ``session_index``, ``date``, ``session`` (JSON list
    of turns), ``state_before`` and ``state_after`` (JSON of ``MemoryState.to_dict()``; gold
    entries keep their keywords), ``gold_ops`` (JSON list). Parse with :func:`parse_rl_row`.
    """
    rows = []
    for ep in episodes:
        for idx, (s, before, after) in enumerate(state_before_each_session(ep)):
            rows.append({
                "user_id": ep.user_id,
                "session_id": s.session_id,
                "session_index": idx,
                "date": s.date,
                "session": json.dumps([t.to_dict() for t in s.turns], ensure_ascii=False),
                "state_before": json.dumps(before.to_dict(), ensure_ascii=False),
                "state_after": json.dumps(after.to_dict(), ensure_ascii=False),
                "gold_ops": json.dumps([_gold_op_dict(o) for o in s.gold_ops], ensure_ascii=False),
            })
    return rows


def parse_rl_row(row: Mapping[str, Any]) -> SessionExample:
    """Inverse of one :func:`rl_rows` row (extra columns such as ``prompt`` are ignored)."""
    missing = [k for k in ("user_id", "session_id", "date", "session", "state_before", "state_after")
               if k not in row]
    if missing:
        raise EpisodeError(f"RL row is missing column(s) {missing}; build rows with "
                           "deltamem_lib.episodes.rl_rows")

    def js(key: str) -> Any:
        v = row[key]
        if isinstance(v, str):
            try:
                return json.loads(v)
            except json.JSONDecodeError as exc:
                raise EpisodeError(f"RL row {row.get('session_id')!r}: column {key!r} is not valid JSON "
                                   f"({exc.msg})") from None
        return v

    turns = tuple(Turn(t["turn_id"], t["speaker"], t["text"]) for t in js("session"))
    ops = tuple(Operation.from_dict(o) for o in (js("gold_ops") if "gold_ops" in row else []))
    return SessionExample(
        user_id=row["user_id"],
        session_id=row["session_id"],
        session_index=int(row.get("session_index", 0)),
        date=row["date"],
        turns=turns,
        state_before=MemoryState.from_dict(js("state_before")),
        state_after=MemoryState.from_dict(js("state_after")),
        gold_ops=ops,
    )


def render_dialogue(turns: Sequence[Turn], *, date: str | None = None) -> str:
    """The session as the agent reads it: one line per turn, ``[turn_id] User: text``."""
    head = [f"Session date: {date}"] if date else []
    return "\n".join(head + [f"[{t.turn_id}] {t.speaker.capitalize()}: {t.text}" for t in turns])
