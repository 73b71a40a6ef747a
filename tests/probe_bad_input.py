"""Hostile input through the command line: every case must end in its expected way.

Run it from the repository root (about a minute on 2 cores)::

    python tests/probe_bad_input.py            # every case
    python tests/probe_bad_input.py --fast     # the quick ones (what tests/test_probe_bad_input.py runs)
    python tests/probe_bad_input.py swap fifo-episodes   # chosen cases

Each case runs ``python -m deltamem_lib …`` in a fresh temporary folder and fails on a
traceback, on a hang (no exit within the case's time limit), on silent acceptance (exit 0
where a refusal is expected) and on its own check afterwards (files kept, nothing leaked,
two runs equal). Model calls go to a fake OpenAI-compatible server on 127.0.0.1 that this
script starts. The classes are those of ``docs/what_happens_when.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
KEY = "sk-probe-SECRET-31415926"


class _Server(BaseHTTPRequestHandler):
    """Answers every chat call with ``content`` (set per case) and ``usage``."""

    content = "ok"
    usage: str = '{"prompt_tokens": 3, "completion_tokens": 1}'
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        msg = json.dumps({"role": "assistant", "content": type(self).content})
        body = ('{"choices": [{"message": ' + msg + ', "finish_reason": "stop"}], "usage": '
                + type(self).usage + "}").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that stops reading an over-long reply is expected here


@dataclass
class Case:
    """One probe: the command lines to run, the exit code and text expected of the last one."""

    name: str
    setup: Callable[[Path], list[list[str]]]
    code: int
    says: str = ""
    check: Callable[[Path], str | None] | None = None
    fast: bool = False
    server: dict[str, str] = field(default_factory=dict)
    timeout: float = 120.0  # seconds before a command counts as hung


# ----- data ---------------------------------------------------------------------------------
def _episodes(tmp: Path, mutate: Callable[[list[dict[str, Any]]], None] | None = None) -> Path:
    from deltamem_lib.synthesis import SynthConfig, generate_episodes

    eps = [e.to_dict() for e in generate_episodes(SynthConfig(users=2, sessions=2, seed=5))]
    if mutate:
        mutate(eps)
    p = tmp / "episodes.jsonl"
    p.write_text("".join(json.dumps(e) + "\n" for e in eps), encoding="utf-8")
    return p


def _evaluate(episodes: Path | str, tmp: Path, *extra: str) -> list[str]:
    return ["evaluate", "--episodes", str(episodes), "--split", "all", "--system", "oracle",
            "--out", str(tmp / "eval.json"), *extra]


def _bench(data: Path | str, tmp: Path, out: str = "r.json", system: str = "observations") -> list[str]:
    return ["bench", "locomo", "--data", str(data), "--system", system, "--model", "openai:fake",
            "--answer-model", "openai:fake", "--retriever", "lexical", "--out", str(tmp / out),
            "--work-dir", str(tmp / "work")]


def _fifo(tmp: Path) -> Path:
    p = tmp / "pipe.jsonl"
    os.mkfifo(p)
    return p


def _two_names(tmp: Path) -> Path:
    text = (SAMPLES / "locomo_tiny.json").read_text(encoding="utf-8")
    p = tmp / "locomo.json"
    p.write_text(text.replace('"Ana"', '"Ana Lee"').replace('"Ben"', '"Ana_Lee"'), encoding="utf-8")
    return p


def _out_of_order(eps: list[dict[str, Any]]) -> None:
    eps[0]["sessions"][1]["date"] = "2001-01-01"


def _invisible_update(eps: list[dict[str, Any]]) -> None:
    s = eps[0]["sessions"][1]
    s["gold_ops"] = [{"op": "ADD", "content": "\u200b\u200b"}]


def _deep(tmp: Path) -> Path:
    p = tmp / "deep.jsonl"
    p.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    return p


def _not_a_run(tmp: Path) -> list[list[str]]:
    out = tmp / "notes" / "04_rl_training"  # run folder notes/'s training folder, with the user's files
    (out / "eval").mkdir(parents=True)
    (out / "eval" / "my_notes.txt").write_text("mine")
    (out / "metrics.jsonl").write_text("{}\n")
    return [["train", "--profile", "cpu", "--out", str(tmp / "notes"), "--fresh"]]


def _kept(tmp: Path) -> str | None:
    notes = tmp / "notes" / "04_rl_training"
    ok = (notes / "eval" / "my_notes.txt").is_file() and (notes / "metrics.jsonl").is_file()
    return None if ok else "train --fresh deleted files it did not write"


def _same_results(tmp: Path) -> str | None:
    a, b = (json.loads((tmp / n).read_text()) for n in ("r1.json", "r2.json"))
    if a["metrics"] != b["metrics"] or a["per_question"] != b["per_question"]:
        return "the rerun (states read back from disk) differs from the first run: memories swapped"
    folders = list((tmp / "work" / "ingest" / "states").iterdir())
    return None if len(folders) == 4 else f"{len(folders)} user folders for 4 users"


def _no_key(tmp: Path) -> str | None:
    escaped = KEY.replace("-", "\\u002d")
    for p in tmp.rglob("*"):
        if p.is_file() and p.stat().st_size < 50_000_000:
            text = p.read_text(encoding="utf-8", errors="replace")
            if KEY in text or escaped in text:
                return f"the API key reached {p}"
    return None


def _small_results(tmp: Path) -> str | None:
    size = (tmp / "r.json").stat().st_size
    return None if size < 1_000_000 else f"an over-long reply wrote {size:,} bytes of results"


def _locked_run(tmp: Path) -> list[list[str]]:
    """A run folder whose lock a process of this probe holds (a run in progress)."""
    from deltamem_lib.workdir import WorkDirLock

    out = tmp / "run" / "04_rl_training"  # the training folder of run folder run/
    out.mkdir(parents=True)
    lock = WorkDirLock(out).acquire()
    _locked_run.held = lock  # type: ignore[attr-defined]  # kept until the case ends
    (out / "deltamem_run.json").write_text(json.dumps({"program": "deltamem train",
                                                       "entries": ["config.json"]}))
    return [["train", "--profile", "cpu", "--out", str(tmp / "run"), "--resume"]]


CASES = [
    Case("swap", lambda t: [_bench(_two_names(t), t, "r1.json"), _bench(t / "locomo.json", t, "r2.json")], 0,
         check=_same_results),
    Case("fifo-episodes", lambda t: [_evaluate(_fifo(t), t)], 2, "named pipe (FIFO)", fast=True),
    Case("device-episodes", lambda t: [_evaluate("/dev/zero", t)], 2, "is a device", fast=True),
    Case("fifo-bench-data", lambda t: [_bench(_fifo(t), t)], 2, "named pipe (FIFO)"),
    Case("deep-json", lambda t: [_evaluate(_deep(t), t)], 2, "nested deeper than"),
    Case("sessions-out-of-order", lambda t: [_evaluate(_episodes(t, _out_of_order), t)], 2,
         "is before the previous session's date", fast=True),
    Case("invisible-content", lambda t: [_evaluate(_episodes(t, _invisible_update), t)], 2,
         "non-empty content", fast=True),
    Case("similarity", lambda t: [_evaluate(_episodes(t), t, "--similarity", "bogus")], 2, "--similarity",
         fast=True),
    # `deltamem train` imports the training stack first: minutes on a busy 2-core machine
    Case("fresh-not-a-run", _not_a_run, 2, "is not a deltamem training run", check=_kept, fast=True,
         timeout=480),
    Case("train-in-use", _locked_run, 1, "in use by another run", timeout=480),
    Case("key-escaped", lambda t: [_bench(SAMPLES / "locomo_tiny.json", t, system="deltamem-oneshot")], 0,
         check=_no_key, server={"content": '[{"op": "ADD", "content": "Key is ' + KEY.replace("-", "\\u002d")
                                + '."}]'}),
    Case("long-reply", lambda t: [_bench(SAMPLES / "locomo_tiny.json", t)], 0, check=_small_results,
         server={"content": "x" * 3_000_000}),
    Case("usage-not-finite", lambda t: [_bench(SAMPLES / "locomo_tiny.json", t)], 0,
         server={"usage": '{"prompt_tokens": NaN, "completion_tokens": Infinity}'}),
]


def run_case(case: Case, port: int) -> str | None:
    """None when ``case`` behaves, else what went wrong."""
    timeout = case.timeout
    _Server.content, _Server.usage = "ok", '{"prompt_tokens": 3, "completion_tokens": 1}'
    for k, v in case.server.items():
        setattr(_Server, k, v)
    env = {**os.environ, "DELTAMEM_OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
           "DELTAMEM_OPENAI_API_KEY": KEY, "PYTHONPATH": str(ROOT), "DELTAMEM_DEBUG": ""}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        try:
            for argv in case.setup(tmp):
                try:
                    r = subprocess.run([sys.executable, "-m", "deltamem_lib", *argv], capture_output=True,
                                       text=True, timeout=timeout, env=env, cwd=tmp)
                except subprocess.TimeoutExpired:
                    return f"hang: no exit within {timeout:.0f} s ({' '.join(argv[:2])})"
                if "Traceback" in r.stderr:
                    return "traceback: " + r.stderr.strip().splitlines()[-1][:300]
            if r.returncode != case.code:
                what = "silent acceptance" if r.returncode == 0 else "wrong exit code"
                return f"{what}: exit {r.returncode}, expected {case.code}; stderr: {r.stderr.strip()[-300:]}"
            if case.says and case.says not in r.stderr:
                return f"the error line lacks {case.says!r}: {r.stderr.strip()[-300:]}"
            if KEY in r.stdout + r.stderr:
                return "the API key was printed"
            return case.check(tmp) if case.check else None
        finally:
            held = getattr(_locked_run, "held", None)
            if held is not None:
                held.release()
                _locked_run.held = None  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", nargs="*", help="cases to run (default all): "
                                             f"{', '.join(c.name for c in CASES)}")
    ap.add_argument("--fast", action="store_true", help="only the quick cases")
    args = ap.parse_args(argv)
    unknown = set(args.cases) - {c.name for c in CASES}
    if unknown:
        ap.error(f"unknown case(s) {sorted(unknown)}")
    chosen = [c for c in CASES if (not args.cases or c.name in args.cases) and (c.fast or not args.fast)]
    srv = _Quiet(("127.0.0.1", 0), _Server)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    failed = 0
    try:
        for case in chosen:
            why = run_case(case, srv.server_address[1])
            failed += why is not None
            print(f"{'ok  ' if why is None else 'FAIL'} {case.name}" + (f": {why}" if why else ""),
                  flush=True)
    finally:
        srv.shutdown()
        srv.server_close()
    print(f"{len(chosen) - failed} of {len(chosen)} cases behave")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
