"""The systems DeltaMem is compared with, in the same harness as the agent.

The paper's argument (§1) is against multi-stage pipelines such as Mem0's, where each
hand-off loses information ("cascading information attenuation"). To test the claim on
the same data and the same model, the workbook re-implements the pipelines' logic:

* :class:`Mem0StyleSystem` — Mem0 (arXiv 2504.19413): (1) extract candidate facts from the
  session; (2) for each fact, retrieve the most similar stored memories; (3) one decision
  per fact: ADD / UPDATE (id, new text) / DELETE (id) / NONE. All decisions of a session are
  taken against the state before it and applied in order; a decision on an id an earlier
  decision already removed is rejected and counted, like any invalid call.
* :class:`AddOnlySystem` — recent Mem0 versions dropped UPDATE/DELETE: every extracted fact
  is added (exact duplicates of an existing memory skipped). Contradictory memories then
  coexist — the complaint in Mem0's issue tracker (``docs/paper_notes.md`` §3).
* :class:`OracleSystem` — applies the gold operations; its reward must be exactly 1, which
  checks the whole evaluation pipeline.
* :class:`NoopSystem` — changes nothing: the score of "do nothing", the floor that a trained
  agent must beat (``docs/training_notes.md``: without lexical fidelity it scored 0.49).
* :class:`FullContext` — no memory at all: the answer model reads the raw history (the
  paper's and Mem0's upper reference on LoCoMo); used by the benchmark notebooks.

Every model call goes through the same chat backends, and every operation through
:class:`MemoryEnv`'s tools, so costs and invalid calls are counted identically.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..episodes import Episode, SessionExample, render_dialogue
from ..models.parsing import extract_json, normalize_operation
from .env import MemoryEnv, apply_operations, make_env_factory
from .prompts import decision_messages, extraction_messages
from .result import SessionResult

__all__ = ["AddOnlySystem", "FullContext", "Mem0StyleSystem", "NoopSystem", "OracleSystem", "parse_facts"]


def _fresh(env_cls: type[MemoryEnv], system: str, ex: SessionExample) -> tuple[MemoryEnv, SessionResult]:
    env = env_cls()
    env.reset(example=ex)
    return env, SessionResult(system, ex.user_id, ex.session_id, ex.state_before)


def _finish(res: SessionResult, env: MemoryEnv, extra_invalid: int = 0) -> SessionResult:
    res.state_after, res.operations = env.state, env.operations
    res.tool_calls = env.num_calls + extra_invalid
    res.invalid_calls = env.invalid_calls + extra_invalid
    return res


class OracleSystem:
    """Applies each session's gold operations (through the environment's tools)."""

    name = "oracle"

    def __init__(self, **env_options: Any) -> None:
        self.env_cls = make_env_factory(**env_options) if env_options else MemoryEnv

    def run(self, examples: Sequence[SessionExample], *, seed: int | None = None) -> list[SessionResult]:
        out = []
        for ex in examples:
            env, res = _fresh(self.env_cls, self.name, ex)
            ops = [{"op": o.op.value, "memory_id": o.memory_id, "content": o.content} for o in ex.gold_ops]
            res.transcript = apply_operations(env, ops)
            out.append(_finish(res, env))
        return out


class NoopSystem:
    """Leaves the memory as it was."""

    name = "noop"

    def __init__(self, **env_options: Any) -> None:
        pass

    def run(self, examples: Sequence[SessionExample], *, seed: int | None = None) -> list[SessionResult]:
        return [SessionResult(self.name, ex.user_id, ex.session_id, ex.state_before.copy())
                for ex in examples]


def parse_facts(text: str) -> list[str] | None:
    """The extraction stage's answer: a JSON list of sentences (or of objects with a ``fact``/
    ``content``/``text`` field, or ``{"facts": [...]}``); None if unreadable."""
    val = extract_json(text, want=(list, dict))
    if isinstance(val, dict):
        val = next((val[k] for k in ("facts", "memories", "memory") if isinstance(val.get(k), list)), None)
    if not isinstance(val, list):
        return None
    facts = []
    for item in val:
        if isinstance(item, dict):
            item = item.get("fact", item.get("content", item.get("text")))
        if isinstance(item, str) and item.strip():
            facts.append(item.strip())
    return list(dict.fromkeys(facts))


class _Extracting:
    """Stage 1, shared by the Mem0-style and add-only systems."""

    name = "extract"

    def __init__(self, model: Any, *, max_facts: int = 8, max_new_tokens: int = 160, temperature: float = 0.0,
                 **env_options: Any) -> None:
        self.model = model
        self.max_facts = max_facts
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.env_cls = make_env_factory(**env_options) if env_options else MemoryEnv

    def _extract(self, examples: Sequence[SessionExample], seed: int | None
                 ) -> tuple[list[MemoryEnv], list[SessionResult], list[list[str]]]:
        started = [_fresh(self.env_cls, self.name, ex) for ex in examples]
        envs, results = [e for e, _ in started], [r for _, r in started]
        responses = self.model.chat_batch([extraction_messages(ex) for ex in examples],
                                          max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                                          seed=seed)
        all_facts = []
        for res, r in zip(results, responses):
            res.add_usage(r)
            facts = parse_facts(r.raw_text or r.text)
            if facts is None:
                res.malformed_outputs += 1
                facts = []
            facts = facts[:self.max_facts]
            res.transcript.append({"stage": "extract", "output": r.raw_text or r.text, "facts": facts})
            all_facts.append(facts)
        return envs, results, all_facts


class AddOnlySystem(_Extracting):
    """Extract facts, add each (no update, no delete)."""

    name = "add-only"

    def run(self, examples: Sequence[SessionExample], *, seed: int | None = None) -> list[SessionResult]:
        envs, results, all_facts = self._extract(examples, seed)
        for env, res, facts in zip(envs, results, all_facts):
            known = {" ".join(e.content.lower().split()) for e in env._state}
            ops = [{"op": "ADD", "content": f} for f in facts if " ".join(f.lower().split()) not in known]
            res.transcript.append({"stage": "apply", "applied": apply_operations(env, ops)})
            _finish(res, env)
        return results


class Mem0StyleSystem(_Extracting):
    """Extract facts; retrieve similar memories per fact; one ADD/UPDATE/DELETE/NONE decision
    per fact.

    Args:
        model: a chat backend.
        top_k: memories retrieved per fact.
        max_facts: facts kept per session.
    """

    name = "mem0-style"

    def __init__(self, model: Any, *, top_k: int = 5, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.top_k = top_k

    def run(self, examples: Sequence[SessionExample], *, seed: int | None = None) -> list[SessionResult]:
        envs, results, all_facts = self._extract(examples, seed)
        jobs: list[tuple[int, str]] = []
        prompts = []
        allow_delete = self.env_cls.allow_delete
        for i, (env, facts) in enumerate(zip(envs, all_facts)):
            entries = env._state.entries
            for fact in facts:
                related = [e for e, _ in env._retriever().search(fact, entries,
                                                                 self.top_k)] if entries else []
                jobs.append((i, fact))
                prompts.append(decision_messages(fact, related, allow_delete=allow_delete))
        responses = self.model.chat_batch(prompts, max_new_tokens=64, temperature=self.temperature, seed=seed)
        decisions: list[list[dict[str, Any]]] = [[] for _ in examples]
        for (i, fact), r in zip(jobs, responses):
            res = results[i]
            res.add_usage(r)
            obj = extract_json(r.raw_text or r.text, want=dict)
            op = normalize_operation(obj) if obj is not None else None
            if op is None:
                res.malformed_outputs += 1
                res.transcript.append({"stage": "decide", "fact": fact, "output": r.raw_text or r.text,
                                       "op": None})
                continue
            if op["op"] in ("ADD", "UPDATE") and not op.get("content"):
                op["content"] = fact  # Mem0 falls back to the fact's own text
            res.transcript.append({"stage": "decide", "fact": fact, "output": r.raw_text or r.text, "op": op})
            if op["op"] != "NOOP":
                decisions[i].append(op)
        for env, res, ops in zip(envs, results, decisions):
            res.transcript.append({"stage": "apply", "applied": apply_operations(env, ops)})
            _finish(res, env)
        return results


class FullContext:
    """No memory: the raw dialogue history up to a session, for an answer model to read.

    ``context(episode, upto)`` is every session before index ``upto`` (all if None), dated,
    in order — the "full context" reference of LoCoMo-style benchmarks.
    """

    name = "full-context"

    def context(self, episode: Episode, upto: int | None = None) -> str:
        sessions = episode.sessions if upto is None else episode.sessions[:upto]
        return "\n\n".join(render_dialogue(s.turns, date=s.date) for s in sessions)

    def tokens(self, episode: Episode, tokenizer: Any, upto: int | None = None) -> int:
        """Prompt tokens the raw history costs (what a memory saves)."""
        return len(tokenizer(self.context(episode, upto), add_special_tokens=False)["input_ids"])
