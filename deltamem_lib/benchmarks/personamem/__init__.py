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
:class:`PersonaMemProtocol` is this benchmark's part of a run (:mod:`..protocol`, :mod:`..runner`).
"""

from __future__ import annotations

from .personamem_data import (
    QUESTION_TYPES,
    REQUIRED_COLUMNS,
    PersonaMemQuestion,
    load_personamem_questions,
    load_shared_contexts,
    personamem_stats,
    visible_context,
)
from .personamem_metrics import (
    AccuracyReport,
    GroupAccuracy,
    mcq_accuracy,
    official_extract_options,
    official_is_correct,
    parse_option_letter,
    score_personamem,
)
from .personamem_protocol import PersonaMemContext, PersonaMemProtocol, contexts_path, personamem_context

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
