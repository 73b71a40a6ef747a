"""The GPU code paths, checked on a CPU: precision per device, the memory estimates behind the
GPU profiles, the preflight, releasing memory between trainers, the fp16 overflow guard, the
ReAct evaluation prompt against TRL's training rendering, and the agent's room in evaluation.

Device capabilities are injected (:class:`deltamem_lib.hardware.DeviceCaps`), so none of these
tests needs a GPU or vLLM.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from deltamem_lib.config import PROFILES_DIR
from deltamem_lib.hardware import A100_40GB, T4, DeviceCaps, best_precision, release_memory
from deltamem_lib.training import TrainConfig
from deltamem_lib.training.gpu import (
    PROMPT_TOKENS,
    NonFiniteGuard,
    PreflightError,
    estimate_memory,
    model_shape,
    preflight,
    preflight_problems,
    vllm_install_command,
    vllm_kv_sequences,
)
from deltamem_lib.training.settings import grpo_config, resolve_precision

CPU = DeviceCaps("cpu", torch="2.13.0+cpu")
A100_VLLM = DeviceCaps("cuda", "NVIDIA A100-SXM4-40GB", (8, 0), 42.4, vllm="0.30.0", torch="2.9.0+cu128")
T4_READY = DeviceCaps("cuda", "Tesla T4", (7, 5), 15.8, torch="2.9.0+cu126")
GPU_GB = {"gpu-a100": 40.0, "colab-t4": 15.0}


def toy_examples() -> list:
    from deltamem_lib.agent.toy import toy_episodes
    from deltamem_lib.episodes import parse_rl_row, rl_rows

    return [parse_rl_row(r) for r in rl_rows(toy_episodes())]


def profile_cfg(name: str, **changes) -> TrainConfig:
    return TrainConfig.from_profile(name, changes)


# ----- precision --------------------------------------------------------------------------------
def test_precision_follows_compute_capability_not_torchs_bf16_answer(monkeypatch):
    import torch

    from deltamem_lib.models.transformers_backend import resolve_dtype

    # what a T4 answers (emulation)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert (best_precision(T4) == "fp16" and best_precision(A100_40GB) == "bf16"
            and best_precision(CPU) == "fp32")
    assert best_precision(DeviceCaps("cuda", "L4", (8, 9), 24.0)) == "bf16"
    auto = TrainConfig()
    assert resolve_precision(auto, "cuda", T4) == "fp16" and resolve_precision(auto, "cuda",
                                                                               A100_40GB) == "bf16"
    assert resolve_precision(auto, "cpu") == "fp32"
    assert resolve_precision(TrainConfig(precision="bf16"), "cuda", T4) == "bf16"  # an explicit choice stays
    assert resolve_dtype("auto", "cuda", T4) is torch.float16
    assert resolve_dtype("auto", "cuda:0", A100_40GB) is torch.bfloat16
    assert resolve_dtype("auto", "cpu") is torch.float32


# ----- memory estimates and the GPU profiles ----------------------------------------------------
@pytest.mark.parametrize("name", ["gpu-a100", "colab-t4"])
def test_profile_comments_are_the_estimate_and_it_fits_with_margin(name):
    cfg, gpu = profile_cfg(name), GPU_GB[name]
    text = (PROFILES_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    for phase in ("sft", "grpo", "eval"):
        est = estimate_memory(cfg, gpu, phase)
        assert f"#   {est.line()}" in text, f"{name}: recompute the comment of {phase}: {est.line()}"
        assert est.margin >= 0.15, est.line()


def test_the_estimate_shows_what_the_old_a100_settings_did():
    old = profile_cfg("gpu-a100", gradient_accumulation_steps=1, sft_batch_size=8, sft_grad_accum=1)
    assert not estimate_memory(old, 80.0, "grpo").fits()  # all 64 rollouts in one backward: not even 80 GB
    assert not estimate_memory(old, 40.0, "sft").fits(0.05)
    t4_long = profile_cfg("colab-t4", sft_max_length=2048)
    assert not estimate_memory(t4_long, 15.0, "sft").fits()


def test_gpu_a100_accumulation_lengths_and_vllm_as_derived(tmp_path, monkeypatch):
    import transformers.training_args

    monkeypatch.setattr(transformers.training_args, "is_torch_bf16_gpu_available", lambda: True)  # an A100
    cfg = profile_cfg("gpu-a100")
    assert cfg.completions_per_step == 64 and cfg.gradient_accumulation_steps == 16
    assert cfg.use_vllm and cfg.precision == "bf16" and cfg.agent == "react"
    # the context holds the longest prompt and the completion budget, far below Qwen3's 40,960
    assert PROMPT_TOKENS["react"] + cfg.max_completion_length <= cfg.vllm_max_model_length <= 4096
    assert vllm_kv_sequences(cfg, 40.0) >= cfg.num_generations  # one whole group at full length at once
    assert vllm_kv_sequences(cfg.replace(vllm_max_model_length=40960), 40.0) < 1  # unset: vLLM cannot start
    args = grpo_config(cfg, tmp_path, device="cuda")
    assert args.per_device_train_batch_size == 4 and args.gradient_accumulation_steps == 16
    assert args.vllm_max_model_length == cfg.vllm_max_model_length
    assert args.vllm_gpu_memory_utilization == cfg.vllm_gpu_memory_utilization and args.bf16 and not args.fp16
    assert cfg.sft_batch_size * cfg.sft_grad_accum == 8


def test_colab_t4_settings_and_the_fp32_fallback_as_derived():
    cfg = profile_cfg("colab-t4")
    assert cfg.precision == "fp16" and not cfg.use_vllm and cfg.agent == "oneshot"
    assert cfg.model == "Qwen/Qwen3-0.6B" and cfg.sft_max_length == 1024 and cfg.gradient_checkpointing
    fp32 = cfg.replace(precision="fp32", gradient_accumulation_steps=2)
    for phase in ("sft", "grpo", "eval"):
        assert estimate_memory(fp32, 15.0, phase).margin >= 0.15


def test_model_shapes_give_the_published_parameter_counts():
    assert abs(model_shape("Qwen/Qwen3-0.6B").params / 1e9 - 0.596) < 0.005
    assert abs(model_shape("qwen/qwen3-4b").params / 1e9 - 4.02) < 0.01
    assert abs(model_shape("Qwen/Qwen3-8B").params / 1e9 - 8.19) < 0.01
    assert model_shape("smollm2") is None


# ----- preflight --------------------------------------------------------------------------------
def test_preflight_names_what_is_missing_and_the_fix():
    a100 = profile_cfg("gpu-a100")
    with pytest.raises(PreflightError, match="needs a CUDA GPU.*deltamem train --profile cpu"):
        preflight(a100, CPU)
    no_vllm = preflight_problems(a100, A100_VLLM.__class__(**{**A100_VLLM.__dict__, "vllm": None}))
    assert len(no_vllm) == 1 and vllm_install_command(A100_VLLM) in no_vllm[0]
    assert vllm_install_command(A100_VLLM) == 'pip install "trl[vllm]==1.16.0" "torch==2.9.0"'
    assert preflight_problems(a100, A100_VLLM) == []
    old_vllm = preflight_problems(a100, DeviceCaps(**{**A100_VLLM.__dict__, "vllm": "0.10.2"}))
    assert len(old_vllm) == 1 and "outside the range TRL 1.16 supports (0.22.0-0.31.0)" in old_vllm[0]
    assert preflight_problems(a100, DeviceCaps(**{**A100_VLLM.__dict__, "vllm": "0.31.0+cu129"})) == []
    bf16_on_t4 = preflight_problems(a100.replace(use_vllm=False), T4_READY)
    assert any("emulated on Tesla T4" in p for p in bf16_on_t4)
    assert preflight_problems(profile_cfg("colab-t4"), T4_READY) == []
    assert preflight_problems(TrainConfig(), CPU) == []  # the cpu path needs nothing


def test_preflight_refuses_a_micro_batch_that_does_not_fit_and_says_which_does():
    too_big = preflight_problems(profile_cfg("gpu-a100", gradient_accumulation_steps=1), A100_VLLM)
    assert len(too_big) == 1 and "not enough GPU memory" in too_big[0]
    fix = int(too_big[0].split("gradient_accumulation_steps=")[1].split()[0].rstrip(";"))
    assert preflight_problems(profile_cfg("gpu-a100", gradient_accumulation_steps=fix), A100_VLLM) == []


def test_start_run_fails_before_anything_is_written(tmp_path):
    from deltamem_lib.training.pipeline import start_run

    out = tmp_path / "run"
    with pytest.raises(PreflightError, match="vLLM is not installed"):
        start_run(profile_cfg("gpu-a100"), out, device="cuda", caps=A100_40GB)
    assert not out.exists()


# ----- resources between trainers ---------------------------------------------------------------
def test_release_memory_shuts_the_vllm_engine_down_and_collects(monkeypatch):
    calls = []
    engine = SimpleNamespace(shutdown=lambda: calls.append("engine"))
    trainer = SimpleNamespace(vllm_generation=SimpleNamespace(llm=SimpleNamespace(llm_engine=engine)))
    done = release_memory(trainer, SimpleNamespace())
    assert calls == ["engine"] and trainer.vllm_generation.llm is None
    assert done["vllm_engines"] == 1 and done["collected"] >= 0


def test_trainer_guard_releases_on_the_way_out_and_explains_sampling_overflow(monkeypatch):
    from deltamem_lib.training import trainers

    released = []
    monkeypatch.setattr(trainers, "release_memory", lambda *owners: released.append(owners))
    held = ["trainer"]
    with pytest.raises(FloatingPointError, match="precision=fp32"):
        with trainers._guarded(held, "fp16"):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    assert released == [("trainer",)] and held == []
    with pytest.raises(RuntimeError, match="other"):
        with trainers._guarded(["t"], "fp16"):
            raise RuntimeError("other")
    assert len(released) == 2


def test_two_trainers_in_one_process_each_start_after_a_release(monkeypatch, tmp_path):
    """run_sft and run_grpo hand back what the previous trainer held before loading the next model."""
    from deltamem_lib.training import trainers

    order = []
    monkeypatch.setattr(trainers, "release_memory", lambda *owners: order.append("release"))

    def stop(*a, **k):
        order.append("load")
        raise RuntimeError("stop after loading")

    monkeypatch.setattr(trainers, "load_policy", stop)
    monkeypatch.setattr(trainers, "sft_rows", lambda rows, cfg: [])
    data = SimpleNamespace(train_rows=[])
    for run in (lambda: trainers.run_sft(TrainConfig(), data, tmp_path / "sft"),
                lambda: trainers.run_grpo(TrainConfig(), data, tmp_path / "grpo")):
        with pytest.raises(RuntimeError, match="stop after loading"):
            run()
    assert order == ["release", "load", "release", "load"]


# ----- fp16 overflow ----------------------------------------------------------------------------
def test_nonfinite_guard_stops_on_a_nan_loss_or_a_run_of_inf_gradients():
    state = SimpleNamespace(global_step=7)
    guard = NonFiniteGuard("fp16")
    guard.on_log(None, state, None, logs={"loss": 0.3, "grad_norm": math.inf})  # one skipped step: fine
    guard.on_log(None, state, None, logs={"loss": 0.3, "grad_norm": 1.0})
    with pytest.raises(FloatingPointError, match=r"in fp16: Qwen.*precision=fp32 and "
                                                 r"gradient_accumulation_steps=2.*last checkpoint"):
        guard.on_log(None, state, None, logs={"loss": math.nan})
    guard = NonFiniteGuard("fp16", patience=3)
    for _ in range(2):
        guard.on_log(None, state, None, logs={"grad_norm": math.nan})
    with pytest.raises(FloatingPointError, match="3 logs in a row"):
        guard.on_log(None, state, None, logs={"grad_norm": math.inf})


# ----- the ReAct evaluation prompt is the GRPO prompt -------------------------------------------
@pytest.fixture(scope="module")
def qwen3_tok():
    """The offline SmolLM2 tokenizer speaking Qwen3's chat template as TRL ships it."""
    from trl.chat_template_utils import qwen3_chat_template

    from deltamem_lib.models.chat_templates import set_tool_chat_template
    from deltamem_lib.models.smollm2 import smollm2_tokenizer

    tok = smollm2_tokenizer()
    tok.chat_template = qwen3_chat_template
    tok.response_template = None
    set_tool_chat_template(tok, "keep")
    return tok


def _trl_turn_ids(tok, prompt, tools, completions_text, tool_rounds):
    """The token ids TRL's GRPOTrainer feeds the model for the next turn: the prompt rendered
    once, then each generated completion as generated, then each round's tool suffix
    (``GRPOTrainer._get_tool_suffix_ids``) — the code of TRL 1.16, run on a stand-in trainer."""
    from trl import GRPOTrainer
    from trl.chat_template_utils import get_training_chat_template, is_chat_template_prefix_preserving

    template = None if is_chat_template_prefix_preserving(tok) else get_training_chat_template(tok)
    me = SimpleNamespace(processing_class=tok, chat_template=template, _is_vlm=False, _tokenizer=tok,
                         chat_template_kwargs={"enable_thinking": False})
    ids = tok.apply_chat_template(prompt, tools=tools, chat_template=template, add_generation_prompt=True,
                                  tokenize=True, return_dict=False, enable_thinking=False)
    for text, tool_messages in zip(completions_text, tool_rounds):
        ids = ids + tok(text, add_special_tokens=False)["input_ids"]
        ids = ids + GRPOTrainer._get_tool_suffix_ids(me, tool_messages)
    return ids, template


def test_react_evaluation_prompts_are_trls_training_prompts_from_turn_two(qwen3_tok):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from deltamem_lib.agent.react import ReActAgent
    from deltamem_lib.models.base import ChatResponse
    from deltamem_lib.models.parsing import parse_tool_calls
    from deltamem_lib.models.transformers_backend import TransformersChatModel

    tok = qwen3_tok
    torch.manual_seed(0)
    lm = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1))
    chat = TransformersChatModel(lm, tokenizer=tok, device="cpu", chat_template="keep")
    agent = ReActAgent(chat, retriever="lexical")
    env, conv = agent.start(toy_examples()[0])
    prompt = [dict(m) for m in conv]
    generated = ['<tool_call>\n{"name": "search_memory", "arguments": {"query": '
                 '"Berlin"}}\n</tool_call><|im_end|>',
                 '<tool_call>\n{"name": "add_memory", "arguments": {"content": "User has a dog."}}\n'
                 '</tool_call><|im_end|>']
    rounds = []
    for raw in generated:
        parsed = parse_tool_calls(raw.removesuffix("<|im_end|>"), known_tools=agent.tool_names)
        conv.append(ChatResponse(parsed.content, parsed.calls, raw_text=raw).as_message())
        results = []
        for c in parsed.calls:
            results.append({"role": "tool", "name": c["name"], "content": agent.call_tool(env, c["name"],
                                                                                          c["arguments"])})
        conv.extend(results)
        rounds.append(results)
        want, template = _trl_turn_ids(tok, prompt, agent.tools, generated[:len(rounds)], rounds)
        assert template is not None  # Qwen3's own template is not prefix-preserving: TRL swaps it
        assert chat.render(conv, agent.tools) == tok.decode(want), f"turn {len(rounds) + 1}: other text"
        assert chat.encode(conv, agent.tools) == want, f"turn {len(rounds) + 1}: other token ids"
    # the test can fail: Qwen3's own template drops the empty <think> block of earlier turns
    plain = tok.apply_chat_template(conv, tools=agent.tools, add_generation_prompt=True, tokenize=False,
                                    enable_thinking=False)
    assert tok(plain, add_special_tokens=False)["input_ids"] != want


# ----- the agent's room in evaluation is a rollout's ---------------------------------------------
class _Scripted:
    """A chat backend that always calls a tool and counts tokens as characters / 4."""

    def __init__(self) -> None:
        self.budgets: list[int] = []

    def chat_batch(self, batch, *, max_new_tokens, temperature, tools, seed):
        from deltamem_lib.models.base import ChatResponse

        self.budgets.append(max_new_tokens)
        call = {"name": "search_memory", "arguments": {"query": "Berlin"}}
        return [ChatResponse("", [call], completion_tokens=20) for _ in batch]

    def count_tokens(self, messages, tools=None):
        return sum(len(str(m.get("content") or "")) + 80 * len(m.get("tool_calls") or ())
                   for m in messages) // 4


def test_react_evaluation_gets_the_turns_and_tokens_of_a_rollout():
    from deltamem_lib.training.datasets import make_agent

    cfg = TrainConfig(agent="react", max_tool_calling_iterations=3, max_completion_length=10_000,
                      retriever="lexical")
    model = _Scripted()
    agent = make_agent(cfg, model)
    examples = toy_examples()[:1]
    res = agent.run(examples)[0]
    assert len(model.budgets) == 1 + cfg.max_tool_calling_iterations  # the first reply + 3 rounds, as in TRL
    assert res.tool_calls == cfg.max_tool_calling_iterations  # the last reply's calls are not run, as in TRL
    tight = _Scripted()
    res = make_agent(cfg.replace(max_completion_length=40), tight).run(examples)[0]
    assert tight.budgets[0] == 40 and all(b <= 40 for b in tight.budgets) and len(tight.budgets) < 4


def test_unknown_tools_reach_the_invalid_call_count():
    from deltamem_lib.agent.env import make_env_factory, note_unknown_calls

    env = make_env_factory(allow_delete=False, retriever="lexical")()
    env.reset(example=toy_examples()[0])
    completion = [{"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "delete_memory", "arguments": {"memory_id": "m1"}}},
        {"type": "function", "function": {"name": "search_memory", "arguments": {"query": "x"}}}]},
        {"role": "tool", "name": "delete_memory", "content": "{'error': 'Tool delete_memory not found.'}"}]
    assert note_unknown_calls(env, completion) == 1 and note_unknown_calls(env, completion) == 1  # idempotent
    assert env.invalid_calls == 1 and env.num_calls == 1


def test_trainer_reward_wrapper_counts_unknown_calls_before_scoring():
    from deltamem_lib.agent.env import make_env_factory
    from deltamem_lib.training.trainers import _count_unknown_tools

    env = make_env_factory(allow_delete=False, retriever="lexical")()
    env.reset(example=toy_examples()[0])

    def invalid_calls(prompts=None, completions=(), environments=(), **kw):
        return [-float(e.invalid_calls) for e in environments]

    wrapped = _count_unknown_tools(invalid_calls)
    assert wrapped.__name__ == "invalid_calls"  # TRL logs each reward under its function's name
    completion = [{"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "forget_everything", "arguments": {}}}]}]
    assert invalid_calls(completions=[completion], environments=[env]) == [0.0]
    assert wrapped(prompts=[1], completions=[completion], environments=[env]) == [-1.0]


# ----- the similarity's encoder device and vector cache ------------------------------------------
def test_embedding_similarity_is_shared_and_follows_the_encoder_device(monkeypatch):
    from deltamem_lib import mld
    from deltamem_lib.hardware import encoder_device

    monkeypatch.setattr(mld, "_SHARED_EMBEDDING", {})
    monkeypatch.setenv("DELTAMEM_ENCODER_DEVICE", "cuda:1")
    assert encoder_device() == "cuda:1"
    a, b = mld.get_similarity("embedding"), mld.get_similarity("embedding")
    assert a is b and a.device == "cuda:1" and a.cache.device == "cuda:1"
    monkeypatch.delenv("DELTAMEM_ENCODER_DEVICE")
    assert mld.get_similarity("embedding").device == "cpu"  # no GPU here
    assert mld.get_similarity("embedding", device="cpu") is not a


def test_embedding_retriever_device_and_bounded_cache(monkeypatch):
    import numpy as np

    from deltamem_lib import embeddings, retrieval

    used = []
    monkeypatch.setattr(retrieval, "load_encoder", lambda model, device: used.append(device) or object())
    monkeypatch.setenv("DELTAMEM_ENCODER_DEVICE", "cuda")
    assert retrieval.EmbeddingRetriever().device == "cuda" and used == ["cuda"]

    class Enc:
        def encode(self, texts, **kw):
            return np.ones((len(texts), 3), dtype=np.float32)

    cache = embeddings.EmbeddingCache(max_size=3)
    cache._encoder = Enc()
    cache.embed(["a", "b", "c"])
    cache.embed(["c", "d"])
    assert len(cache) <= 3 and set(cache._vectors) >= {"c", "d"}


def test_profiles_dir_holds_the_gpu_profiles():
    assert {p.stem for p in Path(PROFILES_DIR).glob("*.yaml")} >= {"gpu-a100", "colab-t4"}


def test_deltamem_train_reports_a_failed_preflight_in_one_line(capsys):
    from deltamem_lib.cli_errors import report_error

    try:
        preflight(profile_cfg("gpu-a100"), CPU)
    except PreflightError as exc:
        assert report_error("train", exc) == 1
    err = capsys.readouterr().err
    assert err.startswith("deltamem train: error: this run cannot start here: - profile 'gpu-a100' needs a "
                          "CUDA GPU")
    assert err.count("\n") == 1
