"""The ``deltamem`` command: every expected failure ends in one clear line and exit code 2 (bad
input) or 1 (the run failed), never a traceback; ``--debug`` / DELTAMEM_DEBUG show it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deltamem_lib.benchmarks.locomo import load_locomo
from deltamem_lib.cli import main
from deltamem_lib.cli_errors import exit_code, one_line, report_error
from deltamem_lib.episodes import EpisodeError, load_episodes
from deltamem_lib.io import DataFileError, Journal
from deltamem_lib.models import BackendError
from deltamem_lib.synthesis.procedural import SynthConfig, generate_episodes
from deltamem_lib.workdir import WorkDirBusyError

KEY = "sk-cli-SECRET-777"


def _run(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.fixture(scope="module")
def episodes_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("eps") / "episodes.jsonl"
    eps = generate_episodes(SynthConfig(users=2, sessions=2, seed=0))
    p.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in eps))
    return p


# ------------------------------------------------------------------ every exception class
@pytest.mark.parametrize("exc,code,text", [
    (PermissionError(13, "Permission denied", "/data/x.json"), 2, "/data/x.json: permission denied"),
    (IsADirectoryError(21, "Is a directory", "/data"), 2, "/data: is a folder, not a file"),
    (NotADirectoryError(20, "Not a directory", "/f/sub"), 2, "/f/sub: a part of the path is not a folder"),
    (FileExistsError(17, "File exists", "/out"), 2, "/out: already exists"),
    (FileNotFoundError("/x: no such file"), 2, "/x: no such file"),
    (DataFileError("f.json: line 3: bad"), 2, "f.json: line 3: bad"),
    (EpisodeError("e.jsonl: line 2: user u1 ...\n  - detail"), 2, "e.jsonl: line 2: user u1 ... - detail"),
    (json.JSONDecodeError("Expecting value", "x", 0), 2, "Expecting value"),
    (KeyError("no memory with id 'm9'"), 2, "no memory with id 'm9'"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), 2, "invalid start byte"),
    (BackendError("http://h/v1/chat/completions: HTTP 401, the server rejected the API key"), 1, "HTTP 401"),
    (WorkDirBusyError("W is in use by another run (pid 1)"), 1, "in use"),
])
def test_each_exception_class_is_one_line_with_its_exit_code(capsys, exc, code, text):
    assert exit_code(exc) == code
    assert report_error("bench", exc) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("deltamem bench: error: ") and text in err


def test_a_bug_still_shows_its_traceback():
    with pytest.raises(ZeroDivisionError):
        report_error("bench", ZeroDivisionError("bug"))
    assert exit_code(AttributeError("x")) is None


def test_keyboard_interrupt_is_one_line(capsys):
    assert report_error("bench", KeyboardInterrupt()) == 130
    assert "rerun the same command" in capsys.readouterr().err


def test_one_line_joins_multi_line_messages():
    assert one_line(ValueError("a\n  - b\n  - c")) == "a - b - c"


# ------------------------------------------------------------------ end to end
def test_folder_given_as_data_file_for_every_loader(tmp_path, capsys):
    d = tmp_path / "data"
    d.mkdir()
    code, err = _run(capsys, ["evaluate", "--episodes", str(d), "--system", "noop", "--out",
                              str(tmp_path / "r.json")])
    assert code == 2 and f"{d}: is a folder, not a file" in err
    for bench in ("locomo", "halumem", "personamem"):
        code, err = _run(capsys, ["bench", bench, "--data", str(d), "--system", "oracle",
                                  "--out", str(tmp_path / f"{bench}.json")])
        assert code == 2 and str(d) in err and "folder" in err, err
    from deltamem_lib.benchmarks.halumem import load_halumem
    from deltamem_lib.benchmarks.personamem import load_personamem_questions

    for loader in (load_locomo, load_halumem, load_personamem_questions, load_episodes):
        with pytest.raises((OSError, ValueError)) as info:
            loader(d)
        assert exit_code(info.value) == 2 and str(d) in one_line(info.value)


def test_debug_flag_and_env_show_the_traceback(tmp_path, monkeypatch):
    d = tmp_path / "data"
    d.mkdir()
    argv = ["evaluate", "--episodes", str(d), "--system", "noop", "--out", str(tmp_path / "r.json")]
    with pytest.raises(IsADirectoryError):
        main(["--debug", *argv])
    monkeypatch.setenv("DELTAMEM_DEBUG", "1")
    with pytest.raises(IsADirectoryError):
        main(argv)


def test_evaluate_checks_out_before_any_work(tmp_path, capsys):
    out_dir = tmp_path / "results"
    out_dir.mkdir()
    # the episodes file does not even exist: the --out error must come first
    code, err = _run(capsys, ["evaluate", "--episodes", str(tmp_path / "missing.jsonl"), "--system", "noop",
                              "--out", str(out_dir)])
    assert code == 2 and "--out" in err and "is a folder" in err


def test_bench_checks_out_before_any_work(tmp_path, capsys):
    f = tmp_path / "f"
    f.write_text("x")
    code, err = _run(capsys, ["bench", "locomo", "--data", str(tmp_path / "missing.json"), "--system",
                              "oracle", "--out", str(f / "r.json")])
    assert code == 2 and "--out" in err and "is a file, not a folder" in err


def test_broken_manifest_and_journal_are_one_line_errors(tmp_path, capsys):
    work = tmp_path / "w"
    work.mkdir()
    (work / "bench_manifest.json").write_text("{not json")
    LOCOMO = Path(__file__).resolve().parents[1] / "data" / "samples" / "locomo_tiny.json"
    code, err = _run(capsys, ["bench", "locomo", "--data", str(LOCOMO), "--system", "oracle", "--work-dir",
                              str(work), "--out", str(tmp_path / "r.json")])
    assert code == 2 and "bench_manifest.json" in err and "line 1" in err
    (work / "bench_manifest.json").write_text("[1, 2]")
    code, err = _run(capsys, ["bench", "locomo", "--data", str(LOCOMO), "--system", "oracle", "--work-dir",
                              str(work), "--out", str(tmp_path / "r.json")])
    assert code == 2 and "bench_manifest.json" in err and "corrupt" in err
    j = tmp_path / "answers.jsonl"
    j.write_text('{"key": "a", "answer": 1}\n["junk"]\n{"key": "b"}\n')
    with pytest.raises(ValueError, match=r"answers.jsonl: line 2: expected a record with a string 'key'"):
        Journal(j)


class _Auth(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        data = json.dumps({"error": {"message": "Incorrect API key provided: "
                                                f"{self.headers.get('Authorization')}"}})
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data.encode())

    def log_message(self, *args):
        pass


def test_backend_401_is_one_line_exit_1_without_the_key(tmp_path, capsys, monkeypatch, episodes_file):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Auth)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("DELTAMEM_OPENAI_BASE_URL", f"http://127.0.0.1:{srv.server_address[1]}/v1")
        monkeypatch.setenv("DELTAMEM_OPENAI_API_KEY", KEY)
        code, err = _run(capsys, ["evaluate", "--episodes", str(episodes_file), "--split", "all",
                                  "--system", "deltamem-oneshot", "--model", "openai:tiny",
                                  "--limit-sessions", "1", "--out", str(tmp_path / "r.json")])
    finally:
        srv.shutdown()
        srv.server_close()
    assert code == 1 and "HTTP 401" in err and "DELTAMEM_OPENAI_API_KEY" in err and KEY not in err
    assert not (tmp_path / "r.json").exists()


# ------------------------------------------------------------------ argument types
@pytest.mark.parametrize("argv,name", [
    (["evaluate", "--episodes", "e", "--system", "noop", "--out", "o", "--batch-size", "0"], "--batch-size"),
    (["evaluate", "--episodes", "e", "--system", "noop", "--out", "o", "--limit-sessions", "-1"],
     "--limit-sessions"),
    (["evaluate", "--episodes", "e", "--system", "noop", "--out", "o", "--max-new-tokens", "x"],
     "--max-new-tokens"),
    (["bench", "locomo", "--data", "d", "--system", "oracle", "--out", "o", "--batch-size", "0"],
     "--batch-size"),
    (["bench", "locomo", "--data", "d", "--system", "oracle", "--out", "o", "--top-k", "0"], "--top-k"),
    (["bench", "locomo", "--data", "d", "--system", "oracle", "--out", "o", "--max-sessions", "-1"],
     "--max-sessions"),
    (["bench", "locomo", "--data", "d", "--system", "oracle", "--out", "o", "--judge-runs", "0"],
     "--judge-runs"),
    (["synth", "--users", "0", "--sessions", "1", "--out", "o"], "--users"),
])
def test_bad_numbers_are_refused_with_the_name(capsys, argv, name):
    """By argparse (exit 2 with usage) or, for ``deltamem bench``'s flags made from BenchConfig's
    fields, by the settings check (one line, exit 2); either way naming the flag."""
    try:
        code = main(argv)
    except SystemExit as info:
        code = info.code
    err = capsys.readouterr().err
    assert code == 2 and name in err, err
    assert "must be >=" in err or "must be ≥" in err or "expected an integer" in err, err
