"""Secrets never leave: an API key (in any spelling, JSON-escaped included) never reaches a state
file, a written file, the error line or what a command prints."""

from __future__ import annotations

import json

from deltamem_lib.agent.ingest import ingest_users
from deltamem_lib.agent.systems import make_system
from deltamem_lib.synthesis import SynthConfig, generate_episodes


def _escaped(key):
    return key.replace("-", "\\u002d")


def test_a_key_echoed_json_escaped_in_tool_arguments_never_reaches_a_state_file(tmp_path):
    import threading
    from http.server import ThreadingHTTPServer

    from test_openai_misbehaving_server import KEY, _ok, _Stub

    from deltamem_lib.models.openai_backend import OpenAIChatModel

    args = '{"content": "User\'s API key is ' + _escaped(KEY) + '."}'
    call = {"id": "c1", "type": "function", "function": {"name": "add_memory", "arguments": args}}
    _Stub.script, _Stub.seen = [("json", _ok("", tool_calls=[call]))], []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        model = OpenAIChatModel("tiny", base_url=f"http://127.0.0.1:{srv.server_address[1]}/v1", api_key=KEY,
                                retries=0, timeout=5)
        eps = generate_episodes(SynthConfig(users=1, sessions=1, seed=3))
        res = ingest_users(make_system("deltamem", model, retriever="lexical"), eps, out_dir=tmp_path)
    finally:
        srv.shutdown()
        srv.server_close()
    assert any("***" in c for c in res.states[eps[0].user_id][0].contents())
    for p in tmp_path.rglob("*.json"):
        text = p.read_text()
        assert KEY not in text and _escaped(KEY) not in text, p


def test_writers_and_the_error_line_redact_registered_secrets_in_every_spelling(tmp_path, capsys):
    from deltamem_lib.cli_errors import report_error
    from deltamem_lib.io import append_jsonl, atomic_write_json, atomic_write_text
    from deltamem_lib.redaction import register

    key = "sk-round2-writers-777"
    register(key)
    atomic_write_json(tmp_path / "a.json", {"plain": key, "in text": f"x {key} y"})
    atomic_write_text(tmp_path / "b.txt", f"escaped {_escaped(key)} and {key.upper()[:4]}")
    append_jsonl(tmp_path / "c.jsonl", [{"k": key}])
    for p in tmp_path.iterdir():
        text = p.read_text()
        assert key not in text and _escaped(key) not in text and "***" in text, p
    json.loads((tmp_path / "a.json").read_text())  # still valid JSON
    assert report_error("bench", ValueError(f"bad {key}")) == 2
    assert key not in capsys.readouterr().err


def test_what_a_command_prints_is_redacted_too(tmp_path, capsys):
    """Progress and result lines go through the same redaction as files and the error line."""
    import json

    from deltamem_lib.cli import main
    from deltamem_lib.redaction import redacted_output, register

    secret = "sk-printed-0123456789abcdef"
    register(secret)
    with redacted_output():
        print(f"key {secret} and escaped {json.dumps(secret).replace('-', chr(92) + 'u002d')}")
    out = capsys.readouterr().out
    assert secret not in out and "u002d" not in out and out.count("***") == 2
    runs = []
    for s in (0, 1):
        p = tmp_path / f"r{s}.json"
        p.write_text(json.dumps({"profile": "cpu", "model": "m", "data": {}, "training_seconds": 1.0,
                                 "config": {"seed": s}, "comparisons": {},
                                 "per_session": {k: {"keys": ["a/b"], "r_trans": [0.5]}
                                                 for k in ("no-op", "sft", "sft+grpo")}}))
        runs.append(str(p))
    target = tmp_path / f"{secret}.json"  # a path that holds the secret is printed by the command
    assert main(["train", "--collect-seeds", *runs, "--out", str(target)]) == 0
    printed = capsys.readouterr().out
    assert "seeds file:" in printed and secret not in printed and "***" in printed
