"""The whole DeltaMem-RL run, stage by stage: what ``deltamem train`` and notebook 04 execute.

Stages (each resumable — a finished stage is read back, an interrupted one continues from
its last checkpoint):

1. data — synthetic training users and disjoint held-out users (:mod:`.data`);
2. "before" — the no-op floor and the base model on the held-out sessions;
3. SFT warm start on gold targets, then evaluation;
4. GRPO from the SFT adapter, then evaluation (the adapter is also saved at the ablations'
   step count, so short ablation runs are compared with the main reward at equal steps);
5. ablations — short GRPO runs from the same SFT adapter with one setting changed, judged
   with the main ``r_trans``;
6. results — one JSON (profile, model, settings, measured step times, every evaluation,
   the paired bootstrap comparisons) and the two figures.

Folder layout under ``out_dir``: ``config.json``, ``metrics.jsonl``, ``sft/``, ``grpo/``,
``ablations/<name>/``, ``eval/<label>.json``, ``results/04_rl_training_<profile>.json``,
``figures/04_reward_dynamics_<profile>.png`` and ``figures/04_before_after_<profile>.png``
(each with the numbers as ``.json``).

The folder also holds ``deltamem_run.json``, the run's manifest: it marks the folder as a run
of this program and lists the entries a fresh start removes (:data:`RUN_ENTRIES`); a folder
without it (and without a run's ``config.json``) is never cleared, and nothing else in the
folder is touched. While a run is open its folder is locked (``.lock``, as bench work
folders are), so a second ``deltamem train --resume`` on it stops at once.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import pick_device
from ..episodes import parse_rl_row
from ..hardware import DeviceCaps, device_caps
from ..io import atomic_write_json, read_json
from ..workdir import WorkDirLock
from .datasets import TrainingData, prepare_data
from .decisions import adapter_kind_probabilities, decision_report, separation
from .gpu import preflight
from .heldout import evaluate_model, evaluate_noop, paired_from_results
from .metrics import per_operation_table, read_metrics, reward_thirds, zero_spread_share
from .plots import plot_before_after, plot_reward_dynamics
from .rewards import reward_on_mistakes
from .settings import TrainConfig, apply_ablation
from .trainers import PhaseResult, finished_phase, run_grpo, run_sft

__all__ = ["Run", "environment_info", "results_name", "start_run", "training_folder"]

NOTEBOOK = "04_rl_training"

#: Settings a resumed run may change: they add evaluations or ablation runs but do not touch
#: what was trained (e.g. ``deltamem train --resume --ablation outcome_reward`` after a main run).
RESUMABLE_CHANGES = frozenset({"ablations", "ablation_eval_sessions", "eval_sessions", "eval_batch_size",
                               "eval_base", "bootstrap_samples", "full_level_eval_sessions"})


#: Settings that decide what an SFT start is: a run continuing another run's start (``sft_from``)
#: must agree with it on these.
SFT_SETTINGS = ("model", "level", "prompt_style", "related_k", "retriever", "train_users", "test_users",
                "sessions_per_user", "data_seed", "data_dir", "sft_examples", "sft_epochs", "sft_max_steps",
                "sft_learning_rate", "sft_batch_size", "sft_grad_accum", "sft_unchanged_share",
                "sft_max_length", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules",
                "lora_layers")

#: What a run writes under its folder and a fresh start removes (results/ and figures/ are
#: overwritten, not removed).
RUN_ENTRIES = ("sft", "grpo", "ablations", "eval", "metrics.jsonl", "config.json")
RUN_MANIFEST = "deltamem_run.json"
_HELD_LOCKS: dict[str, Any] = {}


def training_folder(run_dir: str | os.PathLike[str]) -> Path:
    """The training folder of the run folder ``run_dir`` (:func:`start_run`'s layout)."""
    return Path(run_dir) / NOTEBOOK


def results_name(profile: str) -> str:
    return f"{NOTEBOOK}_{profile}"


def environment_info(device: str) -> dict[str, Any]:
    """Library versions and hardware, recorded with every result."""
    import peft
    import torch
    import transformers
    import trl

    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                            "transformers": transformers.__version__, "trl": trl.__version__,
                            "peft": peft.__version__, "device": device,
                            "torch_threads": torch.get_num_threads(), "cpu": platform.processor()
                            or platform.machine(), "cpu_count": os.cpu_count()}
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _mean_load(records: list[dict[str, Any]]) -> float | None:
    """Mean 1-minute load average over the logged steps (2 cores: above 2 the run shared the CPU)."""
    loads = [r["load_1min"] for r in records if r.get("load_1min") is not None]
    return round(sum(loads) / len(loads), 2) if loads else None


@dataclass
class Run:
    """A training run in its training folder ``out_dir``: call the stages in order (or
    :meth:`all`). Results and figures go to the run folder's ``results/`` and ``figures/`` (the
    training folder's parent, :func:`start_run`)."""

    cfg: TrainConfig
    out_dir: Path
    device: str = "cpu"
    progress: bool = False
    log: Callable[[str], None] = lambda m: None
    data: TrainingData | None = None
    phases: dict[str, PhaseResult] = field(default_factory=dict)
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def results_dir(self) -> Path:
        """The run folder's ``results/`` (the training folder's parent, :func:`start_run`)."""
        return Path(self.out_dir).parent / "results"

    @property
    def figures_dir(self) -> Path:
        """The run folder's ``figures/``."""
        return Path(self.out_dir).parent / "figures"

    # ----- stages -------------------------------------------------------------------------
    def prepare(self) -> TrainingData:
        t0 = time.perf_counter()
        self.data = prepare_data(self.cfg)
        self.timings["data_s"] = round(time.perf_counter() - t0, 1)
        self.log(f"data: {self.data.source}; {self.data.stats['train_sessions']} training and "
                 f"{self.data.stats['test_sessions']} held-out sessions")
        return self.data

    def _need_data(self) -> TrainingData:
        return self.data if self.data is not None else self.prepare()

    def eval_set(self, n: int | None = None, *, full_level: bool = False) -> tuple[list[Any],
                                                                                   list[dict[str, Any]]]:
        data = self._need_data()
        if full_level:  # level "single": the full-level sessions of the same held-out users
            view = TrainingData([], data.full_test_rows, data.source)
            rows = view.eval_rows(self.cfg.full_level_eval_sessions if n is None else n, seed=self.cfg.seed)
        else:
            rows = data.eval_rows(self.cfg.eval_sessions if n is None else n, seed=self.cfg.seed)
        return [parse_rl_row(r) for r in rows], rows

    def evaluate(self, label: str, adapter: str | os.PathLike[str] | None = None, *, n: int | None = None,
                 agent_cfg: TrainConfig | None = None, full_level: bool = False,
                 noop: bool = False) -> dict[str, Any]:
        """Evaluate one system on the held-out sessions (cached in ``eval/<label>.json``): the model
        with ``adapter`` (None: the base model), or with ``noop`` doing nothing; with ``full_level``
        on the full-level sessions of the held-out users (level ``"single"``)."""
        examples, rows = self.eval_set(n, full_level=full_level)
        t0 = time.perf_counter()
        cache = self.out_dir / "eval" / f"{label.replace(' ', '_').replace(':', '-')}.json"
        if noop:
            res = evaluate_noop(examples, rows, self.cfg)
            atomic_write_json(cache, res)
        else:
            res = evaluate_model(self.cfg, examples, rows, adapter=adapter, label=label, device=self.device,
                                 cache=cache, progress=self.progress, agent_cfg=agent_cfg)
        if self.cfg.level == "single" and not full_level:
            res["decisions"] = decision_report(res["per_session"], [r["kind"] for r in rows])
        self.evaluations[label] = res
        self.timings[f"eval_{label}_s"] = round(time.perf_counter() - t0, 1)
        self.log(f"{label}: held-out r_trans {res['r_trans_mean']:.3f} ± {res['r_trans_sem']:.3f} "
                 f"({res['sessions']} sessions), invalid calls {res['invalid_call_rate']:.2f}, "
                 f"unreadable {res['malformed_output_rate']:.2f}")
        return res

    def before(self) -> None:
        """The no-op floor and (if ``eval_base``) the untrained model."""
        self.evaluate("no-op", noop=True)
        if self.cfg.eval_base:
            self.evaluate("base")

    def sft(self) -> PhaseResult:
        if self.cfg.sft_from:  # the SFT start of another run, read back (GRPO seeds of one SFT start)
            res = finished_phase(Path(self.cfg.sft_from))
            if res is None:
                raise FileNotFoundError(f"sft_from={self.cfg.sft_from!r}: not a finished SFT phase folder "
                                        "(adapter/adapter_config.json and phase.json with finished=true)")
            start = Path(self.cfg.sft_from).parent / "config.json"  # the start's run, when it was one
            if start.is_file():
                theirs = TrainConfig.load(start)
                diff = sorted(k for k in SFT_SETTINGS if getattr(theirs, k) != getattr(self.cfg, k))
                if theirs.sft_seed_value != self.cfg.sft_seed_value:
                    diff.append("sft_seed")
                if diff:
                    raise ValueError(f"sft_from={self.cfg.sft_from!r}: that SFT start was trained with other "
                                     f"settings ({', '.join(diff)}; see {start})")
            self.phases["sft"] = res
            self.log(f"SFT: the start of {self.cfg.sft_from} ({res.steps} steps in {res.seconds:.0f} s "
                     f"there; its seed {self.cfg.sft_seed_value})")
            return res
        res = run_sft(self.cfg, self._need_data(), self.out_dir / "sft", device=self.device,
                      progress=self.progress)
        self.phases["sft"] = res
        self.log(f"SFT: {res.steps} steps in {res.seconds:.0f} s"
                 + (" (already done)" if res.skipped else ""))
        return res

    def grpo(self, *, stop_after: int | None = None) -> PhaseResult:
        init = self.phases["sft"].adapter if "sft" in self.phases else None
        # the adapter after `ablation_steps` steps is kept, so ablations (now or added later) compare at
        # equal steps
        snaps = [self.cfg.ablation_steps] if 0 < self.cfg.ablation_steps < self.cfg.grpo_max_steps else []
        res = run_grpo(self.cfg, self._need_data(), self.out_dir / "grpo", init_adapter=init,
                       device=self.device, progress=self.progress, stop_after=stop_after,
                       snapshot_steps=snaps)
        if stop_after is None or res.steps >= self.cfg.grpo_max_steps:
            self.phases["grpo"] = res
        self.log(f"GRPO: step {res.steps} of {self.cfg.grpo_max_steps} after {res.seconds:.0f} s"
                 + (f" (resumed from step {res.resumed_from})" if res.resumed_from else "")
                 + (" (already done)" if res.skipped else ""))
        return res

    @property
    def trained_label(self) -> str:
        return "sft+grpo" if self.cfg.sft else "grpo"

    def ablation(self, name: str) -> dict[str, Any]:
        """A short GRPO run with one setting changed, from the SFT adapter, evaluated with the
        main reward on the first ``ablation_eval_sessions`` held-out sessions."""
        acfg = apply_ablation(self.cfg, name).replace(grpo_max_steps=self.cfg.ablation_steps,
                                                      save_steps=max(1, self.cfg.ablation_steps))
        init = self.phases["sft"].adapter if "sft" in self.phases else None
        res = self.phases.get(f"ablation:{name}") or run_grpo(
            acfg, self._need_data(), self.out_dir / "ablations" / name, init_adapter=init, device=self.device,
            progress=self.progress, phase=f"ablation:{name}")
        self.phases[f"ablation:{name}"] = res
        return self.evaluate(f"ablation: {name}", res.adapter, n=self.cfg.ablation_eval_sessions,
                             agent_cfg=acfg)

    def ablations(self) -> None:
        if not self.cfg.ablations:
            return
        snap = self.out_dir / "grpo" / "snapshots" / f"step-{self.cfg.ablation_steps}"
        if (snap / "adapter_config.json").is_file():
            self.evaluate(f"{self.trained_label}@{self.cfg.ablation_steps}", snap,
                          n=self.cfg.ablation_eval_sessions)
        for name in self.cfg.ablations:
            self.ablation(name)

    # ----- results ------------------------------------------------------------------------
    def comparisons(self) -> dict[str, dict[str, Any]]:
        """Paired bootstrap comparisons: each trained row against the row before it."""
        ev, cfg = self.evaluations, self.cfg
        out: dict[str, dict[str, Any]] = {}
        done: dict[tuple[str, str], dict[str, Any]] = {}

        def paired(label: str, ref: str) -> dict[str, Any]:
            if (label, ref) not in done:  # each pair is bootstrapped once, whatever its names
                done[label, ref] = {"reference": ref, **paired_from_results(
                    ev[ref], ev[label], n_boot=cfg.bootstrap_samples, seed=cfg.seed)}
            return done[label, ref]

        def add(label: str, ref: str) -> None:
            if label in ev and ref in ev:
                out[label] = paired(label, ref)

        add("base", "no-op")
        add("sft", "base" if "base" in ev else "no-op")
        add(self.trained_label, "sft" if cfg.sft else ("base" if "base" in ev else "no-op"))
        snap = f"{self.trained_label}@{cfg.ablation_steps}"
        for name in cfg.ablations:
            add(f"ablation: {name}", snap if snap in ev else ("sft" if cfg.sft else "no-op"))
        add(snap, "sft" if cfg.sft else "no-op")
        # the headline pairs, named for what they compare (the issue of a trained model is
        # whether it beats doing nothing as well as its own previous stage)
        for label, ref in ((self.trained_label, "no-op"), (self.trained_label, "sft"), ("sft", "no-op")):
            if label in ev and ref in ev and label != ref:
                out[f"{label} vs {ref}"] = paired(label, ref)
        return out

    def results(self, *, figures: bool = True) -> dict[str, Any]:
        """Write the results JSON (and figures) and return it."""
        cfg = self.cfg
        comps = self.comparisons()
        metrics_path = self.out_dir / "metrics.jsonl"
        grpo_records = read_metrics(metrics_path, "grpo")
        first_model = next((str(e["model"]).split("+")[0] for e in self.evaluations.values()
                            if e.get("model")),
                           cfg.model)
        summary = {k: {kk: vv for kk, vv in v.items() if kk not in ("per_session",)}
                   for k, v in self.evaluations.items()}
        sessions = {k: {"keys": [f"{r['user_id']}/{r['session_id']}" for r in v["per_session"]],
                        "r_trans": [r["r_trans"] for r in v["per_session"]],
                        "probe_accuracy": [r.get("probe_accuracy") for r in v["per_session"]]}
                    for k, v in self.evaluations.items()}
        from .metrics import step_times

        res = {
            "notebook": NOTEBOOK, "profile": cfg.profile, "level": cfg.level, "seed": cfg.seed,
            "model": first_model, "model_spec": cfg.model,
            "agent": cfg.agent, "agent_options": {"related_k": cfg.related_k,
                                                  "prompt_style": cfg.prompt_style,
                                                  "retriever": cfg.retriever,
                                                  "allow_delete": cfg.allow_delete,
                                                  "max_new_tokens": cfg.eval_max_new_tokens,
                                                  "decoding": "greedy"},
            "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "environment": environment_info(self.device),
            "data": {"source": self.data.source if self.data else None,
                     **(self.data.stats if self.data else {})},
            "training": {k: v.to_dict() for k, v in self.phases.items()},
            "training_seconds": round(sum(v.seconds for k, v in self.phases.items() if k in ("sft", "grpo")),
                                      1),
            "training_cpu_seconds": round(sum(v.cpu_seconds or 0.0 for k, v in self.phases.items()
                                              if k in ("sft", "grpo")), 1),
            "grpo_step_time": step_times(grpo_records),
            "grpo_peak_memory_gb": max((r.get("peak_memory_gb") or 0.0 for r in grpo_records), default=None),
            "training_load_1min_mean": _mean_load(read_metrics(metrics_path, "sft") + grpo_records),
            "grpo_zero_spread_share": zero_spread_share(grpo_records),
            "grpo_reward_thirds": reward_thirds(grpo_records),
            "reward_on_mistakes": reward_on_mistakes(cfg),
            "per_operation": per_operation_table(self.evaluations),
            "decisions": {k: v["decisions"] for k, v in self.evaluations.items() if "decisions" in v},
            "evaluation": summary,
            "comparisons": comps,
            "headline": comps.get(self.trained_label),
            "per_session": sessions,
            "timings": self.timings,
            "config": cfg.to_dict(),
        }
        name = results_name(cfg.profile)
        atomic_write_json(self.results_dir / f"{name}.json", res)
        if figures:
            self.figures(res)
        return res

    def figures(self, res: dict[str, Any] | None = None) -> dict[str, Any]:
        figs = {}
        records = read_metrics(self.out_dir / "metrics.jsonl", "grpo")
        title = f"{self.cfg.profile} profile, {self.cfg.model}"
        if records:
            figs["reward_dynamics"] = plot_reward_dynamics(
                records, title=title, save_dir=self.figures_dir,
                name=f"04_reward_dynamics_{self.cfg.profile}")
        if self.evaluations:
            main = {k: v for k, v in self.evaluations.items() if v["sessions"] == self.evaluations[
                next(iter(self.evaluations))]["sessions"]}
            comps = (res or {}).get("comparisons") or self.comparisons()
            figs["before_after"] = plot_before_after(
                main, {k: v for k, v in comps.items() if k in main}, title=title,
                save_dir=self.figures_dir, name=f"04_before_after_{self.cfg.profile}")
        return figs

    def train_all(self) -> None:
        """The training stages only (every process of a multi-GPU launch runs these)."""
        if self.cfg.sft:
            self.sft()
        if self.cfg.grpo:
            self.grpo()
        init = self.phases["sft"].adapter if "sft" in self.phases else None
        for name in self.cfg.ablations:
            acfg = apply_ablation(self.cfg, name).replace(grpo_max_steps=self.cfg.ablation_steps,
                                                          save_steps=max(1, self.cfg.ablation_steps))
            self.phases[f"ablation:{name}"] = run_grpo(
                acfg, self._need_data(), self.out_dir / "ablations" / name, init_adapter=init,
                device=self.device, progress=self.progress, phase=f"ablation:{name}")

    def separation(self, label: str, adapter: str | os.PathLike[str] | None) -> dict[str, Any]:
        """Teacher-forced kind probabilities of one adapter on the held-out single-change
        sessions and their separation (:mod:`.decisions`; cached in ``eval/separation_<label>.json``)."""
        cache = self.out_dir / "eval" / f"separation_{label.replace('+', '_')}.json"
        _, rows = self.eval_set()
        keys = [f"{r['user_id']}/{r['session_id']}" for r in rows]
        if cache.is_file() and read_json(cache).get("keys") == keys:
            return read_json(cache)["separation"]
        probs = adapter_kind_probabilities(self.cfg, adapter, rows, device=self.device)
        sep = separation(probs, [r["kind"] for r in rows])
        atomic_write_json(cache, {"keys": keys, "separation": sep, "probs": probs})
        return sep

    def evaluate_all(self) -> None:
        """Every evaluation (main process only), reading the adapters training wrote."""
        self.before()
        trained = [("sft", self.phases["sft"].adapter)] if self.cfg.sft else []
        if self.cfg.grpo:
            trained.append((self.trained_label, self.phases["grpo"].adapter))
        for label, adapter in trained:
            self.evaluate(label, adapter)
            self.add_separation(label, adapter)
        self.evaluate_full_level(trained)
        self.ablations()

    def add_separation(self, label: str, adapter: str | os.PathLike[str] | None) -> None:
        """On the single-change level with the one-shot agent, add the separation of the
        teacher-forced kind probabilities to the decisions of evaluation ``label``."""
        if self.cfg.level == "single" and self.cfg.agent == "oneshot":
            self.evaluations[label]["decisions"].update(self.separation(label, adapter))

    def evaluate_full_level(self, trained: list[tuple[str, Any]]) -> None:
        """Level "single" with ``full_level_eval_sessions``: doing nothing and each ``(label,
        adapter)`` on full-level sessions of the held-out users (``"<label> (full level)"``)."""
        if self.cfg.level == "single" and self.cfg.full_level_eval_sessions > 0:
            self.evaluate("no-op (full level)", full_level=True, noop=True)
            for label, adapter in trained:
                self.evaluate(f"{label} (full level)", adapter, full_level=True)

    def all(self) -> dict[str, Any]:
        """Every stage: training first (all processes), then evaluation and results (main process).

        Returns the results (an empty dict on the other processes of a multi-GPU launch).
        """
        from .trainers import is_main_process

        t0 = time.perf_counter()
        self.prepare()
        self.train_all()
        self.timings["training_s"] = round(time.perf_counter() - t0, 1)
        if not is_main_process():
            return {}
        self.evaluate_all()
        self.timings["total_s"] = round(time.perf_counter() - t0, 1)
        return self.results()


def _lock_run_folder(out: Path) -> None:
    """Hold ``out/.lock`` for the rest of this process (kept when this process opens the run again)."""
    key = str(out.resolve())
    if key not in _HELD_LOCKS:
        if not _HELD_LOCKS:
            atexit.register(_release_run_locks)
        _HELD_LOCKS[key] = WorkDirLock(out, what="--out").acquire()


def _release_run_locks() -> None:
    """Release the run folders this process holds (at exit; the kernel would drop them anyway)."""
    while _HELD_LOCKS:
        _HELD_LOCKS.popitem()[1].release()


def _run_entries(out: Path) -> list[str]:
    """The entries of the run in ``out`` a fresh start may remove; refuses a folder that is not a run.

    An absent or empty folder (the lock file aside) has none. A folder holding other files is a
    run if its manifest says so, or (runs made before manifests) if its ``config.json`` loads as
    a :class:`TrainConfig`; otherwise it is refused and nothing is touched.
    """
    if not out.is_dir():
        if out.exists():
            raise ValueError(f"{out}: is a file, not a run folder; choose another --out")
        return []
    present = [p.name for p in out.iterdir() if p.name != ".lock"]
    if not present:
        return []
    manifest = out / RUN_MANIFEST
    if manifest.is_file():
        rec = read_json(manifest)
        entries = rec.get("entries") if isinstance(rec, dict) else None
        if (not isinstance(rec, dict) or rec.get("program") != "deltamem train"
            or not isinstance(entries, list)
                or not all(isinstance(e, str) and e in RUN_ENTRIES for e in entries)):
            raise ValueError(f"{manifest}: field entries: not the manifest of a deltamem training run; the "
                             "folder is left as it is, choose another --out")
        return entries
    config = out / "config.json"
    if config.is_file():
        try:
            TrainConfig.load(config)
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{config}: not the settings of a deltamem training run ({exc}); the folder is "
                             "left as it is, choose another --out") from None
        return list(RUN_ENTRIES)
    raise ValueError(f"{out}: holds files "
                     f"({', '.join(sorted(present)[:3])}{', …' if len(present) > 3 else ''}) but is not a "
                     f"deltamem training run (no {RUN_MANIFEST} or config.json); nothing was removed, choose "
                     "an empty or new --out")


def _clear_run(out: Path, entries: list[str]) -> None:
    """Remove the entries a run wrote (only names of :data:`RUN_ENTRIES`); everything else stays."""
    import shutil

    for sub in entries:
        p = out / sub
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()


def start_run(cfg: TrainConfig, run_dir: str | os.PathLike[str], *, device: str | None = None,
              progress: bool = False, log: Callable[[str], None] | None = None, fresh: bool | str = False,
              caps: DeviceCaps | None = None) -> Run:
    """A :class:`Run` in the run folder ``run_dir``, laid out as every run of the workbook is
    (notebook 04 with ``output_dir=run_dir`` and ``deltamem train --out run_dir`` alike):

    * ``<run_dir>/04_rl_training/`` — the training folder (``config.json``, ``sft/``, ``grpo/``,
      ``eval/``, ``metrics.jsonl``; created, locked while open);
    * ``<run_dir>/results/04_rl_training_<profile>.json`` — the results;
    * ``<run_dir>/figures/`` — the figures, each beside its numbers.

    So notebook 05 (:func:`~deltamem_lib.benchmarks.paths.find_rl_run`), ``--collect-seeds`` and
    the tools find a run's adapter and results in one place, whoever trained it.

    First the preflight (:func:`~deltamem_lib.training.gpu.preflight`): a run that needs what the
    device lacks (a CUDA GPU, bf16 in hardware, vLLM, memory for its micro-batch) stops here,
    before any training, with the command that fixes it. ``caps`` replaces the device's probed
    capabilities (tests).

    ``fresh`` says what happens to a run already in the folder:

    * ``False`` — resume it; a folder written with *different* settings (other than
      :data:`RESUMABLE_CHANGES`) is refused, so a resume never mixes two settings;
    * ``"changed"`` — resume it when the settings match, otherwise clear it and start afresh
      (what a notebook wants: rerunning it continues an interrupted run, changing a parameter
      trains anew);
    * ``True`` — always clear it and start afresh.
    """
    if fresh not in (True, False, "changed"):
        raise ValueError(f"fresh must be True, False or 'changed', got {fresh!r}")
    device = device or pick_device()
    preflight(cfg, caps or device_caps(device))
    log = log or (lambda m: None)
    out = training_folder(run_dir)
    saved = out / "config.json"
    main = int(os.environ.get("RANK", "0")) == 0
    if main:
        _lock_run_folder(out)
    entries = _run_entries(out)
    clear = fresh is True and bool(entries)
    if saved.is_file() and fresh is not True:
        old = TrainConfig.load(saved).to_dict()
        diff = sorted(k for k, v in cfg.to_dict().items() if old.get(k) != v and k not in RESUMABLE_CHANGES)
        if diff and fresh == "changed":
            log(f"{out} held a run with other settings ({', '.join(diff)}): starting afresh")
            clear = True
        elif diff:
            raise ValueError(f"{out} holds a run with other settings ({', '.join(diff)}); use another --out "
                             "folder or start afresh (--fresh)")
        else:
            log(f"resuming the run in {out} (same settings)")
    if clear and main:
        _clear_run(out, entries)
    out.mkdir(parents=True, exist_ok=True)
    if main:
        atomic_write_json(out / RUN_MANIFEST, {"program": "deltamem train", "entries": list(RUN_ENTRIES)})
    cfg.save(saved)
    return Run(cfg, out, device=device, progress=progress, log=log)
