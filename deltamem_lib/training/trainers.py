"""SFT warm start and GRPO with a LoRA adapter, on TRL (DeltaMem §3.3, "DeltaMem-RL").

* :func:`load_policy` — the base model (SmolLM2 offline, or any Hub id / folder) with a LoRA
  adapter, new or loaded from a folder for further training;
* :func:`run_sft` — TRL ``SFTTrainer`` on the pre-tokenised gold targets
  (:func:`~deltamem_lib.training.datasets.sft_records`), loss on the assistant's tokens only;
* :func:`run_grpo` — TRL ``GRPOTrainer``: one prompt = one session, ``num_generations``
  rollouts per prompt, rewards from :mod:`.rewards` (the one-shot agent through
  :class:`~deltamem_lib.training.prefix_grpo.PrefixSharingGRPOTrainer` when
  ``share_prompt_prefix``, on a CPU: the same step, each group's shared prompt run once at
  generation and in the loss). The ReAct agent trains through ``environment_factory`` (one
  :class:`~deltamem_lib.agent.env.MemoryEnv` per rollout, started from the gold state before
  the session, whose ``get_reward`` is ``r_trans``); the one-shot agent answers in one turn,
  so its rollouts are applied by the reward functions through the same environment class.

GRPO in one paragraph: for each prompt, sample a *group* of G rollouts, score each, and use
the reward's deviation from the group mean (divided by the group's std) as the advantage of
every token of that rollout; the policy gradient raises the likelihood of the better-than-
average rollouts and lowers the others. No value network is needed — the group is the
baseline — but a group whose rollouts all score the same teaches nothing
(``frac_reward_zero_std`` in the log). The state reward is *dense*: partial credit for every
correct entry, so rollouts of one session rarely tie; see notebook 04.

Both runners write checkpoints (``save_steps``) and continue from the last one when called
again with ``resume=True`` (TRL/transformers ``resume_from_checkpoint``); the finished
adapter is saved to ``<dir>/adapter``, loadable by
``deltamem_lib.models.load_chat_model(model, load_adapter=...)``.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..agent.env import MemoryEnv, make_env_factory, note_unknown_calls
from ..hardware import release_memory
from ..io import atomic_write_json, read_json
from ..models import ensure_smollm2
from ..models.chat_templates import has_tool_template, set_tool_chat_template
from .datasets import TrainingData, grpo_rows, prompt_rows, sft_records, sft_rows
from .gpu import NonFiniteGuard, explain_nonfinite, is_sampling_overflow
from .metrics import MetricsLogger, read_metrics, step_times
from .rewards import build_reward_functions, env_owns_reward
from .settings import TrainConfig, grpo_config, resolve_precision, sft_config

__all__ = ["PhaseResult", "base_model_path", "finished_phase", "is_main_process", "last_checkpoint",
           "load_policy", "run_grpo", "run_sft"]


def is_main_process() -> bool:
    """False in the non-zero ranks of a multi-GPU launch (``accelerate launch``): they train,
    the main process alone evaluates and writes results."""
    return int(os.environ.get("RANK", "0")) == 0


@dataclass
class PhaseResult:
    """What a training phase produced."""

    phase: str
    adapter: Path
    metrics_path: Path
    steps: int
    seconds: float
    step_time: dict[str, Any] = field(default_factory=dict)
    resumed_from: int | None = None
    skipped: bool = False
    cpu_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "adapter": str(self.adapter), "metrics": str(self.metrics_path),
                "steps": self.steps, "seconds": round(self.seconds, 1),
                "cpu_seconds": None if self.cpu_seconds is None else round(self.cpu_seconds, 1),
                "step_time": self.step_time, "resumed_from": self.resumed_from}


def base_model_path(model: str) -> str:
    """``'smollm2'`` → the converted offline copy (:func:`deltamem_lib.models.ensure_smollm2`);
    anything else is passed to ``from_pretrained`` as is."""
    if model.lower() in ("smollm2", "smollm2-135m", "smollm2-135m-instruct"):

        return str(ensure_smollm2())
    return model


#: The linear layers of a Llama / Qwen3 decoder block ("all-linear" spelled out).
_LINEAR_NAMES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _dtype(precision: str) -> Any:
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def load_policy(cfg: TrainConfig, *, device: str = "cpu", adapter: str | os.PathLike[str] | None = None,
                trainable: bool = True) -> tuple[Any, Any]:
    """``(model, tokenizer)``: the base model with a LoRA adapter (new, or ``adapter`` loaded).

    The tokenizer gets a tool-calling chat template and response parser (the model's own if it
    has one, the compact ChatML template otherwise), exactly as the inference backend does.
    With fp16 (a T4) the base weights are fp16 and the adapter stays fp32, as the mixed-
    precision optimiser needs.
    """
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer


    path = base_model_path(cfg.model)
    local = Path(path).is_dir()
    tok = AutoTokenizer.from_pretrained(path, local_files_only=local)
    set_tool_chat_template(tok, "keep" if has_tool_template(tok) else "compact")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    precision = resolve_precision(cfg, device)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=_dtype(precision), local_files_only=local)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tok.pad_token_id
    if adapter is not None:
        if not (Path(adapter) / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{adapter}: no adapter_config.json; expected a PEFT adapter folder")
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=trainable)
    else:
        targets: Any = cfg.lora_target_modules
        extra: dict[str, Any] = {}
        if cfg.lora_layers > 0:
            n = int(model.config.num_hidden_layers)
            extra["layers_to_transform"] = list(range(max(0, n - cfg.lora_layers), n))
            if targets == "all-linear":  # PEFT needs explicit names together with layers_to_transform
                targets = _LINEAR_NAMES
        if isinstance(targets, str) and targets != "all-linear":
            targets = [t.strip() for t in targets.split(",") if t.strip()]
        model = get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                                 lora_dropout=cfg.lora_dropout, target_modules=targets,
                                                 task_type="CAUSAL_LM", **extra))
    return model.to(device), tok


@contextlib.contextmanager
def _guarded(trainer_ref: list[Any], precision: str) -> Iterator[None]:
    """Run a trainer: an inf/nan sampling error becomes an error naming the fallback, and
    whatever the trainer held (its vLLM engine, the model, CUDA cache) is handed back on the
    way out, so the next trainer of the process starts with the memory free."""
    try:
        yield
    except RuntimeError as exc:
        if is_sampling_overflow(exc):
            raise FloatingPointError(explain_nonfinite(f"sampling met inf/nan probabilities ({exc})",
                                                       precision)) from exc
        raise
    finally:
        release_memory(*trainer_ref)
        trainer_ref.clear()


def _count_unknown_tools(fn: Any) -> Any:
    """A reward function that first counts, in each environment, the rollout's calls to tools
    that do not exist (TRL answers them without the environment; see
    :func:`~deltamem_lib.agent.env.note_unknown_calls`)."""
    import functools

    @functools.wraps(fn)
    def wrapped(*args: Any, completions: Any = (), environments: Any = None, **kwargs: Any) -> Any:
        for completion, env in zip(completions or (), environments or ()):
            if isinstance(env, MemoryEnv):
                note_unknown_calls(env, completion)
        return fn(*args, completions=completions, environments=environments, **kwargs)

    return wrapped


@contextlib.contextmanager
def _quiet_warnings() -> Iterator[None]:
    """Silence transformers' deprecation notices about the checkpointing names it still calls
    internally (one per step otherwise), nothing else."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
        yield


def last_checkpoint(folder: str | os.PathLike[str]) -> Path | None:
    """The ``checkpoint-N`` folder with the highest N (None if there is none)."""
    p = Path(folder)
    if not p.is_dir():
        return None
    cps = [c for c in p.glob("checkpoint-*") if c.is_dir() and c.name.split("-")[-1].isdigit()]
    return max(cps, key=lambda c: int(c.name.split("-")[-1])) if cps else None


def _finish(trainer: Any, out: Path, phase: str, metrics_path: Path, t0: float, resumed: int | None,
            cfg: TrainConfig, cpu0: float) -> PhaseResult:
    adapter = out / "adapter"
    trainer.save_model(str(adapter))  # the adapter only (PEFT), written by the main process
    records = read_metrics(metrics_path, phase)
    res = PhaseResult(phase, adapter, metrics_path, int(trainer.state.global_step), time.perf_counter() - t0,
                      step_times(records), resumed, cpu_seconds=time.process_time() - cpu0)
    if trainer.is_world_process_zero():
        atomic_write_json(out / "phase.json", {**res.to_dict(), "config": cfg.to_dict(), "finished": True})
    trainer.accelerator.wait_for_everyone()
    return res


def finished_phase(out: Path) -> PhaseResult | None:
    """The result of a finished phase folder (``phase.json`` says finished and the adapter is
    there), or None."""
    info = out / "phase.json"
    if info.is_file() and (out / "adapter" / "adapter_config.json").is_file():
        d = read_json(info)
        if d.get("finished"):
            return PhaseResult(d["phase"], out / "adapter", out.parent / "metrics.jsonl", int(d["steps"]),
                               float(d["seconds"]), d.get("step_time", {}), d.get("resumed_from"),
                               skipped=True, cpu_seconds=d.get("cpu_seconds"))
    return None


def run_sft(cfg: TrainConfig, data: TrainingData, out_dir: str | os.PathLike[str], *, device: str = "cpu",
            resume: bool = True, progress: bool = False, snapshot_steps: list[int] | tuple[int, ...] = ()
            ) -> PhaseResult:
    """SFT warm start on ``cfg.sft_examples`` gold targets of the training users.

    Writes ``<out_dir>/adapter``, ``<out_dir>/checkpoints`` and appends to
    ``<out_dir>/../metrics.jsonl`` (phase ``"sft"``). A finished phase is not rerun; an
    interrupted one continues from its last checkpoint when ``resume``. ``snapshot_steps``:
    also keep the adapter after these optimiser steps (``<out_dir>/snapshots/step-N``).
    """
    from datasets import Dataset
    from trl import SFTTrainer

    out = Path(out_dir)
    done = finished_phase(out) if resume else None
    if done is not None:
        return done
    t0, cpu0 = time.perf_counter(), time.process_time()
    release_memory()  # what an earlier trainer of this process left (its frame has returned by now)
    rows = sft_rows(data.train_rows, cfg)
    model, tok = load_policy(cfg, device=device)
    records = sft_records(rows, tok, cfg)
    if not records:
        raise ValueError("no SFT example fits sft_max_length; raise it or check the data")
    metrics_path = out.parent / "metrics.jsonl"
    ckpt = last_checkpoint(out / "checkpoints") if resume else None
    precision, held = resolve_precision(cfg, device), [model]
    with _quiet_warnings(), _guarded(held, precision):
        trainer = SFTTrainer(model=model, args=sft_config(cfg, out / "checkpoints", device=device),
                             train_dataset=Dataset.from_list(records), processing_class=tok,
                             callbacks=[MetricsLogger(metrics_path, phase="sft", progress=progress),
                                        _snapshots(out / "snapshots", snapshot_steps),
                                        NonFiniteGuard(precision)])
        held.append(trainer)
        del model
        trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
        return _finish(trainer, out, "sft", metrics_path, t0, int(ckpt.name.split("-")[-1]) if ckpt else None,
                       cfg, cpu0)


def _snapshots(folder: Path, steps: list[int] | tuple[int, ...]) -> Any:
    from transformers import TrainerCallback

    wanted = set(int(s) for s in steps)

    class AdapterSnapshots(TrainerCallback):
        """Save the adapter after the given optimiser steps (``snapshots/step-N``)."""

        def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
            if state.global_step in wanted and model is not None:
                target = folder / f"step-{state.global_step}"
                if not (target / "adapter_config.json").is_file():
                    model.save_pretrained(str(target))

    return AdapterSnapshots()


def _env_factory(cfg: TrainConfig, *, owns_reward: bool) -> Any:
    env_cls = make_env_factory(**cfg.env_options())
    if not owns_reward:  # the named reward functions score the rollout; hide get_reward from TRL
        env_cls = type("MemoryEnv", (env_cls,), {"get_reward": None, "__module__": env_cls.__module__,
                                                  "__doc__": env_cls.__doc__})
    return env_cls


def run_grpo(cfg: TrainConfig, data: TrainingData, out_dir: str | os.PathLike[str], *,
             init_adapter: str | os.PathLike[str] | None = None, device: str = "cpu", resume: bool = True,
             progress: bool = False, phase: str = "grpo", stop_after: int | None = None,
             snapshot_steps: list[int] | tuple[int, ...] = ()) -> PhaseResult:
    """GRPO on the training users' sessions, continuing the adapter ``init_adapter`` (the SFT
    warm start) or a fresh LoRA adapter.

    Args:
        cfg: the settings; ``grpo_max_steps`` optimiser steps of ``prompts_per_step`` sessions ×
            ``num_generations`` rollouts.
        data: :func:`~deltamem_lib.training.datasets.prepare_data`'s rows.
        out_dir: phase folder (``adapter/``, ``checkpoints/``, ``phase.json``); the metrics go
            to ``<out_dir>/../metrics.jsonl`` tagged with ``phase``.
        init_adapter: the adapter to continue training (ignored when resuming a checkpoint,
            which holds the adapter as it was).
        resume: skip a finished phase; continue an interrupted one from its last checkpoint.
        stop_after: stop after this many steps (after saving a checkpoint) — simulates an
            interruption for the resume demonstration.
        snapshot_steps: also save the adapter after these steps to ``snapshots/step-N``
            (the ablations are compared with the main run at their step count).
    """
    from datasets import Dataset
    from trl import GRPOTrainer


    out = Path(out_dir)
    done = finished_phase(out) if resume else None
    if done is not None and stop_after is None:
        return done
    t0, cpu0 = time.perf_counter(), time.process_time()
    ckpt = last_checkpoint(out / "checkpoints") if resume else None
    release_memory()  # what an earlier trainer of this process left (its frame has returned by now)
    model, tok = load_policy(cfg, device=device, adapter=init_adapter)
    owns = env_owns_reward(cfg)
    funcs, weights, _ = build_reward_functions(cfg, env_owns_reward=owns)
    args = grpo_config(cfg, out / "checkpoints", device=device)
    args.reward_weights = weights
    metrics_path = out.parent / "metrics.jsonl"
    kwargs: dict[str, Any] = {}
    if cfg.agent == "react":
        kwargs["environment_factory"] = _env_factory(cfg, owns_reward=owns)
        funcs = [_count_unknown_tools(f) for f in funcs]
    trainer_cls = GRPOTrainer
    if cfg.share_prompt_prefix and cfg.agent == "oneshot" and not cfg.use_vllm and device == "cpu":
        from .prefix_grpo import PrefixSharingGRPOTrainer as trainer_cls  # same step, each prompt run once
    precision, held = resolve_precision(cfg, device), [model]
    with _quiet_warnings(), _guarded(held, precision):
        trainer = trainer_cls(model=model, reward_funcs=funcs, args=args,
                              train_dataset=Dataset.from_list(prompt_rows(grpo_rows(data.train_rows, cfg),
                                                                          cfg)),
                              processing_class=tok,
                              callbacks=[MetricsLogger(metrics_path, phase=phase, progress=progress,
                                                       stop_after=stop_after),
                                         _snapshots(out / "snapshots", snapshot_steps),
                                         NonFiniteGuard(precision)],
                              **kwargs)
        held.append(trainer)
        del model
        trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
        resumed = int(ckpt.name.split("-")[-1]) if ckpt else None
        if stop_after is not None and trainer.state.global_step < cfg.grpo_max_steps:
            return PhaseResult(phase, out / "adapter", metrics_path, int(trainer.state.global_step),
                               time.perf_counter() - t0, {}, resumed)
        return _finish(trainer, out, phase, metrics_path, t0, resumed, cfg, cpu0)
