"""HaluMem in a run: one user as one episode (:func:`halumem_episode`; "As episodes" in the
package docstring) and :class:`HaluMemProtocol`, the online order (ingest a session, probe what
it wrote, probe the update points, answer its questions), with its helpers that journal the
judge's verdicts and turn them into the extraction, update and QA metrics;
:func:`deltamem_lib.benchmarks.runner.run_benchmark` drives it through the contract of
:mod:`deltamem_lib.benchmarks.protocol`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ...episodes import Episode
from ...episodes import Session as EpisodeSession
from ...episodes import Turn as EpisodeTurn
from ...memory import MemoryState
from ..answering import fit_to_context, full_context_messages, single_user_answer_messages
from ..judge import judge_halumem
from ..protocol import BenchConfig, Plan, Protocol, Questions, Verdicts, select
from .halumem_data import HaluMemSession, HaluMemUser, load_halumem, parse_halumem_time
from .halumem_metrics import (
    AccuracyJudgement,
    IntegrityJudgement,
    LabelRates,
    UpdateJudgement,
    halumem_extraction_metrics,
    halumem_qa_metrics,
    halumem_update_metrics,
)

__all__ = [
    "halumem_session_id",
    "halumem_episode",
    "HaluMemProtocol",
]

# ------------------------------------------------------------------- users as episodes
def halumem_session_id(uuid: str, index: int) -> str:
    return f"{uuid}:s{index}"


def _session_date(session: HaluMemSession) -> str:
    for raw in [session.start_time] + [t.timestamp for t in session.dialogue]:
        if raw:
            try:
                return parse_halumem_time(raw).date().isoformat()
            except ValueError:
                continue
    return ""


def halumem_episode(user: HaluMemUser) -> Episode:
    """One HaluMem user as an episode: every session (distractor sessions included), in order,
    dated by ``start_time``; turn ids ``s<k>:t<i>``; system turns dropped. The persona line is
    not ingested (it is the generator's seed, not something the user said)."""
    sessions = tuple(
        EpisodeSession(session_id=halumem_session_id(user.uuid, s.index), date=_session_date(s),
                       event={"kind": "halumem",
                              "summary": "distractor session" if s.is_generated_qa_session else ""},
                       turns=tuple(EpisodeTurn(f"s{s.index}:t{i}", t.role, t.content)
                                   for i, t in enumerate(s.dialogue) if t.role in ("user", "assistant")),
                       gold_ops=(), state_after=())
        for s in user.sessions)
    return Episode(user_id=user.uuid, persona={"name": user.user_name or ""}, initial_memory=(),
                   sessions=sessions, meta={"benchmark": "halumem"})


# ----------------------------------------------------------------------------- protocol
class HaluMemProtocol(Protocol):
    """HaluMem in the online order (``docs/benchmark_protocols.md`` §2), for the runner: ingest
    session *s*, probe what *s* wrote, probe the update points, answer *s*'s questions, then
    session *s+1*. Ingestion keeps the memory after every session and the probes only read
    memories, so each probe reads exactly the memory of its moment. The extraction, update and
    QA metrics need the judge; without one they are listed under ``not_computed``."""

    name = "halumem"
    full_context_gaps = {"extraction": "full context keeps no memory to probe",
                         "update": "full context keeps no memory to probe"}

    def prepare(self, cfg: BenchConfig) -> Plan:
        path = Path(cfg.data)
        users = select(cfg, path, load_halumem(path), lambda u: u.uuid, "user")
        max_s = cfg.max_sessions or None
        episodes = []
        for u in users:
            ep = halumem_episode(u)
            episodes.append(dataclasses.replace(ep, sessions=ep.sessions[:max_s]) if max_s else ep)
        data = {"users": [u.uuid for u in users],
                "sessions": {u.uuid: len(ep.sessions) for u, ep in zip(users, episodes)}}
        return Plan(episodes, data, users)

    def ask(self, cfg: BenchConfig, plan: Plan, states: Mapping[str, Sequence[MemoryState]],
            answer_model: Any, retriever: Any) -> Questions:
        """The probes, in the online order (each reads the memory right after its session): QA
        prompts, what each session wrote (``probes["extraction"]``) and the memories retrieved
        for each update point (``probes["updates"]``)."""
        asked = Questions([], [], [], {"extraction": [], "updates": []})
        for u, ep in zip(plan.items, plan.episodes):
            history: list[str] = []
            for s in u.sessions[:len(ep.sessions)]:
                history.append(f"Session of {ep.sessions[s.index].date}:\n" + s.dialogue_text())
                if s.is_generated_qa_session:
                    continue
                if not cfg.full_context:
                    after = states[u.uuid][s.index]
                    _probe_memory(asked.probes, u.uuid, s, after, retriever)
                elif s.questions:  # one transcript for all of the session's questions
                    text, _ = fit_to_context(history, answer_model, cfg.context_tokens)
                for qi, q in enumerate(s.questions):
                    if cfg.full_context:
                        prompt = full_context_messages(q.question, text)
                    else:
                        hits = [e for e, _ in retriever.search(q.question, after.entries, cfg.top_k)]
                        prompt = single_user_answer_messages(q.question, hits)
                    asked.keys.append(f"{u.uuid}/s{s.index}/q{qi}")
                    asked.prompts.append(prompt)
                    asked.records.append({"key": asked.keys[-1], "question_type": q.question_type,
                                          "question": q.question, "gold": q.answer, "_item": q})
        return asked

    def score(self, cfg: BenchConfig, plan: Plan, asked: Questions, answers: Mapping[str, Mapping[str, Any]],
              judge: Any, work: Path, not_computed: dict[str, str]) -> tuple[dict[str, Any],
                                                                             list[dict[str, Any]],
                                                                             dict[str, Any] | None]:
        items = [r.pop("_item") for r in asked.records]
        per_question = [{**r, "answer": answers[r["key"]]["answer"]} for r in asked.records]
        extraction, updates = asked.probes["extraction"], asked.probes["updates"]
        metrics: dict[str, Any] = {"questions": len(per_question), "sessions_probed": len(extraction),
                                   "memories_written": sum(len(x["memories"]) for x in extraction),
                                   "update_points_probed": len(updates)}
        if judge is None:
            reason = "no judge model given (--judge-model); HaluMem's metrics are judged by an LLM"
            for name in ("extraction recall / weighted recall / target precision / F1 "
                         "/ false-memory resistance",
                         "update correct / hallucination / omission",
                         "QA correct / hallucination / omission"):
                not_computed.setdefault(name, reason)
            return metrics, per_question, None
        verdicts = Verdicts(judge, work)
        judged = _judged(judge, cfg, verdicts)
        labels = judged("qa", [f"qa:{r['key']}" for r in per_question],
                        [{"question": q.question, "answer": q.answer,
                          "evidence": ("; ".join(e.memory_content for e in q.evidence)
                                       or "(none: unanswerable)"),
                          "response": r["answer"]} for q, r in zip(items, per_question)])
        for r, lab in zip(per_question, labels):
            r["label"] = lab.get("label")
        metrics["qa"] = _rates(halumem_qa_metrics([r["label"] for r in per_question],
                                                  [r["question_type"] for r in per_question]))
        if not cfg.full_context:
            metrics.update(_memory_metrics(extraction, updates, judged))
        return metrics, per_question, verdicts.cost()


def _probe_memory(probes: dict[str, list[Any]], uuid: str, s: HaluMemSession, after: MemoryState,
                  retriever: Any) -> None:
    """What session ``s`` wrote, and the memories retrieved for each of its update points."""
    sid = halumem_session_id(uuid, s.index)
    written = [e for e in after.entries if e.source is not None and e.source.session_id == sid]
    probes["extraction"].append({"user": uuid, "session": s.index, "memories": [e.content for e in written],
                                 "points": s.memory_points, "dialogue": s.dialogue_text()})
    for p in s.update_probe_points:
        hits = [e.content for e, _ in retriever.search(p.memory_content, after.entries, 10)]
        probes["updates"].append({"user": uuid, "session": s.index, "point": p, "memories": hits})


def _judged(judge: Any, cfg: BenchConfig, verdicts: Verdicts) -> Callable[..., list[dict[str, Any]]]:
    """Judge items of one kind through the verdict journal (a rerun asks only what is missing)."""
    def judged(kind: str, keys: list[str], fields: list[dict[str, str]]) -> list[dict[str, Any]]:
        return verdicts.get(keys, lambda todo: judge_halumem(judge, kind, [fields[i] for i in todo],
                                                             batch_size=cfg.batch_size, seed=cfg.seed))
    return judged


def _memory_metrics(extraction: Sequence[dict[str, Any]], updates: Sequence[dict[str, Any]],
                    judged: Callable[..., list[dict[str, Any]]]) -> dict[str, Any]:
    """Extraction (integrity of each gold point, accuracy of each written memory) and update metrics."""
    integ_keys, integ_fields, integ_meta = [], [], []
    acc_keys, acc_fields = [], []
    upd = [x for x in updates if x["memories"]]
    upd_points = {(x["user"], x["session"], x["point"].index) for x in upd}
    zero_integrity = []
    for x in extraction:
        points = "\n".join(f"- {p.memory_content}" for p in x["points"] if not p.is_interference)
        mem_text = "\n".join(f"- {m}" for m in x["memories"])
        for p in x["points"]:
            if (x["user"], x["session"], p.index) in upd_points:
                continue
            meta = (p.importance, p.is_interference, p.memory_type)
            if not x["memories"]:
                zero_integrity.append(meta)  # nothing extracted: score 0 without a judge call
                continue
            integ_keys.append(f"int:{x['user']}/s{x['session']}/p{p.index}")
            integ_fields.append({"memories": mem_text, "target": p.memory_content})
            integ_meta.append(meta)
        for mi, m in enumerate(x["memories"]):
            acc_keys.append(f"acc:{x['user']}/s{x['session']}/m{mi}")
            acc_fields.append({"dialogue": x["dialogue"], "points": points, "memory": m})
    integ = judged("integrity", integ_keys, integ_fields)
    acc = judged("accuracy", acc_keys, acc_fields)
    ij = [IntegrityJudgement(r.get("score"), imp, intf, mt) for r, (imp, intf, mt) in zip(integ, integ_meta)]
    ij += [IntegrityJudgement(0, imp, intf, mt) for imp, intf, mt in zero_integrity]
    aj = [AccuracyJudgement(r.get("score"), bool(r.get("in_gold"))) for r in acc]
    ext = halumem_extraction_metrics(ij, aj)
    uj = judged("update", [f"upd:{x['user']}/s{x['session']}/p{x['point'].index}" for x in upd],
                [{"memories": "\n".join(f"- {m}" for m in x["memories"]), "target": x["point"].memory_content,
                  "original": "; ".join(x["point"].original_memories)} for x in upd])
    update = _rates(halumem_update_metrics(
        [UpdateJudgement(r.get("label"), x["point"].memory_type) for r, x in zip(uj, upd)]))
    update["probed_without_hits"] = len(updates) - len(upd)
    return {"extraction": {k: getattr(ext, k) for k in ("recall", "weighted_recall", "target_precision",
                                                        "accuracy", "f1", "fmr")},
            "update": update}


def _rates(r: LabelRates) -> dict[str, Any]:
    out = {"n": r.n, "n_valid": r.n_valid, "correct": r.rate.get("Correct"),
           "hallucination": r.rate.get("Hallucination"), "omission": r.rate.get("Omission")}
    if "Other" in r.rate:
        out["other"] = r.rate["Other"]
    if r.by_group:
        out["by_type"] = {g: {"n": v.n, "correct": v.rate.get("Correct"),
                              "hallucination": v.rate.get("Hallucination"),
                              "omission": v.rate.get("Omission")} for g, v in r.by_group.items()}
    return out
