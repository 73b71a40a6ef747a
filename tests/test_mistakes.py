"""The catalogue of typical memory-manager mistakes (deltamem_lib.mistakes) and the reward
claims notebook 02 makes about them."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from deltamem_lib.memory import MemoryEntry, MemoryState, Operation, OpType
from deltamem_lib.mistakes import (
    MISTAKE_DESCRIPTIONS,
    MISTAKES,
    TEMPLATES,
    make_prediction,
    make_scenario,
    make_scenarios,
    mistake_rewards,
    paraphrase_text,
    predictions,
    select_records,
    vague_text,
)
from deltamem_lib.mld import Item, keyword_coverage, memory_levenshtein


@pytest.fixture(scope="module")
def scenario():
    return make_scenario(3, n_facts=4)


def _contents(state: MemoryState) -> Counter:
    return Counter(e.content for e in state)


def _update(s):
    return next(op for op in s.operations if op.op is OpType.UPDATE)


def _cov(text: str, keywords) -> float:
    return keyword_coverage(Item.of(text).toks, Item.of("", keywords).kw_toks)


# ----- templates and scenarios ---------------------------------------------------------------
@pytest.mark.parametrize("t", TEMPLATES, ids=[t.topic for t in TEMPLATES])
def test_template_wordings_keep_or_lose_the_keyword(t):
    for v in t.values:
        assert t.value_of(t.fact(v)) == v
        assert _cov(t.paraphrase.format(v=v), [v]) == 1.0, "a paraphrase keeps the keyword"
        assert _cov(t.vague, [v]) == 0.0, "the vague form loses the keyword"
        assert t.paraphrase.format(v=v) != t.fact(v)


def test_topics_are_distinct_and_values_do_not_collide_across_templates():
    assert len({t.topic for t in TEMPLATES}) == len(TEMPLATES)
    for t in TEMPLATES:
        for v in t.values:
            others = [u.topic for u in TEMPLATES if u is not t and u.value_of(t.fact(v)) is not None]
            assert not others, f"{t.fact(v)!r} also parses as {others}"


def test_scenario_shape(scenario):
    assert len(scenario.before) == 4
    kinds = [op.op for op in scenario.operations]
    assert kinds == [OpType.UPDATE, OpType.ADD]
    after = scenario.after
    assert len(after) == 5
    upd = _update(scenario)
    assert scenario.before[upd.memory_id].content != after[upd.memory_id].content
    assert all(e.keywords for e in after), "gold entries carry keywords"
    assert scenario.distractor not in _contents(after)


def test_scenarios_are_seeded():
    a = [s.after.contents() for s in make_scenarios(5, seed=7)]
    b = [s.after.contents() for s in make_scenarios(5, seed=7)]
    c = [s.after.contents() for s in make_scenarios(5, seed=8)]
    assert a == b and a != c


@pytest.mark.parametrize("bad", [1, len(TEMPLATES) - 1])
def test_n_facts_out_of_range_names_the_limits(bad):
    with pytest.raises(ValueError, match="n_facts"):
        make_scenario(0, n_facts=bad)
    with pytest.raises(ValueError, match="at least one"):
        make_scenarios(0)


# ----- each mistake --------------------------------------------------------------------------
def test_predicted_operations_look_like_an_agents(scenario):
    for name, p in predictions(scenario).items():
        assert p.mistake == name
        for op in p.operations:
            assert op.keywords == () and op.evolution is None
            if op.op is OpType.ADD:
                assert op.memory_id is None


def test_perfect_and_do_nothing(scenario):
    preds = predictions(scenario)
    assert _contents(preds["perfect"].state) == _contents(scenario.after)
    assert _contents(preds["do_nothing"].state) == _contents(scenario.before)
    assert preds["do_nothing"].operations == ()


def test_update_mistakes(scenario):
    preds = predictions(scenario)
    upd = _update(scenario)
    old = scenario.before[upd.memory_id].content
    gold = _contents(scenario.after)
    missed = _contents(preds["missed_update"].state)
    assert old in missed and upd.content not in missed
    assert sum(missed.values()) == sum(gold.values())
    deleted = preds["wrong_delete"].state
    assert upd.memory_id not in deleted and upd.content not in _contents(deleted)
    assert len(deleted) == len(scenario.after) - 1
    both = _contents(preds["add_not_update"].state)
    assert old in both and upd.content in both and sum(both.values()) == sum(gold.values()) + 1


def test_extra_adds(scenario):
    preds = predictions(scenario)
    gold = _contents(scenario.after)
    assert _contents(preds["spurious_add"].state) - gold == Counter([scenario.distractor])
    dup = _contents(preds["duplicate_add"].state) - gold
    assert sum(dup.values()) == 1 and next(iter(dup)) in _contents(scenario.before)


def test_rewrites_change_only_the_updated_entry(scenario):
    preds = predictions(scenario)
    upd = _update(scenario)
    for name, cov in (("paraphrase", 1.0), ("keyword_dropped", 0.0)):
        state = preds[name].state
        text = state[upd.memory_id].content
        assert text != upd.content
        assert _cov(text, upd.keywords) == cov
        others = {e.id: e.content for e in state if e.id != upd.memory_id}
        assert others == {e.id: e.content for e in scenario.after if e.id != upd.memory_id}


def test_mistakes_work_on_a_session_outside_the_templates():
    before = MemoryState([MemoryEntry("m1", "Prefers green tea in the morning", keywords=("green tea",)),
                          MemoryEntry("m2", "Has two sisters", keywords=("two sisters",))])
    ops = [Operation.update("m1", "Prefers black coffee in the morning", keywords=("black coffee",)),
           Operation.add("Started a pottery class", keywords=("pottery",))]
    for name in MISTAKES:
        p = make_prediction(name, before, ops)
        assert isinstance(p.state, MemoryState)
    para = make_prediction("paraphrase", before, ops).state["m1"].content
    vague = make_prediction("keyword_dropped", before, ops).state["m1"].content
    assert _cov(para, ["black coffee"]) == 1.0 and _cov(vague, ["black coffee"]) == 0.0
    assert paraphrase_text("Likes jazz") == "According to the user, likes jazz"
    assert vague_text("Likes jazz", ["jazz"]) == "Likes something"
    assert "pottery" not in make_prediction("spurious_add", before, ops).operations[-1].content


def test_errors_say_what_is_missing():
    before = MemoryState([MemoryEntry("m1", "User lives in Berlin")])
    only_add = [Operation.add("User works as a nurse", keywords=("nurse",))]
    with pytest.raises(ValueError, match="missed_update.*UPDATE"):
        make_prediction("missed_update", before, only_add)
    with pytest.raises(ValueError, match="known: perfect"):
        make_prediction("forgot_everything", before, only_add)
    assert make_prediction("paraphrase", before, only_add).state.contents()[-1] != "User works as a nurse"
    assert set(MISTAKE_DESCRIPTIONS) == set(MISTAKES)


# ----- the reward claims of notebook 02 -------------------------------------------------------
@pytest.fixture(scope="module")
def records():
    return mistake_rewards(make_scenarios(10, seed=0))


def _mean(records, mistake, fid, scope="delta"):
    (r,) = select_records(records, mistake=mistake, lexical_fidelity=fid, scope=scope)
    return r["mean"]


def test_records_are_complete_and_json_ready(records):
    assert len(records) == len(MISTAKES) * 2 * 2
    json.dumps(records)
    for r in records:
        assert r["n"] == 10 == len(r["values"])
        assert 0.0 <= r["min"] <= r["mean"] + 1e-12 and r["mean"] <= r["max"] + 1e-12 and r["max"] <= 1.0


def test_perfect_scores_one_and_everything_else_less(records):
    for fid in (True, False):
        for scope in ("delta", "state"):
            assert _mean(records, "perfect", fid, scope) == 1.0
            for m in MISTAKES:
                if m != "perfect":
                    assert _mean(records, m, fid, scope) < 1.0, (m, fid, scope)


def test_lexical_fidelity_removes_stale_and_vague_credit(records):
    """With the keyword check a stale or vague fact earns nothing for the change it misses; the
    dense r_trans still pays the part of the session that is right (docs/mld_spec.md)."""
    expected = {"do_nothing": 0.0, "missed_update": 1 / 2, "keyword_dropped": 2 / 3}
    for m, value in expected.items():
        assert _mean(records, m, True) == pytest.approx(value)
        assert _mean(records, m, False) > value + 0.1, m
    assert _mean(records, "missed_update", False) > 0.8, "stale facts are lexically close to new ones"


def test_dense_r_trans_pays_a_partly_right_session(records):
    """One UPDATE + one ADD, |G ⊖ B| = 3: each mistake earns the share of the transition it got
    right; the residual normalisation (the ablation) gives all of them 0."""
    expected = {"spurious_add": 6 / 7, "duplicate_add": 6 / 7, "wrong_delete": 4 / 5, "add_not_update": 4 / 5}
    residual = mistake_rewards(make_scenarios(10, seed=0), mistakes=list(expected), scopes=["residual"])
    for m, value in expected.items():
        for fid in (True, False):
            assert _mean(records, m, fid) == pytest.approx(value), (m, fid)
            assert _mean(records, m, fid, "state") > 0.8
            assert _mean(residual, m, fid, "residual") == 0.0
    assert 5 / 6 < _mean(records, "paraphrase", True) < 1.0
    with pytest.raises(ValueError, match="'whole'"):
        mistake_rewards(make_scenarios(1), scopes=["whole"])


def test_state_scope_grows_with_the_memory():
    small = mistake_rewards(make_scenarios(3, seed=1, n_facts=2), mistakes=["do_nothing"], scopes=["state"],
                            fidelity=[True])
    big = mistake_rewards(make_scenarios(3, seed=1, n_facts=8), mistakes=["do_nothing"], scopes=["state"],
                          fidelity=[True])
    assert big[0]["mean"] > small[0]["mean"]


def test_a_single_spec_call_agrees_with_the_batch(scenario, records):
    p = predictions(scenario)["missed_update"]
    r = memory_levenshtein(p.state.entries, scenario.after.entries, lexical_fidelity=False)
    assert 0.0 < r.reward < 1.0 and len(r.pairs) == 1


def test_render_operations(scenario):
    preds = predictions(scenario)
    assert preds["do_nothing"].render_operations() == "NOOP"
    line = preds["wrong_delete"].render_operations()
    assert line.startswith("DELETE m") and " · ADD \"" in line
