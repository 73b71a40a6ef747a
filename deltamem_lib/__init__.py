"""deltamem_lib — the library behind the DeltaMem workbook.

DeltaMem (arXiv 2604.01560) manages a user's long-term persona memory with ADD / UPDATE /
DELETE operations after each chat session and is trained with reinforcement learning on a
reward that compares the memory state it produces with the gold state (the Memory-based
Levenshtein Distance, MLD).

The package in layers; a module imports only from its own layer or the ones above it in this
list (``tests/test_layers.py`` checks every import, at the top and inside functions, and
that no modules or parts import each other in a cycle):

1. **Memory and reward** — :mod:`.memory` (memory state and operations, §3.1), :mod:`.mld`
   (the MLD reward ``r_trans``, §3.3, ``docs/mld_spec.md``), :mod:`.mistakes` (typical mistakes and what the
   reward gives them), :mod:`.ablation_names` (the ablations' ids and labels, one vocabulary for
   training and benchmarks), :mod:`.embeddings` (the sentence encoder), :mod:`.io` (atomic files,
   the append-only journal, figures saved with their numbers), :mod:`.workdir` (work-folder
   lock, data-file hashes for resume, stale temporary files), :mod:`.typed_settings` (every
   setting's name and type checked once, whatever its source: profile file, ``--set``, papermill,
   a command's flags), :mod:`.config` (profiles, typed settings from them, seeding, devices), :mod:`.hardware`
   (GPU capabilities, precision, vLLM, releasing memory between trainers).
2. **Data** — :mod:`.episodes` (the schema of synthetic users, integrity rules, RL rows),
   :mod:`.synthesis` (procedural and LLM-teacher generators, probes, splits, statistics; §3.2)
   and :mod:`.outcome` (the deterministic reader that answers the probe questions from a
   memory: the outcome reward of training and the accumulation curves of the benchmarks).
3. **Models** — :mod:`.models` (one chat interface; local transformers and OpenAI-compatible
   backends; SmolLM2 offline; chat templates; lenient parsing of tool calls and operation lists).
4. **Agent** — :mod:`.agent` (the ``MemoryEnv`` tool environment, ReAct and one-shot agents,
   baselines, whole-user ingestion, the evaluation harness, SFT trajectories; §3.1) and
   :mod:`.retrieval` (embedding and BM25 search over memories).
5. **Training** — :mod:`.training` (SFT warm start and GRPO with LoRA on named reward
   components, checkpoints and resume, held-out evaluation with a paired bootstrap; §3.3).
6. **Benchmarks** — :mod:`.benchmarks` (LoCoMo, HaluMem, PersonaMem: one module each with
   its loader, metrics, conversion into episodes and protocol; judges, answering, provenance,
   the resumable runner — one driver over the three protocols —, accumulation curves,
   ablations; §4). Training and benchmarks are two rooms on one floor: neither imports the
   other (what both need sits lower, as :mod:`.outcome` does).
7. **Teaching and commands** — :mod:`.teaching` (the notebooks' figures, tables, explorers
   and exercise checks: one module per notebook plus :mod:`.teaching.common`),
   :mod:`.commands` and :mod:`.cli` (the ``deltamem`` command; :mod:`.argtypes` checks its
   arguments, :mod:`.cli_errors` turns every failure into one clear line), :mod:`.notebook_job` (runs
   every notebook in order: ``make run``), :mod:`.notebook_setup` (inside a notebook: the profile
   applied to its globals, papermill's injected values checked, the run folders). The core never imports this
   layer.
"""

from .memory import (
    ApplyResult,
    MemoryEntry,
    MemoryState,
    MemoryStateError,
    Operation,
    OperationError,
    OpType,
    Source,
    replay,
)

__version__ = "0.1.0"

__all__ = [
    "ApplyResult",
    "MemoryEntry",
    "MemoryState",
    "MemoryStateError",
    "Operation",
    "OperationError",
    "OpType",
    "Source",
    "replay",
    "__version__",
]
