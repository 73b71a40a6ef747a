"""What every memory system returns for a session, and the registry of systems by name.

A *memory system* turns (state before a session, the session) into a state after it — the
transition ``f`` of DeltaMem §3.1. The agent (ReAct or one-shot) and each baseline
implement ``run(examples) -> [SessionResult]``, processing a list of sessions together so a
local model can batch them; evaluation, ingestion and the benchmark use only this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..episodes import SessionExample
from ..memory import MemoryState, Operation

__all__ = ["SYSTEMS", "MemorySystem", "SessionResult", "make_system"]


@dataclass
class SessionResult:
    """One session processed by one system.

    Attributes:
        system: the system's name.
        user_id, session_id: which session.
        state_after: the memory the system left.
        operations: the operations it applied (ADDs with their ids).
        tool_calls: tool calls or parsed operations it attempted.
        invalid_calls: of those, the rejected ones (unknown id, empty content, bad arguments).
        malformed_outputs: model outputs that could not be read (bad JSON, broken tool call).
        model_calls: chat calls made.
        prompt_tokens, completion_tokens: summed over the calls.
        seconds: model time attributed to this session (batch time shared evenly).
        transcript: the conversation (ReAct) or the raw model outputs.
    """

    system: str
    user_id: str
    session_id: str
    state_after: MemoryState
    operations: list[Operation] = field(default_factory=list)
    tool_calls: int = 0
    invalid_calls: int = 0
    malformed_outputs: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    transcript: list[Any] = field(default_factory=list)

    def add_usage(self, response: Any) -> None:
        """Account one :class:`~deltamem_lib.models.ChatResponse`."""
        self.model_calls += 1
        self.prompt_tokens += response.prompt_tokens
        self.completion_tokens += response.completion_tokens
        self.seconds += response.seconds
        self.malformed_outputs += int(bool(getattr(response, "malformed_tool_calls", 0)))

    def to_dict(self, *, transcript: bool = False) -> dict[str, Any]:
        d = {
            "system": self.system, "user_id": self.user_id, "session_id": self.session_id,
            "operations": [o.to_dict() for o in self.operations], "tool_calls": self.tool_calls,
            "invalid_calls": self.invalid_calls, "malformed_outputs": self.malformed_outputs,
            "model_calls": self.model_calls, "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens, "seconds": round(self.seconds, 4),
            "state_after": self.state_after.to_dict(),
        }
        if transcript:
            d["transcript"] = self.transcript
        return d


class MemorySystem(Protocol):
    """``name`` plus ``run(examples, seed=None) -> [SessionResult]`` (one per example, in order)."""

    name: str

    def run(self, examples: Sequence[SessionExample], *, seed: int | None = None) -> list[SessionResult]:
        ...


SYSTEMS = {
    "oracle": "applies the gold operations (scores exactly 1)",
    "noop": "changes nothing (the floor: what 'do nothing' earns)",
    "deltamem": "the DeltaMem agent, ReAct: search, then ADD/UPDATE/DELETE tool calls",
    "deltamem-oneshot": "the DeltaMem agent, one-shot: related memories in the prompt, one JSON list",
    "mem0-style": "extract facts; per fact retrieve similar memories and decide ADD/UPDATE/DELETE/NONE",
    "add-only": "extract facts and add them all (recent Mem0 behaviour)",
}


_GENERATION = ("max_new_tokens", "temperature")
_ONLY = {"max_tool_calls": ("deltamem",), "related_k": ("deltamem-oneshot",), "top_k": ("mem0-style",),
         "max_facts": ("mem0-style", "add-only")}


def make_system(name: str, model: Any = None, **options: Any) -> Any:
    """Build a system by name (see :data:`SYSTEMS`); ``model`` is a chat backend
    (:func:`deltamem_lib.models.load_chat_model`) for the systems that need one.

    Options a system does not have are dropped, so one set of settings serves every system:
    generation settings (``max_new_tokens``, ``temperature``) go to the model-based systems,
    ``max_tool_calls`` to the ReAct agent, ``related_k`` to the one-shot agent, ``top_k`` and
    ``max_facts`` to the pipelines; :class:`~.env.MemoryEnv` options (``retriever``,
    ``allow_delete`` …) to all. ``model`` is ignored by ``oracle`` and ``noop``.
    """
    from .baselines import AddOnlySystem, Mem0StyleSystem, NoopSystem, OracleSystem
    from .oneshot import OneShotAgent
    from .react import ReActAgent

    classes = {"oracle": OracleSystem, "noop": NoopSystem, "deltamem": ReActAgent,
               "deltamem-oneshot": OneShotAgent, "mem0-style": Mem0StyleSystem, "add-only": AddOnlySystem}
    if name not in classes:
        raise ValueError(f"unknown system {name!r}; choose one of: {', '.join(SYSTEMS)}")
    cls = classes[name]
    options = {k: v for k, v in options.items()
               if not (k in _GENERATION and name in ("oracle", "noop")) and name in _ONLY.get(k, (name,))}
    if name in ("oracle", "noop"):
        return cls(**options)
    if model is None:
        raise ValueError(f"system {name!r} needs a model (e.g. load_chat_model('smollm2'))")
    return cls(model, **options)
