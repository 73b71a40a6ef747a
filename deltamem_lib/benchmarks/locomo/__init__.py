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
:mod:`..judge`, evidence recall@k in :mod:`..provenance`.

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
(:mod:`..protocol`, :mod:`..runner`).
"""

from __future__ import annotations

from ..provenance import DiaId, parse_dia_id
from .locomo_data import (
    CATEGORY_NAMES,
    MEM0_CATEGORY_NAMES,
    SCORED_CATEGORIES,
    Conversation,
    Question,
    Session,
    Turn,
    all_questions,
    category_counts,
    load_locomo,
    locomo_stats,
    parse_evidence,
    parse_locomo_datetime,
    scored_questions,
)
from .locomo_metrics import (
    CategoryRow,
    bleu1,
    format_category_table,
    locomo_f1,
    locomo_f1_official,
    mem0_tokenize,
    normalize_answer_locomo,
    per_category_table,
    word_tokenize,
)
from .locomo_protocol import (
    LocomoObservations,
    LocomoProtocol,
    evidence_sessions,
    locomo_episodes,
    locomo_questions,
    locomo_session_id,
    locomo_user_id,
)

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
