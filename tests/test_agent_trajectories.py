"""Gold trajectories for SFT: consistent with the environment, tokenised with an assistant mask."""

from __future__ import annotations

import pytest

from deltamem_lib.agent.env import make_env_factory
from deltamem_lib.agent.toy import toy_episodes
from deltamem_lib.agent.trajectories import gold_trajectories, gold_trajectory, tokenize_trajectory
from deltamem_lib.episodes import parse_rl_row, rl_rows
from deltamem_lib.models.smollm2 import smollm2_tokenizer
from deltamem_lib.synthesis import SynthConfig, generate_episodes


@pytest.fixture(scope="module")
def examples():
    return [parse_rl_row(r) for r in rl_rows(toy_episodes())]


def test_trajectory_shape_and_real_tool_outputs(examples):
    t = gold_trajectory(examples[0])
    roles = [m["role"] for m in t["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "tool", "assistant", "tool", "tool", "assistant"]
    searches = [c["function"] for c in t["messages"][2]["tool_calls"]]
    assert searches[0] == {"name": "search_memory", "arguments": {"query": "User lives in Hamburg."}}
    assert t["messages"][3]["content"].startswith("[m1] User lives in Hamburg.")  # the target id is visible
    ops = [c["function"]["name"] for c in t["messages"][5]["tool_calls"]]
    assert ops == ["update_memory", "add_memory"]
    assert t["messages"][7]["content"] == "Added [m4] User goes running every morning."
    assert "tool_calls" not in t["messages"][-1]
    assert [s["function"]["name"] for s in t["tools"]] == ["add_memory", "delete_memory", "search_memory",
                                                            "update_memory"]


def test_quiet_session_has_no_call(examples):
    t = gold_trajectory(examples[2])
    assert [m["role"] for m in t["messages"]] == ["system", "user", "assistant"]


def test_every_synthetic_session_has_a_consistent_trajectory():
    eps = generate_episodes(SynthConfig(users=4, sessions=5, seed=2))
    exs = [parse_rl_row(r) for r in rl_rows(eps)]
    trajs = gold_trajectories(exs)  # raises if any replay disagrees with the gold state
    assert len(trajs) == 20


def test_no_delete_environment_refuses_delete_trajectories(examples):
    with pytest.raises(ValueError, match="allow_delete=False"):
        gold_trajectory(examples[1], env_cls=make_env_factory(allow_delete=False, retriever="lexical"))


def test_tokenised_with_assistant_mask(examples):
    tok = smollm2_tokenizer()
    t = gold_trajectory(examples[0])
    out = tokenize_trajectory(tok, t)
    assert len(out["input_ids"]) == len(out["assistant_masks"])
    learned = tok.decode([i for i, m in zip(out["input_ids"], out["assistant_masks"]) if m])
    assert learned.count("<tool_call>") == 4 and learned.endswith("1 updated.<|im_end|>")
    assert "Hamburg." not in learned.replace('"User lives in Hamburg."', "")  # tool outputs are not learned
    # a delete call keeps exactly its own arguments (what Arrow's schema merging broke)
    t2 = gold_trajectory(examples[1])
    text = tok.decode(tokenize_trajectory(tok, t2)["input_ids"])
    assert '{"name": "delete_memory", "arguments": {"memory_id": "m3"}}' in text
    assert len(tokenize_trajectory(tok, t, max_length=50)["input_ids"]) == 50
