"""``deltamem train``: SFT warm start + GRPO on the MLD reward, evaluation, figures (notebook 04's code).

Examples::

    deltamem train --profile cpu                       # the cpu profile's settings, runs/train-cpu/
    deltamem train --profile cpu --resume              # continue an interrupted run
    deltamem train --profile smallest --set grpo_max_steps=4 learning_rate=1e-4
    deltamem train --profile cpu --ablation outcome_reward no_delete
    deltamem train --profile cpu --seed 1 --out runs/train-cpu-seed1
    deltamem train --collect-seeds runs/train-cpu*/results/04_rl_training_cpu.json

``--collect-seeds`` writes ``results/04_rl_training_<profile>_seeds.json`` from the results of
runs that differ only in their seed (:mod:`deltamem_lib.training.seeds`).

The settings are the ``04_rl_training`` section of ``profiles/<profile>.yaml`` over the
defaults of :class:`deltamem_lib.training.TrainConfig` (``--help-settings`` lists them); ``--set``
overrides single settings. ``--out`` is a run folder laid out as notebook 04's (its
``output_dir``): the training in ``<out>/04_rl_training/`` (adapters in ``sft/adapter`` and
``grpo/adapter``), results in ``<out>/results/04_rl_training_<profile>.json``, figures in
``<out>/figures/`` — so notebook 05 with ``output_dir=<out>`` uses the run's adapter.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..ablation_names import ABLATION_NAMES
from ..config import PROJECT_ROOT, pick_device
from ..io import atomic_write_json, read_json
from ..training.seeds import collect_seeds
from ..training.settings import ABLATIONS, TrainConfig
from ..typed_settings import Layer, parse_set


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("train", help="SFT + GRPO training of the memory agent on the MLD reward",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="cpu", help="profile name in profiles/ or a YAML path (default: cpu)")
    p.add_argument("--out", default=None, help="run folder (default: runs/train-<profile>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint (finished stages are kept)")
    p.add_argument("--fresh", action="store_true", help="clear the run folder and start again")
    p.add_argument("--ablation", nargs="*", default=None, metavar="NAME",
                   help="ablations to run (replaces the profile's list; names: see --help-settings)")
    p.add_argument("--set", nargs="*", default=(), metavar="KEY=VALUE",
                   help="override settings, e.g. learning_rate=1e-4")
    p.add_argument("--seed", type=int, default=None, help="the run's seed (same as --set seed=N)")
    p.add_argument("--collect-seeds", nargs="+", default=None, metavar="RESULTS_JSON",
                   help="write the seeds file of these runs' results (same settings, one seed each; to --out "
                        "if given) and exit")
    p.add_argument("--device", default="auto", help="torch device (auto: cuda, mps, else cpu)")
    p.add_argument("--help-settings", action="store_true", help="list every setting with its help and exit")
    p.set_defaults(func=run)


def settings(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of the command line: the profile's section, then ``--set``, then
    ``--ablation`` and ``--seed``, every name and type checked once on the combined settings
    (:meth:`TrainConfig.from_profile`); a refusal names the profile file or ``--set`` and the field."""

    flags: dict[str, Any] = {}
    if args.ablation is not None:
        flags["ablations"] = list(args.ablation)
    if args.seed is not None:
        flags["seed"] = args.seed
    return TrainConfig.from_profile(args.profile, [parse_set(args.set), Layer(flags, "--ablation/--seed")])


def run(args: argparse.Namespace) -> int:
    if args.help_settings:
        for k, v in TrainConfig.help().items():
            print(f"{k:32s} {v}")
        print("\nablations (--ablation ID):")
        for k, v in ABLATIONS.items():
            print(f"  {k:24s} {ABLATION_NAMES[k].about} ({v})")
        return 0
    if args.collect_seeds:
        return collect(args.collect_seeds, args.out)
    cfg = settings(args)
    from ..training.pipeline import start_run, training_folder

    out = args.out or str(PROJECT_ROOT / "runs" / f"train-{cfg.profile}")
    device = pick_device(args.device)
    if not args.resume and not args.fresh:
        if (training_folder(out) / "config.json").exists():
            print(f"deltamem train: {out} already holds a run; pass --resume to continue it or --fresh to "
                  "start again", file=sys.stderr)
            return 2
    run_ = start_run(cfg, out, device=device, progress=sys.stderr.isatty(), fresh=args.fresh,
                     log=lambda m: print(m, flush=True))
    print(f"training profile {cfg.profile} on {device}: {cfg.model}, {cfg.agent} agent; outputs in {out}",
          flush=True)
    res = run_.all()
    head = res.get("headline")
    if head:
        print(f"{run_.trained_label} vs {head['reference']}: Δ r_trans {head['mean_diff']:+.3f} "
              f"[{head['ci_low']:+.3f}, {head['ci_high']:+.3f}] (95% paired bootstrap, {head['n']} sessions)")
    print(f"results: {out}/results/04_rl_training_{cfg.profile}.json")
    return 0


def collect(paths: list[str], out_file: str | None = None) -> int:
    """``--collect-seeds``: the seeds file of runs that differ only in their seed (written to
    ``out_file``, default ``results/04_rl_training_<profile>_seeds.json``)."""
    from pathlib import Path

    from ..training.metrics import read_metrics, reward_curve
    from ..training.pipeline import training_folder

    curves = []
    for p in paths:  # <run>/results/04_rl_training_<profile>.json; <run>/04_rl_training/metrics.jsonl
        metrics = training_folder(Path(p).resolve().parent.parent) / "metrics.jsonl"
        curves.append(reward_curve(read_metrics(metrics, "grpo")) if metrics.is_file() else None)
    seeds = collect_seeds([read_json(p) for p in paths], reward_curves=curves)
    out = (Path(out_file) if out_file
           else PROJECT_ROOT / "results" / f"04_rl_training_{seeds['profile']}_seeds.json")
    atomic_write_json(out, seeds)
    for name, c in seeds["pooled"].items():
        print(f"{name}: Δ r_trans {c['mean_diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}] over "
              f"{c['seeds']} seeds × {c['sessions']} sessions")
    print(f"seeds file: {out}")
    return 0
