"""Rollouts per second of a GRPO step, TRL's GRPOTrainer against PrefixSharingGRPOTrainer.

Both run the same real GRPO steps (generation, rewards, loss, optimiser) through
``run_grpo`` on the same settings — a profile's one-shot prompt (default: the cpu profile,
SmolLM2-135M-Instruct, the single-change level), G rollouts per prompt — once with
``share_prompt_prefix=False`` (TRL as is, "before") and once with it on ("after"). A step's
rollouts per second is ``prompts_per_step × G / step seconds``, the median over the steps
after the first (warm-up).

The hardware bound counts the FLOPs a step needs with each group's prompt counted once
(prefill of the prompt, decoding of the G completions, the loss's forward over the prompt
once and over the G completions, its backward down to the lowest LoRA layer) and divides
the machine's measured fp32 matrix-multiply rate by it: the rollouts per second a step could
reach if every FLOP ran at that rate. The same count with the prompt read G times at
generation and in the loss (TRL's way; on CPU TRL's fused LM head also scores every prompt
position) is reported beside it. The machine may be shared: the 1-minute load average is
recorded before and after each mode, and each step's process CPU seconds beside its wall
seconds (with one torch thread, CPU seconds are the work done, whatever share of the cores
the process got; rollouts per CPU second is the load-independent comparison).

Run (from the repository root): ``PYTHONPATH=. python speed/bench_rollouts.py [--steps 3]
[--num-generations 8] [--json results/bench_rollouts_cpu.json]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def flops_per_group(mc: dict, *, prompt: float, completion: float, g: int, lora_layers: int,
                    shared: bool) -> dict[str, float]:
    """FLOPs of one group's generation and loss (forward + backward), fp32 multiply-adds × 2.

    ``mc``: hidden, intermediate, layers, heads, kv_heads, vocab. Linear layers cost 2 × params
    per token, attention 4 × hidden × context per token and layer, the LM head 2 × hidden ×
    vocab per scored position. The backward of frozen weights computes input gradients only
    (≈ the forward's FLOPs), from the top down to the lowest LoRA layer.
    """
    d, f, n, v = mc["hidden"], mc["intermediate"], mc["layers"], mc["vocab"]
    kv = d * mc["kv_heads"] // mc["heads"]
    lin = 2 * (2 * d * d + 2 * d * kv + 3 * d * f)  # per token and layer
    head = 2 * d * v
    top = n if lora_layers <= 0 else min(lora_layers, n)

    def body(tokens: float, ctx: float, layers: int) -> float:  # tokens attending to ~ctx keys
        return tokens * layers * (lin + 4 * d * ctx)

    p, c = prompt, completion
    reads = 1 if shared else g  # how often the prompt is run
    gen = reads * body(p, p / 2, n) + g * c * (body(1, p + c / 2, n) + head)
    # TRL on CPU scores every position
    fwd_prompt = reads * body(p, p / 2, n) + (0 if shared else g * p * head)
    fwd_comp = g * (body(c, p + c / 2, n) + c * head)
    bwd = reads * body(p, p / 2, top) + (0 if shared else g * p * head) + g * (body(c, p + c / 2, top)
                                                                               + c * head)
    return {"generation": gen, "loss_forward": fwd_prompt + fwd_comp, "loss_backward": bwd,
            "total": gen + fwd_prompt + fwd_comp + bwd}


def matmul_rate(seconds: float = 3.0) -> tuple[float, float]:
    """Measured fp32 matrix-multiply rate at the model's shapes, on the threads torch uses:
    (FLOP per wall second, FLOP per CPU second of this process)."""
    import torch

    a, b = torch.randn(2048, 576), torch.randn(576, 1536)
    a @ b
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    flop = n * 2 * 2048 * 576 * 1536
    return flop / (time.perf_counter() - t0), flop / max(time.process_time() - c0, 1e-9)


def prompt_lengths(cfg, data) -> list[int]:
    from deltamem_lib.training.datasets import grpo_rows, prompt_rows
    from deltamem_lib.training.trainers import load_policy

    _, tok = load_policy(cfg, trainable=False)
    rows = prompt_rows(grpo_rows(data.train_rows, cfg), cfg)[:64]
    return [len(tok.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=True,
                                        return_dict=True, **cfg.chat_template_kwargs())["input_ids"])
            for r in rows]


@contextlib.contextmanager
def phase_timer(totals: dict):
    """Add the wall seconds of GRPOTrainer's generation + rewards (``_generate_and_score_completions``),
    loss forward (``_compute_loss``) and whole micro-step (``training_step``) to ``totals``; both
    trainers inherit these three methods."""
    from trl import GRPOTrainer

    names = {"_generate_and_score_completions": "generation_and_rewards", "_compute_loss": "loss_forward",
             "training_step": "training_step"}
    saved = {n: getattr(GRPOTrainer, n) for n in names}

    def wrap(name, fn):
        def timed(self, *a, **kw):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(self, *a, **kw)
            finally:
                totals[names[name]] = totals.get(names[name], 0.0) + time.perf_counter() - t0
                if name == "training_step":
                    totals.setdefault("cpu_per_step", []).append(time.process_time() - c0)
        return timed

    for n, fn in saved.items():
        setattr(GRPOTrainer, n, wrap(n, fn))
    try:
        yield totals
    finally:
        for n, fn in saved.items():
            setattr(GRPOTrainer, n, fn)


def run_mode(cfg, data, adapter, shared: bool) -> dict:
    from deltamem_lib.training.metrics import read_metrics
    from deltamem_lib.training.trainers import run_grpo

    load0 = os.getloadavg()[0]
    totals: dict = {}
    with tempfile.TemporaryDirectory() as tmp, phase_timer(totals):
        run_grpo(cfg.replace(share_prompt_prefix=shared), data, os.path.join(tmp, "grpo"),
                 init_adapter=adapter, resume=False)
        recs = read_metrics(os.path.join(tmp, "metrics.jsonl"), "grpo")
    steps = max(1, len(recs))
    cpu = [round(c, 2) for c in totals.pop("cpu_per_step", [])]
    phases = {k: round(v / steps, 1) for k, v in totals.items()}
    if "training_step" in phases:  # what the micro-step spends outside generation and the loss forward
        phases["backward_and_rest"] = round(phases.pop("training_step") - sum(phases.values()), 1)
    times = [float(r["step_time_s"]) for r in recs]
    counted = times[1:] or times
    step = statistics.median(counted)
    return {"share_prompt_prefix": shared, "step_seconds": times, "median_step_s": round(step, 2),
            "rollouts_per_s": round(cfg.completions_per_step / step, 3),
            "completion_mean_length": [r.get("completions/mean_length") for r in recs],
            "load_1min": [round(load0, 2)] + [r.get("load_1min") for r in recs],
            "seconds_per_step_all_steps_mean": phases, "cpu_seconds_per_step": cpu,
            "rollouts_per_cpu_s": round(cfg.completions_per_step / statistics.median(cpu[1:] or cpu), 3)
            if cpu else None}


def main() -> int:
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--level", default="single", help="task level of the prompts (the cpu profile's: single)")
    ap.add_argument("--steps", type=int, default=3, help="GRPO steps per mode (the first is not counted)")
    ap.add_argument("--num-generations", type=int, default=8)
    ap.add_argument("--prompts-per-step", type=int, default=None, help="default: the profile's")
    ap.add_argument("--max-completion-length", type=int, default=48)
    ap.add_argument("--adapter", default=None, help="start from this (SFT) adapter; default: a fresh LoRA")
    ap.add_argument("--modes", default="before,after", help="before (TRL), after (shared prompt), or both")
    ap.add_argument("--set", nargs="*", default=(), metavar="KEY=VALUE", help="override settings")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default); on a shared "
                                                           "CPU one thread avoids the two threads waiting on "
                                                           "each other when one is preempted")
    ap.add_argument("--json", default=None, help="write the numbers to this file")
    args = ap.parse_args()
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)

    from deltamem_lib.training.datasets import prepare_data
    from deltamem_lib.training.settings import TrainConfig
    from deltamem_lib.training.trainers import base_model_path
    from deltamem_lib.typed_settings import parse_set

    base = TrainConfig.from_profile(args.profile, parse_set(args.set))
    cfg = base.replace(level=args.level, num_generations=args.num_generations,
                       prompts_per_step=args.prompts_per_step or base.prompts_per_step,
                       max_completion_length=args.max_completion_length, grpo_max_steps=args.steps,
                       save_steps=10_000, train_users=max(4, min(base.train_users, 40)), eval_sessions=4,
                       full_level_eval_sessions=0, sft=args.adapter is not None)
    data = prepare_data(cfg)
    plens = prompt_lengths(cfg, data)
    print(f"profile {cfg.profile} ({cfg.model}, {cfg.agent}, prompt {cfg.prompt_style}, level {cfg.level}): "
          f"{cfg.prompts_per_step} prompts x G={cfg.num_generations}, <= {cfg.max_completion_length} "
          f"completion tokens; prompt tokens median {statistics.median(plens)}", flush=True)
    modes = {}
    for name in args.modes.split(","):
        modes[name] = run_mode(cfg, data, args.adapter, shared=(name == "after"))
        print(f"{name:6s}: {modes[name]['rollouts_per_s']} rollouts/s (median step "
              f"{modes[name]['median_step_s']} s; steps {modes[name]['step_seconds']}; completion mean "
              f"length {modes[name]['completion_mean_length']}; load {modes[name]['load_1min']})", flush=True)
    report = bound(cfg, base_model_path(cfg.model), plens, modes)
    report.update({"settings": {k: getattr(cfg, k) for k in (
        "profile", "model", "agent", "prompt_style", "level", "num_generations", "prompts_per_step",
        "max_completion_length", "temperature", "lora_layers", "lora_r", "learning_rate")},
        "adapter": args.adapter, "prompt_tokens_median": statistics.median(plens), "modes": modes,
        "cpu_count": os.cpu_count(), "torch_threads": _threads(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    if "before" in modes and "after" in modes:
        report["speedup"] = round(modes["after"]["rollouts_per_s"] / modes["before"]["rollouts_per_s"], 2)
        print(f"speed-up: {report['speedup']}x")
    print(f"hardware bound (prompt once per group): {report['bound']['rollouts_per_s_prompt_once']} "
          f"rollouts/s at {report['bound']['matmul_gflops']} GFLOP/s; prompt read G times: "
          f"{report['bound']['rollouts_per_s_prompt_per_rollout']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def bound(cfg, model_path: str, plens: list[int], modes: dict) -> dict:
    """The FLOP counts per rollout and the rollouts per second the machine's matmul rate allows."""
    from transformers import AutoConfig

    c = AutoConfig.from_pretrained(model_path)
    mc = {"hidden": c.hidden_size, "intermediate": c.intermediate_size, "layers": c.num_hidden_layers,
          "heads": c.num_attention_heads, "kv_heads": c.num_key_value_heads, "vocab": c.vocab_size}
    lengths = [x for m in modes.values() for x in m["completion_mean_length"] if x is not None]
    comp = statistics.mean(lengths) if lengths else cfg.max_completion_length
    g, p = cfg.num_generations, statistics.median(plens)
    once = flops_per_group(mc, prompt=p, completion=comp, g=g, lora_layers=cfg.lora_layers, shared=True)
    each = flops_per_group(mc, prompt=p, completion=comp, g=g, lora_layers=cfg.lora_layers, shared=False)
    rate, cpu_rate = matmul_rate()
    return {"bound": {
        "matmul_gflops": round(rate / 1e9, 1), "load_1min_at_matmul": round(os.getloadavg()[0], 2),
        "matmul_gflop_per_cpu_s": round(cpu_rate / 1e9, 1),
        "rollouts_per_cpu_s_prompt_once": round(cpu_rate / (once["total"] / g), 3),
        "prompt_tokens": p, "completion_tokens": round(comp, 1),
        "gflop_per_rollout_prompt_once": round(once["total"] / g / 1e9, 2),
        "gflop_per_rollout_prompt_per_rollout": round(each["total"] / g / 1e9, 2),
        "breakdown_gflop_per_group_prompt_once": {k: round(x / 1e9, 1) for k, x in once.items()},
        "breakdown_gflop_per_group_prompt_per_rollout": {k: round(x / 1e9, 1) for k, x in each.items()},
        "rollouts_per_s_prompt_once": round(rate / (once["total"] / g), 2),
        "rollouts_per_s_prompt_per_rollout": round(rate / (each["total"] / g), 2)}}


if __name__ == "__main__":
    sys.exit(main())
