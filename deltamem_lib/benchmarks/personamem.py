"""PersonaMem loader and MCQ scoring (Jiang et al., "Know Me, Respond to Me", arXiv 2504.14225).

DeltaMem reports PersonaMem as 4-option multiple choice accuracy, overall and per question
type (``docs/benchmark_protocols.md`` §3 "Protocol and metric"). A split is two files:

* ``questions_<split>.csv`` — one row per question (UTF-8, CRLF record ends, header row);
  ``all_options`` is a *Python-literal* list of four strings ``"(a) …"`` … ``"(d) …"``
  (quoting mixes ``'`` and ``"``, so it is read with :func:`ast.literal_eval`, never
  ``json``); ``correct_answer`` is ``"(c)"``-style;
* ``shared_contexts_<split>.jsonl`` — one JSON object per line,
  ``{"<shared_context_id>": [{"role", "content"}, …]}``; the first message is a system
  message with the persona description.

A question may see only ``messages[:end_index_in_shared_context]`` of its context
(:func:`visible_context`): later questions of the same context see longer prefixes, so a
memory system must be queried at the right point of ingestion.

Answer extraction: :func:`official_extract_options` / :func:`official_is_correct` reproduce
the official ``extract_answer`` of ``inference_standalone_openai.py`` (options in parentheses,
else bare letters; correct iff the set found equals ``{gold}``), which the published numbers
use. :func:`parse_option_letter` is a stricter parser for our own runs that also reads
``"C) …"`` and ``"c"`` and returns ``None`` when the answer is ambiguous.

Scoring: :func:`mcq_accuracy`, 4-option accuracy overall and per question type.

**As episodes**: one long user–chatbot history per shared context, questions pointing into it
at ``end_index_in_shared_context``. :func:`personamem_context` cuts the history into
pseudo-sessions at every question's end index (and every ``block`` messages), so that a
question is answered from the memory as it stood after exactly the messages it may see. The
first, persona system message is **not** ingested by default (it states the persona outright
— the leak ``docs/benchmark_protocols.md`` §3 warns about); ``include_persona=True`` ingests it
as a first user turn. PersonaMem has no dates: sessions carry an empty date.
:class:`PersonaMemProtocol` is this benchmark's part of a run (:mod:`.protocol`, :mod:`.runner`).
"""

from __future__ import annotations

import ast
import csv
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..episodes import Episode, Session, Turn
from ..io import DataFileError, check_input_file, iter_jsonl
from ..memory import MemoryState
from .answering import fit_to_context, mcq_messages
from .protocol import BenchConfig, Plan, Protocol, Questions, sample

__all__ = [
    "QUESTION_TYPES",
    "REQUIRED_COLUMNS",
    "PersonaMemQuestion",
    "load_personamem_questions",
    "load_shared_contexts",
    "visible_context",
    "parse_option_letter",
    "official_extract_options",
    "official_is_correct",
    "score_personamem",
    "personamem_stats",
    "GroupAccuracy",
    "AccuracyReport",
    "mcq_accuracy",
    "PersonaMemContext",
    "personamem_context",
    "contexts_path",
    "PersonaMemProtocol",
]

#: ``question_type`` strings of the 32k release with the paper skill each names
#: (docs/benchmark_protocols.md §3; the 17 ``recalling_facts_mentioned_by_the_user`` items are a legacy label).
QUESTION_TYPES: dict[str, str] = {
    "recall_user_shared_facts": "Recall user-shared facts",
    "recalling_facts_mentioned_by_the_user": "Recall facts mentioned by the user (legacy label)",
    "suggest_new_ideas": "Suggest new ideas",
    "track_full_preference_evolution": "Track full preference evolution",
    "recalling_the_reasons_behind_previous_updates": "Revisit reasons behind preference updates",
    "provide_preference_aligned_recommendations": "Provide preference-aligned recommendations",
    "generalizing_to_new_scenarios": "Generalize to new scenarios",
}

_INT_COLUMNS = (
    "persona_id",
    "context_length_in_tokens",
    "context_length_in_letters",
    "distance_to_ref_in_blocks",
    "distance_to_ref_in_tokens",
    "num_irrelevant_tokens",
    "end_index_in_shared_context",
)
_STR_COLUMNS = (
    "question_id",
    "question_type",
    "topic",
    "user_question_or_message",
    "correct_answer",
    "all_options",
    "shared_context_id",
)
#: Columns every question file must have (extra columns are kept in ``extra``).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "persona_id", "question_id", "question_type", "topic", "context_length_in_tokens",
    "context_length_in_letters", "distance_to_ref_in_blocks", "distance_to_ref_in_tokens",
    "num_irrelevant_tokens", "distance_to_ref_proportion_in_context", "user_question_or_message",
    "correct_answer", "all_options", "shared_context_id", "end_index_in_shared_context",
)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class PersonaMemQuestion:
    """One row of ``questions_<split>.csv`` with typed fields."""

    persona_id: int
    question_id: str
    question_type: str
    topic: str
    context_length_in_tokens: int
    context_length_in_letters: int
    distance_to_ref_in_blocks: int
    distance_to_ref_in_tokens: int
    num_irrelevant_tokens: int
    distance_to_ref_proportion_in_context: float  # "92.67%" -> 0.9267
    user_question_or_message: str
    correct_answer: str  # as in the file, "(c)"
    all_options: tuple[str, ...]  # parsed: ("(a) ...", "(b) ...", ...)
    all_options_raw: str  # the literal text, which the official prompt pastes as is
    shared_context_id: str
    end_index_in_shared_context: int
    line: int = 0  # physical line of the CSV (header = 1)
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def gold_letter(self) -> str:
        """``"(c)"`` -> ``"c"``."""
        return self.correct_answer.strip().strip("()").strip().lower()

    @property
    def options_text(self) -> str:
        """The options one per line (for prompts of our own; the official prompt uses
        :attr:`all_options_raw`)."""
        return "\n".join(self.all_options)


class _RowError(Exception):
    def __init__(self, field_: str, problem: str) -> None:
        super().__init__(field_, problem)
        self.field = field_
        self.problem = problem


def _parse_row(row: Mapping[str, str], line: int, extra_cols: Sequence[str]) -> PersonaMemQuestion:
    def text(col: str) -> str:
        v = row.get(col)
        if v is None:
            raise _RowError(col, "missing (the row has fewer cells than the header)")
        return v

    ints: dict[str, int] = {}
    for col in _INT_COLUMNS:
        raw = text(col).strip()
        try:
            ints[col] = int(raw)
        except ValueError:
            raise _RowError(col, f"expected an integer, got {raw!r}") from None
    strs = {col: text(col) for col in _STR_COLUMNS}
    for col in ("question_id", "question_type", "shared_context_id", "correct_answer"):
        if not strs[col].strip():
            raise _RowError(col, "empty")
    prop_raw = text("distance_to_ref_proportion_in_context").strip()
    try:
        prop = float(prop_raw[:-1]) / 100 if prop_raw.endswith("%") else float(prop_raw)
    except ValueError:
        raise _RowError("distance_to_ref_proportion_in_context",
                        f"expected a percentage like '92.67%', got {prop_raw!r}") from None
    if not (math.isfinite(prop) and 0.0 <= prop <= 1.0):
        raise _RowError("distance_to_ref_proportion_in_context",
                        f"expected a proportion between 0% and 100%, got {prop_raw!r}")
    try:
        options = ast.literal_eval(strs["all_options"])
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise _RowError("all_options", "not a Python-literal list of strings "
                        f"(starts {strs['all_options'][:40]!r})") from None
    if not isinstance(options, (list, tuple)) or not options or not all(isinstance(o, str) for o in options):
        raise _RowError("all_options", f"expected a non-empty list of strings, got {type(options).__name__}")
    gold = strs["correct_answer"].strip().strip("()").strip().lower()
    if len(gold) != 1 or gold not in _LETTERS[: len(options)]:
        raise _RowError("correct_answer", f"{strs['correct_answer']!r} names none of the "
                        f"{len(options)} options (a)..({_LETTERS[len(options) - 1]})")
    if ints["end_index_in_shared_context"] < 0:
        raise _RowError("end_index_in_shared_context", "negative")
    return PersonaMemQuestion(
        persona_id=ints["persona_id"],
        question_id=strs["question_id"].strip(),
        question_type=strs["question_type"].strip(),
        topic=strs["topic"].strip(),
        context_length_in_tokens=ints["context_length_in_tokens"],
        context_length_in_letters=ints["context_length_in_letters"],
        distance_to_ref_in_blocks=ints["distance_to_ref_in_blocks"],
        distance_to_ref_in_tokens=ints["distance_to_ref_in_tokens"],
        num_irrelevant_tokens=ints["num_irrelevant_tokens"],
        distance_to_ref_proportion_in_context=prop,
        user_question_or_message=strs["user_question_or_message"],
        correct_answer=strs["correct_answer"].strip(),
        all_options=tuple(options),
        all_options_raw=strs["all_options"],
        shared_context_id=strs["shared_context_id"].strip(),
        end_index_in_shared_context=ints["end_index_in_shared_context"],
        line=line,
        extra={c: row.get(c) or "" for c in extra_cols},
    )


def load_personamem_questions(path: str | os.PathLike[str]) -> list[PersonaMemQuestion]:
    """Load ``questions_<split>.csv`` (CRLF or LF record ends) into typed questions.

    Raises :class:`~deltamem_lib.io.DataFileError` naming the file, the line, the row
    (``question_id`` when known) and the column when a row cannot be read.
    """
    p = check_input_file(path)
    try:
        fh = p.open(encoding="utf-8", newline="")
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: no such file") from None
    out: list[PersonaMemQuestion] = []
    seen: dict[str, int] = {}
    with fh:
        reader = csv.DictReader(fh)
        try:
            header = reader.fieldnames
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataFileError(f"{p}: line 1: cannot read the header ({exc})") from None
        if not header:
            raise DataFileError(f"{p}: empty file; expected a header row with {', '.join(REQUIRED_COLUMNS)}")
        header = [h.strip() for h in header]
        reader.fieldnames = header
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise DataFileError(
                f"{p}: line 1 (header): missing column(s) {', '.join(missing)}; is this a PersonaMem "
                "questions_<split>.csv of the released benchmark (development-era CSVs of the GitHub "
                "repo have another column set)?"
            )
        extra_cols = [c for c in header if c not in REQUIRED_COLUMNS]
        row_no = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                raise DataFileError(f"{p}: line {reader.line_num + 1}: unreadable CSV ({exc})") from None
            row_no += 1
            line = reader.line_num
            qid = (row.get("question_id") or "").strip()
            if None in row:
                raise DataFileError(f"{p}: line {line} (row {row_no}, question_id {qid!r}): more cells "
                                    f"than the {len(header)} header columns")
            try:
                q = _parse_row(row, line, extra_cols)
            except _RowError as e:
                raise DataFileError(
                    f"{p}: line {line} (row {row_no}, question_id {qid!r}): field {e.field!r}: {e.problem}. "
                    "Re-download the file (deltamem_lib.benchmarks.download.fetch('personamem-32k')) "
                    "or fix that row."
                ) from None
            if q.question_id in seen:
                raise DataFileError(f"{p}: line {line} (row {row_no}): field 'question_id': "
                                    f"{q.question_id!r} already used on line {seen[q.question_id]}")
            seen[q.question_id] = line
            out.append(q)
    return out


def load_shared_contexts(path: str | os.PathLike[str]) -> dict[str, list[dict[str, str]]]:
    """Load ``shared_contexts_<split>.jsonl`` into ``{shared_context_id: messages}``.

    Each line must be an object with exactly one key whose value is a list of
    ``{"role": "system"|"user"|"assistant", "content": str}``. Errors name file, line and
    field.
    """
    p = Path(path)
    out: dict[str, list[dict[str, str]]] = {}
    first_line: dict[str, int] = {}
    for line, obj in iter_jsonl(p):
        if not isinstance(obj, dict) or len(obj) != 1:
            n = len(obj) if isinstance(obj, dict) else type(obj).__name__
            raise DataFileError(f"{p}: line {line}: expected an object with exactly one key "
                                f"(the shared_context_id), got {n}")
        (cid, messages), = obj.items()
        if cid in out:
            raise DataFileError(f"{p}: line {line}: context {cid!r} already defined on line {first_line[cid]}")
        if not isinstance(messages, list):
            raise DataFileError(f"{p}: line {line}: context {cid!r}: expected a list of messages, "
                                f"got {type(messages).__name__}")
        clean: list[dict[str, str]] = []
        for i, m in enumerate(messages):
            where = f"{p}: line {line}: context {cid!r}: message {i}"
            if not isinstance(m, dict):
                raise DataFileError(f"{where}: expected an object, got {type(m).__name__}")
            role, content = m.get("role"), m.get("content")
            if role not in _ROLES:
                raise DataFileError(f"{where}: field 'role': expected one of {', '.join(_ROLES)}, got {role!r}")
            if not isinstance(content, str):
                raise DataFileError(f"{where}: field 'content': expected a string, got {type(content).__name__}")
            clean.append({"role": role, "content": content})
        out[cid] = clean
        first_line[cid] = line
    return out


def visible_context(question: PersonaMemQuestion,
                    contexts: Mapping[str, Sequence[Mapping[str, str]]]) -> list[dict[str, str]]:
    """The messages a question may see: ``contexts[id][:end_index_in_shared_context]``.

    Raises ``KeyError`` when the context is absent and ``ValueError`` when the context is
    shorter than ``end_index`` (both mean the question and context files are of different
    splits or releases).
    """
    cid = question.shared_context_id
    if cid not in contexts:
        raise KeyError(f"question {question.question_id}: shared_context_id {cid[:16]}… is not in the "
                       "contexts file; load the shared_contexts file of the same split as the questions")
    messages = contexts[cid]
    if question.end_index_in_shared_context > len(messages):
        raise ValueError(
            f"question {question.question_id}: end_index_in_shared_context = "
            f"{question.end_index_in_shared_context} but context {cid[:16]}… has {len(messages)} messages; "
            "the question and context files are of different splits or releases"
        )
    return [dict(m) for m in messages[: question.end_index_in_shared_context]]


# --------------------------------------------------------------------------- answers

_FINAL = "<final_answer>"
_PAREN = re.compile(r"\(\s*([a-z])\s*\)")
# "Answer: c", "option C because" (an explicit prefix: the letter only needs a word boundary)
_PREFIXED = re.compile(r"^\W*(?:final\s+answer|answer|option)\s*(?:is)?\s*[:\-]?\s*\(?([a-z])\b", re.IGNORECASE)
# "c", "C) ...", "c. ...", "[c]" (no prefix: the letter must be closed, since "A good idea" starts with "A")
_LEADING = re.compile(r"^\W*?\[?\(?([a-z])\s*(?:[).:\]]|$)", re.IGNORECASE)


def _after_final_marker(text: str) -> str:
    t = text.strip()
    if _FINAL in t:
        t = t.split(_FINAL)[-1].strip()
    if t.endswith("</final_answer>"):
        t = t[: -len("</final_answer>")].strip()
    return t


def parse_option_letter(response: str | None, n_options: int = 4) -> str | None:
    """The option letter a model chose, or ``None`` when it cannot be told.

    Reads, in order, the text after a ``<final_answer>`` token if there is one:

    1. options in parentheses — ``"(c)"``, ``"I pick (C) because …"`` — accepted when exactly
       one distinct letter is in parentheses;
    2. a leading letter — ``"c"``, ``"C) …"``, ``"c. …"``, ``"Answer: c"``.

    Letters beyond ``n_options`` are ignored. This is our own, stricter parser; use
    :func:`official_is_correct` to reproduce the published protocol.

    >>> parse_option_letter("C) Since you like jazz …"), parse_option_letter("(a) or (b)")
    ('c', None)
    """
    if not response:
        return None
    allowed = _LETTERS[:n_options]
    text = _after_final_marker(response)
    for candidate in (text, response.strip()) if text != response.strip() else (text,):
        in_parens = {m.lower() for m in _PAREN.findall(candidate.lower()) if m.lower() in allowed}
        if len(in_parens) == 1:
            return in_parens.pop()
        if len(in_parens) > 1:
            return None
        for pattern in (_PREFIXED, _LEADING):
            m = pattern.match(candidate)
            if m and m[1].lower() in allowed:
                return m[1].lower()
    return None


def official_extract_options(text: str) -> set[str]:
    """The official option extraction (PersonaMem ``extract_answer._extract_only_options``):
    lowercase; letters a–d in parentheses if any, else every bare letter a–d standing alone
    as a word (so the article "a" counts as an option)."""
    low = text.lower()
    in_parens = re.findall(r"\(([a-d])\)", low)
    if in_parens:
        return set(in_parens)
    return set(re.findall(r"\b([a-d])\b", low))


def official_is_correct(response: str, correct_answer: str) -> bool:
    """Official scoring of one response: take the text after ``<final_answer>``, extract
    options with :func:`official_extract_options`; correct iff the set is exactly
    ``{gold}``; otherwise try the same on the full response."""
    gold = correct_answer.lower().strip("() ")
    if official_extract_options(_after_final_marker(response)) == {gold}:
        return True
    return official_extract_options(response) == {gold}


def score_personamem(questions: Sequence[PersonaMemQuestion],
                     responses: Mapping[str, str | None], *, official: bool = True) -> AccuracyReport:
    """Accuracy overall and per ``question_type`` from raw model responses keyed by
    ``question_id``.

    ``official=True`` scores with :func:`official_is_correct` (the published protocol);
    ``official=False`` with :func:`parse_option_letter`. A question without a response
    counts as wrong and is reported in ``n_missing``.
    """
    golds, preds, groups = [], [], []
    for q in questions:
        r = responses.get(q.question_id)
        golds.append(q.gold_letter)
        groups.append(q.question_type)
        if r is None:
            preds.append(None)
        elif official:
            preds.append(q.gold_letter if official_is_correct(r, q.correct_answer) else "?")
        else:
            preds.append(parse_option_letter(r, len(q.all_options)))
    report = mcq_accuracy(golds, preds, groups)
    missing = sum(q.question_id not in responses or responses[q.question_id] is None for q in questions)
    return AccuracyReport(report.accuracy, report.n, report.n_correct, report.n_unparsed,
                          report.per_group, n_missing=missing)


def personamem_stats(questions: Sequence[PersonaMemQuestion]) -> dict[str, Any]:
    """Counts for a data card: questions, personas, contexts, per type, per topic, gold letters."""
    return {
        "questions": len(questions),
        "personas": len({q.persona_id for q in questions}),
        "shared_contexts": len({q.shared_context_id for q in questions}),
        "per_type": dict(Counter(q.question_type for q in questions).most_common()),
        "per_topic": dict(Counter(q.topic for q in questions).most_common()),
        "gold_letters": dict(sorted(Counter(q.gold_letter for q in questions).items())),
        "max_end_index": max((q.end_index_in_shared_context for q in questions), default=0),
    }


# =========================================================================== scoring
def _div(a: float, b: float) -> float | None:
    return a / b if b else None




@dataclass(frozen=True)
class GroupAccuracy:
    accuracy: float | None
    n: int
    n_correct: int


@dataclass(frozen=True)
class AccuracyReport:
    """Multiple-choice accuracy overall and per group (PersonaMem question type).
    ``n_unparsed`` counts predictions that were ``None`` (scored wrong); ``n_missing`` is
    set by callers that know which questions had no response at all."""

    accuracy: float | None
    n: int
    n_correct: int
    n_unparsed: int
    per_group: Mapping[str, GroupAccuracy] = field(default_factory=dict)
    n_missing: int = 0


def _letter(x: Any) -> str | None:
    if x is None:
        return None
    s = str(x).strip().strip("()").strip().lower()
    return s or None


def mcq_accuracy(gold: Sequence[str], predicted: Sequence[str | None],
                 groups: Sequence[str] | None = None) -> AccuracyReport:
    """Share of questions whose predicted option equals the gold option (docs/benchmark_protocols.md §3:
    4-option accuracy, chance 25%), overall and per group. Letters compare after removing
    parentheses and case (``"(c)"`` == ``"C"``); a ``None`` prediction is wrong.

    >>> mcq_accuracy(["(a)", "(b)"], ["a", None]).accuracy
    0.5
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold answers but {len(predicted)} predictions")
    if groups is not None and len(groups) != len(gold):
        raise ValueError(f"{len(gold)} gold answers but {len(groups)} group labels")
    ok = [_letter(p) is not None and _letter(p) == _letter(g) for g, p in zip(gold, predicted)]
    per: dict[str, GroupAccuracy] = {}
    if groups is not None:
        idx: dict[str, list[int]] = defaultdict(list)
        for i, grp in enumerate(groups):
            idx[grp].append(i)
        for grp in sorted(idx):
            c = sum(ok[i] for i in idx[grp])
            per[grp] = GroupAccuracy(c / len(idx[grp]), len(idx[grp]), c)
    n = len(gold)
    return AccuracyReport(accuracy=_div(sum(ok), n), n=n, n_correct=sum(ok),
                          n_unparsed=sum(_letter(p) is None for p in predicted), per_group=per)


# --------------------------------------------------------------- contexts as episodes
@dataclass(frozen=True)
class PersonaMemContext:
    """A shared context cut into pseudo-sessions.

    ``episode`` holds the sessions; ``cuts[i]`` is the message index where session ``i`` ends
    (exclusive), so the memory after session ``i`` has seen ``messages[:cuts[i]]``.
    :meth:`session_for` maps a question's end index to the session after which it is asked
    (``-1``: before any session, the empty memory)."""

    episode: Episode
    cuts: tuple[int, ...]

    def session_for(self, end_index: int) -> int:
        if end_index not in self.cuts and end_index != 0:
            raise ValueError(f"end index {end_index} is not a session boundary of {self.episode.user_id}; "
                             "build the context with every question's end index")
        return self.cuts.index(end_index) if end_index in self.cuts else -1


def personamem_context(context_id: str, messages: Sequence[Mapping[str, str]], end_indices: Iterable[int], *,
                       block: int = 20, include_persona: bool = False) -> PersonaMemContext:
    """Cut one shared context into pseudo-sessions ending at every question's end index and at
    least every ``block`` messages ("As episodes" in the module docstring). Turn ids are the
    message indices (``"m12"``)."""
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    n = len(messages)
    ends = sorted({e for e in end_indices if 0 < e <= n})
    bad = [e for e in end_indices if e > n]
    if bad:
        raise ValueError(f"context {context_id[:16]}…: end index {bad[0]} beyond its {n} messages")
    cuts: list[int] = []
    start = 0
    for e in ends + [n]:
        while e - start > block:
            start += block
            cuts.append(start)
        if e > start:
            cuts.append(e)
            start = e
    sessions = []
    prev = 0
    for k, cut in enumerate(cuts):
        turns = []
        for i in range(prev, cut):
            m = messages[i]
            if m["role"] == "system":
                if include_persona:
                    turns.append(Turn(f"m{i}", "user", m["content"]))
                continue
            turns.append(Turn(f"m{i}", m["role"], m["content"]))
        sessions.append(Session(session_id=f"{context_id[:12]}:b{k}", date="", event={"kind": "personamem"},
                                turns=tuple(turns), gold_ops=(), state_after=()))
        prev = cut
    ep = Episode(user_id=context_id, persona={}, initial_memory=(), sessions=tuple(sessions),
                 meta={"benchmark": "personamem"})
    return PersonaMemContext(ep, tuple(cuts))


# ----------------------------------------------------------------------------- protocol
def contexts_path(cfg: BenchConfig) -> Path:
    """The shared-contexts file of a run: ``cfg.contexts``, else the file next to the questions
    (``questions_<split>.csv`` → ``shared_contexts_<split>.jsonl``)."""
    path = Path(cfg.data)
    return Path(cfg.contexts) if cfg.contexts else path.with_name(
        path.name.replace("questions_", "shared_contexts_").replace(".csv", ".jsonl"))


class PersonaMemProtocol(Protocol):
    """PersonaMem as 4-option multiple choice (``docs/benchmark_protocols.md`` §3), for the
    runner: each shared context is cut at its questions' end indices and ingested; a question
    is answered from the memory after exactly the messages it may see. Accuracy overall and per
    question type, scored the official way (no judge)."""

    name = "personamem"
    judged = False

    def prepare(self, cfg: BenchConfig) -> Plan:
        questions = sample(load_personamem_questions(cfg.data), cfg.limit, cfg.seed)
        cpath = contexts_path(cfg)
        if not cpath.is_file():
            raise FileNotFoundError(
                f"{cpath}: PersonaMem's conversations (shared_contexts_<split>.jsonl) are needed to answer its "
                "questions; download them with the questions (Hugging Face bowen-upenn/PersonaMem) and pass "
                "--contexts PATH")
        contexts = load_shared_contexts(cpath)
        by_ctx: dict[str, list[PersonaMemQuestion]] = defaultdict(list)
        for q in questions:
            visible_context(q, contexts)  # raises early on a question/context mismatch
            by_ctx[q.shared_context_id].append(q)
        cut = {cid: personamem_context(cid, contexts[cid], [q.end_index_in_shared_context for q in qs],
                                       block=cfg.personamem_block, include_persona=cfg.include_persona)
               for cid, qs in by_ctx.items()}
        data = {"contexts_path": str(cpath), "contexts": len(cut), "include_persona": cfg.include_persona}
        return Plan([c.episode for c in cut.values()], data,
                    {"questions": questions, "contexts": contexts, "cut": cut})

    def ask(self, cfg: BenchConfig, plan: Plan, states: Mapping[str, Sequence[MemoryState]], answer_model: Any,
            retriever: Any) -> Questions:
        asked = Questions([], [], [])
        contexts, cut = plan.items["contexts"], plan.items["cut"]
        for q in plan.items["questions"]:
            options = list(q.all_options)
            if cfg.full_context:
                msgs = [m for m in visible_context(q, contexts) if m["role"] != "system" or cfg.include_persona]
                text, _ = fit_to_context([f"{m['role']}: {m['content']}" for m in msgs], answer_model,
                                         cfg.context_tokens)
                asked.prompts.append(mcq_messages(q.user_question_or_message, options, history=text))
            else:
                k = cut[q.shared_context_id].session_for(q.end_index_in_shared_context)
                state = states[q.shared_context_id][k] if k >= 0 else MemoryState()
                hits = [e for e, _ in retriever.search(q.user_question_or_message, state.entries, cfg.top_k)]
                asked.prompts.append(mcq_messages(q.user_question_or_message, options, hits))
            asked.keys.append(q.question_id)
            asked.records.append({})
        return asked

    def score(self, cfg: BenchConfig, plan: Plan, asked: Questions, answers: Mapping[str, Mapping[str, Any]],
              judge: Any, work: Path, not_computed: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                                             dict[str, Any] | None]:
        questions = plan.items["questions"]
        responses = {k: answers[k]["raw"] for k in asked.keys}
        official = score_personamem(questions, responses, official=True)
        strict = score_personamem(questions, responses, official=False)
        per_question = [{"question_id": q.question_id, "question_type": q.question_type, "gold": q.correct_answer,
                         "response": responses[q.question_id],
                         "parsed": parse_option_letter(responses[q.question_id], len(q.all_options))}
                        for q in questions]
        metrics = {"questions": len(questions), "accuracy": official.accuracy,
                   "per_type": {g: {"accuracy": v.accuracy, "n": v.n} for g, v in official.per_group.items()},
                   "accuracy_strict_parser": strict.accuracy, "unparsed_strict": strict.n_unparsed, "chance": 0.25}
        not_computed["judge"] = "PersonaMem needs no judge (exact option match)"
        return metrics, per_question, None
