"""Operation-level shaping reward ``r_ops`` (beyond the paper; uses the §3.2 operation labels).

The paper's ``r_trans`` (``docs/mld_spec.md``) compares *states* and drops everything the
predicted and the gold state share. A rollout that gets two of a session's three operations
exactly right and the third wrong therefore scores like doing nothing: the right ones fall
into the shared part. For a small model most rollouts of a GRPO group are such partly right
answers, so the group ties at 0 and teaches nothing (notebook 04 measures how often).

``r_ops`` gives that partial credit without paying the errors that lexical fidelity exists to
punish. It compares the *changes* — what the rollout did to each memory id — with the
changes the synthetic data labels (the gold operations, DeltaMem §3.2):

* an UPDATE earns credit only on the **same id** as a gold UPDATE, worth
  ``q = sim · cov`` (threshold ``τ``, keyword coverage as in the MLD);
* a DELETE earns 1 on the same id as a gold DELETE;
* ADDs carry no id the model can know in advance, so predicted and gold ADDs are matched
  one-to-one by the MLD's optimal transport on ``q``;
* anything else — a new fact ADDed while the stale one is kept, a DELETE where the fact
  changed, an ADD repeating a stored fact, a spurious fact — is an unmatched change.

``r_ops = 2·Q / (|predicted changes| + |gold changes|)`` (1 when both are empty, 0 when
exactly one is): the F1 of soft operation precision and recall. Because an UPDATE is
credited only on its id, ADD-instead-of-UPDATE earns *less* than leaving the update out
(one unmatched change more), which the transition-scope MLD did not guarantee.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..memory import MemoryEntry, MemoryState
from ..mld import MLDOptions

__all__ = ["operation_f1"]


def _q(pred: str, gold: MemoryEntry, mld: MLDOptions) -> float:
    return float(mld.score([pred], [gold]).reward)


def _add_credit(pred: Sequence[MemoryEntry], gold: Sequence[MemoryEntry], mld: MLDOptions) -> float:
    """``Q`` of the best one-to-one matching of predicted and gold ADDs (sum of ``q``)."""
    if not pred or not gold:
        return 0.0

    res = mld.score([e.content for e in pred], list(gold))
    return float(res.reward) * (len(pred) + len(gold)) / 2.0


def operation_f1(before: MemoryState, predicted: MemoryState, gold_after: MemoryState, *,
                 mld: MLDOptions = MLDOptions()) -> float:
    """``r_ops``: soft F1 of the rollout's changes against the gold changes, matched by id.

    Args:
        before: the gold state before the session (where the rollout started).
        predicted: the state the rollout left.
        gold_after: the gold state after the session (its entries carry the keywords).
        mld: similarity, threshold and lexical fidelity of the credit ``q`` (its scope is
            ignored: each matched pair is scored as a whole state).
    """
    mld = dataclasses.replace(mld, scope="state")
    pd, gd = before.diff(predicted), before.diff(gold_after)
    n = len(pd.added) + len(pd.removed) + len(pd.changed) + len(gd.added) + len(gd.removed) + len(gd.changed)
    if n == 0:
        return 1.0
    gold_updates = {old.id: new for old, new in gd.changed}
    gold_deletes = {e.id for e in gd.removed}
    credit = sum(_q(new.content, gold_updates[old.id], mld) for old, new in pd.changed
                 if old.id in gold_updates)
    credit += sum(1.0 for e in pd.removed if e.id in gold_deletes)
    credit += _add_credit(pd.added, gd.added, mld)
    return 2.0 * credit / n
