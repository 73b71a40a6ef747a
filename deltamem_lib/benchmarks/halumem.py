"""HaluMem loader (Chen et al., arXiv 2511.03506; HF ``IAAR-Shanghai/HaluMem``).

HaluMem probes a memory system operation by operation (``docs/benchmark_protocols.md``
§2): after each session is ingested, the memories written from that session are judged
against the session's gold memory points (extraction), update points are probed by search
(update), and the questions attached to the session are answered (QA). Both releases,
``HaluMem-Medium.jsonl`` and ``HaluMem-Long.jsonl``, share one schema: one JSON object per
user per line::

    {"uuid": str, "persona_info": str ("Name: …; Gender: …; …"),
     "sessions": [
        {"start_time": str, "end_time": str, "dialogue_turn_num": int,
         "dialogue_token_length": int,
         "dialogue": [{"role": "user"|"assistant", "content": str,
                       "timestamp": "Dec 15, 2025, 06:11:23", "dialogue_turn": int}, …],
         "memory_points": [{"index": int, "memory_content": str,
                            "memory_type": "Persona Memory"|"Event Memory"|"Relationship Memory",
                            "memory_source": "system"|"primary"|"secondary"|"interference",
                            "is_update": "True"|"False", "original_memories": [str],
                            "importance": float, "timestamp": str, …}, …],
         "questions": [{"question": str, "answer": str,
                        "evidence": [{"memory_content": str, "memory_type": str}],
                        "difficulty": "easy"|"medium"|"hard", "question_type": str}, …],
         "is_generated_qa_session": bool   # Long only: distractor sessions
        }, …],
     …}

(Schema from the HaluMem README, ``scripts/stage6_2_final_result_medium.py`` and
``eval/eval_memos.py``.) Distractor sessions of the Long release
(``is_generated_qa_session``) are ingested but carry no memory points or questions and are
skipped when probing and scoring: :meth:`HaluMemUser.scored_sessions`.

No real file is available to this project (licence CC BY-NC-ND 4.0, Hugging Face only); the
loader is tested on hand-written records in this schema. Errors name the file, the line,
the user and the field.

Scoring (HaluMem's ``eval/evaluation.py``): :func:`halumem_extraction_metrics`,
:func:`halumem_update_metrics`, :func:`halumem_qa_metrics`, :func:`halumem_typewise_accuracy`
— pure functions over the labels a judge gave (:mod:`.judge`).

**As episodes**: :func:`halumem_episode` makes one episode per user, turn ids ``s<k>:t<i>``,
each session dated by its ``start_time``; the persona line is not ingested, and the
distractor sessions of the Long release are ingested like any other.
:class:`HaluMemProtocol` is this benchmark's part of a run (:mod:`.protocol`, :mod:`.runner`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..episodes import Episode
from ..episodes import Session as EpisodeSession
from ..episodes import Turn as EpisodeTurn
from ..io import DataFileError, iter_jsonl
from ..memory import MemoryState
from .answering import fit_to_context, full_context_messages, single_user_answer_messages
from .judge import judge_halumem
from .protocol import BenchConfig, Plan, Protocol, Questions, Verdicts, select

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
    "IntegrityJudgement",
    "AccuracyJudgement",
    "UpdateJudgement",
    "ExtractionMetrics",
    "LabelRates",
    "TypeAccuracy",
    "UPDATE_LABELS",
    "QA_LABELS",
    "halumem_extraction_metrics",
    "halumem_update_metrics",
    "halumem_qa_metrics",
    "halumem_typewise_accuracy",
    "halumem_session_id",
    "halumem_episode",
    "HaluMemProtocol",
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


# =========================================================================== HaluMem


@dataclass(frozen=True)
class IntegrityJudgement:
    """Memory-integrity judge result for one gold memory point (HaluMem §"Metrics").

    ``score`` 2 = covered, 1 = partly, 0 = absent/wrong, ``None`` = invalid judge call."""

    score: int | None
    importance: float
    is_interference: bool
    memory_type: str | None = None


@dataclass(frozen=True)
class AccuracyJudgement:
    """Memory-accuracy judge result for one extracted memory: ``score`` 2/1/0 (``None`` =
    invalid call) and whether the judge placed it inside the gold points. Officially an
    invalid call also sets ``in_gold=False``."""

    score: int | None
    in_gold: bool


@dataclass(frozen=True)
class UpdateJudgement:
    """Update judge label for one probed update point and the point's memory type."""

    label: str | None
    memory_type: str | None = None


@dataclass(frozen=True)
class ExtractionMetrics:
    """HaluMem memory-extraction metrics. Plain names are the "(all)" variants the
    leaderboard prints (invalid judge calls stay in the denominator); ``*_valid`` drop them.
    Values are ``None`` when their denominator is empty."""

    recall: float | None
    recall_valid: float | None
    weighted_recall: float | None
    weighted_recall_valid: float | None
    fmr: float | None
    fmr_valid: float | None
    target_precision: float | None
    target_precision_valid: float | None
    accuracy: float | None
    accuracy_valid: float | None
    f1: float | None
    counts: Mapping[str, float] = field(default_factory=dict)


def _div(a: float, b: float) -> float | None:
    return a / b if b else None


def _check_score(s: int | None, what: str) -> None:
    if s is not None and s not in (0, 1, 2):
        raise ValueError(f"{what} score {s!r}: HaluMem judge scores are 0, 1, 2 or None (invalid call)")


def halumem_extraction_metrics(integrity: Iterable[IntegrityJudgement],
                               accuracy: Iterable[AccuracyJudgement]) -> ExtractionMetrics:
    """Memory-extraction metrics from already-judged records (HaluMem ``eval/evaluation.py``
    ``aggregate_eval_results``; docs/benchmark_protocols.md §2 "Metrics").

    Over gold points that are *not* interference:
    ``R = #(score 2) / #points``; ``weighted R = Σ 0.5·score·importance / Σ importance``.
    Over interference points: ``FMR = #(score 0) / #points`` (the distractor was not stored).
    Over extracted memories: ``Target P = Σ 0.5·score / #(in gold)`` over those the judge put
    inside the gold points; ``Acc. = Σ 0.5·score / #memories``. ``F1 = 2·P·R / (P + R)``
    from the "(all)" Target P and R (MemOS Medium: P 86.25, R 74.07 → 79.70).
    """
    n_pts = n_pts_valid = n_hit = 0
    imp_all = imp_valid = w_score = 0.0
    n_int = n_int_valid = n_int_ok = 0
    for j in integrity:
        _check_score(j.score, "integrity")
        if j.is_interference:
            n_int += 1
            if j.score is not None:
                n_int_valid += 1
                n_int_ok += j.score == 0
        else:
            n_pts += 1
            imp_all += j.importance
            if j.score is not None:
                n_pts_valid += 1
                imp_valid += j.importance
                n_hit += j.score == 2
                w_score += 0.5 * j.score * j.importance
    n_mem = n_mem_valid = n_tgt = n_tgt_valid = 0
    acc_sum = tgt_sum = 0.0
    for a in accuracy:
        _check_score(a.score, "accuracy")
        n_mem += 1
        n_tgt += bool(a.in_gold)
        if a.score is None:
            continue
        n_mem_valid += 1
        acc_sum += 0.5 * a.score
        if a.in_gold:
            n_tgt_valid += 1
            tgt_sum += 0.5 * a.score
    recall = _div(n_hit, n_pts)
    precision = _div(tgt_sum, n_tgt)
    if recall is None or precision is None:
        f1 = None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return ExtractionMetrics(
        recall=recall,
        recall_valid=_div(n_hit, n_pts_valid),
        weighted_recall=_div(w_score, imp_all),
        weighted_recall_valid=_div(w_score, imp_valid),
        fmr=_div(n_int_ok, n_int),
        fmr_valid=_div(n_int_ok, n_int_valid),
        target_precision=precision,
        target_precision_valid=_div(tgt_sum, n_tgt_valid),
        accuracy=_div(acc_sum, n_mem),
        accuracy_valid=_div(acc_sum, n_mem_valid),
        f1=f1,
        counts={"points": n_pts, "points_valid": n_pts_valid, "importance_sum": imp_all,
                "interference": n_int, "interference_valid": n_int_valid,
                "extracted": n_mem, "extracted_valid": n_mem_valid,
                "target": n_tgt, "target_valid": n_tgt_valid},
    )


#: Labels of the HaluMem update judge and of the QA judge (anything else is an invalid call).
UPDATE_LABELS: tuple[str, ...] = ("Correct", "Hallucination", "Omission", "Other")
QA_LABELS: tuple[str, ...] = ("Correct", "Hallucination", "Omission")


@dataclass(frozen=True)
class LabelRates:
    """Rates of judge labels. ``rate`` divides by all items ("(all)", the leaderboard
    numbers), ``rate_valid`` by the items with a valid label; ``by_group`` holds the same
    per question type when groups were given."""

    n: int
    n_valid: int
    counts: Mapping[str, int]
    rate: Mapping[str, float | None]
    rate_valid: Mapping[str, float | None]
    by_group: Mapping[str, LabelRates] = field(default_factory=dict)

    @property
    def correct(self) -> float | None:
        return self.rate.get("Correct")

    @property
    def hallucination(self) -> float | None:
        return self.rate.get("Hallucination")

    @property
    def omission(self) -> float | None:
        return self.rate.get("Omission")


def _canon_label(label: Any, allowed: Sequence[str]) -> str | None:
    if not isinstance(label, str):
        return None
    low = label.strip().lower()
    for a in allowed:
        if a.lower() == low:
            return a
    return None


def _label_rates(labels: Sequence[Any], allowed: Sequence[str]) -> LabelRates:
    canon = [_canon_label(lab, allowed) for lab in labels]
    counts = {a: sum(c == a for c in canon) for a in allowed}
    n, n_valid = len(canon), sum(c is not None for c in canon)
    return LabelRates(n=n, n_valid=n_valid, counts=counts,
                      rate={a: _div(counts[a], n) for a in allowed},
                      rate_valid={a: _div(counts[a], n_valid) for a in allowed})


def halumem_update_metrics(labels: Iterable[str | None | UpdateJudgement]) -> LabelRates:
    """Memory-update rates C / H / O (and Other) over all probed update points
    (docs/benchmark_protocols.md §2). Labels are matched case-insensitively to :data:`UPDATE_LABELS`;
    anything else is an invalid judge call (kept in the "(all)" denominator)."""
    labs = [x.label if isinstance(x, UpdateJudgement) else x for x in labels]
    return _label_rates(labs, UPDATE_LABELS)


def halumem_qa_metrics(labels: Sequence[str | None],
                       question_types: Sequence[str] | None = None) -> LabelRates:
    """QA rates C / H / O over all questions, and per question type when
    ``question_types`` is given (docs/benchmark_protocols.md §2)."""
    labels = list(labels)
    overall = _label_rates(labels, QA_LABELS)
    if question_types is None:
        return overall
    if len(question_types) != len(labels):
        raise ValueError(f"{len(labels)} labels but {len(question_types)} question types")
    groups: dict[str, list[Any]] = defaultdict(list)
    for lab, t in zip(labels, question_types):
        groups[t].append(lab)
    by = {t: _label_rates(v, QA_LABELS) for t, v in sorted(groups.items())}
    return LabelRates(overall.n, overall.n_valid, overall.counts, overall.rate, overall.rate_valid, by)


@dataclass(frozen=True)
class TypeAccuracy:
    """Type-wise accuracy for one memory type: ``memory_acc = integrity_acc + update_acc``,
    both over ``total`` = integrity records + update records of that type."""

    integrity_acc: float | None
    update_acc: float | None
    memory_acc: float | None
    total: int


def halumem_typewise_accuracy(integrity: Iterable[IntegrityJudgement],
                              updates: Iterable[UpdateJudgement], *,
                              include_interference: bool = False) -> dict[str, TypeAccuracy]:
    """Type-wise accuracy (Event / Persona / Relationship Memory): per type,
    ``(#integrity score 2 + #update Correct) / (#integrity records + #update records)``.

    The HaluMem README says distractor (interference) points are excluded, which is the
    default here; the released ``evaluation.py`` counts them too — pass
    ``include_interference=True`` to reproduce the script. Records without a memory type
    are skipped.
    """
    hit_i: Counter[str] = Counter()
    hit_u: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for j in integrity:
        if j.memory_type is None or (j.is_interference and not include_interference):
            continue
        total[j.memory_type] += 1
        hit_i[j.memory_type] += j.score == 2
    for u in updates:
        if u.memory_type is None:
            continue
        total[u.memory_type] += 1
        hit_u[u.memory_type] += _canon_label(u.label, UPDATE_LABELS) == "Correct"
    out = {}
    for t in sorted(total):
        ia, ua = _div(hit_i[t], total[t]), _div(hit_u[t], total[t])
        out[t] = TypeAccuracy(ia, ua, (ia or 0.0) + (ua or 0.0), total[t])
    return out


# ------------------------------------------------------------------- users as episodes
def halumem_session_id(uuid: str, index: int) -> str:
    return f"{uuid}:s{index}"


def _session_date(session: HaluMemSession) -> str:
    for raw in [session.start_time] + [t.timestamp for t in session.dialogue]:
        if raw:
            try:
                return parse_halumem_time(raw).date().isoformat()
            except ValueError:
                continue
    return ""


def halumem_episode(user: HaluMemUser) -> Episode:
    """One HaluMem user as an episode: every session (distractor sessions included), in order,
    dated by ``start_time``; turn ids ``s<k>:t<i>``; system turns dropped. The persona line is
    not ingested (it is the generator's seed, not something the user said)."""
    sessions = tuple(
        EpisodeSession(session_id=halumem_session_id(user.uuid, s.index), date=_session_date(s),
                       event={"kind": "halumem", "summary": "distractor session" if s.is_generated_qa_session else ""},
                       turns=tuple(EpisodeTurn(f"s{s.index}:t{i}", t.role, t.content)
                                   for i, t in enumerate(s.dialogue) if t.role in ("user", "assistant")),
                       gold_ops=(), state_after=())
        for s in user.sessions)
    return Episode(user_id=user.uuid, persona={"name": user.user_name or ""}, initial_memory=(), sessions=sessions,
                   meta={"benchmark": "halumem"})


# ----------------------------------------------------------------------------- protocol
class HaluMemProtocol(Protocol):
    """HaluMem in the online order (``docs/benchmark_protocols.md`` §2), for the runner: ingest
    session *s*, probe what *s* wrote, probe the update points, answer *s*'s questions, then
    session *s+1*. Ingestion keeps the memory after every session and the probes only read
    memories, so each probe reads exactly the memory of its moment. The extraction, update and
    QA metrics need the judge; without one they are listed under ``not_computed``."""

    name = "halumem"
    full_context_gaps = {"extraction": "full context keeps no memory to probe",
                         "update": "full context keeps no memory to probe"}

    def prepare(self, cfg: BenchConfig) -> Plan:
        path = Path(cfg.data)
        users = select(cfg, path, load_halumem(path), lambda u: u.uuid, "user")
        max_s = cfg.max_sessions or None
        episodes = []
        for u in users:
            ep = halumem_episode(u)
            episodes.append(dataclasses.replace(ep, sessions=ep.sessions[:max_s]) if max_s else ep)
        data = {"users": [u.uuid for u in users],
                "sessions": {u.uuid: len(ep.sessions) for u, ep in zip(users, episodes)}}
        return Plan(episodes, data, users)

    def ask(self, cfg: BenchConfig, plan: Plan, states: Mapping[str, Sequence[MemoryState]], answer_model: Any,
            retriever: Any) -> Questions:
        """The probes, in the online order (each reads the memory right after its session): QA
        prompts, what each session wrote (``probes["extraction"]``) and the memories retrieved
        for each update point (``probes["updates"]``)."""
        asked = Questions([], [], [], {"extraction": [], "updates": []})
        for u, ep in zip(plan.items, plan.episodes):
            history: list[str] = []
            for s in u.sessions[:len(ep.sessions)]:
                history.append(f"Session of {ep.sessions[s.index].date}:\n" + s.dialogue_text())
                if s.is_generated_qa_session:
                    continue
                if not cfg.full_context:
                    after = states[u.uuid][s.index]
                    _probe_memory(asked.probes, u.uuid, s, after, retriever)
                elif s.questions:  # one transcript for all of the session's questions
                    text, _ = fit_to_context(history, answer_model, cfg.context_tokens)
                for qi, q in enumerate(s.questions):
                    if cfg.full_context:
                        prompt = full_context_messages(q.question, text)
                    else:
                        hits = [e for e, _ in retriever.search(q.question, after.entries, cfg.top_k)]
                        prompt = single_user_answer_messages(q.question, hits)
                    asked.keys.append(f"{u.uuid}/s{s.index}/q{qi}")
                    asked.prompts.append(prompt)
                    asked.records.append({"key": asked.keys[-1], "question_type": q.question_type,
                                          "question": q.question, "gold": q.answer, "_item": q})
        return asked

    def score(self, cfg: BenchConfig, plan: Plan, asked: Questions, answers: Mapping[str, Mapping[str, Any]],
              judge: Any, work: Path, not_computed: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                                             dict[str, Any] | None]:
        items = [r.pop("_item") for r in asked.records]
        per_question = [{**r, "answer": answers[r["key"]]["answer"]} for r in asked.records]
        extraction, updates = asked.probes["extraction"], asked.probes["updates"]
        metrics: dict[str, Any] = {"questions": len(per_question), "sessions_probed": len(extraction),
                                   "memories_written": sum(len(x["memories"]) for x in extraction),
                                   "update_points_probed": len(updates)}
        if judge is None:
            reason = "no judge model given (--judge-model); HaluMem's metrics are judged by an LLM"
            for name in ("extraction recall / weighted recall / target precision / F1 / false-memory resistance",
                         "update correct / hallucination / omission", "QA correct / hallucination / omission"):
                not_computed.setdefault(name, reason)
            return metrics, per_question, None
        verdicts = Verdicts(judge, work)
        judged = _judged(judge, cfg, verdicts)
        labels = judged("qa", [f"qa:{r['key']}" for r in per_question],
                        [{"question": q.question, "answer": q.answer,
                          "evidence": "; ".join(e.memory_content for e in q.evidence) or "(none: unanswerable)",
                          "response": r["answer"]} for q, r in zip(items, per_question)])
        for r, lab in zip(per_question, labels):
            r["label"] = lab.get("label")
        metrics["qa"] = _rates(halumem_qa_metrics([r["label"] for r in per_question],
                                                  [r["question_type"] for r in per_question]))
        if not cfg.full_context:
            metrics.update(_memory_metrics(extraction, updates, judged))
        return metrics, per_question, verdicts.cost()


def _probe_memory(probes: dict[str, list[Any]], uuid: str, s: HaluMemSession, after: MemoryState,
                  retriever: Any) -> None:
    """What session ``s`` wrote, and the memories retrieved for each of its update points."""
    sid = halumem_session_id(uuid, s.index)
    written = [e for e in after.entries if e.source is not None and e.source.session_id == sid]
    probes["extraction"].append({"user": uuid, "session": s.index, "memories": [e.content for e in written],
                                 "points": s.memory_points, "dialogue": s.dialogue_text()})
    for p in s.update_probe_points:
        hits = [e.content for e, _ in retriever.search(p.memory_content, after.entries, 10)]
        probes["updates"].append({"user": uuid, "session": s.index, "point": p, "memories": hits})


def _judged(judge: Any, cfg: BenchConfig, verdicts: Verdicts) -> Callable[..., list[dict[str, Any]]]:
    """Judge items of one kind through the verdict journal (a rerun asks only what is missing)."""
    def judged(kind: str, keys: list[str], fields: list[dict[str, str]]) -> list[dict[str, Any]]:
        return verdicts.get(keys, lambda todo: judge_halumem(judge, kind, [fields[i] for i in todo],
                                                             batch_size=cfg.batch_size, seed=cfg.seed))
    return judged


def _memory_metrics(extraction: Sequence[dict[str, Any]], updates: Sequence[dict[str, Any]],
                    judged: Callable[..., list[dict[str, Any]]]) -> dict[str, Any]:
    """Extraction (integrity of each gold point, accuracy of each written memory) and update metrics."""
    integ_keys, integ_fields, integ_meta = [], [], []
    acc_keys, acc_fields = [], []
    upd = [x for x in updates if x["memories"]]
    upd_points = {(x["user"], x["session"], x["point"].index) for x in upd}
    zero_integrity = []
    for x in extraction:
        points = "\n".join(f"- {p.memory_content}" for p in x["points"] if not p.is_interference)
        mem_text = "\n".join(f"- {m}" for m in x["memories"])
        for p in x["points"]:
            if (x["user"], x["session"], p.index) in upd_points:
                continue
            meta = (p.importance, p.is_interference, p.memory_type)
            if not x["memories"]:
                zero_integrity.append(meta)  # nothing extracted: score 0 without a judge call
                continue
            integ_keys.append(f"int:{x['user']}/s{x['session']}/p{p.index}")
            integ_fields.append({"memories": mem_text, "target": p.memory_content})
            integ_meta.append(meta)
        for mi, m in enumerate(x["memories"]):
            acc_keys.append(f"acc:{x['user']}/s{x['session']}/m{mi}")
            acc_fields.append({"dialogue": x["dialogue"], "points": points, "memory": m})
    integ = judged("integrity", integ_keys, integ_fields)
    acc = judged("accuracy", acc_keys, acc_fields)
    ij = [IntegrityJudgement(r.get("score"), imp, intf, mt) for r, (imp, intf, mt) in zip(integ, integ_meta)]
    ij += [IntegrityJudgement(0, imp, intf, mt) for imp, intf, mt in zero_integrity]
    aj = [AccuracyJudgement(r.get("score"), bool(r.get("in_gold"))) for r in acc]
    ext = halumem_extraction_metrics(ij, aj)
    uj = judged("update", [f"upd:{x['user']}/s{x['session']}/p{x['point'].index}" for x in upd],
                [{"memories": "\n".join(f"- {m}" for m in x["memories"]), "target": x["point"].memory_content,
                  "original": "; ".join(x["point"].original_memories)} for x in upd])
    update = _rates(halumem_update_metrics(
        [UpdateJudgement(r.get("label"), x["point"].memory_type) for r, x in zip(uj, upd)]))
    update["probed_without_hits"] = len(updates) - len(upd)
    return {"extraction": {k: getattr(ext, k) for k in ("recall", "weighted_recall", "target_precision",
                                                        "accuracy", "f1", "fmr")},
            "update": update}


def _rates(r: LabelRates) -> dict[str, Any]:
    out = {"n": r.n, "n_valid": r.n_valid, "correct": r.rate.get("Correct"),
           "hallucination": r.rate.get("Hallucination"), "omission": r.rate.get("Omission")}
    if "Other" in r.rate:
        out["other"] = r.rate["Other"]
    if r.by_group:
        out["by_type"] = {g: {"n": v.n, "correct": v.rate.get("Correct"), "hallucination": v.rate.get("Hallucination"),
                              "omission": v.rate.get("Omission")} for g, v in r.by_group.items()}
    return out
