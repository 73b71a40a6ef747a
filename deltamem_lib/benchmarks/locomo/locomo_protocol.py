"""LoCoMo in a run: conversations as episodes, one per speaker, and the questions to ask after
the first sessions (:func:`locomo_episodes`, :func:`locomo_questions`; "As episodes" in the
package docstring), the release's ``observation`` facts as a reference memory
(:class:`LocomoObservations`), and :class:`LocomoProtocol` with its helpers (answer prompts from
the full context or from each speaker's memory, the judge's J over several runs, F1 / BLEU-1 /
J per category, evidence recall@k), which :func:`deltamem_lib.benchmarks.runner.run_benchmark`
drives through the contract of :mod:`deltamem_lib.benchmarks.protocol`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ...agent.result import SessionResult
from ...episodes import Episode
from ...episodes import Session as EpisodeSession
from ...episodes import Turn as EpisodeTurn
from ...io import read_json
from ...memory import MemoryState, Operation
from ..answering import fit_to_context, full_context_messages, locomo_answer_messages
from ..judge import aggregate_judge_runs, judge_locomo
from ..protocol import BenchConfig, Plan, Protocol, Questions, Verdicts, sample, select
from ..provenance import entry_sources, evidence_recall_at_k
from .locomo_data import (
    CATEGORY_NAMES,
    SCORED_CATEGORIES,
    Conversation,
    Question,
    load_locomo,
    parse_evidence,
)
from .locomo_metrics import bleu1, locomo_f1, per_category_table

__all__ = [
    "locomo_user_id",
    "locomo_session_id",
    "locomo_episodes",
    "evidence_sessions",
    "locomo_questions",
    "LocomoObservations",
    "LocomoProtocol",
]

# ------------------------------------------------------------ conversations as episodes
def locomo_user_id(sample_id: str, speaker: str) -> str:
    """The episode (memory store) of one speaker: ``"conv-26:Caroline"``."""
    return f"{sample_id}:{speaker}"


def locomo_session_id(sample_id: str, index: int) -> str:
    """``"conv-26:S3"`` for ``session_3`` (both speakers' episodes share session ids)."""
    return f"{sample_id}:S{index}"


def locomo_episodes(conversation: Conversation, *, speakers: str | Sequence[str] = "both",
                    max_sessions: int | None = None) -> list[Episode]:
    """The episodes of one LoCoMo conversation, one per speaker ("As episodes" in the module
    docstring).

    Args:
        conversation: a conversation of :func:`load_locomo`.
        speakers: ``"both"`` (the Mem0 protocol) or the names of the speakers to keep.
        max_sessions: ingest only the first ``n`` sessions (``None``: all).
    """
    names = list(conversation.speakers) if speakers == "both" else list(speakers)
    unknown = [n for n in names if n not in conversation.speakers]
    if unknown:
        raise ValueError(f"{conversation.sample_id}: no speaker {unknown}; the speakers are "
                         f"{', '.join(conversation.speakers)}")
    sessions = conversation.sessions if max_sessions is None else conversation.sessions[:max_sessions]
    out = []
    for name in names:
        converted = tuple(
            EpisodeSession(session_id=locomo_session_id(conversation.sample_id, s.index), date=s.date,
                           event={"kind": "locomo", "summary": f"session_{s.index} ({s.date_time})"},
                           turns=tuple(EpisodeTurn(str(t.dia_id),
                                                   "user" if t.speaker == name else "assistant", t.render())
                                       for t in s.turns),
                           gold_ops=(), state_after=())
            for s in sessions)
        out.append(Episode(user_id=locomo_user_id(conversation.sample_id, name), persona={"name": name},
                           initial_memory=(), sessions=converted,
                           meta={"benchmark": "locomo", "sample_id": conversation.sample_id,
                                 "speaker": name}))
    return out


def evidence_sessions(question: Question) -> set[int]:
    """The session numbers of a question's evidence turns (missing turns included)."""
    return {d.session for d in question.evidence}


def locomo_questions(conversation: Conversation, *, max_sessions: int | None = None,
                     categories: Iterable[int] = SCORED_CATEGORIES) -> list[Question]:
    """The questions to ask after ingesting the first ``max_sessions`` sessions.

    All questions of ``categories`` (default 1–4, the Mem0 protocol's 1,540) when every session
    is ingested. With ``max_sessions``, only the questions whose evidence is non-empty and lies
    entirely in the ingested sessions: the rest could not be answered from them. (On the full
    conversation the 4 questions without evidence are kept, as the protocol does.)
    """
    cats = set(categories)
    qs = [q for q in conversation.questions if q.category in cats]
    if max_sessions is None or max_sessions >= len(conversation.sessions):
        return qs
    kept = {s.index for s in conversation.sessions[:max_sessions]}
    return [q for q in qs if q.evidence and not q.evidence_missing and evidence_sessions(q) <= kept]


class LocomoObservations:
    """A *reference* memory for LoCoMo, not a memory system of the paper: the release's
    ``observation`` field — facts per session and speaker, written by gpt-3.5-turbo when the
    dataset was made (``data/README.md``: "model-generated aids, not gold"), each with the dia
    id it came from. Ingesting them session by session gives a memory with **recorded**
    provenance and no model cost, which separates answering from memory writing: with it, a
    small answer model is scored on a memory of reasonable quality.

    Build with :meth:`from_file`; ``run`` follows the memory-system contract of
    :mod:`deltamem_lib.agent.systems`.
    """

    name = "observations"

    def __init__(self, facts: Mapping[tuple[str, int, str], Sequence[tuple[str, tuple[str, ...]]]]) -> None:
        self.facts = facts  # (sample_id, session index, speaker) -> [(fact, dia ids)]

    @classmethod
    def from_file(cls, path: Any) -> LocomoObservations:
        facts: dict[tuple[str, int, str], list[tuple[str, tuple[str, ...]]]] = {}
        for rec in read_json(path):
            for key, by_speaker in (rec.get("observation") or {}).items():
                m = re.fullmatch(r"session_(\d+)_observation", key)
                if not m or not isinstance(by_speaker, Mapping):
                    continue
                for speaker, items in by_speaker.items():
                    for item in items or []:
                        if not (isinstance(item, list) and item and isinstance(item[0], str)):
                            continue
                        raw = item[1] if len(item) > 1 else []
                        ids, _ = parse_evidence(raw if isinstance(raw, list) else [raw])
                        facts.setdefault((rec["sample_id"], int(m[1]), speaker), []).append(
                            (item[0], tuple(str(d) for d in ids)))
        return cls(facts)

    def run(self, examples: Sequence[Any], *, seed: int | None = None) -> list[Any]:
        out = []
        for ex in examples:
            sample_id, speaker = ex.user_id.rsplit(":", 1)
            index = int(ex.session_id.rsplit(":S", 1)[1])
            state = ex.state_before.copy()
            res = SessionResult(self.name, ex.user_id, ex.session_id, state)
            for fact, turns in self.facts.get((sample_id, index, speaker), []):
                applied = state.apply([Operation.add(fact)], timestamp=ex.date,
                                      source={"session_id": ex.session_id, "turns": list(turns)})
                res.operations.extend(applied.applied)
            res.state_after = state
            out.append(res)
        return out


# ----------------------------------------------------------------------------- protocol
class LocomoProtocol(Protocol):
    """LoCoMo the Mem0 way (``docs/benchmark_protocols.md`` §1), for the runner: every selected
    conversation ingested session by session, one memory per speaker; each scored question
    (categories 1–4) answered from the ``top_k`` memories of each speaker in at most 5–6 words;
    token F1 and BLEU-1, the judge's J (optional, mean ± std over runs) per official category,
    and evidence recall@k (:mod:`.provenance`)."""

    name = "locomo"
    full_context_gaps = {
        "evidence_recall": "full context retrieves no memories (nothing to take evidence from)",
        "ingestion": "full context ingests nothing"}

    def prepare(self, cfg: BenchConfig) -> Plan:
        path = Path(cfg.data)
        convs = select(cfg, path, load_locomo(path), lambda c: c.sample_id, "conversation")
        max_s = cfg.max_sessions or None
        episodes, speakers = [], {}
        for c in convs:
            eps = locomo_episodes(c, speakers=cfg.speakers, max_sessions=max_s)
            episodes += eps
            speakers[c.sample_id] = [ep.meta["speaker"] for ep in eps]
        questions = sample([(c, q) for c in convs for q in locomo_questions(c, max_sessions=max_s)],
                           cfg.limit, cfg.seed)
        data = {"conversations": [c.sample_id for c in convs],
                "sessions": {c.sample_id: len(c.sessions if max_s is None else c.sessions[:max_s])
                             for c in convs},
                "speakers": speakers, "questions": len(questions),
                "selection": "categories 1-4"
                             + (f"; first {max_s} sessions, questions whose evidence lies in them"
                                if max_s else "")
                             + (f"; seeded sample of {cfg.limit}" if cfg.limit else ""),
                "category_counts": dict(sorted(Counter(q.category for _, q in questions).items()))}
        return Plan(episodes, data, {"conversations": convs, "questions": questions, "speakers": speakers})

    def ask(self, cfg: BenchConfig, plan: Plan, states: Mapping[str, Sequence[MemoryState]],
            answer_model: Any, retriever: Any) -> Questions:
        questions = plan.items["questions"]
        if cfg.full_context:
            prompts, records = _full_context_prompts(plan.items["conversations"], questions, answer_model,
                                                     cfg)
        else:
            prompts, records = _memory_prompts(states, plan.episodes, questions, plan.items["speakers"],
                                               retriever, cfg)
        return Questions([q.qid for _, q in questions], prompts, records)

    def score(self, cfg: BenchConfig, plan: Plan, asked: Questions, answers: Mapping[str, Mapping[str, Any]],
              judge: Any, work: Path, not_computed: dict[str, str]) -> tuple[dict[str, Any],
                                                                             list[dict[str, Any]],
                                                                             dict[str, Any] | None]:
        questions = plan.items["questions"]
        records = asked.records
        for (_, q), rec in zip(questions, records):
            a = answers[q.qid]["answer"]
            rec.update(qid=q.qid, category=q.category, question=q.question, gold=q.answer, answer=a,
                       evidence=[str(d) for d in q.evidence], f1=round(locomo_f1(a, q.answer), 6),
                       bleu1=round(bleu1(a, q.answer), 6))
        j_summary, judge_cost = _judge_records(records, judge, cfg, work, not_computed)
        metrics = _metrics(records, questions, j_summary, cfg, plan.items["speakers"])
        return metrics, records, judge_cost


def _full_context_prompts(convs: Sequence[Conversation], questions: Sequence[tuple[Conversation, Question]],
                          amodel: Any, cfg: BenchConfig) -> tuple[list[Any], list[dict[str, Any]]]:
    """Answer prompts holding as many of the latest sessions as fit the answer model's context."""
    max_s = cfg.max_sessions or None
    history = {}
    for c in convs:
        sess = c.sessions if max_s is None else c.sessions[:max_s]
        texts = [f"Session of {s.date_time} ({s.date}):\n"
                 + "\n".join(f"[{t.dia_id}] {t.speaker}: {t.render()}" for t in s.turns) for s in sess]
        text, kept = fit_to_context(texts, amodel, cfg.context_tokens)
        history[c.sample_id] = (text, kept, len(texts))
    prompts, records = [], []
    for c, q in questions:
        text, kept, total = history[c.sample_id]
        prompts.append(full_context_messages(q.question, text))
        records.append({"sessions_in_context": kept, "sessions_total": total})
    return prompts, records


def _memory_prompts(states: Mapping[str, Sequence[MemoryState]], episodes: Sequence[Episode],
                    questions: Sequence[tuple[Conversation, Question]], speakers: Mapping[str, Sequence[str]],
                    retriever: Any, cfg: BenchConfig) -> tuple[list[Any], list[dict[str, Any]]]:
    """Answer prompts from each speaker's final memory: the ``top_k`` retrieved entries, with
    the ranked ids and sources recorded for evidence recall."""
    session_turns = {s.session_id: s.turns for ep in episodes for s in ep.sessions}
    final = {uid: (ss[-1] if ss else MemoryState()) for uid, ss in states.items()}
    prompts, records = [], []
    for c, q in questions:
        blocks, ranked = [], {}
        for name in speakers[c.sample_id]:
            hits = [e for e, _ in retriever.search(
                q.question, final[locomo_user_id(c.sample_id, name)].entries, cfg.top_k)]
            blocks.append((name, hits))
            ranked[name] = []
            for e in hits:
                sid, turns, how = entry_sources(e, session_turns)
                ranked[name].append([e.id, sid, list(turns), how])
        prompts.append(locomo_answer_messages(q.question, blocks))
        records.append({"retrieved": ranked})
    return prompts, records


def _judge_records(records: list[dict[str, Any]], judge: Any, cfg: BenchConfig, work: Path,
                   not_computed: dict[str, str]) -> tuple[Any, dict[str, Any] | None]:
    """J over ``cfg.judge_runs`` runs, journaled per question and run; adds ``j`` and ``j_runs``
    to each record. Returns the summary over runs and the judge's cost."""
    if judge is None:
        not_computed["J"] = "no judge model given (--judge-model); J (LLM-judge accuracy) needs one"
        return None, None
    verdicts = Verdicts(judge, work)

    def score(rec: Mapping[str, Any]) -> int | None:
        return None if rec.get("label") is None else int(rec["label"] == "CORRECT")

    def judged(run: int) -> Callable[[list[int]], Iterable[dict[str, Any]]]:
        def missing(todo: list[int]) -> Iterable[dict[str, Any]]:
            out = judge_locomo(judge, [(records[i]["question"], records[i]["gold"], records[i]["answer"])
                                       for i in todo], run=run, batch_size=cfg.batch_size, seed=cfg.seed)
            return ({"label": v.label, "note": v.note, "raw": v.raw, **c} for v, c in out)
        return missing

    runs = [[score(v) for v in verdicts.get([f"{r['qid']}#{run}" for r in records], judged(run))]
            for run in range(cfg.judge_runs)]
    j_summary = None
    if records:
        j_summary = aggregate_judge_runs(runs)
        for r, m, *per in zip(records, j_summary.question_means, *runs):
            r["j"] = m
            r["j_runs"] = list(per)
    return j_summary, verdicts.cost()


def _mean(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def _metrics(records: Sequence[dict[str, Any]], questions: Sequence[tuple[Conversation, Question]],
             j_summary: Any, cfg: BenchConfig, speakers: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    cats = [r["category"] for r in records]
    scores: dict[str, list[float | None]] = {"F1": [r["f1"] for r in records],
                                             "BLEU-1": [r["bleu1"] for r in records]}
    if j_summary is not None:
        scores["J"] = [r["j"] for r in records]
    table = per_category_table(cats, scores, names=CATEGORY_NAMES) if records else []
    recall = None
    if not cfg.full_context and records:
        recall = _evidence_recall(records, questions, cfg, speakers)
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


def _evidence_recall(records: Sequence[dict[str, Any]], questions: Sequence[tuple[Conversation, Question]],
                     cfg: BenchConfig, speakers: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Evidence recall@k, turn level and session level, with how the turn sources were obtained."""
    how: Counter[str] = Counter()
    turn_out, sess_out = {}, {}
    for k in cfg.recall_ks:
        turn_src, sess_src, ev_turn, ev_sess = [], [], [], []
        for (c, q), r in zip(questions, records):
            turns, sessions = [], []
            for name in speakers[c.sample_id]:
                for _mid, sid, tids, h in r["retrieved"][name][:k]:
                    turns.append(tids)
                    sessions.append([sid.rsplit(":", 1)[-1]] if sid else [])
                    if k == max(cfg.recall_ks):
                        how[h] += 1
            turn_src.append([[t for ts in turns for t in ts]])
            sess_src.append([[s for ss in sessions for s in ss]])
            ev_turn.append([str(d) for d in q.evidence])
            ev_sess.append(sorted({f"S{d.session}" for d in q.evidence}))
        for out, ev, src in ((turn_out, ev_turn, turn_src), (sess_out, ev_sess, sess_src)):
            res = evidence_recall_at_k(ev, src, None)
            out[str(k)] = {"all": res.all, "any": res.any, "fraction": res.fraction, "n": res.n,
                           "without_evidence": res.n_without_evidence}
    return {"k_per_speaker": list(cfg.recall_ks), "turn": turn_out, "session": sess_out,
            "turn_sources": dict(how),
            "note": ("turn level: a memory's recorded source turns, else the turns of its session that share "
                     "the most content words with it ('attributed'); session level: the session that wrote "
                     "the memory (exact)")}
