"""Scoring metrics of the three benchmarks (in their modules of deltamem_lib.benchmarks), checked against
hand-computed values."""

from __future__ import annotations

import importlib.util
import math

import pytest

from deltamem_lib.benchmarks.halumem import (
    AccuracyJudgement,
    IntegrityJudgement,
    UpdateJudgement,
    halumem_extraction_metrics,
    halumem_qa_metrics,
    halumem_typewise_accuracy,
    halumem_update_metrics,
)
from deltamem_lib.benchmarks.judge import (
    MEM0_JUDGE_PROMPT,
    JudgeVerdict,
    aggregate_judge_runs,
    format_judge_prompt,
    parse_judge_verdict,
)
from deltamem_lib.benchmarks.locomo import (
    DiaId,
    bleu1,
    format_category_table,
    locomo_f1,
    locomo_f1_official,
    mem0_tokenize,
    normalize_answer_locomo,
    per_category_table,
    word_tokenize,
)
from deltamem_lib.benchmarks.personamem import mcq_accuracy
from deltamem_lib.benchmarks.provenance import evidence_recall_at_k

# ----------------------------------------------------------------- LoCoMo F1 (Mem0)


def test_mem0_tokenize():
    assert mem0_tokenize("Hi! It's 7 May, 2023.") == ["hi", "it's", "7", "may", "2023"]
    assert mem0_tokenize(2022) == ["2022"]


@pytest.mark.parametrize(
    "pred, ref, f1",
    [
        ("7 May 2023", "May 7, 2023", 1.0),  # same token set
        ("She went to Paris.", "Paris", 0.4),  # P = 1/4, R = 1
        ("the the cat", "the cat", 1.0),  # sets, not multisets (multiset F1 would be 0.8)
        ("in 2022", 2022, 2 / 3),  # integer gold answers go through str()
        ("Caroline's", "Caroline", 0.0),  # apostrophes stay inside tokens
        ("", "x", 0.0),
        (None, "x", 0.0),
        ("...", "x", 0.0),
        ("dog", "cat", 0.0),
    ],
)
def test_locomo_f1(pred, ref, f1):
    assert locomo_f1(pred, ref) == pytest.approx(f1)


# ----------------------------------------------------------------- BLEU-1


@pytest.mark.parametrize(
    "pred, ref, score",
    [
        ("the cat sat", "the cat sat on the mat", math.exp(1 - 6 / 3)),  # p1 = 1, BP = e^(1 - r/c)
        ("the the the", "the cat", 1 / 3),  # clipped counts, c > r so BP = 1
        ("Paris, France.", "paris", 0.25),  # tokens: paris , france .
        ("PARIS", "paris", 1.0),
        ("", "x", 0.0),
        ("dog", "cat", 0.0),
    ],
)
def test_bleu1(pred, ref, score):
    assert bleu1(pred, ref) == pytest.approx(score)


def test_bleu1_accepts_another_tokenizer():
    assert bleu1("a b", "a b c", tokenizer=str.split) == pytest.approx(math.exp(-0.5))


def test_word_tokenize_follows_the_treebank_rules():
    assert word_tokenize("she's moving to the u.s. next year. can't wait!") == [
        "she", "'s", "moving", "to", "the", "u.s.", "next", "year", ".", "ca", "n't", "wait", "!"]
    assert word_tokenize('he said "cannot" (twice)') == [
        "he", "said", "``", "can", "not", "''", "(", "twice", ")"]
    assert word_tokenize("j.k. rowling, r.r. martin.") == ["j.k.", "rowling", ",", "r.r.", "martin", "."]
    assert word_tokenize("$3.88 costs 50% -- ok...") == ["$", "3.88", "costs", "50", "%", "--", "ok", "..."]
    assert word_tokenize("") == []


# ----------------------------------------------------------------- original LoCoMo F1


def test_normalize_answer_locomo():
    assert normalize_answer_locomo("The cat, and a DOG!") == "cat dog"


def test_locomo_f1_official_category_rules():
    ident = str  # identity "stemmer": tests the rules, not Porter
    assert locomo_f1_official("The cat and a dog", "cat, dog", 4, stemmer=ident) == 1.0
    assert locomo_f1_official("cat cat", "cat", 2, stemmer=ident) == pytest.approx(2 / 3)  # multiset
    assert locomo_f1_official("Paris, Rome", "Rome, Berlin", 1, stemmer=ident) == pytest.approx(0.5)
    assert locomo_f1_official("yes likely", "Likely yes; she plays the cello", 3, stemmer=ident) == 1.0
    assert locomo_f1_official("Not mentioned in the conversation", "", 5) == 1.0
    assert locomo_f1_official("Yes", "", 5) == 0.0
    assert locomo_f1_official("cats", "cat", 4, stemmer=ident) == 0.0
    assert locomo_f1_official("cats", "cat", 4, stemmer=lambda w: w.rstrip("s")) == 1.0
    with pytest.raises(ValueError):
        locomo_f1_official("x", "x", 6, stemmer=ident)


@pytest.mark.skipif(importlib.util.find_spec("nltk") is not None, reason="nltk is installed")
def test_locomo_f1_official_without_nltk_says_what_to_do():
    with pytest.raises(ImportError, match="pip install nltk"):
        locomo_f1_official("a", "a", 4)


# ----------------------------------------------------------------- LLM judge


def test_judge_prompt_is_mem0s_and_fills_three_fields():
    assert MEM0_JUDGE_PROMPT.startswith(
        "\nYour task is to label an answer to a question as ’CORRECT’ or ’WRONG’.")
    assert MEM0_JUDGE_PROMPT.count("{") == 3 and MEM0_JUDGE_PROMPT.count("}") == 3
    assert "(posed by one user to another user), \n" in MEM0_JUDGE_PROMPT  # trailing blank kept
    assert MEM0_JUDGE_PROMPT.endswith('in a json format with the key as "label".\n')
    p = format_judge_prompt("When did Ben run?", 2022, "In 2022.")
    assert "Question: When did Ben run?\nGold answer: 2022\nGenerated answer: In 2022.\n" in p


@pytest.mark.parametrize(
    "output, label, noted",
    [
        ('{"label": "CORRECT"}', "CORRECT", False),
        ('```json\n{"label": "wrong"}\n```', "WRONG", False),
        ('The date matches. {"label": "CORRECT"}', "CORRECT", True),
        ('{"label": "CORRECT"', "CORRECT", True),  # missing brace
        ("It refers to the same trip. CORRECT", "CORRECT", True),
        ("CORRECT or WRONG", None, True),
        ('{"label": "MAYBE"}', None, True),
        ('{"label": 1}', None, True),
        ("", None, True),
        (None, None, True),
        ("INCORRECT", None, True),  # not the word CORRECT
    ],
)
def test_parse_judge_verdict(output, label, noted):
    v = parse_judge_verdict(output)
    assert isinstance(v, JudgeVerdict)
    assert v.label == label
    assert (v.note is not None) == noted
    assert v.score == (None if label is None else int(label == "CORRECT"))


def test_aggregate_judge_runs_mean_and_std():
    s = aggregate_judge_runs([[1, 0, 1, 1], [1, 1, 1, 0], [0, 0, 1, 1]])
    assert s.per_run == (0.75, 0.75, 0.5)
    assert s.mean == pytest.approx(2 / 3)
    assert s.std == pytest.approx(math.sqrt(1 / 48))  # sample std of (.75, .75, .5)
    assert aggregate_judge_runs([[1, 0, 1, 1], [1, 1, 1, 0], [0, 0, 1, 1]], ddof=0).std == pytest.approx(
        math.sqrt(1 / 72))
    assert s.question_means == pytest.approx((2 / 3, 1 / 3, 1.0, 2 / 3))
    assert aggregate_judge_runs([[1, 1]]).std == 0.0


def test_aggregate_judge_runs_invalid_verdicts():
    runs = [[parse_judge_verdict('{"label": "CORRECT"}'), None], [True, parse_judge_verdict("??")]]
    wrong = aggregate_judge_runs(runs)
    assert wrong.per_run == (0.5, 0.5) and wrong.n_invalid == 2
    excl = aggregate_judge_runs(runs, invalid="exclude")
    assert excl.per_run == (1.0, 1.0) and excl.question_means == (1.0, None)
    with pytest.raises(ValueError, match="same questions"):
        aggregate_judge_runs([[1, 0], [1]])
    with pytest.raises(ValueError):
        aggregate_judge_runs([[2]])


# ----------------------------------------------------------------- tables


def test_per_category_table_and_markdown():
    rows = per_category_table([1, 1, 2, 4, 4, 4], {"J": [1, 0, 1, 1, 1, 0], "F1": [0.5, None, 1, 0, 0, 0.3]})
    got = {r.key: (r.name, r.n, r.means["J"], r.means["F1"]) for r in rows}
    assert got[1] == ("multi-hop", 2, 0.5, 0.5)
    assert got[2] == ("temporal", 1, 1.0, 1.0)
    assert got[4][:3] == ("single-hop", 3, pytest.approx(2 / 3)) and got[4][3] == pytest.approx(0.1)
    assert got["overall"][2] == pytest.approx(4 / 6) and got["overall"][3] == pytest.approx(0.36)
    assert [r.key for r in rows] == [1, 2, 4, "overall"]
    md = format_category_table(rows)
    assert "| 1 multi-hop | 2 | 50.00 | 50.00 |" in md and md.splitlines()[-1].startswith("| overall | 6 |")
    with pytest.raises(ValueError):
        per_category_table([1, 2], {"J": [1]})


# ----------------------------------------------------------------- evidence recall


def test_evidence_recall_at_k():
    evidence = [["D1:1", "D1:2"], ["D2:1"], [], [DiaId(3, 4)]]
    retrieved = [
        [["D1:1"], ["D5:5"], ["D1:02"]],  # "D1:02" is turn D1:2
        [["D9:9"], ["D2:1", "D2:2"]],
        [["D1:1"]],  # no evidence: left out
        [[(3, 4)]],
    ]
    r1 = evidence_recall_at_k(evidence, retrieved, 1)
    assert (r1.n, r1.n_without_evidence) == (3, 1)
    assert (r1.all == pytest.approx(1 / 3) and r1.any == pytest.approx(2 / 3)
            and r1.fraction == pytest.approx(0.5))
    r2 = evidence_recall_at_k(evidence, retrieved, 2)
    assert r2.all == pytest.approx(2 / 3) and r2.any == 1.0 and r2.fraction == pytest.approx(2.5 / 3)
    r_all = evidence_recall_at_k(evidence, retrieved, None)
    assert (r_all.all, r_all.any, r_all.fraction) == (1.0, 1.0, 1.0)
    assert evidence_recall_at_k([[]], [[["D1:1"]]], 5).all is None
    with pytest.raises(ValueError):
        evidence_recall_at_k(evidence, retrieved, 0)
    with pytest.raises(ValueError):
        evidence_recall_at_k(evidence, retrieved[:2], 1)


# ----------------------------------------------------------------- HaluMem


def test_halumem_extraction_metrics_by_hand():
    integrity = [
        IntegrityJudgement(2, 1.0, False), IntegrityJudgement(1, 0.75, False),
        IntegrityJudgement(0, 0.75, False), IntegrityJudgement(None, 1.0, False),
        IntegrityJudgement(0, 0.75, True), IntegrityJudgement(2, 0.75, True),
        IntegrityJudgement(None, 0.5, True),
    ]
    accuracy = [AccuracyJudgement(2, True), AccuracyJudgement(1, True), AccuracyJudgement(0, False),
                AccuracyJudgement(None, False), AccuracyJudgement(2, False)]
    m = halumem_extraction_metrics(integrity, accuracy)
    assert m.recall == pytest.approx(1 / 4) and m.recall_valid == pytest.approx(1 / 3)
    assert (m.weighted_recall == pytest.approx(1.375 / 3.5)
            and m.weighted_recall_valid == pytest.approx(1.375 / 2.5))
    assert m.fmr == pytest.approx(1 / 3) and m.fmr_valid == pytest.approx(0.5)
    assert m.target_precision == pytest.approx(0.75) and m.target_precision_valid == pytest.approx(0.75)
    assert m.accuracy == pytest.approx(0.5) and m.accuracy_valid == pytest.approx(0.625)
    assert m.f1 == pytest.approx(2 * 0.75 * 0.25 / 1.0)
    assert m.counts["extracted"] == 5 and m.counts["interference_valid"] == 2


def test_halumem_f1_reproduces_the_memos_leaderboard_row():
    # MemOS, Medium: Target P 86.25, R 74.07 -> F1 79.70 (docs/benchmark_protocols.md §2)
    integrity = [IntegrityJudgement(2 if i < 7407 else 0, 1.0, False) for i in range(10000)]
    accuracy = [AccuracyJudgement(2 if i < 69 else 0, True) for i in range(80)]
    m = halumem_extraction_metrics(integrity, accuracy)
    assert (round(m.target_precision, 4), round(m.recall, 4), round(m.f1, 4)) == (0.8625, 0.7407, 0.7970)


def test_halumem_extraction_edge_cases():
    empty = halumem_extraction_metrics([], [])
    assert empty.recall is None and empty.f1 is None and empty.fmr is None
    with pytest.raises(ValueError, match="0, 1, 2"):
        halumem_extraction_metrics([IntegrityJudgement(3, 1.0, False)], [])


def test_halumem_update_rates():
    u = halumem_update_metrics(["Correct", "Correct", "Omission", "hallucination", None, "Bogus", "Other"])
    assert (u.n, u.n_valid) == (7, 5)
    assert u.correct == pytest.approx(2 / 7) and u.rate_valid["Correct"] == pytest.approx(2 / 5)
    assert u.hallucination == pytest.approx(1 / 7) and u.omission == pytest.approx(1 / 7)
    assert u.counts["Other"] == 1
    assert halumem_update_metrics([UpdateJudgement("Correct", "Event Memory")]).correct == 1.0


def test_halumem_qa_rates_per_type():
    q = halumem_qa_metrics(["Correct", "Omission", "Correct", "Hallucination", "Other"],
                           ["A", "A", "B", "B", "B"])
    assert q.correct == pytest.approx(2 / 5) and q.n_valid == 4  # "Other" is not a QA label
    assert q.by_group["A"].correct == 0.5 and q.by_group["A"].omission == 0.5
    assert q.by_group["B"].correct == pytest.approx(1 / 3) and q.by_group["B"].n_valid == 2
    with pytest.raises(ValueError):
        halumem_qa_metrics(["Correct"], ["A", "B"])


def test_halumem_typewise_accuracy():
    integrity = [IntegrityJudgement(2, 1, False, "Persona Memory"),
                 IntegrityJudgement(0, 1, False, "Persona Memory"),
                 IntegrityJudgement(2, 1, True, "Persona Memory"),
                 IntegrityJudgement(1, 1, False, "Event Memory")]
    updates = [UpdateJudgement("Correct", "Event Memory"), UpdateJudgement("Omission", "Persona Memory")]
    t = halumem_typewise_accuracy(integrity, updates)
    assert t["Persona Memory"].total == 3 and t["Persona Memory"].memory_acc == pytest.approx(1 / 3)
    assert t["Event Memory"].integrity_acc == 0.0 and t["Event Memory"].memory_acc == 0.5
    script = halumem_typewise_accuracy(integrity, updates, include_interference=True)
    assert script["Persona Memory"].total == 4 and script["Persona Memory"].memory_acc == 0.5


# ----------------------------------------------------------------- PersonaMem


def test_mcq_accuracy():
    r = mcq_accuracy(["(a)", "(b)", "(c)", "(d)"], ["a", "B", None, "(c)"], ["x", "x", "y", "y"])
    assert (r.n, r.n_correct, r.n_unparsed) == (4, 2, 1) and r.accuracy == 0.5
    assert r.per_group["x"].accuracy == 1.0 and r.per_group["y"].accuracy == 0.0 and r.per_group["y"].n == 2
    with pytest.raises(ValueError):
        mcq_accuracy(["a"], [])
