"""Memory state and memory operations (DeltaMem §3.1, "memory as a state").

DeltaMem treats a user's persona memory as a *state* ``S_t``: a map from memory id to an
atomic fact sentence with a timestamp. Ingesting the next session ``d_{t+1}`` is a state
transition ``S_{t+1} = f(S_t, d_{t+1})`` carried out by memory operations:

* ``ADD(content)``            a new entry, with an id the state allocates;
* ``UPDATE(memory_id, content)`` rewrite an existing entry;
* ``DELETE(memory_id)``       remove an entry;
* ``NOOP``                    nothing to change.

Decisions this project takes where the paper is silent (``docs/paper_notes.md`` §4):

* ids are short and stable (``m1``, ``m2`` …), allocated by the state and **never reused**,
  even after a delete, so an operation log always means the same thing;
* every entry records where it came from (``source``: session id and turn ids);
* :meth:`MemoryState.apply` validates a whole batch before touching anything: in strict
  mode one :class:`OperationError` lists every problem and the state is unchanged; in
  lenient mode (used by the agent environment) the valid operations are applied and the
  rejected ones come back with their reasons. Nothing is ever dropped silently;
* text that cannot be written as UTF-8 (a lone surrogate such as ``"\\ud800"``, which a model
  can emit through a JSON escape) is *refused* at validation, naming the operation and field,
  never silently repaired: the state stays saveable and the model's mistake stays visible;
* a timestamp is an ISO date (``YYYY-MM-DD``, optionally with a time, ``YYYY-MM-DDTHH:MM``)
  that exists on the calendar, or None (``""`` also means unknown); anything else (``2024-13-45``, a number)
  is refused by :meth:`MemoryState.apply` and when a state is loaded, so what is saved always loads back;
* text is normalised once, where it enters (:func:`deltamem_lib.textnorm.normalize_text`: NFC,
  format characters such as the zero-width space removed) — in every :class:`MemoryEntry`
  and :class:`Operation`, content and keywords — so ``Zürich`` scores the same however it
  was encoded; content left empty by that (``"\u200b"``) is refused like empty content.
"""

from __future__ import annotations

import copy
import enum
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .io import DataFileError, atomic_write_json, read_json
from .textnorm import normalize_text

__all__ = [
    "OpType",
    "Source",
    "MemoryEntry",
    "Operation",
    "Rejection",
    "ApplyResult",
    "StateDiff",
    "MemoryState",
    "OperationError",
    "MemoryStateError",
    "replay",
    "timestamp_problem",
]

STATE_FORMAT_VERSION = 1
STATE_FORMAT = "deltamem.memory_state"
_ID_RE = re.compile(r"^m([1-9][0-9]*)$")


class OperationError(ValueError):
    """One or more operations of a batch are invalid; ``problems`` lists each one."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{len(self.problems)} invalid operation(s); the memory state was not changed:\n{lines}"
        )


class MemoryStateError(DataFileError):
    """A serialised memory state is malformed (the message names file and field)."""


class OpType(str, enum.Enum):
    """The four memory operations of DeltaMem."""

    ADD = "ADD"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    NOOP = "NOOP"


@dataclass(frozen=True)
class Source:
    """Provenance of an entry: the session and the turns it was taken from."""

    session_id: str | None = None
    turns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "turns": list(self.turns)}

    @classmethod
    def from_value(cls, value: Any, where: str = "source") -> Source | None:
        if value is None or isinstance(value, Source):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"{where}: expected an object with session_id and turns, got "
                            f"{type(value).__name__}")
        sid = value.get("session_id")
        if sid is not None and not isinstance(sid, str):
            raise TypeError(f"{where}.session_id: expected a string or null, got {type(sid).__name__}")
        turns = value.get("turns", [])
        if isinstance(turns, (str, bytes)) or not isinstance(turns, Sequence):
            raise TypeError(f"{where}.turns: expected a list of turn ids")
        return cls(session_id=sid, turns=tuple(str(t) for t in turns))


def unencodable(text: str) -> str | None:
    """Why ``text`` cannot be written as UTF-8 (a lone surrogate), or None when it can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"holds {text[exc.start:exc.end]!r} at character {exc.start}, which is not valid Unicode "
                "text (a lone surrogate) and cannot be saved")
    return None


_TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


def timestamp_problem(ts: Any, where: str = "timestamp") -> str | None:
    """Why ``ts`` is not a valid timestamp (an ISO calendar date, optionally with a time), or None."""
    import datetime

    if ts is None or ts == "":  # unknown (a benchmark session without a date)
        return None
    if not isinstance(ts, str):
        return f"{where}: expected a 'YYYY-MM-DD' string or None, got {type(ts).__name__} {ts!r:.40}"
    if not _TIMESTAMP_RE.match(ts):
        return f"{where}: expected an ISO date 'YYYY-MM-DD' (optionally 'YYYY-MM-DDTHH:MM'), got {ts!r:.40}"
    try:
        datetime.datetime.fromisoformat(ts)
    except ValueError:
        return f"{where}: {ts!r} is not a calendar date"
    return None


def _normal_words(value: Any) -> Any:
    """Keywords with each string normalised (the container type kept)."""
    if isinstance(value, (tuple, list)):
        return type(value)(normalize_text(k) if isinstance(k, str) else k for k in value)
    return value


def _text_problem(value: Any, where: str) -> str | None:
    if isinstance(value, str):
        why = unencodable(value)
        return f"{where} {why}" if why else None
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            why = _text_problem(v, f"{where}[{i}]")
            if why:
                return why
    return None


def _str_tuple(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{where}: expected a list of strings, got {type(value).__name__}")
    out = []
    for i, v in enumerate(value):
        if not isinstance(v, str):
            raise TypeError(f"{where}[{i}]: expected a string, got {type(v).__name__}")
        out.append(v)
    return tuple(out)


@dataclass(frozen=True)
class MemoryEntry:
    """One memory: an atomic fact sentence about the user.

    Attributes:
        id: stable identifier allocated by the state (``m1``, ``m2`` …).
        content: the fact, one sentence.
        timestamp: date of the session that wrote it (``YYYY-MM-DD``), if known.
        source: provenance (session id and turn ids).
        keywords: phrases a faithful rewrite must keep (gold entries carry them; the MLD
            reward checks them as "local lexical fidelity").
    """

    id: str
    content: str
    timestamp: str | None = None
    source: Source | None = None
    keywords: tuple[str, ...] = ()

    def __post_init__(self) -> None:  # the one place an entry's text is normalised
        if isinstance(self.content, str):
            object.__setattr__(self, "content", normalize_text(self.content))
        object.__setattr__(self, "keywords", _normal_words(self.keywords))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "content": self.content,
            "timestamp": self.timestamp,
            "keywords": list(self.keywords),
            "source": self.source.to_dict() if self.source else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "entry") -> MemoryEntry:
        """Build an entry from its JSON form; a wrong field raises naming it."""
        if not isinstance(d, Mapping):
            raise TypeError(f"{where}: expected an object, got {type(d).__name__}")
        for key in ("id", "content"):
            if key not in d:
                raise KeyError(f"{where}: missing field {key!r}")
            if not isinstance(d[key], str):
                raise TypeError(f"{where}.{key}: expected a string, got {type(d[key]).__name__}")
        ts = d.get("timestamp")
        if ts is not None and not isinstance(ts, str):
            raise TypeError(f"{where}.timestamp: expected a string or null, got {type(ts).__name__}")
        for key in ("id", "content", "timestamp", "keywords"):
            why = _text_problem(d.get(key), f"{where}.{key}")
            if why:
                raise ValueError(why)
        why = timestamp_problem(ts, f"{where}.timestamp")
        if why:
            raise ValueError(why)
        if not normalize_text(d["content"]).strip():
            raise ValueError(f"{where}.content: empty (format characters such as U+200B do not count)")
        return cls(
            id=d["id"],
            content=d["content"],
            timestamp=ts,
            source=Source.from_value(d.get("source"), f"{where}.source"),
            keywords=_str_tuple(d.get("keywords"), f"{where}.keywords"),
        )


@dataclass(frozen=True)
class Operation:
    """A memory operation as data.

    ``memory_id`` is required for UPDATE and DELETE. For ADD it is optional: when given
    (gold operations of the synthetic data carry it), it must be the id the state will
    allocate, which makes replay exact. ``keywords``, ``evolution`` and ``evidence`` are
    labels of gold operations; the agent's operations leave them empty.
    """

    op: OpType
    memory_id: str | None = None
    content: str | None = None
    keywords: tuple[str, ...] = ()
    evolution: str | None = None
    evidence: tuple[str, ...] = ()

    def __post_init__(self) -> None:  # the one place an operation's text is normalised
        if isinstance(self.content, str):
            object.__setattr__(self, "content", normalize_text(self.content))
        object.__setattr__(self, "keywords", _normal_words(self.keywords))

    @classmethod
    def add(cls, content: str, **kw: Any) -> Operation:
        return cls(OpType.ADD, content=content, **kw)

    @classmethod
    def update(cls, memory_id: str, content: str, **kw: Any) -> Operation:
        return cls(OpType.UPDATE, memory_id=memory_id, content=content, **kw)

    @classmethod
    def delete(cls, memory_id: str, **kw: Any) -> Operation:
        return cls(OpType.DELETE, memory_id=memory_id, **kw)

    @classmethod
    def noop(cls) -> Operation:
        return cls(OpType.NOOP)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"op": self.op.value, "memory_id": self.memory_id, "content": self.content}
        if self.keywords:
            d["keywords"] = list(self.keywords)
        if self.evolution is not None:
            d["evolution"] = self.evolution
        if self.evidence:
            d["evidence"] = list(self.evidence)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "operation") -> Operation:
        """Parse an operation from a mapping such as a model's JSON output.

        Raises ``OperationError`` naming every malformed field (unknown op, wrong types).
        """
        if not isinstance(d, Mapping):
            raise OperationError([f"{where}: expected an object, got {type(d).__name__}"])
        problems: list[str] = []
        raw_op = d.get("op", d.get("event", d.get("type")))
        op: OpType | None = None
        if not isinstance(raw_op, str):
            problems.append(f"{where}: missing or non-string 'op' (one of ADD, UPDATE, DELETE, NOOP)")
        else:
            name = raw_op.strip().upper()
            if name == "NONE":
                name = "NOOP"
            try:
                op = OpType(name)
            except ValueError:
                problems.append(f"{where}: unknown op {raw_op!r} (expected ADD, UPDATE, DELETE or NOOP)")
        mid = d.get("memory_id", d.get("id"))
        if mid is not None and not isinstance(mid, str):
            problems.append(f"{where}.memory_id: expected a string, got {type(mid).__name__}")
        content = d.get("content", d.get("text"))
        if content is not None and not isinstance(content, str):
            problems.append(f"{where}.content: expected a string, got {type(content).__name__}")
        kws: tuple[str, ...] = ()
        evidence: tuple[str, ...] = ()
        try:
            kws = _str_tuple(d.get("keywords"), f"{where}.keywords")
        except TypeError as exc:
            problems.append(str(exc))
        raw_ev = d.get("evidence")
        if raw_ev is None:
            pass
        elif isinstance(raw_ev, (str, bytes)) or not isinstance(raw_ev, Sequence):
            problems.append(f"{where}.evidence: expected a list of turn ids, got {type(raw_ev).__name__} "
                            f"{raw_ev!r:.40} (write [{raw_ev!r:.20}] for one turn)")
        elif not all(isinstance(e, (str, int)) and not isinstance(e, bool) for e in raw_ev):
            problems.append(f"{where}.evidence: expected a list of turn ids (strings)")
        else:
            evidence = tuple(str(e) for e in raw_ev)
        for key, value in (("memory_id", mid), ("content", content), ("keywords", kws),
                           ("evidence", evidence), ("evolution", d.get("evolution"))):
            why = _text_problem(value, f"{where}.{key}")
            if why:
                problems.append(why)
        evo = d.get("evolution")
        if evo is not None and not isinstance(evo, str):
            problems.append(f"{where}.evolution: expected a string")
        if problems or op is None:
            raise OperationError(problems)
        return cls(op=op, memory_id=mid, content=content, keywords=kws, evolution=evo, evidence=evidence)


@dataclass(frozen=True)
class Rejection:
    """An operation that was not applied, with the reason (shown to the model as is)."""

    index: int
    operation: Any
    reason: str


@dataclass
class ApplyResult:
    """What :meth:`MemoryState.apply` did: the applied operations (ADDs with their new ids)
    and the rejected ones."""

    applied: list[Operation] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


@dataclass(frozen=True)
class StateDiff:
    """Differences between two states, matched by id."""

    added: tuple[MemoryEntry, ...]
    removed: tuple[MemoryEntry, ...]
    changed: tuple[tuple[MemoryEntry, MemoryEntry], ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def __len__(self) -> int:
        return len(self.added) + len(self.removed) + len(self.changed)

    def to_operations(self) -> list[Operation]:
        """Operations that turn the first state into the second (ids of ADDs left to the state)."""
        ops = [Operation.delete(e.id) for e in self.removed]
        ops += [Operation.update(old.id, new.content, keywords=new.keywords) for old, new in self.changed]
        ops += [Operation.add(e.content, keywords=e.keywords) for e in self.added]
        return ops

    def render(self) -> str:
        """A plain-text view: ``+`` added, ``-`` removed, ``~`` changed."""
        lines = [f"- [{e.id}] {e.content}" for e in self.removed]
        lines += [f"~ [{o.id}] {o.content}  ->  {n.content}" for o, n in self.changed]
        lines += [f"+ [{e.id}] {e.content}" for e in self.added]
        return "\n".join(lines) if lines else "(no change)"


class MemoryState:
    """An ordered memory of entries whose ids the state allocates and never reuses.

    The state changes only through :meth:`apply` (and :meth:`add`, a convenience for one
    ADD). ``log`` records every applied operation with its resolved id, timestamp and
    source, so :func:`replay` on the initial state reproduces the final state exactly.
    """

    def __init__(self, entries: Iterable[MemoryEntry | Mapping[str, Any]] = (), *,
                 next_id: int | None = None):
        self._entries: dict[str, MemoryEntry] = {}
        highest = 0
        for i, e in enumerate(entries):
            entry = e if isinstance(e, MemoryEntry) else MemoryEntry.from_dict(e, f"entries[{i}]")
            m = _ID_RE.match(entry.id)
            if m is None:
                raise ValueError(f"entries[{i}].id: {entry.id!r} is not a state id (m1, m2, …)")
            if entry.id in self._entries:
                raise ValueError(f"entries[{i}].id: duplicate id {entry.id!r}")
            self._entries[entry.id] = entry
            highest = max(highest, int(m.group(1)))
        if next_id is None:
            next_id = highest + 1
        if next_id <= highest:
            raise ValueError(f"next_id {next_id} would reuse an existing id (highest is m{highest})")
        self._next_id = next_id
        # One record per applied operation (resolved id, timestamp, source); records are
        # read-only once logged, so copies of the state share them.
        self.log: list[dict[str, Any]] = []

    # ----- reading ---------------------------------------------------------------------
    @property
    def entries(self) -> tuple[MemoryEntry, ...]:
        return tuple(self._entries.values())

    @property
    def next_id(self) -> int:
        """The number of the id the next ADD will get."""
        return self._next_id

    def peek_next_id(self) -> str:
        return f"m{self._next_id}"

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[MemoryEntry]:
        return iter(list(self._entries.values()))

    def __contains__(self, memory_id: object) -> bool:
        return memory_id in self._entries

    def __getitem__(self, memory_id: str) -> MemoryEntry:
        try:
            return self._entries[memory_id]
        except KeyError:
            raise KeyError(f"no memory with id {memory_id!r}") from None

    def get(self, memory_id: str) -> MemoryEntry | None:
        return self._entries.get(memory_id)

    def ids(self) -> list[str]:
        return list(self._entries)

    def contents(self) -> list[str]:
        return [e.content for e in self._entries.values()]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MemoryState):
            return NotImplemented
        return self.entries == other.entries and self._next_id == other._next_id

    def __repr__(self) -> str:
        return f"MemoryState({len(self)} entries, next id m{self._next_id})"

    def render(self) -> str:
        """One line per entry: ``[id] content``."""
        return "\n".join(f"[{e.id}] {e.content}" for e in self) or "(empty memory)"

    def copy(self) -> MemoryState:
        new = MemoryState.__new__(MemoryState)
        new._entries = dict(self._entries)
        new._next_id = self._next_id
        new.log = list(self.log)  # records are never mutated after they are logged
        return new

    def diff(self, other: MemoryState) -> StateDiff:
        """What changed from ``self`` to ``other``, matched by id."""
        added = tuple(e for i, e in other._entries.items() if i not in self._entries)
        removed = tuple(e for i, e in self._entries.items() if i not in other._entries)
        changed = tuple(
            (e, other._entries[i])
            for i, e in self._entries.items()
            if i in other._entries
            and (e.content != other._entries[i].content or e.keywords != other._entries[i].keywords)
        )
        return StateDiff(added, removed, changed)

    # ----- changing --------------------------------------------------------------------
    def apply(
        self,
        operations: Iterable[Operation | Mapping[str, Any]],
        *,
        timestamp: str | None = None,
        source: Source | Mapping[str, Any] | None = None,
        strict: bool = True,
        allow_delete: bool = True,
    ) -> ApplyResult:
        """Apply a batch of operations in order.

        Every operation is checked against the state as the earlier operations of the
        batch leave it: unknown id, an id updated or deleted twice in the batch, empty
        content, an ADD whose given id is not the one the state allocates, DELETE when
        ``allow_delete`` is off, and (for mappings) unknown op or wrong field types.

        Args:
            operations: ``Operation`` objects or mappings (e.g. parsed model output).
            timestamp: date written into new or rewritten entries.
            source: provenance written into new or rewritten entries.
            strict: if True, any problem raises ``OperationError`` listing all problems
                and the state is left unchanged; if False, valid operations are applied
                and the rest are returned as ``rejected`` with reasons.
            allow_delete: reject DELETE (the "no delete" ablation).
        """
        if timestamp is not None and not isinstance(timestamp, str):
            raise TypeError("timestamp: expected a 'YYYY-MM-DD' string or None, got "
                            f"{type(timestamp).__name__} {timestamp!r}; a state must load back what it saves")
        if isinstance(timestamp, str) and unencodable(timestamp):
            raise ValueError(f"timestamp {unencodable(timestamp)}")
        why = timestamp_problem(timestamp)
        if why:
            raise ValueError(f"{why}; nothing was applied")
        src = Source.from_value(source)
        if src is not None:
            why = _text_problem(src.session_id, "source.session_id") or _text_problem(list(src.turns),
                                                                                      "source.turns")
            if why:
                raise ValueError(why)
        work = self.copy()
        result = ApplyResult()
        touched: set[str] = set()
        problems: list[str] = []
        for i, raw in enumerate(operations):
            try:
                op = raw if isinstance(raw, Operation) else Operation.from_dict(raw, f"operation {i}")
                reason = work._check(op, touched, allow_delete)
            except OperationError as exc:
                op, reason = raw, "; ".join(p.removeprefix(f"operation {i}: ").removeprefix(f"operation {i}.")
                                             for p in exc.problems)
            if reason is not None:
                result.rejected.append(Rejection(i, raw, reason))
                problems.append(f"operation {i}: {reason}")
                continue
            result.applied.append(work._do(op, timestamp, src, touched))
        if strict and problems:
            raise OperationError(problems)
        self._entries, self._next_id, self.log = work._entries, work._next_id, work.log
        return result

    def add(self, content: str, *, timestamp: str | None = None, source: Any = None,
            keywords: Sequence[str] = ()) -> MemoryEntry:
        """Add one entry (strict) and return it with its allocated id."""
        res = self.apply([Operation.add(content, keywords=tuple(keywords))], timestamp=timestamp,
                         source=source)
        return self._entries[res.applied[0].memory_id]  # type: ignore[index]

    def _check(self, op: Operation, touched: set[str], allow_delete: bool) -> str | None:
        if not isinstance(op.op, OpType):
            return f"unknown op {op.op!r}"
        if op.op is OpType.NOOP:
            return None
        if op.op is OpType.DELETE and not allow_delete:
            return "DELETE is not allowed in this configuration"
        if op.op in (OpType.ADD, OpType.UPDATE):
            if not isinstance(op.content, str) or not op.content.strip():
                return (f"{op.op.value} needs non-empty content"
                        + (" (format characters such as U+200B do not count)" if op.content else ""))
            for key in ("content", "keywords", "memory_id"):
                why = _text_problem(getattr(op, key), key)
                if why:
                    return f"{op.op.value} {why}"
        if op.op is OpType.ADD:
            if op.memory_id is not None and op.memory_id != self.peek_next_id():
                return (f"ADD names id {op.memory_id!r} but the state allocates "
                        f"{self.peek_next_id()!r} next")
            return None
        mid = op.memory_id
        if not isinstance(mid, str) or not mid:
            return f"{op.op.value} needs a memory_id"
        if mid in touched:
            return f"memory {mid!r} is updated or deleted twice in one batch"
        if mid not in self._entries:
            return f"unknown memory id {mid!r}"
        return None

    def _do(self, op: Operation, timestamp: str | None, src: Source | None, touched: set[str]) -> Operation:
        if op.op is OpType.NOOP:
            applied = op
        elif op.op is OpType.ADD:
            mid = self.peek_next_id()
            self._next_id += 1
            # type: ignore[union-attr]
            self._entries[mid] = MemoryEntry(mid, op.content.strip(), timestamp, src, op.keywords)
            # type: ignore[union-attr]
            applied = Operation(OpType.ADD, mid, op.content.strip(), op.keywords, op.evolution, op.evidence)
        elif op.op is OpType.UPDATE:
            mid = op.memory_id  # type: ignore[assignment]
            touched.add(mid)
            # type: ignore[union-attr]
            self._entries[mid] = MemoryEntry(mid, op.content.strip(), timestamp, src, op.keywords)
            # type: ignore[union-attr]
            applied = Operation(OpType.UPDATE, mid, op.content.strip(), op.keywords, op.evolution,
                                op.evidence)
        else:
            mid = op.memory_id  # type: ignore[assignment]
            touched.add(mid)
            del self._entries[mid]
            applied = op
        self.log.append({**applied.to_dict(), "timestamp": timestamp,
                         "source": src.to_dict() if src else None})
        return applied

    # ----- serialisation ---------------------------------------------------------------
    def to_dict(self, *, include_log: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": STATE_FORMAT,
            "version": STATE_FORMAT_VERSION,
            "next_id": self._next_id,
            "entries": [e.to_dict() for e in self],
        }
        if include_log:
            d["log"] = copy.deepcopy(self.log)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "state") -> MemoryState:
        if not isinstance(d, Mapping):
            raise MemoryStateError(f"{where}: expected an object, got {type(d).__name__}")
        if "format" in d and d["format"] != STATE_FORMAT:
            raise MemoryStateError(f"{where}.format: {d['format']!r} is not a memory state (expected "
                                   f"{STATE_FORMAT!r}); is this the right file?")
        if d.get("version", STATE_FORMAT_VERSION) != STATE_FORMAT_VERSION:
            raise MemoryStateError(f"{where}.version: unsupported version {d.get('version')!r}")
        entries = d.get("entries")
        if not isinstance(entries, list):
            raise MemoryStateError(f"{where}.entries: missing or not a list")
        next_id = d.get("next_id")
        if next_id is not None and (not isinstance(next_id, int) or isinstance(next_id, bool)):
            raise MemoryStateError(f"{where}.next_id: expected an integer")
        try:
            state = cls([MemoryEntry.from_dict(e, f"{where}.entries[{i}]") for i, e in enumerate(entries)],
                        next_id=next_id)
        except (KeyError, TypeError, ValueError) as exc:
            msg = str(exc.args[0] if exc.args else exc)
            raise MemoryStateError(msg if msg.startswith(where) else f"{where}.{msg}") from None
        log = d.get("log", [])
        if not isinstance(log, list):
            raise MemoryStateError(f"{where}.log: expected a list")
        for i, rec in enumerate(log):
            _check_log_record(rec, f"{where}.log[{i}]")
        state.log = copy.deepcopy(log)
        return state

    @classmethod
    def from_entries(cls, entries: Iterable[Mapping[str, Any] | MemoryEntry]) -> MemoryState:
        """A state holding exactly these entries (ids kept; next id after the highest)."""
        return cls(entries)

    def save(self, path: str | os.PathLike[str], *, include_log: bool = True) -> Path:
        """Write the state atomically (temporary file, then rename)."""
        return atomic_write_json(path, self.to_dict(include_log=include_log))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MemoryState:
        """Read a state; a corrupt or truncated file raises naming the file and line."""
        data = read_json(path)
        try:
            return cls.from_dict(data)
        except MemoryStateError as exc:
            raise MemoryStateError(f"{path}: {exc}") from None


def _check_log_record(rec: Any, where: str) -> None:
    """A log record is an operation plus ``timestamp`` and ``source``; anything else is refused."""
    if not isinstance(rec, Mapping):
        raise MemoryStateError(f"{where}: expected an operation record (an object), got {type(rec).__name__}")
    try:
        op = Operation.from_dict(rec, where)
    except OperationError as exc:
        raise MemoryStateError("; ".join(exc.problems)) from None
    if op.op is not OpType.NOOP and not (isinstance(op.memory_id, str) and _ID_RE.match(op.memory_id)):
        raise MemoryStateError(f"{where}.memory_id: {op.op.value} record needs a state id (m1, m2, ...), "
                               f"got {op.memory_id!r}")
    why = timestamp_problem(rec.get("timestamp"), f"{where}.timestamp")
    if why:
        raise MemoryStateError(why)
    try:
        Source.from_value(rec.get("source"), f"{where}.source")
    except TypeError as exc:
        raise MemoryStateError(str(exc)) from None


def replay(initial: MemoryState, log: Iterable[Mapping[str, Any]]) -> MemoryState:
    """Re-apply an operation log (``state.log``) to a copy of ``initial``, strictly.

    Each logged operation carries its own timestamp and source, so the result equals the
    state that produced the log, entry for entry.
    """
    state = initial.copy()
    state.log = []
    for i, rec in enumerate(log):
        op = Operation.from_dict(rec, f"log[{i}]")
        state.apply([op], timestamp=rec.get("timestamp"), source=rec.get("source"))
    return state
