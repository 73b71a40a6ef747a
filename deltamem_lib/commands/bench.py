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

from ..argtypes import nonnegative_int, positive_int
from ..benchmarks.runner import BENCH_SYSTEMS, BENCHMARKS, BenchConfig, redact, run_benchmark
from ..io import atomic_write_json
from ..teaching.benchmarks_ablations import summary_line
from ..workdir import check_output_dir, check_output_file


def register(subparsers: Any) -> None:
    h = BenchConfig.help()
    p = subparsers.add_parser("bench", help="run a benchmark (LoCoMo, HaluMem, PersonaMem) with a memory system",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmark", choices=BENCHMARKS, help=h["benchmark"])
    p.add_argument("--data", required=True, help=h["data"])
    p.add_argument("--contexts", default="", help=h["contexts"])
    p.add_argument("--system", default="deltamem-oneshot", choices=BENCH_SYSTEMS, help=h["system"])
    p.add_argument("--model", default="smollm2", help=h["model"])
    p.add_argument("--adapter", default="", help=h["adapter"])
    p.add_argument("--answer-model", default="", help=h["answer_model"])
    p.add_argument("--judge-model", default="", help=h["judge_model"])
    p.add_argument("--judge-runs", type=positive_int, default=1, help=h["judge_runs"])
    p.add_argument("--retriever", default="auto", choices=["auto", "embedding", "lexical"], help=h["retriever"])
    p.add_argument("--top-k", type=positive_int, default=10, help=h["top_k"])
    p.add_argument("--recall-k", type=positive_int, nargs="+", default=None, help=h["recall_ks"] + " (default: 1 5 10 ≤ top-k)")
    p.add_argument("--conversations", type=nonnegative_int, default=0, help=h["conversations"])
    p.add_argument("--sample-id", nargs="+", default=(), help=h["sample_ids"])
    p.add_argument("--max-sessions", type=nonnegative_int, default=0, help=h["max_sessions"])
    p.add_argument("--limit", type=nonnegative_int, default=0, help=h["limit"])
    p.add_argument("--speakers", default="both", help=h["speakers"])
    p.add_argument("--batch-size", type=positive_int, default=8, help=h["batch_size"])
    p.add_argument("--max-new-tokens", type=positive_int, default=128, help=h["max_new_tokens"])
    p.add_argument("--max-tool-calls", type=positive_int, default=8, help=h["max_tool_calls"])
    p.add_argument("--related-k", type=positive_int, default=10, help=h["related_k"])
    p.add_argument("--no-delete", action="store_true", help="the no-DELETE ablation (DELETE not offered)")
    p.add_argument("--answer-max-new-tokens", type=positive_int, default=32, help=h["answer_max_new_tokens"])
    p.add_argument("--context-tokens", type=nonnegative_int, default=0, help=h["context_tokens"])
    p.add_argument("--include-persona", action="store_true", help=h["include_persona"])
    p.add_argument("--seed", type=nonnegative_int, default=0, help=h["seed"])
    p.add_argument("--profile", default="", help=h["profile"])
    p.add_argument("--device", default="auto", help="torch device for local models")
    p.add_argument("--work-dir", default="", help="resumable work folder (default: <out without .json>.work/)")
    p.add_argument("--no-per-question", action="store_true", help="leave the per-question records out of --out")
    p.add_argument("--redact", action="store_true",
                   help="keep ids, scores and answers per question but not the benchmark's questions and gold answers "
                        "(for results you commit or share: the data's licence)")
    p.add_argument("--out", required=True, help="results JSON (written atomically)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path


    top_k = args.top_k
    ks = tuple(args.recall_k) if args.recall_k else tuple(k for k in (1, 5, 10) if k <= top_k) or (top_k,)
    cfg = BenchConfig(benchmark=args.benchmark, data=args.data, contexts=args.contexts, system=args.system,
                      model=args.model, adapter=args.adapter, answer_model=args.answer_model,
                      judge_model=args.judge_model, judge_runs=args.judge_runs, retriever=args.retriever, top_k=top_k,
                      recall_ks=ks, conversations=args.conversations, sample_ids=tuple(args.sample_id),
                      max_sessions=args.max_sessions, limit=args.limit, speakers=args.speakers,
                      batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                      max_tool_calls=args.max_tool_calls, related_k=args.related_k, allow_delete=not args.no_delete,
                      answer_max_new_tokens=args.answer_max_new_tokens, context_tokens=args.context_tokens,
                      include_persona=args.include_persona, seed=args.seed, profile=args.profile)

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
