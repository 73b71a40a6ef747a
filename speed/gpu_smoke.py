"""GPU smoke test: the workbook's real SFT and GRPO code on a randomly initialised Qwen3, no network.

What it runs, per model shape and precision (fp16 always, bf16 where the GPU has it in hardware):

1. SFT warm start (``training.trainers.run_sft``) on one-shot gold targets;
2. GRPO with the one-shot agent (``run_grpo``, rewards applied through ``MemoryEnv``);
3. GRPO with the ReAct agent through TRL's ``environment_factory`` (``MemoryEnv`` per rollout).

The models are built from a config, never downloaded: Qwen3-0.6B's layers and widths, and a
Qwen3-4B-shaped variant, with the offline SmolLM2 tokenizer (vocabulary 49,152 instead of
Qwen's 151,936) speaking TRL's copy of Qwen3's chat template, so GRPO swaps in TRL's training
template exactly as it does for the real model. Random weights write random text: the ReAct
rollouts make no tool call (the environments are still created, reset and scored), and every
rollout runs to ``max_completion_length``, which is what a step costs at worst.

Per phase it records seconds per step (median, first step left out when there are more),
tokens per second (the trainer's ``num_tokens`` over those steps) and peak GPU memory, prints
them and writes them to ``results/gpu_smoke_<gpu>.json``. The GPU profiles' memory figures
are estimates (``deltamem_lib.training.gpu``); this is the measurement that can replace them.

Sized for about 10 minutes on one GPU (``--max-minutes`` stops starting new phases after
that). Without CUDA it says so and exits 0; ``--tiny --allow-cpu`` runs the same phases with a
2-layer model on a CPU in well under a minute (the test of this script).

Run: ``python speed/gpu_smoke.py [--shapes 0.6b 4b] [--out results/gpu_smoke_<gpu>.json]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Qwen3 layer and width settings (from the models' config.json); "tiny" is for the CPU test.
SHAPES: dict[str, dict[str, int]] = {
    "0.6b": dict(num_hidden_layers=28, hidden_size=1024, intermediate_size=3072, num_attention_heads=16,
                 num_key_value_heads=8, head_dim=128),
    "4b": dict(num_hidden_layers=36, hidden_size=2560, intermediate_size=9728, num_attention_heads=32,
               num_key_value_heads=8, head_dim=128),
    "tiny": dict(num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=2,
                 num_key_value_heads=1, head_dim=32),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", nargs="*", default=["0.6b", "4b"], choices=sorted(SHAPES),
                   help="model shapes to run, in order (default: 0.6b 4b)")
    p.add_argument("--precisions", nargs="*", default=None, choices=["fp16", "bf16", "fp32"],
                   help="default: fp16, and bf16 on a GPU of compute capability >= 8.0 (the 4b shape: the "
                        "best one)")
    p.add_argument("--sft-steps", type=int, default=4, help="SFT optimiser steps per run")
    p.add_argument("--grpo-steps", type=int, default=3, help="GRPO optimiser steps per run and agent")
    p.add_argument("--completion", type=int, default=128, help="max_completion_length of the rollouts")
    p.add_argument("--max-minutes", type=float, default=9.0,
                   help="start no new phase after this many minutes")
    p.add_argument("--tiny", action="store_true", help="the 2-layer shape, 2 SFT and 1 GRPO step of 2 "
                                                       "rollouts x 8 tokens")
    p.add_argument("--allow-cpu", action="store_true", help="run on a CPU too (fp32; for testing this "
                                                            "script)")
    p.add_argument("--out", default=None, help="results JSON (default: results/gpu_smoke_<gpu>.json)")
    args = p.parse_args(argv)
    args.generations, args.prompts, args.sft_batch = 4, 2, 4
    if args.tiny:
        args.shapes, args.sft_steps, args.grpo_steps, args.completion = ["tiny"], 2, 1, 8
        args.generations, args.prompts, args.sft_batch = 2, 1, 2
    return args


def gpu_slug(name: str) -> str:
    """``"NVIDIA A100-SXM4-40GB"`` → ``"a100-sxm4-40gb"`` (for the file name)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower().replace("nvidia", "").replace("tesla", "")).strip("-")
    return slug or "gpu"


def precisions_for(caps: Any, shape: str, chosen: list[str] | None) -> list[str]:
    """The precisions a shape runs in: fp32 on a CPU; fp16 and (capability >= 8.0) bf16 on a GPU,
    only the best one for the 4b shape (to fit the time)."""
    from deltamem_lib.hardware import best_precision

    if chosen:
        return list(chosen)
    if not caps.cuda:
        return ["fp32"]
    if shape == "4b":
        return [best_precision(caps)]
    return ["fp16", "bf16"] if caps.bf16 else ["fp16"]


def build_model(shape: str, folder: Path, precision: str, device: str) -> Path:
    """A randomly initialised Qwen3 of ``shape`` and the offline tokenizer with Qwen3's chat
    template, saved to ``folder`` (which load_policy then reads like a downloaded model)."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM
    from trl.chat_template_utils import qwen3_chat_template

    from deltamem_lib.models.smollm2 import smollm2_tokenizer

    tok = smollm2_tokenizer()
    tok.chat_template = qwen3_chat_template
    config = Qwen3Config(vocab_size=len(tok), max_position_embeddings=4096, tie_word_embeddings=True,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, **SHAPES[shape])
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[precision]
    default = torch.get_default_dtype()
    torch.manual_seed(0)
    try:
        torch.set_default_dtype(dtype)
        with torch.device(device):
            model = Qwen3ForCausalLM(config)
    finally:
        torch.set_default_dtype(default)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    del model
    return folder


def smoke_config(model_dir: Path, precision: str, args: argparse.Namespace, agent: str) -> Any:
    from deltamem_lib.training import TrainConfig

    return TrainConfig(
        profile="gpu-smoke", model=str(model_dir), agent=agent, precision=precision, retriever="lexical",
        similarity="lexical", train_users=8, test_users=2, sessions_per_user=3, sft_examples=16,
        sft_max_steps=args.sft_steps, sft_batch_size=args.sft_batch, sft_max_length=1024,
        grpo_max_steps=args.grpo_steps, num_generations=args.generations, prompts_per_step=args.prompts,
        max_completion_length=args.completion, max_tool_calling_iterations=2, gradient_checkpointing=True,
        save_steps=10_000, ablations=[], eval_base=False)


def phase_figures(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Median seconds per step (first step left out when there are more) and tokens per second
    from the trainer's cumulative ``num_tokens``."""
    timed = [r for r in records if r.get("step_time_s") is not None]
    counted = timed[1:] if len(timed) > 1 else timed
    times = sorted(float(r["step_time_s"]) for r in counted)
    median = times[len(times) // 2] if times else None
    tokens = [r.get("num_tokens") for r in records if isinstance(r.get("num_tokens"), (int, float))]
    new_tokens = None
    if len(tokens) > 1 and len(timed) > 1:
        new_tokens = tokens[-1] - tokens[0]
    elif tokens:
        new_tokens = tokens[-1]
    seconds = sum(float(r["step_time_s"]) for r in counted)
    return {"steps": len(records), "step_time_s": median,
            "tokens_per_s": round(new_tokens / seconds, 1) if new_tokens and seconds else None,
            "peak_memory_gb": max((float(r.get("peak_memory_gb") or 0) for r in records), default=None)}


def run_phase(name: str, fn: Any, run_dir: Path, phase_tag: str, device: str) -> dict[str, Any]:
    """Run one training phase, measuring it; an error is recorded, not raised."""
    import torch

    from deltamem_lib.hardware import release_memory
    from deltamem_lib.training.metrics import read_metrics

    release_memory()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    out: dict[str, Any] = {"phase": name}
    try:
        fn()
        out.update(phase_figures(read_metrics(run_dir / "metrics.jsonl", phase_tag)))
    except Exception as exc:  # noqa: BLE001 — a smoke test reports every failure and goes on
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc(limit=6)
    if device == "cuda":
        out["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 3)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def run_variant(shape: str, precision: str, args: argparse.Namespace, device: str, tmp: Path,
                deadline: float) -> list[dict[str, Any]]:
    """SFT, one-shot GRPO and ReAct GRPO of one shape in one precision."""
    from deltamem_lib.training.datasets import prepare_data
    from deltamem_lib.training.trainers import run_grpo, run_sft

    t0 = time.perf_counter()
    model_dir = build_model(shape, tmp / f"qwen3-{shape}-random-{precision}", precision, device)
    built = round(time.perf_counter() - t0, 1)
    run_dir = tmp / f"run-{shape}-{precision}"
    oneshot = smoke_config(model_dir, precision, args, "oneshot")
    data = prepare_data(oneshot)
    sft_out = run_dir / "sft"
    steps = [("sft", lambda: run_sft(oneshot, data, sft_out, device=device, resume=False), "sft"),
             ("grpo_oneshot", lambda: run_grpo(oneshot, data, run_dir / "grpo_oneshot",
                                               init_adapter=sft_out / "adapter", device=device, resume=False,
                                               phase="grpo_oneshot"), "grpo_oneshot"),
             ("grpo_react", lambda: run_grpo(smoke_config(model_dir, precision, args, "react"), data,
                                             run_dir / "grpo_react", device=device, resume=False,
                                             phase="grpo_react"), "grpo_react")]
    rows = []
    for name, fn, tag in steps:
        if time.perf_counter() > deadline:
            rows.append({"phase": name, "skipped": "time budget (--max-minutes) spent"})
            continue
        row = run_phase(name, fn, run_dir, tag, device)
        rows.append({"model": f"qwen3-{shape}-shape", "precision": precision, "build_s": built, **row})
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "traceback"}), flush=True)
    return rows


def environment(caps: Any) -> dict[str, Any]:
    import importlib.metadata as md

    versions = {}
    for pkg in ("torch", "transformers", "trl", "peft", "accelerate", "vllm"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {"device": caps.kind, "gpu": caps.name or None, "capability": list(caps.capability or ()) or None,
            "gpu_memory_gb": caps.total_gb or None, "python": platform.python_version(), **versions}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded
    args = parse_args(argv)
    from deltamem_lib.hardware import device_caps

    caps = device_caps("auto")
    if not caps.cuda and not args.allow_cpu:
        print("gpu_smoke: no CUDA GPU on this machine; nothing measured (run it on a GPU, or pass "
              "--allow-cpu --tiny to check the script itself)")
        return 0
    device = "cuda" if caps.cuda else "cpu"
    out = Path(args.out) if args.out else ROOT / "results" / f"gpu_smoke_{gpu_slug(caps.name or device)}.json"
    t0 = time.perf_counter()
    deadline = t0 + 60 * args.max_minutes
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="gpu_smoke_") as tmp:
        for shape in args.shapes:
            for precision in precisions_for(caps, shape, args.precisions):
                if time.perf_counter() > deadline:
                    rows.append({"model": f"qwen3-{shape}-shape", "precision": precision,
                                 "skipped": "time budget (--max-minutes) spent"})
                    continue
                rows.extend(run_variant(shape, precision, args, device, Path(tmp), deadline))
    result = {"created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "environment": environment(caps), "weights": "random (built from a config; nothing downloaded)",
              "tokenizer": "SmolLM2 (offline) with TRL's Qwen3 chat template", "settings": {
                  "sft_steps": args.sft_steps, "grpo_steps": args.grpo_steps,
                  "sft_batch_size": args.sft_batch, "rollouts_per_step": args.generations * args.prompts,
                  "max_completion_length": args.completion},
              "phases": rows, "total_s": round(time.perf_counter() - t0, 1),
              "failed": sum(1 for r in rows if r.get("error"))}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"gpu_smoke: {len(rows)} phases, {result['failed']} failed, {result['total_s']} s; wrote {out}")
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
