"""PersonaMem's data: the question types, the columns of ``questions_<split>.csv``,
:class:`PersonaMemQuestion`, the loaders of the questions and of
``shared_contexts_<split>.jsonl`` (:func:`load_personamem_questions`,
:func:`load_shared_contexts`; errors name the file and the line), :func:`visible_context` (the
messages a question may see) and :func:`personamem_stats`.
"""

from __future__ import annotations

import ast
import csv
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...io import DataFileError, check_input_file, iter_jsonl

__all__ = [
    "QUESTION_TYPES",
    "REQUIRED_COLUMNS",
    "PersonaMemQuestion",
    "load_personamem_questions",
    "load_shared_contexts",
    "visible_context",
    "personamem_stats",
]

#: ``question_type`` strings of the 32k release with the paper skill each names
#: (docs/benchmark_protocols.md §3; the 17 ``recalling_facts_mentioned_by_the_user`` items are a
#: legacy label).
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
            raise DataFileError(f"{p}: line {line}: context {cid!r} already defined on line "
                                f"{first_line[cid]}")
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
                raise DataFileError(f"{where}: field 'role': expected one of {', '.join(_ROLES)}, "
                                    f"got {role!r}")
            if not isinstance(content, str):
                raise DataFileError(f"{where}: field 'content': expected a string, "
                                    f"got {type(content).__name__}")
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
