"""HaluMem's data: the question types, memory types and sources, the schema of the
``HaluMem-{Medium,Long}.jsonl`` records as frozen dataclasses (:class:`HaluMemUser`,
:class:`HaluMemSession`, :class:`HaluMemTurn`, :class:`MemoryPoint`, :class:`HaluMemQuestion`,
:class:`Evidence`), the loader (:func:`iter_halumem`, :func:`load_halumem`; its errors name the
file, the line, the user and the field), :func:`parse_halumem_time` and :func:`halumem_stats`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ...io import DataFileError, iter_jsonl

__all__ = [
    "QUESTION_TYPES",
    "MEMORY_TYPES",
    "MEMORY_SOURCES",
    "TIME_FORMAT",
    "HaluMemTurn",
    "MemoryPoint",
    "Evidence",
    "HaluMemQuestion",
    "HaluMemSession",
    "HaluMemUser",
    "load_halumem",
    "iter_halumem",
    "parse_halumem_time",
    "halumem_stats",
]

#: The six question types (docs/benchmark_protocols.md §2, "Gold memory points").
QUESTION_TYPES: tuple[str, ...] = (
    "Basic Fact Recall",
    "Multi-hop Inference",
    "Dynamic Update",
    "Memory Boundary",
    "Generalization & Application",
    "Memory Conflict",
)
MEMORY_TYPES: tuple[str, ...] = ("Persona Memory", "Event Memory", "Relationship Memory")
MEMORY_SOURCES: tuple[str, ...] = ("system", "primary", "secondary", "interference")
#: Format of dialogue and memory-point timestamps ("Dec 15, 2025, 06:11:23").
TIME_FORMAT = "%b %d, %Y, %H:%M:%S"
_NAME = re.compile(r"Name:\s*(.*?);\s*Gender:")


def parse_halumem_time(raw: str) -> datetime:
    """Parse a HaluMem timestamp ``"Dec 15, 2025, 06:11:23"`` (the official scripts read it
    with this format and treat it as UTC). Raises ``ValueError`` on another form."""
    return datetime.strptime(raw.strip(), TIME_FORMAT)


@dataclass(frozen=True)
class HaluMemTurn:
    role: str  # "user" | "assistant"
    content: str
    timestamp: str
    dialogue_turn: int | None = None


@dataclass(frozen=True)
class MemoryPoint:
    """A gold memory point of a session.

    ``is_update`` is read from the file's string ``"True"``/``"False"``. Interference points
    (``memory_source == "interference"``) are distractors the assistant asserted; a good
    system must *not* store them. Keys beyond the documented ones (``reason``,
    ``reference_memory_content`` …) are kept in ``extra``."""

    index: int
    memory_content: str
    memory_type: str
    memory_source: str
    is_update: bool
    original_memories: tuple[str, ...]
    importance: float
    timestamp: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_interference(self) -> bool:
        return self.memory_source == "interference"

    @property
    def is_update_probe(self) -> bool:
        """True for the points the update probe searches for (``is_update`` and non-empty
        ``original_memories``). The official scorer sends such a point to the update judge
        only if the search returned something; otherwise it is judged for integrity."""
        return self.is_update and bool(self.original_memories)


@dataclass(frozen=True)
class Evidence:
    memory_content: str
    memory_type: str


@dataclass(frozen=True)
class HaluMemQuestion:
    """A question asked right after its session. ``evidence`` is empty for unanswerable
    "Memory Boundary" items (the right answer is to say it is unknown)."""

    question: str
    answer: str
    evidence: tuple[Evidence, ...]
    difficulty: str | None
    question_type: str
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HaluMemSession:
    index: int  # position in the user's session list (0-based, as ``sid`` in evaluation.py)
    start_time: str | None
    end_time: str | None
    dialogue: tuple[HaluMemTurn, ...]
    memory_points: tuple[MemoryPoint, ...]
    questions: tuple[HaluMemQuestion, ...]
    is_generated_qa_session: bool = False
    dialogue_token_length: int | None = None

    @property
    def update_probe_points(self) -> tuple[MemoryPoint, ...]:
        return tuple(m for m in self.memory_points if m.is_update_probe)

    def dialogue_text(self) -> str:
        """The session as the official memory-accuracy judge sees it:
        ``[timestamp]role: content`` per turn, a blank line after each assistant turn."""
        lines: list[str] = []
        for t in self.dialogue:
            lines.append(f"[{t.timestamp}]{t.role}: {t.content}")
            if t.role == "assistant":
                lines.append("")
        return "\n".join(lines)


@dataclass(frozen=True)
class HaluMemUser:
    uuid: str
    persona_info: str
    sessions: tuple[HaluMemSession, ...]
    line: int = 0

    @property
    def user_name(self) -> str | None:
        """The name in ``persona_info`` (``"Name: X; Gender: …"``), as the official scripts
        extract it; ``None`` if absent."""
        m = _NAME.search(self.persona_info)
        return m[1].strip() if m else None

    def scored_sessions(self) -> Iterator[HaluMemSession]:
        """Sessions that are probed and scored (distractor sessions of Long left out)."""
        return (s for s in self.sessions if not s.is_generated_qa_session)


# --------------------------------------------------------------------------- loading


class _Bad(Exception):
    def __init__(self, field_: str, problem: str) -> None:
        super().__init__(field_, problem)
        self.field = field_
        self.problem = problem


def _get(obj: Mapping[str, Any], key: str, types: type | tuple[type, ...], where: str,
         *, optional: bool = False, default: Any = None) -> Any:
    name = f"{where}.{key}" if where else key
    if key not in obj or obj[key] is None:
        if optional:
            return default
        raise _Bad(name, "missing")
    v = obj[key]
    tt = types if isinstance(types, tuple) else (types,)
    if isinstance(v, bool) and bool not in tt or not isinstance(v, tt):
        raise _Bad(name, f"expected {' or '.join(t.__name__ for t in tt)}, got {type(v).__name__} {v!r:.60}")
    return v


def _finite(v: int | float, name: str) -> float:
    """``v`` as a float; an integer too large for one or a NaN/infinite value is refused."""
    try:
        f = float(v)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise _Bad(name, f"expected a finite number, got {str(v)[:20]}{'…' if len(str(v)) > 20 else ''}")
    return f


def _list(obj: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> list[Any]:
    return _get(obj, key, list, where, optional=optional, default=[])


def _obj(v: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise _Bad(where, f"expected an object, got {type(v).__name__}")
    return v


_POINT_KEYS = {"index", "memory_content", "memory_type", "memory_source", "is_update",
               "original_memories", "importance", "timestamp"}
_QUESTION_KEYS = {"question", "answer", "evidence", "difficulty", "question_type"}


def _bool_str(v: Any, where: str) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    raise _Bad(where, f"expected the string 'True' or 'False', got {v!r}")


def _point(raw: Any, where: str) -> MemoryPoint:
    m = _obj(raw, where)
    originals = _list(m, "original_memories", where, optional=True)
    for i, o in enumerate(originals):
        if not isinstance(o, str):
            raise _Bad(f"{where}.original_memories[{i}]", f"expected a string, got {type(o).__name__}")
    if "is_update" not in m:
        raise _Bad(f"{where}.is_update", "missing")
    return MemoryPoint(
        index=_get(m, "index", int, where),
        memory_content=_get(m, "memory_content", str, where),
        memory_type=_get(m, "memory_type", str, where),
        memory_source=_get(m, "memory_source", str, where),
        is_update=_bool_str(m["is_update"], f"{where}.is_update"),
        original_memories=tuple(originals),
        importance=_finite(_get(m, "importance", (int, float), where), f"{where}.importance"),
        timestamp=_get(m, "timestamp", str, where, optional=True, default=""),
        extra={k: v for k, v in m.items() if k not in _POINT_KEYS},
    )


def _question(raw: Any, where: str) -> HaluMemQuestion:
    q = _obj(raw, where)
    ev = []
    for i, e in enumerate(_list(q, "evidence", where, optional=True)):
        w = f"{where}.evidence[{i}]"
        e = _obj(e, w)
        ev.append(Evidence(_get(e, "memory_content", str, w),
                           _get(e, "memory_type", str, w, optional=True, default="")))
    answer = _get(q, "answer", (str, int, float), where)
    return HaluMemQuestion(
        question=_get(q, "question", str, where),
        answer=str(answer),
        evidence=tuple(ev),
        difficulty=_get(q, "difficulty", str, where, optional=True),
        question_type=_get(q, "question_type", str, where),
        extra={k: v for k, v in q.items() if k not in _QUESTION_KEYS},
    )


def _session(raw: Any, k: int) -> HaluMemSession:
    where = f"sessions[{k}]"
    s = _obj(raw, where)
    flag = s.get("is_generated_qa_session")
    generated = False if flag is None else _bool_str(flag, f"{where}.is_generated_qa_session")
    turns = []
    for i, t in enumerate(_list(s, "dialogue", where)):
        w = f"{where}.dialogue[{i}]"
        t = _obj(t, w)
        role = _get(t, "role", str, w)
        if role not in ("user", "assistant", "system"):
            raise _Bad(f"{w}.role", f"expected 'user' or 'assistant', got {role!r}")
        turns.append(HaluMemTurn(role=role, content=_get(t, "content", str, w),
                                 timestamp=_get(t, "timestamp", str, w, optional=True, default=""),
                                 dialogue_turn=_get(t, "dialogue_turn", int, w, optional=True)))
    points = tuple(_point(m, f"{where}.memory_points[{i}]")
                   for i, m in enumerate(_list(s, "memory_points", where, optional=generated)))
    questions = tuple(_question(q, f"{where}.questions[{i}]")
                      for i, q in enumerate(_list(s, "questions", where, optional=True)))
    return HaluMemSession(
        index=k,
        start_time=_get(s, "start_time", str, where, optional=True),
        end_time=_get(s, "end_time", str, where, optional=True),
        dialogue=tuple(turns),
        memory_points=points,
        questions=questions,
        is_generated_qa_session=generated,
        dialogue_token_length=_get(s, "dialogue_token_length", int, where, optional=True),
    )


def _user(obj: Any, line: int) -> HaluMemUser:
    u = _obj(obj, "(line)")
    uuid = _get(u, "uuid", str, "")
    try:
        sessions = tuple(_session(s, k) for k, s in enumerate(_list(u, "sessions", "")))
        persona = _get(u, "persona_info", str, "")
    except _Bad as e:
        e.problem = f"user {uuid!r}: " + e.problem  # name the record
        raise
    return HaluMemUser(uuid=uuid, persona_info=persona, sessions=sessions, line=line)


def iter_halumem(path: str | os.PathLike[str]) -> Iterator[HaluMemUser]:
    """Yield users one by one (a Long file is large); see :func:`load_halumem`."""
    p = Path(path)
    seen: dict[str, int] = {}
    for line, obj in iter_jsonl(p):
        try:
            user = _user(obj, line)
        except _Bad as e:
            raise DataFileError(
                f"{p}: line {line}: field {e.field!r}: {e.problem}. The record does not follow the "
                "HaluMem schema (deltamem_lib.benchmarks.halumem docstring); re-download the file "
                "(deltamem_lib.benchmarks.download.fetch('halumem-medium')) or fix that line."
            ) from None
        if user.uuid in seen:
            raise DataFileError(f"{p}: line {line}: field 'uuid': {user.uuid!r} already used on line "
                                f"{seen[user.uuid]}")
        seen[user.uuid] = line
        yield user


def load_halumem(path: str | os.PathLike[str]) -> list[HaluMemUser]:
    """Load ``HaluMem-Medium.jsonl`` or ``HaluMem-Long.jsonl`` (one user per line).

    Raises :class:`~deltamem_lib.io.DataFileError` naming file, line, user and field when
    a record does not follow the schema in this module's docstring.
    """
    return list(iter_halumem(path))


def halumem_stats(users: Sequence[HaluMemUser]) -> dict[str, Any]:
    """Counts for a data card (the paper's Medium: 20 users, 14,948 memory points, 3,467 QA)."""
    scored = [s for u in users for s in u.scored_sessions()]
    points = [m for s in scored for m in s.memory_points]
    qs = [q for s in scored for q in s.questions]
    by_type: dict[str, int] = {}
    for q in qs:
        by_type[q.question_type] = by_type.get(q.question_type, 0) + 1
    return {
        "users": len(users),
        "sessions": sum(len(u.sessions) for u in users),
        "scored_sessions": len(scored),
        "distractor_sessions": sum(s.is_generated_qa_session for u in users for s in u.sessions),
        "dialogue_turns": sum(len(s.dialogue) for u in users for s in u.sessions),
        "memory_points": len(points),
        "interference_points": sum(m.is_interference for m in points),
        "update_probe_points": sum(m.is_update_probe for m in points),
        "questions": len(qs),
        "questions_per_type": dict(sorted(by_type.items())),
    }
