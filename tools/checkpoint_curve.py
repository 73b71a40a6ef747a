"""A held-out learning curve of one GRPO run: every kept checkpoint scored like the final adapter.

The per-step training reward of a GRPO run averages 4 sessions a step, which is noise at the
cpu profile's size; whether the policy improves is read on the held-out sessions. This tool
takes a finished ``deltamem train`` run folder (``--out``), scores each GRPO checkpoint it kept
(``04_rl_training/grpo/checkpoints/checkpoint-N``; keep them with ``--set save_steps=… save_total_limit=…``)
with greedy decoding on the run's held-out sessions, and compares each with the run's SFT
evaluation (paired bootstrap over the same sessions):

    python tools/checkpoint_curve.py runs/t07_long

``<run>/checkpoint_curve.json`` holds one row per checkpoint (step, rollouts so far, held-out
``r_trans``, the difference to SFT with its interval, the greedy answers per kind); a rerun
reuses the evaluations already made (``<run>/04_rl_training/eval/checkpoint-N.json``).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from deltamem_lib.io import atomic_write_json, read_json
from deltamem_lib.training.datasets import prepare_data
from deltamem_lib.training.decisions import decision_report
from deltamem_lib.training.heldout import evaluate_model, paired_bootstrap
from deltamem_lib.training.pipeline import training_folder
from deltamem_lib.training.settings import TrainConfig


def checkpoints(run: Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` of every GRPO checkpoint of a training folder, by step."""
    found = []
    for d in (run / "grpo" / "checkpoints").glob("checkpoint-*"):
        m = re.fullmatch(r"checkpoint-(\d+)", d.name)
        if m and (d / "adapter_config.json").is_file():
            found.append((int(m.group(1)), d))
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a finished deltamem train run folder (its --out)")
    args = ap.parse_args(argv)
    top, run = args.run, training_folder(args.run)
    if not (run / "config.json").is_file() or not (run / "eval" / "sft.json").is_file():
        ap.error(f"{run}: not a finished training run (needs config.json and eval/sft.json)")
    cfg = TrainConfig.load(run / "config.json")
    data = prepare_data(cfg)
    rows = data.eval_rows(cfg.eval_sessions, seed=cfg.seed)
    examples = data.eval_examples(cfg.eval_sessions, seed=cfg.seed)
    kinds = [r["kind"] for r in rows] if cfg.level == "single" else None
    sft = read_json(run / "eval" / "sft.json")
    before = [s["r_trans"] for s in sft["per_session"]]
    per_step = cfg.prompts_per_step * cfg.num_generations
    curve = [{"step": 0, "rollouts": 0, "label": "sft", "r_trans": sft["r_trans_mean"]}]
    for step, folder in checkpoints(run):
        res = evaluate_model(cfg, examples, rows, adapter=folder, label=f"checkpoint-{step}",
                             cache=run / "eval" / f"checkpoint-{step}.json")
        after = [s["r_trans"] for s in res["per_session"]]
        row = {"step": step, "rollouts": step * per_step, "label": f"checkpoint-{step}",
               "r_trans": res["r_trans_mean"], "vs_sft": paired_bootstrap(before, after, seed=cfg.seed)}
        if kinds is not None:
            rep = decision_report(res["per_session"], kinds)
            row.update(type_accuracy=rep.get("type_accuracy"), predicted=rep.get("predicted"),
                       largest_share=rep.get("largest_share"))
        curve.append(row)
        c = row["vs_sft"]
        print(f"step {step} ({row['rollouts']} rollouts): r_trans {row['r_trans']:.3f}, − SFT "
              f"{c['mean_diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]", flush=True)
    atomic_write_json(top / "checkpoint_curve.json", {"run": str(top), "settings": {
        k: getattr(cfg, k) for k in ("temperature", "learning_rate", "num_generations", "prompts_per_step",
                                     "grpo_max_steps", "seed")}, "curve": curve})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
