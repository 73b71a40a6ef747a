"""The OpenAI-compatible backend against a misbehaving server on 127.0.0.1 (loopback only).

One stub server plays every failure mode a careless or unlucky endpoint produces; each test
checks that the call ends in a clear BackendError (or, after retries, in the right answer),
within its time bound, and that no secret reaches a message or a reply.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from deltamem_lib.models import BackendError
from deltamem_lib.models.openai_backend import OpenAIChatModel

KEY = "sk-hardening-SECRET-424242"
HI = [{"role": "user", "content": "hi"}]


def _ok(content="ok", tool_calls=None):
    msg = {"role": "assistant", "content": content}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return {"choices": [{"message": msg, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1}}


class _Stub(BaseHTTPRequestHandler):
    """Plays the next scripted behaviour for each request."""

    script: list = []
    seen: list = []
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append({"path": self.path, "auth": self.headers.get("Authorization")})
        kind, arg = type(self).script.pop(0) if type(self).script else ("json", _ok())
        if kind == "close":  # read the request, answer nothing
            self.close_connection = True
            return
        if kind == "trickle":  # headers at once, then one byte every 0.2 s
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(int(arg / 0.2)):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            self.close_connection = True
            return
        if kind == "partial":  # promise 500 bytes, send 20, hang up
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "500")
            self.end_headers()
            self.wfile.write(b'{"choices": [{"messa')
            self.wfile.flush()
            self.close_connection = True
            return
        if kind == "raw":
            code, data, headers = arg
        else:
            code, data, headers = (arg.pop("_status", 200) if isinstance(arg, dict)
                                   else 200), json.dumps(arg).encode(), {}
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def stub():
    _Stub.script, _Stub.seen = [], []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def _model(url, **kw):
    kw.setdefault("retries", 0)
    kw.setdefault("timeout", 5)
    m = OpenAIChatModel("tiny", base_url=url, api_key=KEY, **kw)
    m._backoff = 0.05
    return m


def test_trickling_server_total_timeout_is_honoured(stub):
    _Stub.script.append(("trickle", 10.0))
    m = _model(stub, timeout=1.0)
    m._client()  # import and build the client outside the measured call
    t0 = time.perf_counter()
    with pytest.raises(BackendError) as info:
        m.chat(HI)
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.5, f"a trickling server held the call {elapsed:.1f} s (timeout 1 s)"
    assert "total timeout" in str(info.value) and "1 s" in str(info.value)


def test_trickling_then_answer_is_retried(stub):
    _Stub.script += [("trickle", 8.0), ("json", _ok("second"))]
    m = _model(stub, timeout=2.0, retries=1)
    m._client()
    t0 = time.perf_counter()
    assert m.chat(HI).text == "second"
    assert time.perf_counter() - t0 < 6.0


def test_closed_connection_is_retried_then_reported(stub):
    _Stub.script += [("close", None), ("json", _ok("after close"))]
    assert _model(stub, retries=1).chat(HI).text == "after close"
    _Stub.script += [("close", None), ("close", None)]
    with pytest.raises(BackendError) as info:
        _model(stub, retries=1).chat(HI)
    msg = str(info.value)
    assert "closed the connection" in msg and "after 2 attempts" in msg and "/chat/completions" in msg


def test_partial_body_is_retried_then_reported(stub):
    _Stub.script += [("partial", None), ("json", _ok("whole"))]
    assert _model(stub, retries=1).chat(HI).text == "whole"
    _Stub.script.append(("partial", None))
    with pytest.raises(BackendError) as info:
        _model(stub).chat(HI)
    assert "cut short" in str(info.value) or "closed the connection" in str(info.value)


def test_non_utf8_body_is_a_clear_error(stub):
    _Stub.script.append(("raw", (200, b'{"choices": "\xff\xfe"}', {})))
    with pytest.raises(BackendError) as info:
        _model(stub).chat(HI)
    assert "not UTF-8" in str(info.value)


def test_non_json_body_is_a_clear_error(stub):
    _Stub.script.append(("raw", (200, b"<html>hello</html>", {})))
    with pytest.raises(BackendError) as info:
        _model(stub).chat(HI)
    assert "not JSON" in str(info.value) and "OpenAI-compatible" in str(info.value)


@pytest.mark.parametrize("reply", [
    {"choices": "nope"},
    {"choices": []},
    {"choices": [{"message": "text"}]},
    {"choices": [{"message": {"content": 5}}]},
    {"choices": [{"message": {"content": "x", "tool_calls": "t"}}]},
    [1, 2, 3],
])
def test_unexpected_json_shape_is_a_clear_error(stub, reply):
    _Stub.script.append(("json", reply))
    with pytest.raises(BackendError) as info:
        _model(stub).chat(HI)
    assert "unexpected answer" in str(info.value) and "choices" in str(info.value)


def test_malformed_tool_call_entries_are_counted_not_fatal(stub):
    _Stub.script.append(("json", _ok("", tool_calls=["junk", {"function": {"name": 3}},
                                                      {"function": {"name": "ok_tool", "arguments": "{}"}}])))
    r = _model(stub).chat(HI)
    assert r.tool_calls == [{"name": "ok_tool", "arguments": {}}] and r.malformed_tool_calls == 2


def test_401_clear_and_not_retried(stub):
    _Stub.script.append(("json",
                         {"_status": 401, "error": {"message": f"Incorrect API key provided: {KEY}"}}))
    with pytest.raises(BackendError) as info:
        _model(stub, retries=3).chat(HI)
    msg = str(info.value)
    assert "401" in msg and "DELTAMEM_OPENAI_API_KEY" in msg and KEY not in msg
    assert len(_Stub.seen) == 1  # a bad key is not retried


def test_429_and_500_are_retried_then_succeed(stub):
    _Stub.script += [("json", {"_status": 429, "error": {"message": "slow down"}}),
                     ("json", {"_status": 500, "error": {"message": "oops"}}),
                     ("json", _ok("third time"))]
    r = _model(stub, retries=2).chat(HI)
    assert r.text == "third time" and len(_Stub.seen) == 3


def test_retries_are_bounded(stub):
    _Stub.script += [("json", {"_status": 503, "error": {"message": "down"}}) for _ in range(5)]
    with pytest.raises(BackendError) as info:
        _model(stub, retries=2).chat(HI)
    assert "HTTP 503" in str(info.value) and "after 3 attempts" in str(info.value)
    assert len(_Stub.seen) == 3


def test_key_echoed_in_a_normal_reply_is_redacted(stub):
    args = json.dumps({"text": f"the key is {KEY}"})
    _Stub.script.append(("json", _ok(f"echo {KEY}", tool_calls=[{"id": "c1", "type": "function",
                                                                   "function": {"name": "add",
                                                                                "arguments": args}}])))
    r = _model(stub).chat(HI)
    dumped = json.dumps({"text": r.text, "raw": r.raw_text, "calls": r.tool_calls})
    assert KEY not in dumped and "***" in r.text and r.tool_calls[0]["arguments"]["text"] == "the key is ***"


@pytest.mark.parametrize("form", ["userinfo", "query"])
def test_secret_in_base_url_never_shown(stub, form):
    host = stub.removeprefix("http://").removesuffix("/v1")
    secret = "urlSECRET9876"
    url = f"http://user:{secret}@{host}/v1" if form == "userinfo" else f"http://{host}/v1?api-key={secret}"
    m = OpenAIChatModel("tiny", base_url=url, api_key="", retries=0, timeout=5)
    assert secret not in repr(m) and secret not in m.base_url
    _Stub.script.append(("json", {"_status": 400, "error": {"message": f"bad request at {url}"}}))
    with pytest.raises(BackendError) as info:
        m.chat(HI)
    assert "HTTP 400" in str(info.value) and secret not in str(info.value)
    _Stub.script.append(("json", _ok(f"you called {url}")))
    assert secret not in m.chat(HI).text


def test_empty_key_works_for_local_servers(stub):
    m = OpenAIChatModel("tiny", base_url=stub, api_key="", retries=0, timeout=5)
    assert m.chat(HI).text == "ok"


def test_timeout_must_be_positive():
    with pytest.raises(ValueError, match="timeout"):
        OpenAIChatModel("tiny", base_url="http://127.0.0.1:9/v1", timeout=0)
