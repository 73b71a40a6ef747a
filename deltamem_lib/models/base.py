"""One interface for every language model the workbook talks to.

DeltaMem's memory manager is "an LLM with tools"; the paper runs it on Qwen3-4B/8B (local)
and GPT-4o-mini (an API). The workbook needs the same two kinds of backend, behind one small
interface, so the agent, the baselines, the data teacher and the benchmarks never care which
model answers:

* :class:`ChatModel` — ``name``, :meth:`ChatModel.chat` and :meth:`ChatModel.chat_batch`,
  taking OpenAI/TRL-style messages (``{"role", "content"}``, assistant ``tool_calls``,
  ``tool`` results) and optional tool JSON schemas;
* :class:`ChatResponse` — the generated ``text``, the parsed ``tool_calls`` (a list of
  ``{"name", "arguments"}``), and the cost of the call: ``prompt_tokens``,
  ``completion_tokens`` and wall ``seconds``;
* :class:`CallStats` — every backend accumulates the cost of all its calls, so an
  evaluation can report tokens and seconds per session without instrumenting anything.

:func:`deltamem_lib.models.loading.load_chat_model` builds a backend from a short spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BackendError",
    "CallStats",
    "ChatModel",
    "ChatResponse",
    "Messages",
    "tool_call_message",
]

Messages = list[dict[str, Any]]


class BackendError(RuntimeError):
    """A model backend could not answer (server unreachable, bad key, model missing).

    The message says what failed and what to do; it never contains an API key.
    """


@dataclass
class ChatResponse:
    """The answer to one chat call.

    Attributes:
        text: the generated text with tool-call blocks removed (the assistant's "content").
        tool_calls: parsed tool calls, each ``{"name": str, "arguments": dict}``.
        prompt_tokens: tokens in the rendered prompt.
        completion_tokens: tokens generated.
        seconds: wall time of the call (for a batch, the batch time divided evenly).
        raw_text: the generated text as the model produced it (tool-call blocks included).
        malformed_tool_calls: tool-call blocks that could not be parsed (counted, never fatal).
        finish_reason: ``"stop"`` or ``"length"`` where the backend reports it.
    """

    text: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    raw_text: str = ""
    malformed_tool_calls: int = 0
    finish_reason: str | None = None

    def as_message(self) -> dict[str, Any]:
        """The assistant message to append to the conversation (TRL's tool-call format)."""
        return tool_call_message(self.text, self.tool_calls)


def tool_call_message(content: str, tool_calls: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An assistant message in TRL / transformers format (``arguments`` stay a dict)."""
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        msg["tool_calls"] = [
            {"type": "function", "function": {"name": c["name"], "arguments": dict(c.get("arguments") or {})}}
            for c in tool_calls
        ]
    return msg


@dataclass
class CallStats:
    """Running totals of a backend's calls (reset with :meth:`reset`)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def record(self, responses: Sequence[ChatResponse]) -> None:
        for r in responses:
            self.calls += 1
            self.prompt_tokens += r.prompt_tokens
            self.completion_tokens += r.completion_tokens
            self.seconds += r.seconds

    def reset(self) -> None:
        self.calls = self.prompt_tokens = self.completion_tokens = 0
        self.seconds = 0.0

    def snapshot(self) -> dict[str, float]:
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "seconds": round(self.seconds, 3)}


class ChatModel:
    """Base class of the backends. Subclasses implement :meth:`_generate`.

    ``chat_batch`` is the primitive (local models batch on the accelerator, HTTP backends send
    requests concurrently); ``chat`` is a batch of one.
    """

    name: str = "model"

    def __init__(self) -> None:
        self.stats = CallStats()

    def chat(self, messages: Messages, *, max_new_tokens: int = 256, temperature: float = 0.0,
             tools: list[dict[str, Any]] | None = None, seed: int | None = None) -> ChatResponse:
        """Answer one conversation. ``temperature=0`` is greedy decoding.

        Args:
            messages: the conversation (system, user, assistant with ``tool_calls``, tool).
            max_new_tokens: generation budget.
            temperature: 0 for greedy, > 0 to sample.
            tools: JSON schemas of the tools the model may call (or None).
            seed: seeds sampling, for reproducible runs.
        """
        return self.chat_batch([messages], max_new_tokens=max_new_tokens, temperature=temperature,
                               tools=tools, seed=seed)[0]

    def chat_batch(self, batch: Sequence[Messages], *, max_new_tokens: int = 256, temperature: float = 0.0,
                   tools: list[dict[str, Any]] | None = None, seed: int | None = None) -> list[ChatResponse]:
        """Answer several conversations (same arguments as :meth:`chat`), in order."""
        if not batch:
            return []
        out = self._generate(list(batch), max_new_tokens=max_new_tokens, temperature=temperature,
                             tools=tools, seed=seed)
        self.stats.record(out)
        return out

    def _generate(self, batch: list[Messages], *, max_new_tokens: int, temperature: float,
                  tools: list[dict[str, Any]] | None, seed: int | None) -> list[ChatResponse]:
        raise NotImplementedError

    def count_tokens(self, messages: Messages, tools: list[dict[str, Any]] | None = None) -> int:
        """Tokens of the rendered prompt (an estimate where the backend cannot tell)."""
        text = " ".join(str(m.get("content") or "") for m in messages)
        return max(1, len(text) // 4)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
