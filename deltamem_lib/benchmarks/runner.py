"""The benchmark runner: ingest a benchmark's sessions into a memory system, answer, score.

This is the evaluation of the DeltaMem paper's §4 (Tables 1–3) as one function per benchmark,
behind ``deltamem bench locomo|halumem|personamem`` and notebook 05:

**LoCoMo** (``docs/benchmark_protocols.md`` §1, the Mem0 protocol): every conversation is ingested session by
session with its dates, one memory per speaker (:mod:`.adapters`); for each scored question
(categories 1–4) the ``top_k`` memories of each speaker are retrieved and an answer model
answers in at most 5–6 words (:mod:`.answer`). Scores: token-set F1 and BLEU-1 (no model), the
LLM judge J (optional, several runs → mean ± std), per **official** category, and the
**evidence recall@k**: the share of questions whose evidence turns are among the sources of
the top-k retrieved memories (:mod:`.provenance`; no judge needed).

**HaluMem** (§2), in the online order — ingest session *s*, probe what *s* wrote, probe the
update points, answer *s*'s questions, then session *s+1*. Ingestion keeps the memory after
every session, and the probes only read memories, so each probe reads exactly the memory of
its moment. The extraction / update / QA metrics need the judge; without one they are listed
under ``not_computed``.

**PersonaMem** (§3): each shared context is cut at its questions' end indices; a question is
answered (4 options) from the memory after exactly the messages it may see. Accuracy overall
and per question type, scored the official way.

The **full-context** baseline (``system="full-context"``) ingests nothing: the answer model
reads the dated transcript, cut to a token budget by :func:`~.answer.fit_history`.

**Resuming.** ``work_dir`` holds a manifest of the settings, the per-session memory states
(:func:`deltamem_lib.agent.ingest.ingest_users`) and journals of answers and verdicts (one
JSON line per item, written and flushed as each batch finishes). A rerun with the same
settings skips everything already there; a torn last line (an interrupted write) is dropped.
The manifest also holds the SHA-256 of the data file: a rerun after the file changed is
refused (the stored work belongs to the old content), and a lock (:mod:`deltamem_lib.workdir`)
keeps a second run out of a work folder that one is using.

**Cost.** Tokens and seconds of ingestion, answering and judging are summed into the
results, with the wall time of the invocation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..agent.ingest import ingest_users
from ..agent import systems as agent_systems  # looked up at call time: tests replace make_system
from ..config import seed_everything, setting as _f
from ..io import atomic_write_json, Journal, read_json
from ..memory import MemoryState
from ..models import load_chat_model
from ..retrieval import get_retriever
from . import BENCHMARKS
from .adapters import (halumem_episode, halumem_session_id, locomo_episodes, locomo_questions,
                       locomo_user_id, LocomoObservations, personamem_context)
from .answering import (answer_all, ANSWER_PROMPT_ID, context_budget, count_with, fit_history,
                        full_context_messages, locomo_answer_messages, mcq_messages,
                        single_user_answer_messages)
from .halumem import load_halumem
from .judge import judge_halumem, judge_locomo
from .locomo import CATEGORY_NAMES, load_locomo
from .halumem import AccuracyJudgement, halumem_extraction_metrics, halumem_qa_metrics, halumem_update_metrics, IntegrityJudgement, UpdateJudgement
from .judge import aggregate_judge_runs
from .locomo import bleu1, locomo_f1, per_category_table
from .provenance import evidence_recall_at_k
from .personamem import (load_personamem_questions, load_shared_contexts, parse_option_letter,
                         score_personamem, visible_context)
from .provenance import entry_sources
from ..workdir import WorkDirLock, data_hashes, remove_stale_temp_files, stale_data_message

__all__ = ["BENCHMARKS", "BENCH_SYSTEMS", "BenchConfig", "label_line", "redact", "run_benchmark"]



BENCH_SYSTEMS: tuple[str, ...] = ("oracle", "noop", "deltamem", "deltamem-oneshot", "mem0-style", "add-only",
                                  "full-context", "observations")


@dataclass
class BenchConfig:
    """Settings of one benchmark run; ``BenchConfig.help()`` lists each field's help line."""
    benchmark: str = _f("locomo", "locomo, halumem or personamem")
    data: str = _f("", "locomo10.json, HaluMem-*.jsonl, or PersonaMem questions_<split>.csv")
    contexts: str = _f("", "PersonaMem: shared_contexts_<split>.jsonl (empty: next to the questions file)")
    system: str = _f("deltamem-oneshot", "memory system: deltamem, deltamem-oneshot, mem0-style, add-only, oracle, "
                                         "noop, full-context, or observations (LoCoMo's model-made facts: a reference)")
    model: str = _f("smollm2", "the memory system's LLM: 'smollm2', a Hub id or folder, or 'openai:<model>'")
    adapter: str = _f("", "PEFT LoRA adapter folder loaded on the system's model (the RL rows); empty: none")
    answer_model: str = _f("", "the answer model (same kinds of spec); empty: the system's model without adapter")
    judge_model: str = _f("", "the LLM judge; empty: no judge (J and HaluMem's judged metrics not computed)")
    judge_runs: int = _f(1, "judge runs (LoCoMo J is reported as mean ± std over runs)")
    retriever: str = _f("auto", "retrieval for answering and for the agents: auto, embedding or lexical")
    top_k: int = _f(10, "memories retrieved per speaker (LoCoMo) or per user; Mem0 used 30 (LoCoMo), 20 (HaluMem)")
    recall_ks: tuple[int, ...] = _f((1, 5, 10), "k of evidence recall@k (k per speaker, at most top_k)")
    conversations: int = _f(0, "LoCoMo conversations / HaluMem users to run (0: all)")
    sample_ids: tuple[str, ...] = _f((), "LoCoMo sample ids or HaluMem uuids to run (overrides conversations)")
    max_sessions: int = _f(0, "ingest only the first N sessions (0: all); LoCoMo then asks only questions whose "
                              "evidence lies in them")
    limit: int = _f(0, "answer a seeded sample of N questions (0: all)")
    speakers: str = _f("both", "LoCoMo: 'both' (one memory per speaker, the Mem0 protocol) or one speaker's name")
    batch_size: int = _f(8, "prompts generated together by a local model")
    max_new_tokens: int = _f(128, "generation budget of one memory-system call")
    max_tool_calls: int = _f(8, "ReAct agent: tool calls per session")
    related_k: int = _f(10, "one-shot agent: related memories shown in the prompt")
    allow_delete: bool = _f(True, "offer DELETE to the memory system (False: the no-DELETE ablation)")
    answer_max_new_tokens: int = _f(32, "generation budget of one answer")
    context_tokens: int = _f(0, "full context: transcript token budget (0: the answer model's context - 512)")
    personamem_block: int = _f(20, "PersonaMem: longest pseudo-session, in messages")
    include_persona: bool = _f(False, "PersonaMem: ingest the persona system message (it leaks the profile)")
    seed: int = _f(0, "seed of the question sample and of sampling")
    profile: str = _f("", "profile name, recorded as a label of every number")

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata["help"] for f in dataclasses.fields(cls)}

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["recall_ks"], d["sample_ids"] = list(self.recall_ks), list(self.sample_ids)
        return d

    def validate(self) -> None:
        p = []
        if self.benchmark not in BENCHMARKS:
            p.append(f"benchmark {self.benchmark!r}: choose one of {', '.join(BENCHMARKS)}")
        if self.system not in BENCH_SYSTEMS:
            p.append(f"system {self.system!r}: choose one of {', '.join(BENCH_SYSTEMS)}")
        if self.system == "observations" and self.benchmark != "locomo":
            p.append("system 'observations' (LoCoMo's released observations) exists for LoCoMo only")
        if not self.data:
            p.append("data: give the benchmark file (--data PATH)")
        if self.retriever not in ("auto", "embedding", "lexical"):
            p.append(f"retriever {self.retriever!r}: auto, embedding or lexical")
        if self.top_k < 1 or any(k < 1 or k > self.top_k for k in self.recall_ks):
            p.append(f"top_k ({self.top_k}) must be ≥ 1 and every recall k ({list(self.recall_ks)}) in 1..top_k")
        if self.judge_runs < 1:
            p.append("judge_runs must be at least 1")
        for name in ("conversations", "max_sessions", "limit", "context_tokens"):
            if getattr(self, name) < 0:
                p.append(f"{name} must be ≥ 0 (0: no limit / automatic)")
        if p:
            raise ValueError("invalid benchmark settings:\n" + "\n".join(f"  - {x}" for x in p))

    def slug(self) -> str:
        """A work-folder name for these settings: ``<benchmark>_<system>_<hash of key()>``, so a
        run with other settings never lands in (and is never refused by) an old folder."""
        digest = hashlib.sha256(json.dumps(self.key(), sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.benchmark}_{self.system}_{digest}"

    def key(self) -> dict[str, Any]:
        """The settings a run's stored work depends on (the manifest checks them on resume)."""
        d = self.to_dict()
        for name in ("profile", "limit", "judge_model", "judge_runs"):  # answers and verdicts are keyed per item
            d.pop(name)
        return d


# ------------------------------------------------------------------------------ journal
# ------------------------------------------------------------------------------- helpers
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _sample(items: list[Any], limit: int, seed: int) -> list[Any]:
    if not limit or limit >= len(items):
        return items
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


def _bar(total: int, desc: str, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


def _cost(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    recs = list(records)
    return {"calls": len(recs), "prompt_tokens": int(sum(r.get("prompt_tokens", 0) for r in recs)),
            "completion_tokens": int(sum(r.get("completion_tokens", 0) for r in recs)),
            "seconds": round(sum(r.get("seconds", 0.0) for r in recs), 3)}


def _model_name(model: Any) -> str | None:
    return None if model is None else getattr(model, "name", type(model).__name__)


class _Models:
    """Loads the models a run needs, once, unless the caller passed them in."""
    def __init__(self, cfg: BenchConfig, model: Any, answer_model: Any, judge: Any, device: str) -> None:
        self.cfg, self.device = cfg, device
        self._system, self._answer, self._judge = model, answer_model, judge

    def _load(self, spec: str, adapter: str | None = None) -> Any:
        return load_chat_model(spec, device=self.device, load_adapter=adapter or None, batch_size=self.cfg.batch_size)

    @property
    def system(self) -> Any:
        if self._system is None:
            self._system = self._load(self.cfg.model, self.cfg.adapter)
        return self._system

    @property
    def answer(self) -> Any:
        if self._answer is None:
            spec = self.cfg.answer_model or self.cfg.model
            if self._system is not None and not self.cfg.answer_model and not self.cfg.adapter:
                self._answer = self._system  # the same model: load it once
            else:
                self._answer = self._load(spec)
        return self._answer

    @property
    def judge(self) -> Any:
        if self._judge is None and self.cfg.judge_model:
            self._judge = self._load(self.cfg.judge_model)
        return self._judge


def _ingest(cfg: BenchConfig, models: _Models, episodes: Sequence[Any], work: Path,
            progress: bool) -> tuple[dict[str, list[MemoryState]], dict[str, Any], str | None]:
    """Run the memory system over every episode (resumable); states after each session, the
    ingestion cost read back from the saved sessions, and the system's model name."""
    needs_model = cfg.system not in ("oracle", "noop", "observations")
    model = models.system if needs_model else None
    if cfg.system == "observations":

        system: Any = LocomoObservations.from_file(cfg.data)
    else:
        system = agent_systems.make_system(cfg.system, model, retriever=cfg.retriever,
                                           max_new_tokens=cfg.max_new_tokens, max_tool_calls=cfg.max_tool_calls,
                                           related_k=cfg.related_k, allow_delete=cfg.allow_delete)
    res = ingest_users(system, episodes, out_dir=work / "ingest", max_batch=cfg.batch_size, seed=cfg.seed,
                       progress=progress)
    summaries = []
    for p in sorted((work / "ingest" / "states").glob("*/*.json")):
        summaries.append(read_json(p).get("summary") or {})
    cost = _cost(summaries)
    cost["sessions"] = cost.pop("calls")
    cost.update(operations=int(sum(s.get("operations", 0) for s in summaries)),
                invalid_calls=int(sum(s.get("invalid_calls", 0) for s in summaries)),
                malformed_outputs=int(sum(s.get("malformed_outputs", 0) for s in summaries)),
                computed_now=res.processed, resumed=res.skipped)
    return res.states, cost, _model_name(model)


def _answer_pending(journal: Journal, keys: Sequence[str], prompts: Sequence[list[dict[str, str]]], model: Any,
                    cfg: BenchConfig, progress: bool) -> None:
    """Answer the prompts whose keys are not in the journal yet, journaling each batch."""
    todo = [i for i, k in enumerate(keys) if k not in journal]
    if not todo:
        return
    bar = _bar(len(todo), "answer", progress)

    def save(start: int, answers: list[Any]) -> None:
        recs = []
        for j, a in zip(todo[start:start + len(answers)], answers):
            recs.append({"key": keys[j], **a.to_dict()})
        journal.add(recs)
        if bar is not None:
            bar.update(len(answers))

    answer_all(model, [prompts[i] for i in todo], max_new_tokens=cfg.answer_max_new_tokens,
               batch_size=cfg.batch_size, seed=cfg.seed, on_batch=save)
    if bar is not None:
        bar.close()


def _check_manifest(work: Path, cfg: BenchConfig) -> None:
    path = work / "bench_manifest.json"
    key = {**cfg.key(), "data_sha256": data_hashes([cfg.data, cfg.contexts])}
    if path.is_file():
        old = read_json(path)
        if not isinstance(old, dict):
            raise ValueError(f"{path}: expected a settings object, got {type(old).__name__}; the manifest is "
                             "corrupt (delete the work folder to start over)")
        stale = stale_data_message(work, old.get("data_sha256"), key["data_sha256"])
        if stale:
            raise ValueError(stale)
        diff = sorted(k for k in set(old) | set(key) if old.get(k) != key.get(k))
        if diff:
            raise ValueError(f"{work}: holds a benchmark run with other settings ({', '.join(diff)}); "
                             "use another work folder or delete this one")
    else:
        atomic_write_json(path, key)


def _labels(cfg: BenchConfig, system_model: str | None, answer_model: str | None, judge: str | None,
            retriever: Any) -> dict[str, Any]:

    return {"benchmark": cfg.benchmark, "system": cfg.system, "memory_model": system_model,
            "adapter": cfg.adapter or None, "answer_model": answer_model, "answer_prompt": ANSWER_PROMPT_ID,
            "judge": judge, "judge_runs": cfg.judge_runs if judge else 0, "profile": cfg.profile or None,
            "retriever": getattr(retriever, "name", cfg.retriever),
            "retriever_note": getattr(retriever, "fallback_reason", None), "top_k": cfg.top_k}


def label_line(result: Mapping[str, Any]) -> str:
    """One line naming everything a measured number depends on."""
    lab = result["labels"]
    system = lab["system"] + (" + RL adapter" if lab.get("adapter") else "")
    judge = f"judge {lab['judge']} × {lab['judge_runs']}" if lab.get("judge") else "no judge"
    return (f"{system} · memory model {lab.get('memory_model') or '–'} · answer model {lab.get('answer_model') or '–'}"
            f" · {judge} · profile {lab.get('profile') or '–'}")


# ------------------------------------------------------------------------------- LoCoMo
def _locomo(cfg: BenchConfig, models: _Models, work: Path, progress: bool) -> dict[str, Any]:
    path = Path(cfg.data)
    convs = _locomo_conversations(cfg, path)
    max_s = cfg.max_sessions or None
    episodes, speakers = [], {}
    for c in convs:
        eps = locomo_episodes(c, speakers=cfg.speakers, max_sessions=max_s)
        episodes += eps
        speakers[c.sample_id] = [ep.meta["speaker"] for ep in eps]
    questions = _sample([(c, q) for c in convs for q in locomo_questions(c, max_sessions=max_s)], cfg.limit, cfg.seed)
    retriever = get_retriever(cfg.retriever)
    full = cfg.system == "full-context"
    not_computed: dict[str, str] = {}
    ingest_cost: dict[str, Any] | None = None
    system_model = None
    if full:
        prompts, records = _full_context_prompts(convs, questions, models.answer, cfg, max_s)
        not_computed["evidence_recall"] = "full context retrieves no memories (nothing to take evidence from)"
        not_computed["ingestion"] = "full context ingests nothing"
    else:
        states, ingest_cost, system_model = _ingest(cfg, models, episodes, work, progress)
        prompts, records = _memory_prompts(states, episodes, questions, speakers, retriever, cfg)
    keys = [q.qid for _, q in questions]
    answers = Journal(work / "answers.jsonl")
    amodel = models.answer
    _answer_pending(answers, keys, prompts, amodel, cfg, progress)
    for (c, q), rec in zip(questions, records):
        a = answers[q.qid]
        rec.update(qid=q.qid, category=q.category, question=q.question, gold=q.answer, answer=a["answer"],
                   evidence=[str(d) for d in q.evidence], f1=round(locomo_f1(a["answer"], q.answer), 6),
                   bleu1=round(bleu1(a["answer"], q.answer), 6))
    judge_name, j_summary, judge_cost = _judge_locomo_records(records, models.judge, cfg, work, not_computed)
    metrics = _locomo_metrics(records, questions, j_summary, cfg, speakers, full)
    cats = [r["category"] for r in records]
    data = {"path": str(path), "sha256": _sha256(path), "conversations": [c.sample_id for c in convs],
            "sessions": {c.sample_id: len(c.sessions if max_s is None else c.sessions[:max_s]) for c in convs},
            "speakers": speakers, "questions": len(records),
            "selection": "categories 1-4"
                         + (f"; first {max_s} sessions, questions whose evidence lies in them" if max_s else "")
                         + (f"; seeded sample of {cfg.limit}" if cfg.limit else ""),
            "category_counts": dict(sorted(Counter(cats).items()))}
    cost = {"ingest": ingest_cost, "answer": _cost(answers[k] for k in keys), "judge": judge_cost}
    return {"labels": _labels(cfg, system_model, _model_name(amodel), judge_name, retriever), "data": data,
            "metrics": metrics, "not_computed": not_computed, "cost": cost, "per_question": records}


def _locomo_conversations(cfg: BenchConfig, path: Path) -> list[Any]:
    """The conversations ``cfg`` selects (by sample id, else the first ``conversations``)."""
    return _select(cfg, path, load_locomo(path), lambda c: c.sample_id, "conversation")


def _full_context_prompts(convs: Sequence[Any], questions: Sequence[tuple[Any, Any]], amodel: Any,
                          cfg: BenchConfig, max_s: int | None) -> tuple[list[Any], list[dict[str, Any]]]:
    """Answer prompts holding as many of the latest sessions as fit the answer model's context."""
    count = count_with(amodel)
    budget = cfg.context_tokens or max(256, context_budget(amodel) - 512)
    history = {}
    for c in convs:
        sess = c.sessions if max_s is None else c.sessions[:max_s]
        texts = [f"Session of {s.date_time} ({s.date}):\n"
                 + "\n".join(f"[{t.dia_id}] {t.speaker}: {t.render()}" for t in s.turns) for s in sess]
        text, kept = fit_history(texts, budget, count)
        history[c.sample_id] = (text, kept, len(texts))
    prompts, records = [], []
    for c, q in questions:
        text, kept, total = history[c.sample_id]
        prompts.append(full_context_messages(q.question, text))
        records.append({"sessions_in_context": kept, "sessions_total": total})
    return prompts, records


def _memory_prompts(states: Mapping[str, Sequence[MemoryState]], episodes: Sequence[Any],
                    questions: Sequence[tuple[Any, Any]], speakers: Mapping[str, Sequence[str]], retriever: Any,
                    cfg: BenchConfig) -> tuple[list[Any], list[dict[str, Any]]]:
    """Answer prompts from each speaker's final memory: the ``top_k`` retrieved entries, with
    the ranked ids and sources recorded for evidence recall."""
    session_turns = {s.session_id: s.turns for ep in episodes for s in ep.sessions}
    final = {uid: (ss[-1] if ss else MemoryState()) for uid, ss in states.items()}
    prompts, records = [], []
    for c, q in questions:
        blocks, ranked = [], {}
        for name in speakers[c.sample_id]:
            uid = locomo_user_id(c.sample_id, name)
            hits = [e for e, _ in retriever.search(q.question, final[uid].entries, cfg.top_k)]
            blocks.append((name, hits))
            ranked[name] = [[e.id, *_src(entry_sources(e, session_turns))] for e in hits]
        prompts.append(locomo_answer_messages(q.question, blocks))
        records.append({"retrieved": ranked})
    return prompts, records


def _judge_locomo_records(records: list[dict[str, Any]], judge: Any, cfg: BenchConfig, work: Path,
                          not_computed: dict[str, str]) -> tuple[str | None, Any, dict[str, Any] | None]:
    """J over ``cfg.judge_runs`` runs, journaled per question and run; adds ``j`` and ``j_runs``
    to each record. Returns the judge's name, the summary over runs and the judge's cost."""
    if judge is None:
        not_computed["J"] = "no judge model given (--judge-model); J (LLM-judge accuracy) needs one"
        return None, None, None
    judge_name = _model_name(judge)
    verdicts = Journal(work / "judge.jsonl")
    for run in range(cfg.judge_runs):
        todo = [r for r in records if f"{judge_name}|{r['qid']}#{run}" not in verdicts]
        if todo:
            out = judge_locomo(judge, [(r["question"], r["gold"], r["answer"]) for r in todo], run=run,
                               batch_size=cfg.batch_size, seed=cfg.seed)
            verdicts.add({"key": f"{judge_name}|{r['qid']}#{run}", "label": v.label, "note": v.note,
                          "raw": v.raw, **c} for r, (v, c) in zip(todo, out))
    runs = [[_verdict_score(verdicts[f"{judge_name}|{r['qid']}#{run}"]) for r in records]
            for run in range(cfg.judge_runs)]
    j_summary = None
    if records:
        j_summary = aggregate_judge_runs(runs)
        for r, m, *per in zip(records, j_summary.question_means, *runs):
            r["j"] = m
            r["j_runs"] = list(per)
    return judge_name, j_summary, _cost(v for k, v in verdicts.records.items() if k.startswith(f"{judge_name}|"))


def _locomo_metrics(records: Sequence[dict[str, Any]], questions: Sequence[tuple[Any, Any]], j_summary: Any,
                    cfg: BenchConfig, speakers: Mapping[str, Sequence[str]], full: bool) -> dict[str, Any]:
    cats = [r["category"] for r in records]
    scores: dict[str, list[float | None]] = {"F1": [r["f1"] for r in records],
                                             "BLEU-1": [r["bleu1"] for r in records]}
    if j_summary is not None:
        scores["J"] = [r["j"] for r in records]
    table = per_category_table(cats, scores, names=CATEGORY_NAMES) if records else []
    recall = None
    if not full and records:
        recall = _evidence_recall(records, questions, cfg, speakers, evidence_recall_at_k)
    return {
        "questions": len(records),
        "f1": _mean([r["f1"] for r in records]),
        "bleu1": _mean([r["bleu1"] for r in records]),
        "j": None if j_summary is None else {"mean": j_summary.mean, "std": j_summary.std,
                                             "per_run": list(j_summary.per_run), "runs": j_summary.n_runs,
                                             "invalid_verdicts": j_summary.n_invalid,
                                             "invalid_policy": j_summary.invalid_policy},
        "per_category": [{"category": r.key, "name": r.name, "n": r.n, **r.means} for r in table],
        "evidence_recall": recall,
    }


def _src(triple: tuple[str | None, tuple[str, ...], str]) -> list[Any]:
    sid, turns, how = triple
    return [sid, list(turns), how]


def _verdict_score(rec: Mapping[str, Any]) -> int | None:
    lab = rec.get("label")
    return None if lab is None else int(lab == "CORRECT")


def _mean(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def _evidence_recall(records: Sequence[dict[str, Any]], questions: Sequence[tuple[Any, Any]], cfg: BenchConfig,
                     speakers: Mapping[str, Sequence[str]], recall_fn: Callable[..., Any]) -> dict[str, Any]:
    """Evidence recall@k, turn level and session level, with how the turn sources were obtained."""
    how = Counter()
    turn_out, sess_out = {}, {}
    for k in cfg.recall_ks:
        turn_src, sess_src, ev_turn, ev_sess = [], [], [], []
        for (c, q), r in zip(questions, records):
            turns, sessions = [], []
            for name in speakers[c.sample_id]:
                for mid, sid, tids, h in r["retrieved"][name][:k]:
                    turns.append(tids)
                    sessions.append([sid.rsplit(":", 1)[-1]] if sid else [])
                    if k == max(cfg.recall_ks):
                        how[h] += 1
            turn_src.append([[t for ts in turns for t in ts]])
            sess_src.append([[s for ss in sessions for s in ss]])
            ev_turn.append([str(d) for d in q.evidence])
            ev_sess.append(sorted({f"S{d.session}" for d in q.evidence}))
        for out, ev, src in ((turn_out, ev_turn, turn_src), (sess_out, ev_sess, sess_src)):
            res = recall_fn(ev, src, None)
            out[str(k)] = {"all": res.all, "any": res.any, "fraction": res.fraction, "n": res.n,
                           "without_evidence": res.n_without_evidence}
    return {"k_per_speaker": list(cfg.recall_ks), "turn": turn_out, "session": sess_out,
            "turn_sources": dict(how),
            "note": ("turn level: a memory's recorded source turns, else the turns of its session that share the most "
                     "content words with it ('attributed'); session level: the session that wrote the memory (exact)")}


# ------------------------------------------------------------------------------ HaluMem
def _halumem(cfg: BenchConfig, models: _Models, work: Path, progress: bool) -> dict[str, Any]:
    path = Path(cfg.data)
    users = _halumem_users(cfg, path)
    max_s = cfg.max_sessions or None
    episodes = []
    for u in users:
        ep = halumem_episode(u)
        episodes.append(dataclasses.replace(ep, sessions=ep.sessions[:max_s]) if max_s else ep)
    retriever = get_retriever(cfg.retriever)
    full = cfg.system == "full-context"
    states: dict[str, list[MemoryState]] = {}
    ingest_cost, system_model = None, None
    not_computed: dict[str, str] = {}
    if full:
        not_computed["extraction"] = not_computed["update"] = "full context keeps no memory to probe"
    else:
        states, ingest_cost, system_model = _ingest(cfg, models, episodes, work, progress)
    amodel = models.answer
    probes = _halumem_probes(users, episodes, states, retriever, cfg, amodel)
    qa_keys, qa_items = probes["qa_keys"], probes["qa_items"]
    answers = Journal(work / "answers.jsonl")
    _answer_pending(answers, qa_keys, probes["qa_prompts"], amodel, cfg, progress)
    per_question = [{"key": k, "question_type": q.question_type, "question": q.question, "gold": q.answer,
                     "answer": answers[k]["answer"]} for k, q in zip(qa_keys, qa_items)]
    extraction, updates = probes["extraction"], probes["updates"]
    metrics: dict[str, Any] = {"questions": len(per_question), "sessions_probed": len(extraction),
                               "memories_written": sum(len(x["memories"]) for x in extraction),
                               "update_points_probed": len(updates)}
    judge_cost = None
    judge = models.judge
    if judge is None:
        reason = "no judge model given (--judge-model); HaluMem's metrics are judged by an LLM"
        for name in ("extraction recall / weighted recall / target precision / F1 / false-memory resistance",
                     "update correct / hallucination / omission", "QA correct / hallucination / omission"):
            not_computed.setdefault(name, reason)
    else:
        judge_cost = _judge_halumem_probes(judge, cfg, work, probes, per_question, metrics, full)
    data = {"path": str(path), "sha256": _sha256(path), "users": [u.uuid for u in users],
            "sessions": {u.uuid: len(ep.sessions) for u, ep in zip(users, episodes)}}
    cost = {"ingest": ingest_cost, "answer": _cost(answers[k] for k in qa_keys), "judge": judge_cost}
    return {"labels": _labels(cfg, system_model, _model_name(amodel), _model_name(judge), retriever), "data": data,
            "metrics": metrics, "not_computed": not_computed, "cost": cost, "per_question": per_question}


def _halumem_users(cfg: BenchConfig, path: Path) -> list[Any]:
    """The users ``cfg`` selects (by uuid, else the first ``conversations``); unknown uuids raise."""
    return _select(cfg, path, load_halumem(path), lambda u: u.uuid, "user")


def _select(cfg: BenchConfig, path: Path, items: list[Any], key: Callable[[Any], str], what: str) -> list[Any]:
    """The items ``cfg.sample_ids`` names (unknown ids raise), else the first ``cfg.conversations``."""
    if cfg.sample_ids:
        missing = sorted(set(cfg.sample_ids) - {key(x) for x in items})
        if missing:
            raise ValueError(f"{path}: no {what} {missing}; it has {', '.join(key(x) for x in items)}")
        return [x for x in items if key(x) in cfg.sample_ids]
    return items[:cfg.conversations] if cfg.conversations else items


def _halumem_probes(users: Sequence[Any], episodes: Sequence[Any], states: Mapping[str, Sequence[MemoryState]],
                    retriever: Any, cfg: BenchConfig, amodel: Any) -> dict[str, list[Any]]:
    """The probes, in the online order (each reads the memory right after its session): QA
    prompts (``qa_keys``, ``qa_prompts``, ``qa_items``), what each session wrote
    (``extraction``) and the memories retrieved for each update point (``updates``)."""
    full = cfg.system == "full-context"
    out: dict[str, list[Any]] = {"qa_keys": [], "qa_prompts": [], "qa_items": [], "extraction": [], "updates": []}
    for u, ep in zip(users, episodes):
        sessions = u.sessions[:len(ep.sessions)]
        history: list[str] = []
        for s in sessions:
            sid = halumem_session_id(u.uuid, s.index)
            history.append(f"Session of {ep.sessions[s.index].date}:\n" + s.dialogue_text())
            if s.is_generated_qa_session:
                continue
            after = states[u.uuid][s.index] if not full else MemoryState()
            if not full:
                written = [e for e in after.entries if e.source is not None and e.source.session_id == sid]
                out["extraction"].append({"user": u.uuid, "session": s.index, "memories": [e.content for e in written],
                                          "points": s.memory_points, "dialogue": s.dialogue_text()})
                for p in s.update_probe_points:
                    hits = [e.content for e, _ in retriever.search(p.memory_content, after.entries, 10)]
                    out["updates"].append({"user": u.uuid, "session": s.index, "point": p, "memories": hits})
            for qi, q in enumerate(s.questions):
                if full:
                    text, _ = fit_history(history, cfg.context_tokens or max(256, context_budget(amodel) - 512),
                                          count_with(amodel))
                    prompt = full_context_messages(q.question, text)
                else:
                    hits = [e for e, _ in retriever.search(q.question, after.entries, cfg.top_k)]
                    prompt = single_user_answer_messages(q.question, hits)
                out["qa_keys"].append(f"{u.uuid}/s{s.index}/q{qi}")
                out["qa_prompts"].append(prompt)
                out["qa_items"].append(q)
    return out


def _judge_halumem_probes(judge: Any, cfg: BenchConfig, work: Path, probes: Mapping[str, list[Any]],
                          per_question: list[dict[str, Any]], metrics: dict[str, Any], full: bool) -> dict[str, Any]:
    """HaluMem's judged metrics (QA; with a memory, extraction and update) into ``metrics``;
    verdicts are journaled per item. Returns the judge's cost."""
    judge_name = _model_name(judge)
    verdicts = Journal(work / "judge.jsonl")

    def judged(kind: str, keys: list[str], fields: list[dict[str, str]]) -> list[dict[str, Any]]:
        keys = [f"{judge_name}|{k}" for k in keys]
        todo = [i for i, k in enumerate(keys) if k not in verdicts]
        if todo:
            out = judge_halumem(judge, kind, [fields[i] for i in todo], batch_size=cfg.batch_size, seed=cfg.seed)
            verdicts.add({"key": keys[i], **rec} for i, rec in zip(todo, out))
        return [verdicts[k] for k in keys]

    labels = judged("qa", [f"qa:{k}" for k in probes["qa_keys"]],
                    [{"question": q.question, "answer": q.answer,
                      "evidence": "; ".join(e.memory_content for e in q.evidence) or "(none: unanswerable)",
                      "response": r["answer"]} for q, r in zip(probes["qa_items"], per_question)])
    for r, lab in zip(per_question, labels):
        r["label"] = lab.get("label")
    metrics["qa"] = _rates(halumem_qa_metrics([r["label"] for r in per_question],
                                              [r["question_type"] for r in per_question]))
    if not full:
        metrics.update(_halumem_memory_metrics(probes["extraction"], probes["updates"], judged))
    return _cost(v for k, v in verdicts.records.items() if k.startswith(f"{judge_name}|"))


def _halumem_memory_metrics(extraction: Sequence[dict[str, Any]], updates: Sequence[dict[str, Any]],
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


def _rates(r: Any) -> dict[str, Any]:
    out = {"n": r.n, "n_valid": r.n_valid, "correct": r.rate.get("Correct"),
           "hallucination": r.rate.get("Hallucination"), "omission": r.rate.get("Omission")}
    if "Other" in r.rate:
        out["other"] = r.rate["Other"]
    if r.by_group:
        out["by_type"] = {g: {"n": v.n, "correct": v.rate.get("Correct"), "hallucination": v.rate.get("Hallucination"),
                              "omission": v.rate.get("Omission")} for g, v in r.by_group.items()}
    return out


# --------------------------------------------------------------------------- PersonaMem
def _personamem(cfg: BenchConfig, models: _Models, work: Path, progress: bool) -> dict[str, Any]:
    path = Path(cfg.data)
    questions = _sample(load_personamem_questions(path), cfg.limit, cfg.seed)
    cpath = Path(cfg.contexts) if cfg.contexts else path.with_name(path.name.replace("questions_", "shared_contexts_")
                                                                    .replace(".csv", ".jsonl"))
    if not cpath.is_file():
        raise FileNotFoundError(
            f"{cpath}: PersonaMem's conversations (shared_contexts_<split>.jsonl) are needed to answer its questions; "
            "download them with the questions (Hugging Face bowen-upenn/PersonaMem) and pass --contexts PATH")
    contexts = load_shared_contexts(cpath)
    by_ctx: dict[str, list[Any]] = defaultdict(list)
    for q in questions:
        visible_context(q, contexts)  # raises early on a question/context mismatch
        by_ctx[q.shared_context_id].append(q)
    cut = {cid: personamem_context(cid, contexts[cid], [q.end_index_in_shared_context for q in qs],
                                   block=cfg.personamem_block, include_persona=cfg.include_persona)
           for cid, qs in by_ctx.items()}
    retriever = get_retriever(cfg.retriever)
    full = cfg.system == "full-context"
    ingest_cost, system_model = None, None
    not_computed: dict[str, str] = {}
    states: dict[str, list[MemoryState]] = {}
    if not full:
        states, ingest_cost, system_model = _ingest(cfg, models, [c.episode for c in cut.values()], work, progress)
    amodel = models.answer
    keys, prompts = [], []
    for q in questions:
        options = list(q.all_options)
        if full:
            msgs = [m for m in visible_context(q, contexts) if m["role"] != "system" or cfg.include_persona]
            text, _ = fit_history([f"{m['role']}: {m['content']}" for m in msgs],
                                  cfg.context_tokens or max(256, context_budget(amodel) - 512), count_with(amodel))
            prompts.append(mcq_messages(q.user_question_or_message, options, history=text))
        else:
            k = cut[q.shared_context_id].session_for(q.end_index_in_shared_context)
            state = states[q.shared_context_id][k] if k >= 0 else MemoryState()
            hits = [e for e, _ in retriever.search(q.user_question_or_message, state.entries, cfg.top_k)]
            prompts.append(mcq_messages(q.user_question_or_message, options, hits))
        keys.append(q.question_id)
    answers = Journal(work / "answers.jsonl")
    _answer_pending(answers, keys, prompts, amodel, cfg, progress)
    responses = {k: answers[k]["raw"] for k in keys}
    official = score_personamem(questions, responses, official=True)
    strict = score_personamem(questions, responses, official=False)
    per_question = [{"question_id": q.question_id, "question_type": q.question_type, "gold": q.correct_answer,
                     "response": responses[q.question_id],
                     "parsed": parse_option_letter(responses[q.question_id], len(q.all_options))} for q in questions]
    metrics = {"questions": len(questions), "accuracy": official.accuracy,
               "per_type": {g: {"accuracy": v.accuracy, "n": v.n} for g, v in official.per_group.items()},
               "accuracy_strict_parser": strict.accuracy, "unparsed_strict": strict.n_unparsed, "chance": 0.25}
    not_computed["judge"] = "PersonaMem needs no judge (exact option match)"
    data = {"path": str(path), "sha256": _sha256(path), "contexts_path": str(cpath), "contexts": len(cut),
            "include_persona": cfg.include_persona}
    cost = {"ingest": ingest_cost, "answer": _cost(answers[k] for k in keys), "judge": None}
    return {"labels": _labels(cfg, system_model, _model_name(amodel), None, retriever), "data": data,
            "metrics": metrics, "not_computed": not_computed, "cost": cost, "per_question": per_question}


_BENCHMARK_TEXT = ("question", "gold")  # a "response" is the model's answer: kept


def redact(result: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``result`` whose per-question records keep ids, categories, scores, the model's
    answers and the retrieved memories' ids and sources, but not the benchmark's own text
    (questions, gold answers): for results committed or shared, since the benchmarks' licences
    do not allow redistributing their data."""
    out = dict(result)
    out["per_question"] = [{k: v for k, v in r.items() if k not in _BENCHMARK_TEXT}
                           for r in result.get("per_question", [])]
    out["redacted"] = "benchmark text (questions, gold answers) removed from per_question"
    return out


# --------------------------------------------------------------------------------- entry
def run_benchmark(cfg: BenchConfig, work_dir: str | os.PathLike[str], *, out: str | os.PathLike[str] | None = None,
                  model: Any = None, answer_model: Any = None, judge: Any = None, device: str = "auto",
                  progress: bool = False) -> dict[str, Any]:
    """Run one benchmark with one memory system and return (and, with ``out``, write) the results.

    Args:
        cfg: the settings (:class:`BenchConfig`).
        work_dir: resumable work folder (states, journals, manifest); a rerun continues there.
        out: results JSON to write atomically.
        model, answer_model, judge: chat backends to use instead of loading ``cfg``'s specs (the
            notebook shares one loaded model; tests pass scripted ones).
        device: torch device for models loaded here.
        progress: tqdm bars.

    Returns:
        ``labels`` (system, memory model, adapter, answer model and prompt, judge, profile,
        retriever), ``data`` (file, checksum, selection), ``metrics``, ``not_computed`` (metric →
        why), ``cost`` (tokens and seconds of ingestion, answering, judging; wall seconds),
        ``settings``, ``per_question`` and ``data_source`` (``"sample"`` for the committed samples
        of ``data/samples``, else ``"real"``).
    """
    from .paths import data_source

    cfg.validate()
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    with WorkDirLock(work):  # one run per work folder; released even if this process is killed
        remove_stale_temp_files(work)  # left by a killed write; nobody else writes here now
        _check_manifest(work, cfg)
        seed_everything(cfg.seed)
        models = _Models(cfg, model, answer_model, judge, device)
        t0 = time.perf_counter()
        fn = {"locomo": _locomo, "halumem": _halumem, "personamem": _personamem}[cfg.benchmark]
        result = fn(cfg, models, work, progress)
    result["cost"]["wall_seconds_this_run"] = round(time.perf_counter() - t0, 2)
    result["settings"] = cfg.to_dict()
    # "sample": the hand-made file of data/samples, whose numbers show the mechanics only.
    result["data_source"] = data_source(cfg.data)
    if out is not None:
        atomic_write_json(out, result)
    return result
