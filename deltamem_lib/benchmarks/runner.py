"""The benchmark runner: ingest a benchmark's sessions into a memory system, answer, score.

This is the evaluation of the DeltaMem paper's §4 (Tables 1–3), behind ``deltamem bench
locomo|halumem|personamem`` and notebook 05. :func:`run_benchmark` is one driver over a small
per-benchmark protocol (:mod:`.protocol`): it asks the benchmark's :class:`~.protocol.Protocol`
to **prepare** the data (select; convert into episodes), **ingests** the episodes into the
memory system, asks the protocol for one answer prompt per question (**ask**), **answers**
them and lets the protocol **score**. What each benchmark does in those steps is written in
its own module:

* **LoCoMo** (:class:`~.locomo.LocomoProtocol`, ``docs/benchmark_protocols.md`` §1, the Mem0
  protocol): one memory per speaker; ``top_k`` memories of each speaker per question; token F1,
  BLEU-1, the judge's J per official category, evidence recall@k (:mod:`.provenance`).
* **HaluMem** (:class:`~.halumem.HaluMemProtocol`, §2): the online order — each probe reads
  the memory right after its session; extraction / update / QA metrics need the judge.
* **PersonaMem** (:class:`~.personamem.PersonaMemProtocol`, §3): each question answered from
  the memory after exactly the messages it may see; 4-option accuracy, no judge.

The **full-context** baseline (``system="full-context"``) ingests nothing: the answer model
reads the dated transcript, cut to a token budget by :func:`~.answering.fit_history`.

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

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..agent import systems as agent_systems  # looked up at call time: tests replace make_system
from ..agent.ingest import ingest_users, state_path
from ..config import seed_everything
from ..io import DataFileError, Journal, atomic_write_json, read_json
from ..memory import MemoryState
from ..models import load_chat_model
from ..retrieval import get_retriever
from ..workdir import WorkDirLock, data_hashes, remove_stale_temp_files, stale_data_message
from .answering import ANSWER_PROMPT_ID, answer_all
from .halumem import HaluMemProtocol
from .locomo import LocomoObservations, LocomoProtocol
from .paths import data_label, data_source
from .personamem import PersonaMemProtocol
from .protocol import BENCH_SYSTEMS, BENCHMARKS, BenchConfig, Plan, Protocol, cost, model_name

__all__ = ["BENCHMARKS", "BENCH_SYSTEMS", "PROTOCOLS", "BenchConfig", "label_line", "redact",
           "result_data_label", "run_benchmark", "summary_line"]

#: The protocol of each benchmark (:data:`~.protocol.BENCHMARKS`, in that order).
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (LocomoProtocol(), HaluMemProtocol(),
                                                      PersonaMemProtocol())}


def _bar(total: int, desc: str, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


class _Models:
    """Loads the models a run needs, once, unless the caller passed them in."""
    def __init__(self, cfg: BenchConfig, model: Any, answer_model: Any, judge: Any, device: str) -> None:
        self.cfg, self.device = cfg, device
        self._system, self._answer, self._judge = model, answer_model, judge

    def _load(self, spec: str, adapter: str | None = None) -> Any:
        return load_chat_model(spec, device=self.device, load_adapter=adapter or None,
                               batch_size=self.cfg.batch_size)

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
                                           max_new_tokens=cfg.max_new_tokens,
                                           max_tool_calls=cfg.max_tool_calls,
                                           related_k=cfg.related_k, allow_delete=cfg.allow_delete)
    res = ingest_users(system, episodes, out_dir=work / "ingest", max_batch=cfg.batch_size, seed=cfg.seed,
                       progress=progress)
    summaries, files = _ingest_summaries(work / "ingest", episodes)
    spent = cost(summaries, where=lambda i: files[i])
    spent["sessions"] = spent.pop("calls")
    spent.update(operations=int(sum(s.get("operations", 0) for s in summaries)),
                 invalid_calls=int(sum(s.get("invalid_calls", 0) for s in summaries)),
                 malformed_outputs=int(sum(s.get("malformed_outputs", 0) for s in summaries)),
                 computed_now=res.processed, resumed=res.skipped)
    return res.states, spent, model_name(model)


def _ingest_summaries(ingest: Path, episodes: Sequence[Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The per-session summaries of these users' saved states (other folders are ignored), with
    their files; a summary that is not an object of counts is refused naming file and field."""
    summaries, files = [], []
    for ep in episodes:
        for k in range(len(ep.sessions)):
            p = state_path(ingest, ep.user_id, k)
            rec = read_json(p)
            summary = rec.get("summary") if isinstance(rec, dict) else None
            if not isinstance(summary, dict):
                raise DataFileError(f"{p}: field summary: expected an object, got {type(summary).__name__}; "
                                    "the work folder is corrupt, delete it to start over")
            for f in ("operations", "invalid_calls", "malformed_outputs"):
                v = summary.get(f, 0)
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    raise DataFileError(f"{p}: field summary.{f}: expected a whole number of 0 or more, got "
                                        f"{v!r:.40}; the work folder is corrupt, delete it to start over")
            summaries.append(summary)
            files.append(str(p))
    return summaries, files


def _answer_pending(journal: Journal, keys: Sequence[str], prompts: Sequence[list[dict[str, str]]],
                    model: Any, cfg: BenchConfig, progress: bool) -> None:
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


def _check_manifest(work: Path, cfg: BenchConfig) -> dict[str, str]:
    """Refuse a work folder of other settings or other data; return the data files' SHA-256."""
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
    return key["data_sha256"]


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
    return (f"{system} · memory model {lab.get('memory_model') or '–'} "
            f"· answer model {lab.get('answer_model') or '–'}"
            f" · {judge} · profile {lab.get('profile') or '–'} · data {result_data_label(result)}")


def result_data_label(result: Mapping[str, Any]) -> str:
    """The data a result was computed on: its ``data_label`` ("sample" or the real file's name),
    worked out from its data path for results written before the field existed."""
    if result.get("data_label"):
        return str(result["data_label"])
    path = (result.get("data") or {}).get("path") or (result.get("settings") or {}).get("data")
    if result.get("data_source") == "sample":
        return "sample"
    return data_label(path) if path else "unknown data"


def _percent(v: Any) -> Any:
    return "–" if v is None else round(100 * v, 2)


def summary_line(result: Mapping[str, Any]) -> str:
    """The headline numbers of one run and its labels, on one line."""
    m, b = result["metrics"], result["labels"]["benchmark"]
    if b == "locomo":
        parts = [f"F1 {_percent(m['f1'])}", f"BLEU-1 {_percent(m['bleu1'])}"]
        parts.append("J not computed" if m.get("j") is None
                     else f"J {_percent(m['j']['mean'])} ± {_percent(m['j']['std'])}")
        rec = m.get("evidence_recall")
        if rec:
            k = str(max(rec["k_per_speaker"]))
            parts.append(f"evidence recall@{k} {_percent(rec['turn'][k]['all'])} (turn) / "
                         f"{_percent(rec['session'][k]['all'])} (session)")
        head = f"LoCoMo, {m['questions']} questions"
    elif b == "halumem":
        parts = [f"{m['memories_written']} memories written in {m['sessions_probed']} sessions"]
        if "qa" in m:
            parts.append(f"QA correct {_percent(m['qa']['correct'])}")
        if "extraction" in m:
            parts.append(f"extraction F1 {_percent(m['extraction']['f1'])}")
        head = f"HaluMem, {m['questions']} questions"
    else:
        parts = [f"accuracy {_percent(m['accuracy'])} (chance 25)"]
        head = f"PersonaMem, {m['questions']} questions"
    head = f"{head} on {result_data_label(result)}"
    if result_data_label(result) == "sample":
        head = f"SAMPLE DATA (data/samples, mechanics only) — {head}"
    return f"{head}: " + ", ".join(parts) + f" [{label_line(result)}]"


# ------------------------------------------------------------------------------ driver
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
def _run(cfg: BenchConfig, models: _Models, work: Path, progress: bool, data_sha256: str) -> dict[str, Any]:
    """The five steps of every benchmark (module docstring): prepare, ingest, ask, answer, score."""
    protocol = PROTOCOLS[cfg.benchmark]
    plan: Plan = protocol.prepare(cfg)
    retriever = get_retriever(cfg.retriever)
    not_computed: dict[str, str] = {}
    states: dict[str, list[MemoryState]] = {}
    ingest_cost, system_model = None, None
    if cfg.full_context:
        not_computed.update(protocol.full_context_gaps)
    else:
        states, ingest_cost, system_model = _ingest(cfg, models, plan.episodes, work, progress)
    amodel = models.answer
    asked = protocol.ask(cfg, plan, states, amodel, retriever)
    answers = Journal(work / "answers.jsonl")
    _answer_pending(answers, asked.keys, asked.prompts, amodel, cfg, progress)
    judge = models.judge if protocol.judged else None
    metrics, per_question, judge_cost = protocol.score(cfg, plan, asked, answers, judge, work, not_computed)
    data = {"path": str(Path(cfg.data)), "sha256": data_sha256, **plan.data}
    spent = {"ingest": ingest_cost,
             "answer": cost((answers[k] for k in asked.keys),
                            where=lambda i: f"{answers.path}: record {asked.keys[i]}"),
             "judge": judge_cost}
    return {"labels": _labels(cfg, system_model, model_name(amodel), model_name(judge), retriever),
            "data": data,
            "metrics": metrics, "not_computed": not_computed, "cost": spent, "per_question": per_question}


def run_benchmark(cfg: BenchConfig, work_dir: str | os.PathLike[str], *,
                  out: str | os.PathLike[str] | None = None,
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
        ``settings``, ``per_question``, ``data_source`` (``"sample"`` for the committed samples
        of ``data/samples``, else ``"real"``) and ``data_label`` (``"sample"`` or the real file's name).
    """
    cfg.validate()
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    with WorkDirLock(work):  # one run per work folder; released even if this process is killed
        remove_stale_temp_files(work)  # left by a killed write; nobody else writes here now
        hashes = _check_manifest(work, cfg)
        seed_everything(cfg.seed)
        models = _Models(cfg, model, answer_model, judge, device)
        t0 = time.perf_counter()
        result = _run(cfg, models, work, progress, hashes[str(cfg.data)])
    result["cost"]["wall_seconds_this_run"] = round(time.perf_counter() - t0, 2)
    result["settings"] = cfg.to_dict()
    # "sample": the hand-made file of data/samples, whose numbers show the mechanics only.
    result["data_source"] = data_source(cfg.data)
    result["data_label"] = data_label(cfg.data)  # "sample" or the real file's name, shown with every number
    if out is not None:
        atomic_write_json(out, result)
    return result
