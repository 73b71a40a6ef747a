"""MemoryEnv plugs into TRL 1.16's GRPOTrainer(environment_factory=...) unchanged.

A 2-layer random Llama with SmolLM2's tokenizer trains one step over toy sessions. The
first generation is scripted to be a pair of tool calls, so TRL's own tool loop parses
them with our template's response parser, calls the environment, feeds back the results,
and scores the rollouts with ``get_reward``.
"""

from __future__ import annotations

import os

import pytest
from tiny_models import tiny_llama_config

pytestmark = pytest.mark.slow


def test_one_grpo_step_through_the_memory_env(tmp_path):
    os.environ["TRL_EXPERIMENTAL_SILENCE"] = "1"
    import torch
    from datasets import Dataset
    from transformers import LlamaForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    from deltamem_lib.agent.env import make_env_factory
    from deltamem_lib.agent.prompts import with_prompt_column
    from deltamem_lib.agent.toy import toy_episodes
    from deltamem_lib.episodes import rl_rows
    from deltamem_lib.models.smollm2 import smollm2_tokenizer

    tok = smollm2_tokenizer()
    cfg = tiny_llama_config(tok)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    rows = with_prompt_column(rl_rows(toy_episodes()))[:2]  # toy1-s1 (UPDATE m1 + ADD), toy1-s2 (DELETE m3)
    Env = make_env_factory(retriever="lexical")
    first = ('<tool_call>\n{"name": "search_memory", "arguments": {"query": "Berlin"}}\n</tool_call>\n'
             '<tool_call>\n{"name": "update_memory", "arguments": {"memory_id": "m1", "content": '
             '"User lives in Berlin."}}\n</tool_call>\n<tool_call>\n{"name": "delete_memory", "arguments": '
             '{"memory_id": "m9"}}\n</tool_call><|im_end|>')
    first_ids = tok(first, add_special_tokens=False)["input_ids"]
    done_ids = tok("Done.<|im_end|>", add_special_tokens=False)["input_ids"]

    class ScriptedGRPO(GRPOTrainer):
        turns = 0

        def _generate_single_turn(self, prompt_ids, *args, **kwargs):
            ScriptedGRPO.turns += 1
            ids = first_ids if ScriptedGRPO.turns == 1 else done_ids
            return [list(ids) for _ in prompt_ids], None

    args = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, gradient_checkpointing=False,
                      learning_rate=1e-4, num_generations=2, per_device_train_batch_size=4,
                      gradient_accumulation_steps=1, max_completion_length=160, max_tool_calling_iterations=2,
                      max_steps=1, logging_steps=1, save_strategy="no", report_to=[], beta=0.0, seed=0)
    trainer = ScriptedGRPO(model=model, processing_class=tok, args=args,
                           train_dataset=Dataset.from_list(rows), environment_factory=Env)
    assert sorted(t.__name__ for t in trainer.tools) == ["add_memory", "delete_memory", "search_memory",
                                                         "update_memory"]
    trainer.train()
    log = trainer.state.log_history[0]
    assert log["tools/call_frequency"] == 3.0 and abs(log["tools/failure_frequency"] - 1 / 3) < 1e-6
    assert "rewards/MemoryEnv/mean" in log
    envs = trainer.environments
    assert len(envs) == 4 and all(e.num_calls == 3 and e.invalid_calls == 1 for e in envs)
    by_session = {e.example.session_id: e for e in envs}
    assert by_session["toy1-s1"].state["m1"].content == "User lives in Berlin."
    # toy1-s1 still misses the running ADD; toy1-s2 wrongly changed m1 and missed the delete
    rewards = sorted(round(e.get_reward(), 4) for e in envs)
    assert abs(log["rewards/MemoryEnv/mean"] - sum(rewards) / 4) < 1e-4
    assert envs[0].call_log[2]["result"] == "unknown memory id 'm9'; search_memory shows the ids"
