"""The MLD reward against ``docs/mld_spec.md``: worked examples and properties."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deltamem_lib.memory import MemoryEntry
from deltamem_lib.mld import (
    MLDOptions,
    keyword_coverage,
    memory_levenshtein,
    memory_levenshtein_batch,
    memory_levenshtein_reference,
    ordered_levenshtein,
    tokens,
)

GOLD = [{"content": "User lives in Berlin", "keywords": ["Berlin"]},
        {"content": "User works as a nurse", "keywords": ["nurse"]}]


# ----- the spec's worked examples ----------------------------------------------------------
def test_worked_example_missed_update():
    r = memory_levenshtein(["User lives in Hamburg", "User lives in Berlin now"], GOLD)
    assert r.q_total == pytest.approx(8 / 9)
    assert r.reward == pytest.approx(2 * (8 / 9) / 4)
    assert len(r.pairs) == 1 and r.pairs[0].gold == "User lives in Berlin" and r.pairs[0].cov == 1.0


def test_stale_fact_earns_credit_only_without_lexical_fidelity():
    do_nothing = ["User lives in Hamburg"]
    assert memory_levenshtein(do_nothing, GOLD, lexical_fidelity=False).reward == pytest.approx(0.5)
    assert memory_levenshtein(do_nothing, GOLD).reward == 0.0


def test_conventions_for_empty_deltas():
    assert memory_levenshtein([], []).reward == 1.0
    assert memory_levenshtein(["same fact"], ["Same  fact!"]).reward == 1.0  # identical under norm
    assert memory_levenshtein(["a fact"], []).reward == 0.0
    assert memory_levenshtein([], ["a fact"]).reward == 0.0
    assert memory_levenshtein([], [], scope="state").reward == 1.0


def test_below_threshold_earns_nothing():
    r = memory_levenshtein(["User enjoys chess"], ["User lives in Berlin"], threshold=0.5)
    assert r.reward == 0.0 and r.pairs == ()
    r = memory_levenshtein(["User enjoys chess"], ["User lives in Berlin"], threshold=0.0)
    assert r.reward > 0.0


def test_keyword_coverage_is_contiguous_token_match():
    assert keyword_coverage(tokens("moved to New York City"), [tokens("New York")]) == 1.0
    assert keyword_coverage(tokens("York is new"), [tokens("New York")]) == 0.0
    assert keyword_coverage(tokens("x"), []) == 1.0
    assert keyword_coverage(tokens("a cat named Miso in Leeds"), [tokens("Miso"), tokens("Bristol")]) == 0.5


def test_accepts_entries_strings_and_mappings_alike():
    as_entries = [MemoryEntry("m1", g["content"], keywords=tuple(g["keywords"])) for g in GOLD]
    pred = ["User lives in Berlin now"]
    assert memory_levenshtein(pred, as_entries).reward == memory_levenshtein(pred, GOLD).reward


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="threshold"):
        memory_levenshtein([], [], threshold=1.5)
    with pytest.raises(ValueError, match="scope"):
        memory_levenshtein([], [], scope="global")
    with pytest.raises(ValueError, match="similarity"):
        memory_levenshtein([], [], similarity="cosine")
    with pytest.raises(TypeError, match=r"pred\[1\]"):
        memory_levenshtein(["ok", 3], [])
    with pytest.raises(TypeError, match="single string"):
        memory_levenshtein("a string", [])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        memory_levenshtein(["a"], ["b"], similarity=lambda a, b: 2.0)


def test_callable_similarity_is_used():
    r = memory_levenshtein(["anything"], ["something else"], similarity=lambda a, b: 0.8)
    assert r.reward == pytest.approx(0.8)


def test_state_scope_counts_the_shared_part():
    shared = [f"User fact number {i}" for i in range(8)]
    pred = shared + ["User lives in Hamburg"]
    gold = shared + [GOLD[0]]
    delta = memory_levenshtein(pred, gold)
    state = memory_levenshtein(pred, gold, scope="state")
    assert delta.reward == 0.0  # the stale fact earns nothing
    assert state.reward == pytest.approx(2 * 8 / 18)  # the unchanged part dominates
    assert state.reward == pytest.approx(1 - state.normalized)


# ----- properties ---------------------------------------------------------------------------
WORDS = ["user", "lives", "in", "berlin", "hamburg", "works", "as", "a", "nurse", "cat",
         "named", "miso", "likes", "jazz", "leeds", "teacher", "dog", "runs"]
entry_text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)
entry = st.builds(lambda c, kws: {"content": c, "keywords": kws}, entry_text,
                  st.lists(st.sampled_from(WORDS), max_size=2))
state = st.lists(entry, max_size=7)
options = st.fixed_dictionaries({
    "threshold": st.sampled_from([0.0, 0.3, 0.5, 0.8]),
    "lexical_fidelity": st.booleans(),
    "scope": st.sampled_from(["delta", "state"]),
})


@settings(max_examples=200, deadline=None)
@given(state, state, options)
def test_reward_in_unit_interval_and_equals_one_minus_normalized(P, G, opts):
    r = memory_levenshtein(P, G, **opts)
    assert 0.0 <= r.reward <= 1.0 + 1e-12
    assert r.reward == pytest.approx(1.0 - r.normalized)
    assert r.distance == pytest.approx(len(r.delta_pred) + len(r.delta_gold) - 2 * r.q_total)


@settings(max_examples=100, deadline=None)
@given(state, options)
def test_identical_states_score_one(G, opts):
    assert memory_levenshtein(list(G), G, **opts).reward == 1.0


@settings(max_examples=150, deadline=None)
@given(state, state, options, st.randoms(use_true_random=False))
def test_order_of_entries_does_not_matter(P, G, opts, rnd):
    P2, G2 = list(P), list(G)
    rnd.shuffle(P2)
    rnd.shuffle(G2)
    assert memory_levenshtein(P, G, **opts).reward == pytest.approx(memory_levenshtein(P2, G2, **opts).reward)


@settings(max_examples=150, deadline=None)
@given(state, state, options, st.lists(st.sampled_from(["zebra", "quartz", "violin", "orbit"]), min_size=1,
                                       max_size=4))
def test_spurious_entry_never_raises_reward(P, G, opts, spurious_words):
    spurious = " ".join(spurious_words)  # shares no token with any entry
    assert memory_levenshtein(P + [spurious], G, **opts).reward <= memory_levenshtein(P, G,
                                                                                      **opts).reward + 1e-12


@settings(max_examples=200, deadline=None)
@given(state, state, options)
def test_fast_path_equals_plain_reference(P, G, opts):
    fast = memory_levenshtein(P, G, **opts).reward
    assert fast == pytest.approx(memory_levenshtein_reference(P, G, **opts))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(WORDS[:8]), max_size=7), st.lists(st.sampled_from(WORDS[:8]), max_size=7))
def test_ordered_variant_with_exact_credit_is_insert_delete_distance(P, G):
    n, m = len(P), len(G)
    L = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n):
        for j in range(m):
            L[i + 1][j + 1] = L[i][j] + 1 if P[i] == G[j] else max(L[i][j + 1], L[i + 1][j])
    r = ordered_levenshtein(P, G, similarity="exact")
    assert r.distance == n + m - 2 * L[n][m]
    assert r.reward == pytest.approx(1 - r.normalized)
    costs = sum(c for *_, c in r.alignment)
    assert costs == pytest.approx(r.distance)  # the edit script adds up


def test_ordered_variant_depends_on_order_but_set_version_does_not():
    a = ["User lives in Berlin", "User works as a nurse", "User likes jazz"]
    b = list(reversed(a))
    assert ordered_levenshtein(a, b, similarity="exact").distance > 0
    assert memory_levenshtein(a, b).reward == 1.0


def test_batch_equals_single_calls():
    rnd = random.Random(0)
    pairs = []
    for _ in range(20):
        P = [" ".join(rnd.choices(WORDS, k=rnd.randint(2, 6))) for _ in range(rnd.randint(0, 5))]
        G = [{"content": " ".join(rnd.choices(WORDS, k=4)), "keywords": [rnd.choice(WORDS)]}
             for _ in range(rnd.randint(0, 5))]
        pairs.append((P, G))
    batch = memory_levenshtein_batch(pairs)
    single = [memory_levenshtein(P, G) for P, G in pairs]
    assert [b.reward for b in batch] == pytest.approx([s.reward for s in single])
    assert all(math.isfinite(b.reward) for b in batch)


@pytest.mark.slow
def test_embedding_similarity_offline_prefers_the_paraphrase():
    gold = [{"content": "User adopted a dog named Rex", "keywords": ["Rex"]}]
    para = memory_levenshtein(["The user has a new dog called Rex"], gold, similarity="embedding")
    wrong = memory_levenshtein(["The user bought a red bicycle"], gold, similarity="embedding")
    assert para.reward > wrong.reward
    assert para.pairs and 0.5 <= para.pairs[0].sim <= 1.0
    batch = memory_levenshtein_batch([(["The user has a new dog called Rex"], gold)] * 3,
                                     similarity="embedding")
    assert [b.reward for b in batch] == pytest.approx([para.reward] * 3)


@settings(max_examples=150, deadline=None)
@given(st.lists(entry_text, max_size=6),
       st.lists(st.lists(st.lists(st.sampled_from(WORDS), max_size=3).map(" ".join), max_size=3), max_size=6))
def test_vectorised_coverage_equals_pairwise_definition(preds, gold_keywords):
    from deltamem_lib.mld import Item, coverage_matrix

    a = [Item.of(p) for p in preds]
    b = [Item.of("gold entry", tuple(kws)) for kws in gold_keywords]
    C = coverage_matrix(a, b)
    for i, p in enumerate(a):
        for j, g in enumerate(b):
            assert C[i, j] == pytest.approx(keyword_coverage(p.toks, g.kw_toks))


def test_ordered_script_calls_only_identical_entries_a_match():
    r = ordered_levenshtein(["lives user berlin in"], ["User lives in Berlin"])
    assert r.distance == 0.0  # same tokens: Dice 1, so the substitution is free …
    assert r.alignment[0][0] == "sub"  # … but the entries are not identical
    assert ordered_levenshtein(["User lives in Berlin."], ["user lives in berlin"]).alignment[0][0] == "match"


# ----- the opt-in transition scope (beyond the spec) ---------------------------------------
BEFORE = [{"content": "User lives in Hamburg"}, {"content": "User has a cat named Miso",
                                                 "keywords": ["Miso"]},
          {"content": "User likes jazz"}]
AFTER = [{"content": "User lives in Berlin", "keywords": ["Berlin"]}, BEFORE[1], BEFORE[2],
         {"content": "User works as a nurse", "keywords": ["nurse"]}]


def test_transition_scope_credits_correct_changes_that_delta_ignores():
    two_of_three = ["User lives in Hamburg", "User has a cat named Miso", "User likes jazz",
                    "User works as a nurse"]
    delta = memory_levenshtein(two_of_three, AFTER)
    trans = memory_levenshtein(two_of_three, AFTER, scope="transition", before=BEFORE)
    assert delta.reward == 0.0  # the correct ADD is shared, only the missed update is scored
    assert trans.untouched == 2 and trans.reward == pytest.approx(2 * 1 / 4)  # ADD right, update missed
    nothing = memory_levenshtein([b["content"] for b in BEFORE], AFTER, scope="transition", before=BEFORE)
    perfect = memory_levenshtein(AFTER, AFTER, scope="transition", before=BEFORE)
    assert nothing.reward == 0.0 and perfect.reward == 1.0
    assert {(p.pred_index, p.gold_index) for p in trans.pairs} | set(trans.shared) == {(3, 3)}


def test_transition_scope_needs_before():
    with pytest.raises(ValueError, match="before="):
        memory_levenshtein([], [], scope="transition")
    with pytest.raises(ValueError, match="triples"):
        memory_levenshtein_batch([([], [])], scope="transition")


@settings(max_examples=150, deadline=None)
@given(state, state, state, st.booleans())
def test_transition_reward_is_at_least_delta_reward(P, G, B, fidelity):
    d = memory_levenshtein(P, G, lexical_fidelity=fidelity)
    t = memory_levenshtein(P, G, lexical_fidelity=fidelity, scope="transition", before=B)
    assert 0.0 <= t.reward <= 1.0 + 1e-12
    assert t.reward >= d.reward - 1e-12
    assert t.reward == pytest.approx(1 - t.normalized)
    batch = memory_levenshtein_batch([(P, G, B)], lexical_fidelity=fidelity, scope="transition")
    assert batch[0].reward == pytest.approx(t.reward)


# ----- the dense r_trans: normalised by the two transitions (docs/mld_spec.md step 7) ----------
HAMBURG = [{"content": "User lives in Hamburg"}]
GOLD_AFTER = GOLD  # UPDATE m1 (Hamburg -> Berlin) and ADD the nurse


def test_dense_worked_examples_of_the_spec():
    only_add = ["User lives in Hamburg", "User works as a nurse"]
    dense = memory_levenshtein(only_add, GOLD_AFTER, before=HAMBURG)
    assert dense.normalizer == "transitions" and dense.transitions == (1, 3)
    assert dense.reward == pytest.approx(1 - 2 / 4)  # the ADD right, the update missed
    residual = memory_levenshtein(only_add, GOLD_AFTER)
    assert residual.normalizer == "residual" and residual.reward == 0.0
    near = memory_levenshtein(["User lives in Hamburg", "User lives in Berlin now"], GOLD_AFTER,
                              before=HAMBURG)
    assert near.reward == pytest.approx(1 - (4 - 2 * 8 / 9) / 4)
    two_adds = [{"content": "User works as a nurse", "keywords": ["nurse"]},
                {"content": "User has a dog named Rex", "keywords": ["Rex"]}]
    assert memory_levenshtein(two_adds[:1], two_adds, before=[]).reward == pytest.approx(2 / 3)
    assert memory_levenshtein(HAMBURG, GOLD_AFTER, before=HAMBURG).reward == 0.0  # doing nothing
    assert memory_levenshtein(HAMBURG, HAMBURG, before=HAMBURG).reward == 1.0    # nothing due, nothing done
    stale = memory_levenshtein(HAMBURG, GOLD_AFTER[:1], before=HAMBURG, lexical_fidelity=False)
    assert stale.reward == pytest.approx(1 - (2 - 2 * 0.75) / 2)


def test_dense_one_update_session():
    """A correct UPDATE 1, the new fact added next to the stale one 2/3, a missed update 0."""
    gold = GOLD_AFTER[:1]
    assert memory_levenshtein(gold, gold, before=HAMBURG).reward == 1.0
    kept_stale = memory_levenshtein(["User lives in Hamburg", "User lives in Berlin"], gold, before=HAMBURG)
    assert kept_stale.reward == pytest.approx(2 / 3)
    assert memory_levenshtein(HAMBURG, gold, before=HAMBURG).reward == 0.0


dense_options = st.fixed_dictionaries({"threshold": st.sampled_from([0.0, 0.3, 0.5, 0.8]),
                                       "lexical_fidelity": st.booleans()})


@settings(max_examples=200, deadline=None)
@given(state, state, state, dense_options)
def test_dense_reward_bounds_reference_and_batch(P, G, B, opts):
    r = memory_levenshtein(P, G, before=B, **opts)
    assert 0.0 <= r.reward <= 1.0 + 1e-12
    assert r.reward == pytest.approx(1.0 - r.normalized)
    assert r.distance <= sum(r.transitions) + 1e-9
    assert r.reward == pytest.approx(memory_levenshtein_reference(P, G, before=B, **opts))
    assert memory_levenshtein_batch([(P, G, B)], **opts)[0].reward == pytest.approx(r.reward)
    # the dense reward is never below the residual one when something was due or done
    if sum(r.transitions):
        assert r.reward >= memory_levenshtein(P, G, **opts).reward - 1e-12


@settings(max_examples=150, deadline=None)
@given(state, state, dense_options)
def test_dense_doing_nothing_earns_nothing_with_fidelity_and_exact_keywords(B, extra, opts):
    """Doing nothing (P = B) on a session that only adds entries no entry of B resembles: 0."""
    G = list(B) + [{"content": "zebra quartz " + e["content"], "keywords": ["zebra quartz"]} for e in extra]
    r = memory_levenshtein(B, G, before=B, **{**opts, "lexical_fidelity": True})
    assert r.reward == (1.0 if not extra else 0.0)


def test_mld_options_are_checked_once_and_score_like_the_function():
    pred, gold, before = ["User lives in Berlin."], [{"content": "User lives in Berlin.",
                                                      "keywords": ["Berlin"]}], ["User lives in Hamburg."]
    opts = MLDOptions(threshold=0.4)
    assert opts.score(pred, gold, before=before).reward == memory_levenshtein(
        pred, gold, before=before, threshold=0.4).reward == 1.0
    assert [r.reward for r in opts.score_batch([(pred, gold, before)])] == [1.0]
    assert opts.ordered(pred, gold).distance == 0.0
    for bad, err in (({"threshold": "high"}, ValueError), ({"threshold": -0.1}, ValueError),
                     ({"scope": "global"}, ValueError), ({"lexical_fidelity": 1}, TypeError),
                     ({"similarity": 3}, TypeError)):
        with pytest.raises(err):
            MLDOptions(**bad)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.threshold = 0.9  # type: ignore[misc]
