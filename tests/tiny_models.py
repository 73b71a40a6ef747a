"""A tiny randomly initialised Llama on the offline SmolLM2 tokenizer, for tests of the training code."""

from __future__ import annotations

from typing import Any


def tiny_llama_config(tok: Any, *, heads: int = 2, kv_heads: int = 1, max_positions: int = 2048,
                      **extra: Any) -> Any:
    """Two layers, width 32, the tokenizer's vocabulary and special tokens (``extra`` passes through)."""
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=heads, num_key_value_heads=kv_heads,
                       max_position_embeddings=max_positions, pad_token_id=tok.pad_token_id,
                       eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id, **extra)
