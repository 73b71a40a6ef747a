"""PersonaMem loader and answer scoring (deltamem_lib.benchmarks.personamem)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deltamem_lib.benchmarks.paths import SAMPLES, search_dirs
from deltamem_lib.benchmarks.personamem import (
    QUESTION_TYPES,
    load_personamem_questions,
    load_shared_contexts,
    official_extract_options,
    official_is_correct,
    parse_option_letter,
    personamem_stats,
    score_personamem,
    visible_context,
)
from deltamem_lib.io import DataFileError

FIX = SAMPLES
QUESTIONS = FIX / "personamem_questions_tiny.csv"
CONTEXTS = FIX / "personamem_contexts_tiny.jsonl"
REAL = next((d / "personamem" / "questions_32k.csv" for d in search_dirs()
             if (d / "personamem" / "questions_32k.csv").is_file()),
            Path("data/personamem/questions_32k.csv"))
needs_real = pytest.mark.skipif(
    not REAL.is_file(),
    reason="real PersonaMem questions not found in data/personamem/ or $DELTAMEM_DATA/personamem/ "
    "(`deltamem data fetch personamem` gets them; the file is never committed)",
)


@pytest.fixture(scope="module")
def qs():
    return load_personamem_questions(QUESTIONS)


@pytest.fixture(scope="module")
def ctx():
    return load_shared_contexts(CONTEXTS)


def test_questions_have_typed_fields(qs):
    assert len(qs) == 3
    q = qs[0]
    assert q.persona_id == 0 and isinstance(q.persona_id, int)
    assert q.question_id == "q-0001" and q.question_type == "recall_user_shared_facts"
    assert q.context_length_in_tokens == 120 and q.distance_to_ref_in_blocks == 1
    assert q.distance_to_ref_proportion_in_context == pytest.approx(0.6667)
    assert qs[2].distance_to_ref_proportion_in_context == pytest.approx(0.5)
    assert q.correct_answer == "(b)" and q.gold_letter == "b"
    assert q.end_index_in_shared_context == 3 and q.line == 2
    # all_options mixes ' and " quoting and contains commas and apostrophes
    assert len(q.all_options) == 4
    assert q.all_options[0] == "(a) Great! Since you dislike live music, that's surprising."
    assert q.all_options[3] == '(d) Great! Since you love "heavy metal", that must have been loud.'
    assert q.all_options_raw.startswith('["(a) Great!')


def test_crlf_and_lf_files_read_the_same(tmp_path, qs):
    raw = QUESTIONS.read_bytes()
    assert b"\r\n" in raw  # the fixture keeps the official CRLF record ends
    lf = tmp_path / "lf.csv"
    lf.write_bytes(raw.replace(b"\r\n", b"\n"))
    assert load_personamem_questions(lf) == qs


def test_contexts_and_visible_prefix(qs, ctx):
    assert len(ctx) == 2
    first = ctx[qs[0].shared_context_id]
    assert first[0]["role"] == "system" and len(first) == 6
    seen = visible_context(qs[0], ctx)
    assert len(seen) == 3 and seen[-1]["content"] == "Jazz is a great choice! Any favourite artists?"
    assert len(visible_context(qs[1], ctx)) == 5  # a later question of the same context sees more
    seen[0]["content"] = "mutated"
    assert ctx[qs[0].shared_context_id][0]["content"] != "mutated"  # a copy, not the store


def test_visible_context_mismatch_errors(qs, ctx):
    with pytest.raises(KeyError, match="same split"):
        visible_context(qs[0], {})
    short = {qs[0].shared_context_id: ctx[qs[0].shared_context_id][:2]}
    with pytest.raises(ValueError, match="different splits"):
        visible_context(qs[0], short)


@pytest.mark.parametrize(
    "text, letter",
    [
        ("(c)", "c"),
        ("c", "c"),
        ("C) Since you love jazz, …", "c"),
        ("c. because", "c"),
        ("Answer: B", "b"),
        ("I would pick (D) here.", "d"),
        ("Reasoning first.\n<final_answer> (a)", "a"),
        ("<final_answer>(b)</final_answer>", "b"),
        ("(a) or (b)", None),
        ("A good idea would be jazz", None),
        ("", None),
        (None, None),
        ("(e)", None),
    ],
)
def test_parse_option_letter(text, letter):
    assert parse_option_letter(text) == letter


def test_official_extraction_reproduces_the_published_rule():
    assert official_extract_options("the answer is (b)") == {"b"}
    # without parentheses every standalone letter a-d counts, including the article "a"
    assert official_extract_options("c) a good option") == {"a", "c"}
    assert official_is_correct("<final_answer> (c)", "(c)")
    assert not official_is_correct("c) a good option", "(c)")
    assert official_is_correct("Thinking about (a) and (c)... <final_answer> c", "(c)")
    assert not official_is_correct("(a) and (c)", "(c)")


def test_score_personamem_overall_and_per_type(qs):
    responses = {"q-0001": "(b)", "q-0002": "I choose (a)", "q-0003": None}
    rep = score_personamem(qs, responses)
    assert rep.n == 3 and rep.n_correct == 1 and rep.accuracy == pytest.approx(1 / 3)
    assert rep.per_group["recall_user_shared_facts"].accuracy == 1.0
    assert rep.per_group["track_full_preference_evolution"].accuracy == 0.0
    assert rep.n_missing == 1 and rep.n_unparsed == 1
    ours = score_personamem(qs, {"q-0001": "B) yes", "q-0002": "d", "q-0003": "(a)"}, official=False)
    assert ours.accuracy == 1.0


def _csv_with(tmp_path: Path, old: str, new: str) -> Path:
    text = QUESTIONS.read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / "bad.csv"
    p.write_text(text.replace(old, new, 1), encoding="utf-8", newline="")
    return p


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (",120,640,", ",12o,640,", ["line 2", "q-0001", "'context_length_in_tokens'", "'12o'"]),
        ('"[""(a) Great! Since', '"{""(a) Great! Since', ["line 2", "'all_options'", "Python-literal"]),
        ("\"['(a) Try a classical album.', ", "\"[", ["line 3", "'correct_answer'", "(a)..(c)"]),
        (",(d),", ",(e),", ["line 3", "q-0002", "'correct_answer'"]),
        (",50%,", ",half,", ["line 4", "q-0003", "'distance_to_ref_proportion_in_context'"]),
        ("end_index_in_shared_context", "end_idx", ["header", "end_index_in_shared_context"]),
        ("q-0002", "q-0001", ["line 3", "'question_id'", "already used on line 2"]),
    ],
)
def test_malformed_csv_names_file_row_and_field(tmp_path, old, new, expected):
    p = _csv_with(tmp_path, old, new)
    with pytest.raises(DataFileError) as err:
        load_personamem_questions(p)
    msg = str(err.value)
    assert str(p) in msg
    for part in expected:
        assert part in msg


def test_malformed_contexts_name_file_line_and_field(tmp_path):
    lines = CONTEXTS.read_text(encoding="utf-8").splitlines()
    cases = [
        (lines + [lines[0]], ["line 3", "already defined on line 1"]),
        ([lines[0], '{"a": [], "b": []}'], ["line 2", "exactly one key"]),
        ([lines[0], '{"c": [{"role": "robot", "content": "x"}]}'], ["line 2", "message 0", "'role'"]),
        ([lines[0], '{"c": [{"role": "user"}]}'], ["line 2", "'content'"]),
        ([lines[0], '{"c": [oops]}'], ["line 2", "invalid JSON"]),
    ]
    for i, (content, expected) in enumerate(cases):
        p = tmp_path / f"ctx{i}.jsonl"
        p.write_text("\n".join(content) + "\n", encoding="utf-8")
        with pytest.raises(DataFileError) as err:
            load_shared_contexts(p)
        msg = str(err.value)
        assert str(p) in msg
        for part in expected:
            assert part in msg, (i, msg)


@needs_real
def test_real_questions_match_the_data_readme():
    qs = load_personamem_questions(REAL)
    stats = personamem_stats(qs)
    assert stats["questions"] == 589
    assert stats["personas"] == 20 and stats["shared_contexts"] == 37
    assert stats["per_type"] == {
        "track_full_preference_evolution": 139,
        "recall_user_shared_facts": 129,
        "recalling_the_reasons_behind_previous_updates": 99,
        "suggest_new_ideas": 93,
        "generalizing_to_new_scenarios": 57,
        "provide_preference_aligned_recommendations": 55,
        "recalling_facts_mentioned_by_the_user": 17,
    }
    assert set(stats["per_type"]) == set(QUESTION_TYPES)
    assert stats["gold_letters"] == {"a": 143, "b": 146, "c": 158, "d": 142}
    assert stats["max_end_index"] == 237
    assert all(len(q.all_options) == 4 for q in qs)
    assert {q.num_irrelevant_tokens for q in qs} == {0}
    assert min(q.context_length_in_tokens for q in qs) == 15560
    assert max(q.context_length_in_tokens for q in qs) == 29539
