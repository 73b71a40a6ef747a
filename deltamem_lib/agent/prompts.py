"""Prompts of the memory agent, shared by inference and training.

The DeltaMem paper does not publish its prompts; these are the workbook's, kept short
because every prompt token is paid at each decoding step on a CPU. One rule holds them
together: **what the model reads at inference is byte-for-byte what it reads in GRPO.**
TRL builds a rollout's prompt from the dataset's ``prompt`` column plus the string that
``MemoryEnv.reset(**row)`` returns, appended to the last user message; the ReAct agent here
builds its prompt with the same two functions (:func:`react_prompt` and
:func:`session_observation`), so a model trained by TRL meets no surprise at evaluation.

* ReAct (the paper's agent): system prompt + tool schemas (:func:`~.env.tool_schemas`, from
  :class:`MemoryEnv`'s typed, documented methods, rendered by the chat template), then the session.
* One-shot (``docs/paper_notes.md`` §4, for small models): the related memories are in the
  prompt, and the answer is one JSON list of operations.
* Mem0-style baseline: a fact-extraction prompt, then one decision prompt per fact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..episodes import SessionExample, render_dialogue
from ..memory import MemoryEntry

__all__ = [
    "ONESHOT_STYLES",
    "REACT_INSTRUCTION",
    "compact_oneshot_system_prompt",
    "decision_messages",
    "extraction_messages",
    "oneshot_messages",
    "oneshot_system_prompt",
    "react_prompt",
    "react_system_prompt",
    "render_memories",
    "session_observation",
    "with_prompt_column",
]

REACT_INSTRUCTION = "Update the memory after this chat session.\n\n"


def react_system_prompt(allow_delete: bool = True) -> str:
    """The ReAct agent's system prompt (the tools themselves are rendered by the template)."""
    change = ("call update_memory with its id and the corrected sentence; if a remembered fact is "
              "no longer true and nothing replaces it, call delete_memory with its id."
              if allow_delete else "call update_memory with its id and the corrected sentence.")
    return (
        "You keep a long-term memory of facts about a user. Each memory is one short sentence "
        "about the user with an id (m1, m2, ...).\n"
        "After a chat session: 1) call search_memory to find memories related to what the user said; "
        "2) for each new fact about the user call add_memory; if the user changed a remembered fact, "
        f"{change} 3) when the memory is up to date, reply with a short summary and no tool call. "
        "Do nothing for small talk."
    )


def session_observation(example: SessionExample, *, memory_size: int | None = None,
                        related: Sequence[MemoryEntry] = ()) -> str:
    """What ``MemoryEnv.reset`` returns: the session (dated, one line per turn) and a note on
    the memory. TRL appends it to the last user message of the ``prompt`` column."""
    n = len(example.state_before) if memory_size is None else memory_size
    parts = [render_dialogue(example.turns, date=example.date)]
    if related:
        parts.append("Related memories:\n" + render_memories(related))
    parts.append(f"The memory holds {n} entr{'y' if n == 1 else 'ies'}." if n else "The memory is empty.")
    return "\n\n".join(parts)


def react_prompt(allow_delete: bool = True) -> list[dict[str, str]]:
    """The ``prompt`` column of the RL dataset (system + instruction, the session comes from
    ``reset``)."""
    return [{"role": "system", "content": react_system_prompt(allow_delete)},
            {"role": "user", "content": REACT_INSTRUCTION}]


def with_prompt_column(rows: Sequence[dict[str, Any]], *, allow_delete: bool = True) -> list[dict[str, Any]]:
    """RL rows (``deltamem_lib.episodes.rl_rows``) with the ReAct ``prompt`` column added, ready
    for ``GRPOTrainer(train_dataset=Dataset.from_list(...), environment_factory=MemoryEnv)``."""
    prompt = react_prompt(allow_delete)
    return [{**dict(r), "prompt": [dict(m) for m in prompt]} for r in rows]


def render_memories(entries: Sequence[MemoryEntry]) -> str:
    """``[m3] User lives in Berlin.`` one per line (``(none)`` if empty)."""
    return "\n".join(f"[{e.id}] {e.content}" for e in entries) or "(none)"


# ----- one-shot ---------------------------------------------------------------------------
def oneshot_system_prompt(allow_delete: bool = True) -> str:
    ops = ('[{"op": "ADD", "content": "User has a dog named Rex."}, '
           '{"op": "UPDATE", "memory_id": "m2", "content": "User lives in Berlin."}'
           + (', {"op": "DELETE", "memory_id": "m5"}]' if allow_delete else "]"))
    return (
        "You keep a long-term memory of facts about a user. Each memory is one short sentence about the "
        "user with an id. Read the related memories and the chat session, then write every change the "
        "session requires as ONE JSON list, and nothing else. Example:\n" + ops + "\n"
        "ADD a new fact; UPDATE a memory the user changed (give its id and the corrected sentence)"
        + ("; DELETE a memory that is no longer true" if allow_delete else "")
        + ". Write [] if nothing changes."
    )


def compact_oneshot_system_prompt(allow_delete: bool = True) -> str:
    """A shorter one-shot system prompt (about 90 tokens instead of 150) for CPU training."""
    ops = ('[{"op": "UPDATE", "memory_id": "m2", "content": "User lives in Berlin."}, '
           '{"op": "ADD", "content": "User has a dog named Rex."}'
           + (', {"op": "DELETE", "memory_id": "m5"}]' if allow_delete else "]"))
    return ("Update the memory of facts about the user after the chat. Answer with one JSON list, e.g. " + ops
            + ". UPDATE a memory the user changed (same id, new sentence); ADD a new fact"
            + ("; DELETE a memory that is no longer true" if allow_delete else "")
            + ". [] if nothing changed.")


#: One-shot prompt styles: ``full`` (system prompt with explanations, every turn of the
#: session) and ``compact`` (short system prompt, the user's turns only — the assistant's
#: replies state no fact about the user; about 40 % fewer prompt tokens, which is what a GRPO
#: step on a CPU pays for).
ONESHOT_STYLES = ("full", "compact")


def oneshot_messages(example: SessionExample, related: Sequence[MemoryEntry], *,
                     allow_delete: bool = True, style: str = "full") -> list[dict[str, str]]:
    """The one-shot prompt: related memories (with ids), then the session (see :data:`ONESHOT_STYLES`)."""
    if style not in ONESHOT_STYLES:
        raise ValueError(f"one-shot prompt style {style!r}: expected one of {ONESHOT_STYLES}")
    turns = example.turns if style == "full" else tuple(t for t in example.turns if t.speaker == "user")
    system = (oneshot_system_prompt(allow_delete) if style == "full"
              else compact_oneshot_system_prompt(allow_delete))
    user = ("Related memories:\n" + render_memories(related) + "\n\n"
            + render_dialogue(turns, date=example.date) + "\n\nOperations (JSON list):")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# ----- Mem0-style baseline ----------------------------------------------------------------
def extraction_messages(example: SessionExample) -> list[dict[str, str]]:
    """Mem0's first stage: candidate facts about the user, as a JSON list of sentences."""
    system = ("Extract the facts about the user that this chat session states: personal details, "
              "preferences, plans, changes. Write them as a JSON list of short sentences that start with "
              "\"User\", and nothing else. Write [] if there are none.")
    user = render_dialogue(example.turns, date=example.date) + "\n\nFacts (JSON list):"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def decision_messages(fact: str, related: Sequence[MemoryEntry], *,
                      allow_delete: bool = True) -> list[dict[str, str]]:
    """Mem0's second stage, one call per fact: ADD / UPDATE / DELETE / NONE against the
    retrieved memories."""
    events = "ADD, UPDATE, DELETE or NONE" if allow_delete else "ADD, UPDATE or NONE"
    system = (
        "You maintain a memory of facts about a user. Compare a new fact with the existing memories and "
        f"choose one event ({events}): ADD if it is new; UPDATE if it changes an existing memory (give "
        "its id and the new sentence)"
        + ("; DELETE if it shows an existing memory is no longer true (give its id)" if allow_delete else "")
        + "; NONE if it is already known. Answer with one JSON object, e.g. "
        '{"event": "UPDATE", "id": "m2", "text": "User lives in Berlin."}'
    )
    user = f"Existing memories:\n{render_memories(related)}\n\nNew fact: {fact}\n\nDecision (JSON):"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
