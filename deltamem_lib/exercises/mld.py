"""Exercises of notebook 02 (the MLD reward, DeltaMem §3.3): checks that explain.

Predict-then-check questions (:func:`check_reward`, :func:`check_largest_threshold`) compare
a number the reader wrote down with the library's answer and show the computation. Coding
tasks (:func:`check_dice`, :func:`check_order_example`, :func:`check_touched_reward`,
:func:`check_shared_first_counterexample`) run the reader's function or example against the
spec and name the first case that goes wrong.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..memory import MemoryState
from ..mld import (
    EntryLike,
    Item,
    LexicalSimilarity,
    MLDResult,
    SimilaritySpec,
    as_items,
    get_similarity,
    keyword_coverage,
    memory_levenshtein,
    ordered_levenshtein,
)

__all__ = [
    "Check",
    "explain",
    "check_reward",
    "check_largest_threshold",
    "check_dice",
    "check_order_example",
    "touched_reward_reference",
    "check_touched_reward",
    "full_assignment_credit",
    "check_shared_first_counterexample",
]


@dataclass(frozen=True)
class Check:
    """The verdict of a check: ``ok`` True / False / None (not answered yet) and why."""

    ok: bool | None
    message: str

    def __bool__(self) -> bool:
        return bool(self.ok)

    def _repr_markdown_(self) -> str:
        icon = {True: "✅ **Right.**", False: "❌ **Not yet.**", None: "✏️ **Your turn.**"}[self.ok]
        return f"{icon} {self.message}"

    def __str__(self) -> str:
        return self._repr_markdown_()


def _fmt_items(items: Sequence[str]) -> str:
    return ", ".join(f"“{s}”" for s in items) if items else "∅"


def explain(result: MLDResult, pred: Sequence[EntryLike], gold: Sequence[EntryLike],
            threshold: float = 0.5) -> str:
    """The computation behind ``result`` in a few Markdown lines: E, ΔP, ΔG, pairs, formula."""
    P, G = as_items(pred, "pred"), as_items(gold, "gold")
    dp = [P[i].content for i in result.delta_pred]
    dg = [G[j].content for j in result.delta_gold]
    lines = [f"- shared E ({len(result.shared)}): {_fmt_items([P[i].content for i, _ in result.shared])}",
             f"- ΔP ({len(dp)}): {_fmt_items(dp)}", f"- ΔG ({len(dg)}): {_fmt_items(dg)}"]
    for p in result.pairs:
        lines.append(f"- matched “{p.pred}” ↔ “{p.gold}”: sim {p.sim:.3f}, cov {p.cov:.2f}, q {p.q:.3f}")
    S, C = result.sim_matrix, result.cov_matrix
    for r, i in enumerate(result.delta_pred):
        for c, j in enumerate(result.delta_gold):
            if any(p.pred_index == i and p.gold_index == j for p in result.pairs):
                continue
            if S[r, c] >= threshold and C[r, c] < 1:
                lines.append(f"- “{P[i].content}” vs “{G[j].content}”: sim {S[r, c]:.3f} ≥ τ, but "
                             f"cov {C[r, c]:.2f} (keywords {list(G[j].keywords)})")
    n = len(dp) + len(dg)
    if result.scope == "delta":
        formula = (f"r_trans = 2·Q*/(|ΔP|+|ΔG|) = 2·{result.q_total:.3f}/{n} = {result.reward:.3f}" if n
                   else "both deltas are empty: the state is exactly right, r_trans = 1")
    else:
        formula = (f"r_state = 2·(|E|+Q*)/(|P|+|G|) = 2·({len(result.shared)}+{result.q_total:.3f})/"
                   f"{result.n_pred + result.n_gold} = {result.reward:.3f}")
    lines.append(f"- {formula}")
    return "\n".join(lines)


def _no_answer(answer: Any, what: str) -> Check | None:
    if answer is None or answer is Ellipsis:
        return Check(None, f"Write down {what} first (replace `None`), then run the cell again.")
    if not isinstance(answer, (int, float)) or isinstance(answer, bool) or math.isnan(answer):
        return Check(False, f"Expected a number for {what}, got {answer!r}.")
    return None


def check_reward(answer: float | None, pred: Sequence[EntryLike], gold: Sequence[EntryLike], *,
                 tol: float = 0.01, similarity: SimilaritySpec = "lexical", threshold: float = 0.5,
                 lexical_fidelity: bool = True, scope: str = "delta") -> Check:
    """Is ``answer`` the reward of ``pred`` against ``gold`` (within ``tol``)? Shows the computation."""
    early = _no_answer(answer, "your predicted reward")
    if early is not None:
        return early
    res = memory_levenshtein(pred, gold, similarity=similarity, threshold=threshold,
                             lexical_fidelity=lexical_fidelity, scope=scope)
    why = explain(res, pred, gold, threshold)
    if abs(float(answer) - res.reward) <= tol:  # type: ignore[arg-type]
        return Check(True, f"The reward is {res.reward:.3f}.\n\n{why}")
    return Check(False, f"You said {float(answer):.3f}; the reward is {res.reward:.3f}. "  # type: ignore[arg-type]
                        f"Here is the computation:\n\n{why}")


def check_largest_threshold(answer: float | None, pred: Sequence[EntryLike], gold: Sequence[EntryLike], *,
                            tol: float = 0.005, similarity: SimilaritySpec = "lexical") -> Check:
    """Is ``answer`` the largest ``τ`` at which ``pred`` still earns some credit with lexical
    fidelity off? That is the largest ``sim`` between ΔP and ΔG, since credit needs ``sim ≥ τ``."""
    early = _no_answer(answer, "the largest τ")
    if early is not None:
        return early
    res = memory_levenshtein(pred, gold, similarity=similarity, threshold=0.0, lexical_fidelity=False)
    S = res.sim_matrix
    if S.size == 0:
        return Check(False, "ΔP or ΔG is empty here: no τ gives credit, the question has no answer.")
    r, c = np.unravel_index(int(np.argmax(S)), S.shape)
    best = float(S[r, c])
    P, G = as_items(pred), as_items(gold)
    pair = f"“{P[res.delta_pred[r]].content}” vs “{G[res.delta_gold[c]].content}”"
    if abs(float(answer) - best) <= tol:  # type: ignore[arg-type]
        return Check(True, f"The most similar pair, {pair}, has sim {best:.3f}; credit needs sim ≥ τ, "
                           f"so any τ above {best:.3f} takes the stale credit away — and lexical fidelity "
                           "takes it away at every τ.")
    hint = ("Too low: at that τ the pair still earns credit." if answer < best  # type: ignore[operator]
            else "Too high: at that τ no pair earns credit any more.")
    return Check(False, f"{hint} Look for the largest sim between a ΔP entry and a ΔG entry "
                        f"(the alignment heatmap shows it): it is {pair}.")


_DICE_CASES: tuple[tuple[str, str, str], ...] = (
    ("User lives in Berlin now", "User lives in Berlin", "2·|shared tokens| / (|T(p)| + |T(g)|)"),
    ("User lives in Hamburg", "User lives in Berlin", "2·|shared tokens| / (|T(p)| + |T(g)|)"),
    ("The user's home is in Berlin", "user lives in berlin",
     "tokens are `re.findall(r'\\w+', s.lower())`: lower case, and `user's` is two tokens"),
    ("a a a b", "a b b", "a repeated token counts min(count in p, count in g) times: `(Counter(p) & Counter(g))`"),
    ("Hello, WORLD!", "hello world", "case and punctuation do not matter: `re.findall(r'\\w+', s.lower())`"),
    ("", "User works as a nurse", "an empty side shares nothing"),
    ("", "", "both empty gives 0 (the spec's convention), not a division by zero"),
    ("x", "y", "no shared token gives 0"),
)


def check_dice(fn: Callable[[str, str], float]) -> Check:
    """Does ``fn(p, g)`` compute the spec's lexical similarity (Dice of token multisets)?"""
    lex = LexicalSimilarity()
    for a, b, hint in _DICE_CASES:
        want = float(lex.matrix([Item.of(a)], [Item.of(b)])[0, 0])
        try:
            got = fn(a, b)
        except NotImplementedError:
            return Check(None, "`dice` is not written yet: replace the `raise NotImplementedError`.")
        except Exception as exc:  # noqa: BLE001 - the reader's code may fail in any way
            return Check(False, f"`dice({a!r}, {b!r})` raised {type(exc).__name__}: {exc}. Hint: {hint}.")
        if not isinstance(got, (int, float)) or not math.isclose(float(got), want, abs_tol=1e-9):
            return Check(False, f"`dice({a!r}, {b!r})` returned {got!r}, the spec gives {want:.4f}. Hint: {hint}.")
    return Check(True, f"`dice` agrees with the library on all {len(_DICE_CASES)} cases "
                       "(repeated tokens, case, punctuation, empty strings).")


def check_order_example(pred_a: Sequence[EntryLike] | None, pred_b: Sequence[EntryLike] | None,
                        gold: Sequence[EntryLike], *,
                        similarity: SimilaritySpec = "lexical", threshold: float = 0.5) -> Check:
    """Are ``pred_a`` and ``pred_b`` the same memory in two orders whose *ordered* distances
    to ``gold`` differ? (Their set rewards are then equal: the check shows it.)"""
    if pred_a is None or pred_b is None:
        return Check(None, "Fill in `pred_a` and `pred_b` (the same entries in two orders), then run again.")
    A, B = as_items(pred_a, "pred_a"), as_items(pred_b, "pred_b")
    if not A:
        return Check(False, "`pred_a` is empty: list a few entries.")
    if Counter(x.key for x in A) != Counter(x.key for x in B):
        return Check(False, "`pred_a` and `pred_b` must hold the same entries, only in another order.")
    sim = get_similarity(similarity)
    kw = {"similarity": sim, "threshold": threshold}
    oa, ob = ordered_levenshtein(pred_a, gold, **kw).distance, ordered_levenshtein(pred_b, gold, **kw).distance
    sa, sb = memory_levenshtein(pred_a, gold, **kw), memory_levenshtein(pred_b, gold, **kw)
    sets = f"the set distance is {sa.distance:.3f} for both (r_trans {sa.reward:.3f})"
    assert math.isclose(sa.reward, sb.reward), "set reward depends on order: report this as a library bug"
    if math.isclose(oa, ob):
        return Check(False, f"Both orders have ordered distance {oa:.3f}; {sets}. Move an entry that "
                            "matches a gold entry to the other end of the list.")
    return Check(True, f"Ordered distances {oa:.3f} vs {ob:.3f}, while {sets}: the order of a memory "
                       "changes the ordered edit distance but not the set distance.")


def _entries(x: MemoryState | Sequence[EntryLike]) -> list[EntryLike]:
    return list(x.entries) if isinstance(x, MemoryState) else list(x)


def touched_reward_reference(before: MemoryState | Sequence[EntryLike], pred: MemoryState | Sequence[EntryLike],
                             gold: MemoryState | Sequence[EntryLike], *, similarity: SimilaritySpec = "lexical",
                             threshold: float = 0.5, lexical_fidelity: bool = True) -> float:
    """The solution of exercise 6: the library's opt-in ``scope="transition"`` (not the spec's
    reward). It drops the entries identical in all three of ``before``, ``pred`` and ``gold``
    (what the session left untouched and the manager kept), then scores the rest as whole
    states (``scope="state"``), so correct changes earn credit; 1 when nothing is left."""
    return memory_levenshtein(_entries(pred), _entries(gold), similarity=similarity, threshold=threshold,
                              lexical_fidelity=lexical_fidelity, scope="transition", before=_entries(before)).reward


def check_touched_reward(fn: Callable[..., float], *, n_scenarios: int = 3, seed: int = 0) -> Check:
    """Does ``fn(before, pred, gold)`` (MemoryState arguments) match
    :func:`touched_reward_reference` on every mistake of a few scenarios?"""
    from ..mistakes import make_scenarios, predictions

    checked = 0
    for s in make_scenarios(n_scenarios, seed=seed):
        gold = s.after
        for name, p in predictions(s).items():
            want = touched_reward_reference(s.before, p.state, gold)
            try:
                got = fn(s.before, p.state, gold)
            except NotImplementedError:
                return Check(None, "`touched_reward` is not written yet: replace the `raise NotImplementedError`.")
            except Exception as exc:  # noqa: BLE001
                return Check(False, f"on mistake `{name}` your function raised {type(exc).__name__}: {exc}")
            if not isinstance(got, (int, float)) or not math.isclose(float(got), want, abs_tol=1e-6):
                return Check(False, f"on mistake `{name}` you return {got!r}, expected {want:.4f}.\n\n"
                                    f"```\n{s.render()}\n```\nHint: remove only entries present in all three "
                                    "states (a multiset intersection), then call `memory_levenshtein(..., "
                                    "scope=\"state\")` on what is left.")
            checked += 1
    return Check(True, f"Matches the reference on {checked} (scenario, mistake) pairs.")


def full_assignment_credit(pred: Sequence[EntryLike], gold: Sequence[EntryLike], *, threshold: float = 0.5,
                           lexical_fidelity: bool = True) -> float:
    """Best total credit of a one-to-one matching of *all* of ``pred`` and ``gold`` (identical
    entries q = 1, others the spec's q with lexical similarity), without removing the shared
    part first. The spec's credit is ``|E| + Q*``."""
    P, G = as_items(pred, "pred"), as_items(gold, "gold")
    if not P or not G:
        return 0.0
    S = LexicalSimilarity().matrix(P, G)
    Q = np.zeros_like(S)
    for i, p in enumerate(P):
        for j, g in enumerate(G):
            if p.key == g.key:
                Q[i, j] = 1.0
            elif S[i, j] >= threshold:
                Q[i, j] = S[i, j] * (keyword_coverage(p.toks, g.kw_toks) if lexical_fidelity else 1.0)
    r, c = linear_sum_assignment(Q, maximize=True)
    return float(Q[r, c].sum())


def check_shared_first_counterexample(pred: Sequence[EntryLike] | None, gold: Sequence[EntryLike] | None, *,
                                      threshold: float = 0.5) -> Check:
    """Is this a case where removing the identical entries first (spec step 1) gives less
    credit than one assignment over all entries?"""
    if pred is None or gold is None:
        return Check(None, "Fill in `pred` and `gold`, then run again.")
    if not as_items(pred) or not as_items(gold):
        return Check(False, "Both lists need entries.")
    res = memory_levenshtein(pred, gold, threshold=threshold, scope="state")
    spec = len(res.shared) + res.q_total
    full = full_assignment_credit(pred, gold, threshold=threshold)
    if full > spec + 1e-9:
        return Check(True, f"Removing the shared part first gives credit |E| + Q* = {spec:.3f}; one assignment "
                           f"over everything gives {full:.3f}. Breaking an identical pair frees two entries "
                           "that each match something else well.")
    return Check(False, f"Both give credit {spec:.3f}. You need an identical pair (p ≡ g) where p is also "
                        "similar to another gold entry and g to another prediction, while those two are not "
                        "similar to each other. Short made-up sentences like 'c c d' make it easier.")
