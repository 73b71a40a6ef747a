"""The workbook's ablations, one vocabulary for training and benchmarks.

An ablation changes one thing — the reward, the agent's form, an operation offered — and the
workbook measures it on two sides (DeltaMem §4.4 and Figure 3; the outcome reward is
AtomMem's and Memory-R1's):

* **training** (notebook 04, ``deltamem train --ablation ID``): a short GRPO run with the
  change, judged with the main reward (:data:`deltamem_lib.training.settings.ABLATIONS` holds
  each id's config change);
* **reward** (notebook 05, section 8a): the same predictions scored by each reward variant
  (:data:`deltamem_lib.benchmarks.ablations.REWARD_VARIANTS`);
* **agent** (notebook 05, section 8b): the prompted agent run in each configuration
  (:data:`deltamem_lib.benchmarks.ablations.AGENT_VARIANTS`, the parameter
  ``ablation_variants``).

Each side keys its table by the ids below and shows the labels, so an ablation has one name
wherever it is set and one label wherever it is shown. :func:`check_ids` refuses an unknown
id with the closest known one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ABLATION_NAMES", "AblationName", "check_ids", "label_of"]


@dataclass(frozen=True)
class AblationName:
    """One ablation: its id (settings, results keys), its label (tables, figures), what it
    changes, and the sides that measure it (``training``, ``reward``, ``agent``)."""

    id: str
    label: str
    about: str
    sides: tuple[str, ...]


ABLATION_NAMES: dict[str, AblationName] = {a.id: a for a in (
    AblationName("r_trans", "r_trans (paper)",
                 "the paper's reward: delta MLD with lexical fidelity, normalised by the two transitions",
                 ("reward",)),
    AblationName("no_lexical_fidelity", "r_trans, no lexical fidelity",
                 "a rewrite that drops the fact's keyword counts as the same memory (Figure 3)",
                 ("training", "reward")),
    AblationName("residual_normalisation", "r_trans, residual normalisation",
                 "the residual distance normalised by itself: a partly right session earns 0",
                 ("reward",)),
    AblationName("state_scope", "whole-state MLD",
                 "the distance between whole memory states instead of the session's changes",
                 ("training", "reward")),
    AblationName("ordered_mld", "ordered MLD",
                 "the ordered Levenshtein variant over whole states",
                 ("training",)),
    AblationName("outcome_reward", "outcome (probe accuracy)",
                 "AtomMem / Memory-R1: the share of probe questions the memory answers",
                 ("training", "reward")),
    AblationName("no_delete", "no DELETE",
                 "DELETE is not offered to the agent",
                 ("training",)),
    AblationName("oneshot_agent", "one-shot",
                 "the one-shot agent: one JSON list of operations per session",
                 ("training", "agent")),
    AblationName("react_agent", "ReAct",
                 "the ReAct agent: tool calls with search before it writes",
                 ("agent",)),
    AblationName("oneshot_no_delete", "one-shot, no DELETE",
                 "the one-shot agent without DELETE",
                 ("agent",)),
    AblationName("react_no_delete", "ReAct, no DELETE",
                 "the ReAct agent without DELETE",
                 ("agent",)),
)}


def label_of(ablation_id: str) -> str:
    """The label shown for ``ablation_id`` (the id itself when it is not an ablation, e.g. a
    main run's row)."""
    a = ABLATION_NAMES.get(ablation_id)
    return a.label if a else ablation_id


def check_ids(ids: Iterable[str], side: str, *, what: str = "ablation") -> list[str]:
    """``ids`` as a list when each is an ablation measured on ``side``; otherwise one
    ``ValueError`` naming the first unknown id, the closest known one and the known ids (a
    label given where an id belongs is named as such)."""
    known = [a.id for a in ABLATION_NAMES.values() if side in a.sides]
    by_label = {a.label: a.id for a in ABLATION_NAMES.values() if side in a.sides}
    out = list(ids)
    for x in out:
        if x in known:
            continue
        if x in by_label:
            hint = f"; that is the label of {by_label[x]!r}, use the id"
        else:
            close = difflib.get_close_matches(str(x), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown {what} {x!r}{hint} (known: {', '.join(known)})")
    return out
