"""A short GRPO proxy run from a finished SFT adapter, judged by what the policy decides.

The full training run costs half an hour on two cores; a GRPO setting (prompts per step, G,
learning rate, KL, temperature, the shaping weights, the loss aggregation) is first tried here
for a few minutes. Each run continues the same SFT adapter on the single-change level
(``level: single``, the sessions SFT did not see) and reports:

* the training reward per step (``r_trans`` of the rollouts), its first and last third, and the
  share of groups whose rollouts all scored the same (they teach nothing);
* on the held-out single-change sessions: greedy type accuracy per kind, the largest share of
  greedy predictions one kind takes, ``r_trans``, and the separation of the teacher-forced
  kind probabilities (``deltamem_lib.training.decisions``) — the same report as the SFT curve.

    python tools/grpo_proxy.py --init runs/sft_start/400x2/adapter --out runs/grpo_proxy/lr2e-5 \
        --steps 12 --eval 120 --set learning_rate=2e-5 --set num_generations=8

``<out>/proxy.json`` holds the settings, the per-step log and the report; a rerun with the same
folder continues an interrupted run from its last checkpoint and skips a finished one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from deltamem_lib.io import atomic_write_json
from deltamem_lib.training.datasets import prepare_data
from deltamem_lib.training.metrics import (
    read_metrics,
    reward_curve,
    reward_thirds,
    step_times,
    zero_spread_share,
)
from deltamem_lib.training.trainers import run_grpo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sft_decisions import decisions, level_config  # noqa: E402  (the SFT curve's level and report)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--init", required=True, type=Path, help="the SFT adapter folder to continue")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--steps", type=int, default=12, help="GRPO optimiser steps")
    ap.add_argument("--eval", type=int, default=120, help="held-out single-change sessions (a multiple of 4)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a setting (as deltamem train)")
    args = ap.parse_args(argv)

    fixed = {"seed": args.seed, "eval_sessions": args.eval, "grpo_max_steps": args.steps,
             "save_steps": max(1, args.steps // 3), "ablations": []}
    cfg = level_config(args.set, fixed, "--seed/--eval/--steps")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    data = prepare_data(cfg)
    t0 = time.perf_counter()
    res = run_grpo(cfg, data, out / "grpo", init_adapter=args.init, progress=True)
    seconds = time.perf_counter() - t0
    recs = read_metrics(res.metrics_path, phase="grpo")
    rows = data.eval_rows(cfg.eval_sessions, seed=cfg.seed)
    report = decisions(cfg, res.adapter, "grpo", rows, data.eval_examples(cfg.eval_sessions, seed=cfg.seed),
                       out)
    summary = {
        "init": str(args.init), "steps": res.steps, "seconds": round(res.seconds or seconds, 1),
        "rollouts": res.steps * cfg.prompts_per_step * cfg.num_generations,
        "step_time": step_times(recs), "zero_spread_share": zero_spread_share(recs),
        "reward_thirds": reward_thirds(recs),
        "reward_per_step": reward_curve(recs),
        "settings": {k: getattr(cfg, k) for k in ("learning_rate", "num_generations", "prompts_per_step",
                                                  "beta",
                                                   "temperature", "loss_type", "scale_rewards", "w_ops",
                                                   "w_idle", "w_invalid", "w_format", "max_completion_length",
                                                   "seed")},
        "report": report,
    }
    atomic_write_json(out / "proxy.json", summary)
    r = report
    print(f"{out.name}: {res.steps} steps, {summary['rollouts']} rollouts, {summary['seconds']:.0f} s; "
          f"reward thirds {summary['reward_thirds']}; zero-spread {summary['zero_spread_share']}; held-out "
          f"r_trans {r['r_trans']:.3f}, type acc {r.get('type_accuracy')}, largest share "
          f"{r.get('largest_share')}, separation {r.get('separation')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
