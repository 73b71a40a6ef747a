"""Sessions per minute of whole-user ingestion: one at a time vs batched across users.

DeltaMem ingests each user's sessions in order (the memory after session t feeds session
t+1), so one user cannot be batched — but different users can: the t-th sessions of several
users go through the model together (:func:`deltamem_lib.agent.ingest.ingest_users` with
``batch_users=True``). On a CPU, decoding a batch of n costs far less than n single
decodes, so batched ingestion should reach at least 2x the sessions per minute on 2 cores.

Usage: ``python speed/bench_ingest.py [--users 4 --sessions 2 --system deltamem]``.
Prints both rates and their ratio; exits 1 if the ratio is below ``--target``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=4, help="synthetic users (batched together)")
    p.add_argument("--sessions", type=int, default=2, help="sessions per user")
    p.add_argument("--system", default="deltamem", help="deltamem, deltamem-oneshot, mem0-style or add-only")
    p.add_argument("--model", default="smollm2", help="model spec (load_chat_model)")
    p.add_argument("--max-new-tokens", type=int, default=96, help="generation budget per call")
    p.add_argument("--seed", type=int, default=0, help="data seed")
    p.add_argument("--target", type=float, default=2.0, help="required speed-up of batched ingestion")
    p.add_argument("--json", default=None, help="also write the numbers to this file")
    args = p.parse_args(argv)

    import torch

    from deltamem_lib.agent.ingest import ingest_users
    from deltamem_lib.agent.systems import make_system
    from deltamem_lib.models import load_chat_model
    from deltamem_lib.synthesis import SynthConfig, generate_episodes

    episodes = generate_episodes(SynthConfig(users=args.users, sessions=args.sessions, seed=args.seed))
    n = sum(len(ep.sessions) for ep in episodes)
    model = load_chat_model(args.model, batch_size=args.users)
    system = make_system(args.system, model, max_new_tokens=args.max_new_tokens, retriever="lexical")
    print(f"{args.system} on {model.name}, {args.users} users x {args.sessions} sessions, "
          f"torch threads {torch.get_num_threads()}", flush=True)
    rates, cpu_rates, states = {}, {}, {}
    for mode, batched in (("one-at-a-time", False), ("batched", True)):
        model.stats.reset()
        with tempfile.TemporaryDirectory() as tmp:
            t0, c0, load0 = time.perf_counter(), time.process_time(), os.getloadavg()[0]
            res = ingest_users(system, episodes, out_dir=tmp, batch_users=batched, max_batch=args.users)
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        rates[mode] = 60.0 * n / dt
        cpu_rates[mode] = 60.0 * n / cpu
        states[mode] = res.states
        tok = model.stats.completion_tokens
        print(f"{mode:>14}: {n} sessions in {dt:6.1f} s = {rates[mode]:6.2f} sessions/min "
              f"({tok} generated tokens, {tok / dt:5.1f} tokens/s; {cpu:6.1f} CPU s; "
              f"load average {load0:.1f} -> {os.getloadavg()[0]:.1f})", flush=True)
    ratio = rates["batched"] / rates["one-at-a-time"]
    print(f"per CPU second (less sensitive to other processes on the machine): "
          f"{cpu_rates['batched'] / cpu_rates['one-at-a-time']:.2f}x")
    same = sum(a == b for u in states["batched"] for a, b in zip(states["batched"][u],
                                                                 states["one-at-a-time"][u]))
    print(f"speed-up: {ratio:.2f}x (target >= {args.target:.1f}x); identical states in both modes: "
          f"{same}/{n}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"sessions": n, "rates_per_min": rates, "ratio": ratio, "cpu_rates_per_min": cpu_rates,
                       "identical_states": same}, fh, indent=2)
    return 0 if ratio >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
