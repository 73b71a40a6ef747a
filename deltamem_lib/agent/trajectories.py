"""Gold tool-calling trajectories: the SFT view of the synthetic data.

The paper trains with RL from a prompted model; ``docs/training_notes.md`` found that a small
model makes no tool calls at all before training, so the workbook offers an SFT warm start
on *gold trajectories* (an AtomMem-style step, ``docs/paper_notes.md`` §2): for each session,
the conversation an ideal agent would have had with :class:`MemoryEnv`:

1. the prompt exactly as in GRPO (system prompt, instruction + ``reset`` observation);
2. one assistant turn of ``search_memory`` calls — for each memory the gold operations
   update or delete, a search for its current text (so the target id appears in the
   results), and for each new fact a search for its keywords (checking for a duplicate);
3. one assistant turn with the gold operations as ``add_memory`` / ``update_memory`` /
   ``delete_memory`` calls;
4. a short final answer without a tool call (which ends the episode).

Every tool message is the *real* output of the environment, so the trajectory is consistent
with what the model will see in GRPO, and the environment's state at the end equals the
gold state after (checked). Sessions with no change get no call and the final answer only.

Two formats: TRL's conversational ``{"messages", "tools"}`` and, because Arrow merges the
argument dictionaries of different tools into one schema (``delete_memory`` would be
rendered with a null ``content``; ``docs/training_notes.md``), a pre-tokenised
``{"input_ids", "assistant_masks"}`` built with ``return_assistant_tokens_mask=True``
(the compact template's ``{% generation %}`` markers), which TRL's SFTTrainer accepts as is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..episodes import SessionExample
from ..memory import OpType
from .env import MemoryEnv, make_env_factory, tool_schemas
from .prompts import react_prompt

__all__ = ["gold_trajectories", "gold_trajectory", "tokenize_trajectory"]


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


def _run(env: MemoryEnv, messages: list[dict[str, Any]], calls: list[dict[str, Any]]) -> list[str]:
    messages.append({"role": "assistant", "content": "", "tool_calls": calls})
    outs = []
    for c in calls:
        f = c["function"]
        out = str(getattr(env, f["name"])(**f["arguments"]))
        messages.append({"role": "tool", "name": f["name"], "content": out})
        outs.append(out)
    return outs


def gold_trajectory(example: SessionExample, *, env_cls: type[MemoryEnv] | None = None, max_searches: int = 3,
                    retriever: str = "lexical") -> dict[str, Any]:
    """The gold ReAct conversation of one session (see the module docstring).

    Args:
        example: the session with its gold operations.
        env_cls: the environment (class or :func:`make_env_factory` subclass); its tools and
            ``allow_delete`` shape the trajectory. Default: ``MemoryEnv`` with ``retriever``.
        max_searches: search calls at most.
        retriever: retriever of the default environment.

    Returns:
        ``{"messages": [...], "tools": [...], "session_id": ...}``.
    """
    env_cls = env_cls or make_env_factory(retriever=retriever)
    env = env_cls()
    messages = [dict(m) for m in react_prompt(env_cls.allow_delete)]
    messages[-1]["content"] += env.reset(example=example)
    before = example.state_before
    ops = [o for o in example.gold_ops if o.op is not OpType.NOOP]
    if ops:
        queries: list[str] = []
        for o in ops:
            if o.op in (OpType.UPDATE, OpType.DELETE) and o.memory_id in before:
                queries.append(before[o.memory_id].content)
            elif o.op is OpType.ADD:
                queries.append(" ".join(o.keywords) or (o.content or ""))
        queries = [q for q in dict.fromkeys(q.strip() for q in queries) if q][:max_searches]
        if queries:
            _run(env, messages, [_call("search_memory", query=q) for q in queries])
        calls = []
        for o in ops:
            if o.op is OpType.ADD:
                calls.append(_call("add_memory", content=o.content))
            elif o.op is OpType.UPDATE:
                calls.append(_call("update_memory", memory_id=o.memory_id, content=o.content))
            elif o.op is OpType.DELETE:
                if not env_cls.allow_delete:
                    raise ValueError(f"session {example.session_id}: a gold DELETE with allow_delete=False; "
                                     "build DELETE-free data for this ablation")
                calls.append(_call("delete_memory", memory_id=o.memory_id))
        _run(env, messages, calls)
        kinds = [o.op.value.lower() for o in ops]
        parts = [f"{kinds.count(k)} {w}" for k, w in (("add", "added"), ("update", "updated"),
                                                       ("delete", "deleted")) if kinds.count(k)]
        final = "Memory updated: " + ", ".join(parts) + "."
    else:
        final = "Nothing to remember from this session; the memory is unchanged."
    messages.append({"role": "assistant", "content": final})
    if env.invalid_calls or [e.content for e in env.state] != [e.content for e in example.state_after]:
        raise ValueError(f"session {example.session_id}: the gold operations do not reproduce the gold state "
                         f"after ({env.invalid_calls} rejected call(s))")
    return {"messages": messages, "tools": tool_schemas(env_cls), "session_id": example.session_id}


def gold_trajectories(examples: Iterable[SessionExample], **kwargs: Any) -> list[dict[str, Any]]:
    """:func:`gold_trajectory` of each session."""
    return [gold_trajectory(ex, **kwargs) for ex in examples]


def tokenize_trajectory(tokenizer: Any, trajectory: dict[str, Any], *, max_length: int | None = None
                        ) -> dict[str, list[int]]:
    """``{"input_ids", "assistant_masks"}`` of a trajectory (1 on the tokens the assistant wrote).

    The tokenizer's chat template needs ``{% generation %}`` markers (the compact template has
    them). Raises if the mask is empty, which means the template lacks them.
    """
    out = tokenizer.apply_chat_template(trajectory["messages"], tools=trajectory.get("tools"), tokenize=True,
                                        return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
    if 1 not in mask:
        raise ValueError("the chat template marks no assistant tokens; use the compact template "
                         "(deltamem_lib.models.chat_templates.set_tool_chat_template(tokenizer, 'compact'))")
    if max_length is not None:
        ids, mask = ids[:max_length], mask[:max_length]
    return {"input_ids": ids, "assistant_masks": mask}
