"""PersonaMem's scoring: answer extraction, the official way (:func:`official_extract_options`,
:func:`official_is_correct`, as the published numbers use) and a stricter parser for our own
runs (:func:`parse_option_letter`); 4-option accuracy overall and per question type
(:func:`mcq_accuracy`, :class:`AccuracyReport`) and from raw responses
(:func:`score_personamem`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .personamem_data import _LETTERS, PersonaMemQuestion

__all__ = [
    "parse_option_letter",
    "official_extract_options",
    "official_is_correct",
    "score_personamem",
    "GroupAccuracy",
    "AccuracyReport",
    "mcq_accuracy",
]

# --------------------------------------------------------------------------- answers

_FINAL = "<final_answer>"
_PAREN = re.compile(r"\(\s*([a-z])\s*\)")
# "Answer: c", "option C because" (an explicit prefix: the letter only needs a word boundary)
_PREFIXED = re.compile(r"^\W*(?:final\s+answer|answer|option)\s*(?:is)?\s*[:\-]?\s*\(?([a-z])\b",
                       re.IGNORECASE)
# "c", "C) ...", "c. ...", "[c]" (no prefix: the letter must be closed, since "A good idea" starts with "A")
_LEADING = re.compile(r"^\W*?\[?\(?([a-z])\s*(?:[).:\]]|$)", re.IGNORECASE)


def _after_final_marker(text: str) -> str:
    t = text.strip()
    if _FINAL in t:
        t = t.split(_FINAL)[-1].strip()
    if t.endswith("</final_answer>"):
        t = t[: -len("</final_answer>")].strip()
    return t


def parse_option_letter(response: str | None, n_options: int = 4) -> str | None:
    """The option letter a model chose, or ``None`` when it cannot be told.

    Reads, in order, the text after a ``<final_answer>`` token if there is one:

    1. options in parentheses — ``"(c)"``, ``"I pick (C) because …"`` — accepted when exactly
       one distinct letter is in parentheses;
    2. a leading letter — ``"c"``, ``"C) …"``, ``"c. …"``, ``"Answer: c"``.

    Letters beyond ``n_options`` are ignored. This is our own, stricter parser; use
    :func:`official_is_correct` to reproduce the published protocol.

    >>> parse_option_letter("C) Since you like jazz …"), parse_option_letter("(a) or (b)")
    ('c', None)
    """
    if not response:
        return None
    allowed = _LETTERS[:n_options]
    text = _after_final_marker(response)
    for candidate in (text, response.strip()) if text != response.strip() else (text,):
        in_parens = {m.lower() for m in _PAREN.findall(candidate.lower()) if m.lower() in allowed}
        if len(in_parens) == 1:
            return in_parens.pop()
        if len(in_parens) > 1:
            return None
        for pattern in (_PREFIXED, _LEADING):
            m = pattern.match(candidate)
            if m and m[1].lower() in allowed:
                return m[1].lower()
    return None


def official_extract_options(text: str) -> set[str]:
    """The official option extraction (PersonaMem ``extract_answer._extract_only_options``):
    lowercase; letters a–d in parentheses if any, else every bare letter a–d standing alone
    as a word (so the article "a" counts as an option)."""
    low = text.lower()
    in_parens = re.findall(r"\(([a-d])\)", low)
    if in_parens:
        return set(in_parens)
    return set(re.findall(r"\b([a-d])\b", low))


def official_is_correct(response: str, correct_answer: str) -> bool:
    """Official scoring of one response: take the text after ``<final_answer>``, extract
    options with :func:`official_extract_options`; correct iff the set is exactly
    ``{gold}``; otherwise try the same on the full response."""
    gold = correct_answer.lower().strip("() ")
    if official_extract_options(_after_final_marker(response)) == {gold}:
        return True
    return official_extract_options(response) == {gold}


def score_personamem(questions: Sequence[PersonaMemQuestion],
                     responses: Mapping[str, str | None], *, official: bool = True) -> AccuracyReport:
    """Accuracy overall and per ``question_type`` from raw model responses keyed by
    ``question_id``.

    ``official=True`` scores with :func:`official_is_correct` (the published protocol);
    ``official=False`` with :func:`parse_option_letter`. A question without a response
    counts as wrong and is reported in ``n_missing``.
    """
    golds, preds, groups = [], [], []
    for q in questions:
        r = responses.get(q.question_id)
        golds.append(q.gold_letter)
        groups.append(q.question_type)
        if r is None:
            preds.append(None)
        elif official:
            preds.append(q.gold_letter if official_is_correct(r, q.correct_answer) else "?")
        else:
            preds.append(parse_option_letter(r, len(q.all_options)))
    report = mcq_accuracy(golds, preds, groups)
    missing = sum(q.question_id not in responses or responses[q.question_id] is None for q in questions)
    return AccuracyReport(report.accuracy, report.n, report.n_correct, report.n_unparsed,
                          report.per_group, n_missing=missing)


# =========================================================================== scoring
def _div(a: float, b: float) -> float | None:
    return a / b if b else None




@dataclass(frozen=True)
class GroupAccuracy:
    accuracy: float | None
    n: int
    n_correct: int


@dataclass(frozen=True)
class AccuracyReport:
    """Multiple-choice accuracy overall and per group (PersonaMem question type).
    ``n_unparsed`` counts predictions that were ``None`` (scored wrong); ``n_missing`` is
    set by callers that know which questions had no response at all."""

    accuracy: float | None
    n: int
    n_correct: int
    n_unparsed: int
    per_group: Mapping[str, GroupAccuracy] = field(default_factory=dict)
    n_missing: int = 0


def _letter(x: Any) -> str | None:
    if x is None:
        return None
    s = str(x).strip().strip("()").strip().lower()
    return s or None


def mcq_accuracy(gold: Sequence[str], predicted: Sequence[str | None],
                 groups: Sequence[str] | None = None) -> AccuracyReport:
    """Share of questions whose predicted option equals the gold option (docs/benchmark_protocols.md §3:
    4-option accuracy, chance 25%), overall and per group. Letters compare after removing
    parentheses and case (``"(c)"`` == ``"C"``); a ``None`` prediction is wrong.

    >>> mcq_accuracy(["(a)", "(b)"], ["a", None]).accuracy
    0.5
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold answers but {len(predicted)} predictions")
    if groups is not None and len(groups) != len(gold):
        raise ValueError(f"{len(gold)} gold answers but {len(groups)} group labels")
    ok = [_letter(p) is not None and _letter(p) == _letter(g) for g, p in zip(gold, predicted)]
    per: dict[str, GroupAccuracy] = {}
    if groups is not None:
        idx: dict[str, list[int]] = defaultdict(list)
        for i, grp in enumerate(groups):
            idx[grp].append(i)
        for grp in sorted(idx):
            c = sum(ok[i] for i in idx[grp])
            per[grp] = GroupAccuracy(c / len(idx[grp]), len(idx[grp]), c)
    n = len(gold)
    return AccuracyReport(accuracy=_div(sum(ok), n), n=n, n_correct=sum(ok),
                          n_unparsed=sum(_letter(p) is None for p in predicted), per_group=per)
