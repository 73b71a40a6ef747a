"""``deltamem evaluate``: score a memory system on the sessions of a synthetic split.

Example::

    deltamem evaluate --episodes data/synth/episodes.jsonl --split test --system deltamem \\
        --model smollm2 --limit-sessions 40 --out runs/eval/deltamem.json

Each session starts from its gold state before (teacher forcing); the JSON holds ``system``,
``model``, ``sessions``, ``r_trans_mean``, ``op_f1`` (per operation type), ``invalid_call_rate``,
``tokens_per_session``, ``seconds_per_session`` and the per-session records
(:mod:`deltamem_lib.agent.harness`). API keys are read from the environment by the backend
and never written.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..agent.harness import evaluate_system, select_sessions
from ..agent.systems import SYSTEMS, make_system
from ..argtypes import int_at_least, nonnegative_int, positive_int, similarity_name
from ..config import seed_everything
from ..episodes import load_episodes
from ..io import atomic_write_json
from ..mld import MLDOptions
from ..models import load_chat_model
from ..workdir import check_output_file


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate", help="score a memory system (agent or baseline) on a synthetic split",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", required=True, help="episodes.jsonl written by `deltamem synth`")
    p.add_argument("--split", default="test", choices=["train", "validation", "test", "all"],
                   help="user-level split (from DIR/dataset next to the episodes file)")
    p.add_argument("--system", required=True, choices=list(SYSTEMS), help="the system to evaluate")
    p.add_argument("--model", default="smollm2",
                   help="'smollm2' (offline default), a Hub id or folder, or 'openai:<model>'")
    p.add_argument("--adapter", default=None, help="PEFT LoRA adapter folder to load on the model")
    p.add_argument("--limit-sessions", type=int_at_least(1), default=None,
                   help="evaluate a seeded sample of N sessions")
    p.add_argument("--batch-size", type=positive_int, default=8, help="sessions processed together")
    p.add_argument("--max-tool-calls", type=positive_int, default=8, help="ReAct: tool calls per session")
    p.add_argument("--max-new-tokens", type=positive_int, default=192,
                   help="generation budget per model call")
    p.add_argument("--retriever", default="auto", choices=["auto", "embedding", "lexical"],
                   help="search_memory backend")
    p.add_argument("--no-delete", action="store_true", help="the no-DELETE ablation")
    p.add_argument("--similarity", default="lexical", type=similarity_name,
                   help="MLD similarity: lexical, exact, embedding or embedding:<model id>")
    p.add_argument("--device", default="auto", help="torch device for a local model")
    p.add_argument("--seed", type=nonnegative_int, default=0,
                   help="seed of the session sample and of sampling")
    p.add_argument("--transcripts", action="store_true", help="also save each session's transcript")
    p.add_argument("--out", required=True, help="results JSON (written atomically)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path


    check_output_file(args.out)  # before any work: a bad --out must not throw a finished evaluation away
    episodes_path = Path(args.episodes)
    # integrity: ids, dates, gold ops, keywords
    episodes = load_episodes(episodes_path, check=True, unique_users=True)
    examples, source = select_sessions(episodes, args.split, limit=args.limit_sessions, seed=args.seed,
                                       dataset_dir=episodes_path.parent / "dataset")
    if not examples:
        raise ValueError(f"split {args.split!r} of {episodes_path} has no sessions ({source}); use --split "
                         "all or --split train, or synthesise more users (3 or more give every split a user)")
    seed_everything(args.seed)
    env_options: dict[str, Any] = {"retriever": args.retriever}
    if args.no_delete:
        env_options["allow_delete"] = False
    model = None
    if args.system not in ("oracle", "noop"):

        model = load_chat_model(args.model, device=args.device, load_adapter=args.adapter,
                                batch_size=args.batch_size)
    system = make_system(args.system, model, max_tool_calls=args.max_tool_calls,
                         max_new_tokens=args.max_new_tokens, **env_options)
    print(f"evaluating {args.system} on {len(examples)} {args.split} sessions ({source})", file=sys.stderr)
    result = evaluate_system(system, examples, batch_size=args.batch_size, seed=args.seed,
                             mld=MLDOptions(similarity=args.similarity), progress=sys.stderr.isatty(),
                             keep_results=args.transcripts)
    kept = result.pop("results", None)
    if kept is not None:
        for rec, res in zip(result["per_session"], kept):
            rec["transcript"] = res.transcript
    result.update(split=args.split, split_source=source, episodes=str(episodes_path),
                  adapter=args.adapter, limit_sessions=args.limit_sessions)
    atomic_write_json(args.out, result)
    f1 = {k: "–" if v["f1"] is None else f"{v['f1']:.2f}" for k, v in result["op_f1"].items()}
    print(f"{result['system']} ({result['model']}): r_trans {result['r_trans_mean']:.3f} "
          f"± {result['r_trans_sem']:.3f} over {result['sessions']} sessions · op F1 "
          f"ADD {f1['ADD']} UPDATE {f1['UPDATE']} DELETE {f1['DELETE']} · "
          f"invalid {result['invalid_call_rate']:.2f} · {result['tokens_per_session']:.0f} tokens and "
          f"{result['seconds_per_session']:.2f} s per session → {args.out}")
    return 0
