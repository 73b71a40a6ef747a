"""LoCoMo's data: the schema of ``locomo10.json`` as frozen dataclasses (:class:`Conversation`,
:class:`Session`, :class:`Turn`, :class:`Question`), the official category names (and Mem0's,
for reading published tables only), the lenient evidence and date parsers, :func:`load_locomo`
(which tolerates the release's quirks listed in the package docstring and names the file, the
record and the field in any other error), the question selections (:func:`scored_questions`,
:func:`all_questions`, :func:`category_counts`) and :func:`locomo_stats`.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ...io import DataFileError, read_json
from ..provenance import DiaId, parse_dia_id

__all__ = [
    "CATEGORY_NAMES",
    "MEM0_CATEGORY_NAMES",
    "SCORED_CATEGORIES",
    "Turn",
    "Session",
    "Question",
    "Conversation",
    "load_locomo",
    "parse_evidence",
    "parse_locomo_datetime",
    "scored_questions",
    "all_questions",
    "category_counts",
    "locomo_stats",
]

#: Official category meaning (snap-research/LoCoMo ``task_eval/evaluation.py``;
#: docs/benchmark_protocols.md §1).
CATEGORY_NAMES: dict[int, str] = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}

#: The labels Mem0's paper printed for the same integers (mem0ai/mem0 issue #2609). Use only
#: to read tables copied from Mem0 and its followers; the workbook reports CATEGORY_NAMES.
MEM0_CATEGORY_NAMES: dict[int, str] = {
    1: "single-hop",
    2: "temporal",
    3: "multi-hop",
    4: "open-domain",
}

#: Categories scored by the Mem0 protocol (category 5, adversarial, is skipped).
SCORED_CATEGORIES: tuple[int, ...] = (1, 2, 3, 4)

_DATE_FORMAT = "%I:%M %p on %d %B, %Y"  # "1:56 pm on 8 May, 2023"
_SESSION_KEY = re.compile(r"session_(\d+)")
# Lenient: "D8:6", "D:11:26" (stray colon), "D 3:4"; several per string.
_LENIENT_DIA_ID = re.compile(r"D\s*:?\s*(\d+)\s*:\s*(\d+)")


def parse_evidence(raw: Sequence[str]) -> tuple[list[DiaId], list[str]]:
    """Parse a QA item's ``evidence`` list leniently.

    Returns ``(ids, unparsed)``: every ``D<s>:<t>`` found in any string, in order and without
    duplicates, and the strings from which no id could be read (``"D"``, ``""``, non-strings
    as their ``repr``). Never raises on content.

    >>> parse_evidence(["D8:6; D9:17", "D", "D:11:26"])
    ([DiaId(session=8, turn=6), DiaId(session=9, turn=17), DiaId(session=11, turn=26)], ['D'])
    """
    ids: list[DiaId] = []
    unparsed: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            unparsed.append(repr(item))
            continue
        found = [DiaId(int(a), int(b)) for a, b in _LENIENT_DIA_ID.findall(item)]
        if not found:
            unparsed.append(item)
        for d in found:
            if d not in ids:
                ids.append(d)
    return ids, unparsed


def parse_locomo_datetime(raw: str) -> datetime:
    """Parse LoCoMo's session time ``"1:56 pm on 8 May, 2023"`` (no time zone).

    Raises ``ValueError`` if the string has another form.
    """
    return datetime.strptime(raw.strip(), _DATE_FORMAT)


@dataclass(frozen=True)
class Turn:
    """One utterance. Image turns carry the BLIP caption of the shared photo (the image
    itself is not released)."""

    dia_id: DiaId
    speaker: str
    text: str
    image_caption: str | None = None  # "blip_caption"
    image_query: str | None = None  # "query": the search phrase used to find the photo
    image_urls: tuple[str, ...] = ()

    def render(self) -> str:
        """``text`` plus ``[shares a photo: <caption>]`` when the turn shared an image.

        The bracket form is this workbook's choice (the protocols do not fix one); use the
        same rendering for every system you compare.
        """
        if self.image_caption:
            return f"{self.text} [shares a photo: {self.image_caption}]"
        return self.text


@dataclass(frozen=True)
class Session:
    """One dated session. ``date`` is ISO ``YYYY-MM-DD``; ``date_time`` is the raw string."""

    index: int
    date_time: str
    date: str
    datetime: datetime
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Question:
    """One QA item. ``answer`` is a string (integers converted) or ``None`` (most
    category-5 items); ``evidence`` holds the parsed ids (see :func:`parse_evidence`)."""

    sample_id: str
    index: int  # position in the conversation's ``qa`` list
    question: str
    answer: str | None
    category: int
    evidence: tuple[DiaId, ...]
    evidence_raw: tuple[str, ...]
    evidence_unparsed: tuple[str, ...] = ()
    evidence_missing: tuple[DiaId, ...] = ()  # parsed ids that name no turn of the conversation
    adversarial_answer: str | None = None

    @property
    def qid(self) -> str:
        """Stable id ``"<sample_id>/q<index>"``."""
        return f"{self.sample_id}/q{self.index}"

    @property
    def category_name(self) -> str:
        return CATEGORY_NAMES[self.category]

    @property
    def is_scored(self) -> bool:
        """True for categories 1–4 (the 1,540 questions of the Mem0 protocol)."""
        return self.category in SCORED_CATEGORIES


@dataclass(frozen=True)
class Conversation:
    """One LoCoMo conversation: two speakers, dated sessions in order, QA items."""

    sample_id: str
    speaker_a: str
    speaker_b: str
    sessions: tuple[Session, ...]
    questions: tuple[Question, ...]
    session_summaries: Mapping[int, str] = field(default_factory=dict)  # model-made, not gold

    @property
    def speakers(self) -> tuple[str, str]:
        return (self.speaker_a, self.speaker_b)

    def iter_turns(self) -> Iterator[Turn]:
        for s in self.sessions:
            yield from s.turns

    @property
    def num_turns(self) -> int:
        return sum(len(s.turns) for s in self.sessions)

    def turn(self, dia_id: DiaId | str) -> Turn | None:
        """The turn with this id, or ``None``."""
        key = parse_dia_id(dia_id) if isinstance(dia_id, str) else DiaId(*dia_id)
        if key is None:
            return None
        for s in self.sessions:
            if s.index == key.session:
                for t in s.turns:
                    if t.dia_id == key:
                        return t
        return None


# --------------------------------------------------------------------------- loading


class _Ctx:
    """Builds error messages that name the file, the record and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, record: str, field_: str, problem: str) -> DataFileError:
        return DataFileError(
            f"{self.path}: {record}: field {field_!r}: {problem}. The file does not follow the "
            "LoCoMo schema (data/README.md); re-download it "
            "(deltamem_lib.benchmarks.download.fetch('locomo')) or fix that record."
        )


def _req(ctx: _Ctx, obj: Mapping[str, Any], key: str, types: type | tuple[type, ...], record: str,
         where: str = "") -> Any:
    name = f"{where}{key}"
    if key not in obj:
        raise ctx.fail(record, name, "missing")
    value = obj[key]
    if not isinstance(value, types) or isinstance(value, bool) and bool not in _as_tuple(types):
        tn = " or ".join(t.__name__ for t in _as_tuple(types))
        raise ctx.fail(record, name, f"expected {tn}, got {type(value).__name__} {value!r:.60}")
    return value


def _as_tuple(t: type | tuple[type, ...]) -> tuple[type, ...]:
    return t if isinstance(t, tuple) else (t,)


def _load_turn(ctx: _Ctx, raw: Any, record: str, where: str, session_index: int) -> Turn:
    if not isinstance(raw, Mapping):
        raise ctx.fail(record, where, f"expected a turn object, got {type(raw).__name__}")
    speaker = _req(ctx, raw, "speaker", str, record, f"{where}.")
    text = _req(ctx, raw, "text", str, record, f"{where}.")
    raw_id = _req(ctx, raw, "dia_id", str, record, f"{where}.")
    dia_id = parse_dia_id(raw_id)
    if dia_id is None:
        raise ctx.fail(record, f"{where}.dia_id", f"{raw_id!r} is not of the form 'D<session>:<turn>'")
    if dia_id.session != session_index:
        raise ctx.fail(record, f"{where}.dia_id",
                       f"{raw_id!r} names session {dia_id.session} but sits in session_{session_index}")
    caption = raw.get("blip_caption")
    query = raw.get("query")
    urls = raw.get("img_url") or []
    if isinstance(urls, str):
        urls = [urls]
    return Turn(
        dia_id=dia_id,
        speaker=speaker,
        text=text,
        image_caption=caption if isinstance(caption, str) and caption else None,
        image_query=query if isinstance(query, str) and query else None,
        image_urls=tuple(str(u) for u in urls) if isinstance(urls, list) else (),
    )


def _load_sessions(ctx: _Ctx, conv: Mapping[str, Any], record: str) -> tuple[Session, ...]:
    found: list[tuple[int, str]] = []
    for key in conv:
        m = _SESSION_KEY.fullmatch(key)
        if m:
            found.append((int(m[1]), key))
    sessions = []
    for n, key in sorted(found):
        turns_raw = conv[key]
        if not isinstance(turns_raw, list):
            raise ctx.fail(record, f"conversation.{key}",
                           f"expected a list of turns, got {type(turns_raw).__name__}")
        if not turns_raw:
            raise ctx.fail(record, f"conversation.{key}", "is empty (a session holds at least one turn)")
        dt_key = f"{key}_date_time"
        raw_dt = _req(ctx, conv, dt_key, str, record, "conversation.")
        try:
            when = parse_locomo_datetime(raw_dt)
        except ValueError:
            raise ctx.fail(record, f"conversation.{dt_key}",
                           f"{raw_dt!r} is not of the form '1:56 pm on 8 May, 2023'") from None
        turns = tuple(
            _load_turn(ctx, t, record, f"conversation.{key}[{i}]", n) for i, t in enumerate(turns_raw)
        )
        sessions.append(Session(index=n, date_time=raw_dt, date=when.date().isoformat(),
                                datetime=when, turns=turns))
    if not sessions:
        raise ctx.fail(record, "conversation", "holds no 'session_<n>' list of turns")
    return tuple(sessions)


def _load_question(ctx: _Ctx, raw: Any, record: str, sample_id: str, i: int,
                   known: set[DiaId]) -> Question:
    where = f"qa[{i}]"
    if not isinstance(raw, Mapping):
        raise ctx.fail(record, where, f"expected a QA object, got {type(raw).__name__}")
    question = _req(ctx, raw, "question", str, record, f"{where}.")
    cat = raw.get("category")
    if isinstance(cat, str) and cat.strip().isdigit():
        cat = int(cat)
    if not isinstance(cat, int) or isinstance(cat, bool) or cat not in CATEGORY_NAMES:
        raise ctx.fail(record, f"{where}.category",
                       f"expected an integer 1..5, got {cat!r}" if "category" in raw else "missing")
    answer = raw.get("answer")
    if answer is not None:
        if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
            raise ctx.fail(record, f"{where}.answer",
                           f"expected a string or a number, got {type(answer).__name__}")
        answer = str(answer)
    elif cat != 5:
        raise ctx.fail(record, f"{where}.answer", f"missing on a category-{cat} question")
    adv = raw.get("adversarial_answer")
    adv = str(adv) if adv is not None else None
    ev_raw = _req(ctx, raw, "evidence", list, record, f"{where}.")
    ids, unparsed = parse_evidence(ev_raw)
    return Question(
        sample_id=sample_id,
        index=i,
        question=question,
        answer=answer,
        category=cat,
        evidence=tuple(ids),
        evidence_raw=tuple(e if isinstance(e, str) else repr(e) for e in ev_raw),
        evidence_unparsed=tuple(unparsed),
        evidence_missing=tuple(d for d in ids if d not in known),
        adversarial_answer=adv,
    )


def load_locomo(path: str | os.PathLike[str]) -> list[Conversation]:
    """Load ``locomo10.json`` (or a file in the same schema) into :class:`Conversation` objects.

    Sessions come in numeric order; questions keep the file's order. Raises
    :class:`~deltamem_lib.io.DataFileError` naming file, record and field when the content
    does not follow the schema, ``FileNotFoundError`` when there is no file.
    """
    p = Path(path)
    ctx = _Ctx(p)
    data = read_json(p)
    if not isinstance(data, list):
        raise DataFileError(
            f"{p}: top level: expected a JSON array of conversations, got {type(data).__name__}; "
            "is this locomo10.json?"
        )
    if not data:
        raise DataFileError(f"{p}: top level: the array holds no conversations; is this the right file "
                            "(locomo10.json holds 10)?")
    out: list[Conversation] = []
    seen: set[str] = set()
    for k, rec in enumerate(data):
        record = f"record {k}"
        if not isinstance(rec, Mapping):
            raise ctx.fail(record, "(record)", f"expected an object, got {type(rec).__name__}")
        sample_id = _req(ctx, rec, "sample_id", str, record)
        record = f"record {k} (sample_id {sample_id!r})"
        if sample_id in seen:
            raise ctx.fail(record, "sample_id", "duplicate sample_id")
        seen.add(sample_id)
        conv = _req(ctx, rec, "conversation", Mapping, record)
        speaker_a = _req(ctx, conv, "speaker_a", str, record, "conversation.")
        speaker_b = _req(ctx, conv, "speaker_b", str, record, "conversation.")
        sessions = _load_sessions(ctx, conv, record)
        known: set[DiaId] = set()
        for s in sessions:
            for i, t in enumerate(s.turns):
                where = f"conversation.session_{s.index}[{i}]"
                if t.speaker not in (speaker_a, speaker_b):
                    raise ctx.fail(record, f"{where}.speaker",
                                   f"{t.speaker!r} is neither speaker_a {speaker_a!r} "
                                   f"nor speaker_b {speaker_b!r}")
                if t.dia_id in known:
                    raise ctx.fail(record, f"{where}.dia_id", f"duplicate dia_id {str(t.dia_id)!r}")
                known.add(t.dia_id)
        qa = _req(ctx, rec, "qa", list, record)
        questions = tuple(_load_question(ctx, q, record, sample_id, i, known) for i, q in enumerate(qa))
        summaries: dict[int, str] = {}
        raw_sum = rec.get("session_summary")
        if isinstance(raw_sum, Mapping):
            for key, val in raw_sum.items():
                m = re.fullmatch(r"session_(\d+)_summary", key)
                if m and isinstance(val, str):
                    summaries[int(m[1])] = val
        out.append(Conversation(sample_id=sample_id, speaker_a=speaker_a, speaker_b=speaker_b,
                                sessions=sessions, questions=questions, session_summaries=summaries))
    return out


# --------------------------------------------------------------------------- selections


def all_questions(conversations: Iterable[Conversation]) -> list[Question]:
    """Every QA item of every conversation, categories 1–5 (1,986 in locomo10.json)."""
    return [q for c in conversations for q in c.questions]


def scored_questions(conversations: Iterable[Conversation]) -> list[Question]:
    """The questions the Mem0 protocol scores: categories 1–4 (1,540 in locomo10.json)."""
    return [q for q in all_questions(conversations) if q.is_scored]


def category_counts(questions: Iterable[Question]) -> dict[int, int]:
    """Number of questions per category, keys in 1..5 order (absent categories omitted)."""
    c = Counter(q.category for q in questions)
    return {k: c[k] for k in sorted(c)}


def locomo_stats(conversations: Sequence[Conversation]) -> dict[str, Any]:
    """Counts for a data card: conversations, sessions, turns, questions, per category,
    scored questions, evidence quirks."""
    qs = all_questions(conversations)
    return {
        "conversations": len(conversations),
        "sessions": sum(len(c.sessions) for c in conversations),
        "turns": sum(c.num_turns for c in conversations),
        "questions": len(qs),
        "per_category": category_counts(qs),
        "scored": sum(q.is_scored for q in qs),
        "evidence_unparsed": sum(len(q.evidence_unparsed) for q in qs),
        "evidence_missing": sum(len(q.evidence_missing) for q in qs),
        "evidence_empty": sum(not q.evidence_raw for q in qs),
    }
