"""HaluMem's scores as in its ``eval/evaluation.py``, pure functions over the labels a judge gave
(:mod:`deltamem_lib.benchmarks.judge`): the judgement records (:class:`IntegrityJudgement`,
:class:`AccuracyJudgement`, :class:`UpdateJudgement`), memory extraction
(:func:`halumem_extraction_metrics`), memory update and QA label rates
(:func:`halumem_update_metrics`, :func:`halumem_qa_metrics`) and the per-memory-type accuracy
(:func:`halumem_typewise_accuracy`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "IntegrityJudgement",
    "AccuracyJudgement",
    "UpdateJudgement",
    "ExtractionMetrics",
    "LabelRates",
    "TypeAccuracy",
    "UPDATE_LABELS",
    "QA_LABELS",
    "halumem_extraction_metrics",
    "halumem_update_metrics",
    "halumem_qa_metrics",
    "halumem_typewise_accuracy",
]

# =========================================================================== HaluMem


@dataclass(frozen=True)
class IntegrityJudgement:
    """Memory-integrity judge result for one gold memory point (HaluMem §"Metrics").

    ``score`` 2 = covered, 1 = partly, 0 = absent/wrong, ``None`` = invalid judge call."""

    score: int | None
    importance: float
    is_interference: bool
    memory_type: str | None = None


@dataclass(frozen=True)
class AccuracyJudgement:
    """Memory-accuracy judge result for one extracted memory: ``score`` 2/1/0 (``None`` =
    invalid call) and whether the judge placed it inside the gold points. Officially an
    invalid call also sets ``in_gold=False``."""

    score: int | None
    in_gold: bool


@dataclass(frozen=True)
class UpdateJudgement:
    """Update judge label for one probed update point and the point's memory type."""

    label: str | None
    memory_type: str | None = None


@dataclass(frozen=True)
class ExtractionMetrics:
    """HaluMem memory-extraction metrics. Plain names are the "(all)" variants the
    leaderboard prints (invalid judge calls stay in the denominator); ``*_valid`` drop them.
    Values are ``None`` when their denominator is empty."""

    recall: float | None
    recall_valid: float | None
    weighted_recall: float | None
    weighted_recall_valid: float | None
    fmr: float | None
    fmr_valid: float | None
    target_precision: float | None
    target_precision_valid: float | None
    accuracy: float | None
    accuracy_valid: float | None
    f1: float | None
    counts: Mapping[str, float] = field(default_factory=dict)


def _div(a: float, b: float) -> float | None:
    return a / b if b else None


def _check_score(s: int | None, what: str) -> None:
    if s is not None and s not in (0, 1, 2):
        raise ValueError(f"{what} score {s!r}: HaluMem judge scores are 0, 1, 2 or None (invalid call)")


def halumem_extraction_metrics(integrity: Iterable[IntegrityJudgement],
                               accuracy: Iterable[AccuracyJudgement]) -> ExtractionMetrics:
    """Memory-extraction metrics from already-judged records (HaluMem ``eval/evaluation.py``
    ``aggregate_eval_results``; docs/benchmark_protocols.md §2 "Metrics").

    Over gold points that are *not* interference:
    ``R = #(score 2) / #points``; ``weighted R = Σ 0.5·score·importance / Σ importance``.
    Over interference points: ``FMR = #(score 0) / #points`` (the distractor was not stored).
    Over extracted memories: ``Target P = Σ 0.5·score / #(in gold)`` over those the judge put
    inside the gold points; ``Acc. = Σ 0.5·score / #memories``. ``F1 = 2·P·R / (P + R)``
    from the "(all)" Target P and R (MemOS Medium: P 86.25, R 74.07 → 79.70).
    """
    n_pts = n_pts_valid = n_hit = 0
    imp_all = imp_valid = w_score = 0.0
    n_int = n_int_valid = n_int_ok = 0
    for j in integrity:
        _check_score(j.score, "integrity")
        if j.is_interference:
            n_int += 1
            if j.score is not None:
                n_int_valid += 1
                n_int_ok += j.score == 0
        else:
            n_pts += 1
            imp_all += j.importance
            if j.score is not None:
                n_pts_valid += 1
                imp_valid += j.importance
                n_hit += j.score == 2
                w_score += 0.5 * j.score * j.importance
    n_mem = n_mem_valid = n_tgt = n_tgt_valid = 0
    acc_sum = tgt_sum = 0.0
    for a in accuracy:
        _check_score(a.score, "accuracy")
        n_mem += 1
        n_tgt += bool(a.in_gold)
        if a.score is None:
            continue
        n_mem_valid += 1
        acc_sum += 0.5 * a.score
        if a.in_gold:
            n_tgt_valid += 1
            tgt_sum += 0.5 * a.score
    recall = _div(n_hit, n_pts)
    precision = _div(tgt_sum, n_tgt)
    if recall is None or precision is None:
        f1 = None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return ExtractionMetrics(
        recall=recall,
        recall_valid=_div(n_hit, n_pts_valid),
        weighted_recall=_div(w_score, imp_all),
        weighted_recall_valid=_div(w_score, imp_valid),
        fmr=_div(n_int_ok, n_int),
        fmr_valid=_div(n_int_ok, n_int_valid),
        target_precision=precision,
        target_precision_valid=_div(tgt_sum, n_tgt_valid),
        accuracy=_div(acc_sum, n_mem),
        accuracy_valid=_div(acc_sum, n_mem_valid),
        f1=f1,
        counts={"points": n_pts, "points_valid": n_pts_valid, "importance_sum": imp_all,
                "interference": n_int, "interference_valid": n_int_valid,
                "extracted": n_mem, "extracted_valid": n_mem_valid,
                "target": n_tgt, "target_valid": n_tgt_valid},
    )


#: Labels of the HaluMem update judge and of the QA judge (anything else is an invalid call).
UPDATE_LABELS: tuple[str, ...] = ("Correct", "Hallucination", "Omission", "Other")
QA_LABELS: tuple[str, ...] = ("Correct", "Hallucination", "Omission")


@dataclass(frozen=True)
class LabelRates:
    """Rates of judge labels. ``rate`` divides by all items ("(all)", the leaderboard
    numbers), ``rate_valid`` by the items with a valid label; ``by_group`` holds the same
    per question type when groups were given."""

    n: int
    n_valid: int
    counts: Mapping[str, int]
    rate: Mapping[str, float | None]
    rate_valid: Mapping[str, float | None]
    by_group: Mapping[str, LabelRates] = field(default_factory=dict)

    @property
    def correct(self) -> float | None:
        return self.rate.get("Correct")

    @property
    def hallucination(self) -> float | None:
        return self.rate.get("Hallucination")

    @property
    def omission(self) -> float | None:
        return self.rate.get("Omission")


def _canon_label(label: Any, allowed: Sequence[str]) -> str | None:
    if not isinstance(label, str):
        return None
    low = label.strip().lower()
    for a in allowed:
        if a.lower() == low:
            return a
    return None


def _label_rates(labels: Sequence[Any], allowed: Sequence[str]) -> LabelRates:
    canon = [_canon_label(lab, allowed) for lab in labels]
    counts = {a: sum(c == a for c in canon) for a in allowed}
    n, n_valid = len(canon), sum(c is not None for c in canon)
    return LabelRates(n=n, n_valid=n_valid, counts=counts,
                      rate={a: _div(counts[a], n) for a in allowed},
                      rate_valid={a: _div(counts[a], n_valid) for a in allowed})


def halumem_update_metrics(labels: Iterable[str | None | UpdateJudgement]) -> LabelRates:
    """Memory-update rates C / H / O (and Other) over all probed update points
    (docs/benchmark_protocols.md §2). Labels are matched case-insensitively to :data:`UPDATE_LABELS`;
    anything else is an invalid judge call (kept in the "(all)" denominator)."""
    labs = [x.label if isinstance(x, UpdateJudgement) else x for x in labels]
    return _label_rates(labs, UPDATE_LABELS)


def halumem_qa_metrics(labels: Sequence[str | None],
                       question_types: Sequence[str] | None = None) -> LabelRates:
    """QA rates C / H / O over all questions, and per question type when
    ``question_types`` is given (docs/benchmark_protocols.md §2)."""
    labels = list(labels)
    overall = _label_rates(labels, QA_LABELS)
    if question_types is None:
        return overall
    if len(question_types) != len(labels):
        raise ValueError(f"{len(labels)} labels but {len(question_types)} question types")
    groups: dict[str, list[Any]] = defaultdict(list)
    for lab, t in zip(labels, question_types):
        groups[t].append(lab)
    by = {t: _label_rates(v, QA_LABELS) for t, v in sorted(groups.items())}
    return LabelRates(overall.n, overall.n_valid, overall.counts, overall.rate, overall.rate_valid, by)


@dataclass(frozen=True)
class TypeAccuracy:
    """Type-wise accuracy for one memory type: ``memory_acc = integrity_acc + update_acc``,
    both over ``total`` = integrity records + update records of that type."""

    integrity_acc: float | None
    update_acc: float | None
    memory_acc: float | None
    total: int


def halumem_typewise_accuracy(integrity: Iterable[IntegrityJudgement],
                              updates: Iterable[UpdateJudgement], *,
                              include_interference: bool = False) -> dict[str, TypeAccuracy]:
    """Type-wise accuracy (Event / Persona / Relationship Memory): per type,
    ``(#integrity score 2 + #update Correct) / (#integrity records + #update records)``.

    The HaluMem README says distractor (interference) points are excluded, which is the
    default here; the released ``evaluation.py`` counts them too — pass
    ``include_interference=True`` to reproduce the script. Records without a memory type
    are skipped.
    """
    hit_i: Counter[str] = Counter()
    hit_u: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for j in integrity:
        if j.memory_type is None or (j.is_interference and not include_interference):
            continue
        total[j.memory_type] += 1
        hit_i[j.memory_type] += j.score == 2
    for u in updates:
        if u.memory_type is None:
            continue
        total[u.memory_type] += 1
        hit_u[u.memory_type] += _canon_label(u.label, UPDATE_LABELS) == "Correct"
    out = {}
    for t in sorted(total):
        ia, ua = _div(hit_i[t], total[t]), _div(hit_u[t], total[t])
        out[t] = TypeAccuracy(ia, ua, (ia or 0.0) + (ua or 0.0), total[t])
    return out
