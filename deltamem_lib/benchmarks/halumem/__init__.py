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
— pure functions over the labels a judge gave (:mod:`..judge`).

**As episodes**: :func:`halumem_episode` makes one episode per user, turn ids ``s<k>:t<i>``,
each session dated by its ``start_time``; the persona line is not ingested, and the
distractor sessions of the Long release are ingested like any other.
:class:`HaluMemProtocol` is this benchmark's part of a run (:mod:`..protocol`, :mod:`..runner`).
"""

from __future__ import annotations

from .halumem_data import (
    MEMORY_SOURCES,
    MEMORY_TYPES,
    QUESTION_TYPES,
    TIME_FORMAT,
    Evidence,
    HaluMemQuestion,
    HaluMemSession,
    HaluMemTurn,
    HaluMemUser,
    MemoryPoint,
    halumem_stats,
    iter_halumem,
    load_halumem,
    parse_halumem_time,
)
from .halumem_metrics import (
    QA_LABELS,
    UPDATE_LABELS,
    AccuracyJudgement,
    ExtractionMetrics,
    IntegrityJudgement,
    LabelRates,
    TypeAccuracy,
    UpdateJudgement,
    halumem_extraction_metrics,
    halumem_qa_metrics,
    halumem_typewise_accuracy,
    halumem_update_metrics,
)
from .halumem_protocol import HaluMemProtocol, halumem_episode, halumem_session_id

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
