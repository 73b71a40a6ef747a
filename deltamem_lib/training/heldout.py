"""Held-out evaluation before and after training, and the paired bootstrap.

Every model is scored by the agent's own evaluation (:func:`deltamem_lib.agent.harness.evaluate_system`)
on the same held-out sessions of users never seen in training, each session starting from
its gold state before: ``r_trans`` (the dense state reward, always with the *main* settings —
delta scope normalised by the transitions, lexical fidelity on — so ablations are judged by
the same yardstick), operation
F1 per type, the invalid-call and malformed-output rates, and the probe-question accuracy of
the deterministic reader (:mod:`deltamem_lib.outcome`), which lets the state and outcome rewards be
compared on both measures.

A trained model is evaluated by loading its saved adapter into the inference agent
(``load_chat_model(model, load_adapter=...)``), which is also the check that the adapter
loads back. Decoding is greedy and batched (``eval_batch_size`` sessions per generate call).

Is SFT + GRPO better than SFT alone? Both score the *same* sessions, so the question is
about the per-session differences ``d_i = r_i(after) − r_i(before)``: :func:`paired_bootstrap`
resamples sessions with replacement and reports the mean difference with a percentile
confidence interval. Pairing removes the (large) variation between sessions; an interval
that excludes 0 means the improvement is not an accident of which sessions were drawn.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..agent.harness import evaluate_system
from ..agent.systems import make_system
from ..episodes import SessionExample
from ..hardware import release_memory
from ..io import atomic_write_json, read_json
from ..models import load_chat_model
from ..outcome import outcome_accuracy
from .datasets import make_agent
from .settings import TrainConfig, resolve_precision

__all__ = ["evaluate_model", "evaluate_noop", "paired_bootstrap", "paired_from_results", "precision_dtype"]


def paired_bootstrap(before: Sequence[float], after: Sequence[float], *, n_boot: int = 2000, seed: int = 0,
                     confidence: float = 0.95) -> dict[str, Any]:
    """Mean of ``after − before`` over paired sessions, with a percentile bootstrap interval.

    Returns ``{"n", "mean_before", "mean_after", "mean_diff", "ci_low", "ci_high",
    "confidence", "excludes_zero", "p_le_zero", "wins", "losses", "ties"}``; ``p_le_zero`` is the
    share of resamples whose mean difference is ≤ 0 (a one-sided bootstrap p-value).
    """
    a, b = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"need two equally long, non-empty lists of per-session scores (got {a.shape}, "
                         f"{b.shape})")
    d = b - a
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(d), size=(n_boot, len(d)))
    means = d[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - confidence) / 2, 1 - (1 - confidence) / 2])
    return {"n": int(len(d)), "mean_before": round(float(a.mean()), 4),
            "mean_after": round(float(b.mean()), 4), "mean_diff": round(float(d.mean()), 4),
            "ci_low": round(float(lo), 4), "ci_high": round(float(hi), 4), "confidence": confidence,
            "excludes_zero": bool(lo > 0 or hi < 0), "p_le_zero": round(float((means <= 0).mean()), 4),
            "wins": int((d > 1e-9).sum()), "losses": int((d < -1e-9).sum()),
            "ties": int((np.abs(d) <= 1e-9).sum()), "n_boot": n_boot}


def paired_from_results(before: dict[str, Any], after: dict[str, Any], *, metric: str = "r_trans",
                        **kw: Any) -> dict[str, Any]:
    """:func:`paired_bootstrap` of two evaluation results on their common sessions."""
    key = lambda r: (r["user_id"], r["session_id"])  # noqa: E731
    a = {key(r): r[metric] for r in before["per_session"]}
    b = {key(r): r[metric] for r in after["per_session"]}
    common = sorted(set(a) & set(b))
    if not common:
        raise ValueError("the two results share no session")
    return paired_bootstrap([a[k] for k in common], [b[k] for k in common], **kw)


def precision_dtype(precision: str) -> str:
    """Config precision → the inference backend's dtype name."""
    return {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}.get(precision, "auto")


def _probe_accuracy(results: list[Any], rows: Sequence[dict[str, Any]]) -> tuple[list[float], float]:
    probes = {r["session_id"]: json.loads(r.get("probes") or "[]") for r in rows}
    per = [outcome_accuracy(res.state_after.entries, probes.get(res.session_id, [])) for res in results]
    return per, (sum(per) / len(per) if per else math.nan)


def _score(system: Any, examples: Sequence[SessionExample], rows: Sequence[dict[str, Any]],
           cfg: TrainConfig, *, label: str, progress: bool | Callable[..., Any]) -> dict[str, Any]:

    res = evaluate_system(system, examples, batch_size=cfg.eval_batch_size, seed=cfg.seed,
                          mld=cfg.r_trans_options(),
                          progress=progress, keep_results=True)
    kept = res.pop("results")
    per, acc = _probe_accuracy(kept, rows)
    for rec, a in zip(res["per_session"], per):
        rec["probe_accuracy"] = round(a, 4)
    res["probe_accuracy"] = round(acc, 4)
    res["label"] = label
    return res


def evaluate_noop(examples: Sequence[SessionExample], rows: Sequence[dict[str, Any]],
                  cfg: TrainConfig) -> dict[str, Any]:
    """The "do nothing" floor on the same sessions (no model)."""

    return _score(make_system("noop"), examples, rows, cfg, label="no-op", progress=False)


def evaluate_model(cfg: TrainConfig, examples: Sequence[SessionExample], rows: Sequence[dict[str, Any]], *,
                   adapter: str | os.PathLike[str] | None = None, label: str = "base", device: str = "cpu",
                   cache: str | os.PathLike[str] | None = None, progress: bool | Callable[..., Any] = False,
                   agent_cfg: TrainConfig | None = None) -> dict[str, Any]:
    """Evaluate the base model, or the base model with ``adapter``, as the inference agent.

    Args:
        cfg: the run's config (model, agent, evaluation settings, main MLD settings).
        examples, rows: the held-out sessions and their RL rows (for the probes).
        adapter: a LoRA adapter folder written by training (None: the base model).
        label: the row's name in tables (``base``, ``sft``, ``sft+grpo`` …).
        cache: a JSON file; if it exists with the same sessions it is returned instead of
            recomputing (resume), else the result is written there atomically.
        agent_cfg: the config the agent is built from when it differs from ``cfg`` (an
            ablation's ``allow_delete``); the reward settings always come from ``cfg``.
    """

    wanted = [f"{e.user_id}/{e.session_id}" for e in examples]
    if cache is not None and Path(cache).is_file():
        old = read_json(cache)
        if [f"{r['user_id']}/{r['session_id']}" for r in old.get("per_session", [])] == wanted:
            return old
    release_memory()  # a trainer that ran before in this process has returned: hand its memory back
    spec = cfg.model
    model = load_chat_model(spec, device=device, dtype=precision_dtype(resolve_precision(cfg, device)),
                            load_adapter=adapter, batch_size=cfg.eval_batch_size,
                            chat_template_kwargs=cfg.chat_template_kwargs() or None)
    agent = make_agent(agent_cfg or cfg, model)
    res = _score(agent, examples, rows, cfg, label=label, progress=progress)
    res["adapter"] = str(adapter) if adapter else None
    if cache is not None:
        atomic_write_json(cache, res)
    return res
