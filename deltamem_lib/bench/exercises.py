"""Exercises of notebook 04 (benchmarks and ablations): checks that explain.

Predict-then-check questions compare the reader's number with what the library computes and
say why; the coding task runs the reader's answerer on the tiny LoCoMo fixture.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..exercises.mld import Check

__all__ = ["check_answerer", "check_evidence_recall", "check_f1", "check_mem0_label", "FIXTURE"]

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "samples" / "locomo_tiny.json"


def _close(a: Any, b: float, tol: float = 0.01) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool) and math.isclose(float(a), b, abs_tol=tol)


def check_f1(answer: float | None, prediction: str = "Caroline went on 7 May 2023",
             gold: str = "7 May 2023") -> Check:
    """Exercise 1: the Mem0-style LoCoMo F1 of ``prediction`` against ``gold``."""
    from ..benchmarks.metrics import bleu1, locomo_f1, mem0_tokenize

    f1 = locomo_f1(prediction, gold)
    p, g = set(mem0_tokenize(prediction)), set(mem0_tokenize(gold))
    why = (f"Token sets: prediction {sorted(p)}, gold {sorted(g)}; {len(p & g)} shared, so precision "
           f"{len(p & g)}/{len(p)}, recall {len(p & g)}/{len(g)}, F1 = {f1:.3f}. A correct but wordy answer loses "
           f"precision — the reason the protocol asks for 5-6 words. (BLEU-1 here: {bleu1(prediction, gold):.3f}.)")
    if answer is None:
        return Check(None, "Write your prediction as a number in [0, 1].")
    return Check(_close(answer, f1), why)


def check_mem0_label(answer: int | None, mem0_label: str = "open-domain") -> Check:
    """Exercise 2: which official LoCoMo category a column labelled ``mem0_label`` in a table
    copied from the Mem0 paper really holds."""
    from ..benchmarks.locomo import CATEGORY_NAMES, MEM0_CATEGORY_NAMES

    cat = next(k for k, v in MEM0_CATEGORY_NAMES.items() if v == mem0_label)
    why = (f"Mem0's '{mem0_label}' is category {cat}, whose official name is '{CATEGORY_NAMES[cat]}' "
           "(docs/benchmark_protocols.md §1, label trap). Overall scores agree; per-category columns of different papers are "
           "comparable only after translating the labels.")
    if answer is None:
        return Check(None, "Write the category number (1-4).")
    return Check(answer == cat, why)


def check_evidence_recall(answer_at_2: float | None, answer_at_3: float | None) -> Check:
    """Exercise 3: a question with evidence D1:3 and D2:5; the ranked memories come from
    [D1:3], [D4:1], [D2:5, D2:6]. Predict the strict recall ("all") at k = 2 and k = 3."""
    from ..benchmarks.metrics import evidence_recall_at_k

    ev = [["D1:3", "D2:5"]]
    ranked = [[["D1:3"], ["D4:1"], ["D2:5", "D2:6"]]]
    r2, r3 = (evidence_recall_at_k(ev, ranked, k).all for k in (2, 3))
    why = (f"At k=2 the sources are D1:3 and D4:1: one of two evidence turns, so 'all' = {r2:.0f} (the 'any' "
           f"variant would give 1 and 'fraction' 0.5); at k=3 D2:5 joins them, 'all' = {r3:.0f}. A multi-hop "
           "question needs every hop retrieved.")
    if answer_at_2 is None or answer_at_3 is None:
        return Check(None, "Write both predictions (0 or 1).")
    return Check(_close(answer_at_2, r2) and _close(answer_at_3, r3), why)


def check_answerer(fn: Callable[[str, Sequence[str]], str] | None) -> Check:
    """Exercise 4: ``fn(question, memories) -> answer``. It answers the tiny fixture's questions
    from memories that copy the evidence turns word for word; it should beat the empty answer
    and the "first memory" answer on F1."""
    from ..benchmarks.locomo import load_locomo, scored_questions
    from ..benchmarks.metrics import locomo_f1

    if fn is None:
        return Check(None, "Write `answer(question, memories)` and pass it.")
    convs = {c.sample_id: c for c in load_locomo(FIXTURE)}
    scores, firsts = [], []
    for q in scored_questions(convs.values()):
        turns = [convs[q.sample_id].turn(d) for d in q.evidence]
        memories = [t.text for t in turns if t is not None] + ["The weather was nice that day."]
        try:
            got = fn(q.question, list(reversed(memories)))
        except Exception as exc:  # noqa: BLE001 — the reader's code
            return Check(False, f"your answerer raised {type(exc).__name__}: {exc}")
        scores.append(locomo_f1(got, q.answer))
        firsts.append(locomo_f1(list(reversed(memories))[0], q.answer))
    mean, base = sum(scores) / len(scores), sum(firsts) / len(firsts)
    return Check(mean > base, f"Your mean F1 on {len(scores)} questions: {mean:.3f}; answering with the first memory: "
                              f"{base:.3f}; the empty answer: 0. Short answers that keep the key words score best.")
