"""The reward refuses a broken similarity instead of scoring it, tells token-less entries apart,
and warns when a comparison goes beyond its stated scale; evidence recall refuses a string for a list."""

from __future__ import annotations

import numpy as np
import pytest

from deltamem_lib.benchmarks.provenance import evidence_recall_at_k
from deltamem_lib.mld import Similarity, memory_levenshtein, memory_levenshtein_reference, ordered_levenshtein


class _Fixed(Similarity):
    def __init__(self, value=None, shape=None, name="broken"):
        self.value, self.shape, self.name = value, shape, name

    def matrix(self, a, b):
        shape = self.shape or (len(a), len(b))
        return np.full(shape, self.value)


@pytest.mark.parametrize("sim,match", [
    (_Fixed(5.0), r"= 5\.0; a similarity must lie in \[0, 1\]"),
    (_Fixed(-0.5), r"= -0\.5"),
    (_Fixed(float("nan")), r"= nan"),
    (_Fixed(0.5, shape=(3, 7)), r"shape \(3, 7\), expected \(1, 1\)"),
    (lambda a, b: 5.0, r"it must lie in \[0, 1\]"),
    (lambda a, b: float("nan"), r"it must lie in \[0, 1\]"),
])
def test_broken_custom_similarity_raises(sim, match):
    with pytest.raises(ValueError, match=match):
        memory_levenshtein(["User has a cat"], ["User owns a dog"], similarity=sim)


def test_broken_similarity_in_the_ordered_variant_raises():
    with pytest.raises(ValueError, match="must lie in"):
        ordered_levenshtein(["a b"], ["c d"], similarity=_Fixed(2.0))


def test_a_valid_custom_similarity_still_works():
    r = memory_levenshtein(["User has a cat"], ["User owns a dog"], similarity=_Fixed(0.8, name="ok"))
    assert r.reward == pytest.approx(0.8)


def test_entries_without_word_tokens_are_not_identical_to_each_other():
    assert memory_levenshtein(["!!!"], ["???"]).reward == 0.0
    assert memory_levenshtein(["!!!"], ["???"], scope="state").reward == 0.0
    assert memory_levenshtein(["🎉"], ["🎂"]).reward == 0.0
    assert memory_levenshtein(["!!!"], ["  !!! "]).reward == 1.0  # same stripped raw text: identical
    assert memory_levenshtein(["!!!"], ["???"]).reward == memory_levenshtein_reference(["!!!"], ["???"])
    # a token-less entry never merges with a normal one either
    assert memory_levenshtein(["!!!", "User has a cat"], ["???", "User has a cat"],
                              scope="state").reward == 0.5


def test_spec_conventions_hold_with_the_new_identity():
    assert memory_levenshtein(["same fact"], ["Same  fact!"]).reward == 1.0
    assert memory_levenshtein([], []).reward == 1.0


def test_evidence_as_a_string_is_refused():
    with pytest.raises(ValueError, match=r"evidence\[0\]: expected a list of turn ids, got the string "
                                         r"'D1:3'"):
        evidence_recall_at_k(["D1:3"], [[["D1:3"]]], k=1)
    assert evidence_recall_at_k([["D1:3"]], [[["D1:3"]]], k=1).all == 1.0


def test_a_comparison_beyond_the_stated_scale_warns():
    import warnings

    from deltamem_lib.mld import MLD_WARN_ENTRIES, MLDScaleWarning, memory_levenshtein

    many = [f"User fact number {i}." for i in range(MLD_WARN_ENTRIES + 1)]
    with pytest.warns(MLDScaleWarning, match=r"pred: 2,001 entries"):
        memory_levenshtein(many, ["User fact number 1."], similarity="exact")
    with warnings.catch_warnings():
        warnings.simplefilter("error", MLDScaleWarning)
        memory_levenshtein(many[:MLD_WARN_ENTRIES], many[:10], similarity="exact")  # at the bound: silent
