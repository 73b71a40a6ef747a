"""The DeltaMem agent at inference: a ReAct loop over :class:`MemoryEnv`'s tools.

DeltaMem §3.1: the manager reads the session, may search the memory, reasons, and emits
memory operations; the episode ends when it answers without a tool call (``docs/paper_notes.md``
§4). This loop mirrors TRL's multi-turn rollout (``GRPOTrainer._tool_call_loop``) so that
a model trained there behaves the same here:

1. prompt = :func:`~.prompts.react_prompt` with the observation of ``env.reset`` appended
   to the last user message, tools rendered from the environment's methods;
2. generate; parse ``<tool_call>`` blocks; run each call on the environment; a failing call
   becomes the tool message ``{'error': '<reason>'}`` (TRL's wording);
3. repeat until the reply has no tool call or ``max_tool_calls`` calls were made.

With ``max_turns`` and ``max_total_tokens`` the loop has exactly the room of a GRPO rollout:
after the first reply, at most ``max_turns`` rounds of tool calls and regeneration (TRL's
``max_tool_calling_iterations``; the calls of the reply after the last round are not run), and all generated
tokens and tool results together within
``max_total_tokens`` (TRL's ``max_completion_length``): a round whose tool results would pass
the budget ends the episode (TRL drops those results; the calls themselves have run), and each
turn may generate only what is left of it.

All sessions of a batch advance together, one ``chat_batch`` per turn, so a local model
decodes them in one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..episodes import SessionExample
from .env import MemoryEnv, ToolCallError, make_env_factory, tool_schemas
from .prompts import react_prompt
from .result import SessionResult

__all__ = ["ReActAgent"]


class ReActAgent:
    """The ReAct memory agent.

    Args:
        model: a chat backend (:func:`deltamem_lib.models.load_chat_model`).
        max_tool_calls: calls allowed per session (TRL's ``max_tool_calling_iterations``
            counts turns; this counts calls).
        max_new_tokens: generation budget per turn.
        temperature: 0 for greedy decoding.
        max_turns: rounds of tool calls after the first reply (TRL's
            ``max_tool_calling_iterations``; None: no limit but ``max_tool_calls``).
        max_total_tokens: generated and tool-result tokens of the whole episode (TRL's
            ``max_completion_length``; None: ``max_new_tokens`` per turn, no total).
        env_options: :class:`MemoryEnv` options (``allow_delete``, ``retriever`` …).
    """

    name = "deltamem"

    def __init__(self, model: Any, *, max_tool_calls: int = 8, max_new_tokens: int = 192,
                 temperature: float = 0.0, max_turns: int | None = None, max_total_tokens: int | None = None,
                 **env_options: Any) -> None:
        self.model = model
        self.max_tool_calls = max_tool_calls
        self.max_new_tokens = max_new_tokens
        self.max_turns = max_turns
        self.max_total_tokens = max_total_tokens
        self.temperature = temperature
        self.env_cls = make_env_factory(**env_options) if env_options else MemoryEnv
        self.tools = tool_schemas(self.env_cls)
        self.tool_names = {t["function"]["name"] for t in self.tools}

    def start(self, example: SessionExample) -> tuple[MemoryEnv, list[dict[str, Any]]]:
        """A fresh environment on ``example`` and the first prompt (exactly TRL's)."""
        env = self.env_cls()
        obs = env.reset(example=example)
        messages = [dict(m) for m in react_prompt(self.env_cls.allow_delete)]
        messages[-1]["content"] += obs
        return env, messages

    def call_tool(self, env: MemoryEnv, name: str, arguments: Any) -> str:
        """Run one parsed call; errors come back as TRL shows them (``{'error': ...}``)."""
        fn = getattr(env, name, None) if name in self.tool_names else None
        if fn is None:
            env._log.append({"tool": name, "arguments": arguments, "ok": False, "result": "unknown tool"})
            env._invalid += 1
            return str({"error": f"Tool {name} not found."})
        if not isinstance(arguments, dict):
            arguments = {}
        try:
            return str(fn(**arguments))
        except ToolCallError as exc:
            return str({"error": str(exc)})

    def _generate(self, convs: list[list[dict[str, Any]]], active: list[int], budget: list[int],
                  seed: int | None) -> list[Any]:
        """One reply per active conversation, in order; conversations with the same token budget
        are generated together (one batch when every budget is the same)."""
        out: dict[int, Any] = {}
        for b in sorted({budget[i] for i in active}, reverse=True):
            group = [i for i in active if budget[i] == b]
            for i, r in zip(group, self.model.chat_batch([convs[i] for i in group], max_new_tokens=b,
                                                         temperature=self.temperature, tools=self.tools,
                                                         seed=seed)):
                out[i] = r
        return [out[i] for i in active]

    def _tokens(self, messages: list[dict[str, Any]]) -> int:
        return self.model.count_tokens(messages, self.tools)

    def _room(self, conv: list[dict[str, Any]], first: int, budget: list[int], i: int) -> bool:
        """Whether the episode may generate again within ``max_total_tokens`` (sets the next
        turn's budget); without a total budget, always."""
        if not self.max_total_tokens:
            return True
        left = self.max_total_tokens - (self._tokens(conv) - first)
        if left <= 0:  # the tool results pass the budget: TRL ends the rollout here
            while conv and conv[-1]["role"] == "tool":
                conv.pop()
            return False
        budget[i] = min(self.max_new_tokens, left)
        return True

    def run(self, examples: Sequence[SessionExample], *, seed: int | None = None) -> list[SessionResult]:
        """Process sessions together (each from its own state before); one result each."""
        started = [self.start(ex) for ex in examples]
        envs = [e for e, _ in started]
        convs = [m for _, m in started]
        results = [SessionResult(self.name, ex.user_id, ex.session_id, ex.state_before) for ex in examples]
        calls = [0] * len(examples)
        first = [self._tokens(c) for c in convs] if self.max_total_tokens else [0] * len(examples)
        budget = [min(self.max_new_tokens, self.max_total_tokens or self.max_new_tokens)] * len(examples)
        active = list(range(len(examples)))
        turn = 0
        while active:
            responses = self._generate(convs, active, budget, None if seed is None else seed + turn)
            turn += 1
            still = []
            for i, r in zip(active, responses):
                results[i].add_usage(r)
                convs[i].append(r.as_message())
                if not r.tool_calls or (self.max_turns is not None and turn > self.max_turns):
                    continue  # TRL leaves the calls of the reply after the last round unexecuted
                for c in r.tool_calls:
                    if calls[i] >= self.max_tool_calls:
                        break
                    calls[i] += 1
                    out = self.call_tool(envs[i], c["name"], c.get("arguments"))
                    convs[i].append({"role": "tool", "name": c["name"], "content": out})
                if calls[i] < self.max_tool_calls and self._room(convs[i], first[i], budget, i):
                    still.append(i)
            active = still
        for res, env, conv in zip(results, envs, convs):
            res.state_after = env.state
            res.operations = env.operations
            res.tool_calls = env.num_calls
            res.invalid_calls = env.invalid_calls
            res.transcript = conv
        return results
