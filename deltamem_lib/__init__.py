"""deltamem_lib — the library behind the DeltaMem workbook.

DeltaMem (arXiv 2604.01560) manages a user's long-term persona memory with ADD / UPDATE /
DELETE operations after each chat session and is trained with reinforcement learning on a
reward that compares the memory state it produces with the gold state (the Memory-based
Levenshtein Distance, MLD). Modules, by concept:

* :mod:`deltamem_lib.memory` — memory state and operations (§3.1)
* :mod:`deltamem_lib.mld`    — the MLD reward ``r_trans`` (§3.3, ``docs/mld_spec.md``)
* :mod:`deltamem_lib.io`     — atomic writes and readers that name the bad line
* :mod:`deltamem_lib.config` — profiles, seeding, run folders
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
