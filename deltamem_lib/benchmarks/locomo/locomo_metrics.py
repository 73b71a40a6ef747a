"""LoCoMo's scores, pure functions over strings and scores: Mem0's tokenizer and token-set F1
(:func:`mem0_tokenize`, :func:`locomo_f1`), a dependency-free Penn-Treebank tokenizer
(:func:`word_tokenize`) and NLTK's BLEU-1 (:func:`bleu1`), the original LoCoMo F1 with its
normalisation and optional stemming (:func:`locomo_f1_official`), and the per-category tables
(:func:`per_category_table`, :func:`format_category_table`). The judge J is in
:mod:`deltamem_lib.benchmarks.judge`, evidence recall@k in :mod:`deltamem_lib.benchmarks.provenance`.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .locomo_data import CATEGORY_NAMES

__all__ = [
    "mem0_tokenize",
    "locomo_f1",
    "word_tokenize",
    "bleu1",
    "normalize_answer_locomo",
    "locomo_f1_official",
    "CategoryRow",
    "per_category_table",
    "format_category_table",
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
