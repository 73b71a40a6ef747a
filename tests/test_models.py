"""Chat templates, the SmolLM2 conversion and the transformers backend."""

from __future__ import annotations

import json
import os

import pytest

from deltamem_lib.agent.env import MemoryEnv, tool_schemas
from deltamem_lib.agent.prompts import react_prompt
from deltamem_lib.models import load_chat_model
from deltamem_lib.models.base import ChatResponse, tool_call_message
from deltamem_lib.models.chat_templates import (
    COMPACT_TOOL_TEMPLATE,
    measure_templates,
    set_tool_chat_template,
)
from deltamem_lib.models.smollm2 import SMOLLM2_DIRNAME, ensure_smollm2, smollm2_tokenizer


@pytest.fixture(scope="module")
def tok():
    return smollm2_tokenizer()


CONV = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "I moved to Berlin."},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "search_memory", "arguments": {"query": "home"}}},
        {"type": "function", "function": {"name": "delete_memory", "arguments": {"memory_id": "m2"}}}]},
    {"role": "tool", "name": "search_memory", "content": "[m1] User lives in Hamburg."},
    {"role": "tool", "name": "delete_memory", "content": "Deleted [m2] x"},
    {"role": "assistant", "content": "Done."},
]


def test_compact_template_renders_tools_calls_and_results(tok):
    text = tok.apply_chat_template(CONV, tools=tool_schemas(), tokenize=False)
    assert "- update_memory(memory_id: string, content: string): Rewrite a memory" in text
    assert "- search_memory(query: string, top_k?: integer)" in text  # optional argument marked
    assert '<tool_call>\n{"name": "delete_memory", "arguments": {"memory_id": "m2"}}\n</tool_call>' in text
    # consecutive tool results share one user turn, as in Qwen's template
    assert ("<|im_start|>user\n<tool_response>\n[m1] User lives in Hamburg.\n</tool_response>\n"
            "<tool_response>" in text)
    assert '"parameters"' not in text  # no JSON schema dump: that is the point of the compact template


def test_compact_template_is_what_trl_needs(tok):
    from trl.chat_template_utils import (
        is_chat_template_prefix_preserving,
        is_chat_template_stop_token_trained,
        supports_tool_calling,
    )

    assert supports_tool_calling(tok)
    assert is_chat_template_prefix_preserving(tok)
    assert is_chat_template_stop_token_trained(tok)  # <|im_end|> is inside the assistant mask


def test_response_parser_reads_our_rendering(tok):
    """What the template writes for an assistant turn, TRL's parser reads back."""
    rendered = tok.apply_chat_template(CONV[:3], tokenize=False)
    completion = rendered.split("<|im_start|>assistant\n")[-1]
    parsed = tok.parse_response(completion, prefix="")
    assert [c["function"] for c in parsed["tool_calls"]] == [c["function"] for c in CONV[2]["tool_calls"]]


def test_assistant_mask_covers_only_assistant_turns(tok):
    out = tok.apply_chat_template(CONV, tools=tool_schemas(), tokenize=True, return_dict=True,
                                  return_assistant_tokens_mask=True)
    masked = tok.decode([i for i, m in zip(out["input_ids"], out["assistant_masks"]) if m])
    assert masked.startswith("<tool_call>") and masked.endswith("Done.<|im_end|>")
    assert "Hamburg" not in masked and "Berlin" not in masked


def test_compact_template_saves_prompt_tokens(tok):
    from deltamem_lib.agent.toy import toy_episodes
    from deltamem_lib.episodes import parse_rl_row, rl_rows

    msgs = react_prompt()
    msgs[-1]["content"] += MemoryEnv().reset(example=parse_rl_row(rl_rows(toy_episodes())[0]))
    n = measure_templates(tok, msgs, tool_schemas())
    assert n["compact"] < n["qwen2.5"] - 300, n
    assert tok.chat_template == COMPACT_TOOL_TEMPLATE  # measuring leaves the tokenizer as it was


def test_qwen_template_is_recognised_by_trl(tok):
    import copy

    t = copy.deepcopy(tok)
    set_tool_chat_template(t, "qwen2.5")
    assert t.response_template is not None or getattr(t, "response_schema", None) is not None
    with pytest.raises(ValueError, match="unknown chat template"):
        set_tool_chat_template(t, "nope")


def test_chat_response_message_format():
    r = ChatResponse(text="ok", tool_calls=[{"name": "add_memory", "arguments": {"content": "c"}}])
    assert r.as_message() == tool_call_message("ok", r.tool_calls)
    assert r.as_message()["tool_calls"][0] == {"type": "function",
                                               "function": {"name": "add_memory",
                                                            "arguments": {"content": "c"}}}


def test_bad_spec_and_missing_folder():
    with pytest.raises(ValueError):
        load_chat_model("  ")


def test_conversion_failure_leaves_no_cache(tmp_path, monkeypatch):
    """An interrupted conversion never leaves a half-written (or temporary) folder."""
    import transformers

    calls = []

    def boom(*a, **k):
        calls.append(k)
        raise KeyboardInterrupt("simulated interruption")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", boom)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(KeyboardInterrupt):
        ensure_smollm2(tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert calls[0]["local_files_only"] is True  # the offline conversion never asks a hub …
    assert "HF_HUB_OFFLINE" not in os.environ  # … and leaves the process environment as it was


# ----- the real model (slow) --------------------------------------------------------------
@pytest.mark.slow
def test_converted_smollm2_is_plain_cached_and_trainable():
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    path = ensure_smollm2()
    assert path.name == SMOLLM2_DIRNAME
    stamp = (path / "model.safetensors").stat().st_mtime
    assert ensure_smollm2() == path and (path / "model.safetensors").stat().st_mtime == stamp  # reused
    cfg = json.loads((path / "config.json").read_text())
    assert "quantization_config" not in cfg
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    assert not getattr(model, "is_quantized", False)
    peft = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
    loss = peft(input_ids=ids, labels=ids).loss
    loss.backward()
    grads = [p.grad for n, p in peft.named_parameters() if "lora_" in n and p.requires_grad]
    assert grads and all(g is not None for g in grads) and any(float(g.abs().sum()) > 0 for g in grads)
    assert torch.isfinite(loss)


@pytest.mark.slow
def test_transformers_backend_generates_batches_and_counts(tmp_path):
    m = load_chat_model(str(ensure_smollm2()), batch_size=2)  # the Hub-id code path, on the local folder
    msgs = [[{"role": "user", "content": "What is the capital of France?"}],
            [{"role": "user", "content": "Say hello."}], [{"role": "user", "content": "Count to three."}]]
    out = m.chat_batch(msgs, max_new_tokens=12, seed=0)
    assert len(out) == 3 and "Paris" in out[0].text
    for r, conv in zip(out, msgs):
        assert 0 < r.completion_tokens <= 12 and r.seconds > 0
        assert r.prompt_tokens == m.count_tokens(conv)
    assert m.stats.calls == 3 and m.stats.completion_tokens == sum(r.completion_tokens for r in out)
    single = m.chat(msgs[0], max_new_tokens=12)
    assert single.text == out[0].text  # greedy: batching does not change the answer
    # a LoRA adapter folder loads back into the backend
    from peft import LoraConfig, get_peft_model

    peft = get_peft_model(m.model, LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM"))
    peft.save_pretrained(tmp_path / "adapter")
    m.model = peft.unload()  # leave the first backend's model as it was
    with_adapter = load_chat_model("smollm2", load_adapter=tmp_path / "adapter")
    assert with_adapter.name.endswith("+adapter")
    assert with_adapter.chat(msgs[0], max_new_tokens=12).text == out[0].text  # LoRA B = 0 at init
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        load_chat_model("smollm2", load_adapter=tmp_path)

