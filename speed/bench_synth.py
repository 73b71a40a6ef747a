"""Speed of the procedural generator (issue 3 target, measured on the 2-core CPU machine).

Generate and write 1,000 users × 20 sessions — ``episodes.jsonl``, the ``DatasetDict`` of RL
rows and ``stats.json``, exactly what ``deltamem synth`` does — in a temporary folder.
Target: under 2 minutes.

Run: ``python speed/bench_synth.py`` (``--users``/``--sessions`` to change the size;
``--strict`` exits 1 if the target is missed).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from deltamem_lib.synthesis.dataset import write_synth_output
from deltamem_lib.synthesis.procedural import SynthConfig, generate_episodes

TARGET_S = 120.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strict", action="store_true", help="exit 1 if the target is missed")
    args = ap.parse_args()
    cfg = SynthConfig(users=args.users, sessions=args.sessions, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        episodes = generate_episodes(cfg)
        generated = time.perf_counter() - start
        out = write_synth_output(Path(tmp) / "synth", episodes, seed=cfg.seed, generator="procedural")
        total = time.perf_counter() - start
        size = sum(f.stat().st_size for f in out.path.rglob("*") if f.is_file()) / 2**20
    st = out.stats
    print(f"{st['users']} users x {args.sessions} sessions = {st['sessions']} sessions, {st['operations']} "
          f"operations, {size:.0f} MiB on disk")
    print(f"generate (with integrity checks): {generated:.1f} s; write episodes.jsonl + DatasetDict + "
          f"stats.json: {total - generated:.1f} s; total {total:.1f} s  (target < {TARGET_S:.0f} s)")
    print("op mix " + ", ".join(f"{k} {v:.1%}" for k, v in st["op_share"].items())
          + f"; UPDATE+DELETE {st['update_delete_share']:.1%}, inter {st['inter_share_of_updates']:.1%} of "
            "UPDATEs")
    ok = total < TARGET_S
    print("target met" if ok else "TARGET MISSED")
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    raise SystemExit(main())
