"""Whole-user ingestion: order, dates, batching across users, and resuming after an interruption."""

from __future__ import annotations

import json

import pytest

from deltamem_lib.agent.ingest import ingest_users, load_ingested, schedule, state_path
from deltamem_lib.agent.systems import make_system
from deltamem_lib.models.base import ChatModel, ChatResponse
from deltamem_lib.synthesis import SynthConfig, generate_episodes


class EchoModel(ChatModel):
    """Adds one memory quoting the session's first user words and the size of its batch (so a
    result depends on its batch companions, like padded batched decoding can)."""

    name = "echo"

    def __init__(self):
        super().__init__()
        self.batches = []

    def _generate(self, batch, *, max_new_tokens, temperature, tools, seed):
        self.batches.append(len(batch))
        out = []
        for msgs in batch:
            if msgs[-1]["role"] == "tool":
                out.append(ChatResponse("done", []))
                continue
            first = msgs[1]["content"].split("User: ", 1)[1].split("\n")[0]
            words = " ".join(first.split()[:4])
            out.append(ChatResponse("", [{"name": "add_memory",
                                          "arguments": {"content": f"User said {words} (batch "
                                                                   f"{len(batch)})."}}]))
        return out


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def episodes():
    return generate_episodes(SynthConfig(users=3, sessions=3, seed=4))


def test_schedule_orders_work():
    eps = generate_episodes(SynthConfig(users=3, sessions=2, seed=0))
    assert schedule(eps, batch_users=False) == [[(0, 0)], [(0, 1)], [(1, 0)], [(1, 1)], [(2, 0)], [(2, 1)]]
    assert schedule(eps, batch_users=True, max_batch=2) == [[(0, 0), (1, 0)], [(2, 0)], [(0, 1), (1, 1)],
                                                            [(2, 1)]]


def test_states_carry_over_with_session_dates(episodes):
    system = make_system("deltamem", EchoModel(), retriever="lexical")
    res = ingest_users(system, episodes, max_batch=2)
    ep = episodes[0]
    states = res.states[ep.user_id]
    assert len(states) == 3 and res.processed == 9
    n0 = len(ep.initial_memory)
    assert [len(s) for s in states] == [n0 + 1, n0 + 2, n0 + 3]  # each session builds on the previous state
    added = [states[k][f"m{n0 + k + 1}"] for k in range(3)]
    assert [e.timestamp for e in added] == [s.date for s in ep.sessions]
    assert [e.source.session_id for e in added] == [s.session_id for s in ep.sessions]


def test_oracle_ingestion_reproduces_the_gold_states(episodes):
    res = ingest_users(make_system("oracle"), episodes, batch_users=False)
    for ep in episodes:
        assert [s.contents() for s in res.states[ep.user_id]] == [
            [e.content for e in s.state_after] for s in ep.sessions]


@pytest.mark.parametrize("batched", [True, False])
def test_interrupted_run_resumes_to_the_same_states(tmp_path, episodes, batched):
    full = ingest_users(make_system("deltamem", EchoModel(), retriever="lexical"), episodes,
                        batch_users=batched, max_batch=2)
    seen = []

    def interrupt(user_id, k, state):
        seen.append((user_id, k))
        if (user_id, k) == (episodes[1].user_id, 1):
            raise Stop

    with pytest.raises(Stop):
        ingest_users(make_system("deltamem", EchoModel(), retriever="lexical"), episodes, out_dir=tmp_path,
                     batch_users=batched, max_batch=2, callback=interrupt)
    assert 0 < len(seen) < 9
    # a chunk half-written when the process died is recomputed whole: simulate one lost file
    last = state_path(tmp_path, episodes[1].user_id, 1)
    assert last.is_file()
    last.unlink()
    model = EchoModel()
    resumed = ingest_users(make_system("deltamem", model, retriever="lexical"), episodes, out_dir=tmp_path,
                           batch_users=batched, max_batch=2)
    assert resumed.skipped > 0 and resumed.processed + resumed.skipped == 9
    assert resumed.states == full.states
    for ep in episodes:
        assert load_ingested(tmp_path, ep.user_id) == full.states[ep.user_id]
    if batched:
        assert max(model.batches) == 2  # resumed chunks keep their batch companions


def test_resume_refuses_a_different_run(tmp_path, episodes):
    ingest_users(make_system("oracle"), episodes[:1], out_dir=tmp_path)
    with pytest.raises(ValueError, match="different system"):
        ingest_users(make_system("noop"), episodes[:1], out_dir=tmp_path)
    manifest = json.loads((tmp_path / "ingest_manifest.json").read_text())
    assert manifest["users"] == [episodes[0].user_id]


def test_resume_refuses_the_same_system_with_other_settings(tmp_path, episodes):
    """A system that writes differently (another prompt, another budget) does not resume another's
    states: a changed setting would otherwise be silently ignored."""
    model = EchoModel()
    ingest_users(make_system("deltamem-oneshot", model, retriever="lexical"), episodes[:1], out_dir=tmp_path)
    manifest = json.loads((tmp_path / "ingest_manifest.json").read_text())
    assert manifest["options"]["prompt_style"] == "full" and manifest["options"]["retriever"] == "lexical"
    with pytest.raises(ValueError, match="field options: .*prompt_style"):
        ingest_users(make_system("deltamem-oneshot", model, retriever="lexical", prompt_style="compact"),
                     episodes[:1], out_dir=tmp_path)
    same = make_system("deltamem-oneshot", model, retriever="lexical")
    again = ingest_users(same, episodes[:1], out_dir=tmp_path)
    assert again.processed == 0  # the same settings resume
