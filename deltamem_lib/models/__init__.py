"""Model backends behind one interface (the memory manager's LLM, the data teacher, the
answer model): local transformers models (SmolLM2 offline by default, any Hub id), and any
OpenAI-compatible server. :mod:`.base` is the interface, :mod:`.loading` builds a backend from a
spec, :mod:`.transformers_backend` / :mod:`.openai_backend` / :mod:`.smollm2` implement it,
:mod:`.chat_templates` holds the tool-calling templates, and :mod:`.parsing` reads what a model
writes (tool calls, JSON operation lists) leniently.

Heavy imports (torch, transformers) happen only when a backend is built.
"""

from .base import BackendError, CallStats, ChatModel, ChatResponse, Messages, tool_call_message
from .loading import load_chat_model
from .smollm2 import ensure_smollm2 as _ensure

__all__ = [
    "BackendError",
    "CallStats",
    "ChatModel",
    "ChatResponse",
    "Messages",
    "ensure_smollm2",
    "load_chat_model",
    "tool_call_message",
]


def ensure_smollm2(*args, **kwargs):  # noqa: ANN002, ANN003 — thin lazy wrapper
    """See :func:`deltamem_lib.models.smollm2.ensure_smollm2`."""

    return _ensure(*args, **kwargs)
