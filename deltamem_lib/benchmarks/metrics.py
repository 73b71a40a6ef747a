"""Scoring metrics of the DeltaMem evaluation: LoCoMo, HaluMem and PersonaMem.

Everything here is a pure function over answers or over labels a judge already gave; no
model is called. Definitions follow ``docs/benchmark_protocols.md``:

LoCoMo (§1, "Protocol used by memory-system papers" — the Mem0 protocol DeltaMem reports)
    * :func:`locomo_f1` — Mem0's token-*set* F1 (``evaluation/metrics/utils.py``): lowercase,
      ``. , ! ?`` replaced by spaces, whitespace split, set overlap; no stemming, no
      stop-word removal.
    * :func:`bleu1` — NLTK ``sentence_bleu`` with weights ``(1, 0, 0, 0)`` and smoothing
      method 1 on ``word_tokenize`` of the lowercased strings, i.e. brevity penalty × clipped
      unigram precision. :func:`word_tokenize` is a dependency-free re-implementation of
      NLTK's Treebank word tokenizer (see its docstring for the one approximation).
    * :data:`MEM0_JUDGE_PROMPT`, :func:`format_judge_prompt`, :func:`parse_judge_verdict`
      — the LLM judge J (gpt-4o-mini, temperature 0, JSON ``{"label": "CORRECT"|"WRONG"}``);
      :func:`aggregate_judge_runs` — J as mean ± std over several judge runs.
    * :func:`per_category_table` — means per official category plus the overall micro mean.
    * :func:`evidence_recall_at_k` — do the top-k retrieved memories come from the evidence
      turns? (our diagnostic; the original LoCoMo RAG runs report the "fraction" variant).
    * :func:`locomo_f1_official` — the original LoCoMo F1 (§1, "Original LoCoMo protocol":
      Porter-stemmed multiset F1 with per-category rules). Not the Mem0 F1: say which one a
      table reports.

HaluMem (§2, "Metrics (exact definitions from eval/evaluation.py)")
    :func:`halumem_extraction_metrics` (recall, weighted recall, false-memory resistance,
    target precision, weighted accuracy, extraction F1), :func:`halumem_update_metrics`,
    :func:`halumem_qa_metrics` (Correct / Hallucination / Omission rates) and
    :func:`halumem_typewise_accuracy`.

PersonaMem (§3, "Protocol and metric")
    :func:`mcq_accuracy` — 4-option accuracy overall and per question type.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import string
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .locomo import CATEGORY_NAMES, DiaId, parse_dia_id

__all__ = [
    # LoCoMo answer metrics
    "mem0_tokenize",
    "locomo_f1",
    "word_tokenize",
    "bleu1",
    "normalize_answer_locomo",
    "locomo_f1_official",
    # LLM judge
    "MEM0_JUDGE_PROMPT",
    "format_judge_prompt",
    "JudgeVerdict",
    "parse_judge_verdict",
    "JudgeRunsSummary",
    "aggregate_judge_runs",
    # tables
    "CategoryRow",
    "per_category_table",
    "format_category_table",
    # retrieval
    "EvidenceRecall",
    "evidence_recall_at_k",
    # HaluMem
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
    # PersonaMem
    "GroupAccuracy",
    "AccuracyReport",
    "mcq_accuracy",
]


# =========================================================================== LoCoMo F1


def mem0_tokenize(text: Any) -> list[str]:
    """Mem0's ``simple_tokenize``: ``str``, lowercase, ``. , ! ?`` → space, whitespace split."""
    s = str(text).lower()
    for ch in ".,!?":
        s = s.replace(ch, " ")
    return s.split()


def locomo_f1(prediction: Any, reference: Any) -> float:
    """Mem0-flavour LoCoMo F1 over token **sets** (docs/benchmark_protocols.md §1, "F1 (Mem0 flavour)").

    As in ``mem0ai/mem0`` ``evaluation/metrics/utils.py`` ``calculate_metrics``: an empty (or
    ``None``) prediction or reference scores 0; otherwise ``P = |A∩B|/|A|``,
    ``R = |A∩B|/|B|``, ``F1 = 2PR/(P+R)`` with ``A``, ``B`` the sets of
    :func:`mem0_tokenize` tokens. Apostrophes, colons and hyphens stay inside tokens.

    >>> round(locomo_f1("7 May 2023", "May 7, 2023"), 3)
    1.0
    """
    p = "" if prediction is None else str(prediction)
    r = "" if reference is None else str(reference)
    if not p or not r:
        return 0.0
    a, b = set(mem0_tokenize(p.strip())), set(mem0_tokenize(r.strip()))
    if not a or not b:
        return 0.0
    common = len(a & b)
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


# ------------------------------------------------------------------ Treebank tokenizer
# Penn-Treebank rules as NLTK's ``NLTKWordTokenizer`` (nltk 3.9/3.10) applies them; nltk is
# Apache-2.0. Applied in this order: starting quotes, punctuation, brackets, double dashes,
# ending quotes and clitics, MacIntyre contractions.

_STARTING_QUOTES = [
    (re.compile(r"([«“‘„]|[`]+)"), r" \1 "),
    (re.compile(r'^"'), r"``"),
    (re.compile(r"(``)"), r" \1 "),
    (re.compile(r"([ \(\[{<])(\"|\'{2})"), r"\1 `` "),
    (re.compile(r"(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)"), r"\1 "),
]
_PUNCTUATION = [
    (re.compile(r"([^\.])(\.)([\]\)}>\"'»”’ ]*)\s*$"), r"\1 \2 \3 "),
    (re.compile(r"([:,])([^\d])"), r" \1 \2"),
    (re.compile(r"([:,])$"), r" \1 "),
    (re.compile(r"\.{2,}"), r" \g<0> "),
    (re.compile(r"[;@#$%&]"), r" \g<0> "),
    (re.compile(r"[\u2012-\u2015]"), r" \g<0> "),
    (re.compile(r"([^\.])(\.)([\]\)}>\"']*)\s*$"), r"\1 \2\3 "),
    (re.compile(r"[?!]"), r" \g<0> "),
    (re.compile(r"([^'])' "), r"\1 ' "),
    (re.compile(r"[*]"), r" \g<0> "),
]
_BRACKETS = (re.compile(r"[\]\[\(\)\{\}\<\>]"), r" \g<0> ")
_DOUBLE_DASH = (re.compile(r"--"), r" -- ")
_ENDING_QUOTES = [
    (re.compile(r"([»”’])"), r" \1 "),
    (re.compile(r"''"), " '' "),
    (re.compile(r'"'), " '' "),
    (re.compile(r"\s+"), " "),
    (re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 "),
    (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 "),
]
_CONTRACTIONS = [
    re.compile(p)
    for p in (
        r"(?i)\b(can)(not)\b", r"(?i)\b(d)('ye)\b", r"(?i)\b(gim)(me)\b", r"(?i)\b(gon)(na)\b",
        r"(?i)\b(got)(ta)\b", r"(?i)\b(lem)(me)\b", r"(?i)\b(more)('n)\b", r"(?i)\b(wan)(na)(?=\s)",
        r"(?i) ('t)(is)\b", r"(?i) ('t)(was)\b",
    )
]


def _treebank_tokenize(sentence: str) -> list[str]:
    text = sentence
    for rx, sub in _STARTING_QUOTES:
        text = rx.sub(sub, text)
    for rx, sub in _PUNCTUATION:
        text = rx.sub(sub, text)
    text = _BRACKETS[0].sub(_BRACKETS[1], text)
    text = _DOUBLE_DASH[0].sub(_DOUBLE_DASH[1], text)
    text = f" {text} "
    for rx, sub in _ENDING_QUOTES:
        text = rx.sub(sub, text)
    for rx in _CONTRACTIONS:
        text = rx.sub(r" \1 \2 ", text)
    return text.split()


# Sentence ends for :func:`word_tokenize`: a period, "?" or "!" (plus closing quotes or
# brackets) followed by white space.
_SENT_END = re.compile(r"(?<=[.!?])([\"')\]’”]*)\s+")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc e.g i.e inc ltd co no mt ft jan feb mar apr jun jul aug "
    "sep sept oct nov dec approx dept est fig gen gov lt col sgt capt".split()
)


def _split_sentences(text: str) -> list[str]:
    """Split at sentence-final punctuation followed by white space, except after
    abbreviations, single-letter initials ("j.") and dotted forms ("u.s.", "j.r.r.")."""
    out: list[str] = []
    start = 0
    for m in _SENT_END.finditer(text):
        end = m.end(1)
        chunk = text[start:end]
        last = chunk.split()[-1] if chunk.split() else ""
        word = last.rstrip("\"')]’”")
        if word.endswith("."):
            stem = word[:-1].lstrip("\"'([‘“").lower()
            if (len(stem) <= 1 or "." in stem or stem in _ABBREVIATIONS) and not word.endswith(".."):
                continue
        out.append(chunk)
        start = m.end()
    tail = text[start:]
    if tail.strip() or not out:
        out.append(tail)
    return out


def word_tokenize(text: str) -> list[str]:
    """Dependency-free equivalent of ``nltk.word_tokenize`` (sentence split, then the
    Treebank word rules per sentence).

    The word rules reproduce NLTK's ``NLTKWordTokenizer``. NLTK splits sentences with its
    trained Punkt model; here a rule does it (break after ``. ? !`` + white space, except
    after a known abbreviation, an initial or a dotted form). The two differ only in where
    a period *inside* a multi-sentence answer is split off, which moves BLEU-1 slightly
    for such answers. For exact parity pass ``tokenizer=nltk.word_tokenize`` to
    :func:`bleu1`.

    >>> word_tokenize("she's moving to the u.s. next year. can't wait!")
    ['she', "'s", 'moving', 'to', 'the', 'u.s.', 'next', 'year', '.', 'ca', "n't", 'wait', '!']
    """
    return [tok for sent in _split_sentences(text) for tok in _treebank_tokenize(sent)]


def bleu1(prediction: Any, reference: Any, *,
          tokenizer: Callable[[str], list[str]] | None = None) -> float:
    """BLEU-1 as the Mem0 protocol computes it (docs/benchmark_protocols.md §1, "BLEU-1").

    ``nltk.translate.bleu_score.sentence_bleu([ref], hyp, weights=(1, 0, 0, 0),
    smoothing_function=SmoothingFunction().method1)`` on ``word_tokenize`` of the lowercased
    strings reduces to ``BP · p1``: ``p1`` = clipped unigram matches / hypothesis length,
    ``BP = 1`` if the hypothesis is longer than the reference else ``exp(1 − r/c)``; 0 when
    nothing matches or the hypothesis is empty (method 1 only smooths the zero-weighted
    higher orders, which drop out).

    >>> round(bleu1("the cat sat", "the cat sat on the mat"), 4)  # p1 = 1, BP = e^(1-6/3)
    0.3679
    """
    tok = tokenizer or word_tokenize
    hyp = tok(("" if prediction is None else str(prediction)).lower())
    ref = tok(("" if reference is None else str(reference)).lower())
    if not hyp:
        return 0.0
    ref_counts = Counter(ref)
    matches = sum(min(n, ref_counts[w]) for w, n in Counter(hyp).items())
    if matches == 0:
        return 0.0
    c, r = len(hyp), len(ref)
    bp = 1.0 if c > r else math.exp(1 - r / c)
    return bp * matches / c


# ------------------------------------------------------------- original LoCoMo F1

_ARTICLES = re.compile(r"\b(a|an|the|and)\b")
_PUNCT = set(string.punctuation)


def normalize_answer_locomo(s: str) -> str:
    """The original LoCoMo normalisation (``task_eval/evaluation.py`` ``normalize_answer``):
    drop commas, lowercase, drop ASCII punctuation, drop ``a an the and``, squash blanks."""
    s = s.replace(",", "").lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _default_stemmer() -> Callable[[str], str]:
    try:
        from nltk.stem import PorterStemmer  # type: ignore[import-not-found]
    except ImportError:
        raise ImportError(
            "locomo_f1_official needs a Porter stemmer (the original LoCoMo F1 stems tokens): "
            "`pip install nltk`, or pass stemmer=<callable str -> str>. The Mem0-protocol F1 "
            "(locomo_f1) needs no stemmer."
        ) from None
    return PorterStemmer().stem


def _stemmed_f1(prediction: str, reference: str, stem: Callable[[str], str]) -> float:
    p = [stem(w) for w in normalize_answer_locomo(prediction).split()]
    g = [stem(w) for w in normalize_answer_locomo(reference).split()]
    same = sum((Counter(p) & Counter(g)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def locomo_f1_official(prediction: str, answer: str, category: int, *,
                       stemmer: Callable[[str], str] | None = None) -> float:
    """The original LoCoMo QA score (docs/benchmark_protocols.md §1, "Original LoCoMo protocol").

    * categories 2 and 4: Porter-stemmed multiset F1 of :func:`normalize_answer_locomo` tokens;
    * category 3: the same, against the gold text before the first ``;``;
    * category 1: prediction and gold split on ``,``; mean over gold parts of the best F1
      of any prediction part;
    * category 5: 1 if the output contains "no information available" or "not mentioned".

    ``stemmer`` defaults to NLTK's ``PorterStemmer().stem`` (nltk must be installed).
    """
    prediction = str(prediction)
    if category == 5:
        low = prediction.lower()
        return 1.0 if ("no information available" in low or "not mentioned" in low) else 0.0
    stem = stemmer or _default_stemmer()
    answer = str(answer)
    if category == 3:
        answer = answer.split(";")[0].strip()
    if category in (2, 3, 4):
        return _stemmed_f1(prediction, answer, stem)
    if category == 1:
        preds = [p.strip() for p in prediction.split(",")]
        golds = [g.strip() for g in answer.split(",")]
        return sum(max(_stemmed_f1(p, g, stem) for p in preds) for g in golds) / len(golds)
    raise ValueError(f"category {category!r}: LoCoMo categories are 1..5")


# =========================================================================== LLM judge

#: The Mem0 judge prompt (``mem0ai/mem0`` ``evaluation/metrics/llm_judge.py``
#: ``ACCURACY_PROMPT``), kept character for character — including its typographic quotes —
#: because the judge score depends on the prompt. Fill it with :func:`format_judge_prompt`.
MEM0_JUDGE_PROMPT = """
Your task is to label an answer to a question as ’CORRECT’ or ’WRONG’. You will be given the following data:
    (1) a question (posed by one user to another user), 
    (2) a ’gold’ (ground truth) answer, 
    (3) a generated answer
which you will score as CORRECT/WRONG.

The point of the question is to ask about something one user should know about the other user based on their prior conversations.
The gold answer will usually be a concise and short answer that includes the referenced topic, for example:
Question: Do you remember what I got the last time I went to Hawaii?
Gold answer: A shell necklace
The generated answer might be much longer, but you should be generous with your grading - as long as it touches on the same topic as the gold answer, it should be counted as CORRECT. 

For time related questions, the gold answer will be a specific date, month, year, etc. The generated answer might be much longer or use relative time references (like "last Tuesday" or "next month"), but you should be generous with your grading - as long as it refers to the same date or time period as the gold answer, it should be counted as CORRECT. Even if the format differs (e.g., "May 7th" vs "7 May"), consider it CORRECT if it's the same date.

Now it’s time for the real question:
Question: {question}
Gold answer: {gold_answer}
Generated answer: {generated_answer}

First, provide a short (one sentence) explanation of your reasoning, then finish with CORRECT or WRONG. 
Do NOT include both CORRECT and WRONG in your response, or it will break the evaluation script.

Just return the label CORRECT or WRONG in a json format with the key as "label".
"""  # noqa: W291 (the original has trailing blanks)


def format_judge_prompt(question: str, gold_answer: Any, generated_answer: str) -> str:
    """The judge's user message. ``gold_answer`` goes through ``str`` as in Mem0's
    ``evals.py`` (integer answers such as 2022 become ``"2022"``). Send it as one user
    message at temperature 0 with JSON output (``response_format={"type": "json_object"}``)."""
    return MEM0_JUDGE_PROMPT.format(question=question, gold_answer=str(gold_answer),
                                    generated_answer=generated_answer)


@dataclass(frozen=True)
class JudgeVerdict:
    """A parsed judge output: ``label`` is ``"CORRECT"``, ``"WRONG"`` or ``None`` (could not
    be read; ``note`` says why). ``note`` is also set when a label was recovered from
    output that was not clean JSON."""

    label: str | None
    note: str | None
    raw: str

    @property
    def score(self) -> int | None:
        """1 for CORRECT, 0 for WRONG, ``None`` when unreadable."""
        return None if self.label is None else int(self.label == "CORRECT")

    @property
    def ok(self) -> bool:
        return self.label is not None


_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_LABEL_KV = re.compile(r"""["']?label["']?\s*[:=]\s*["']?\s*([A-Za-z]+)""", re.IGNORECASE)
_BARE = re.compile(r"\b(CORRECT|WRONG)\b")


def _norm_label(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    v = value.strip().strip("\"'’.!* ").upper()
    return v if v in ("CORRECT", "WRONG") else None


def _json_objects(text: str) -> list[Any]:
    dec = json.JSONDecoder()
    found = []
    for i, ch in enumerate(text):
        if ch == "{":
            try:
                obj, _ = dec.raw_decode(text, i)
            except json.JSONDecodeError:
                continue
            found.append(obj)
    return found


def parse_judge_verdict(output: str | None) -> JudgeVerdict:
    """Read the judge's JSON verdict without ever raising.

    Accepted, in order: the whole output (code fences removed) as JSON with a ``label`` key;
    the last JSON object with a ``label`` key inside a longer text; a ``label: X`` pair in
    broken JSON; finally a single bare ``CORRECT`` or ``WRONG`` in the text (the prompt asks
    for a sentence of reasoning first). Labels are read case-insensitively. Anything else —
    empty output, an unknown label, both CORRECT and WRONG — gives ``label=None`` and a
    ``note`` saying why. (Mem0's script scores any label other than exactly "CORRECT" as 0
    and crashes on non-JSON; count ``None`` as wrong to reproduce it, see
    :func:`aggregate_judge_runs`.)
    """
    raw = "" if output is None else str(output)
    text = _FENCE.sub("", raw.strip()).strip()
    if not text:
        return JudgeVerdict(None, "empty judge output", raw)
    candidates: list[Any] = []
    whole = True
    try:
        candidates.append(json.loads(text))
    except json.JSONDecodeError:
        whole = False
        candidates.extend(reversed(_json_objects(text)))
    for obj in candidates:
        if isinstance(obj, dict):
            keys = {str(k).lower(): v for k, v in obj.items()}
            if "label" in keys:
                label = _norm_label(keys["label"])
                if label is None:
                    return JudgeVerdict(None, f"label {keys['label']!r} is neither CORRECT nor WRONG", raw)
                note = None if whole else "label read from JSON inside text"
                return JudgeVerdict(label, note, raw)
    m = _LABEL_KV.search(text)
    if m:
        label = _norm_label(m[1])
        if label is None:
            return JudgeVerdict(None, f"label {m[1]!r} is neither CORRECT nor WRONG", raw)
        return JudgeVerdict(label, "label read from malformed JSON", raw)
    bare = set(_BARE.findall(text))
    if len(bare) == 1:
        return JudgeVerdict(bare.pop(), "no JSON; label read from the text", raw)
    if len(bare) == 2:
        return JudgeVerdict(None, "output contains both CORRECT and WRONG and no JSON label", raw)
    return JudgeVerdict(None, "no label found (expected JSON {\"label\": \"CORRECT\"|\"WRONG\"})", raw)


@dataclass(frozen=True)
class JudgeRunsSummary:
    """J over several judge runs (docs/benchmark_protocols.md §1: Mem0 reports mean ± std over 10 runs).

    ``per_run`` is each run's accuracy; ``mean``/``std`` are over runs; ``question_means``
    is each question's score averaged over runs (feed it to :func:`per_category_table`)."""

    mean: float
    std: float
    per_run: tuple[float, ...]
    n_runs: int
    n_questions: int
    n_invalid: int  # unreadable verdicts, all runs together
    invalid_policy: str
    question_means: tuple[float | None, ...] = ()


def _score_of(v: Any) -> int | None:
    if isinstance(v, JudgeVerdict):
        return v.score
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if v in (0, 1):
        return int(v)
    raise ValueError(f"judge score {v!r}: expected 1, 0, True, False, None or a JudgeVerdict")


def aggregate_judge_runs(runs: Sequence[Sequence[Any]], *, invalid: str = "wrong",
                         ddof: int = 1) -> JudgeRunsSummary:
    """Aggregate J over judge runs; ``runs[r][i]`` is run ``r``'s verdict on question ``i``
    (1/0/True/False, ``None`` for unreadable, or a :class:`JudgeVerdict`).

    ``invalid="wrong"`` counts unreadable verdicts as 0 (Mem0's behaviour);
    ``invalid="exclude"`` drops them from that run's denominator. ``std`` is the sample
    standard deviation of the run accuracies (``ddof=1``; 0.0 for a single run); pass
    ``ddof=0`` for the population value. All runs must score the same questions.
    """
    if invalid not in ("wrong", "exclude"):
        raise ValueError(f"invalid={invalid!r}: use 'wrong' or 'exclude'")
    if not runs:
        raise ValueError("no judge runs given")
    n_q = len(runs[0])
    if any(len(r) != n_q for r in runs):
        raise ValueError(f"judge runs differ in length ({sorted({len(r) for r in runs})}); every run "
                         "must score the same questions in the same order")
    if n_q == 0:
        raise ValueError("judge runs hold no questions")
    scores = [[_score_of(v) for v in r] for r in runs]
    n_invalid = sum(s is None for r in scores for s in r)
    per_run = []
    for r in scores:
        vals = [0 if s is None else s for s in r] if invalid == "wrong" else [s for s in r if s is not None]
        per_run.append(sum(vals) / len(vals) if vals else float("nan"))
    if ddof not in (0, 1):
        raise ValueError(f"ddof={ddof}: use 1 (sample std) or 0 (population std)")
    if len(per_run) == 1:
        std = 0.0
    else:
        std = statistics.stdev(per_run) if ddof == 1 else statistics.pstdev(per_run)
    q_means: list[float | None] = []
    for i in range(n_q):
        col = [r[i] for r in scores]
        vals = [0 if s is None else s for s in col] if invalid == "wrong" else [s for s in col if s is not None]
        q_means.append(sum(vals) / len(vals) if vals else None)
    return JudgeRunsSummary(mean=statistics.fmean(per_run), std=std, per_run=tuple(per_run),
                            n_runs=len(runs), n_questions=n_q, n_invalid=n_invalid,
                            invalid_policy=invalid, question_means=tuple(q_means))


# =========================================================================== tables


@dataclass(frozen=True)
class CategoryRow:
    """One row of a per-category table: ``key`` is the category number or ``"overall"``."""

    key: int | str
    name: str
    n: int
    means: Mapping[str, float | None]


def per_category_table(categories: Sequence[int], scores: Mapping[str, Sequence[float | None]], *,
                       names: Mapping[int, str] = CATEGORY_NAMES,
                       order: Sequence[int] | None = None) -> list[CategoryRow]:
    """Mean of each metric per category, then an ``overall`` row (micro mean over all
    questions), as Mem0's ``generate_scores.py`` reports. ``None`` scores are left out of a
    mean. Names default to the **official** LoCoMo names (docs/benchmark_protocols.md §1, "Label trap").

    >>> rows = per_category_table([1, 1, 2], {"J": [1, 0, 1]})
    >>> [(r.key, r.n, r.means["J"]) for r in rows]
    [(1, 2, 0.5), (2, 1, 1.0), ('overall', 3, 0.6666666666666666)]
    """
    n = len(categories)
    for metric, vals in scores.items():
        if len(vals) != n:
            raise ValueError(f"metric {metric!r} has {len(vals)} scores for {n} questions")

    def mean(idx: Iterable[int], vals: Sequence[float | None]) -> float | None:
        xs = [float(vals[i]) for i in idx if vals[i] is not None]  # type: ignore[arg-type]
        return sum(xs) / len(xs) if xs else None

    by_cat: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(categories):
        by_cat[c].append(i)
    cats = list(order) if order is not None else sorted(by_cat)
    rows = [
        CategoryRow(c, names.get(c, str(c)), len(by_cat[c]),
                    {m: mean(by_cat[c], v) for m, v in scores.items()})
        for c in cats if c in by_cat
    ]
    rows.append(CategoryRow("overall", "overall", n, {m: mean(range(n), v) for m, v in scores.items()}))
    return rows


def format_category_table(rows: Sequence[CategoryRow], *, percent: bool = True, digits: int = 2) -> str:
    """A Markdown table of :func:`per_category_table` rows (metrics as columns)."""
    metrics = list(rows[0].means) if rows else []
    head = "| category | n | " + " | ".join(metrics) + " |"
    sep = "|---|---:|" + "---:|" * len(metrics)
    lines = [head, sep]
    for r in rows:
        label = f"{r.key} {r.name}" if isinstance(r.key, int) else r.name
        cells = []
        for m in metrics:
            v = r.means[m]
            cells.append("–" if v is None else f"{v * 100 if percent else v:.{digits}f}")
        lines.append(f"| {label} | {r.n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# =========================================================================== evidence recall


@dataclass(frozen=True)
class EvidenceRecall:
    """Evidence recall at ``k`` over the questions that have evidence.

    * ``all``: share of questions whose evidence turns are **all** among the sources of the
      top-``k`` memories (strict: a multi-hop question needs every hop);
    * ``any``: share with **at least one** evidence turn among those sources;
    * ``fraction``: mean share of each question's evidence turns covered (the per-question
      ``recall_acc`` of the original LoCoMo RAG evaluation).
    Values are ``None`` when no question has evidence."""

    k: int | None
    all: float | None
    any: float | None
    fraction: float | None
    n: int  # questions with evidence (the denominator)
    n_without_evidence: int  # left out


def _norm_id(x: Any) -> Hashable:
    if isinstance(x, DiaId):
        return x
    if isinstance(x, tuple) and len(x) == 2 and all(isinstance(v, int) for v in x):
        return DiaId(*x)
    if isinstance(x, str):
        d = parse_dia_id(x)
        return d if d is not None else x.strip()
    return x


def evidence_recall_at_k(evidence: Sequence[Iterable[Any]],
                         retrieved_sources: Sequence[Sequence[Iterable[Any]]],
                         k: int | None) -> EvidenceRecall:
    """Does retrieval surface memories written from the evidence turns?

    ``evidence[i]`` holds question ``i``'s gold dia ids; ``retrieved_sources[i]`` is the
    ranked list of retrieved memories, each given by its provenance (the dia ids it was
    written from, e.g. ``MemoryEntry.source.turns``). The sources at ``k`` are the union of
    the provenance of the first ``k`` memories (``k=None``: all retrieved). Ids may be
    :class:`~deltamem_lib.benchmarks.locomo.DiaId`, ``(s, t)`` tuples or strings
    (``"D1:3"`` and ``"D1:03"`` are the same turn). Questions with no evidence (4 in
    locomo10.json) are left out and counted in ``n_without_evidence``.
    """
    if len(evidence) != len(retrieved_sources):
        raise ValueError(f"{len(evidence)} evidence lists but {len(retrieved_sources)} retrieval lists")
    if k is not None and k < 1:
        raise ValueError(f"k={k}: must be at least 1 (or None for everything retrieved)")
    n = n_all = n_any = 0
    frac = 0.0
    skipped = 0
    for ev, ranked in zip(evidence, retrieved_sources):
        gold = {_norm_id(e) for e in ev}
        if not gold:
            skipped += 1
            continue
        top = ranked if k is None else ranked[:k]
        sources = {_norm_id(s) for mem in top for s in mem}
        hit = len(gold & sources)
        n += 1
        n_all += hit == len(gold)
        n_any += hit > 0
        frac += hit / len(gold)
    if n == 0:
        return EvidenceRecall(k, None, None, None, 0, skipped)
    return EvidenceRecall(k, n_all / n, n_any / n, frac / n, n, skipped)


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


# =========================================================================== PersonaMem


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
