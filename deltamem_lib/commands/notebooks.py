"""``deltamem notebooks``: the main job — every notebook, in order, on one profile."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import PROJECT_ROOT
from ..notebook_job import run_notebooks


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("notebooks", help="execute every notebook in order with papermill (the main job)",
                       description="Execute the notebooks in reading order on a profile; executed copies, "
                                   "figures and results go to the run folder. Resumes an interrupted run.")
    p.add_argument("--profile", default="cpu", help="profile name in profiles/ or a YAML path (default: "
                                                    "cpu); every key is checked before the first notebook "
                                                    "runs")
    p.add_argument("--out", default=None, help="run folder (default: runs/<profile>)")
    p.add_argument("--only", nargs="*", default=(), help="run only these notebooks (by stem, e.g. "
                                                         "02_mld_reward)")
    p.add_argument("--force", action="store_true", help="rerun notebooks already finished in this run folder")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    out = args.out or str(PROJECT_ROOT / "runs" / Path(args.profile).stem)
    try:
        results = run_notebooks(args.profile, out, only=args.only, force=args.force,
                                progress=lambda m: print(m, flush=True))
    except RuntimeError as exc:
        print(f"deltamem notebooks: {exc}", flush=True)
        return 1
    total = sum(r.seconds for r in results)
    print(f"{len(results)} notebook(s) finished in {total:.0f} s; outputs in {out}")
    return 0
