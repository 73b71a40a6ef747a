"""The benchmarks of the DeltaMem evaluation (arXiv 2604.01560, §4: Tables 1–3, Figures 3–5).

The DeltaMem paper (arXiv 2604.01560) evaluates on LoCoMo, HaluMem and PersonaMem; their
data, protocols and published numbers are summarised in ``docs/benchmark_protocols.md``.
One package per benchmark holds its loader (``<name>_data``), its metrics (``<name>_metrics``),
its conversion into the project's episodes and its protocol, what it does in a run
(``<name>_protocol``); each package re-exports their public names:

* :mod:`.locomo`     — ``locomo10.json``: conversations, dated sessions, QA (categories 1–5);
  Mem0-protocol F1 / BLEU-1, the original LoCoMo F1, per-category tables; one episode per
  speaker; :class:`~.locomo.LocomoProtocol`
* :mod:`.halumem`    — ``HaluMem-{Medium,Long}.jsonl``: sessions, gold memory points, questions;
  extraction / update / QA metrics; :class:`~.halumem.HaluMemProtocol` (the online order)
* :mod:`.personamem` — ``questions_<split>.csv`` + ``shared_contexts_<split>.jsonl``; MCQ
  accuracy; contexts cut at the questions; :class:`~.personamem.PersonaMemProtocol`

below them, shared by the three:

* :mod:`.protocol`   — a run's settings (:class:`~.protocol.BenchConfig`) and the protocol
  contract: prepare, ask, score
* :mod:`.provenance` — turn ids (LoCoMo's dia ids); the turns behind a memory; evidence recall@k
* :mod:`.answering`  — the Mem0-style short-answer prompt, full-context and MCQ prompts, batched answering
* :mod:`.judge`      — LoCoMo's J (Mem0's judge prompt, verdict parser, several runs) and HaluMem's judges

and above them:

* :mod:`.runner`     — :func:`~.runner.run_benchmark`: one driver over the protocols (prepare,
  ingest, ask, answer, score); resumable; ``deltamem bench``
* :mod:`.cumulative` — accuracy as sessions accumulate (Figures 4–5 analogue)
* :mod:`.ablations`  — lexical fidelity, ReAct vs one-shot, DELETE on/off, state vs outcome reward
* :mod:`.paths`      — where the benchmark files and the RL run of notebook 04 are found
* :mod:`.download`   — official sources with checksums; atomic, cache-first downloads

:data:`BENCHMARKS` names the three. The data files are licensed for non-commercial research
only and are never committed. The notebook's tables, figures and exercise checks are in
:mod:`deltamem_lib.teaching.benchmarks_ablations`.
"""

from .halumem import HaluMemUser, load_halumem
from .locomo import CATEGORY_NAMES, Conversation, DiaId, load_locomo, scored_questions
from .personamem import PersonaMemQuestion, load_personamem_questions, load_shared_contexts, visible_context
from .protocol import BENCHMARKS

__all__ = [
    "BENCHMARKS",
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
