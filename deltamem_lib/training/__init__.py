"""Training the memory manager: SFT warm start and GRPO on the MLD reward (DeltaMem §3.3).

The paper's "DeltaMem-RL" trains the memory agent with GRPO on the state-transition reward
``r_trans``; here with TRL and a PEFT LoRA adapter, so the same code runs from a 2-core CPU
(SmolLM2-135M) to a Colab T4 (Qwen3-0.6B) to an A100 (Qwen3-4B/8B with vLLM rollouts).

* :mod:`.settings` — :class:`TrainConfig` (every knob, one help line each), TRL configs with every
  moved default set explicitly, and the ablations;
* :mod:`.datasets` — RL rows with the agent's own prompts, gold SFT targets, held-out users;
* :mod:`.rewards` — one named reward function per component (``r_trans``, ``outcome``,
  ``invalid_calls``, ``format``) following TRL's contract (the outcome reward's probe-question
  reader is :mod:`deltamem_lib.outcome`, shared with the benchmarks);
* :mod:`.trainers` — :func:`run_sft` and :func:`run_grpo` with checkpoints and resume;
* :mod:`.prefix_grpo` — TRL's GRPO trainer with each group's shared prompt run once (exact);
* :mod:`.metrics` — the per-step ``metrics.jsonl`` callback;
* :mod:`.heldout` — held-out evaluation and the paired bootstrap;
* :mod:`.plots` — the figures a run writes: reward dynamics (the paper's Figure 2), before/after;
* :mod:`.pipeline` — the whole run, stage by stage (``deltamem train`` and notebook 04);

Notebook 04's worked examples, tables and exercise checks are in
:mod:`deltamem_lib.teaching.rl_training`.

Heavy imports (torch, transformers, TRL) happen inside the functions that need them.
"""

from .settings import ABLATIONS, TrainConfig, apply_ablation, grpo_config, sft_config

__all__ = ["ABLATIONS", "TrainConfig", "apply_ablation", "grpo_config", "sft_config"]
