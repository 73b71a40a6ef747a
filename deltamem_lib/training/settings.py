"""Settings of a training run (DeltaMem §3.3, "DeltaMem-RL"), cleanrl-style: one dataclass.

:class:`TrainConfig` holds every knob of the pipeline — data, model and LoRA, the optional
SFT warm start, GRPO, the reward and its ablations, the evaluation. Each field carries a
one-line help (``TrainConfig.help()``); the defaults are the ``smallest`` profile (a few
steps, for tests), and a profile section (``profiles/<name>.yaml`` → ``04_rl_training``) or
``deltamem train --set key=value`` overrides them. The notebook's ``parameters`` cell uses the
same names.

:func:`grpo_config` and :func:`sft_config` turn it into TRL's ``GRPOConfig`` / ``SFTConfig``.
Every GRPO option whose default moved between TRL releases is set explicitly there, one
comment per option, so a run means the same thing under another TRL version.

:data:`ABLATIONS` are the paper's and the workbook's ablations as named config changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ablation_names import check_ids
from ..config import field_help, settings_from_profile
from ..config import setting as _f
from ..hardware import DeviceCaps, best_precision, device_caps
from ..io import DataFileError, atomic_write_json, read_json
from ..mld import MLDOptions
from ..typed_settings import Layer, build

__all__ = ["ABLATIONS", "GRPO_FIELDS", "GRPO_FIXED", "TrainConfig", "apply_ablation", "grpo_config",
           "grpo_options", "grpo_options_table", "precision_flags", "SFT_FIELDS", "SFT_FIXED",
           "resolve_precision", "sft_config"]


@dataclass
class TrainConfig:
    """Everything a training run needs; ``TrainConfig.help()`` lists each field's help line."""

    # ----- run --------------------------------------------------------------------------------
    profile: str = _f("smallest", "profile name, recorded in every results file")
    seed: int = _f(0, "seed of sampling, shuffling and LoRA initialisation")
    # ----- data -------------------------------------------------------------------------------
    data_dir: str = _f("", "a `deltamem synth` output folder to train on; empty: synthesise with the "
                           "settings below")
    train_users: int = _f(6, "synthetic training users (procedural generator)")
    test_users: int = _f(3, "held-out synthetic users for evaluation (never seen in training)")
    sessions_per_user: int = _f(4, "sessions per synthetic user")
    data_seed: int = _f(1234, "seed of the synthetic data (training and test users are disjoint)")
    level: str = _f("full", "task level: 'full' (the generator's sessions) or 'single' (one change or none "
                            "per session, balanced over ADD/UPDATE/DELETE/none, a few turns and memories: "
                            "the CPU-sized level)")
    full_level_eval_sessions: int = _f(0, "level 'single': also evaluate the trained adapters on this many "
                                          "held-out sessions of the full level (0: off)")
    sft_examples: int = _f(4, "gold trajectories in the SFT warm start")
    eval_sessions: int = _f(4, "held-out sessions evaluated (a seeded sample of the test users' sessions)")
    # ----- model and agent --------------------------------------------------------------------
    model: str = _f("smollm2", "'smollm2' (offline SmolLM2-135M-Instruct), a Hub id such as Qwen/Qwen3-4B, "
                               "or a folder")
    agent: str = _f("oneshot", "'oneshot' (memories in the prompt, one JSON list out) or 'react' (multi-turn "
                               "tools)")
    prompt_style: str = _f("full", "one-shot prompt: 'full' or 'compact' (short instructions, the user's "
                                   "turns only)")
    related_k: int = _f(10, "one-shot: memories shown in the prompt")
    retriever: str = _f("lexical", "retriever of the related memories / search_memory: lexical (BM25) or "
                                   "embedding")
    precision: str = _f("auto", "'auto' (fp32 on CPU, bf16 on a bf16 GPU, fp16 on a T4), 'fp32', 'bf16', "
                                "'fp16'")
    enable_thinking: bool = _f(False, "Qwen3 chat template: allow <think> blocks (off: answer directly)")
    lora_r: int = _f(16, "LoRA rank")
    lora_alpha: int = _f(32, "LoRA scaling alpha")
    lora_dropout: float = _f(0.0, "LoRA dropout")
    lora_target_modules: str = _f("all-linear", "modules that get LoRA adapters ('all-linear' or "
                                                "comma-separated names)")
    lora_layers: int = _f(0, "LoRA on the top N transformer layers only (0: all); backward stops below them, "
                             "~2x cheaper on CPU")
    # ----- SFT warm start ---------------------------------------------------------------------
    sft: bool = _f(True, "run the SFT warm start on gold trajectories before GRPO")
    sft_epochs: float = _f(1.0, "SFT epochs over the gold trajectories")
    sft_max_steps: int = _f(2, "SFT optimiser steps (-1: use sft_epochs)")
    sft_learning_rate: float = _f(5e-4, "SFT learning rate (LoRA)")
    sft_batch_size: int = _f(2, "SFT sequences per device per step")
    sft_grad_accum: int = _f(1, "SFT gradient accumulation steps")
    sft_unchanged_share: float = _f(-1.0, "share of SFT examples drawn from sessions that change nothing "
                                          "(-1: the data's own mix)")
    sft_max_length: int = _f(1024, "SFT: longest tokenised trajectory kept (longer ones are dropped)")
    sft_seed: int = _f(-1, "seed of the SFT warm start (its examples, shuffling, LoRA initialisation); -1: "
                           "seed. GRPO seeds of one SFT start keep the start's seed here, so GRPO never "
                           "trains on SFT's sessions")
    sft_from: str = _f("", "a finished SFT phase folder (adapter/ and phase.json, e.g. another run's sft/) "
                           "to start GRPO from instead of training SFT again: GRPO seeds of one SFT start; "
                           "empty: train SFT")
    # ----- GRPO -------------------------------------------------------------------------------
    grpo: bool = _f(True, "run GRPO after the (optional) SFT warm start")
    grpo_max_steps: int = _f(2, "GRPO optimiser steps")
    grpo_add_only_keep: float = _f(1.0, "share of ADD-only sessions GRPO trains on (sessions that revise or "
                                        "change nothing are all kept)")
    learning_rate: float = _f(5e-5, "GRPO learning rate (TRL's default 1e-6 is for full fine-tuning)")
    lr_scheduler_type: str = _f("constant", "GRPO learning-rate schedule")
    warmup_steps: int = _f(0, "GRPO warm-up steps")
    beta: float = _f(0.0, "KL coefficient against the reference policy: with an SFT start, TRL keeps a "
                          "frozen copy of the start's adapter as the reference (0: none is kept)")
    loss_type: str = _f("dapo", "GRPO loss aggregation: dapo, grpo, dr_grpo, bnpo …")
    scale_rewards: str = _f("group", "advantage scaling: group (divide by the group's std), batch or none")
    num_generations: int = _f(2, "rollouts per prompt: the GRPO group")
    prompts_per_step: int = _f(1, "sessions (prompts) per optimiser step")
    gradient_accumulation_steps: int = _f(1, "GRPO gradient accumulation (generation is split the same way)")
    max_completion_length: int = _f(32, "generated tokens per rollout (ReAct: all turns and tool results "
                                        "together)")
    temperature: float = _f(1.0, "sampling temperature of the rollouts")
    top_p: float = _f(1.0, "nucleus sampling of the rollouts (1: off)")
    top_k: int = _f(0, "top-k sampling of the rollouts (0: off)")
    num_iterations: int = _f(1, "optimiser passes over each generated batch (μ in the GRPO paper)")
    epsilon: float = _f(0.2, "PPO clipping range of the importance ratio")
    importance_sampling_level: str = _f("token", "importance ratio per token or per sequence (GSPO)")
    mask_truncated_completions: bool = _f(False, "leave completions cut by max_completion_length out of the "
                                                 "loss")
    multi_objective_aggregation: str = _f("sum_then_normalize",
                                          "combine reward components: sum_then_normalize or "
                                          "normalize_then_sum")
    max_tool_calling_iterations: int = _f(4, "ReAct: tool-calling turns per rollout (TRL's default: "
                                             "unlimited)")
    share_prompt_prefix: bool = _f(True, "one-shot agent without vLLM, on a CPU: run each group's shared "
                                         "prompt once, at generation and in the loss (exact; "
                                         "PrefixSharingGRPOTrainer); False: TRL's GRPOTrainer as is (always "
                                         "on a GPU, until the GPU smoke test has measured it there)")
    gradient_checkpointing: bool = _f(False, "recompute activations in the backward pass (saves GPU memory, "
                                             "slower on CPU)")
    logging_steps: int = _f(1, "log metrics every N steps")
    save_steps: int = _f(1, "write a checkpoint every N GRPO steps (resume continues from the last one)")
    save_total_limit: int = _f(2, "checkpoints kept")
    use_vllm: bool = _f(False, "generate rollouts with vLLM (GPU only)")
    vllm_mode: str = _f("colocate", "vLLM mode: colocate (same GPU as training) or server")
    vllm_gpu_memory_utilization: float = _f(0.3, "share of GPU memory vLLM may take in colocate mode")
    vllm_max_model_length: int = _f(2048, "vLLM's context: longest prompt + max_completion_length (unset, "
                                          "vLLM reserves KV cache for the model's own 40,960 tokens on "
                                          "Qwen3)")
    # ----- reward -----------------------------------------------------------------------------
    reward: str = _f("state", "'state': r_trans, the MLD of the state (DeltaMem); 'outcome': probe-question "
                              "accuracy (AtomMem / Memory-R1)")
    similarity: str = _f("lexical", "MLD similarity: lexical (Dice) or embedding (MiniLM)")
    threshold: float = _f(0.5, "MLD threshold tau")
    lexical_fidelity: bool = _f(True, "MLD keyword check (False: the ablation of the paper's Figure 3)")
    scope: str = _f("delta", "MLD scope: delta (r_trans) or state (whole states)")
    ordered: bool = _f(False, "score with the ordered Levenshtein variant instead of the order-free MLD")
    allow_delete: bool = _f(True, "offer DELETE (False: the no-DELETE ablation)")
    w_state: float = _f(1.0, "weight of the state reward r_trans")
    w_state_aux: float = _f(0.0, "weight of the auxiliary MLD reward (aux_scope) next to r_trans (0: off)")
    aux_scope: str = _f("transition", "auxiliary MLD: 'state' (r_state, whole states) or 'transition' "
                                      "(r_transition: the entries the session touches; beyond the spec)")
    w_ops: float = _f(1.0, "weight of the operation-level shaping reward r_ops (gold operations matched by "
                           "id; 0: off)")
    w_idle: float = _f(0.5, "weight of the idle penalty: -1 when the session changes something and the "
                            "rollout nothing")
    w_outcome: float = _f(1.0, "weight of the outcome reward (used when reward='outcome')")
    w_invalid: float = _f(0.5, "weight of the invalid-call penalty (share of rejected operations)")
    w_format: float = _f(0.5, "weight of the format penalty (-1 when the output cannot be read)")
    # ----- evaluation -------------------------------------------------------------------------
    eval_batch_size: int = _f(8, "sessions generated together in evaluation")
    eval_max_new_tokens: int = _f(48, "generation budget per model call in evaluation")
    eval_base: bool = _f(True, "also evaluate the untrained base model")
    bootstrap_samples: int = _f(1000, "paired bootstrap resamples for the confidence intervals")
    # ----- ablations --------------------------------------------------------------------------
    ablations: list = _f(["outcome_reward"], "ablations to run after the main run, by name (see ABLATIONS)")
    ablation_steps: int = _f(1, "GRPO steps of each ablation run (from the same SFT adapter)")
    ablation_eval_sessions: int = _f(2, "held-out sessions evaluated per ablation")

    # ----- helpers ----------------------------------------------------------------------------
    @classmethod
    def help(cls) -> dict[str, str]:
        """Field name → one-line help."""
        return field_help(cls)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, strict: bool = False,
                    source: str = "settings") -> TrainConfig:
        """A config from a mapping of typed values (a saved ``config.json``, a notebook's globals),
        names and types checked like every other source (:func:`deltamem_lib.typed_settings.build`).

        Keys that are not fields are ignored, or refused with ``strict=True``, naming the closest
        field. A profile goes through :meth:`from_profile` instead.
        """
        names = set(cls.field_names())
        values = dict(params) if strict else {k: v for k, v in params.items() if k in names}
        return build(cls, [Layer(values, source)], what="TrainConfig")

    @classmethod
    def from_profile(cls, profile: Any = None, overrides: Any = None) -> TrainConfig:
        """The config of ``profile``'s ``04_rl_training`` section (a name in ``profiles/``, a YAML
        path anywhere, a :class:`~deltamem_lib.config.Profile`, or None: the defaults), then
        ``overrides`` (a mapping of typed values, or :class:`~deltamem_lib.typed_settings.Layer`
        objects such as ``parse_set(args.set)``). Every name and type is checked once and the
        combined config validated; a refusal is a ``SettingsError`` naming the source and field
        (:func:`deltamem_lib.config.settings_from_profile`)."""
        return settings_from_profile(cls, profile, overrides, section="04_rl_training")

    @property
    def sft_seed_value(self) -> int:
        """The seed of the SFT warm start: ``sft_seed``, or ``seed`` when it is -1."""
        return self.sft_seed if self.sft_seed >= 0 else self.seed

    def replace(self, **changes: Any) -> TrainConfig:
        """This config with ``changes``, checked like every other source of a setting."""
        return build(type(self), [Layer(self.to_dict(), "config"), Layer(changes, "replace()")])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Raise ``ValueError`` listing every bad setting."""
        p: list[str] = []
        choice = {"level": ("full", "single"), "agent": ("oneshot", "react"), "reward": ("state", "outcome"),
                  "scope": ("delta", "state"), "aux_scope": ("state", "transition"),
                  "prompt_style": ("full", "compact"), "precision": ("auto", "fp32", "bf16", "fp16"),
                  "retriever": ("lexical", "embedding", "auto"), "scale_rewards": ("group", "batch", "none"),
                  "importance_sampling_level": ("token", "sequence"),
                  "multi_objective_aggregation": ("sum_then_normalize", "normalize_then_sum"),
                  "vllm_mode": ("colocate", "server")}
        for name, allowed in choice.items():
            if getattr(self, name) not in allowed:
                p.append(f"{name}={getattr(self, name)!r}: expected one of {allowed}")
        for name in ("train_users", "test_users", "sessions_per_user", "num_generations", "prompts_per_step",
                     "gradient_accumulation_steps", "max_completion_length", "eval_batch_size", "lora_r",
                     "eval_sessions", "save_steps", "logging_steps", "bootstrap_samples"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                p.append(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if not isinstance(self.full_level_eval_sessions, int) or self.full_level_eval_sessions < 0:
            p.append("full_level_eval_sessions must be an integer >= 0, got "
                     f"{self.full_level_eval_sessions!r}")
        if self.num_generations < 2:
            p.append("num_generations must be >= 2: GRPO compares rollouts within a group")
        if (self.prompts_per_step * self.num_generations) % self.gradient_accumulation_steps:
            p.append(f"prompts_per_step × num_generations ({self.prompts_per_step * self.num_generations}) "
                     f"must be divisible by gradient_accumulation_steps ({self.gradient_accumulation_steps})")
        if self.use_vllm and self.precision == "fp32":
            p.append("use_vllm needs a GPU: set precision to bf16 (A100) or fp16 (T4), or turn use_vllm off")
        if self.vllm_max_model_length <= self.max_completion_length:
            p.append(f"vllm_max_model_length ({self.vllm_max_model_length}) must exceed "
                     f"max_completion_length ({self.max_completion_length}): it holds the prompt as well")
        if not 0.0 < self.vllm_gpu_memory_utilization < 1.0:
            p.append("vllm_gpu_memory_utilization must be in (0, 1), got "
                     f"{self.vllm_gpu_memory_utilization!r}")
        if self.agent == "react" and self.max_tool_calling_iterations < 1:
            p.append("the ReAct agent needs max_tool_calling_iterations >= 1")
        if self.ablation_steps < 0 or (self.ablations and self.ablation_steps < 1):
            p.append(f"ablation_steps must be >= 1 when ablations run, got {self.ablation_steps!r}")
        if not 0.0 <= self.threshold <= 1.0:
            p.append(f"threshold must be in [0, 1], got {self.threshold!r}")
        if not isinstance(self.ablations, (list, tuple)):
            p.append(f"ablations must be a list of names, got {self.ablations!r}")
        else:
            try:
                check_ids(self.ablations, "training")
            except ValueError as e:
                p.append(str(e))
        if p:
            raise ValueError("invalid training settings:\n" + "\n".join(f"  - {x}" for x in p))

    # ----- derived ----------------------------------------------------------------------------
    @property
    def completions_per_step(self) -> int:
        """Rollouts per optimiser step: ``prompts_per_step × num_generations``."""
        return self.prompts_per_step * self.num_generations

    def env_options(self) -> dict[str, Any]:
        """The :func:`~deltamem_lib.agent.env.make_env_factory` options this config implies."""
        return {"allow_delete": self.allow_delete, "retriever": self.retriever, "mld": self.mld_options()}

    def mld_options(self) -> MLDOptions:
        """The training reward's MLD settings as one checked, frozen value."""
        return MLDOptions(similarity=self.similarity, threshold=self.threshold,
                          lexical_fidelity=self.lexical_fidelity, scope=self.scope)

    def r_trans_options(self) -> MLDOptions:
        """The paper's ``r_trans`` (delta scope, lexical fidelity on) with this config's similarity
        and threshold: what held-out evaluation and every ablation are judged with."""
        return dataclasses.replace(self.mld_options(), scope="delta", lexical_fidelity=True)

    def chat_template_kwargs(self) -> dict[str, Any]:
        """Extra chat-template variables (Qwen3's ``enable_thinking``; ignored by other templates)."""
        return {"enable_thinking": self.enable_thinking} if "qwen3" in self.model.lower() else {}

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        data = read_json(path)
        if not isinstance(data, dict):
            raise DataFileError(f"{path}: expected an object of settings, got {type(data).__name__}")
        return cls.from_params(data, source=str(path))


#: Ablations as config changes, keyed by the ids of :data:`deltamem_lib.ablation_names.ABLATION_NAMES`
#: (its "training" side; notebook 05 uses the same ids for the reward and agent sides). Each is a
#: short GRPO run from the same SFT adapter, scored on held-out sessions with the *main* reward
#: (r_trans, lexical fidelity on), so the rows are comparable: the ablation changes what the model
#: is trained on, not how it is judged.
ABLATIONS: dict[str, dict[str, Any]] = {
    "no_lexical_fidelity": {"lexical_fidelity": False},  # the paper's Figure 3
    "state_scope": {"scope": "state", "w_state_aux": 0.0},    # whole-state instead of delta MLD
    "ordered_mld": {"ordered": True, "w_state_aux": 0.0},     # the ordered Levenshtein variant (whole state)
    # AtomMem / Memory-R1: answer probe questions
    "outcome_reward": {"reward": "outcome", "w_state_aux": 0.0},
    "no_delete": {"allow_delete": False},               # DELETE not offered
    "oneshot_agent": {"agent": "oneshot"},              # the one-shot JSON agent instead of ReAct + search
}


def apply_ablation(cfg: TrainConfig, name: str) -> TrainConfig:
    """``cfg`` with the changes of ablation ``name`` (see :data:`ABLATIONS`)."""
    check_ids([name], "training")
    return cfg.replace(**ABLATIONS[name], ablations=[])


def resolve_precision(cfg: TrainConfig, device: str, caps: DeviceCaps | None = None) -> str:
    """``auto`` → ``bf16`` on a GPU with bf16 in hardware (compute capability ≥ 8.0: A100, L4,
    H100), ``fp16`` on an older GPU (T4, where torch's ``is_bf16_supported()`` counts emulation),
    ``fp32`` on CPU/MPS. ``caps`` replaces the probe of the device (tests)."""
    if cfg.precision != "auto":
        return cfg.precision
    if device.startswith("cuda"):
        return best_precision(caps or device_caps(device))
    return "fp32"


def precision_flags(cfg: TrainConfig, device: str, caps: DeviceCaps | None = None) -> dict[str, bool]:
    """``use_cpu``, ``bf16`` and ``fp16`` of the trainer arguments for a device."""
    precision = resolve_precision(cfg, device, caps)
    return {"use_cpu": device == "cpu", "bf16": precision == "bf16", "fp16": precision == "fp16"}


def _quiet(build: Any, **kwargs: Any) -> Any:
    """Build a trainer config without transformers' FutureWarning about the name
    ``gradient_checkpointing`` (TRL's documented field, kept for readers of TRL's docs)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
        return build(**kwargs)


#: TRL's ``GRPOConfig`` options taken from a :class:`TrainConfig` field: (TRL option, our
#: field, why it is set). Every option whose default moved between TRL releases is here, so
#: the run does not depend on the installed TRL's defaults.
GRPO_FIELDS: tuple[tuple[str, str, str], ...] = (
    # --- optimisation
    ("learning_rate", "learning_rate", "TRL default 1e-6 (full fine-tuning); LoRA needs more"),
    ("lr_scheduler_type", "lr_scheduler_type", "constant: short runs, no decay to zero"),
    ("warmup_steps", "warmup_steps", "no warm-up by default"),
    ("max_steps", "grpo_max_steps", "a fixed number of optimiser steps"),
    ("gradient_accumulation_steps", "gradient_accumulation_steps", "micro-steps per optimiser step"),
    ("num_iterations", "num_iterations", "μ: passes per generated batch (default 1)"),
    ("seed", "seed", "default 42"),
    # --- GRPO objective
    ("beta", "beta", "KL weight; default 0.0 (was 0.04 before TRL 0.19)"),
    ("loss_type", "loss_type", 'default "dapo" (was "grpo", then "bnpo")'),
    ("scale_rewards", "scale_rewards", 'default "group" (was a bool)'),
    ("epsilon", "epsilon", "clip range, default 0.2"),
    ("importance_sampling_level", "importance_sampling_level", 'default "token"'),
    ("mask_truncated_completions", "mask_truncated_completions", "default False"),
    ("multi_objective_aggregation", "multi_objective_aggregation", 'default "sum_then_normalize"'),
    # --- rollouts
    ("num_generations", "num_generations", "group size G; default 8"),
    ("max_completion_length", "max_completion_length", "default 512 (includes tool results)"),
    ("temperature", "temperature", "default 1.0"),
    ("top_p", "top_p", "default 1.0"),
    ("top_k", "top_k", "default 0 (was None)"),
    ("max_tool_calling_iterations", "max_tool_calling_iterations", "default None: unlimited turns"),
    ("use_vllm", "use_vllm", "default False"),
    ("vllm_mode", "vllm_mode", '"colocate": vLLM shares the training GPU'),
    ("vllm_gpu_memory_utilization", "vllm_gpu_memory_utilization", "colocate: leave room for training"),
    ("vllm_max_model_length", "vllm_max_model_length", "default None: the model's 40,960 tokens of KV"),
    # --- hardware, logging and checkpoints
    ("gradient_checkpointing", "gradient_checkpointing", "default True (slower on CPU)"),
    ("logging_steps", "logging_steps", "default 10"),
    ("save_steps", "save_steps", "default 500"),
    ("save_total_limit", "save_total_limit", "keep the last few"),
)

#: ``GRPOConfig`` options the workbook fixes: (TRL option, value, why).
GRPO_FIXED: tuple[tuple[str, Any, str], ...] = (
    ("shuffle_dataset", True, "sessions in random order (default True)"),
    ("save_strategy", "steps", "checkpoints during training, for resume"),
    ("report_to", "none", "no external trackers; metrics go to metrics.jsonl"),
    ("log_completions", False, "the metrics callback records what we need"),
    ("disable_tqdm", True, "progress comes from the metrics callback"),
    ("remove_unused_columns", False, "the reward functions read the RL row's columns"),
)


def grpo_options(cfg: TrainConfig, output_dir: str | Path, *, device: str = "cpu") -> dict[str, Any]:
    """The keyword arguments of TRL's ``GRPOConfig`` for ``cfg``: :data:`GRPO_FIELDS` from the
    config, :data:`GRPO_FIXED`, and four derived from it (below). ``reward_weights`` is set by
    the trainer builder, one weight per reward function."""
    return {
        "output_dir": str(output_dir),
        **{trl: getattr(cfg, ours) for trl, ours, _ in GRPO_FIELDS},
        **{trl: value for trl, value, _ in GRPO_FIXED},
        # completions (not prompts) per device per micro-step since TRL 0.14: one optimiser step
        # sees prompts_per_step sessions × num_generations rollouts each
        "per_device_train_batch_size": cfg.completions_per_step // cfg.gradient_accumulation_steps,
        "chat_template_kwargs": cfg.chat_template_kwargs() or None,  # Qwen3: enable_thinking
        **precision_flags(cfg, device),  # use_cpu (default False would pick a visible GPU), bf16, fp16
    }


def grpo_options_table(cfg: TrainConfig, *, device: str = "cpu") -> list[dict[str, Any]]:
    """One row per ``GRPOConfig`` option the workbook sets: its value for ``cfg``, where it
    comes from (a config field, fixed, or derived) and why (notebook 04 shows this table)."""
    opts = grpo_options(cfg, "<run>/grpo/checkpoints", device=device)
    rows = [{"option": trl, "value": opts[trl], "from": f"cfg.{ours}", "why": why}
            for trl, ours, why in GRPO_FIELDS]
    rows += [{"option": trl, "value": v, "from": "fixed", "why": why} for trl, v, why in GRPO_FIXED]
    derived = {"per_device_train_batch_size": "prompts_per_step × num_generations / accumulation",
               "chat_template_kwargs": "Qwen3's enable_thinking", "use_cpu": f"device {device!r}",
               "bf16": "precision", "fp16": "precision"}
    rows += [{"option": k, "value": opts[k], "from": "derived", "why": why} for k, why in derived.items()]
    return rows


def grpo_config(cfg: TrainConfig, output_dir: str | Path, *, device: str = "cpu") -> Any:
    """TRL's ``GRPOConfig`` for ``cfg`` (:func:`grpo_options`)."""
    from trl import GRPOConfig

    return _quiet(GRPOConfig, **grpo_options(cfg, output_dir, device=device))


#: TRL's ``SFTConfig`` options of the warm start taken from a :class:`TrainConfig` field.
SFT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("learning_rate", "sft_learning_rate", "LoRA warm start"),
    ("num_train_epochs", "sft_epochs", "used when sft_max_steps is -1"),
    ("max_steps", "sft_max_steps", "-1: epochs decide"),
    ("per_device_train_batch_size", "sft_batch_size", "sequences per micro-step"),
    ("gradient_accumulation_steps", "sft_grad_accum", "micro-steps per optimiser step"),
    ("seed", "sft_seed_value", "the seed, or a shared SFT start's own"),
    ("gradient_checkpointing", "gradient_checkpointing", "default True (slower on CPU)"),
    ("logging_steps", "logging_steps", "default 10"),
)

#: ``SFTConfig`` options the workbook fixes: (TRL option, value, why).
SFT_FIXED: tuple[tuple[str, Any, str], ...] = (
    ("lr_scheduler_type", "cosine", "decay to zero over the warm start"),
    ("warmup_steps", 0, "short runs"),
    ("max_length", None, "sequences are pre-tokenised and filtered by length"),
    ("completion_only_loss", True, "one-shot: loss on the completion only"),
    ("assistant_only_loss", False, "ReAct: the pre-tokenised assistant mask decides"),
    ("packing", False, "one trajectory per sequence"),
    ("save_strategy", "steps", "checkpoints during training, for resume"),
    ("save_total_limit", 1, "the last checkpoint is enough to resume"),
    ("report_to", "none", "no external trackers"),
    ("disable_tqdm", True, "progress comes from the metrics callback"),
)


def sft_config(cfg: TrainConfig, output_dir: str | Path, *, device: str = "cpu") -> Any:
    """TRL's ``SFTConfig`` for the warm start (loss on the assistant's tokens only):
    :data:`SFT_FIELDS` from the config, :data:`SFT_FIXED`, the precision flags and the
    checkpoint interval (at least 10 steps)."""
    from trl import SFTConfig

    return _quiet(SFTConfig, output_dir=str(output_dir),
                  **{trl: getattr(cfg, ours) for trl, ours, _ in SFT_FIELDS},
                  **{trl: value for trl, value, _ in SFT_FIXED},
                  save_steps=max(cfg.save_steps, 10), **precision_flags(cfg, device))
