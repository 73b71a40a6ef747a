"""One vocabulary of ablations: the training side, notebook 05's reward variants and its agent
configurations are keyed by the same ids, each shown with one label."""

from __future__ import annotations

import pytest

from deltamem_lib.ablation_names import ABLATION_NAMES, check_ids, label_of
from deltamem_lib.benchmarks.ablations import AGENT_VARIANTS, REWARD_VARIANTS, agent_ablations
from deltamem_lib.training.settings import ABLATIONS, TrainConfig, apply_ablation


@pytest.mark.parametrize("side, table", [("training", ABLATIONS), ("reward", REWARD_VARIANTS),
                                         ("agent", AGENT_VARIANTS)])
def test_each_side_keys_its_table_by_the_ids_of_that_side(side, table):
    assert set(table) == {a.id for a in ABLATION_NAMES.values() if side in a.sides}


def test_a_concept_measured_on_two_sides_has_one_id():
    # the lexical-fidelity ablation is trained (notebook 04) and scored (notebook 05) under one name
    assert "no_lexical_fidelity" in ABLATIONS and "no_lexical_fidelity" in REWARD_VARIANTS
    assert "outcome_reward" in ABLATIONS and "outcome_reward" in REWARD_VARIANTS
    assert "state_scope" in ABLATIONS and "state_scope" in REWARD_VARIANTS
    labels = [a.label for a in ABLATION_NAMES.values()]
    assert len(set(labels)) == len(labels)
    assert label_of("no_lexical_fidelity") == "r_trans, no lexical fidelity"
    assert label_of("sft+grpo") == "sft+grpo"  # not an ablation: shown as it is


def test_a_label_or_a_misspelling_is_refused_with_the_id():
    with pytest.raises(ValueError, match="label of 'oneshot_no_delete'"):
        check_ids(["one-shot, no DELETE"], "agent")
    with pytest.raises(ValueError, match="did you mean 'no_delete'"):
        check_ids(["no_delet"], "training")
    with pytest.raises(ValueError, match="unknown ablation 'react_agent'"):
        check_ids(["react_agent"], "training")  # an agent-side id is not a training run
    assert check_ids(("r_trans", "outcome_reward"), "reward") == ["r_trans", "outcome_reward"]


def test_training_settings_and_agent_ablations_refuse_unknown_ids():
    with pytest.raises(ValueError, match="did you mean 'no_delete'"):
        TrainConfig(ablations=["nodelete"]).validate()
    with pytest.raises(ValueError, match="unknown ablation"):
        apply_ablation(TrainConfig(), "ReAct")
    with pytest.raises(ValueError, match="label of 'react_agent'"):
        agent_ablations(None, [], {}, variants=["ReAct"])  # refused before any model is touched
