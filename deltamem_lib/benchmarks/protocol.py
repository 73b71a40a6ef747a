"""What a benchmark tells the runner: the settings of a run and a benchmark's small protocol.

The runner (:func:`deltamem_lib.benchmarks.runner.run_benchmark`) does the same five steps on
every benchmark of the DeltaMem paper's §4: **prepare** the data (select, convert into
episodes), **ingest** the episodes into the memory system (or nothing, for the full-context
baseline), **ask** the questions (one answer prompt each), **answer** them (journaled,
resumable), **score**. Only *prepare*, *ask* and *score* differ between benchmarks, and each
benchmark module implements them once as a :class:`Protocol`:

* :class:`deltamem_lib.benchmarks.locomo.LocomoProtocol`
* :class:`deltamem_lib.benchmarks.halumem.HaluMemProtocol`
* :class:`deltamem_lib.benchmarks.personamem.PersonaMemProtocol`

:class:`BenchConfig` holds a run's settings; :data:`BENCHMARKS` and :data:`BENCH_SYSTEMS`
name what can be run. The helpers at the end (:func:`select`, :func:`sample`, :func:`cost`,
:func:`model_name`) are the pieces every protocol shares.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import field_help, settings_from_profile
from ..config import setting as _f
from ..episodes import Episode
from ..io import DataFileError, Journal
from ..memory import MemoryState
from ..typed_settings import SettingsError

__all__ = ["BENCHMARKS", "BENCH_SYSTEMS", "BenchConfig", "Plan", "Protocol", "Questions", "Verdicts", "cost",
           "model_name", "sample", "select"]

#: The benchmarks ``deltamem bench`` runs (one module and one :class:`Protocol` each).
BENCHMARKS: tuple[str, ...] = ("locomo", "halumem", "personamem")

#: The memory systems a benchmark run can use (:func:`deltamem_lib.agent.systems.make_system`,
#: plus the full-context baseline and LoCoMo's released observations).
BENCH_SYSTEMS: tuple[str, ...] = ("oracle", "noop", "deltamem", "deltamem-oneshot", "mem0-style", "add-only",
                                  "full-context", "observations")


#: The notebook whose profile section holds the benchmark settings.
NOTEBOOK = "05_benchmarks_ablations"

#: Notebook 05's parameters named otherwise than a :class:`BenchConfig` field: parameter →
#: (field, the one benchmark it belongs to). The notebook's other parameters that are fields
#: (``top_k``, ``retriever``, ``batch_size`` …) apply to every benchmark.
NOTEBOOK_NAMES: dict[str, tuple[str, str]] = {
    "locomo_conversations": ("conversations", "locomo"),
    "locomo_sessions": ("max_sessions", "locomo"),
    "locomo_questions": ("limit", "locomo"),
}

#: Notebook 05's parameters named like a field that are no benchmark run's setting: ``adapter``
#: is the RL run's adapter, looked up for the RL rows (``find_rl_run``), not every system's.
NOTEBOOK_ONLY: tuple[str, ...] = ("adapter",)


@dataclass
class BenchConfig:
    """Settings of one benchmark run; ``BenchConfig.help()`` lists each field's help line."""
    benchmark: str = _f("locomo", "locomo, halumem or personamem")
    data: str = _f("", "locomo10.json, HaluMem-*.jsonl, or PersonaMem questions_<split>.csv")
    contexts: str = _f("", "PersonaMem: shared_contexts_<split>.jsonl (empty: next to the questions file)")
    system: str = _f("deltamem-oneshot",
                     "memory system: deltamem, deltamem-oneshot, mem0-style, add-only, oracle, noop, "
                     "full-context, or observations (LoCoMo's model-made facts: a reference)")
    model: str = _f("smollm2", "the memory system's LLM: 'smollm2', a Hub id or folder, or 'openai:<model>'")
    adapter: str = _f("", "PEFT LoRA adapter folder loaded on the system's model (the RL rows); empty: none")
    answer_model: str = _f("", "the answer model (same kinds of spec); empty: the system's model "
                               "without adapter")
    judge_model: str = _f("", "the LLM judge; empty: no judge (J and HaluMem's judged metrics not computed)")
    judge_runs: int = _f(1, "judge runs (LoCoMo J is reported as mean ± std over runs)")
    retriever: str = _f("auto", "retrieval for answering and for the agents: auto, embedding or lexical")
    top_k: int = _f(10, "memories retrieved per speaker (LoCoMo) or per user; Mem0 used 30 (LoCoMo), "
                        "20 (HaluMem)")
    recall_ks: tuple[int, ...] = _f((1, 5, 10), "k of evidence recall@k (k per speaker, at most top_k)")
    conversations: int = _f(0, "LoCoMo conversations / HaluMem users to run (0: all)")
    sample_ids: tuple[str, ...] = _f((), "LoCoMo sample ids or HaluMem uuids to run "
                                         "(overrides conversations)")
    max_sessions: int = _f(0, "ingest only the first N sessions (0: all); LoCoMo then asks only questions "
                              "whose evidence lies in them")
    limit: int = _f(0, "answer a seeded sample of N questions (0: all)")
    speakers: str = _f("both", "LoCoMo: 'both' (one memory per speaker, the Mem0 protocol) "
                               "or one speaker's name")
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
        """Field name → one-line help."""
        return field_help(cls)

    @classmethod
    def from_profile(cls, profile: Any = None, overrides: Any = None, *, benchmark: str = "locomo",
                     params: Mapping[str, Any] | None = None) -> BenchConfig:
        """The settings of one benchmark from ``profile``'s ``05_benchmarks_ablations`` section,
        then ``params`` (notebook 05's values by its names, e.g. its ``globals()``), then
        ``overrides`` by field name; every name and type checked once, then :meth:`validate`
        (:func:`deltamem_lib.config.settings_from_profile`).

        The notebook's ``locomo_*`` parameters reach LoCoMo's config only
        (:data:`NOTEBOOK_NAMES`): ``locomo_questions`` is LoCoMo's ``limit`` and never caps
        HaluMem's or PersonaMem's questions. Parameters of the notebook that are no benchmark
        setting (``systems``, the curves' users …, :data:`NOTEBOOK_ONLY`) are type-checked and
        left out; ``adapter`` and the like go in ``overrides``.
        """
        if benchmark not in BENCHMARKS:
            raise SettingsError(f"benchmark {benchmark!r}: choose one of {', '.join(BENCHMARKS)}")
        names: dict[str, str | None] = {k: (f if bench == benchmark else None)
                                        for k, (f, bench) in NOTEBOOK_NAMES.items()}
        names.update(dict.fromkeys(NOTEBOOK_ONLY))
        return settings_from_profile(cls, profile, overrides, section=NOTEBOOK, names=names,
                                     fixed={"benchmark": benchmark}, params=params)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["recall_ks"], d["sample_ids"] = list(self.recall_ks), list(self.sample_ids)
        return d

    @property
    def full_context(self) -> bool:
        """The full-context baseline: nothing is ingested, the answer model reads the transcript."""
        return self.system == "full-context"

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
            p.append(f"top_k ({self.top_k}) must be ≥ 1 and every recall k ({list(self.recall_ks)}) "
                     "in 1..top_k")
        if self.judge_runs < 1:
            p.append(f"judge_runs must be ≥ 1, got {self.judge_runs}")
        for name in ("conversations", "max_sessions", "limit", "context_tokens"):
            if getattr(self, name) < 0:
                p.append(f"{name} must be ≥ 0 (0: no limit / automatic)")
        for name in ("batch_size", "max_new_tokens", "max_tool_calls", "related_k", "answer_max_new_tokens",
                     "personamem_block"):
            if getattr(self, name) < 1:
                p.append(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.seed < 0:
            p.append(f"seed must be ≥ 0, got {self.seed}")
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
        # answers and verdicts are keyed per item
        for name in ("profile", "limit", "judge_model", "judge_runs"):
            d.pop(name)
        return d


@dataclass
class Plan:
    """What *prepare* made of the data file: the episodes to ingest, the data summary for the
    results (the runner adds the file's path and checksum), and the benchmark's own selection
    (``items``: conversations and questions, users, or questions and contexts)."""

    episodes: list[Episode]
    data: dict[str, Any]
    items: Any = None


@dataclass
class Questions:
    """What *ask* made: one answer prompt per question, keyed for the answer journal, and each
    question's record so far (retrieved memories, sessions in context …); ``probes`` holds
    what a benchmark reads from the memory besides answers (HaluMem's extraction and update
    probes)."""

    keys: list[str]
    prompts: list[list[dict[str, str]]]
    records: list[dict[str, Any]]
    probes: dict[str, list[Any]] = field(default_factory=dict)


class Protocol:
    """One benchmark's part of a run. Subclasses set the class attributes and implement the
    three methods; the runner does the rest (ingestion, answering, journals, costs, labels).

    Attributes:
        name: the benchmark (one of :data:`BENCHMARKS`).
        judged: whether some metrics need the LLM judge (the runner loads it only then).
        full_context_gaps: metric → why the full-context baseline cannot have it.
    """

    name: str = ""
    judged: bool = True
    full_context_gaps: Mapping[str, str] = {}

    def prepare(self, cfg: BenchConfig) -> Plan:
        """Load and select the data; convert it into the episodes a memory system ingests."""
        raise NotImplementedError

    def ask(self, cfg: BenchConfig, plan: Plan, states: Mapping[str, Sequence[MemoryState]],
            answer_model: Any, retriever: Any) -> Questions:
        """One answer prompt per question, from the memory after the sessions it may see
        (``states[user][i]``: the memory after session ``i``; empty with full context)."""
        raise NotImplementedError

    def score(self, cfg: BenchConfig, plan: Plan, asked: Questions, answers: Mapping[str, Mapping[str, Any]],
              judge: Any, work: Path, not_computed: dict[str, str]) -> tuple[dict[str, Any],
                                                                             list[dict[str, Any]],
                                                                             dict[str, Any] | None]:
        """The metrics, the per-question records and the judge's cost (``None``: no judge).
        ``answers[key]`` is the journaled answer; judged verdicts go to a journal in ``work``;
        a metric that cannot be computed is named in ``not_computed`` with the reason."""
        raise NotImplementedError


# ------------------------------------------------------------------- shared by protocols
def sample(items: list[Any], limit: int, seed: int) -> list[Any]:
    """A seeded sample of ``limit`` items in their original order (0 or more than there are: all)."""
    if not limit or limit >= len(items):
        return items
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


def select(cfg: BenchConfig, path: Path, items: list[Any], key: Callable[[Any], str], what: str) -> list[Any]:
    """The items ``cfg.sample_ids`` names (unknown ids raise), else the first ``cfg.conversations``."""
    if cfg.sample_ids:
        missing = sorted(set(cfg.sample_ids) - {key(x) for x in items})
        if missing:
            raise ValueError(f"{path}: no {what} {missing}; it has {', '.join(key(x) for x in items)}")
        return [x for x in items if key(x) in cfg.sample_ids]
    return items[:cfg.conversations] if cfg.conversations else items


def cost(records: Iterable[Mapping[str, Any]], *,
         where: Callable[[int], str] | None = None) -> dict[str, Any]:
    """Calls, prompt and completion tokens and seconds summed over journaled records.

    A count that is not a finite number of 0 or more (``"x"``, NaN, a bool) is refused naming
    ``where(i)`` (the file and record of the ``i``-th record) and the field.
    """
    recs = list(records)
    for i, r in enumerate(recs):
        for f in ("prompt_tokens", "completion_tokens", "seconds"):
            v = r.get(f, 0)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                at = where(i) if where is not None else f"record {i}"
                raise DataFileError(f"{at}: field {f}: expected a number of 0 or more, got {v!r:.40}; the "
                                    "work folder is corrupt, delete it to start over")
    return {"calls": len(recs), "prompt_tokens": int(sum(r.get("prompt_tokens", 0) for r in recs)),
            "completion_tokens": int(sum(r.get("completion_tokens", 0) for r in recs)),
            "seconds": round(sum(r.get("seconds", 0.0) for r in recs), 3)}


class Verdicts:
    """A judge's verdicts, journaled per item in ``work/judge.jsonl`` under ``"<judge>|<key>"``,
    so a rerun asks the judge only what is missing and another judge never reads them."""

    def __init__(self, judge: Any, work: Path) -> None:
        self.name = model_name(judge)
        self.journal = Journal(work / "judge.jsonl")

    def get(self, keys: Sequence[str], judge_missing: Callable[[list[int]], Iterable[Mapping[str, Any]]]
            ) -> list[dict[str, Any]]:
        """The verdicts of ``keys``, in order; ``judge_missing(indices)`` judges the items not in
        the journal yet and returns one record per index."""
        keys = [f"{self.name}|{k}" for k in keys]
        todo = [i for i, k in enumerate(keys) if k not in self.journal]
        if todo:
            self.journal.add({"key": keys[i], **rec} for i, rec in zip(todo, judge_missing(todo)))
        return [self.journal[k] for k in keys]

    def cost(self) -> dict[str, Any]:
        """What this judge's calls cost, over every verdict it gave in this work folder."""
        keys = [k for k in self.journal.records if k.startswith(f"{self.name}|")]
        return cost((self.journal[k] for k in keys), where=lambda i: f"{self.journal.path}: record {keys[i]}")


def model_name(model: Any) -> str | None:
    """The name a backend reports (its class name when it has none); ``None`` for no model."""
    return None if model is None else getattr(model, "name", type(model).__name__)
