"""The SFT decision curve: what an SFT warm start decides, by examples × epochs.

For each (examples, epochs) point this trains an SFT adapter on the single-change level
(``level: single``) with the cpu profile's other training settings, then measures on the
held-out single-change sessions what the adapter *decides* (``deltamem_lib.training.decisions``):
greedy type accuracy per kind, id accuracy of UPDATE and DELETE, the largest share of
greedy predictions one kind takes, and the separation of the teacher-forced kind
probabilities. Doing nothing and the base model are measured once as the floor.

    python tools/sft_decisions.py --out runs/sft_curve --points 200x1 400x1 400x2 --eval 120

Each point is kept in ``<out>/<n>x<epochs>/`` (``config.json``, ``sft/adapter``, evaluations); a
training run continues such a start with ``--set sft_from=<out>/<n>x<epochs>/sft``. A rerun
skips finished points, so the curve can be extended. ``<out>/curve.json`` collects them.
Setting overrides: ``--set key=value`` (as ``deltamem train``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from deltamem_lib.io import atomic_write_json, read_json
from deltamem_lib.training.datasets import prepare_data
from deltamem_lib.training.decisions import adapter_kind_probabilities, decision_report, separation
from deltamem_lib.training.heldout import evaluate_model, evaluate_noop
from deltamem_lib.training.settings import TrainConfig
from deltamem_lib.training.trainers import run_sft
from deltamem_lib.typed_settings import Layer, parse_set

#: The single-change level on the cpu profile: enough users for >= 60 held-out sessions of each kind.
LEVEL = {"level": "single", "train_users": 400, "test_users": 120, "sessions_per_user": 8,
         "eval_max_new_tokens": 48, "max_completion_length": 48}


def level_config(overrides: list[str], fixed: dict, source: str) -> TrainConfig:
    """The cpu profile at the single-change level, then ``--set`` (names and types checked as by
    `deltamem train`), then the tool's own flags ``fixed`` (named by ``source`` in a refusal)."""
    return TrainConfig.from_profile("cpu", [Layer(LEVEL, "the single-change level"), parse_set(overrides),
                                            Layer(fixed, source)])


def decisions(cfg: TrainConfig, adapter: Path | None, label: str, rows: list, examples: list,
              out: Path) -> dict:
    """Greedy decisions and separation of one adapter (None: the base model)."""
    t0 = time.perf_counter()
    kinds = [r["kind"] for r in rows]
    res = evaluate_model(cfg, examples, rows, adapter=adapter, label=label, cache=out / f"eval_{label}.json")
    probs = adapter_kind_probabilities(cfg, adapter, rows)
    return {"label": label, "r_trans": res["r_trans_mean"], "r_trans_sem": res["r_trans_sem"],
            **decision_report(res["per_session"], kinds), **separation(probs, kinds),
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--points", nargs="+", default=["200x1", "400x1"], help="examples x epochs, e.g. 400x2")
    ap.add_argument("--eval", type=int, default=120, help="held-out single-change sessions (a multiple of 4)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--floor", action="store_true", help="also measure doing nothing and the base model")
    a = ap.parse_args(argv)
    base = level_config(a.set, {"eval_sessions": a.eval, "seed": a.seed}, "--eval/--seed")
    data = prepare_data(base)
    rows = data.eval_rows(a.eval, seed=base.seed)
    examples = data.eval_examples(a.eval, seed=base.seed)
    print(f"data: {data.source}; train kinds {data.stats['train_kinds']}; held-out {len(rows)}", flush=True)
    curve_path = a.out / "curve.json"
    curve = read_json(curve_path) if curve_path.is_file() else {"settings": base.to_dict(), "points": {}}
    if a.floor and "no-op" not in curve["points"]:
        res = evaluate_noop(examples, rows, base)
        curve["points"]["no-op"] = {"label": "no-op", "r_trans": res["r_trans_mean"],
                                    **decision_report(res["per_session"], [r["kind"] for r in rows])}
        curve["points"]["base"] = decisions(base, None, "base", rows, examples, a.out)
        atomic_write_json(curve_path, curve)
    for point in a.points:
        n, _, epochs = point.partition("x")
        key = f"{int(n)}x{float(epochs):g}"
        if key in curve["points"]:
            continue
        cfg = base.replace(sft_examples=int(n), sft_epochs=float(epochs), sft_max_steps=-1)
        folder = a.out / key
        per_epoch = -(-int(n) // (cfg.sft_batch_size * cfg.sft_grad_accum))
        whole = [e * per_epoch for e in range(1, int(float(epochs) + 0.999))]  # the adapter after each epoch
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / "config.json", cfg.to_dict())  # what made this start (checked by sft_from)
        sft = run_sft(cfg, data, folder / "sft", snapshot_steps=whole)
        stages = [(folder / "sft" / "snapshots" / f"step-{s}", s) for s in whole if s < sft.steps]
        for adapter, step in stages + [(sft.adapter, sft.steps)]:
            label = key if step == sft.steps else f"{key}@epoch{step // per_epoch}"
            if label in curve["points"]:
                continue
            rec = decisions(cfg, adapter, label.replace("@", "_"), rows, examples, folder)
            rec.update(examples=int(n), epochs=float(epochs), epochs_done=round(step / per_epoch, 2),
                       sft_steps=step, sft_seconds=round(sft.seconds * step / max(1, sft.steps), 1))
            curve["points"][label] = rec
            atomic_write_json(curve_path, curve)
            print(json.dumps({k: rec[k] for k in ("label", "epochs_done", "sft_seconds", "r_trans",
                                                  "type_accuracy",
                                                   "type_accuracy_by_kind", "largest_kind", "largest_share",
                                                   "separation", "id_accuracy")}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
