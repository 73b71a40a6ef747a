"""Bounded replies and inputs: over-long model replies, non-finite usage counts, special files,
size and nesting limits, and numbers JSON cannot hold are refused naming the file."""

from __future__ import annotations

import json

import pytest


def _serve(script):
    import threading
    from http.server import ThreadingHTTPServer

    from test_openai_misbehaving_server import _Stub

    _Stub.script, _Stub.seen = list(script), []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/v1"


@pytest.mark.parametrize("kind", ["text", "arguments", "body"])
def test_an_over_long_reply_is_one_malformed_output_not_kept(kind):
    from test_openai_misbehaving_server import _ok

    from deltamem_lib.models.openai_backend import OpenAIChatModel

    big = "x" * 5000
    if kind == "text":
        reply = ("json", _ok(big))
    elif kind == "arguments":
        reply = ("json", _ok("", tool_calls=[{"id": "c", "type": "function", "function": {
            "name": "add_memory", "arguments": json.dumps({"content": big})}}]))
    else:  # a body far beyond any reply of the cap, whatever its shape
        reply = ("raw", (200, b'{"pad": "' + b"y" * 200_000 + b'"}', {}))
    srv, url = _serve([reply, ("json", _ok("short"))])
    try:
        m = OpenAIChatModel("tiny", base_url=url, retries=0, timeout=5, max_reply_chars=1000)
        r = m.chat([{"role": "user", "content": "hi"}])
        assert (r.text == "" and r.tool_calls == [] and r.malformed_tool_calls == 1
                and r.finish_reason == "length")
        assert m.chat([{"role": "user", "content": "hi"}]).text == "short"  # the next call is unaffected
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("usage", ['{"prompt_tokens": NaN, "completion_tokens": Infinity}',
                                   '{"prompt_tokens": 1e400, "completion_tokens": -Infinity}'])
def test_usage_counts_that_are_not_finite_count_as_zero(usage):
    from deltamem_lib.models.openai_backend import OpenAIChatModel

    body = ('{"choices": [{"message": {"role": "assistant", "content": "ok"}}], "usage": ' + usage
            + "}").encode()
    srv, url = _serve([("raw", (200, body, {}))])
    try:
        r = OpenAIChatModel("tiny", base_url=url, retries=0,
                            timeout=5).chat([{"role": "user", "content": "hi"}])
    finally:
        srv.shutdown()
        srv.server_close()
    assert r.text == "ok" and r.prompt_tokens == 0 and r.completion_tokens == 0


def test_special_files_are_refused_before_reading(tmp_path):
    import os

    from deltamem_lib.io import DataFileError, iter_jsonl, read_json

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    for read in (read_json, lambda p: list(iter_jsonl(p))):
        with pytest.raises(DataFileError, match=r"pipe\.json: is a named pipe \(FIFO\), not a regular file"):
            read(fifo)  # would block forever if opened
        with pytest.raises(DataFileError, match="is a device"):
            read("/dev/zero")  # would never end
        with pytest.raises(IsADirectoryError, match="is a folder"):
            read(tmp_path)


def test_input_size_and_nesting_limits_are_enforced_and_can_be_raised(tmp_path, monkeypatch):
    from deltamem_lib.io import DataFileError, iter_jsonl, read_json

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataFileError, match=r"deep\.json: JSON nested deeper than 200 levels"):
        read_json(deep)
    lines = tmp_path / "deep.jsonl"
    lines.write_text('{"a": 1}\n' + "[" * 300 + "]" * 300 + "\n")
    with pytest.raises(DataFileError, match=r"deep\.jsonl: line 2: JSON nested deeper than 200 levels"):
        list(iter_jsonl(lines))
    monkeypatch.setenv("DELTAMEM_MAX_JSON_DEPTH", "400")
    assert len(list(iter_jsonl(lines))) == 2
    big = tmp_path / "big.json"
    big.write_text("[" + "1, " * 600_000 + "1]")
    monkeypatch.setenv("DELTAMEM_MAX_INPUT_MB", "1")
    with pytest.raises(DataFileError, match=r"big\.json: 2 MB is larger than the input limit of 1 MB"):
        read_json(big)
    monkeypatch.setenv("DELTAMEM_MAX_INPUT_MB", "3")
    assert len(read_json(big)) == 600_001


@pytest.mark.parametrize("text,problem", [
    ('{"a": ' + "9" * 5000 + "}", "Exceeds the limit"),
    ('{"answer": 1e400}', "the number 1e400 is outside the range of a float"),
    ('{"p": NaN}', "NaN is not a number standard JSON allows"),
])
def test_numbers_json_cannot_hold_are_refused_naming_the_file(tmp_path, text, problem):
    from deltamem_lib.io import DataFileError, read_json

    p = tmp_path / "numbers.json"
    p.write_text(text)
    with pytest.raises(DataFileError, match=r"numbers\.json: ") as info:
        read_json(p)
    assert problem in str(info.value)


@pytest.mark.parametrize("line,problem", [("[" * 100_000 + "]" * 100_000, "nested too deeply"),
                                          ('{"key": "a", "n": ' + "9" * 5000 + "}", "Exceeds the limit")])
def test_a_journal_line_python_cannot_parse_is_refused_naming_file_and_line(tmp_path, line, problem):
    from deltamem_lib.io import DataFileError, Journal

    p = tmp_path / "answers.jsonl"
    p.write_text(line + '\n{"key": "b"}\n')
    with pytest.raises(DataFileError, match=r"answers\.jsonl: line 1: ") as info:
        Journal(p)
    assert problem in str(info.value)
