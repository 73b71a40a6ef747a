"""Evaluating memory systems on synthetic sessions: ``r_trans``, operation F1, cost.

Every session is processed from its **gold** state before (teacher forcing, as in the
paper's RL setup), so the sessions are independent and a system's score is an average over
them. Per session:

* ``r_trans`` — the MLD reward of the state the system left against the gold state after
  (``docs/mld_spec.md``; the paper's training signal and our main metric).
* **Operation F1 per type** — how many of the gold operations the system performed. States,
  not operations, are what the paper rewards (many operation sequences reach one state),
  so this is a diagnostic that says *which kind* of change a system gets wrong. Matching,
  within a session, one-to-one:

  - UPDATE and DELETE: a predicted operation matches a gold operation of the same type on
    the same memory id (the content of an UPDATE is judged by ``r_trans``, not here);
  - ADD: predicted ADDs are aligned to gold ADDs as in the MLD — identical sentences match,
    the rest by the optimal assignment of the credit ``q = sim · cov`` (lexical Dice, gold
    keywords, threshold τ); a pair with ``q > 0`` is a match.

  Counts are summed over sessions (micro average): precision = matched / predicted,
  recall = matched / gold, F1 their harmonic mean; ``all`` pools the three types. A type
  with neither gold nor predicted operations has no F1 (``None``), not a perfect one.
* **Invalid-call rate** — rejected calls / attempted calls (tool calls for the ReAct agent,
  parsed operations for the others); **malformed rate** — unreadable outputs / model calls.
* **Cost** — prompt and completion tokens per session and wall seconds per session.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..episodes import SessionExample, parse_rl_row, rl_rows
from ..io import DataFileError, read_json_object
from ..memory import Operation, OpType
from ..mld import MLDOptions, memory_levenshtein
from ..synthesis.dataset import split_users as synth_split
from .result import SessionResult

__all__ = ["OpCounts", "aggregate", "evaluate_system", "match_operations", "select_sessions",
           "session_metrics", "split_users"]

OP_TYPES = ("ADD", "UPDATE", "DELETE")


class OpCounts(Counter):
    """``tp_ADD``, ``pred_ADD``, ``gold_ADD`` … counts, summable across sessions."""

    def prf(self, kind: str) -> dict[str, float | int]:
        kinds = OP_TYPES if kind == "all" else (kind,)
        tp = sum(self[f"tp_{k}"] for k in kinds)
        pred = sum(self[f"pred_{k}"] for k in kinds)
        gold = sum(self[f"gold_{k}"] for k in kinds)
        if pred == 0 and gold == 0:  # nothing to get right or wrong: undefined, not perfect
            return {"precision": None, "recall": None, "f1": None, "matched": 0, "predicted": 0, "gold": 0}
        p = tp / pred if pred else 0.0
        r = tp / gold if gold else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
                "matched": tp, "predicted": pred, "gold": gold}


def _ops(ops: Iterable[Operation], kind: str) -> list[Operation]:
    return [o for o in ops if o.op.value == kind]


def match_operations(predicted: Sequence[Operation], gold: Sequence[Operation], *, threshold: float = 0.5,
                     lexical_fidelity: bool = True) -> OpCounts:
    """Match one session's predicted operations to its gold operations (module docstring)."""
    c = OpCounts()
    for kind in ("UPDATE", "DELETE"):
        p, g = _ops(predicted, kind), _ops(gold, kind)
        c[f"pred_{kind}"] += len(p)
        c[f"gold_{kind}"] += len(g)
        left = Counter(o.memory_id for o in g)
        for o in p:
            if left[o.memory_id] > 0:
                left[o.memory_id] -= 1
                c[f"tp_{kind}"] += 1
    p, g = _ops(predicted, "ADD"), _ops(gold, "ADD")
    c["pred_ADD"] += len(p)
    c["gold_ADD"] += len(g)
    if p and g:
        res = memory_levenshtein([o.content or "" for o in p],
                                 [{"content": o.content or "", "keywords": list(o.keywords)} for o in g],
                                 similarity="lexical", threshold=threshold, lexical_fidelity=lexical_fidelity)
        c["tp_ADD"] += len(res.shared) + len(res.pairs)
    return c


def session_metrics(result: SessionResult, example: SessionExample, *,
                    mld: MLDOptions = MLDOptions()) -> dict[str, Any]:
    """``r_trans`` and operation counts of one processed session (``mld``: the reward's settings)."""
    score = mld.score(list(result.state_after.entries), list(example.state_after.entries),
                      before=list(example.state_before.entries))
    gold = [o for o in example.gold_ops if o.op is not OpType.NOOP]
    counts = match_operations(result.operations, gold, threshold=mld.threshold,
                              lexical_fidelity=mld.lexical_fidelity)
    return {"user_id": example.user_id, "session_id": example.session_id, "r_trans": round(score.reward, 6),
            "precision": round(score.precision, 6), "recall": round(score.recall, 6),
            "n_gold_ops": len(gold), "n_pred_ops": len(result.operations), "counts": dict(counts),
            "tool_calls": result.tool_calls, "invalid_calls": result.invalid_calls,
            "malformed_outputs": result.malformed_outputs, "model_calls": result.model_calls,
            "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            "seconds": round(result.seconds, 4)}


def aggregate(per_session: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means and pooled counts over sessions (see the module docstring)."""
    n = len(per_session)
    if n == 0:
        raise ValueError("no sessions to aggregate")
    counts = OpCounts()
    for s in per_session:
        counts.update(s["counts"])
    calls = sum(s["tool_calls"] for s in per_session)
    model_calls = sum(s["model_calls"] for s in per_session)
    rewards = [s["r_trans"] for s in per_session]
    changed = [s["r_trans"] for s in per_session if s["n_gold_ops"] > 0]
    unchanged = [s["r_trans"] for s in per_session if s["n_gold_ops"] == 0]
    mean = sum(rewards) / n
    sd = (sum((r - mean) ** 2 for r in rewards) / (n - 1)) ** 0.5 if n > 1 else 0.0
    return {
        "sessions": n,
        "r_trans_mean": round(mean, 4),
        "r_trans_sem": round(sd / n ** 0.5, 4),
        "r_trans_changed_sessions": round(sum(changed) / len(changed), 4) if changed else None,
        "r_trans_unchanged_sessions": round(sum(unchanged) / len(unchanged), 4) if unchanged else None,
        "op_f1": {k: counts.prf(k) for k in (*OP_TYPES, "all")},
        "invalid_call_rate": round(sum(s["invalid_calls"] for s in per_session) / calls, 4) if calls else 0.0,
        "malformed_output_rate": round(sum(s["malformed_outputs"] for s in per_session) / model_calls, 4)
        if model_calls else 0.0,
        "tool_calls_per_session": round(calls / n, 3),
        "model_calls_per_session": round(model_calls / n, 3),
        "prompt_tokens_per_session": round(sum(s["prompt_tokens"] for s in per_session) / n, 1),
        "completion_tokens_per_session": round(sum(s["completion_tokens"] for s in per_session) / n, 1),
        "tokens_per_session": round(sum(s["prompt_tokens"] + s["completion_tokens"] for s in per_session) / n,
                                    1),
    }


def evaluate_system(system: Any, examples: Sequence[SessionExample], *, batch_size: int = 8,
                    seed: int | None = 0, mld: MLDOptions = MLDOptions(), model_name: str | None = None,
                    progress: bool | Callable[..., Any] = False, keep_results: bool = False) -> dict[str,
                                                                                                     Any]:
    """Run ``system`` on ``examples`` (in batches) and score it.

    Args:
        system: a memory system (:func:`deltamem_lib.agent.systems.make_system`).
        examples: sessions with their gold states (``parse_rl_row`` of RL rows).
        batch_size: sessions processed together (one model batch per turn).
        seed: sampling seed (batch ``b`` uses ``seed + 1000·b``); irrelevant when greedy.
        mld: the settings of the reward (:class:`~deltamem_lib.mld.MLDOptions`; default ``r_trans``
            with the lexical similarity).
        model_name: recorded in the results (default: the system's model's name).
        progress: True for a tqdm bar, or a callable ``(done, total)``.
        keep_results: also return the :class:`SessionResult` objects (``"results"``).

    Returns:
        A JSON-ready dict: ``system``, ``model``, the aggregate metrics of :func:`aggregate`,
        ``seconds_per_session`` (wall time), ``settings`` and ``per_session``.
    """
    if not examples:
        raise ValueError("no sessions to evaluate (check --split and --limit-sessions)")
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(examples), desc=getattr(system, "name", "system"), leave=False)
    per, kept = [], []
    t0 = time.perf_counter()
    for b, start in enumerate(range(0, len(examples), batch_size)):
        chunk = list(examples[start:start + batch_size])
        results = system.run(chunk, seed=None if seed is None else seed + 1000 * b)
        for res, ex in zip(results, chunk):
            per.append(session_metrics(res, ex, mld=mld))
        if keep_results:
            kept.extend(results)
        if bar is not None:
            bar.update(len(chunk))
        elif callable(progress):
            progress(len(per), len(examples))
    wall = time.perf_counter() - t0
    if bar is not None:
        bar.close()
    model = getattr(system, "model", None)
    out = {"system": getattr(system, "name", type(system).__name__),
           "model": model_name or (getattr(model, "name", None) if model is not None else None),
           **aggregate(per),
           "seconds_per_session": round(wall / len(examples), 3),
           "sessions_per_minute": round(60 * len(examples) / wall, 2) if wall > 0 else None,
           "settings": {"batch_size": batch_size, "seed": seed, **mld.kwargs(),
                        "similarity": getattr(mld.similarity, "name", mld.similarity)},
           "per_session": per}
    if keep_results:
        out["results"] = kept
    return out


# ----- data selection ---------------------------------------------------------------------
SPLITS = ("train", "validation", "test", "all")


def split_users(episodes: Sequence[Any], split: str, *, dataset_dir: str | Any = None,
                seed: int | None = None) -> tuple[set[str], str]:
    """The user ids of a split, and where the assignment came from.

    In order: the saved ``DatasetDict`` next to ``episodes.jsonl`` (``DIR/dataset``, written by
    ``deltamem synth``: the project's user-level splits), else each episode's
    ``meta["split"]``, else :func:`deltamem_lib.synthesis.dataset.split_users` recomputed with
    the synthesis seed (``seed``, else the one in ``DIR/stats.json``, else 0) — the same rule
    ``deltamem synth`` uses.
    """
    from pathlib import Path

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    ids = [ep.user_id for ep in episodes]
    if split == "all":
        return set(ids), "all"
    if dataset_dir is not None and (Path(dataset_dir) / "dataset_dict.json").is_file():
        from datasets import load_from_disk

        dd = load_from_disk(str(dataset_dir))
        if split not in dd:
            raise ValueError(f"{dataset_dir}: no split {split!r} (has {', '.join(dd.keys())})")
        return set(dd[split]["user_id"]), f"{dataset_dir}"
    metas = [ep.meta.get("split") if ep.meta else None for ep in episodes]
    if all(isinstance(m, str) for m in metas):
        return {i for i, m in zip(ids, metas) if m == split}, "episode meta"
    if seed is None:
        stats = Path(dataset_dir).parent / "stats.json" if dataset_dir is not None else None
        seed = 0
        if stats is not None and stats.is_file():
            seed = read_json_object(stats, "an object of synthesis statistics").get("seed", 0)
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise DataFileError(f"{stats}: field seed: expected an integer, got {seed!r:.40}")
    return set(synth_split(ids, seed=seed)[split]), f"synthesis split rule, seed {seed}"


def select_sessions(episodes: Sequence[Any], split: str = "test", *, limit: int | None = None, seed: int = 0,
                    dataset_dir: str | Any = None) -> tuple[list[SessionExample], str]:
    """Sessions (with gold states) of a split's users; with ``limit``, a seeded random sample
    of that many, returned in (user, session) order so any limit is a reproducible subset."""
    import random

    users, source = split_users(episodes, split, dataset_dir=dataset_dir)
    chosen = [ep for ep in episodes if ep.user_id in users]
    examples = [parse_rl_row(r) for r in rl_rows(chosen)]
    if limit is not None and 0 <= limit < len(examples):
        keep = sorted(random.Random(seed).sample(range(len(examples)), limit))
        examples = [examples[i] for i in keep]
    return examples, source
