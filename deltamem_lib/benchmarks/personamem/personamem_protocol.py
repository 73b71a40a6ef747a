"""PersonaMem in a run: a shared context cut into pseudo-sessions at its questions' end indices
(:func:`personamem_context`, :class:`PersonaMemContext`; "As episodes" in the package
docstring), the contexts file of a run (:func:`contexts_path`) and
:class:`PersonaMemProtocol`, which :func:`deltamem_lib.benchmarks.runner.run_benchmark` drives
through the contract of :mod:`deltamem_lib.benchmarks.protocol`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...episodes import Episode, Session, Turn
from ...memory import MemoryState
from ..answering import fit_to_context, mcq_messages
from ..protocol import BenchConfig, Plan, Protocol, Questions, sample
from .personamem_data import (
    PersonaMemQuestion,
    load_personamem_questions,
    load_shared_contexts,
    visible_context,
)
from .personamem_metrics import parse_option_letter, score_personamem

__all__ = [
    "PersonaMemContext",
    "personamem_context",
    "contexts_path",
    "PersonaMemProtocol",
]

# --------------------------------------------------------------- contexts as episodes
@dataclass(frozen=True)
class PersonaMemContext:
    """A shared context cut into pseudo-sessions.

    ``episode`` holds the sessions; ``cuts[i]`` is the message index where session ``i`` ends
    (exclusive), so the memory after session ``i`` has seen ``messages[:cuts[i]]``.
    :meth:`session_for` maps a question's end index to the session after which it is asked
    (``-1``: before any session, the empty memory)."""

    episode: Episode
    cuts: tuple[int, ...]

    def session_for(self, end_index: int) -> int:
        if end_index not in self.cuts and end_index != 0:
            raise ValueError(f"end index {end_index} is not a session boundary of {self.episode.user_id}; "
                             "build the context with every question's end index")
        return self.cuts.index(end_index) if end_index in self.cuts else -1


def personamem_context(context_id: str, messages: Sequence[Mapping[str, str]], end_indices: Iterable[int], *,
                       block: int = 20, include_persona: bool = False) -> PersonaMemContext:
    """Cut one shared context into pseudo-sessions ending at every question's end index and at
    least every ``block`` messages ("As episodes" in the module docstring). Turn ids are the
    message indices (``"m12"``)."""
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    n = len(messages)
    ends = sorted({e for e in end_indices if 0 < e <= n})
    bad = [e for e in end_indices if e > n]
    if bad:
        raise ValueError(f"context {context_id[:16]}…: end index {bad[0]} beyond its {n} messages")
    cuts: list[int] = []
    start = 0
    for e in ends + [n]:
        while e - start > block:
            start += block
            cuts.append(start)
        if e > start:
            cuts.append(e)
            start = e
    sessions = []
    prev = 0
    for k, cut in enumerate(cuts):
        turns = []
        for i in range(prev, cut):
            m = messages[i]
            if m["role"] == "system":
                if include_persona:
                    turns.append(Turn(f"m{i}", "user", m["content"]))
                continue
            turns.append(Turn(f"m{i}", m["role"], m["content"]))
        sessions.append(Session(session_id=f"{context_id[:12]}:b{k}", date="", event={"kind": "personamem"},
                                turns=tuple(turns), gold_ops=(), state_after=()))
        prev = cut
    ep = Episode(user_id=context_id, persona={}, initial_memory=(), sessions=tuple(sessions),
                 meta={"benchmark": "personamem"})
    return PersonaMemContext(ep, tuple(cuts))


# ----------------------------------------------------------------------------- protocol
def contexts_path(cfg: BenchConfig) -> Path:
    """The shared-contexts file of a run: ``cfg.contexts``, else the file next to the questions
    (``questions_<split>.csv`` → ``shared_contexts_<split>.jsonl``)."""
    path = Path(cfg.data)
    return Path(cfg.contexts) if cfg.contexts else path.with_name(
        path.name.replace("questions_", "shared_contexts_").replace(".csv", ".jsonl"))


class PersonaMemProtocol(Protocol):
    """PersonaMem as 4-option multiple choice (``docs/benchmark_protocols.md`` §3), for the
    runner: each shared context is cut at its questions' end indices and ingested; a question
    is answered from the memory after exactly the messages it may see. Accuracy overall and per
    question type, scored the official way (no judge)."""

    name = "personamem"
    judged = False

    def prepare(self, cfg: BenchConfig) -> Plan:
        questions = sample(load_personamem_questions(cfg.data), cfg.limit, cfg.seed)
        cpath = contexts_path(cfg)
        if not cpath.is_file():
            raise FileNotFoundError(
                f"{cpath}: PersonaMem's conversations (shared_contexts_<split>.jsonl) are needed to answer "
                "its questions; download them with the questions (Hugging Face bowen-upenn/PersonaMem) "
                "and pass --contexts PATH")
        contexts = load_shared_contexts(cpath)
        by_ctx: dict[str, list[PersonaMemQuestion]] = defaultdict(list)
        for q in questions:
            visible_context(q, contexts)  # raises early on a question/context mismatch
            by_ctx[q.shared_context_id].append(q)
        cut = {cid: personamem_context(cid, contexts[cid], [q.end_index_in_shared_context for q in qs],
                                       block=cfg.personamem_block, include_persona=cfg.include_persona)
               for cid, qs in by_ctx.items()}
        data = {"contexts_path": str(cpath), "contexts": len(cut), "include_persona": cfg.include_persona}
        return Plan([c.episode for c in cut.values()], data,
                    {"questions": questions, "contexts": contexts, "cut": cut})

    def ask(self, cfg: BenchConfig, plan: Plan, states: Mapping[str, Sequence[MemoryState]],
            answer_model: Any, retriever: Any) -> Questions:
        asked = Questions([], [], [])
        contexts, cut = plan.items["contexts"], plan.items["cut"]
        for q in plan.items["questions"]:
            options = list(q.all_options)
            if cfg.full_context:
                msgs = [m for m in visible_context(q, contexts)
                        if m["role"] != "system" or cfg.include_persona]
                text, _ = fit_to_context([f"{m['role']}: {m['content']}" for m in msgs], answer_model,
                                         cfg.context_tokens)
                asked.prompts.append(mcq_messages(q.user_question_or_message, options, history=text))
            else:
                k = cut[q.shared_context_id].session_for(q.end_index_in_shared_context)
                state = states[q.shared_context_id][k] if k >= 0 else MemoryState()
                hits = [e for e, _ in retriever.search(q.user_question_or_message, state.entries, cfg.top_k)]
                asked.prompts.append(mcq_messages(q.user_question_or_message, options, hits))
            asked.keys.append(q.question_id)
            asked.records.append({})
        return asked

    def score(self, cfg: BenchConfig, plan: Plan, asked: Questions, answers: Mapping[str, Mapping[str, Any]],
              judge: Any, work: Path, not_computed: dict[str, str]) -> tuple[dict[str, Any],
                                                                             list[dict[str, Any]],
                                                                             dict[str, Any] | None]:
        questions = plan.items["questions"]
        responses = {k: answers[k]["raw"] for k in asked.keys}
        official = score_personamem(questions, responses, official=True)
        strict = score_personamem(questions, responses, official=False)
        per_question = [{"question_id": q.question_id, "question_type": q.question_type,
                         "gold": q.correct_answer,
                         "response": responses[q.question_id],
                         "parsed": parse_option_letter(responses[q.question_id], len(q.all_options))}
                        for q in questions]
        metrics = {"questions": len(questions), "accuracy": official.accuracy,
                   "per_type": {g: {"accuracy": v.accuracy, "n": v.n} for g, v in official.per_group.items()},
                   "accuracy_strict_parser": strict.accuracy, "unparsed_strict": strict.n_unparsed,
                   "chance": 0.25}
        not_computed["judge"] = "PersonaMem needs no judge (exact option match)"
        return metrics, per_question, None
