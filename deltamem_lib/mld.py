r"""The Memory-based Levenshtein Distance (MLD) and the transition reward ``r_trans``.

DeltaMem (§3.3, Definition 3.1) rewards the memory manager by comparing the memory *state*
its operations produce with the gold state, not its operations with gold operations (many
operation sequences reach the same state). This module implements
``docs/mld_spec.md`` exactly:

1. **Shared part.** :math:`E = P \cap G` (multiset intersection under identity
   ``norm(p) == norm(g)``); :math:`\Delta P = P - E`, :math:`\Delta G = G - E`.
   Where the spec is silent: an entry with no word token at all (only punctuation or
   emoji, ``norm`` is empty) is identical only to an entry with the same stripped raw text,
   so ``"!!!"`` and ``"???"`` are two different entries (``Item.key``).
2. **Similarity** :math:`\mathrm{sim}(p, g) \in [0, 1]`: Dice of token multisets
   (``lexical``), cosine of sentence embeddings clipped to [0, 1] (``embedding``),
   ``exact`` (1 if identical), or any callable. A custom backend whose matrix has the
   wrong shape, a NaN or a value outside [0, 1] raises ``ValueError`` (it would otherwise
   give rewards above 1 or silently 0).
3. **Lexical fidelity** :math:`\mathrm{cov}(p, g)`: share of ``g.keywords`` whose token
   sequence occurs contiguously in ``tokens(p)`` (1 if ``g`` has none).
4. **Credit** :math:`q(p, g) = \mathrm{sim}\cdot\mathrm{cov}` if :math:`\mathrm{sim} \ge \tau`
   else 0.
5. **Optimal transport** :math:`Q^* = \max_\pi \sum q(p, \pi(p))` over one-to-one matchings
   (the assignment problem).
6. **Distance** :math:`\mathrm{MLD} = |\Delta P| + |\Delta G| - 2Q^*`.
7. **Reward** (the dense ``r_trans``): with :math:`B` the gold state before the session,
   normalise by the size of the two transitions,
   :math:`N = |P \ominus B| + |G \ominus B|` (multiset symmetric differences under the
   same identity), :math:`r_{trans} = 1 - \mathrm{MLD}/N`, and 1 when :math:`N = 0`.
   A rollout that makes one of two required changes exactly right earns 2/3; doing nothing
   on a changed session earns 0. Since :math:`\mathrm{MLD} \le |P \ominus G| \le N`
   (the triangle inequality of the symmetric difference), :math:`r_{trans} \in [0, 1]`.
   Without ``before`` the residual is normalised by itself,
   :math:`1 - \mathrm{MLD}/(|\Delta P| + |\Delta G|) = 2Q^*/(|\Delta P| + |\Delta G|)`:
   the **residual normalisation**, kept as an ablation. It gives a partly right session
   nothing, because the correct changes fall into the shared part.
   ``precision`` and ``recall`` are the soft :math:`Q^*/|\Delta P|` and
   :math:`Q^*/|\Delta G|` of the residual in both cases.

``scope="state"`` scores whole states: :math:`r_{state} = 2(|E| + Q^*)/(|P| + |G|)`.
``scope="transition"`` (beyond the spec, opt-in) drops only the entries that the state
before the session, ``P`` and ``G`` all hold unchanged, then scores the rest like
``"state"``: a correct change is credited instead of vanishing into the shared part.
:func:`ordered_levenshtein` is the classic dynamic programme over *ordered* lists, kept for
the derivation in notebook 02. :func:`memory_levenshtein_reference` is a deliberately plain,
per-pair version of the same definition: the tests check the fast path against it and
``speed/bench_mld.py`` measures the difference.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
from scipy.optimize import linear_sum_assignment

from .embeddings import EmbeddingCache
from .hardware import encoder_device
from .memory import MemoryEntry
from .textnorm import normalize_text

__all__ = [
    "tokens",
    "norm",
    "keyword_coverage",
    "coverage_matrix",
    "Item",
    "as_items",
    "MLD_WARN_ENTRIES",
    "MLDScaleWarning",
    "Similarity",
    "LexicalSimilarity",
    "ExactSimilarity",
    "EmbeddingSimilarity",
    "PairwiseSimilarity",
    "get_similarity",
    "checked_matrix",
    "MatchedPair",
    "MLDResult",
    "memory_levenshtein",
    "memory_levenshtein_batch",
    "MLDOptions",
    "memory_levenshtein_reference",
    "transition_sizes",
    "SCOPES",
    "OrderedResult",
    "ordered_levenshtein",
]

_WORD = re.compile(r"\w+")


def tokens(s: str) -> list[str]:
    """``re.findall(r"\\w+", s.lower())`` — the spec's tokenizer — on the normalised text
    (:func:`deltamem_lib.textnorm.normalize_text`: NFC, format characters removed)."""
    return _WORD.findall(normalize_text(s).lower())


def norm(s: str) -> str:
    """Normal form for identity: tokens joined by single spaces."""
    return " ".join(tokens(s))


def _contains(hay: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    if n == 0:
        return False
    first = needle[0]
    return any(hay[i] == first and tuple(hay[i:i + n]) == tuple(needle) for i in range(len(hay) - n + 1))


def keyword_coverage(pred_tokens: Sequence[str], keywords: Sequence[Sequence[str]]) -> float:
    """Share of keywords (each a token sequence) occurring contiguously in ``pred_tokens``.

    1.0 when there are no keywords (spec step 3).
    """
    if not keywords:
        return 1.0
    return sum(_contains(pred_tokens, kw) for kw in keywords) / len(keywords)


@dataclass(frozen=True)
class Item:
    """A memory entry as the reward sees it: content, keywords and their tokenisations."""

    content: str
    keywords: tuple[str, ...] = ()
    toks: tuple[str, ...] = ()
    kw_toks: tuple[tuple[str, ...], ...] = ()
    key: str = ""

    @classmethod
    def of(cls, content: str, keywords: Sequence[str] = ()) -> Item:
        return _make_item(content, tuple(keywords))


@functools.lru_cache(maxsize=1 << 16)
def _make_item(content: str, keywords: tuple[str, ...]) -> Item:
    """Tokenise once per distinct (content, keywords): gold entries recur across rollouts.

    Content and keywords are normalised here (NFC, format characters removed), so an entry
    scores the same however its text was encoded.
    """
    content, keywords = normalize_text(content), tuple(normalize_text(k) for k in keywords)
    t = tuple(tokens(content))
    # identity key: the normal form; without any word token, the stripped raw text (a "\0"
    # prefix keeps it apart from every normal form, which holds word characters only)
    key = " ".join(t) if t else "\0" + content.strip()
    return Item(content, keywords, t, tuple(tuple(tokens(k)) for k in keywords), key)


EntryLike = Union[str, MemoryEntry, Mapping[str, Any], Item]

#: A side with more entries than this draws :class:`MLDScaleWarning`: the similarity and
#: credit matrices hold ``|P|·|G|`` values and the assignment is cubic, so 10,000 × 10,000
#: entries take about 15 s and 3.3 GB (``docs/what_happens_when.md``). Real memories of one
#: user hold tens to hundreds of entries.
MLD_WARN_ENTRIES = 2000


class MLDScaleWarning(UserWarning):
    """A comparison is large enough to take seconds and gigabytes."""


def as_items(entries: Iterable[EntryLike], side: str = "entries") -> list[Item]:
    """Accept strings, ``MemoryEntry`` objects, mappings with ``content`` (and optional
    ``keywords``), or ``Item``; anything else raises naming the position.

    More than :data:`MLD_WARN_ENTRIES` entries draw an :class:`MLDScaleWarning`.
    """
    if isinstance(entries, (str, bytes)):
        raise TypeError(f"{side}: expected a sequence of entries, got a single string")
    out = _items(entries, side)
    if len(out) > MLD_WARN_ENTRIES:
        warnings.warn(f"{side}: {len(out):,} entries; MLD's cost grows with |P|·|G| (10,000 × 10,000 entries "
                      "take about 15 s and 3.3 GB), so expect a long, memory-hungry comparison",
                      MLDScaleWarning, stacklevel=3)
    return out


def _items(entries: Iterable[EntryLike], side: str) -> list[Item]:
    out = []
    for i, e in enumerate(entries):
        if isinstance(e, Item):
            out.append(e)
        elif isinstance(e, str):
            out.append(Item.of(e))
        elif isinstance(e, MemoryEntry):
            out.append(Item.of(e.content, e.keywords))
        elif isinstance(e, Mapping):
            content = e.get("content")
            if not isinstance(content, str):
                raise TypeError(f"{side}[{i}]: mapping needs a string 'content', got "
                                f"{type(content).__name__}")
            kws = e.get("keywords") or ()
            if isinstance(kws, str) or not all(isinstance(k, str) for k in kws):
                raise TypeError(f"{side}[{i}].keywords: expected a list of strings")
            out.append(Item.of(content, tuple(kws)))
        else:
            raise TypeError(f"{side}[{i}]: expected a string, MemoryEntry or mapping, got {type(e).__name__}")
    return out


# ----- similarity backends ------------------------------------------------------------------
class Similarity:
    """A similarity backend: ``matrix(a, b)`` gives ``sim`` for every pair, in [0, 1]."""

    name = "custom"

    def matrix(self, a: Sequence[Item], b: Sequence[Item]) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def prepare(self, items: Iterable[Item]) -> None:
        """Hook for batch use: precompute whatever the backend caches (default: nothing)."""


class LexicalSimilarity(Similarity):
    """Dice coefficient of token multisets, ``2|T(p) ∩ T(g)| / (|T(p)| + |T(g)|)``.

    Vectorised: token counts become a matrix, and the multiset intersection
    ``Σ_v min(a_v, b_v)`` is computed as ``Σ_k [a ≥ k]·[b ≥ k]ᵀ`` — one matrix product per
    level of repetition (rarely more than two in a sentence).
    """

    name = "lexical"

    def matrix(self, a: Sequence[Item], b: Sequence[Item]) -> np.ndarray:
        if not a or not b:
            return np.zeros((len(a), len(b)))
        vocab: dict[str, int] = {}
        ca = [Counter(x.toks) for x in a]
        cb = [Counter(x.toks) for x in b]
        for c in ca + cb:
            for t in c:
                vocab.setdefault(t, len(vocab))
        A = np.zeros((len(a), max(len(vocab), 1)), dtype=np.float32)
        B = np.zeros((len(b), max(len(vocab), 1)), dtype=np.float32)
        for M, cs in ((A, ca), (B, cb)):
            for i, c in enumerate(cs):
                for t, n in c.items():
                    M[i, vocab[t]] = n
        inter = np.zeros((len(a), len(b)), dtype=np.float64)
        k = 1
        while True:
            Ak, Bk = A >= k, B >= k
            if not Ak.any() or not Bk.any():
                break
            inter += Ak.astype(np.float32) @ Bk.astype(np.float32).T
            k += 1
        denom = A.sum(1)[:, None] + B.sum(1)[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denom > 0, 2.0 * inter / np.maximum(denom, 1), 0.0)


class ExactSimilarity(Similarity):
    """1 for identical entries (same ``norm``), else 0: the classic, all-or-nothing credit."""

    name = "exact"

    def matrix(self, a: Sequence[Item], b: Sequence[Item]) -> np.ndarray:
        return np.array([[1.0 if x.key == y.key else 0.0 for y in b] for x in a]).reshape(len(a), len(b))


class EmbeddingSimilarity(Similarity):
    """Cosine of sentence embeddings clipped to [0, 1]; every string is embedded once.

    ``get_similarity("embedding")`` returns one shared instance per model and device, so the
    vectors cached by one reward call serve the next (a GRPO step scores the same gold
    memories for every rollout of a group, and the same users' memories again and again).

    Args:
        model: sentence-transformers id or folder; the default is the bundled offline
            all-MiniLM-L6-v2.
        device: torch device for the encoder; ``"auto"``: the GPU when there is one
            (:func:`deltamem_lib.hardware.encoder_device`).
    """

    name = "embedding"

    def __init__(self, model: str = "all-MiniLM-L6-v2", device: str = "auto"):
        self.device = encoder_device() if device == "auto" else device
        self.cache = EmbeddingCache(model, self.device)

    def prepare(self, items: Iterable[Item]) -> None:
        self.cache.embed([x.content for x in items])

    def matrix(self, a: Sequence[Item], b: Sequence[Item]) -> np.ndarray:
        if not a or not b:
            return np.zeros((len(a), len(b)))
        ea = self.cache.embed([x.content for x in a])
        eb = self.cache.embed([x.content for x in b])
        return np.clip(ea @ eb.T, 0.0, 1.0).astype(np.float64)


class PairwiseSimilarity(Similarity):
    """Wraps a plain callable ``f(pred_text, gold_text) -> float`` (cached per pair)."""

    def __init__(self, fn: Callable[[str, str], float]):
        self.fn = fn
        self.name = getattr(fn, "__name__", "custom")
        self._cache: dict[tuple[str, str], float] = {}

    def matrix(self, a: Sequence[Item], b: Sequence[Item]) -> np.ndarray:
        out = np.zeros((len(a), len(b)))
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                k = (x.content, y.content)
                if k not in self._cache:
                    v = float(self.fn(x.content, y.content))
                    if not (0.0 <= v <= 1.0) or math.isnan(v):
                        raise ValueError(f"similarity function returned {v!r} for {k}; it must lie in [0, 1]")
                    self._cache[k] = v
                out[i, j] = self._cache[k]
        return out


SimilaritySpec = Union[str, Similarity, Callable[[str, str], float]]


_SHARED_EMBEDDING: dict[tuple[str, str], EmbeddingSimilarity] = {}


def get_similarity(spec: SimilaritySpec, **kwargs: Any) -> Similarity:
    """``"lexical"``, ``"exact"``, ``"embedding"`` / ``"embedding:<model id>"``, a
    :class:`Similarity` object, or a callable of two strings."""
    if isinstance(spec, Similarity):
        return spec
    if isinstance(spec, str):
        if spec == "lexical":
            return LexicalSimilarity()
        if spec == "exact":
            return ExactSimilarity()
        if spec == "embedding" or spec.startswith("embedding:"):
            model = spec.split(":", 1)[1] if ":" in spec else kwargs.get("model", "all-MiniLM-L6-v2")
            device = kwargs.get("device", "auto")
            key = (model, encoder_device() if device == "auto" else device)
            if key not in _SHARED_EMBEDDING:  # one vector cache per model and device, kept across calls
                _SHARED_EMBEDDING[key] = EmbeddingSimilarity(*key)
            return _SHARED_EMBEDDING[key]
        raise ValueError(f"similarity={spec!r}: expected 'lexical', 'exact', 'embedding', "
                         "'embedding:<sentence-transformers id>', or a callable")
    if callable(spec):
        return PairwiseSimilarity(spec)
    raise ValueError(f"similarity={spec!r}: expected a name or a callable")


def checked_matrix(S: Any, a: Sequence[Item], b: Sequence[Item], sim: Similarity) -> np.ndarray:
    """``sim``'s matrix for ``a`` × ``b`` as floats, or ``ValueError`` saying what is wrong."""
    name = getattr(sim, "name", type(sim).__name__)
    try:
        M = np.asarray(S, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"similarity {name!r}: matrix() returned {type(S).__name__}, not a numeric "
                         "array") from None
    if M.shape != (len(a), len(b)):
        raise ValueError(f"similarity {name!r}: matrix() returned shape {M.shape}, expected "
                         f"({len(a)}, {len(b)}) (one row per prediction, one column per gold entry)")
    bad = ~np.isfinite(M) | (M < 0.0) | (M > 1.0)
    if bad.any():
        i, j = (int(x) for x in np.argwhere(bad)[0])
        raise ValueError(f"similarity {name!r}: sim({a[i].content!r:.40}, {b[j].content!r:.40}) = "
                         f"{float(M[i, j])!r}; a similarity must lie in [0, 1] ({int(bad.sum())} bad "
                         "value(s))")
    return M


def coverage_matrix(a: Sequence[Item], b: Sequence[Item]) -> np.ndarray:
    """``cov(p, g)`` for every pair at once (spec step 3).

    Each distinct gold keyword gets a row of a presence matrix, filled by looking up every
    n-gram of every prediction (n up to the longest keyword) in a dictionary of keywords;
    ``cov`` is then a weighted sum, one matrix product. Equals :func:`keyword_coverage`
    pair by pair.
    """
    C = np.ones((len(a), len(b)))
    index: dict[tuple[str, ...], int] = {}
    for g in b:
        for kw in g.kw_toks:
            if kw:
                index.setdefault(kw, len(index))
    if not index:  # no gold entry has a non-empty keyword: those with only empty ones get 0
        C[:, [bool(g.kw_toks) for g in b]] = 0.0
        return C
    lengths = sorted({len(k) for k in index})
    present = np.zeros((len(index), len(a)))
    for i, p in enumerate(a):
        t = p.toks
        for n in lengths:
            for s in range(len(t) - n + 1):
                k = index.get(t[s:s + n])
                if k is not None:
                    present[k, i] = 1.0
    W = np.zeros((len(b), len(index)))
    has_kw = np.zeros(len(b), dtype=bool)
    for j, g in enumerate(b):
        if g.kw_toks:
            has_kw[j] = True
            for kw in g.kw_toks:
                if kw:  # an empty keyword never occurs: it only lowers the share
                    W[j, index[kw]] += 1.0 / len(g.kw_toks)
    C[:, has_kw] = (W[has_kw] @ present).T
    return C


@functools.lru_cache(maxsize=1)
def _blas_controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return None
    return ThreadpoolController()


def _one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """Run the reward's small matrix products on one BLAS thread.

    Measured on 2 cores: with the machine loaded (a GRPO step, other processes),
    multi-threaded OpenBLAS made a 200-entry comparison 30x slower (1.5 ms to 46 ms) while
    one thread kept it at 1.5 ms. Entering the limit costs about 15 µs.
    """
    c = _blas_controller()
    return c.limit(limits=1, user_api="blas") if c is not None else contextlib.nullcontext()


# ----- results ------------------------------------------------------------------------------
@dataclass(frozen=True)
class MatchedPair:
    """A substitution of the optimal matching (indices into the original ``pred``/``gold``)."""

    pred_index: int
    gold_index: int
    pred: str
    gold: str
    sim: float
    cov: float
    q: float


@dataclass(frozen=True)
class MLDResult:
    """The outcome of one comparison; ``reward == 1 - normalized`` always holds."""

    reward: float
    distance: float
    normalized: float
    precision: float
    recall: float
    q_total: float
    pairs: tuple[MatchedPair, ...]
    shared: tuple[tuple[int, int], ...]
    delta_pred: tuple[int, ...]
    delta_gold: tuple[int, ...]
    n_pred: int
    n_gold: int
    scope: str
    sim_matrix: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros((0, 0)))
    cov_matrix: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros((0, 0)))
    q_matrix: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros((0, 0)))
    untouched: int = 0  # scope="transition": entries before, pred and gold all hold unchanged
    #: what ``distance`` is divided by: ``"transitions"`` (|P ⊖ B| + |G ⊖ B|, the dense
    #: ``r_trans``), ``"residual"`` (|ΔP| + |ΔG|, the ablation) or ``"states"`` (|P| + |G|)
    normalizer: str = "residual"
    transitions: tuple[int, int] = (0, 0)  # (|P ⊖ B|, |G ⊖ B|) when normalizer == "transitions"

    @property
    def unmatched_pred(self) -> tuple[int, ...]:
        """Predicted entries counted as insertions (in ΔP, not in a pair with q > 0)."""
        used = {p.pred_index for p in self.pairs}
        return tuple(i for i in self.delta_pred if i not in used)

    @property
    def unmatched_gold(self) -> tuple[int, ...]:
        """Gold entries counted as deletions (missed by the prediction)."""
        used = {p.gold_index for p in self.pairs}
        return tuple(i for i in self.delta_gold if i not in used)

    def summary(self) -> str:
        return (f"r_trans={self.reward:.3f}  MLD={self.distance:.3f} (norm {self.normalized:.3f})  "
                f"P={self.precision:.3f} R={self.recall:.3f}  |ΔP|={len(self.delta_pred)} "
                f"|ΔG|={len(self.delta_gold)} shared={len(self.shared)} Q*={self.q_total:.3f}")


SCOPES = ("delta", "state", "transition")


def _check_options(threshold: float, scope: str, has_before: bool | None = None) -> None:
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold={threshold!r}: must be a number in [0, 1]")
    if scope not in SCOPES:
        raise ValueError(f"scope={scope!r}: expected 'delta' (the paper's r_trans), 'state' or 'transition'")
    if scope == "transition" and has_before is False:
        raise ValueError("scope='transition' needs before= (the gold state before the session)")


def _shared(P: Sequence[Item], G: Sequence[Item]) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Multiset intersection under identity: each gold entry absorbs at most one prediction.

    Where several entries share one identity but differ in raw text or keywords, which of them
    are absorbed is decided in a canonical order (by content, then keywords), so the result
    does not depend on the order in which the states list their entries."""
    free: dict[str, list[int]] = {}
    for j in sorted(range(len(G)), key=lambda j: (G[j].content, G[j].keywords, j)):
        free.setdefault(G[j].key, []).append(j)
    shared, dP = [], []
    for i in sorted(range(len(P)), key=lambda i: (P[i].content, P[i].keywords, i)):
        js = free.get(P[i].key)
        if js:
            shared.append((i, js.pop(0)))
        else:
            dP.append(i)
    shared.sort()
    dP.sort()
    taken = {j for _, j in shared}
    dG = [j for j in range(len(G)) if j not in taken]
    return shared, dP, dG


def transition_sizes(P: Sequence[Item], G: Sequence[Item], before: Sequence[Item]) -> tuple[int, int]:
    """``(|P ⊖ B|, |G ⊖ B|)``: multiset symmetric differences under identity (``Item.key``)."""
    b = Counter(x.key for x in before)

    def sym(side: Sequence[Item]) -> int:
        c = Counter(x.key for x in side)
        return sum(((c - b) + (b - c)).values())

    return sym(P), sym(G)


def _score(P: list[Item], G: list[Item], sim: Similarity, threshold: float,
           lexical_fidelity: bool, scope: str, before: list[Item] | None = None) -> MLDResult:
    shared, dP, dG = _shared(P, G)
    a, b = [P[i] for i in dP], [G[j] for j in dG]
    S = checked_matrix(sim.matrix(a, b), a, b, sim) if a and b else np.zeros((len(a), len(b)))
    C = coverage_matrix(a, b) if lexical_fidelity and S.size else np.ones_like(S)
    Q = np.where(S >= threshold, S * C, 0.0)
    pairs: list[MatchedPair] = []
    q_total = 0.0
    if Q.size and Q.max() > 0:
        rows, cols = linear_sum_assignment(Q, maximize=True)
        for r, c in zip(rows, cols):
            if Q[r, c] > 0:
                q_total += float(Q[r, c])
                pairs.append(MatchedPair(dP[r], dG[c], a[r].content, b[c].content,
                                         float(S[r, c]), float(C[r, c]), float(Q[r, c])))
    n_dp, n_dg = len(dP), len(dG)
    distance = n_dp + n_dg - 2.0 * q_total
    transitions = (0, 0)
    if scope == "delta":
        credit_p, credit_g, size_p, size_g = q_total, q_total, n_dp, n_dg
        if before is None:
            denom, normalizer = n_dp + n_dg, "residual"
        else:
            transitions = transition_sizes(P, G, before)
            denom, normalizer = sum(transitions), "transitions"
    else:
        normalizer = "states"
        denom = len(P) + len(G)
        credit_p = credit_g = len(shared) + q_total
        size_p, size_g = len(P), len(G)
        distance_state = denom - 2.0 * (len(shared) + q_total)
        assert abs(distance_state - distance) < 1e-9
    normalized = distance / denom if denom else 0.0
    if normalized > 1.0 + 1e-9:  # MLD <= |P ⊖ G| <= N; a violation is a bug, not a reward
        raise AssertionError(f"MLD {distance} exceeds its normaliser {denom}")
    reward = 1.0 - normalized
    precision = credit_p / size_p if size_p else (1.0 if size_g == 0 else 0.0)
    recall = credit_g / size_g if size_g else (1.0 if size_p == 0 else 0.0)
    return MLDResult(
        reward=reward, distance=distance, normalized=normalized, precision=precision, recall=recall,
        q_total=q_total, pairs=tuple(sorted(pairs, key=lambda p: p.gold_index)), shared=tuple(shared),
        delta_pred=tuple(dP), delta_gold=tuple(dG), n_pred=len(P), n_gold=len(G), scope=scope,
        sim_matrix=S, cov_matrix=C, q_matrix=Q, normalizer=normalizer, transitions=transitions,
    )


def _untouched(before: Sequence[Item], P: Sequence[Item], G: Sequence[Item]) -> tuple[list[int], list[int]]:
    """Indices of P and G left after removing the entries that ``before``, ``P`` and ``G``
    all hold unchanged (a multiset intersection of the three under identity)."""
    common = Counter(b.key for b in before) & Counter(p.key for p in P) & Counter(g.key for g in G)
    keep = []
    for side in (P, G):
        left = Counter(common)
        idx = []
        for i, x in enumerate(side):
            if left[x.key] > 0:
                left[x.key] -= 1
            else:
                idx.append(i)
        keep.append(idx)
    return keep[0], keep[1]


def _score_transition(P: list[Item], G: list[Item], before: list[Item], sim: Similarity, threshold: float,
                      lexical_fidelity: bool) -> MLDResult:
    kp, kg = _untouched(before, P, G)
    r = _score([P[i] for i in kp], [G[j] for j in kg], sim, threshold, lexical_fidelity, "state")
    return dataclasses.replace(
        r, scope="transition", n_pred=len(P), n_gold=len(G), untouched=len(P) - len(kp),
        pairs=tuple(dataclasses.replace(m, pred_index=kp[m.pred_index], gold_index=kg[m.gold_index])
                    for m in r.pairs),
        shared=tuple((kp[i], kg[j]) for i, j in r.shared),
        delta_pred=tuple(kp[i] for i in r.delta_pred), delta_gold=tuple(kg[j] for j in r.delta_gold),
    )


def memory_levenshtein(pred: Iterable[EntryLike], gold: Iterable[EntryLike], *,
                       similarity: SimilaritySpec = "lexical", threshold: float = 0.5,
                       lexical_fidelity: bool = True, scope: str = "delta",
                       before: Iterable[EntryLike] | None = None) -> MLDResult:
    """Score a predicted memory state against the gold state (``docs/mld_spec.md``).

    Args:
        pred: the predicted state ``P`` (gold state before the session with the agent's
            operations applied): strings, ``MemoryEntry`` objects or mappings.
        gold: the gold state ``G`` after the session; its entries' ``keywords`` are what
            lexical fidelity checks.
        similarity: ``"lexical"`` (Dice, deterministic), ``"embedding"`` (offline MiniLM,
            or ``"embedding:<model id>"``), ``"exact"``, a ``Similarity`` or a callable.
        threshold: ``τ``; pairs less similar than this earn no credit.
        lexical_fidelity: check gold keywords in the matched prediction (``cov``); off is
            the ablation of the paper's Figure 3.
        scope: ``"delta"`` (``r_trans``, the default), ``"state"`` (whole states), or
            ``"transition"`` — a variant beyond the spec: only the entries that ``before``,
            ``pred`` and ``gold`` all hold unchanged are dropped, and the rest is scored
            like ``"state"``.
        before: the gold state before the session. With ``scope="delta"`` it makes the
            reward the dense ``r_trans`` (``1 − MLD / (|P ⊖ B| + |G ⊖ B|)``, partial credit
            for a partly right session); without it the residual normalisation (the
            ablation: a partly right session scores 0) is used and the result's
            ``normalizer`` says ``"residual"``. Needed by ``scope="transition"``.

    Returns:
        :class:`MLDResult` with ``reward``, ``distance``, ``normalized``, ``precision``,
        ``recall``, the matched ``pairs`` and the matrices behind them.
    """
    _check_options(threshold, scope, before is not None)
    P, G, sim = as_items(pred, "pred"), as_items(gold, "gold"), get_similarity(similarity)
    with _one_blas_thread():
        B = None if before is None else as_items(before, "before")
        if scope == "transition":
            return _score_transition(P, G, B, sim, threshold, lexical_fidelity)  # type: ignore[arg-type]
        return _score(P, G, sim, threshold, lexical_fidelity, scope, B if scope == "delta" else None)


def memory_levenshtein_batch(pairs: Iterable[Sequence[Iterable[EntryLike]]], *,
                             similarity: SimilaritySpec = "lexical", threshold: float = 0.5,
                             lexical_fidelity: bool = True, scope: str = "delta") -> list[MLDResult]:
    """Score many ``(pred, gold)`` pairs or ``(pred, gold, before)`` triples with one
    similarity backend (triples are needed by ``scope="transition"``; under ``"delta"`` a
    triple gives the dense ``r_trans`` and a pair the residual normalisation).

    Strings are tokenised once (entries repeated across rollouts share their ``Item``), and
    with ``similarity="embedding"`` every distinct string of the batch is embedded in one
    call, so the gold entries shared by the rollouts of a prompt are embedded once.
    """
    _check_options(threshold, scope)
    sim = get_similarity(similarity)
    memo: dict[tuple[str, tuple[str, ...]], Item] = {}

    def items(entries: Iterable[EntryLike], side: str) -> list[Item]:
        out = []
        for it in as_items(_pre_items(entries, memo), side):
            out.append(memo.setdefault((it.content, it.keywords), it))
        return out

    prepared = []
    for k, pair in enumerate(pairs):
        if len(pair) not in (2, 3):
            raise ValueError(f"pairs[{k}]: expected (pred, gold) or (pred, gold, before), got {len(pair)} "
                             "items")
        if scope == "transition" and len(pair) != 3:
            raise ValueError(f"pairs[{k}]: scope='transition' needs (pred, gold, before) triples")
        prepared.append([items(x, f"pairs[{k}][{n}]") for n, x in enumerate(pair)])
    sim.prepare(memo.values())
    with _one_blas_thread():
        if scope == "transition":
            return [_score_transition(P, G, B, sim, threshold, lexical_fidelity) for P, G, B in prepared]
        return [_score(t[0], t[1], sim, threshold, lexical_fidelity, scope,
                       t[2] if scope == "delta" and len(t) == 3 else None) for t in prepared]


@dataclass(frozen=True)
class MLDOptions:
    """The settings of one MLD score as a single value, checked once when it is made.

    Training (the reward functions, the environment's ``get_reward``), the agent harness and
    the ablations pass this object instead of four loose keywords, so a setting cannot be
    dropped or misspelled on the way. Construct it with the same names as
    :func:`memory_levenshtein`'s keywords; a wrong type or value is refused here, not at the
    first reward call. ``dataclasses.replace(opts, scope="state")`` makes a variant.

    Attributes:
        similarity: ``"lexical"``, ``"embedding"``, ``"exact"``, a ``Similarity`` or a callable.
        threshold: ``τ`` in [0, 1].
        lexical_fidelity: the keyword check (off: the paper's Figure 3 ablation).
        scope: ``"delta"`` (``r_trans``), ``"state"`` or ``"transition"``.
    """

    similarity: SimilaritySpec = "lexical"
    threshold: float = 0.5
    lexical_fidelity: bool = True
    scope: str = "delta"

    def __post_init__(self) -> None:
        if not isinstance(self.lexical_fidelity, bool):
            raise TypeError(f"lexical_fidelity={self.lexical_fidelity!r}: must be True or False")
        if not (isinstance(self.similarity, (str, Similarity)) or callable(self.similarity)):
            raise TypeError(f"similarity={self.similarity!r}: expected a name, a Similarity or a callable")
        _check_options(self.threshold, self.scope)

    def kwargs(self) -> dict[str, Any]:
        """The options as :func:`memory_levenshtein` keywords (the similarity object is not copied)."""
        return {"similarity": self.similarity, "threshold": self.threshold,
                "lexical_fidelity": self.lexical_fidelity, "scope": self.scope}

    def score(self, pred: Iterable[EntryLike], gold: Iterable[EntryLike], *,
              before: Iterable[EntryLike] | None = None) -> MLDResult:
        """:func:`memory_levenshtein` with these options."""
        return memory_levenshtein(pred, gold, before=before, **self.kwargs())

    def score_batch(self, pairs: Iterable[Sequence[Iterable[EntryLike]]]) -> list[MLDResult]:
        """:func:`memory_levenshtein_batch` with these options."""
        return memory_levenshtein_batch(pairs, **self.kwargs())

    def ordered(self, pred: Sequence[EntryLike], gold: Sequence[EntryLike]) -> OrderedResult:
        """:func:`ordered_levenshtein` with these options (it has no scope: whole ordered states)."""
        return ordered_levenshtein(pred, gold, similarity=self.similarity, threshold=self.threshold,
                                   lexical_fidelity=self.lexical_fidelity)


def _pre_items(entries: Iterable[EntryLike],
               memo: dict[tuple[str, tuple[str, ...]], Item]) -> list[EntryLike]:
    """Swap entries already tokenised in this batch for their cached ``Item``."""
    if isinstance(entries, (str, bytes)):
        return entries  # type: ignore[return-value]  # as_items reports the error
    out: list[EntryLike] = []
    for e in entries:
        if isinstance(e, str):
            out.append(memo.get((e, ()), e))
        elif isinstance(e, MemoryEntry):
            out.append(memo.get((e.content, e.keywords), e))
        else:
            out.append(e)
    return out


# ----- the plain reference version ----------------------------------------------------------
def memory_levenshtein_reference(pred: Sequence[EntryLike], gold: Sequence[EntryLike], *,
                                 threshold: float = 0.5, lexical_fidelity: bool = True,
                                 scope: str = "delta", before: Sequence[EntryLike] | None = None) -> float:
    """The spec written out pair by pair in plain Python (lexical similarity only).

    Readable, and slow on large states: the tests compare :func:`memory_levenshtein`
    against it, and ``speed/bench_mld.py`` times both.
    """
    P, G = as_items(pred, "pred"), as_items(gold, "gold")
    canonical = lambda x: (x.content, x.keywords)  # noqa: E731  (which twin is absorbed: spec step 1)
    free = Counter(g.key for g in G)          # gold entries not yet absorbed, by identity
    dP = []
    for p in sorted(P, key=canonical):
        if free[p.key] > 0:
            free[p.key] -= 1                  # shared: p is identical to a gold entry
        else:
            dP.append(p)
    absorbed = Counter(g.key for g in G)
    absorbed.subtract(free)
    dG = []
    for g in sorted(G, key=canonical):
        if absorbed[g.key] > 0:
            absorbed[g.key] -= 1
        else:
            dG.append(g)
    Q = [[0.0] * len(dG) for _ in dP]
    for i, p in enumerate(dP):
        for j, g in enumerate(dG):
            tp, tg = Counter(p.toks), Counter(g.toks)
            total = sum(tp.values()) + sum(tg.values())
            s = 2 * sum((tp & tg).values()) / total if total else 0.0
            if s >= threshold:
                c = keyword_coverage(p.toks, g.kw_toks) if lexical_fidelity else 1.0
                Q[i][j] = s * c
    q_total = 0.0
    if dP and dG:
        r, c = linear_sum_assignment(np.array(Q), maximize=True)
        q_total = float(sum(Q[i][j] for i, j in zip(r, c)))
    if scope == "delta" and before is not None:
        B = as_items(before, "before")
        n = 0
        for side in (P, G):               # |P ⊖ B| + |G ⊖ B|, counted key by key
            cs, cb = Counter(x.key for x in side), Counter(b.key for b in B)
            n += sum(abs(cs[k] - cb[k]) for k in set(cs) | set(cb))
        mld = len(dP) + len(dG) - 2 * q_total
        return 1 - mld / n if n else 1.0
    if scope == "delta":
        denom = len(dP) + len(dG)
        return 2 * q_total / denom if denom else 1.0
    denom = len(P) + len(G)
    return 2 * (len(P) - len(dP) + q_total) / denom if denom else 1.0


# ----- the ordered variant --------------------------------------------------------------------
@dataclass(frozen=True)
class OrderedResult:
    """Edit distance over ordered entry lists; ``alignment`` lists the edit script as
    ``(op, pred_index, gold_index, cost)`` with op in ``match``/``sub``/``del``/``ins``."""

    distance: float
    normalized: float
    reward: float
    alignment: tuple[tuple[str, int | None, int | None, float], ...]


def ordered_levenshtein(pred: Sequence[EntryLike], gold: Sequence[EntryLike], *,
                        similarity: SimilaritySpec = "lexical", threshold: float = 0.5,
                        lexical_fidelity: bool = True) -> OrderedResult:
    """Levenshtein distance between two *ordered* lists of memory entries.

    Insertion and deletion cost 1, substitution ``2·(1 − q)`` (0 for identical entries).
    With ``similarity="exact"`` it equals ``|P| + |G| − 2·LCS``. Notebook 02 shows how
    dropping the order turns this dynamic programme into :func:`memory_levenshtein`.
    """
    _check_options(threshold, "delta")
    P, G = as_items(pred, "pred"), as_items(gold, "gold")
    with _one_blas_thread():
        sim = get_similarity(similarity)
        S = checked_matrix(sim.matrix(P, G), P, G, sim) if P and G else np.zeros((len(P), len(G)))
    n, m = len(P), len(G)
    sub = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            if P[i].key == G[j].key:
                sub[i, j] = 0.0
                continue
            s = S[i, j]
            cov = keyword_coverage(P[i].toks, G[j].kw_toks) if lexical_fidelity else 1.0
            q = s * cov if s >= threshold else 0.0
            sub[i, j] = 2.0 * (1.0 - q)
    D = np.zeros((n + 1, m + 1))
    D[:, 0] = np.arange(n + 1)
    D[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            D[i, j] = min(D[i - 1, j] + 1, D[i, j - 1] + 1, D[i - 1, j - 1] + sub[i - 1, j - 1])
    # trace back one optimal edit script
    script: list[tuple[str, int | None, int | None, float]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and math.isclose(D[i, j], D[i - 1, j - 1] + sub[i - 1, j - 1]):
            c = float(sub[i - 1, j - 1])
            same = P[i - 1].key == G[j - 1].key  # "match" only for identical entries
            script.append(("match" if same else "sub", i - 1, j - 1, c))
            i, j = i - 1, j - 1
        elif i > 0 and math.isclose(D[i, j], D[i - 1, j] + 1):
            script.append(("del", i - 1, None, 1.0))
            i -= 1
        else:
            script.append(("ins", None, j - 1, 1.0))
            j -= 1
    dist = float(D[n, m])
    normalized = dist / (n + m) if n + m else 0.0
    return OrderedResult(dist, normalized, 1.0 - normalized, tuple(reversed(script)))
