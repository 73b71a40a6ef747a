"""The per-step metrics log of a training run: ``metrics.jsonl``, one JSON object per step.

:class:`MetricsLogger` is a ``transformers.TrainerCallback``: at every logging step it
appends one line with the step, the wall time of the step, and what TRL logged — for GRPO
each reward component's mean and std (``rewards/<name>/mean``), ``reward``, ``reward_std``,
``frac_reward_zero_std`` (groups whose rollouts all scored the same, so they teach nothing),
``completions/mean_length``, the tool-call frequencies, and the rollout statistics the reward
functions record (``rollouts/invalid_call_rate`` …). Each line is written with one
``write`` call on a file opened for appending and flushed to disk, so a crash leaves whole
lines; on resume the lines after the checkpoint's step are dropped (rewritten atomically)
so the log matches the model.

:func:`read_metrics` reads it back (last record per step wins), :func:`step_times` summarises
the time per step.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ..io import append_jsonl, atomic_write_jsonl, iter_jsonl

__all__ = ["MetricsLogger", "peak_memory_gb", "read_metrics", "step_times", "truncate_metrics"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def read_metrics(path: str | os.PathLike[str], phase: str | None = None) -> list[dict[str, Any]]:
    """The records of a metrics log, one per (phase, step) — the last one written wins —
    in the order the phases first appear, by step; ``phase`` keeps one phase."""
    p = Path(path)
    if not p.exists():
        return []
    by_key: dict[tuple[str, int], dict[str, Any]] = {}
    order: list[str] = []
    for _, rec in iter_jsonl(p):
        if isinstance(rec, dict) and "step" in rec:
            ph = str(rec.get("phase", ""))
            if ph not in order:
                order.append(ph)
            by_key[(ph, int(rec["step"]))] = rec
    keys = sorted(by_key, key=lambda k: (order.index(k[0]), k[1]))
    return [by_key[k] for k in keys if phase is None or k[0] == phase]


def truncate_metrics(path: str | os.PathLike[str], last_step: int, *, phase: str | None = None) -> int:
    """Drop the records of ``phase`` (or of every phase) after ``last_step``, atomically —
    what a resumed run does so the log matches the checkpoint. Returns the records kept."""
    if not Path(path).exists():
        return 0
    keep = [r for r in read_metrics(path)
            if int(r["step"]) <= last_step or (phase is not None and r.get("phase") != phase)]
    atomic_write_jsonl(path, keep)
    return len(keep)


def step_times(records: list[dict[str, Any]], *, skip_first: int = 1) -> dict[str, float | None]:
    """Mean and median seconds per optimiser step (the first step, which warms caches, left out)."""
    times = sorted(float(r["step_time_s"]) for r in records[skip_first:] if r.get("step_time_s") is not None)
    if not times and records:
        times = sorted(float(r["step_time_s"]) for r in records if r.get("step_time_s") is not None)
    if not times:
        return {"mean_s": None, "median_s": None, "steps": 0}
    mid = len(times) // 2
    median = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
    return {"mean_s": round(sum(times) / len(times), 3), "median_s": round(median, 3), "steps": len(times)}


class MetricsLogger(TrainerCallback):
    """Append one JSON line per logging step to ``path`` (see the module docstring).

    Args:
        path: the ``metrics.jsonl`` file.
        phase: recorded in every line (``"sft"``, ``"grpo"``, ``"ablation:<name>"``).
        progress: show a tqdm bar over the optimiser steps.
        stop_after: stop training after this global step (after its checkpoint is written) —
            how the notebook simulates an interrupted run.
    """

    def __init__(self, path: str | os.PathLike[str], *, phase: str = "grpo", progress: bool = False,
                 stop_after: int | None = None) -> None:
        self.path = Path(path)
        self.phase = phase
        self.progress = progress
        self.stop_after = stop_after
        self._bar: Any = None
        self._t_step: float | None = None
        self._durations: list[float] = []
        self._peak_mem: float | None = None

    # ----- lifecycle --------------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        truncate_metrics(self.path, state.global_step, phase=self.phase)
        if self.progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.phase, unit="step")

    def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._t_step = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self._t_step is not None:
            self._durations.append(time.perf_counter() - self._t_step)
        self._peak_mem = peak_memory_gb()
        if self._bar is not None:
            self._bar.update(state.global_step - self._bar.n)
        if self.stop_after is not None and state.global_step >= self.stop_after:
            control.should_save = True
            control.should_training_stop = True

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kw: Any) -> None:
        logs = dict(logs or {})
        if not logs or "train_runtime" in logs:  # the end-of-training summary is not a step
            return
        rec: dict[str, Any] = {"phase": self.phase, "step": int(state.global_step),
                               "time": round(time.time(), 3)}
        if self._durations:
            rec["step_time_s"] = round(sum(self._durations) / len(self._durations), 3)
            self._durations = []
        if self._peak_mem is not None:
            rec["peak_memory_gb"] = round(self._peak_mem, 3)
        if hasattr(os, "getloadavg"):  # how busy the machine was: step times on a shared CPU depend on it
            rec["load_1min"] = round(os.getloadavg()[0], 2)
        rec.update({k: _clean(v) for k, v in logs.items()})
        append_jsonl(self.path, [rec])
        if self._bar is not None:
            shown = {k: rec[k] for k in ("reward", "loss") if isinstance(rec.get(k), (int, float))}
            self._bar.set_postfix({k: round(v, 3) for k, v in shown.items()}, refresh=False)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def peak_memory_gb() -> float | None:
    """Peak GPU memory (GB) where CUDA is in use, else the process's peak resident memory."""
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            return torch.cuda.max_memory_allocated() / 1e9
    except ImportError:  # pragma: no cover
        pass
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux
    except (ImportError, AttributeError):  # pragma: no cover
        return None


def zero_spread_share(records: list[dict[str, Any]]) -> float | None:
    """Share of GRPO groups whose rollouts all scored the same (zero advantage: no signal),
    over the whole run: the mean of TRL's per-step ``frac_reward_zero_std``."""
    vals = [float(r["frac_reward_zero_std"]) for r in records if r.get("frac_reward_zero_std") is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def reward_curve(records: list[dict[str, Any]], key: str = "rewards/r_trans/mean") -> list[float]:
    """A logged reward per GRPO step (the steps that logged it), in step order."""
    return [float(r[key]) for r in records if r.get(key) is not None]


def reward_thirds(records: list[dict[str, Any]], key: str = "rewards/r_trans/mean") -> dict[str, Any]:
    """Mean of a logged reward over the first and the last third of the GRPO steps (whether
    the training reward rose), with the number of steps in each third."""
    vals = reward_curve(records, key)
    if len(vals) < 3:
        return {"metric": key, "first_third": None, "last_third": None, "steps_per_third": 0}
    k = len(vals) // 3
    first, last = vals[:k], vals[-k:]
    return {"metric": key, "first_third": round(sum(first) / k, 4), "last_third": round(sum(last) / k, 4),
            "steps_per_third": k}


def per_operation_table(evaluations: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What each evaluated system learned, per operation type: op F1 for ADD / UPDATE / DELETE,
    predicted and gold counts, and r_trans on sessions with and without changes."""
    out = {}
    for label, ev in evaluations.items():
        f1 = ev.get("op_f1") or {}
        out[label] = {
            "sessions": ev.get("sessions"),
            "r_trans": ev.get("r_trans_mean"),
            "r_trans_changed_sessions": ev.get("r_trans_changed_sessions"),
            "r_trans_unchanged_sessions": ev.get("r_trans_unchanged_sessions"),
            **{f"{op}_f1": (f1.get(op) or {}).get("f1") for op in ("ADD", "UPDATE", "DELETE")},
            **{f"{op}_predicted": (f1.get(op) or {}).get("predicted") for op in ("ADD", "UPDATE", "DELETE")},
            **{f"{op}_gold": (f1.get(op) or {}).get("gold") for op in ("ADD", "UPDATE", "DELETE")},
        }
    return out
