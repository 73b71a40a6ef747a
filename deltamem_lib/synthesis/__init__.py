"""Memory-evolution data synthesis with operation-level labels (DeltaMem §3.2).

Two generators write the same episodes (:mod:`deltamem_lib.episodes`):

* :mod:`.procedural` — offline and seeded: :mod:`.world` (fact types, catalogues, profiles),
  :mod:`.events` (life events, timeline), :mod:`.dialogue` and :mod:`.phrases` (sessions);
* :mod:`.teacher` — the same four steps through a chat model, every response validated.

Views and outputs: :mod:`.probes` (probe questions per session), :mod:`.dataset` (user-level
splits, the Hugging Face ``DatasetDict`` of RL rows, atomic output folder), :mod:`.stats`
(operation mix, targets, ``stats.json``). Notebook 01's figures, explorer and exercise
checks are in :mod:`deltamem_lib.teaching.data_synthesis`.
"""

from .procedural import SynthConfig, generate_episode, generate_episodes, synthesize_user
from .stats import TargetError, check_targets, dataset_stats, operation_counts

__all__ = [
    "SynthConfig",
    "TargetError",
    "check_targets",
    "dataset_stats",
    "generate_episode",
    "generate_episodes",
    "operation_counts",
    "synthesize_user",
]
