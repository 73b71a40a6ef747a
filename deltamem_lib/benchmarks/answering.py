"""Answering benchmark questions from a memory, or from the raw history (full context).

The paper answers every benchmark question with one answer model (GPT-4o-mini) reading the
memories each system retrieved (§4); LoCoMo follows the Mem0 protocol (``docs/benchmark_protocols.md`` §1,
step 2): retrieve memories for the question, show them with their timestamps, ask for an
answer of at most 5–6 words that uses the timestamps, prefers the most recent memory on a
conflict and turns relative dates into absolute ones.

* :data:`ANSWER_INSTRUCTIONS` — the workbook's Mem0-style short-answer prompt. It keeps the
  eight instructions of Mem0's ``ANSWER_PROMPT`` (``evaluation/prompts.py``) in substance but
  is **not** that prompt word for word, and drops its "think step by step" block (a 5–6-word
  answer leaves no room for it). Answers and the judge's J depend on the prompt
  (``docs/benchmark_protocols.md`` §1: 82.0 vs 92.6 for two prompts on one system), so a measured number
  names its prompt (:data:`ANSWER_PROMPT_ID`). Pass ``instructions=`` to use another.
* :func:`locomo_answer_messages` — memories of both speakers, each block under its speaker's
  name, one line per memory ``- <date>: <content>``.
* :func:`full_context_messages` — the full-context baseline: the dialogue itself, dated session
  by session, cut to a token budget by :func:`fit_history` (oldest sessions dropped first).
* :func:`mcq_messages` — PersonaMem's 4-option question from retrieved memories.
* :func:`answer_all` — batched calls of an answer model; each answer keeps its tokens and
  seconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..memory import MemoryEntry

__all__ = [
    "ANSWER_INSTRUCTIONS",
    "ANSWER_PROMPT_ID",
    "FULL_CONTEXT_INSTRUCTIONS",
    "MCQ_INSTRUCTIONS",
    "Answer",
    "answer_all",
    "clean_answer",
    "fit_history",
    "fit_to_context",
    "full_context_messages",
    "locomo_answer_messages",
    "mcq_messages",
    "personalise",
    "memory_lines",
    "single_user_answer_messages",
]

#: Names the answer prompt in every result (change it when you change the instructions).
ANSWER_PROMPT_ID = "workbook-mem0-style-v1"

ANSWER_INSTRUCTIONS = (
    "You answer questions about two people from memories of their past conversations. Each memory "
    "starts with the date of the conversation it comes from.\n"
    "1. Read every memory of both people and look for direct evidence.\n"
    "2. Use the dates: if memories contradict each other, trust the most recent one.\n"
    "3. Turn relative times into absolute ones using the memory's date (a memory dated 2022-05-04 "
    "saying 'went to India last year' means 2021).\n"
    "4. Do not confuse people mentioned inside a memory with the two people the memories belong to.\n"
    "5. Answer in at most 5-6 words, with no explanation."
)

FULL_CONTEXT_INSTRUCTIONS = (
    "You answer questions about two people from the transcript of their past conversations. Each "
    "session starts with its date.\n"
    "1. Look for direct evidence in the transcript.\n"
    "2. If statements contradict each other, trust the most recent one.\n"
    "3. Turn relative times into absolute ones using the session's date.\n"
    "4. Answer in at most 5-6 words, with no explanation."
)

SINGLE_USER_INSTRUCTIONS = (
    "You answer a question about a user from memories of your past conversations with them. Each memory "
    "starts with the date of the conversation it comes from. Trust the most recent memory when memories "
    "contradict each other. If the memories do not contain the answer, say that you do not know. Answer "
    "briefly, with no explanation."
)

MCQ_INSTRUCTIONS = (
    "You are a chatbot that remembers what a user told you. Given memories about the user and the user's "
    "new message, pick the response that fits the user best. Answer with the letter of one option, "
    "for example (b), and nothing else."
)


@dataclass
class Answer:
    """One answer and its cost."""

    text: str
    raw: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.text, "raw": self.raw, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "seconds": round(self.seconds, 4)}


_USER_WORD = re.compile(r"\b(?:[Tt]he )?[Uu]ser('s)?\b")


def personalise(content: str, name: str) -> str:
    """Put the speaker's name where a memory says "User" (``"User's cat"`` → ``"Ana's cat"``).

    The systems write memories about "the user"; with two stores (LoCoMo's speakers) the answer
    model must know whose memory it reads."""
    return _USER_WORD.sub(lambda m: name + ("'s" if m.group(1) else ""), content)


def memory_lines(entries: Sequence[MemoryEntry], name: str | None = None) -> str:
    """``- 2023-05-08: Caroline went to a support group.`` per memory (``(no memories)`` if none);
    with ``name``, "User" becomes the name (:func:`personalise`)."""
    lines = []
    for e in entries:
        text = personalise(e.content, name) if name else e.content
        lines.append(f"- {e.timestamp}: {text}" if e.timestamp else f"- {text}")
    return "\n".join(lines) or "(no memories)"


def locomo_answer_messages(question: str, blocks: Sequence[tuple[str, Sequence[MemoryEntry]]], *,
                           instructions: str = ANSWER_INSTRUCTIONS) -> list[dict[str, str]]:
    """System instructions + one user message with each speaker's memories and the question."""
    parts = [f"Memories of {name}:\n{memory_lines(entries, name)}" for name, entries in blocks]
    user = "\n\n".join(parts) + f"\n\nQuestion: {question}\nAnswer:"
    return [{"role": "system", "content": instructions}, {"role": "user", "content": user}]


def single_user_answer_messages(question: str, entries: Sequence[MemoryEntry], *,
                                instructions: str = SINGLE_USER_INSTRUCTIONS) -> list[dict[str, str]]:
    """HaluMem and the synthetic probes: one user's memories and a question."""
    user = f"Memories:\n{memory_lines(entries)}\n\nQuestion: {question}\nAnswer:"
    return [{"role": "system", "content": instructions}, {"role": "user", "content": user}]


def full_context_messages(question: str, history: str, *,
                          instructions: str = FULL_CONTEXT_INSTRUCTIONS) -> list[dict[str, str]]:
    """The full-context baseline's prompt: the (cut) transcript and the question."""
    return [{"role": "system", "content": instructions},
            {"role": "user", "content": f"{history}\n\nQuestion: {question}\nAnswer:"}]


def mcq_messages(question: str, options: Sequence[str], entries: Sequence[MemoryEntry] | None = None, *,
                 history: str | None = None, instructions: str = MCQ_INSTRUCTIONS) -> list[dict[str, str]]:
    """PersonaMem: memories (or the visible history, for full context), the user's message and
    the four options, one per line."""
    context = (f"Conversation so far:\n{history}" if history is not None
               else f"Memories:\n{memory_lines(entries or [])}")
    user = (f"{context}\n\nUser's new message: {question}\n\nOptions:\n" + "\n".join(options)
            + "\n\nBest option (letter only):")
    return [{"role": "system", "content": instructions}, {"role": "user", "content": user}]


def fit_history(sessions: Sequence[str], budget_tokens: int, count: Callable[[str], int]) -> tuple[str, int]:
    """The full-context rule: keep the **most recent** sessions whose rendered text fits in
    ``budget_tokens`` (measured by ``count``), in chronological order; if not even the last
    session fits, keep the longest end of it that does. Returns ``(text, whole sessions kept)``.

    Recent sessions are kept because the protocol prefers the most recent statement on a
    conflict; the number of sessions dropped is reported with every full-context result.
    """
    kept: list[str] = []
    used = 0
    for text in reversed(sessions):
        n = count(text)
        if used + n > budget_tokens:
            if not kept:  # the longest suffix of the last session that fits (binary search)
                lo, hi = 0, len(text)
                while lo < hi:
                    mid = (lo + hi) // 2
                    if count(text[mid:]) <= budget_tokens:
                        hi = mid
                    else:
                        lo = mid + 1
                return text[lo:].lstrip(), 0
            break
        kept.insert(0, text)
        used += n
    return "\n\n".join(kept), len(kept)


_PREFIX = re.compile(r"^\s*(?:final\s+)?answer\s*[:\-]\s*", re.IGNORECASE)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)


def clean_answer(text: str) -> str:
    """The first non-empty line of a model's answer, without a ``<think>`` block or an
    ``Answer:`` prefix."""
    for line in _THINK.sub("", text or "").splitlines():
        line = _PREFIX.sub("", line).strip()
        if line:
            return line
    return ""


def answer_all(model: Any, prompts: Sequence[list[dict[str, str]]], *, max_new_tokens: int = 32,
               batch_size: int = 8, seed: int | None = 0,
               on_batch: Callable[[int, list[Answer]], None] | None = None) -> list[Answer]:
    """Answer every prompt with ``model`` (a chat backend), greedily, ``batch_size`` at a time.

    ``on_batch(start, answers)`` is called after each batch (the runner journals answers there,
    so an interrupted run keeps what was answered)."""
    out: list[Answer] = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start:start + batch_size])
        responses = model.chat_batch(chunk, max_new_tokens=max_new_tokens, temperature=0.0, seed=seed)
        answers = [Answer(clean_answer(r.text), r.raw_text or r.text, r.prompt_tokens, r.completion_tokens,
                          r.seconds)
                   for r in responses]
        if on_batch is not None:
            on_batch(start, answers)
        out.extend(answers)
    return out


def count_with(model: Any) -> Callable[[str], int]:
    """A token counter for :func:`fit_history`: the model's tokenizer if it has one, else
    ``len(text) // 4`` (the usual estimate for English)."""
    tok = getattr(model, "tokenizer", None)
    if tok is not None:
        return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])
    return lambda text: max(1, len(text) // 4)


def fit_to_context(sessions: Sequence[str], model: Any, budget_tokens: int = 0) -> tuple[str, int]:
    """:func:`fit_history` measured with ``model``'s tokenizer, in ``budget_tokens`` (0: the
    model's context less 512 tokens for the instructions and the answer, at least 256): the
    transcript the full-context baseline shows."""
    return fit_history(sessions, budget_tokens or max(256, context_budget(model) - 512), count_with(model))


def context_budget(model: Any, default: int = 8192) -> int:
    """The model's context length if it says (``max_position_embeddings``), else ``default``."""
    cfg = getattr(getattr(model, "model", None), "config", None)
    for key in ("max_position_embeddings", "n_positions", "max_seq_len"):
        v = getattr(cfg, key, None)
        if isinstance(v, int) and v > 0:
            return v
    return default
