"""Benchmarks of the DeltaMem evaluation: loaders, scoring metrics, downloads.

The DeltaMem paper (arXiv 2604.01560) evaluates on LoCoMo, HaluMem and PersonaMem; their
data, protocols and published numbers are summarised in ``docs/benchmark_protocols.md``.

* :mod:`.locomo`     — ``locomo10.json``: conversations, dated sessions, QA (categories 1–5)
* :mod:`.personamem` — ``questions_<split>.csv`` + ``shared_contexts_<split>.jsonl``, MCQ answers
* :mod:`.halumem`    — ``HaluMem-{Medium,Long}.jsonl``: sessions, gold memory points, questions
* :mod:`.metrics`    — Mem0-protocol F1 / BLEU-1 / LLM judge J, evidence recall@k,
  HaluMem extraction / update / QA metrics, multiple-choice accuracy
* :mod:`.download`   — official sources with checksums; atomic, cache-first downloads

The data files are licensed for non-commercial research only and are never committed.
"""

from .halumem import HaluMemUser, load_halumem
from .locomo import CATEGORY_NAMES, Conversation, DiaId, load_locomo, scored_questions
from .personamem import PersonaMemQuestion, load_personamem_questions, load_shared_contexts, visible_context

__all__ = [
    "CATEGORY_NAMES",
    "Conversation",
    "DiaId",
    "HaluMemUser",
    "PersonaMemQuestion",
    "load_halumem",
    "load_locomo",
    "load_personamem_questions",
    "load_shared_contexts",
    "scored_questions",
    "visible_context",
]
