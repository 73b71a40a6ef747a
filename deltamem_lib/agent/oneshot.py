"""The one-shot variant of the agent: related memories in the prompt, one JSON list out.

A small model rarely survives a multi-turn tool dialogue; and every extra turn costs a full
pass over the prompt. The one-shot variant (``docs/paper_notes.md`` §4; ``docs/training_notes.md``
measured it 2.7× cheaper per prompt in GRPO) does the retrieval *for* the model — the
memories most related to the session's user turns, with their ids — and asks for every
operation at once as a JSON list::

    [{"op": "UPDATE", "memory_id": "m2", "content": "User lives in Berlin."},
     {"op": "ADD", "content": "User has a dog named Rex."}]

The list is read leniently (:func:`~deltamem_lib.models.parsing.parse_operation_list`) and applied through the
same :class:`MemoryEnv` tools as the ReAct agent, so validation and counting are identical.
An unreadable answer counts as malformed and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..episodes import SessionExample
from ..memory import MemoryEntry
from ..models.parsing import parse_operation_list
from .env import MemoryEnv, apply_operations, make_env_factory
from .prompts import oneshot_messages
from .result import SessionResult

__all__ = ["OneShotAgent", "related_memories"]


def related_memories(example: SessionExample, retriever: Any, *, k: int = 10,
                     per_turn: int = 3) -> list[MemoryEntry]:
    """The memories shown to the one-shot agent: the union of the ``per_turn`` best matches of
    each user turn, in the state's order, at most ``k``; the whole memory if it has ≤ k entries."""
    entries = list(example.state_before.entries)
    if len(entries) <= k:
        return entries
    chosen: dict[str, float] = {}
    for t in example.turns:
        if t.speaker != "user":
            continue
        for e, s in retriever.search(t.text, entries, per_turn):
            chosen[e.id] = max(s, chosen.get(e.id, 0.0))
    best = sorted(chosen, key=lambda i: -chosen[i])[:k]
    return [e for e in entries if e.id in best]


class OneShotAgent:
    """The one-shot memory agent.

    Args:
        model: a chat backend.
        related_k: memories shown in the prompt.
        max_new_tokens: generation budget for the JSON list.
        temperature: 0 for greedy decoding.
        prompt_style: ``"full"`` or ``"compact"`` (:data:`~.prompts.ONESHOT_STYLES`).
        env_options: :class:`MemoryEnv` options (``allow_delete``, ``retriever`` …).
    """

    name = "deltamem-oneshot"

    def __init__(self, model: Any, *, related_k: int = 10, max_new_tokens: int = 192,
                 temperature: float = 0.0, prompt_style: str = "full", **env_options: Any) -> None:
        self.model = model
        self.related_k = related_k
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.prompt_style = prompt_style
        self.env_cls = make_env_factory(**env_options) if env_options else MemoryEnv

    def prompt(self, example: SessionExample) -> list[dict[str, str]]:
        """The one-shot prompt for a session (related memories chosen by the env's retriever)."""
        related = related_memories(example, self.env_cls()._retriever(), k=self.related_k)
        return oneshot_messages(example, related, allow_delete=self.env_cls.allow_delete,
                                style=self.prompt_style)

    def run(self, examples: Sequence[SessionExample], *, seed: int | None = None) -> list[SessionResult]:
        prompts = [self.prompt(ex) for ex in examples]
        responses = self.model.chat_batch(prompts, max_new_tokens=self.max_new_tokens,
                                          temperature=self.temperature, seed=seed)
        results = []
        for ex, p, r in zip(examples, prompts, responses):
            env = self.env_cls()
            env.reset(example=ex)
            res = SessionResult(self.name, ex.user_id, ex.session_id, ex.state_before)
            res.add_usage(r)
            parsed = parse_operation_list(r.raw_text or r.text)
            res.malformed_outputs = int(not parsed.found_list)
            applied = apply_operations(env, parsed.operations)
            res.state_after, res.operations = env.state, env.operations
            bad_items = len(parsed.malformed) if parsed.found_list else 0  # no list at all: malformed output
            res.tool_calls = env.num_calls + bad_items
            res.invalid_calls = env.invalid_calls + bad_items
            res.transcript = p + [{"role": "assistant", "content": r.raw_text or r.text, "applied": applied}]
            results.append(res)
        return results
