"""LoCoMo loader (Maharana et al., ACL 2024; the release ``data/locomo10.json``).

LoCoMo is the main QA benchmark of the DeltaMem paper's evaluation. The file is a JSON
array of 10 two-person conversations, each split into dated sessions, plus QA items whose
``category`` is an integer 1–5 (``docs/benchmark_protocols.md`` §1 "Data"). Following the
Mem0 protocol that DeltaMem reports (docs/benchmark_protocols.md §1 "Protocol used by memory-system
papers"), each conversation is fed session by session with its date, and the 1,540
questions of categories 1–4 are scored; category 5 (adversarial) is skipped.

Category names here are the **official** ones fixed by the snap evaluation code
(:data:`CATEGORY_NAMES`). Mem0's paper used another mapping (docs/benchmark_protocols.md §1 "Label trap");
:data:`MEM0_CATEGORY_NAMES` is kept only to translate published tables, never to label
our own results.

Quirks of the real file that this loader tolerates (``data/README.md``,
"Quirks a loader must tolerate"):

* conv-26 has ``session_20_date_time`` … ``session_35_date_time`` keys with no session:
  sessions are the ``session_<n>`` keys that hold lists, sorted by ``n`` as a number;
* a few ``answer`` values are integers (``2022``): converted to ``str``;
* most category-5 items have no ``answer`` (``Question.answer is None``), two have both
  ``answer`` and ``adversarial_answer``;
* malformed evidence ids (``"D8:6; D9:17"``, ``"D"``, ``"D:11:26"``, space-separated lists,
  ``"D30:05"``): every ``D<s>:<t>`` pattern in a string is parsed, the strings from which
  nothing could be parsed are kept in ``Question.evidence_unparsed``;
* evidence that points at a turn the conversation does not have: kept in
  ``Question.evidence`` and listed again in ``Question.evidence_missing``.

Anything else that is wrong (not a list, a conversation without ``conversation``, a turn
without ``text``, an unknown category, an unparseable date, …) raises
:class:`~deltamem_lib.io.DataFileError` naming the file, the record and the field.

Scoring (Mem0's protocol, which DeltaMem reports): :func:`locomo_f1` (token-set F1),
:func:`bleu1` (NLTK's BLEU-1 with a dependency-free Treebank tokenizer), the original
LoCoMo F1 (:func:`locomo_f1_official`) and :func:`per_category_table`. The judge J is in
:mod:`.judge`, evidence recall@k in :mod:`.provenance`.

**As episodes** (two named people talking, no assistant). The memory systems read
:class:`~deltamem_lib.episodes.Episode` objects: a user, dated sessions, turns spoken by
``"user"`` or ``"assistant"`` (DeltaMem §3.1: the manager updates a memory *about the user*
after every session). :func:`locomo_episodes` converts a conversation:

* *One memory per speaker*, as in the Mem0 protocol ("both speakers are users; Mem0 keeps one
  memory store per speaker"): each conversation becomes two episodes, ``"<sample_id>:<name>"``.
  In the episode of speaker A, A's turns are the ``"user"`` turns and B's turns play the
  ``"assistant"``; the system writes memories about A (B's turns are context). At question
  time the memories of both stores are retrieved (``k`` per speaker) and shown with the
  speaker's name (:func:`deltamem_lib.benchmarks.answering.locomo_answer_messages`).
* *Turn ids are the dia ids* (``"D3:7"``), so the provenance of a memory
  (``MemoryEntry.source``: session id and turn ids) maps directly to LoCoMo's evidence.
* *Dates*: each session's ``session_<n>_date_time`` becomes its ISO date, which the memory
  state stamps on everything the session writes (the answer prompt shows it).
* *Images*: a turn that shared a photo carries ``[shares a photo: <BLIP caption>]``
  (:meth:`Turn.render`).
* *Fewer sessions* (``max_sessions``): only the first ``n`` sessions are ingested, and only
  questions whose every evidence turn lies in them are asked (:func:`locomo_questions`).

:class:`LocomoObservations` turns the release's model-written ``observation`` facts into a
reference memory. :class:`LocomoProtocol` is this benchmark's part of a run
(:mod:`.protocol`, :mod:`.runner`).
"""

from __future__ import annotations

import math
import os
import re
import string
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..agent.result import SessionResult
from ..episodes import Episode
from ..episodes import Session as EpisodeSession
from ..episodes import Turn as EpisodeTurn
from ..io import DataFileError, read_json
from ..memory import MemoryState, Operation
from .answering import fit_to_context, full_context_messages, locomo_answer_messages
from .judge import aggregate_judge_runs, judge_locomo
from .protocol import BenchConfig, Plan, Protocol, Questions, Verdicts, sample, select
from .provenance import DiaId, entry_sources, evidence_recall_at_k, parse_dia_id

__all__ = [
    "CATEGORY_NAMES",
    "MEM0_CATEGORY_NAMES",
    "SCORED_CATEGORIES",
    "DiaId",
    "Turn",
    "Session",
    "Question",
    "Conversation",
    "load_locomo",
    "parse_dia_id",
    "parse_evidence",
    "parse_locomo_datetime",
    "scored_questions",
    "all_questions",
    "category_counts",
    "locomo_stats",
    "mem0_tokenize",
    "locomo_f1",
    "word_tokenize",
    "bleu1",
    "normalize_answer_locomo",
    "locomo_f1_official",
    "CategoryRow",
    "per_category_table",
    "format_category_table",
    "locomo_user_id",
    "locomo_session_id",
    "locomo_episodes",
    "evidence_sessions",
    "locomo_questions",
    "LocomoObservations",
    "LocomoProtocol",
]

#: Official category meaning (snap-research/LoCoMo ``task_eval/evaluation.py``; docs/benchmark_protocols.md §1).
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
                    raise ctx.fail(record, f"{where}.speaker", f"{t.speaker!r} is neither speaker_a {speaker_a!r} "
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


# =========================================================================== LoCoMo F1


def mem0_tokenize(text: Any) -> list[str]:
    """Mem0's ``simple_tokenize``: ``str``, lowercase, ``. , ! ?`` → space, whitespace split."""
    s = str(text).lower()
    for ch in ".,!?":
        s = s.replace(ch, " ")
    return s.split()


def locomo_f1(prediction: Any, reference: Any) -> float:
    """Mem0-flavour LoCoMo F1 over token **sets** (docs/benchmark_protocols.md §1, "F1 (Mem0 flavour)").

    As in ``mem0ai/mem0`` ``evaluation/metrics/utils.py`` ``calculate_metrics``: an empty (or
    ``None``) prediction or reference scores 0; otherwise ``P = |A∩B|/|A|``,
    ``R = |A∩B|/|B|``, ``F1 = 2PR/(P+R)`` with ``A``, ``B`` the sets of
    :func:`mem0_tokenize` tokens. Apostrophes, colons and hyphens stay inside tokens.

    >>> round(locomo_f1("7 May 2023", "May 7, 2023"), 3)
    1.0
    """
    p = "" if prediction is None else str(prediction)
    r = "" if reference is None else str(reference)
    if not p or not r:
        return 0.0
    a, b = set(mem0_tokenize(p.strip())), set(mem0_tokenize(r.strip()))
    if not a or not b:
        return 0.0
    common = len(a & b)
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


# ------------------------------------------------------------------ Treebank tokenizer
# Penn-Treebank rules as NLTK's ``NLTKWordTokenizer`` (nltk 3.9/3.10) applies them; nltk is
# Apache-2.0. Applied in this order: starting quotes, punctuation, brackets, double dashes,
# ending quotes and clitics, MacIntyre contractions.

_STARTING_QUOTES = [
    (re.compile(r"([«“‘„]|[`]+)"), r" \1 "),
    (re.compile(r'^"'), r"``"),
    (re.compile(r"(``)"), r" \1 "),
    (re.compile(r"([ \(\[{<])(\"|\'{2})"), r"\1 `` "),
    (re.compile(r"(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)"), r"\1 "),
]
_PUNCTUATION = [
    (re.compile(r"([^\.])(\.)([\]\)}>\"'»”’ ]*)\s*$"), r"\1 \2 \3 "),
    (re.compile(r"([:,])([^\d])"), r" \1 \2"),
    (re.compile(r"([:,])$"), r" \1 "),
    (re.compile(r"\.{2,}"), r" \g<0> "),
    (re.compile(r"[;@#$%&]"), r" \g<0> "),
    (re.compile(r"[\u2012-\u2015]"), r" \g<0> "),
    (re.compile(r"([^\.])(\.)([\]\)}>\"']*)\s*$"), r"\1 \2\3 "),
    (re.compile(r"[?!]"), r" \g<0> "),
    (re.compile(r"([^'])' "), r"\1 ' "),
    (re.compile(r"[*]"), r" \g<0> "),
]
_BRACKETS = (re.compile(r"[\]\[\(\)\{\}\<\>]"), r" \g<0> ")
_DOUBLE_DASH = (re.compile(r"--"), r" -- ")
_ENDING_QUOTES = [
    (re.compile(r"([»”’])"), r" \1 "),
    (re.compile(r"''"), " '' "),
    (re.compile(r'"'), " '' "),
    (re.compile(r"\s+"), " "),
    (re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 "),
    (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 "),
]
_CONTRACTIONS = [
    re.compile(p)
    for p in (
        r"(?i)\b(can)(not)\b", r"(?i)\b(d)('ye)\b", r"(?i)\b(gim)(me)\b", r"(?i)\b(gon)(na)\b",
        r"(?i)\b(got)(ta)\b", r"(?i)\b(lem)(me)\b", r"(?i)\b(more)('n)\b", r"(?i)\b(wan)(na)(?=\s)",
        r"(?i) ('t)(is)\b", r"(?i) ('t)(was)\b",
    )
]


def _treebank_tokenize(sentence: str) -> list[str]:
    text = sentence
    for rx, sub in _STARTING_QUOTES:
        text = rx.sub(sub, text)
    for rx, sub in _PUNCTUATION:
        text = rx.sub(sub, text)
    text = _BRACKETS[0].sub(_BRACKETS[1], text)
    text = _DOUBLE_DASH[0].sub(_DOUBLE_DASH[1], text)
    text = f" {text} "
    for rx, sub in _ENDING_QUOTES:
        text = rx.sub(sub, text)
    for rx in _CONTRACTIONS:
        text = rx.sub(r" \1 \2 ", text)
    return text.split()


# Sentence ends for :func:`word_tokenize`: a period, "?" or "!" (plus closing quotes or
# brackets) followed by white space.
_SENT_END = re.compile(r"(?<=[.!?])([\"')\]’”]*)\s+")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc e.g i.e inc ltd co no mt ft jan feb mar apr jun jul aug "
    "sep sept oct nov dec approx dept est fig gen gov lt col sgt capt".split()
)


def _split_sentences(text: str) -> list[str]:
    """Split at sentence-final punctuation followed by white space, except after
    abbreviations, single-letter initials ("j.") and dotted forms ("u.s.", "j.r.r.")."""
    out: list[str] = []
    start = 0
    for m in _SENT_END.finditer(text):
        end = m.end(1)
        chunk = text[start:end]
        last = chunk.split()[-1] if chunk.split() else ""
        word = last.rstrip("\"')]’”")
        if word.endswith("."):
            stem = word[:-1].lstrip("\"'([‘“").lower()
            if (len(stem) <= 1 or "." in stem or stem in _ABBREVIATIONS) and not word.endswith(".."):
                continue
        out.append(chunk)
        start = m.end()
    tail = text[start:]
    if tail.strip() or not out:
        out.append(tail)
    return out


def word_tokenize(text: str) -> list[str]:
    """Dependency-free equivalent of ``nltk.word_tokenize`` (sentence split, then the
    Treebank word rules per sentence).

    The word rules reproduce NLTK's ``NLTKWordTokenizer``. NLTK splits sentences with its
    trained Punkt model; here a rule does it (break after ``. ? !`` + white space, except
    after a known abbreviation, an initial or a dotted form). The two differ only in where
    a period *inside* a multi-sentence answer is split off, which moves BLEU-1 slightly
    for such answers. For exact parity pass ``tokenizer=nltk.word_tokenize`` to
    :func:`bleu1`.

    >>> word_tokenize("she's moving to the u.s. next year. can't wait!")
    ['she', "'s", 'moving', 'to', 'the', 'u.s.', 'next', 'year', '.', 'ca', "n't", 'wait', '!']
    """
    return [tok for sent in _split_sentences(text) for tok in _treebank_tokenize(sent)]


def bleu1(prediction: Any, reference: Any, *,
          tokenizer: Callable[[str], list[str]] | None = None) -> float:
    """BLEU-1 as the Mem0 protocol computes it (docs/benchmark_protocols.md §1, "BLEU-1").

    ``nltk.translate.bleu_score.sentence_bleu([ref], hyp, weights=(1, 0, 0, 0),
    smoothing_function=SmoothingFunction().method1)`` on ``word_tokenize`` of the lowercased
    strings reduces to ``BP · p1``: ``p1`` = clipped unigram matches / hypothesis length,
    ``BP = 1`` if the hypothesis is longer than the reference else ``exp(1 − r/c)``; 0 when
    nothing matches or the hypothesis is empty (method 1 only smooths the zero-weighted
    higher orders, which drop out).

    >>> round(bleu1("the cat sat", "the cat sat on the mat"), 4)  # p1 = 1, BP = e^(1-6/3)
    0.3679
    """
    tok = tokenizer or word_tokenize
    hyp = tok(("" if prediction is None else str(prediction)).lower())
    ref = tok(("" if reference is None else str(reference)).lower())
    if not hyp:
        return 0.0
    ref_counts = Counter(ref)
    matches = sum(min(n, ref_counts[w]) for w, n in Counter(hyp).items())
    if matches == 0:
        return 0.0
    c, r = len(hyp), len(ref)
    bp = 1.0 if c > r else math.exp(1 - r / c)
    return bp * matches / c


# ------------------------------------------------------------- original LoCoMo F1

_ARTICLES = re.compile(r"\b(a|an|the|and)\b")
_PUNCT = set(string.punctuation)


def normalize_answer_locomo(s: str) -> str:
    """The original LoCoMo normalisation (``task_eval/evaluation.py`` ``normalize_answer``):
    drop commas, lowercase, drop ASCII punctuation, drop ``a an the and``, squash blanks."""
    s = s.replace(",", "").lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _default_stemmer() -> Callable[[str], str]:
    try:
        from nltk.stem import PorterStemmer  # type: ignore[import-not-found]
    except ImportError:
        raise ImportError(
            "locomo_f1_official needs a Porter stemmer (the original LoCoMo F1 stems tokens): "
            "`pip install nltk`, or pass stemmer=<callable str -> str>. The Mem0-protocol F1 "
            "(locomo_f1) needs no stemmer."
        ) from None
    return PorterStemmer().stem


def _stemmed_f1(prediction: str, reference: str, stem: Callable[[str], str]) -> float:
    p = [stem(w) for w in normalize_answer_locomo(prediction).split()]
    g = [stem(w) for w in normalize_answer_locomo(reference).split()]
    same = sum((Counter(p) & Counter(g)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def locomo_f1_official(prediction: str, answer: str, category: int, *,
                       stemmer: Callable[[str], str] | None = None) -> float:
    """The original LoCoMo QA score (docs/benchmark_protocols.md §1, "Original LoCoMo protocol").

    * categories 2 and 4: Porter-stemmed multiset F1 of :func:`normalize_answer_locomo` tokens;
    * category 3: the same, against the gold text before the first ``;``;
    * category 1: prediction and gold split on ``,``; mean over gold parts of the best F1
      of any prediction part;
    * category 5: 1 if the output contains "no information available" or "not mentioned".

    ``stemmer`` defaults to NLTK's ``PorterStemmer().stem`` (nltk must be installed).
    """
    prediction = str(prediction)
    if category == 5:
        low = prediction.lower()
        return 1.0 if ("no information available" in low or "not mentioned" in low) else 0.0
    stem = stemmer or _default_stemmer()
    answer = str(answer)
    if category == 3:
        answer = answer.split(";")[0].strip()
    if category in (2, 3, 4):
        return _stemmed_f1(prediction, answer, stem)
    if category == 1:
        preds = [p.strip() for p in prediction.split(",")]
        golds = [g.strip() for g in answer.split(",")]
        return sum(max(_stemmed_f1(p, g, stem) for p in preds) for g in golds) / len(golds)
    raise ValueError(f"category {category!r}: LoCoMo categories are 1..5")


# =========================================================================== tables


@dataclass(frozen=True)
class CategoryRow:
    """One row of a per-category table: ``key`` is the category number or ``"overall"``."""

    key: int | str
    name: str
    n: int
    means: Mapping[str, float | None]


def per_category_table(categories: Sequence[int], scores: Mapping[str, Sequence[float | None]], *,
                       names: Mapping[int, str] = CATEGORY_NAMES,
                       order: Sequence[int] | None = None) -> list[CategoryRow]:
    """Mean of each metric per category, then an ``overall`` row (micro mean over all
    questions), as Mem0's ``generate_scores.py`` reports. ``None`` scores are left out of a
    mean. Names default to the **official** LoCoMo names (docs/benchmark_protocols.md §1, "Label trap").

    >>> rows = per_category_table([1, 1, 2], {"J": [1, 0, 1]})
    >>> [(r.key, r.n, r.means["J"]) for r in rows]
    [(1, 2, 0.5), (2, 1, 1.0), ('overall', 3, 0.6666666666666666)]
    """
    n = len(categories)
    for metric, vals in scores.items():
        if len(vals) != n:
            raise ValueError(f"metric {metric!r} has {len(vals)} scores for {n} questions")

    def mean(idx: Iterable[int], vals: Sequence[float | None]) -> float | None:
        xs = [float(vals[i]) for i in idx if vals[i] is not None]  # type: ignore[arg-type]
        return sum(xs) / len(xs) if xs else None

    by_cat: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(categories):
        by_cat[c].append(i)
    cats = list(order) if order is not None else sorted(by_cat)
    rows = [
        CategoryRow(c, names.get(c, str(c)), len(by_cat[c]),
                    {m: mean(by_cat[c], v) for m, v in scores.items()})
        for c in cats if c in by_cat
    ]
    rows.append(CategoryRow("overall", "overall", n, {m: mean(range(n), v) for m, v in scores.items()}))
    return rows


def format_category_table(rows: Sequence[CategoryRow], *, percent: bool = True, digits: int = 2) -> str:
    """A Markdown table of :func:`per_category_table` rows (metrics as columns)."""
    metrics = list(rows[0].means) if rows else []
    head = "| category | n | " + " | ".join(metrics) + " |"
    sep = "|---|---:|" + "---:|" * len(metrics)
    lines = [head, sep]
    for r in rows:
        label = f"{r.key} {r.name}" if isinstance(r.key, int) else r.name
        cells = []
        for m in metrics:
            v = r.means[m]
            cells.append("–" if v is None else f"{v * 100 if percent else v:.{digits}f}")
        lines.append(f"| {label} | {r.n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------ conversations as episodes
def locomo_user_id(sample_id: str, speaker: str) -> str:
    """The episode (memory store) of one speaker: ``"conv-26:Caroline"``."""
    return f"{sample_id}:{speaker}"


def locomo_session_id(sample_id: str, index: int) -> str:
    """``"conv-26:S3"`` for ``session_3`` (both speakers' episodes share session ids)."""
    return f"{sample_id}:S{index}"


def locomo_episodes(conversation: Conversation, *, speakers: str | Sequence[str] = "both",
                    max_sessions: int | None = None) -> list[Episode]:
    """The episodes of one LoCoMo conversation, one per speaker ("As episodes" in the module
    docstring).

    Args:
        conversation: a conversation of :func:`load_locomo`.
        speakers: ``"both"`` (the Mem0 protocol) or the names of the speakers to keep.
        max_sessions: ingest only the first ``n`` sessions (``None``: all).
    """
    names = list(conversation.speakers) if speakers == "both" else list(speakers)
    unknown = [n for n in names if n not in conversation.speakers]
    if unknown:
        raise ValueError(f"{conversation.sample_id}: no speaker {unknown}; the speakers are "
                         f"{', '.join(conversation.speakers)}")
    sessions = conversation.sessions if max_sessions is None else conversation.sessions[:max_sessions]
    out = []
    for name in names:
        converted = tuple(
            EpisodeSession(session_id=locomo_session_id(conversation.sample_id, s.index), date=s.date,
                           event={"kind": "locomo", "summary": f"session_{s.index} ({s.date_time})"},
                           turns=tuple(EpisodeTurn(str(t.dia_id), "user" if t.speaker == name else "assistant",
                                                   t.render()) for t in s.turns),
                           gold_ops=(), state_after=())
            for s in sessions)
        out.append(Episode(user_id=locomo_user_id(conversation.sample_id, name), persona={"name": name},
                           initial_memory=(), sessions=converted,
                           meta={"benchmark": "locomo", "sample_id": conversation.sample_id, "speaker": name}))
    return out


def evidence_sessions(question: Question) -> set[int]:
    """The session numbers of a question's evidence turns (missing turns included)."""
    return {d.session for d in question.evidence}


def locomo_questions(conversation: Conversation, *, max_sessions: int | None = None,
                     categories: Iterable[int] = SCORED_CATEGORIES) -> list[Question]:
    """The questions to ask after ingesting the first ``max_sessions`` sessions.

    All questions of ``categories`` (default 1–4, the Mem0 protocol's 1,540) when every session
    is ingested. With ``max_sessions``, only the questions whose evidence is non-empty and lies
    entirely in the ingested sessions: the rest could not be answered from them. (On the full
    conversation the 4 questions without evidence are kept, as the protocol does.)
    """
    cats = set(categories)
    qs = [q for q in conversation.questions if q.category in cats]
    if max_sessions is None or max_sessions >= len(conversation.sessions):
        return qs
    kept = {s.index for s in conversation.sessions[:max_sessions]}
    return [q for q in qs if q.evidence and not q.evidence_missing and evidence_sessions(q) <= kept]


class LocomoObservations:
    """A *reference* memory for LoCoMo, not a memory system of the paper: the release's
    ``observation`` field — facts per session and speaker, written by gpt-3.5-turbo when the
    dataset was made (``data/README.md``: "model-generated aids, not gold"), each with the dia
    id it came from. Ingesting them session by session gives a memory with **recorded**
    provenance and no model cost, which separates answering from memory writing: with it, a
    small answer model is scored on a memory of reasonable quality.

    Build with :meth:`from_file`; ``run`` follows the memory-system contract of
    :mod:`deltamem_lib.agent.systems`.
    """

    name = "observations"

    def __init__(self, facts: Mapping[tuple[str, int, str], Sequence[tuple[str, tuple[str, ...]]]]) -> None:
        self.facts = facts  # (sample_id, session index, speaker) -> [(fact, dia ids)]

    @classmethod
    def from_file(cls, path: Any) -> LocomoObservations:
        facts: dict[tuple[str, int, str], list[tuple[str, tuple[str, ...]]]] = {}
        for rec in read_json(path):
            for key, by_speaker in (rec.get("observation") or {}).items():
                m = re.fullmatch(r"session_(\d+)_observation", key)
                if not m or not isinstance(by_speaker, Mapping):
                    continue
                for speaker, items in by_speaker.items():
                    for item in items or []:
                        if not (isinstance(item, list) and item and isinstance(item[0], str)):
                            continue
                        raw = item[1] if len(item) > 1 else []
                        ids, _ = parse_evidence(raw if isinstance(raw, list) else [raw])
                        facts.setdefault((rec["sample_id"], int(m[1]), speaker), []).append(
                            (item[0], tuple(str(d) for d in ids)))
        return cls(facts)

    def run(self, examples: Sequence[Any], *, seed: int | None = None) -> list[Any]:
        out = []
        for ex in examples:
            sample_id, speaker = ex.user_id.rsplit(":", 1)
            index = int(ex.session_id.rsplit(":S", 1)[1])
            state = ex.state_before.copy()
            res = SessionResult(self.name, ex.user_id, ex.session_id, state)
            for fact, turns in self.facts.get((sample_id, index, speaker), []):
                applied = state.apply([Operation.add(fact)], timestamp=ex.date,
                                      source={"session_id": ex.session_id, "turns": list(turns)})
                res.operations.extend(applied.applied)
            res.state_after = state
            out.append(res)
        return out


# ----------------------------------------------------------------------------- protocol
class LocomoProtocol(Protocol):
    """LoCoMo the Mem0 way (``docs/benchmark_protocols.md`` §1), for the runner: every selected
    conversation ingested session by session, one memory per speaker; each scored question
    (categories 1–4) answered from the ``top_k`` memories of each speaker in at most 5–6 words;
    token F1 and BLEU-1, the judge's J (optional, mean ± std over runs) per official category,
    and evidence recall@k (:mod:`.provenance`)."""

    name = "locomo"
    full_context_gaps = {"evidence_recall": "full context retrieves no memories (nothing to take evidence from)",
                         "ingestion": "full context ingests nothing"}

    def prepare(self, cfg: BenchConfig) -> Plan:
        path = Path(cfg.data)
        convs = select(cfg, path, load_locomo(path), lambda c: c.sample_id, "conversation")
        max_s = cfg.max_sessions or None
        episodes, speakers = [], {}
        for c in convs:
            eps = locomo_episodes(c, speakers=cfg.speakers, max_sessions=max_s)
            episodes += eps
            speakers[c.sample_id] = [ep.meta["speaker"] for ep in eps]
        questions = sample([(c, q) for c in convs for q in locomo_questions(c, max_sessions=max_s)],
                           cfg.limit, cfg.seed)
        data = {"conversations": [c.sample_id for c in convs],
                "sessions": {c.sample_id: len(c.sessions if max_s is None else c.sessions[:max_s]) for c in convs},
                "speakers": speakers, "questions": len(questions),
                "selection": "categories 1-4"
                             + (f"; first {max_s} sessions, questions whose evidence lies in them" if max_s else "")
                             + (f"; seeded sample of {cfg.limit}" if cfg.limit else ""),
                "category_counts": dict(sorted(Counter(q.category for _, q in questions).items()))}
        return Plan(episodes, data, {"conversations": convs, "questions": questions, "speakers": speakers})

    def ask(self, cfg: BenchConfig, plan: Plan, states: Mapping[str, Sequence[MemoryState]], answer_model: Any,
            retriever: Any) -> Questions:
        questions = plan.items["questions"]
        if cfg.full_context:
            prompts, records = _full_context_prompts(plan.items["conversations"], questions, answer_model, cfg)
        else:
            prompts, records = _memory_prompts(states, plan.episodes, questions, plan.items["speakers"],
                                               retriever, cfg)
        return Questions([q.qid for _, q in questions], prompts, records)

    def score(self, cfg: BenchConfig, plan: Plan, asked: Questions, answers: Mapping[str, Mapping[str, Any]],
              judge: Any, work: Path, not_computed: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                                             dict[str, Any] | None]:
        questions = plan.items["questions"]
        records = asked.records
        for (_, q), rec in zip(questions, records):
            a = answers[q.qid]["answer"]
            rec.update(qid=q.qid, category=q.category, question=q.question, gold=q.answer, answer=a,
                       evidence=[str(d) for d in q.evidence], f1=round(locomo_f1(a, q.answer), 6),
                       bleu1=round(bleu1(a, q.answer), 6))
        j_summary, judge_cost = _judge_records(records, judge, cfg, work, not_computed)
        metrics = _metrics(records, questions, j_summary, cfg, plan.items["speakers"])
        return metrics, records, judge_cost


def _full_context_prompts(convs: Sequence[Conversation], questions: Sequence[tuple[Conversation, Question]],
                          amodel: Any, cfg: BenchConfig) -> tuple[list[Any], list[dict[str, Any]]]:
    """Answer prompts holding as many of the latest sessions as fit the answer model's context."""
    max_s = cfg.max_sessions or None
    history = {}
    for c in convs:
        sess = c.sessions if max_s is None else c.sessions[:max_s]
        texts = [f"Session of {s.date_time} ({s.date}):\n"
                 + "\n".join(f"[{t.dia_id}] {t.speaker}: {t.render()}" for t in s.turns) for s in sess]
        text, kept = fit_to_context(texts, amodel, cfg.context_tokens)
        history[c.sample_id] = (text, kept, len(texts))
    prompts, records = [], []
    for c, q in questions:
        text, kept, total = history[c.sample_id]
        prompts.append(full_context_messages(q.question, text))
        records.append({"sessions_in_context": kept, "sessions_total": total})
    return prompts, records


def _memory_prompts(states: Mapping[str, Sequence[MemoryState]], episodes: Sequence[Episode],
                    questions: Sequence[tuple[Conversation, Question]], speakers: Mapping[str, Sequence[str]],
                    retriever: Any, cfg: BenchConfig) -> tuple[list[Any], list[dict[str, Any]]]:
    """Answer prompts from each speaker's final memory: the ``top_k`` retrieved entries, with
    the ranked ids and sources recorded for evidence recall."""
    session_turns = {s.session_id: s.turns for ep in episodes for s in ep.sessions}
    final = {uid: (ss[-1] if ss else MemoryState()) for uid, ss in states.items()}
    prompts, records = [], []
    for c, q in questions:
        blocks, ranked = [], {}
        for name in speakers[c.sample_id]:
            hits = [e for e, _ in retriever.search(q.question, final[locomo_user_id(c.sample_id, name)].entries,
                                                   cfg.top_k)]
            blocks.append((name, hits))
            ranked[name] = []
            for e in hits:
                sid, turns, how = entry_sources(e, session_turns)
                ranked[name].append([e.id, sid, list(turns), how])
        prompts.append(locomo_answer_messages(q.question, blocks))
        records.append({"retrieved": ranked})
    return prompts, records


def _judge_records(records: list[dict[str, Any]], judge: Any, cfg: BenchConfig, work: Path,
                   not_computed: dict[str, str]) -> tuple[Any, dict[str, Any] | None]:
    """J over ``cfg.judge_runs`` runs, journaled per question and run; adds ``j`` and ``j_runs``
    to each record. Returns the summary over runs and the judge's cost."""
    if judge is None:
        not_computed["J"] = "no judge model given (--judge-model); J (LLM-judge accuracy) needs one"
        return None, None
    verdicts = Verdicts(judge, work)

    def score(rec: Mapping[str, Any]) -> int | None:
        return None if rec.get("label") is None else int(rec["label"] == "CORRECT")

    def judged(run: int) -> Callable[[list[int]], Iterable[dict[str, Any]]]:
        def missing(todo: list[int]) -> Iterable[dict[str, Any]]:
            out = judge_locomo(judge, [(records[i]["question"], records[i]["gold"], records[i]["answer"])
                                       for i in todo], run=run, batch_size=cfg.batch_size, seed=cfg.seed)
            return ({"label": v.label, "note": v.note, "raw": v.raw, **c} for v, c in out)
        return missing

    runs = [[score(v) for v in verdicts.get([f"{r['qid']}#{run}" for r in records], judged(run))]
            for run in range(cfg.judge_runs)]
    j_summary = None
    if records:
        j_summary = aggregate_judge_runs(runs)
        for r, m, *per in zip(records, j_summary.question_means, *runs):
            r["j"] = m
            r["j_runs"] = list(per)
    return j_summary, verdicts.cost()


def _mean(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def _metrics(records: Sequence[dict[str, Any]], questions: Sequence[tuple[Conversation, Question]], j_summary: Any,
             cfg: BenchConfig, speakers: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    cats = [r["category"] for r in records]
    scores: dict[str, list[float | None]] = {"F1": [r["f1"] for r in records],
                                             "BLEU-1": [r["bleu1"] for r in records]}
    if j_summary is not None:
        scores["J"] = [r["j"] for r in records]
    table = per_category_table(cats, scores, names=CATEGORY_NAMES) if records else []
    recall = None
    if not cfg.full_context and records:
        recall = _evidence_recall(records, questions, cfg, speakers)
    return {
        "questions": len(records),
        "f1": _mean([r["f1"] for r in records]),
        "bleu1": _mean([r["bleu1"] for r in records]),
        "j": None if j_summary is None else {"mean": j_summary.mean, "std": j_summary.std,
                                             "per_run": list(j_summary.per_run), "runs": j_summary.n_runs,
                                             "invalid_verdicts": j_summary.n_invalid,
                                             "invalid_policy": j_summary.invalid_policy},
        "per_category": [{"category": r.key, "name": r.name, "n": r.n, **r.means} for r in table],
        "evidence_recall": recall,
    }


def _evidence_recall(records: Sequence[dict[str, Any]], questions: Sequence[tuple[Conversation, Question]],
                     cfg: BenchConfig, speakers: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Evidence recall@k, turn level and session level, with how the turn sources were obtained."""
    how: Counter[str] = Counter()
    turn_out, sess_out = {}, {}
    for k in cfg.recall_ks:
        turn_src, sess_src, ev_turn, ev_sess = [], [], [], []
        for (c, q), r in zip(questions, records):
            turns, sessions = [], []
            for name in speakers[c.sample_id]:
                for _mid, sid, tids, h in r["retrieved"][name][:k]:
                    turns.append(tids)
                    sessions.append([sid.rsplit(":", 1)[-1]] if sid else [])
                    if k == max(cfg.recall_ks):
                        how[h] += 1
            turn_src.append([[t for ts in turns for t in ts]])
            sess_src.append([[s for ss in sessions for s in ss]])
            ev_turn.append([str(d) for d in q.evidence])
            ev_sess.append(sorted({f"S{d.session}" for d in q.evidence}))
        for out, ev, src in ((turn_out, ev_turn, turn_src), (sess_out, ev_sess, sess_src)):
            res = evidence_recall_at_k(ev, src, None)
            out[str(k)] = {"all": res.all, "any": res.any, "fraction": res.fraction, "n": res.n,
                           "without_evidence": res.n_without_evidence}
    return {"k_per_speaker": list(cfg.recall_ks), "turn": turn_out, "session": sess_out,
            "turn_sources": dict(how),
            "note": ("turn level: a memory's recorded source turns, else the turns of its session that share the most "
                     "content words with it ('attributed'); session level: the session that wrote the memory (exact)")}
