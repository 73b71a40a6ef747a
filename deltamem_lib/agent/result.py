"""What every memory system returns for a session, and the protocol it follows.

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

__all__ = ["MemorySystem", "SessionResult"]


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
