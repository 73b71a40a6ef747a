"""Any OpenAI-compatible chat server: vLLM, Ollama, llama.cpp's server, hosted APIs.

The paper's strongest prompted row is "DeltaMem-4o-mini", the agent on an API model; a GPU
machine serves Qwen3 through vLLM with the same protocol. This backend speaks
``POST {base_url}/chat/completions`` through the maintained ``openai`` client (the one users
of OpenAI, vLLM and Ollama endpoints already know), sends the tools as OpenAI function
schemas and reads ``tool_calls`` back.

Configuration comes from the environment, never from a notebook cell or a results file:
``DELTAMEM_OPENAI_BASE_URL`` (or ``OPENAI_BASE_URL``; default ``https://api.openai.com/v1``)
and ``DELTAMEM_OPENAI_API_KEY`` (or ``OPENAI_API_KEY``; may be empty for local servers).
The key lives in a private attribute, is left out of ``repr``/``str``, pickles and every
error message; a password or key written into the base URL (``https://user:KEY@host/v1``,
``?api-key=KEY``) is treated the same way, and a server that echoes a secret back (in an
error or in a normal reply that would reach a transcript) gets it replaced by ``***``.

What a call does when the server misbehaves:

* ``timeout`` is the *total* time of one attempt (connect, headers and body together), not
  the time between two bytes: a server that trickles its answer is given up on after
  ``timeout`` seconds;
* a timeout, a refused or closed connection, a partial body, HTTP 429 and HTTP 5xx are
  retried ``retries`` times with exponential back-off (0.5 s, 1 s, 2 s …, at most 8 s, or
  the server's ``Retry-After`` when it is shorter than 8 s), so one call takes at most about
  ``(retries + 1) * timeout`` plus the back-off;
* HTTP 401/403/404/400, a body that is not UTF-8 JSON and a JSON reply without
  ``choices[0].message`` are not retried;
* every failure ends in :class:`~deltamem_lib.models.base.BackendError` whose message names
  the URL (without secrets), what went wrong and what to do;
* a reply longer than ``max_reply_chars`` characters (default 100,000; also
  ``DELTAMEM_OPENAI_MAX_REPLY_CHARS``) — its text or one tool call's arguments, or a body
  beyond what such a reply can take — is not kept: the call returns an empty answer counted
  as one malformed output (``finish_reason="length"``), so a runaway server can neither fill
  the memory nor write megabytes into a results file.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..redaction import redact, register
from .base import BackendError, ChatModel, ChatResponse, Messages
from .parsing import loads_lenient, parse_tool_calls

__all__ = ["OpenAIChatModel", "to_openai_messages"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_PLACEHOLDER_KEY = "EMPTY"  # local servers take any key; the client refuses an empty one
_MAX_BACKOFF = 8.0
DEFAULT_MAX_REPLY_CHARS = 100_000


class _TooLong(Exception):
    """The server's body grew past what a reply of ``max_reply_chars`` characters can take."""


_TOO_LONG_REPLY: dict[str, Any] = {}  # what _attempt returns for such a body (compared by identity)


class _Retryable(Exception):
    """An attempt failed in a way another attempt may fix (message already redacted)."""


def _split_url_secrets(base_url: str) -> tuple[str, list[str]]:
    """``(url shown in messages, secrets found in the URL)``: user info and query values."""
    try:
        parts = urllib.parse.urlsplit(base_url)
    except ValueError:
        return "<unparseable base URL>", [base_url]
    secrets = [x for x in (parts.username, parts.password) if x]
    secrets += [v for _, v in urllib.parse.parse_qsl(parts.query) if v]
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    shown = urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))
    return shown.rstrip("/"), secrets


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
        api_key: the key (may be empty for local servers); kept private. The command line
            reads it from the environment only (:meth:`from_env`).
        timeout: total seconds of one attempt (connect, headers and body together).
        concurrency: requests in flight during :meth:`chat_batch`.
        retries: extra attempts after a timeout, a connection failure, a partial body,
            HTTP 429 or HTTP 5xx (with exponential back-off).
        max_reply_chars: longest reply text (or tool-call arguments) kept; a longer reply
            counts as one malformed output with an empty answer.
    """

    def __init__(self, model: str, *, base_url: str = DEFAULT_BASE_URL, api_key: str = "",
                 timeout: float = 120.0, concurrency: int = 4, retries: int = 2,
                 max_reply_chars: int = DEFAULT_MAX_REPLY_CHARS) -> None:
        super().__init__()
        if isinstance(max_reply_chars, bool) or not isinstance(max_reply_chars, int) or max_reply_chars < 1:
            raise ValueError(f"max_reply_chars must be a whole number above 0, got {max_reply_chars!r}")
        self.max_reply_chars = max_reply_chars
        if not model:
            raise ValueError("give the server's model name, e.g. 'openai:gpt-4o-mini'")
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.name = model
        self.__key = api_key or ""
        self.__url = base_url.rstrip("/")
        self.base_url, url_secrets = _split_url_secrets(self.__url)
        self.__secrets = sorted({x for x in [self.__key, *url_secrets] if x and len(x) >= 4}, key=len,
                                reverse=True)
        # every file writer and error line of this process now removes the key and URL password
        try:
            user = urllib.parse.urlsplit(self.__url).username
        except ValueError:
            user = None
        register(self.__key, *[x for x in url_secrets if x != user])
        self.timeout = float(timeout)
        self.concurrency = max(1, concurrency)
        self.retries = max(0, retries)
        self._backoff = 0.5  # first back-off in seconds (tests shrink it)
        self.__client: Any = None
        self.__lock = threading.Lock()

    @classmethod
    def from_env(cls, model: str, **kwargs: Any) -> OpenAIChatModel:
        """Read base URL and key from ``DELTAMEM_OPENAI_*`` or ``OPENAI_*`` variables."""
        base = (os.environ.get("DELTAMEM_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
                or DEFAULT_BASE_URL)
        key = os.environ.get("DELTAMEM_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY") or ""
        cap = os.environ.get("DELTAMEM_OPENAI_MAX_REPLY_CHARS", "")
        if cap and "max_reply_chars" not in kwargs:
            if not cap.isdigit() or int(cap) < 1:
                raise ValueError(f"DELTAMEM_OPENAI_MAX_REPLY_CHARS={cap!r}: expected a whole number above 0")
            kwargs["max_reply_chars"] = int(cap)
        return cls(model, base_url=base, api_key=key, **kwargs)

    def __repr__(self) -> str:
        return (f"OpenAIChatModel(name={self.name!r}, base_url={self.base_url!r}, "
                f"api_key={'***' if self.__key else 'unset'})")

    __str__ = __repr__

    def __getstate__(self) -> dict[str, Any]:  # pickling (multiprocessing) must not carry a secret
        state = dict(self.__dict__)
        prefix = f"_{type(self).__name__}__"
        state[prefix + "key"] = ""
        state[prefix + "url"] = self.base_url
        state[prefix + "secrets"] = []
        state[prefix + "client"] = None
        state[prefix + "lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__lock = threading.Lock()

    def _redact(self, text: str) -> str:
        """``text`` with the key and any secret of the base URL replaced by ``***`` (also JSON-escaped)."""
        for secret in self.__secrets:
            text = text.replace(secret, "***")
        return redact(text)

    def _redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, dict):
            return {k: self._redact_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redact_value(v) for v in value]
        return value

    # ----- one request ---------------------------------------------------------------------
    def _client(self) -> Any:
        with self.__lock:
            if self.__client is None:
                try:
                    import openai
                except ImportError:
                    raise BackendError("the 'openai:' backend needs the openai package: "
                                       "pip install 'openai>=3.57,<4'") from None
                try:
                    import httpx2 as httpx
                except ImportError:  # pragma: no cover - older openai releases use httpx
                    import httpx  # type: ignore[no-redef]

                self.__client = openai.OpenAI(
                    api_key=self.__key or _PLACEHOLDER_KEY, base_url=self.__url, max_retries=0,
                    timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                )
            return self.__client

    def _attempt(self, payload: dict[str, Any], url: str) -> dict[str, Any]:
        """One request with a total deadline of ``self.timeout`` seconds."""
        import openai

        client = self._client()  # built (and openai imported) before the clock starts
        box: dict[str, Any] = {}
        body_cap = 12 * self.max_reply_chars + (1 << 16)  # JSON escapes take up to 6 bytes a character, twice
        cancelled = threading.Event()

        def work() -> None:
            try:
                with client.chat.completions.with_streaming_response.create(**payload) as resp:
                    chunks, size = [], 0
                    for chunk in resp.iter_bytes():
                        if cancelled.is_set():
                            return
                        size += len(chunk)
                        if size > body_cap:  # stop reading: the reply is over the cap whatever follows
                            box["error"] = _TooLong()
                            return
                        chunks.append(chunk)
                    box["body"] = b"".join(chunks)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                box["error"] = exc

        worker = threading.Thread(target=work, name="deltamem-openai-request", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():  # the worker stops reading at its next chunk and closes the response
            cancelled.set()
            raise _Retryable(f"no complete answer within {self.timeout:g} s (total timeout)")
        exc = box.get("error")
        if exc is None:
            return self._decode(box["body"], url)
        if isinstance(exc, _TooLong):
            return _TOO_LONG_REPLY
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc, url)
        if isinstance(exc, openai.APITimeoutError):
            raise _Retryable(f"timed out after {self.timeout:g} s")
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            raise _Retryable("cannot reach the server or it closed the connection "
                             f"({self._redact(type(cause).__name__ + ': ' + str(cause))[:200]})")
        if isinstance(exc, openai.OpenAIError):
            raise BackendError(f"{url}: {self._redact(str(exc))[:300]}")
        if isinstance(exc, (OSError, EOFError)) or type(exc).__module__.split(".")[0] in ("httpx", "httpx2",
                                                                                            "httpcore",
                                                                                            "httpcore2"):
            # raised while reading the body: the connection closed early or the body was cut short
            raise _Retryable("the answer was cut short "
                             f"({self._redact(type(exc).__name__ + ': ' + str(exc))[:200]})")
        raise exc

    def _decode(self, body: bytes, url: str) -> dict[str, Any]:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BackendError(f"{url}: the server's answer is not UTF-8 (byte {exc.start}); is this an "
                               "OpenAI-compatible endpoint?") from None
        try:
            reply = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BackendError(f"{url}: the server's answer is not JSON ({exc.msg} at character {exc.pos}: "
                               f"{self._redact(text[:120])!r}); is this an OpenAI-compatible "
                               "endpoint?") from None
        return reply

    def _status_error(self, exc: Any, url: str) -> dict[str, Any]:
        code = exc.status_code
        try:
            body = self._redact(exc.response.text[:300])
        except Exception:  # noqa: BLE001 - a body that cannot be decoded is not worth a second error
            body = "<unreadable body>"
        if code in (401, 403):
            raise BackendError(
                f"{url}: HTTP {code}, the server rejected the API key. Set a valid key in "
                "DELTAMEM_OPENAI_API_KEY (or OPENAI_API_KEY) and check DELTAMEM_OPENAI_BASE_URL."
            )
        if code == 404:
            raise BackendError(f"{url}: HTTP 404; check the base URL (it usually ends in /v1) and the "
                               f"model name {self.name!r}. Server said: {body}")
        if code == 429 or code >= 500:
            err = _Retryable(f"HTTP {code}: {body}")
            retry_after = exc.response.headers.get("retry-after", "")
            # type: ignore[attr-defined]
            err.retry_after = float(retry_after) if re.fullmatch(r"\d+(\.\d+)?", retry_after) else None
            raise err
        raise BackendError(f"{url}: HTTP {code}: {body}")

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/chat/completions"
        last = ""
        for attempt in range(self.retries + 1):
            try:
                return self._attempt(payload, url)
            except _Retryable as exc:
                last = str(exc)
                wait = min(_MAX_BACKOFF, self._backoff * 2 ** attempt)
                hint = getattr(exc, "retry_after", None)
                if hint is not None and hint < _MAX_BACKOFF:
                    wait = max(wait, hint)
            if attempt < self.retries:
                time.sleep(wait)
        advice = ("is the server running and is DELTAMEM_OPENAI_BASE_URL right?" if "cannot reach" in last
                  else "try again later, or raise the timeout or the number of retries")
        raise BackendError(f"{url}: {last} (after {self.retries + 1} attempt{'s' if self.retries else ''}); "
                           f"{advice}")

    def _one(self, messages: Messages, *, max_new_tokens: int, temperature: float,
             tools: list[dict[str, Any]] | None, seed: int | None) -> ChatResponse:

        payload: dict[str, Any] = {"model": self.name, "messages": to_openai_messages(messages),
                                   "max_tokens": max_new_tokens, "temperature": temperature}
        if seed is not None:
            payload["seed"] = seed
        if tools:
            payload["tools"] = [t if "function" in t else {"type": "function", "function": t} for t in tools]
        t0 = time.perf_counter()
        raw = self._post(payload)
        seconds = time.perf_counter() - t0
        if raw is _TOO_LONG_REPLY:
            return self._too_long(seconds)
        reply = self._redact_value(raw)  # a reply that echoes a secret never leaves here
        url = f"{self.base_url}/chat/completions"
        choice = reply.get("choices") if isinstance(reply, dict) else None
        choice = choice[0] if isinstance(choice, list) and choice else None
        msg = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(msg, dict) or not isinstance(msg.get("content") or "", str) \
                or not isinstance(msg.get("tool_calls") or [], list):
            raise BackendError(f"{url}: unexpected answer, expected {{'choices': [{{'message': {{'content': "
                               f"str, 'tool_calls': list}}}}]}}, got {json.dumps(reply)[:200]}")
        content = msg.get("content") or ""
        if len(content) > self.max_reply_chars or any(
                len(str(tc.get("function", {}).get("arguments", "") if isinstance(tc, dict)
                        and isinstance(tc.get("function"), dict) else "")) > self.max_reply_chars
                for tc in msg.get("tool_calls") or []):
            return self._too_long(seconds)
        calls, malformed = [], 0
        for tc in msg.get("tool_calls") or []:
            f = tc.get("function") if isinstance(tc, dict) else None
            if not isinstance(f, dict):
                malformed += 1
                continue
            args = f.get("arguments", {})
            if isinstance(args, str):
                try:
                    args = loads_lenient(args) if args.strip() else {}
                except ValueError:
                    malformed += 1
                    continue
            if not isinstance(args, dict) or not isinstance(f.get("name"), str) or not f.get("name"):
                malformed += 1
                continue
            calls.append({"name": f["name"], "arguments": args})
        if not calls and "<tool_call>" in content:  # servers without a tool parser return the raw text
            known = {t.get("function", t).get("name") for t in tools or []} or None
            parsed = parse_tool_calls(content, known_tools=known)
            content, calls, malformed = parsed.content, parsed.calls, len(parsed.malformed)
        calls = self._redact_value(calls)  # decoded arguments may spell a secret that was escaped before
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}

        def _count(key: str) -> int:
            v = usage.get(key)
            return (int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    and v >= 0 else 0)

        finish = choice.get("finish_reason")
        return ChatResponse(text=content, tool_calls=calls, prompt_tokens=_count("prompt_tokens"),
                            completion_tokens=_count("completion_tokens"), seconds=seconds,
                            raw_text=msg.get("content") or "", malformed_tool_calls=malformed,
                            finish_reason=finish if isinstance(finish, str) else None)

    def _too_long(self, seconds: float) -> ChatResponse:
        """The answer to a reply over ``max_reply_chars``: empty, one malformed output."""
        return ChatResponse(text="", tool_calls=[], seconds=seconds, raw_text="", malformed_tool_calls=1,
                            finish_reason="length")

    def _generate(self, batch: list[Messages], *, max_new_tokens: int, temperature: float,
                  tools: list[dict[str, Any]] | None, seed: int | None) -> list[ChatResponse]:
        kw = {"max_new_tokens": max_new_tokens, "temperature": temperature, "tools": tools, "seed": seed}
        if len(batch) == 1 or self.concurrency == 1:
            return [self._one(m, **kw) for m in batch]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batch))) as pool:
            return list(pool.map(lambda m: self._one(m, **kw), batch))
