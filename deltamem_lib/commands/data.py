"""``deltamem data``: the benchmark files of the evaluation, fetched into ``data/``.

Examples::

    deltamem data fetch locomo        # data/locomo/locomo10.json (GitHub snap-research/locomo)
    deltamem data fetch personamem    # data/personamem/questions_32k.csv + shared_contexts_32k.jsonl
    deltamem data fetch halumem       # data/halumem/HaluMem-Medium.jsonl (Hugging Face)
    deltamem data status              # which real files are present, which fall back to a sample
    deltamem data fetch locomo --or-sample   # never fails: one line says the real file or the sample

A copy already in ``data/`` or in the folder named by ``$DELTAMEM_DATA`` is used without any
download when its checksum matches. Downloads are checked against the recorded sha256 and
written atomically. Offline, the command says which URL it tried and where to put a copy
downloaded by hand. The files' licences are non-commercial (``data/README.md``): they are
ignored by git and never committed.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..benchmarks.download import ALIASES, REMOTE_FILES, DownloadError, fetch
from ..benchmarks.paths import locate_data

NAMES = ("locomo", "personamem", "halumem")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "data", help="fetch the benchmark files (LoCoMo, PersonaMem, HaluMem) into data/",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="data_command", required=True)
    f = sub.add_parser("fetch", help="download a benchmark's files into data/ (no-op when present)")
    f.add_argument("benchmark", choices=NAMES, help="which benchmark")
    f.add_argument("--root", default=None, help="download into this folder instead of data/")
    f.add_argument("--timeout", type=float, default=60.0, help="seconds before a stalled download fails")
    f.add_argument("--or-sample", action="store_true",
                   help="a failed download is not an error: say in one line that the notebooks use the "
                        "sample")
    f.set_defaults(func=run_fetch)
    s = sub.add_parser("status", help="say, per benchmark, whether the real file or the sample is used")
    s.set_defaults(func=run_status)


def run_fetch(args: argparse.Namespace) -> int:
    import sys


    key = ALIASES[args.benchmark]
    paths = []
    for rf in REMOTE_FILES[key]:
        try:
            path = fetch(key, rf.filename, root=args.root, timeout=args.timeout)
        except DownloadError as exc:
            if getattr(args, "or_sample", False):  # `make run`: the job goes on with the sample, and says so
                sample = locate_data(args.benchmark, args.root, warn=False).path
                print(f"{args.benchmark}: using the SAMPLE {sample} ({rf.filename} could not be fetched from "
                      f"{rf.source}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
                return 0
            print(f"deltamem data fetch {args.benchmark}: {rf.filename} from {rf.source}: {exc}",
                  file=sys.stderr)
            return 1
        if not getattr(args, "or_sample", False):
            print(f"{rf.filename}: {path} ({rf.licence}; {rf.source})")
        paths.append(str(path))
    if getattr(args, "or_sample", False):
        print(f"{args.benchmark}: using the real file {', '.join(paths)}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    import warnings


    for name in NAMES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            where = locate_data(name, warn=False)
        print(f"{name}: {where.source}: {where.path}" + ("" if not where.fixture else f"\n  {where.note}"))
    return 0
