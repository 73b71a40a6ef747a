"""``deltamem synth``: write a synthetic dataset (DeltaMem §3.2) to a folder.

    deltamem synth --users 1000 --sessions 20 --seed 0 --out data/synth
    deltamem synth --users 2 --sessions 2 --out runs/teacher --generator llm --model smollm2

Writes ``episodes.jsonl``, ``dataset/`` (a Hugging Face DatasetDict of per-session RL rows,
train/validation/test split by user) and ``stats.json``; with ``--generator llm`` also
``teacher_report.json``. The folder appears only once everything is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..argtypes import int_at_least
from ..models import load_chat_model
from ..synthesis.dataset import leftovers_beside, write_synth_output
from ..synthesis.procedural import SynthConfig, generate_episodes
from ..synthesis.teacher import TeacherConfig, run_teacher
from ..workdir import check_output_dir

__all__ = ["register"]


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("synth", help="synthesise episodes with gold memory operations (§3.2)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int_at_least(1), required=True, help="number of users (one episode each)")
    p.add_argument("--sessions", type=int_at_least(1), required=True, help="sessions per user")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, help="output folder (created; must be empty unless --overwrite)")
    p.add_argument("--generator", choices=("procedural", "llm"), default="procedural",
                   help="procedural (offline, seeded) or llm (the four steps through a chat model)")
    p.add_argument("--split", type=_fraction, nargs=3, default=(0.8, 0.1, 0.1),
                   metavar=("TRAIN", "VAL", "TEST"), help="user-level split fractions (default 0.8 0.1 0.1)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing non-empty output folder")
    p.add_argument("--model", default="smollm2", help="llm generator: 'smollm2', a local folder or a Hub id")
    p.add_argument("--max-retries", type=int_at_least(0), default=2,
                   help="llm generator: retries of an invalid response before a user is dropped")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    fractions = tuple(args.split)
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"--split fractions must sum to 1, got {' + '.join(map(str, fractions))} = "
                         f"{sum(fractions):g}")
    out = check_output_dir(args.out, overwrite=args.overwrite)  # before any work
    for left in leftovers_beside(out):  # a killed earlier run; the old data may sit in a .old- folder
        print(f"deltamem synth: note: {left} was left by an interrupted run"
              + (" and holds the data that was being replaced" if ".old-" in left.name else "")
              + "; remove it when you no longer need it", file=sys.stderr)
    start = time.perf_counter()
    progress = not args.no_progress
    extra_files: dict[str, Any] = {}
    extra_stats: dict[str, Any] = {}
    if args.generator == "procedural":

        episodes = generate_episodes(SynthConfig(users=args.users, sessions=args.sessions, seed=args.seed),
                                     progress=progress)
    else:

        cfg = TeacherConfig(users=args.users, sessions=args.sessions, seed=args.seed,
                            max_retries=args.max_retries)
        episodes, report = run_teacher(load_chat_model(args.model), cfg, progress=progress)
        print(report.summary(), file=sys.stderr)
        if not episodes:
            print(f"deltamem synth: the teacher produced no valid episode; nothing written to {out}",
                  file=sys.stderr)
            return 1
        extra_files["teacher_report.json"] = report.to_dict()
        extra_stats["teacher"] = {k: v for k, v in report.to_dict().items()
                                  if k not in ("failures", "examples")}
    generated = time.perf_counter() - start
    result = write_synth_output(out, episodes, seed=args.seed, generator=args.generator, fractions=fractions,
                                overwrite=args.overwrite, extra_files=extra_files, extra_stats=extra_stats)
    st = result.stats
    mix = ", ".join(f"{k} {v:.0%}" for k, v in st["op_share"].items())
    print(f"wrote {out}: {st['users']} users, {st['sessions']} sessions, {st['operations']} operations "
          f"({mix}); splits " + ", ".join(f"{k} {v['users']}" for k, v in st["splits"].items())
          + f"; {generated:.1f} s to generate, {time.perf_counter() - start:.1f} s in all")
    return 0
