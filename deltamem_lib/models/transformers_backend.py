"""Local models through transformers: SmolLM2 offline, any Hub id (Qwen3 …) the same way.

The memory manager of the paper is a local model (Qwen3-4B/8B) in its "prompted" and RL
rows. This backend renders each conversation with the model's chat template (tools
included), generates a batch of conversations together with left padding (decoding is
what costs time, and a batch of *n* costs far less than *n* single calls), and parses the
``<tool_call>`` blocks of each answer with :func:`deltamem_lib.models.parsing.parse_tool_calls`.
A PEFT LoRA adapter written by the training notebooks loads on top with ``adapter=``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..config import pick_device
from ..hardware import DeviceCaps, best_precision, device_caps
from .base import BackendError, ChatModel, ChatResponse, Messages
from .chat_templates import has_tool_template, set_tool_chat_template, training_template
from .parsing import parse_tool_calls

__all__ = ["TransformersChatModel", "resolve_dtype"]


def resolve_dtype(dtype: str, device: str, caps: DeviceCaps | None = None) -> Any:
    """``"auto"`` → bfloat16 on a CUDA GPU with bf16 in hardware (compute capability ≥ 8.0),
    float16 on older ones such as the T4 (where ``torch.cuda.is_bf16_supported()`` counts
    emulation: :func:`deltamem_lib.hardware.best_precision`), float32 elsewhere: on this
    workbook's 2-core CPU bfloat16 decoding was not reliably faster (slower at batch 1, faster
    at batch 4), and float32 keeps greedy runs comparable. ``caps`` replaces the device probe."""
    import torch

    if dtype == "auto":
        if device.startswith("cuda"):
            best = best_precision(caps or device_caps(device))
            return torch.bfloat16 if best == "bf16" else torch.float16
        return torch.float32
    try:
        return {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
                "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; expected auto, float32, bfloat16 or float16") from None


class TransformersChatModel(ChatModel):
    """A causal LM from a local folder, a Hub id, or an already loaded model.

    Args:
        model: a folder, a Hub id (downloaded by ``from_pretrained`` unless
            ``HF_HUB_OFFLINE=1``), or a loaded ``PreTrainedModel`` (then pass ``tokenizer``).
        tokenizer: the tokenizer, when ``model`` is an object.
        name: a display name for results files (default: the folder or id).
        device: ``"auto"`` or a torch device string.
        dtype: ``"auto"``, ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        adapter: a PEFT adapter folder to load on top (LoRA from the training notebooks).
        chat_template: ``"auto"`` (keep a template that supports tools, else ``"compact"``),
            ``"compact"``, ``"qwen2.5"`` or ``"keep"``.
        batch_size: most conversations generated together.
        chat_template_kwargs: extra template variables; default ``{"enable_thinking": False}`` for
            templates that know the variable (Qwen3), else none.
    """

    def __init__(self, model: Any, *, tokenizer: Any = None, name: str | None = None, device: str = "auto",
                 dtype: str = "auto", adapter: str | os.PathLike[str] | None = None,
                 chat_template: str = "auto", batch_size: int = 8,
                 chat_template_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no weight-loading bars in notebooks and logs

        self.device = pick_device(device)
        if isinstance(model, (str, os.PathLike)):
            source = str(model)
            local = Path(source).is_dir()
            if not local and Path(source).exists():
                raise ValueError(f"{source}: not a model folder")
            try:
                tok = tokenizer or AutoTokenizer.from_pretrained(source, local_files_only=local)
                lm = AutoModelForCausalLM.from_pretrained(source, dtype=resolve_dtype(dtype, self.device),
                                                          local_files_only=local)
            except OSError as exc:
                where = "folder" if local else "Hub id (needs network access or a filled HF cache)"
                raise BackendError(f"could not load model {source!r} as a {where}: {exc}") from None
            self.name = name or (Path(source).name if local else source)
        else:
            if tokenizer is None:
                raise ValueError("pass tokenizer= together with a loaded model object")
            lm, tok = model, tokenizer
            self.name = name or getattr(lm.config, "_name_or_path", "model") or "model"
        if adapter is not None:
            from peft import PeftModel

            adapter = Path(adapter)
            if not (adapter / "adapter_config.json").is_file():
                raise FileNotFoundError(f"{adapter}: no adapter_config.json; expected a PEFT adapter folder")
            lm = PeftModel.from_pretrained(lm, str(adapter))
            self.name = f"{self.name}+{adapter.name}"
        if chat_template == "auto":
            chat_template = "keep" if has_tool_template(tok) else "compact"
        set_tool_chat_template(tok, chat_template)
        self.tool_template = training_template(tok)  # what TRL's GRPO renders tool conversations with
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        self.model = lm.to(self.device).eval()
        self.tokenizer = tok
        self.batch_size = max(1, int(batch_size))
        if chat_template_kwargs is None and "enable_thinking" in (tok.chat_template or ""):
            chat_template_kwargs = {"enable_thinking": False}  # Qwen3: a memory update needs no <think> essay
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        stop = {tok.eos_token_id}
        im_end = tok.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != tok.unk_token_id:
            stop.add(im_end)
        self._stop_ids = sorted(i for i in stop if i is not None)
        self._torch = torch

    # ----- rendering ----------------------------------------------------------------------
    def render(self, messages: Messages, tools: list[Any] | None = None) -> str:
        """The prompt text the model reads (chat template applied, generation prompt added)."""
        template = self.tool_template if tools else None  # TRL swaps the template only with tools
        return self.tokenizer.apply_chat_template(messages, tools=tools or None, add_generation_prompt=True,
                                                  tokenize=False, chat_template=template,
                                                  **self.chat_template_kwargs)

    def count_tokens(self, messages: Messages, tools: list[Any] | None = None) -> int:
        return len(self.encode(messages, tools))

    def encode(self, messages: Messages, tools: list[Any] | None = None) -> list[int]:
        """The prompt's token ids. A tool conversation that goes on after tool results is built
        as TRL's GRPO builds a multi-turn rollout (``GRPOTrainer._tool_call_loop``): the first
        prompt tokenised once, then each assistant turn's tokens up to its end-of-turn token,
        then the tokens of the tool results with the next generation prompt (rendered as TRL's
        ``_get_tool_suffix_ids`` renders them). The agent thus reads at evaluation, turn after
        turn, the ids it was trained on, not a re-tokenisation of the whole text."""
        tok = self.tokenizer
        first = next((k for k, m in enumerate(messages) if m.get("role") == "assistant"), None)
        later = {m.get("role") for m in messages[first:]} if first is not None else set()
        if not tools or first is None or messages[-1].get("role") != "tool" or later - {"assistant", "tool"}:
            return tok(self.render(messages, tools), add_special_tokens=False)["input_ids"]
        ids = tok(self.render(messages[:first], tools), add_special_tokens=False)["input_ids"]
        k = first
        while k < len(messages):
            j = k + 1
            while j < len(messages) and messages[j].get("role") == "tool":
                j += 1
            ids += self._assistant_ids(messages[:k], messages[k],
                                       tools) + self._tool_suffix_ids(messages[k + 1:j])
            k = j
        return ids

    def _assistant_ids(self, history: Messages, message: dict[str, Any], tools: list[Any]) -> list[int]:
        """One assistant turn as generated: its text after the generation prompt, up to and with
        the end-of-turn token."""
        tok, template = self.tokenizer, self.tool_template
        before = self.render(history, tools)
        after = tok.apply_chat_template(history + [message], tools=tools, add_generation_prompt=False,
                                        tokenize=False, chat_template=template, **self.chat_template_kwargs)
        if not after.startswith(before):  # not prefix-preserving: nothing better than the template's text
            return tok(after, add_special_tokens=False)["input_ids"][len(tok(before, add_special_tokens=False)
                                                                          ["input_ids"]):]
        turn = after[len(before):]
        end = turn.rfind(tok.eos_token) if tok.eos_token else -1
        return tok(turn[:end + len(tok.eos_token)] if end >= 0 else turn,
                   add_special_tokens=False)["input_ids"]

    def _tool_suffix_ids(self, tool_messages: Messages) -> list[int]:
        """The tokens of tool results plus the next generation prompt, exactly as TRL 1.16's
        ``GRPOTrainer._get_tool_suffix_ids`` computes them (a dummy conversation rendered with
        and without the results; the prefix cut after its last end-of-sequence token)."""
        if not tool_messages:
            return []
        tok, kw = self.tokenizer, dict(chat_template=self.tool_template, return_dict=False,
                                       **self.chat_template_kwargs)
        dummy = [{"role": "user", "content": "dummy"},
                 {"role": "assistant", "content": "",
                  "tool_calls": [{"type": "function", "function": {"name": tool_messages[0]["name"],
                                                                   "arguments": {}}}]}]
        prefix = tok.apply_chat_template(dummy, add_generation_prompt=False, tokenize=True, **kw)
        full = tok.apply_chat_template(dummy + list(tool_messages), add_generation_prompt=True, tokenize=True,
                                       **kw)
        eos = [i for i, t in enumerate(prefix) if t == tok.eos_token_id]
        if eos:
            prefix = prefix[:eos[-1] + 1]
        return list(full[len(prefix):])

    # ----- generation ---------------------------------------------------------------------
    def _generate(self, batch: list[Messages], *, max_new_tokens: int, temperature: float,
                  tools: list[dict[str, Any]] | None, seed: int | None) -> list[ChatResponse]:
        torch = self._torch
        known = {(t.get("function", t) or {}).get("name") for t in tools or [] if isinstance(t, dict)} or None
        encoded = [self.encode(m, tools) for m in batch]
        order = sorted(range(len(batch)), key=lambda i: len(encoded[i]))
        results: list[ChatResponse | None] = [None] * len(batch)
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            width = max(len(encoded[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, width - len(encoded[i]):] = torch.tensor(encoded[i])
                mask[r, width - len(encoded[i]):] = 1
            gen_kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "pad_token_id": pad,
                                          "eos_token_id": self._stop_ids}
            if temperature and temperature > 0:
                gen_kwargs.update(do_sample=True, temperature=float(temperature), top_p=1.0, top_k=0)
            else:
                gen_kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if seed is not None:
                torch.manual_seed(seed + start)
            t0 = time.perf_counter()
            with torch.inference_mode():
                out = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                          **gen_kwargs)
            seconds = (time.perf_counter() - t0) / len(idx)
            new = out[:, width:].tolist()
            for r, i in enumerate(idx):
                toks = new[r]
                n, finish = len(toks), "length"
                for k, t in enumerate(toks):
                    if t in self._stop_ids:
                        n, finish = k + 1, "stop"
                        break
                raw = self.tokenizer.decode(toks[:n], skip_special_tokens=False)
                parsed = parse_tool_calls(raw, known_tools=known)
                results[i] = ChatResponse(text=parsed.content, tool_calls=parsed.calls,
                                          prompt_tokens=len(encoded[i]), completion_tokens=n, seconds=seconds,
                                          raw_text=raw, malformed_tool_calls=len(parsed.malformed),
                                          finish_reason=finish)
        return results  # type: ignore[return-value]
