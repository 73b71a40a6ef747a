"""Time per optimiser step of the SFT warm start and of GRPO (notebook 04's profiles table).

Runs a few real steps of each phase on the model of a profile (default: the cpu profile's
SmolLM2-135M-Instruct, one-shot agent) and prints the median seconds per step, the first
step (warm-up) left out, plus the peak memory. On a GPU pass ``--profile gpu-a100`` (or
``colab-t4``) to measure the row of that profile's table.

Run: ``python speed/bench_train_step.py [--profile cpu] [--steps 3] [--set key=value ...]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def main() -> int:
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", help="profile whose 04_rl_training settings are timed")
    parser.add_argument("--steps", type=int, default=3, help="optimiser steps per phase (first one not "
                                                             "counted)")
    parser.add_argument("--set", nargs="*", default=(), metavar="KEY=VALUE", help="override settings")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    from deltamem_lib.config import pick_device
    from deltamem_lib.training.datasets import prepare_data
    from deltamem_lib.training.metrics import peak_memory_gb, read_metrics, step_times
    from deltamem_lib.training.settings import TrainConfig
    from deltamem_lib.training.trainers import run_grpo, run_sft
    from deltamem_lib.typed_settings import parse_set

    base = TrainConfig.from_profile(args.profile, parse_set(args.set))
    cfg = base.replace(sft_max_steps=args.steps, grpo_max_steps=args.steps, save_steps=10_000,
                       train_users=max(4, min(base.train_users, 40)))
    device = pick_device(args.device)
    data = prepare_data(cfg)
    print(f"profile {cfg.profile}: {cfg.model} ({cfg.agent}), device {device}; SFT batch "
          f"{cfg.sft_batch_size}, GRPO {cfg.prompts_per_step} prompts x {cfg.num_generations} rollouts, "
          f"{cfg.max_completion_length} completion tokens", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        sft = run_sft(cfg, data, os.path.join(tmp, "sft"), device=device, resume=False)
        sft_t = step_times(read_metrics(os.path.join(tmp, "metrics.jsonl"), "sft"))
        run_grpo(cfg, data, os.path.join(tmp, "grpo"), init_adapter=sft.adapter, device=device, resume=False)
        grpo_t = step_times(read_metrics(os.path.join(tmp, "metrics.jsonl"), "grpo"))
        total = time.perf_counter() - t0
    peak = peak_memory_gb()
    print(f"SFT  step: median {sft_t['median_s']} s (mean {sft_t['mean_s']} s over {sft_t['steps']} steps)")
    print(f"GRPO step: median {grpo_t['median_s']} s (mean {grpo_t['mean_s']} s over {grpo_t['steps']} "
          "steps)")
    print(f"peak memory: {peak:.1f} GB ({'GPU' if device == 'cuda' else 'process RSS'}); wall {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
