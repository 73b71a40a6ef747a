"""Does the model read the session? The decision diagnostics of a trained manager.

A memory manager first decides *what kind* of change a session asks for — nothing, an ADD,
an UPDATE or a DELETE — and then writes it. The loss of SFT and the mean reward of GRPO mix
the two; these diagnostics measure the decision alone, on the single-change level
(:mod:`deltamem_lib.synthesis.levels`), where each held-out session has exactly one kind:

* **greedy decisions** (:func:`decision_report`): from the evaluation's per-session records,
  the kind the greedy answer chose (``none``, ``ADD``, ``UPDATE``, ``DELETE``, ``multi`` for
  several operations, ``malformed`` for an unreadable answer), the type accuracy per gold
  kind, the id accuracy of UPDATE and DELETE (the right memory), and the share of greedy
  predictions that go to each kind;
* **separation** (:func:`kind_probabilities`, :func:`separation`): the teacher-forced
  probability of each kind at the first decision tokens of the answer, and per kind
  ``P(kind | sessions of that kind) − P(kind | other sessions)``. A policy that has only a
  global preference ("mostly UPDATE") has separation 0 whatever its mean; a policy that
  reads the session has clearly positive separation for every kind.

How the probabilities are read: the one-shot answer is a JSON list, so its first tokens
decide the kind: ``[]`` (nothing) against ``[{"op": "`` followed by ``ADD``, ``UPDATE`` or
``DELETE``. One forward pass over the prompt plus ``[{"op": "`` gives, at the position after
``[``, the odds of closing the list against opening an operation, and at the last position
the odds of the three operation names; ``P(kind)`` is ``[P(none), (1 − P(none))·P(op)]``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..synthesis.levels import KINDS
from .datasets import prompt_rows
from .settings import TrainConfig
from .trainers import load_policy

__all__ = ["PREDICTED", "adapter_kind_probabilities", "decision_report", "kind_probabilities",
           "predicted_kind", "separation"]

#: What a greedy answer can decide: the four kinds, several operations, or nothing readable.
PREDICTED = (*KINDS, "multi", "malformed")
_OPS = KINDS[1:]


def predicted_kind(record: Mapping[str, Any]) -> str:
    """The kind one evaluated session's answer chose (from
    :func:`~deltamem_lib.agent.harness.session_metrics`)."""
    if record.get("malformed_outputs"):
        return "malformed"
    counts = record.get("counts") or {}
    made = [k for k in _OPS for _ in range(int(counts.get(f"pred_{k}", 0)))]
    if not made:
        return "none"
    return made[0] if len(made) == 1 else "multi"


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def decision_report(per_session: Sequence[Mapping[str, Any]], kinds: Sequence[str]) -> dict[str, Any]:
    """Type accuracy, id accuracy and prediction shares of one evaluation.

    Args:
        per_session: the evaluation's ``per_session`` records, in the order of ``kinds``.
        kinds: the gold kind of each session (the rows' ``kind`` column).

    Returns:
        ``type_accuracy`` (overall and ``by_kind``), ``id_accuracy`` (UPDATE and DELETE:
        the gold memory id was changed with the gold operation), ``r_trans_by_kind``, ``predicted`` (count per
        predicted kind), ``largest_share`` (the largest share of greedy predictions one
        operation kind takes, with its ``largest_kind``), and the ``confusion`` counts
        ``"gold->predicted"``.
    """
    if len(per_session) != len(kinds):
        raise ValueError(f"{len(per_session)} evaluated sessions but {len(kinds)} kinds")
    if not kinds:
        raise ValueError("no sessions")
    bad = sorted(set(kinds) - set(KINDS))
    if bad:
        raise ValueError(f"kinds {bad}: expected {KINDS} (the single-change level's 'kind' column)")
    pred = [predicted_kind(r) for r in per_session]
    ok = [p == g for p, g in zip(pred, kinds)]

    def mean(values: list[bool]) -> float | None:
        return sum(values) / len(values) if values else None

    by_kind = {k: _round(mean([o for o, g in zip(ok, kinds) if g == k])) for k in KINDS}
    ids = {}
    for k in ("UPDATE", "DELETE"):
        hits = [int((r.get("counts") or {}).get(f"tp_{k}", 0)) > 0 for r, g in zip(per_session, kinds)
                if g == k]
        ids[k] = _round(mean(hits))
    counts = Counter(pred)
    largest = max(KINDS, key=lambda k: counts[k])
    rewards = {k: [float(r["r_trans"]) for r, g in zip(per_session, kinds) if g == k and "r_trans" in r]
               for k in KINDS}
    return {"sessions": len(kinds), "type_accuracy": _round(mean(ok)), "type_accuracy_by_kind": by_kind,
            "r_trans_by_kind": {k: _round(sum(v) / len(v)) if v else None for k, v in rewards.items()},
            "id_accuracy": ids, "predicted": {k: counts[k] for k in PREDICTED},
            "largest_kind": largest, "largest_share": _round(counts[largest] / len(kinds)),
            "confusion": {f"{g}->{p}": c for (g, p), c in sorted(Counter(zip(kinds, pred)).items())}}


def _decision_tokens(tokenizer: Any) -> tuple[list[int], int, int, list[int]]:
    """``(prefix, at, close, op_tokens)``: the tokens of ``[{"op": "``, the position in it where
    ``[]`` branches off, the token that closes the list there, and the first token of each
    operation name after the prefix."""

    def ids(s: str) -> list[int]:
        return list(tokenizer(s, add_special_tokens=False)["input_ids"])

    full = [ids('[{"op": "' + k + '"') for k in _OPS]
    n = 0
    while all(len(f) > n for f in full) and len({f[n] for f in full}) == 1:
        n += 1
    prefix, op_tokens = full[0][:n], [f[n] for f in full]
    none = ids("[]")
    at = len(none) - 1
    if (len(set(op_tokens)) != 3 or at < 0 or at >= len(prefix) or none[:at] != prefix[:at]
            or none[at] == prefix[at]):
        raise ValueError("this tokenizer does not split the answer's first tokens the way the probe needs "
                         "('[' then ']' or '{\"', and one first token per operation name)")
    return prefix, at, none[at], op_tokens


def kind_probabilities(model: Any, tokenizer: Any, prompts: Sequence[Sequence[Mapping[str, Any]]], *,
                       batch_size: int = 16, chat_template_kwargs: Mapping[str, Any] | None = None,
                       progress: Any = None) -> list[list[float]]:
    """Teacher-forced ``[P(none), P(ADD), P(UPDATE), P(DELETE)]`` for each prompt (module docstring).

    Args:
        model: a causal language model (a PEFT model works; merge it first for speed).
        tokenizer: its tokenizer, with the chat template the prompts are rendered with.
        prompts: chat messages, as the one-shot agent builds them (the rows' ``prompt`` column).
        batch_size: prompts per forward pass.
        chat_template_kwargs: extra template variables (Qwen3's ``enable_thinking``).
        progress: a callable ``(done, total)``, or None.
    """
    import torch

    prefix, at, close, op_tokens = _decision_tokens(tokenizer)
    kw = dict(chat_template_kwargs or {})
    seqs = [list(tokenizer(tokenizer.apply_chat_template(list(p), add_generation_prompt=True, tokenize=False,
                                                         **kw),
                           add_special_tokens=False)["input_ids"]) + prefix for p in prompts]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out: list[list[float]] = []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(seqs), batch_size):
            chunk = seqs[start:start + batch_size]
            width = max(map(len, chunk))
            ids = torch.tensor([[pad] * (width - len(s)) + s for s in chunk])
            mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in chunk])
            with torch.no_grad():
                logits = model(input_ids=ids, attention_mask=mask,
                               position_ids=(mask.cumsum(-1) - 1).clamp(min=0)).logits
            # the logits at position i predict token i + 1; the prefix fills the last len(prefix) positions
            branch = logits[:, width - len(prefix) + at - 1, :].float()
            pair = torch.stack([branch[:, close], branch[:, prefix[at]]], dim=-1).softmax(-1)
            ops = logits[:, -1, :].float()[:, op_tokens].softmax(-1)
            for j in range(len(chunk)):
                p_none = float(pair[j, 0])
                out.append([p_none] + [(1.0 - p_none) * float(x) for x in ops[j]])
            if progress is not None:
                progress(len(out), len(seqs))
    finally:
        model.train(was_training)
    return out


def adapter_kind_probabilities(cfg: TrainConfig, adapter: Any, rows: Sequence[Mapping[str, Any]], *,
                               device: str = "cpu") -> list[list[float]]:
    """:func:`kind_probabilities` of a config's policy with ``adapter`` (None: the base model,
    LoRA merged for speed) on single-change rows, with the config's one-shot prompts."""
    model, tok = load_policy(cfg, device=device, adapter=adapter, trainable=False)
    if adapter is not None:
        model = model.merge_and_unload()
    return kind_probabilities(model, tok, [r["prompt"] for r in prompt_rows(rows, cfg)],
                              batch_size=cfg.eval_batch_size, chat_template_kwargs=cfg.chat_template_kwargs())


def separation(probs: Sequence[Sequence[float]], kinds: Sequence[str]) -> dict[str, Any]:
    """Per kind, ``mean P(kind | sessions of that kind) − mean P(kind | other sessions)``, and the
    mean probability of each kind over all sessions (``mean``) and of the gold kind (``p_gold``)."""
    if len(probs) != len(kinds) or not kinds:
        raise ValueError(f"{len(probs)} probability rows for {len(kinds)} sessions")
    idx = [KINDS.index(k) for k in kinds]

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    sep = {}
    for c, k in enumerate(KINDS):
        own = mean([p[c] for p, g in zip(probs, idx) if g == c])
        other = mean([p[c] for p, g in zip(probs, idx) if g != c])
        sep[k] = _round(own - other) if own is not None and other is not None else None
    return {"separation": sep, "min_separation": min((v for v in sep.values() if v is not None),
                                                     default=None),
            "mean": {k: _round(mean([p[c] for p in probs])) for c, k in enumerate(KINDS)},
            "p_gold": _round(mean([p[g] for p, g in zip(probs, idx)]))}
