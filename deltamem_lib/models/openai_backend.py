"""Any OpenAI-compatible chat server: vLLM, Ollama, llama.cpp's server, hosted APIs.

The paper's strongest prompted row is "DeltaMem-4o-mini", the agent on an API model; a GPU
machine serves Qwen3 through vLLM with the same protocol. This backend speaks
``POST {base_url}/chat/completions`` with the standard library only (``urllib``), sends the
tools as OpenAI function schemas and reads ``tool_calls`` back.

Configuration comes from the environment, never from a notebook cell or a results file:
``DELTAMEM_OPENAI_BASE_URL`` (or ``OPENAI_BASE_URL``; default ``https://api.openai.com/v1``)
and ``DELTAMEM_OPENAI_API_KEY`` (or ``OPENAI_API_KEY``; may be empty for local servers).
The key lives in a private attribute, is left out of ``repr``/``str`` and of every error
message (a server that echoes it back gets it replaced by ``***``).
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .base import BackendError, ChatModel, ChatResponse, Messages

__all__ = ["OpenAIChatModel", "to_openai_messages"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def to_openai_messages(messages: Messages) -> list[dict[str, Any]]:
    """TRL-style messages → the OpenAI wire format.

    Tool-call arguments become JSON strings, each call gets an id, and each following
    ``tool`` message gets the ``tool_call_id`` of the call it answers (in order).
    """
    out: list[dict[str, Any]] = []
    pending: list[str] = []
    n = 0
    for m in messages:
        role = m.get("role")
        if role == "assistant" and m.get("tool_calls"):
            calls = []
            pending = []
            for tc in m["tool_calls"]:
                f = tc.get("function", tc)
                n += 1
                cid = tc.get("id") or f"call_{n}"
                args = f.get("arguments", {})
                calls.append({"id": cid, "type": "function",
                              "function": {"name": f.get("name"),
                                           "arguments": args if isinstance(args, str) else json.dumps(args)}})
                pending.append(cid)
            out.append({"role": "assistant", "content": m.get("content") or None, "tool_calls": calls})
        elif role == "tool":
            cid = m.get("tool_call_id") or (pending.pop(0) if pending else f"call_{n}")
            out.append({"role": "tool", "tool_call_id": cid, "content": str(m.get("content", ""))})
        else:
            out.append({"role": role, "content": m.get("content", "")})
    return out


class OpenAIChatModel(ChatModel):
    """A chat model behind an OpenAI-compatible HTTP endpoint.

    Args:
        model: the server's model name (``gpt-4o-mini``, ``Qwen/Qwen3-8B``, ``qwen3:4b`` …).
        base_url: the API root, ending in ``/v1`` for most servers.
        api_key: the key (may be empty for local servers); kept private.
        timeout: seconds per request.
        concurrency: requests in flight during :meth:`chat_batch`.
        retries: extra attempts on HTTP 429/5xx and timeouts (with back-off).
    """

    def __init__(self, model: str, *, base_url: str = DEFAULT_BASE_URL, api_key: str = "", timeout: float = 120.0,
                 concurrency: int = 4, retries: int = 2) -> None:
        super().__init__()
        if not model:
            raise ValueError("give the server's model name, e.g. 'openai:gpt-4o-mini'")
        self.name = model
        self.base_url = base_url.rstrip("/")
        self.__key = api_key or ""
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self.retries = max(0, retries)

    @classmethod
    def from_env(cls, model: str, **kwargs: Any) -> OpenAIChatModel:
        """Read base URL and key from ``DELTAMEM_OPENAI_*`` or ``OPENAI_*`` variables."""
        base = os.environ.get("DELTAMEM_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        key = os.environ.get("DELTAMEM_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY") or ""
        return cls(model, base_url=base, api_key=key, **kwargs)

    def __repr__(self) -> str:
        return f"OpenAIChatModel(name={self.name!r}, base_url={self.base_url!r}, api_key={'***' if self.__key else 'unset'})"

    __str__ = __repr__

    def __getstate__(self) -> dict[str, Any]:  # pickling (multiprocessing) must not carry the key
        state = dict(self.__dict__)
        state[f"_{type(self).__name__}__key"] = ""
        return state

    def _redact(self, text: str) -> str:
        return text.replace(self.__key, "***") if self.__key else text

    # ----- one request ---------------------------------------------------------------------
    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/chat/completions"
        data = json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.__key:
            headers["Authorization"] = f"Bearer {self.__key}"
        last: str = ""
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 — URL from config
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                body = self._redact(exc.read().decode("utf-8", "replace")[:300])
                if exc.code in (401, 403):
                    raise BackendError(
                        f"{url}: HTTP {exc.code}, the server rejected the API key. Set a valid key in "
                        "DELTAMEM_OPENAI_API_KEY (or OPENAI_API_KEY) and check DELTAMEM_OPENAI_BASE_URL."
                    ) from None
                if exc.code == 404:
                    raise BackendError(f"{url}: HTTP 404; check the base URL (it usually ends in /v1) and the "
                                       f"model name {self.name!r}. Server said: {body}") from None
                last = f"HTTP {exc.code}: {body}"
                if exc.code != 429 and exc.code < 500:
                    raise BackendError(f"{url}: {last}") from None
            except urllib.error.URLError as exc:
                reason = self._redact(str(exc.reason))
                if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                    last = f"timed out after {self.timeout:.0f} s"
                else:
                    raise BackendError(f"cannot reach {url} ({reason}); is the server running and is "
                                       "DELTAMEM_OPENAI_BASE_URL right?") from None
            except (TimeoutError, socket.timeout):
                last = f"timed out after {self.timeout:.0f} s"
            except json.JSONDecodeError:
                raise BackendError(f"{url}: the server's answer is not JSON; is this an OpenAI-compatible "
                                   "endpoint?") from None
            if attempt < self.retries:
                time.sleep(min(8.0, 0.5 * 2 ** attempt))
        raise BackendError(f"{url}: {last} (after {self.retries + 1} attempts)")

    def _one(self, messages: Messages, *, max_new_tokens: int, temperature: float,
             tools: list[dict[str, Any]] | None, seed: int | None) -> ChatResponse:
        from .parsing import loads_lenient, parse_tool_calls

        payload: dict[str, Any] = {"model": self.name, "messages": to_openai_messages(messages),
                                   "max_tokens": max_new_tokens, "temperature": temperature}
        if seed is not None:
            payload["seed"] = seed
        if tools:
            payload["tools"] = [t if "function" in t else {"type": "function", "function": t} for t in tools]
        t0 = time.perf_counter()
        reply = self._post(payload)
        seconds = time.perf_counter() - t0
        try:
            choice = reply["choices"][0]
            msg = choice.get("message") or {}
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"{self.base_url}: unexpected answer without choices: "
                               f"{self._redact(json.dumps(reply)[:200])}") from None
        content = msg.get("content") or ""
        calls, malformed = [], 0
        for tc in msg.get("tool_calls") or []:
            f = tc.get("function") or {}
            args = f.get("arguments", {})
            if isinstance(args, str):
                try:
                    args = loads_lenient(args) if args.strip() else {}
                except ValueError:
                    malformed += 1
                    continue
            if not isinstance(args, dict) or not f.get("name"):
                malformed += 1
                continue
            calls.append({"name": f["name"], "arguments": args})
        if not calls and "<tool_call>" in content:  # servers without a tool parser return the raw text
            known = {t.get("function", t).get("name") for t in tools or []} or None
            parsed = parse_tool_calls(content, known_tools=known)
            content, calls, malformed = parsed.content, parsed.calls, len(parsed.malformed)
        usage = reply.get("usage") or {}
        return ChatResponse(text=content, tool_calls=calls, prompt_tokens=int(usage.get("prompt_tokens") or 0),
                            completion_tokens=int(usage.get("completion_tokens") or 0), seconds=seconds,
                            raw_text=msg.get("content") or "", malformed_tool_calls=malformed,
                            finish_reason=choice.get("finish_reason"))

    def _generate(self, batch: list[Messages], *, max_new_tokens: int, temperature: float,
                  tools: list[dict[str, Any]] | None, seed: int | None) -> list[ChatResponse]:
        kw = {"max_new_tokens": max_new_tokens, "temperature": temperature, "tools": tools, "seed": seed}
        if len(batch) == 1 or self.concurrency == 1:
            return [self._one(m, **kw) for m in batch]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batch))) as pool:
            return list(pool.map(lambda m: self._one(m, **kw), batch))
