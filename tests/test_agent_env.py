"""MemoryEnv: the tools, rejections that never corrupt the state, the reward, TRL's contract."""

from __future__ import annotations

import inspect

import pytest

from deltamem_lib.agent.env import MemoryEnv, ToolCallError, apply_operations, make_env_factory, tool_schemas
from deltamem_lib.agent.prompts import react_prompt, with_prompt_column
from deltamem_lib.agent.toy import toy_episodes
from deltamem_lib.episodes import parse_rl_row, rl_rows
from deltamem_lib.mld import MLDOptions

Env = make_env_factory(retriever="lexical")


@pytest.fixture()
def rows():
    return rl_rows(toy_episodes())


@pytest.fixture()
def env(rows):
    e = Env()
    e.reset(**rows[0], prompt=[{"role": "user", "content": "x"}])  # extra columns (TRL's prompt) are ignored
    return e


def test_reset_returns_the_session_and_loads_gold_before(env, rows):
    obs = Env().reset(**rows[0])
    assert "Session date: 2024-03-02" in obs and "[toy1-s1-t1] User: Big news" in obs
    assert "3 entries" in obs
    assert env.state.contents() == ["User lives in Hamburg.", "User works as a nurse.",
                                    "User has a cat named Mia."]
    assert env.num_calls == env.invalid_calls == 0


def test_tools_change_the_state_and_reach_reward_one(env):
    assert "[m1] User lives in Hamburg." in env.search_memory("Hamburg")
    assert env.update_memory("m1", "User lives in Berlin.").startswith("Updated [m1]")
    assert env.add_memory("User goes running every morning.") == "Added [m4] User goes running every morning."
    assert env.get_reward() == 1.0
    assert [o.op.value for o in env.operations] == ["UPDATE", "ADD"]
    new = env.state["m4"]
    assert new.timestamp == "2024-03-02" and new.source.session_id == "toy1-s1"  # dated, with provenance
    assert env.num_calls == 3 and env.invalid_calls == 0


def test_doing_nothing_and_a_stale_update_earn_nothing(env):
    assert env.get_reward() == 0.0
    env.update_memory("m1", "User lives in a flat.")  # wrong: the keyword Berlin is missing
    assert env.get_reward() < 0.5


@pytest.mark.parametrize("call,reason", [
    (lambda e: e.update_memory("m9", "User x."), "unknown memory id 'm9'"),
    (lambda e: e.delete_memory("banana"), "must look like 'm3'"),
    (lambda e: e.add_memory("   "), "non-empty"),
    (lambda e: e.add_memory(["a", "list"]), "non-empty sentence"),
    (lambda e: e.update_memory(id="m1", text="User x."), "unexpected argument(s) 'id', 'text'"),
    (lambda e: e.search_memory("home", top_k="many"), "top_k must be an integer"),
    (lambda e: e.search_memory(""), "non-empty query"),
    (lambda e: e.add_memory(), "missing a required argument"),
])
def test_invalid_calls_are_rejected_logged_counted_and_harmless(env, call, reason):
    before = env.state
    with pytest.raises(ToolCallError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        call(env)
    assert env.state == before  # never corrupted
    assert env.invalid_calls == 1 and env.num_calls == 1
    assert env.call_log[-1]["ok"] is False and reason.split("'")[0] in env.call_log[-1]["result"]


def test_lenient_ids_and_top_k(env):
    assert env.delete_memory("[M3]").startswith("Deleted [m3]")
    assert len(env.search_memory("nurse", top_k="1").splitlines()) == 1
    assert len(env.search_memory("nurse", top_k=99).splitlines()) == 2  # clamped, two entries left
    assert env.invalid_calls == 0


def test_deleted_ids_are_never_reused(env):
    env.delete_memory("m3")
    assert env.add_memory("User has a hamster.").startswith("Added [m4]")
    with pytest.raises(ToolCallError):
        env.update_memory("m3", "User has a cat.")


def test_reset_starts_a_new_episode(env, rows):
    env.add_memory("User likes tea.")
    with pytest.raises(ToolCallError):
        env.delete_memory("m99")
    env.reset(**rows[1])
    assert env.num_calls == env.invalid_calls == 0 and env.operations == []
    assert env.state.contents() == ["User lives in Berlin.", "User works as a nurse.",
                                    "User has a cat named Mia.", "User goes running every morning."]


def test_get_reward_before_reset():
    with pytest.raises(RuntimeError, match="before reset"):
        MemoryEnv().get_reward()


def test_tools_are_what_trl_sees():
    """TRL exposes every public function of the class except reset/get_reward as a tool."""
    names = [n for n, _ in inspect.getmembers(Env, predicate=inspect.isfunction)
             if not n.startswith("_") and n not in ("reset", "get_reward")]
    assert names == ["add_memory", "delete_memory", "search_memory", "update_memory"]
    schemas = {s["function"]["name"]: s["function"] for s in tool_schemas(Env)}
    assert schemas["update_memory"]["parameters"]["required"] == ["memory_id", "content"]
    assert schemas["search_memory"]["parameters"]["required"] == ["query"]
    assert schemas["search_memory"]["parameters"]["properties"]["top_k"]["type"] == "integer"
    assert all(s["description"] for s in schemas.values())


def test_no_delete_ablation_removes_the_tool(rows):
    NoDel = make_env_factory(allow_delete=False, retriever="lexical")
    assert NoDel.__name__ == "MemoryEnv" and NoDel.delete_memory is None  # TRL sees no delete tool
    assert [s["function"]["name"] for s in tool_schemas(NoDel)] == ["add_memory", "search_memory",
                                                                    "update_memory"]
    assert "delete_memory" not in react_prompt(allow_delete=False)[0]["content"]
    e = NoDel()
    e.reset(**rows[1])  # before toy1-s2: four entries, m3 among them
    out = apply_operations(e, [{"op": "DELETE", "memory_id": "m3"}])
    assert out[0]["ok"] is False and e.invalid_calls == 1 and len(e.state) == 4
    assert 0.0 <= e.get_reward() <= 1.0 and e.last_reward is not None  # the reward still works


def test_factory_options_are_checked_and_applied(rows):
    with pytest.raises(ValueError, match="unknown MemoryEnv option"):
        make_env_factory(alow_delete=False)
    with pytest.raises(ValueError, match="scope"):
        make_env_factory(scope="global")
    Loose = make_env_factory(lexical_fidelity=False, retriever="lexical")
    e = Loose()
    e.reset(**rows[0])
    # without lexical fidelity the stale "Hamburg" memory earns credit against "Berlin"
    assert e.get_reward() > 0.0 and e.last_reward is not None
    strict = Env()
    strict.reset(**rows[0])
    assert strict.get_reward() == 0.0
    # the reward's settings travel as one checked value: by name or as MLDOptions, the same class
    assert Loose.mld == MLDOptions(lexical_fidelity=False)
    assert make_env_factory(mld=MLDOptions(lexical_fidelity=False), retriever="lexical").mld == Loose.mld
    with pytest.raises(ValueError, match="threshold"):
        make_env_factory(threshold=1.5)   # refused when the class is made, not at the first reward
    with pytest.raises(TypeError, match="lexical_fidelity"):
        make_env_factory(lexical_fidelity="no")
    with pytest.raises(TypeError, match="MLDOptions"):
        make_env_factory(mld={"threshold": 0.5})


def test_apply_operations_shares_validation(env):
    out = apply_operations(env, [{"op": "UPDATE", "memory_id": "m1", "content": "User lives in Berlin."},
                                 {"op": "ADD", "content": "User goes running every morning."},
                                 {"op": "DELETE", "memory_id": "m7"}, {"op": "NOOP"}, {"op": "JUMP"}])
    assert [o["ok"] for o in out] == [True, True, False, False]
    assert env.invalid_calls == 2 and env.get_reward() == 1.0


def test_prompt_column_matches_react_prompt(rows):
    ds_rows = with_prompt_column(rows)
    assert ds_rows[0]["prompt"] == react_prompt() and ds_rows[0]["session_id"] == rows[0]["session_id"]
    assert parse_rl_row(ds_rows[0]).session_id == "toy1-s1"
