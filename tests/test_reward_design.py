"""The reward each profile trains with must teach the right thing (DeltaMem §3.3, Fig. 3).

On the mistakes catalogue (``deltamem_lib.mistakes``, 20 scenarios of one UPDATE and one ADD):
the gold operations score highest, a faithful paraphrase second, every error type below
the paraphrase, and a partly right session above doing nothing — what the dense ``r_trans``
(``docs/mld_spec.md``) adds over the residual normalisation, under which a session with one
of its two changes right scored like doing nothing. (The earlier rule "keeping the stale fact
next to the new one no higher than leaving the update out" is withdrawn: under the dense
reward recording the new fact is half of the UPDATE.)
"""

from __future__ import annotations

import pytest

from deltamem_lib.config import list_profiles
from deltamem_lib.episodes import SessionExample
from deltamem_lib.memory import MemoryEntry, MemoryState, Operation
from deltamem_lib.training.rewards import Rollout, reward_on_mistakes, total_rewards
from deltamem_lib.training.settings import TrainConfig
from deltamem_lib.training.shaping import operation_f1

ERRORS = ("do_nothing", "missed_update", "spurious_add", "wrong_delete", "add_not_update", "keyword_dropped",
          "duplicate_add")


def _profile_cfg(name: str) -> TrainConfig:
    return TrainConfig.from_profile(name)


@pytest.mark.parametrize("profile", list_profiles())
def test_each_profiles_training_reward_ranks_the_mistakes(profile):
    scores = reward_on_mistakes(_profile_cfg(profile))
    assert scores["perfect"] > scores["paraphrase"], scores
    for name in ERRORS:
        assert scores["paraphrase"] > scores[name], (name, scores)
    for name in ("missed_update", "add_not_update", "wrong_delete", "keyword_dropped"):
        assert scores[name] > scores["do_nothing"], (name, scores)


def test_the_training_r_trans_is_the_dense_one():
    """r_trans as GRPO sees it pays the right half of a session (1/2 for a missed update next to
    a right ADD), and doing nothing 0; a reward built on the residual would pay both 0."""
    scores = reward_on_mistakes(TrainConfig(w_ops=0.0, w_idle=0.0, w_invalid=0.0, w_format=0.0))
    assert scores["missed_update"] == pytest.approx(0.5)
    assert scores["do_nothing"] == 0.0 and scores["perfect"] == 1.0


def _state(*pairs):
    return MemoryState([MemoryEntry(i, c, keywords=tuple(k)) for i, c, k in pairs])


def test_operation_f1_matches_updates_by_id():
    before = _state(("m1", "User lives in Hamburg", ["Hamburg"]), ("m2", "User plays the piano", ["piano"]))
    gold = before.copy()
    gold.apply([Operation.update("m1", "User lives in Berlin", keywords=("Berlin",)),
                Operation.add("User has a dog named Rex", keywords=("Rex",))])
    right = before.copy()
    right.apply([Operation.update("m1", "User lives in Berlin"), Operation.add("User has a dog named Rex")])
    wrong_id = before.copy()
    wrong_id.apply([Operation.update("m2", "User lives in Berlin"),
                    Operation.add("User has a dog named Rex")])
    add_instead = before.copy()
    add_instead.apply([Operation.add("User lives in Berlin"), Operation.add("User has a dog named Rex")])
    assert operation_f1(before, right, gold) == pytest.approx(1.0)
    assert operation_f1(before, wrong_id, gold) == pytest.approx(0.5)   # only the ADD matches
    assert operation_f1(before, add_instead, gold) == pytest.approx(0.5)
    assert operation_f1(before, before.copy(), gold) == 0.0
    assert operation_f1(before, before.copy(), before.copy()) == 1.0


def test_total_rewards_sums_the_weighted_components():
    before = _state(("m1", "User lives in Hamburg", ["Hamburg"]))
    gold = before.copy()
    gold.apply([Operation.update("m1", "User lives in Berlin", keywords=("Berlin",))])
    ex = SessionExample("u", "s", 0, "2024-01-01", (), before, gold, ())
    cfg = TrainConfig(w_state_aux=0.0, w_ops=0.5, w_idle=0.5)
    out = total_rewards(cfg, [Rollout(ex, gold.copy(), attempted=1), Rollout(ex, before.copy())])
    assert out["r_trans"] == [1.0, 0.0]
    assert out["r_ops"] == [0.5, 0.0]
    assert out["idle"] == [0.0, -0.5]  # the session changes something; the second rollout changed nothing
    assert out["total"] == [1.5, -0.5]


def test_the_gpu_profile_trains_the_papers_agent_on_the_papers_reward():
    """gpu-a100: the ReAct agent with the search tool, through TRL's environment_factory, on
    r_trans with embedding similarity; the one-shot agent is an ablation there."""
    from deltamem_lib.training.rewards import env_owns_reward

    cfg = _profile_cfg("gpu-a100")
    assert (cfg.agent, cfg.similarity, cfg.reward, cfg.scope) == ("react", "embedding", "state", "delta")
    assert env_owns_reward(cfg) and cfg.w_ops == 0.0 and cfg.w_state_aux == 0.0
    assert "oneshot_agent" in cfg.ablations
