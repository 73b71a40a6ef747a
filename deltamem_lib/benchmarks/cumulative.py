"""Accuracy as sessions accumulate: the analogue of the DeltaMem paper's Figures 4 and 5.

The paper plots, for 20 HaluMem users, the *cumulative* accuracy of the questions asked so far
as the number of ingested sessions grows — mean over users with a shaded band for the spread
(Figure 5 compares LightMem with DeltaMem at several scales and training settings; Figure 4
averages the same curve). At deployment nobody restores the gold memory between sessions: the
memory after session *t* is whatever the system made of sessions 1..t, and a mistake stays.

Two versions here, both without an LLM judge:

* :func:`cumulative_accuracy` — synthetic users (:mod:`deltamem_lib.synthesis`) with probe
  questions after every session (:func:`deltamem_lib.synthesis.probes.probe_questions`:
  questions answerable from the gold memory after that session). Each probe is answered
  **right after its own session** from the system's memory at that moment (later sessions may
  change the true answer, so old probes are not re-asked), and the curve at session *t* is the
  share of the probes asked in sessions 1..t answered correctly — the online protocol of
  HaluMem. The answerer is the deterministic reader of the outcome reward
  (:func:`deltamem_lib.outcome.answer_probe`: it sees the question and the memory,
  never the gold answer) or, with ``answer_model``, an LLM reading the ``top_k`` retrieved
  memories (scored by :func:`~deltamem_lib.synthesis.probes.score_answer`).
* :func:`locomo_recall_by_session` — LoCoMo, where the questions are asked only at the end:
  after each session *t*, the evidence recall@k of the questions whose evidence lies in
  sessions 1..t ("cumulative per session where evidence allows"), from the states a
  benchmark run saved.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..agent.ingest import ingest_users, load_ingested
from ..episodes import Episode
from ..memory import MemoryState
from ..outcome import answer_probe
from ..retrieval import get_retriever
from ..synthesis.probes import probe_questions, score_answer
from .answering import answer_all, single_user_answer_messages
from .locomo import evidence_sessions, load_locomo, locomo_episodes, locomo_questions, locomo_user_id
from .provenance import entry_sources, evidence_recall_at_k

__all__ = ["cumulative_accuracy", "curve_stats", "locomo_recall_by_session"]


def curve_stats(per_user: Mapping[str, Sequence[float | None]]) -> dict[str, list[float | None]]:
    """Mean, sample std, min and max over users at each session (``None`` where no user has
    a value yet)."""
    n = max((len(v) for v in per_user.values()), default=0)
    out: dict[str, list[float | None]] = {"mean": [], "std": [], "min": [], "max": [], "users": []}
    for t in range(n):
        vals = [float(v[t]) for v in per_user.values() if t < len(v) and v[t] is not None]
        out["users"].append(len(vals))
        if not vals:
            for k in ("mean", "std", "min", "max"):
                out[k].append(None)
            continue
        out["mean"].append(statistics.fmean(vals))
        out["std"].append(statistics.stdev(vals) if len(vals) > 1 else 0.0)
        out["min"].append(min(vals))
        out["max"].append(max(vals))
    return out


def _reader(entries: Sequence[Any], probes: Sequence[Mapping[str, Any]]) -> list[bool]:
    return [answer_probe(entries, p).correct for p in probes]


def cumulative_accuracy(system: Any, episodes: Sequence[Episode], *, label: str | None = None,
                        out_dir: str | Path | None = None, answer_model: Any = None, top_k: int = 10,
                        retriever: str = "auto", max_batch: int = 8, seed: int = 0, n_unchanged: int = 2,
                        progress: bool = False) -> dict[str, Any]:
    """Ingest every user with ``system`` and score the probes online (module docstring).

    Args:
        system: a memory system (:func:`deltamem_lib.agent.systems.make_system`).
        episodes: synthetic users (they carry the gold states the probes are made from).
        label: the curve's name in figures (default: the system's name).
        out_dir: resumable ingestion folder (:func:`deltamem_lib.agent.ingest.ingest_users`).
        answer_model: ``None`` for the deterministic reader, else a chat backend.
        top_k: memories retrieved for an LLM answerer.
        retriever: retrieval for an LLM answerer.
        n_unchanged: probes per session about facts it left alone.

    Returns:
        ``label``, ``system``, ``model``, ``answerer``, ``per_user`` (cumulative accuracy after each
        session), ``per_user_session`` (accuracy of each session's own probes), the
        :func:`curve_stats` of both, probe counts, and the ingestion cost.
    """
    res = ingest_users(system, episodes, out_dir=out_dir, max_batch=max_batch, seed=seed, progress=progress)
    jobs: list[tuple[str, int, Mapping[str, Any], MemoryState]] = []
    for ep in episodes:
        states = res.states[ep.user_id]
        for p in probe_questions(ep, n_unchanged=n_unchanged, seed=seed):
            t = p["asked_after_session_index"]
            jobs.append((ep.user_id, t, p, states[t]))
    if answer_model is None:
        answerer = "deterministic reader (outcome.answer_probe)"
        correct = []
        for uid, t, p, state in jobs:
            correct += _reader(list(state.entries), [p])
    else:

        r = get_retriever(retriever)
        prompts = [single_user_answer_messages(p["question"],
                                               [e for e, _ in r.search(p["question"], s.entries, top_k)])
                   for _, _, p, s in jobs]
        answers = answer_all(answer_model, prompts, max_new_tokens=16, batch_size=max_batch, seed=seed)
        correct = [bool(score_answer(p, a.text)) for (_, _, p, _), a in zip(jobs, answers)]
        answerer = f"{getattr(answer_model, 'name', 'model')} reading the top {top_k} memories"
    per_user: dict[str, list[float | None]] = {}
    per_session: dict[str, list[float | None]] = {}
    counts: dict[str, list[int]] = {}
    for ep in episodes:
        T = len(ep.sessions)
        hits, seen = 0, 0
        cum, own, n_t = [], [], []
        for t in range(T):
            mine = [c for (uid, tt, _, _), c in zip(jobs, correct) if uid == ep.user_id and tt == t]
            hits += sum(mine)
            seen += len(mine)
            cum.append(hits / seen if seen else None)
            own.append(sum(mine) / len(mine) if mine else None)
            n_t.append(len(mine))
        per_user[ep.user_id], per_session[ep.user_id], counts[ep.user_id] = cum, own, n_t
    model = getattr(getattr(system, "model", None), "name", None)
    summaries = list(res.per_session.values())
    return {"label": label or getattr(system, "name", type(system).__name__),
            "system": getattr(system, "name", None),
            "model": model, "answerer": answerer, "users": [ep.user_id for ep in episodes],
            "per_user": per_user, "per_user_session": per_session, "probes_per_session": counts,
            "cumulative": curve_stats(per_user), "session": curve_stats(per_session),
            "final_mean": statistics.fmean(v[-1] for v in per_user.values() if v and v[-1] is not None)
            if any(v and v[-1] is not None for v in per_user.values()) else None,
            "ingest": {"sessions_computed": res.processed, "sessions_resumed": res.skipped,
                       "prompt_tokens": sum(s["prompt_tokens"] for s in summaries),
                       "completion_tokens": sum(s["completion_tokens"] for s in summaries),
                       "seconds": round(sum(s["seconds"] for s in summaries), 3)}}


def locomo_recall_by_session(result: Mapping[str, Any], work_dir: str | Path, *, k: int | None = None,
                             retriever: str | None = None) -> dict[str, Any]:
    """Evidence recall@k after each ingested session of a LoCoMo run (module docstring).

    Args:
        result: the results of :func:`deltamem_lib.benchmarks.runner.run_benchmark` (its settings
            and data selection are reused).
        work_dir: that run's work folder (the states after every session are read from it).
        k: memories per speaker (default: the run's largest recall k).
        retriever: default: the run's.

    Returns:
        ``sessions`` (1..T), per session the number of questions answerable so far and their
        turn- and session-level recall ("all" evidence found), for each conversation and pooled.
    """
    st = result["settings"]
    if result["labels"]["benchmark"] != "locomo" or st["system"] == "full-context":
        raise ValueError("locomo_recall_by_session needs a LoCoMo run of a memory system (not full context)")
    k = k or max(st["recall_ks"])
    r = get_retriever(retriever or st["retriever"])
    convs = [c for c in load_locomo(st["data"]) if c.sample_id in result["data"]["conversations"]]
    max_s = st["max_sessions"] or None
    pooled: dict[int, dict[str, list[Any]]] = {}
    for c in convs:
        eps = locomo_episodes(c, speakers=st["speakers"], max_sessions=max_s)
        turns = {s.session_id: s.turns for ep in eps for s in ep.sessions}
        states = {ep.meta["speaker"]: load_ingested(Path(work_dir) / "ingest", ep.user_id) for ep in eps}
        qs = [q for q in locomo_questions(c, max_sessions=max_s) if q.evidence and not q.evidence_missing]
        sessions = c.sessions if max_s is None else c.sessions[:max_s]
        for t, s in enumerate(sessions):
            done = {x.index for x in sessions[:t + 1]}
            ask = [q for q in qs if evidence_sessions(q) <= done]
            slot = pooled.setdefault(t + 1, {"ev_t": [], "src_t": [], "ev_s": [], "src_s": []})
            for q in ask:
                tids, sids = [], []
                for name, ss in states.items():
                    if t >= len(ss):
                        raise ValueError(f"{work_dir}: no saved state after session {t + 1} of "
                                         f"{locomo_user_id(c.sample_id, name)}; finish the run first")
                    for e, _ in r.search(q.question, ss[t].entries, k):
                        sid, ts, _ = entry_sources(e, turns)
                        tids += ts
                        sids += [sid.rsplit(":", 1)[-1]] if sid else []
                slot["ev_t"].append([str(d) for d in q.evidence])
                slot["src_t"].append([tids])
                slot["ev_s"].append(sorted({f"S{d.session}" for d in q.evidence}))
                slot["src_s"].append([sids])
    out: dict[str, Any] = {"k_per_speaker": k, "sessions": [], "questions": [], "turn_recall": [],
                           "session_recall": []}
    for t in sorted(pooled):
        slot = pooled[t]
        out["sessions"].append(t)
        out["questions"].append(len(slot["ev_t"]))
        for key, ev, src in (("turn_recall", "ev_t", "src_t"), ("session_recall", "ev_s", "src_s")):
            out[key].append(evidence_recall_at_k(slot[ev], slot[src], None).all if slot[ev] else None)
    return out
