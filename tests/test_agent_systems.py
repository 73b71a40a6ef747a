"""The agent loops and the baselines, driven by a scripted chat model; evaluation metrics."""

from __future__ import annotations

import json
import re

import pytest

from deltamem_lib.agent.harness import aggregate, evaluate_system, match_operations, select_sessions
from deltamem_lib.agent.systems import SYSTEMS, make_system
from deltamem_lib.agent.toy import toy_episodes
from deltamem_lib.episodes import parse_rl_row, rl_rows
from deltamem_lib.memory import Operation
from deltamem_lib.models.base import ChatModel, ChatResponse


class Scripted(ChatModel):
    """A chat model whose answer is ``reply(messages, tools)``; records what it was asked."""

    name = "scripted"

    def __init__(self, reply):
        super().__init__()
        self.reply = reply
        self.batches = []

    def _generate(self, batch, *, max_new_tokens, temperature, tools, seed):
        from deltamem_lib.models.parsing import parse_tool_calls

        self.batches.append(len(batch))
        out = []
        for msgs in batch:
            raw = self.reply(msgs, tools)
            p = parse_tool_calls(raw, known_tools={t["function"]["name"] for t in tools or []} or None)
            out.append(ChatResponse(p.content, p.calls, prompt_tokens=100, completion_tokens=10, seconds=0.01,
                                    raw_text=raw, malformed_tool_calls=len(p.malformed)))
        return out


def call(name, **args):
    return "<tool_call>" + json.dumps({"name": name, "arguments": args}) + "</tool_call>"


@pytest.fixture()
def examples():
    return [parse_rl_row(r) for r in rl_rows(toy_episodes())]


def test_react_loop_runs_tools_until_a_plain_answer(examples):
    def reply(msgs, tools):
        turn = sum(m["role"] == "assistant" for m in msgs)
        if turn == 0:
            return call("search_memory", query="home") + call("update_memory", memory_id="m1",
                                                              content="User lives in Berlin.")
        if turn == 1:
            return call("add_memory", content="User goes running every morning.")
        return "Memory updated."

    model = Scripted(reply)
    res = make_system("deltamem", model, retriever="lexical").run(examples[:1])[0]
    assert res.state_after.contents() == examples[0].state_after.contents()
    assert res.tool_calls == 3 and res.invalid_calls == 0 and res.model_calls == 3
    assert (res.prompt_tokens, res.completion_tokens) == (300, 30)
    roles = [m["role"] for m in res.transcript]
    assert roles == ["system", "user", "assistant", "tool", "tool", "assistant", "tool", "assistant"]
    assert "[m1] User lives in Hamburg." in res.transcript[3]["content"]
    # the prompt is exactly TRL's: prompt column + reset observation appended to the user turn
    assert res.transcript[1]["content"].startswith("Update the memory after this chat session.\n\nSession "
                                                   "date:")


def test_react_respects_max_tool_calls_and_counts_errors(examples):
    model = Scripted(lambda msgs, tools: call("delete_memory", memory_id="m42") + call("fly", to="moon"))
    res = make_system("deltamem", model, max_tool_calls=3, retriever="lexical").run(examples[:2])
    for r, ex in zip(res, examples[:2]):
        assert r.tool_calls == 3 and r.invalid_calls == 3
        assert r.state_after == ex.state_before  # nothing applied
        tool_msgs = [m["content"] for m in r.transcript if m["role"] == "tool"]
        assert "unknown memory id 'm42'" in tool_msgs[0] and "Tool fly not found" in tool_msgs[1]
    assert model.batches[0] == 2  # both sessions in one batch


def test_react_malformed_output_is_counted_not_fatal(examples):
    res = make_system("deltamem", Scripted(lambda m, t: '<tool_call>{"name": broken</tool_call>'),
                      retriever="lexical").run(examples[:1])[0]
    assert res.malformed_outputs == 1 and res.tool_calls == 0 and res.state_after == examples[0].state_before


def test_oneshot_applies_the_json_list(examples):
    def reply(msgs, tools):
        assert tools is None and "[m1] User lives in Hamburg." in msgs[-1]["content"]
        return ('Here: [{"op": "UPDATE", "memory_id": "m1", "content": "User lives in Berlin."}, '
                '{"op": "ADD", "content": "User goes running every morning."}, {"op": "DELETE", "memory_id": '
                '"m8"}]')

    res = make_system("deltamem-oneshot", Scripted(reply), retriever="lexical").run(examples[:1])[0]
    assert res.state_after.contents() == examples[0].state_after.contents()
    assert res.tool_calls == 3 and res.invalid_calls == 1 and res.malformed_outputs == 0
    bad = make_system("deltamem-oneshot", Scripted(lambda m, t: "the user moved"),
                      retriever="lexical").run(examples[:1])[0]
    assert bad.malformed_outputs == 1 and bad.state_after == examples[0].state_before
    assert bad.tool_calls == bad.invalid_calls == 0  # an unreadable answer is malformed, not an invalid call
    items = make_system("deltamem-oneshot", Scripted(lambda m, t: '[{"op": "FLY"}, {"op": "NOOP"}]'),
                        retriever="lexical").run(examples[:1])[0]
    assert (items.malformed_outputs, items.tool_calls, items.invalid_calls) == (0, 1, 1)


def test_mem0_style_decides_per_fact(examples):
    def reply(msgs, tools):
        sys = msgs[0]["content"]
        if sys.startswith("Extract"):
            return '["User moved to Berlin.", "User goes running every morning.", "User likes rain."]'
        fact = re.search(r"New fact: (.*)\n", msgs[-1]["content"]).group(1)
        if "Berlin" in fact:
            assert "[m1] User lives in Hamburg." in msgs[-1]["content"]  # retrieved for this fact
            return '{"event": "UPDATE", "id": "m1", "text": "User lives in Berlin."}'
        if "running" in fact:
            return '{"event": "ADD"}'  # Mem0 falls back to the fact's text
        return "no idea"

    model = Scripted(reply)
    res = make_system("mem0-style", model, retriever="lexical").run(examples[:1])[0]
    assert res.state_after.contents() == examples[0].state_after.contents()
    assert res.model_calls == 4 and res.malformed_outputs == 1
    assert model.batches == [1, 3]  # one extraction batch, one batch of decisions


def test_add_only_never_updates(examples):
    model = Scripted(lambda m, t: '{"facts": ["User lives in Berlin.", "User works as a nurse."]}')
    res = make_system("add-only", model, retriever="lexical").run(examples[:1])[0]
    # the stale Hamburg memory stays; the known nurse fact is not duplicated
    assert res.state_after.contents() == ["User lives in Hamburg.", "User works as a nurse.",
                                          "User has a cat named Mia.", "User lives in Berlin."]
    assert [o.op.value for o in res.operations] == ["ADD"]


def test_make_system_errors():
    with pytest.raises(ValueError, match="unknown system"):
        make_system("mem1")
    with pytest.raises(ValueError, match="needs a model"):
        make_system("deltamem")
    assert set(SYSTEMS) >= {"oracle", "deltamem", "deltamem-oneshot", "mem0-style", "add-only"}


# ----- metrics --------------------------------------------------------------------------
def test_match_operations_by_type_target_and_best_add_match():
    gold = [Operation.update("m1", "User lives in Berlin.", keywords=("Berlin",)), Operation.delete("m3"),
            Operation.add("User goes running every morning.", keywords=("running",)),
            Operation.add("User has a dog named Rex.", keywords=("dog", "Rex"))]
    pred = [Operation.update("m1", "whatever"),            # same target: a match (content is r_trans' job)
            Operation.delete("m2"),                         # wrong target
            Operation.add("User has a dog called Rex."),    # best ADD match, keywords kept
            Operation.add("User goes jogging."),            # too far from anything
            Operation.update("m1", "again")]                # the gold UPDATE of m1 is used up
    c = match_operations(pred, gold)
    assert (c["tp_UPDATE"], c["pred_UPDATE"], c["gold_UPDATE"]) == (1, 2, 1)
    assert (c["tp_DELETE"], c["pred_DELETE"], c["gold_DELETE"]) == (0, 1, 1)
    assert (c["tp_ADD"], c["pred_ADD"], c["gold_ADD"]) == (1, 2, 2)
    assert c.prf("UPDATE") == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "matched": 1, "predicted": 2,
                               "gold": 1}
    assert c.prf("all")["matched"] == 2
    # an ADD that drops the gold keyword does not match
    assert match_operations([Operation.add("User has a dog.")],
                            [Operation.add("User has a dog named Rex.", keywords=("Rex",))])["tp_ADD"] == 0


def test_oracle_scores_one_and_noop_scores_the_floor(examples):
    oracle = evaluate_system(make_system("oracle"), examples, batch_size=2)
    assert oracle["r_trans_mean"] == 1.0 and oracle["op_f1"]["all"]["f1"] == 1.0
    assert oracle["sessions"] == 5 and oracle["invalid_call_rate"] == 0.0
    noop = evaluate_system(make_system("noop"), examples)
    # r_trans is 1 on the one session without changes and 0 elsewhere (lexical fidelity)
    assert noop["r_trans_mean"] == 0.2 and noop["r_trans_unchanged_sessions"] == 1.0
    assert noop["op_f1"]["all"]["recall"] == 0.0
    for key in ("system", "model", "sessions", "r_trans_mean", "op_f1", "invalid_call_rate",
                "tokens_per_session", "seconds_per_session"):
        assert key in oracle
    json.dumps(oracle)  # JSON-ready


def test_aggregate_costs_and_rates(examples):
    model = Scripted(lambda m, t: call("delete_memory", memory_id="m1") if m[-1]["role"] != "tool"
                     else "done")
    out = evaluate_system(make_system("deltamem", model, retriever="lexical"), examples[:2], model_name="x")
    assert out["model"] == "x" and out["tool_calls_per_session"] == 1.0
    assert out["tokens_per_session"] == 220.0 and out["model_calls_per_session"] == 2.0
    assert out["invalid_call_rate"] == 0.0
    with pytest.raises(ValueError):
        aggregate([])


def test_select_sessions_split_and_limit():
    from deltamem_lib.synthesis import SynthConfig, generate_episodes

    eps = generate_episodes(SynthConfig(users=6, sessions=3, seed=1))
    all_ex, src = select_sessions(eps, "all")
    assert len(all_ex) == 18 and src == "all"
    parts = [select_sessions(eps, s)[0] for s in ("train", "validation", "test")]
    assert sum(len(p) for p in parts) == 18
    users = [{e.user_id for e in p} for p in parts]
    assert not (users[0] & users[1] or users[0] & users[2] or users[1] & users[2])  # user-level splits
    a, _ = select_sessions(eps, "all", limit=5, seed=3)
    b, _ = select_sessions(eps, "all", limit=5, seed=3)
    assert [e.session_id for e in a] == [e.session_id for e in b] and len(a) == 5
    with pytest.raises(ValueError):
        select_sessions(eps, "dev")


def test_cli_evaluate_oracle_on_synthetic_data(tmp_path):
    from deltamem_lib.cli import main
    from deltamem_lib.episodes import save_episodes
    from deltamem_lib.synthesis import SynthConfig, generate_episodes
    from deltamem_lib.synthesis.dataset import write_synth_output

    synth = write_synth_output(tmp_path / "synth",
                               generate_episodes(SynthConfig(users=10, sessions=3, seed=0)), seed=0,
                               generator="procedural")
    out = tmp_path / "oracle.json"
    assert main(["evaluate", "--episodes", str(synth.episodes), "--split", "all", "--system", "oracle",
                 "--limit-sessions", "7", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["system"] == "oracle" and res["sessions"] == 7 and res["r_trans_mean"] == 1.0
    assert res["op_f1"]["all"]["f1"] == 1.0 and res["split"] == "all"
    # the test split is the one `deltamem synth` saved
    assert main(["evaluate", "--episodes", str(synth.episodes), "--split", "test", "--system", "noop",
                 "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    from datasets import load_from_disk

    test_users = set(load_from_disk(str(synth.dataset))["test"]["user_id"])
    assert {s["user_id"] for s in res["per_session"]} == test_users and res["sessions"] == 3 * len(test_users)
    assert res["split_source"].endswith("dataset")
    # without the saved dataset the same rule recomputes the same split
    save_episodes(tmp_path / "bare" / "episodes.jsonl", synth_eps := generate_episodes(
        SynthConfig(users=10, sessions=3, seed=0)))
    users, source = select_sessions(synth_eps, "test")[0], select_sessions(synth_eps, "test")[1]
    assert {e.user_id for e in users} == test_users and "seed 0" in source
    assert main(["evaluate", "--episodes", str(tmp_path / "missing.jsonl"), "--system", "oracle",
                 "--out", str(out)]) == 2


def test_full_context_is_the_raw_dated_history():
    from deltamem_lib.agent.baselines import FullContext

    ep = toy_episodes()[0]
    text = FullContext().context(ep, upto=2)
    assert text.index("Session date: 2024-03-02") < text.index("Session date: 2024-04-10")
    assert "My cat Mia died" in text and "sunny day" not in text  # only sessions before index 2
    assert FullContext().context(ep).count("Session date:") == 3
