"""``deltamem bench``: run LoCoMo, HaluMem or PersonaMem with one memory system.

Examples::

    deltamem bench locomo --data data/locomo/locomo10.json --system deltamem-oneshot \\
        --model smollm2 --conversations 1 --max-sessions 3 --out results/bench_locomo.json
    deltamem bench locomo --data data/locomo/locomo10.json --system deltamem-oneshot --model Qwen/Qwen3-4B \\
        --adapter runs/gpu-a100/04_rl_training/grpo/adapter --answer-model openai:gpt-4o-mini \\
        --judge-model openai:gpt-4o-mini --judge-runs 3 --top-k 30 --out runs/bench/locomo_rl.json

The run is resumable: its work folder (``--work-dir``, default ``<out>.work/``) keeps the memory
state after every session and every answer and verdict; rerun the same command to continue.
Without ``--judge-model`` the results list the judged metrics under ``not_computed``. API keys
are read from the environment by the backend and never written (:mod:`deltamem_lib.benchmarks.runner`).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..benchmarks.runner import BENCH_SYSTEMS, BENCHMARKS, BenchConfig, redact, run_benchmark, summary_line
from ..io import atomic_write_json
from ..typed_settings import Layer, add_arguments, flag, given_settings
from ..workdir import check_output_dir, check_output_file


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("bench", help="run a benchmark (LoCoMo, HaluMem, PersonaMem) with a memory "
                                            "system",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # one flag per BenchConfig field, named after it, with its help line and default
    add_arguments(p, BenchConfig, positional=("benchmark",), required=("data",),
                  choices={"benchmark": BENCHMARKS, "system": BENCH_SYSTEMS,
                           "retriever": ("auto", "embedding", "lexical")},
                  defaults={"recall_ks": "1 5 10, those <= top-k"})
    p.add_argument("--device", default="auto", help="torch device for local models")
    p.add_argument("--work-dir", default="", help="resumable work folder (default: <out without "
                                                  ".json>.work/)")
    p.add_argument("--no-per-question", action="store_true",
                   help="leave the per-question records out of --out")
    p.add_argument("--redact", action="store_true",
                   help="keep ids, scores and answers per question but not the benchmark's questions and "
                        "gold answers (for results you commit or share: the data's licence)")
    p.add_argument("--out", required=True, help="results JSON (written atomically)")
    p.set_defaults(func=run)


def settings(args: argparse.Namespace) -> BenchConfig:
    """The :class:`BenchConfig` of the command line: every flag given, parsed by its field's type
    and checked once (:meth:`BenchConfig.from_profile`); ``recall_ks`` defaults to 1, 5, 10 up to
    ``top_k``."""
    given = given_settings(args, BenchConfig)
    layers = [Layer({name: value}, flag(name)) for name, value in given.items()]  # a refusal names the flag
    if "recall_ks" not in given:
        top_k = given.get("top_k", BenchConfig.top_k)
        layers.append(Layer({"recall_ks": tuple(k for k in (1, 5, 10) if k <= top_k) or (top_k,)}, "--top-k"))
    return BenchConfig.from_profile(None, layers, benchmark=given["benchmark"])


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    cfg = settings(args)
    out = check_output_file(args.out)  # before any work
    work = Path(args.work_dir) if args.work_dir else out.with_name(out.stem + ".work")
    check_output_dir(work, overwrite=True, what="--work-dir")
    result = run_benchmark(cfg, work, device=args.device, progress=sys.stderr.isatty())
    if args.redact:
        result = redact(result)
    if args.no_per_question:
        result.pop("per_question", None)
    atomic_write_json(out, result)
    print(f"{summary_line(result)} → {out}")
    for name, why in result["not_computed"].items():
        print(f"  not computed: {name}: {why}", file=sys.stderr)
    return 0
