"""The OpenAI-compatible backend against a tiny HTTP server on 127.0.0.1 (loopback only)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from deltamem_lib.models import BackendError, load_chat_model
from deltamem_lib.models.openai_backend import OpenAIChatModel, to_openai_messages

KEY = "sk-test-SECRET-0123456789"


class _Handler(BaseHTTPRequestHandler):
    replies: list = []
    seen: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            payload, code = {"error": {"message": "Incorrect API key provided: "
                                                  f"{self.headers.get('Authorization')}"}}, 401
        else:
            payload = type(self).replies.pop(0)
            code = payload.pop("_status", 200)
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture()
def server():
    _Handler.replies, _Handler.seen = [], []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def _reply(content=None, tool_calls=None, usage=(12, 5)):
    msg = {"role": "assistant", "content": content}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return {"choices": [{"message": msg, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1]}}


def test_plain_reply_and_usage(server):
    _Handler.replies.append(_reply("Paris."))
    m = OpenAIChatModel("tiny", base_url=server, api_key=KEY)
    r = m.chat([{"role": "user", "content": "Capital of France?"}], max_new_tokens=7, temperature=0.0, seed=3)
    assert r.text == "Paris." and r.tool_calls == []
    assert (r.prompt_tokens, r.completion_tokens) == (12, 5) and r.seconds > 0
    sent = _Handler.seen[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["max_tokens"] == 7 and sent["body"]["seed"] == 3 and sent["body"]["model"] == "tiny"
    assert m.stats.calls == 1 and m.stats.prompt_tokens == 12


def test_tool_calls_roundtrip(server):
    calls = [{"id": "c1", "type": "function",
              "function": {"name": "add_memory", "arguments": json.dumps({"content": "User likes tea."})}},
             {"id": "c2", "type": "function",
              "function": {"name": "delete_memory", "arguments": "{not json"}}]
    _Handler.replies.append(_reply(None, calls))
    tools = [{"type": "function", "function": {"name": "add_memory", "description": "d",
                                               "parameters": {"type": "object", "properties": {}}}}]
    m = OpenAIChatModel("tiny", base_url=server, api_key=KEY)
    r = m.chat([{"role": "user", "content": "I like tea"}], tools=tools)
    assert r.tool_calls == [{"name": "add_memory", "arguments": {"content": "User likes tea."}}]
    assert r.malformed_tool_calls == 1  # the broken arguments are counted, not fatal
    assert _Handler.seen[0]["body"]["tools"] == tools
    assert r.as_message()["tool_calls"][0]["function"]["arguments"] == {"content": "User likes tea."}


def test_raw_tool_call_text_is_parsed(server):
    _Handler.replies.append(_reply('<tool_call>\n{"name": "add_memory", "arguments": {"content": '
                                   '"x"}}\n</tool_call>'))
    r = OpenAIChatModel("tiny", base_url=server, api_key=KEY).chat([{"role": "user", "content": "hi"}])
    assert r.tool_calls == [{"name": "add_memory", "arguments": {"content": "x"}}]


def test_batch_concurrent_in_order(server):
    _Handler.replies.extend([_reply("a"), _reply("b"), _reply("c")])
    m = OpenAIChatModel("tiny", base_url=server, api_key=KEY, concurrency=1)
    out = m.chat_batch([[{"role": "user", "content": x}] for x in "abc"])
    assert [r.text for r in out] == ["a", "b", "c"] and m.stats.calls == 3


def test_bad_key_clear_error_without_key(server):
    wrong = "sk-WRONG-key-987654321"
    m = OpenAIChatModel("tiny", base_url=server, api_key=wrong, retries=0)
    with pytest.raises(BackendError) as info:
        m.chat([{"role": "user", "content": "hi"}])
    msg = str(info.value)
    assert "401" in msg and "API key" in msg and "DELTAMEM_OPENAI_API_KEY" in msg
    assert wrong not in msg and wrong not in repr(info.value)


def test_server_echoing_the_key_is_redacted(server):
    _Handler.replies.append({"_status": 400, "error": {"message": f"bad request from key {KEY}"}})
    m = OpenAIChatModel("tiny", base_url=server, api_key=KEY, retries=0)
    with pytest.raises(BackendError) as info:
        m.chat([{"role": "user", "content": "hi"}])
    assert "HTTP 400" in str(info.value) and "***" in str(info.value) and KEY not in str(info.value)


def test_connection_refused_names_url():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    m = OpenAIChatModel("tiny", base_url=url, api_key=KEY, retries=0, timeout=5)
    with pytest.raises(BackendError) as info:
        m.chat([{"role": "user", "content": "hi"}])
    assert f"127.0.0.1:{port}" in str(info.value) and "cannot reach" in str(info.value)
    assert KEY not in str(info.value)


def test_key_never_in_repr_or_pickle(monkeypatch, server):
    import pickle

    monkeypatch.setenv("DELTAMEM_OPENAI_BASE_URL", server)
    monkeypatch.setenv("DELTAMEM_OPENAI_API_KEY", KEY)
    m = load_chat_model("openai:tiny")
    assert isinstance(m, OpenAIChatModel) and m.base_url == server
    for text in (repr(m), str(m), str(vars(m).keys()), repr(pickle.loads(pickle.dumps(m)).__dict__)):
        assert KEY not in text
    _Handler.replies.append(_reply("ok"))
    assert m.chat([{"role": "user", "content": "hi"}]).text == "ok"  # the key is used, just never shown


def test_openai_rejects_adapter():
    with pytest.raises(ValueError, match="local"):
        load_chat_model("openai:x", load_adapter="some/dir")


def test_trl_messages_to_openai_wire_format():
    msgs = [{"role": "user", "content": "u"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"type": "function", "function": {"name": "a", "arguments": {"x": 1}}},
                {"type": "function", "function": {"name": "b", "arguments": {}}}]},
            {"role": "tool", "name": "a", "content": "ra"}, {"role": "tool", "name": "b", "content": "rb"}]
    out = to_openai_messages(msgs)
    ids = [c["id"] for c in out[1]["tool_calls"]]
    assert out[1]["tool_calls"][0]["function"]["arguments"] == '{"x": 1}'
    assert [out[2]["tool_call_id"], out[3]["tool_call_id"]] == ids and len(set(ids)) == 2
