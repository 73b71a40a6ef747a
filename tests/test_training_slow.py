"""Training end to end on a tiny random model: SFT, GRPO, checkpoints and resume, adapter round trip.

A 2-layer random Llama with SmolLM2's tokenizer stands in for the real model (seconds per
step); the code path is the one ``deltamem train`` and notebook 04 run.
"""

from __future__ import annotations

import os

import pytest
from tiny_models import tiny_llama_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import torch
    from transformers import LlamaForCausalLM

    from deltamem_lib.models.smollm2 import smollm2_tokenizer

    tok = smollm2_tokenizer()
    cfg = tiny_llama_config(tok, tie_word_embeddings=True)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny")
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def setup(tiny_model):
    os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
    from deltamem_lib.training.datasets import prepare_data
    from deltamem_lib.training.settings import TrainConfig

    cfg = TrainConfig(model=tiny_model, train_users=3, test_users=1, sessions_per_user=3, sft_examples=4,
                      sft_max_steps=2, sft_batch_size=2, grpo_max_steps=3, num_generations=2,
                      prompts_per_step=1, max_completion_length=16, eval_sessions=2, eval_max_new_tokens=16,
                      lora_r=4, lora_alpha=8, save_steps=1)
    return cfg, prepare_data(cfg)


@pytest.fixture(scope="module")
def trained(setup, tmp_path_factory):
    """SFT (2 steps), then GRPO interrupted after step 1 and resumed to step 3."""
    from deltamem_lib.training.trainers import last_checkpoint, run_grpo, run_sft

    cfg, data = setup
    out = tmp_path_factory.mktemp("trained")
    sft = run_sft(cfg, data, out / "sft")
    first = run_grpo(cfg, data, out / "grpo", init_adapter=sft.adapter, stop_after=1)
    info = {"out": out, "sft": sft, "first": first,
            "checkpoint_after_stop": last_checkpoint(out / "grpo" / "checkpoints").name,
            "adapter_after_stop": (out / "grpo" / "adapter").exists()}
    info["done"] = run_grpo(cfg, data, out / "grpo", init_adapter=sft.adapter)
    return info


def test_sft_then_grpo_resumes_at_the_right_step(setup, trained):
    from deltamem_lib.training.metrics import read_metrics
    from deltamem_lib.training.trainers import run_sft

    cfg, data = setup
    out, sft = trained["out"], trained["sft"]
    assert sft.steps == 2 and (sft.adapter / "adapter_config.json").is_file()
    assert run_sft(cfg, data, out / "sft").skipped  # a finished phase is not rerun
    assert trained["first"].steps == 1 and trained["checkpoint_after_stop"] == "checkpoint-1"
    assert not trained["adapter_after_stop"]  # interrupted: no final adapter yet
    done = trained["done"]
    assert done.resumed_from == 1 and done.steps == cfg.grpo_max_steps
    steps = [r["step"] for r in read_metrics(out / "metrics.jsonl", "grpo")]
    assert steps == [1, 2, 3]  # each step logged once, the resumed run continued at step 2
    rec = read_metrics(out / "metrics.jsonl", "grpo")[-1]
    for key in ("rewards/r_trans/mean", "rewards/r_trans/std", "rewards/invalid_calls/mean",
                "rewards/format/mean", "rollouts/invalid_call_rate", "completions/mean_length", "step_time_s",
                "frac_reward_zero_std"):
        assert key in rec, key
    assert [r["step"] for r in read_metrics(out / "metrics.jsonl", "sft")] == [1, 2]


def test_adapter_loads_back_into_the_agent(setup, trained, tmp_path):
    from deltamem_lib.models import load_chat_model
    from deltamem_lib.training.datasets import make_agent
    from deltamem_lib.training.heldout import evaluate_model

    cfg, data = setup
    adapter = trained["done"].adapter
    model = load_chat_model(cfg.model, load_adapter=adapter)
    assert type(model.model).__name__ == "PeftModelForCausalLM"
    examples = data.eval_examples(2)
    out = make_agent(cfg, model).run(examples)
    assert len(out) == 2 and all(r.model_calls == 1 for r in out)
    ev = evaluate_model(cfg, examples, data.eval_rows(2), adapter=adapter, label="grpo",
                        cache=tmp_path / "eval.json")
    assert ev["sessions"] == 2 and 0.0 <= ev["r_trans_mean"] <= 1.0 and "probe_accuracy" in ev
    assert (tmp_path / "eval.json").is_file()


def test_react_grpo_through_the_environment(setup, tmp_path):
    from deltamem_lib.training.metrics import read_metrics
    from deltamem_lib.training.trainers import run_grpo

    cfg, data = setup
    cfg = cfg.replace(agent="react", grpo_max_steps=1, max_completion_length=24,
                      max_tool_calling_iterations=1)
    run_grpo(cfg, data, tmp_path / "grpo")
    rec = read_metrics(tmp_path / "metrics.jsonl", "grpo")[-1]
    assert "rewards/MemoryEnv/mean" in rec and "rewards/invalid_calls/mean" in rec
    assert "rewards/r_trans/mean" not in rec  # the environment owns r_trans


def test_pipeline_writes_results_and_figures(setup, trained, tmp_path):
    import shutil

    from deltamem_lib.io import read_json
    from deltamem_lib.training.pipeline import start_run

    cfg, _ = setup
    cfg = cfg.replace(grpo_max_steps=2, ablations=["outcome_reward"], ablation_steps=1,
                      ablation_eval_sessions=1, eval_base=False, bootstrap_samples=200)
    run = start_run(cfg, tmp_path / "run", device="cpu")
    shutil.copytree(trained["out"] / "sft", run.out_dir / "sft")  # reuse the finished warm start
    assert run.out_dir == tmp_path / "run" / "04_rl_training"  # the run folder's layout
    res = run.all()
    saved = read_json(tmp_path / "run" / "results" / "04_rl_training_smallest.json")
    assert saved["profile"] == "smallest" and saved["model"] and set(saved["evaluation"]) == {
        "no-op", "sft", "sft+grpo", "sft+grpo@1", "ablation: outcome_reward"}
    assert saved["headline"]["reference"] == "sft"
    assert res["comparisons"]["ablation: outcome_reward"]["reference"] == "sft+grpo@1"
    assert saved["training"]["sft"]["steps"] == 2 and saved["training"]["grpo"]["steps"] == 2
    for name in ("04_reward_dynamics_smallest", "04_before_after_smallest"):
        assert (tmp_path / "run" / "figures" / f"{name}.png").is_file()
        assert (tmp_path / "run" / "figures" / f"{name}.json").is_file()
    with pytest.raises(ValueError, match="other settings"):
        start_run(cfg.replace(seed=9), tmp_path / "run")
    # evaluation-only changes may resume
    start_run(cfg.replace(ablations=[], eval_sessions=3), tmp_path / "run")
