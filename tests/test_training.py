"""Training library (notebook 04): rewards, outcome reader, bootstrap, configs, data, metrics, exercises.

Fast: no model is loaded here (the slow tests in ``test_training_slow.py`` train a tiny one).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from deltamem_lib.episodes import parse_rl_row, state_before_each_session
from deltamem_lib.memory import MemoryEntry
from deltamem_lib.mld import memory_levenshtein, ordered_levenshtein
from deltamem_lib.outcome import answer_probe, entry_types, outcome_accuracy
from deltamem_lib.teaching.rl_training import (
    group_advantages,
    group_table,
    mistake_group,
    pick_session,
    score_group,
)
from deltamem_lib.training.heldout import paired_bootstrap, paired_from_results
from deltamem_lib.training.metrics import read_metrics, step_times, truncate_metrics
from deltamem_lib.training.rewards import RolloutScorer, build_reward_functions
from deltamem_lib.training.settings import (
    ABLATIONS,
    GRPO_FIELDS,
    TrainConfig,
    apply_ablation,
    grpo_config,
    grpo_options,
    grpo_options_table,
)


# ----- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data():
    from deltamem_lib.training.datasets import prepare_data

    return prepare_data(TrainConfig(train_users=8, test_users=3, sessions_per_user=5, data_seed=7))


@pytest.fixture(scope="module")
def row(data):
    """A training session whose gold operations hold an UPDATE and an ADD."""
    return pick_session(data.train_rows, kinds=("UPDATE", "ADD"))


def _call(fn, row, texts):
    """Call a reward function exactly as TRL does: columns repeated per completion."""
    columns = {k: [row[k]] * len(texts) for k in row if k != "prompt"}
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    return fn(prompts=[None] * len(texts), completions=completions, trainer_state=None, log_extra=None,
              completion_ids=None, **columns)


def _gold_json(row) -> str:
    from deltamem_lib.training.datasets import oneshot_target

    return oneshot_target(parse_rl_row(row))


def _funcs(cfg):
    funcs, weights, _ = build_reward_functions(cfg)
    return {f.__name__: f for f in funcs}, dict(zip([f.__name__ for f in funcs], weights))


# ----- reward components ----------------------------------------------------------------------
def test_gold_answer_earns_full_state_reward_and_no_penalty(row):
    f, _ = _funcs(TrainConfig())
    gold = _gold_json(row)
    assert _call(f["r_trans"], row, [gold]) == [pytest.approx(1.0)]
    assert _call(f["invalid_calls"], row, [gold]) == [0.0]
    assert _call(f["format"], row, [gold]) == [0.0]


def test_each_component_on_hand_made_rollouts(row):
    f, _ = _funcs(TrainConfig())
    ex = parse_rl_row(row)
    texts = ["[]", "I think nothing changed.",
             json.dumps([{"op": "UPDATE", "memory_id": "m99", "content": "x"}]),
             json.dumps([{"op": "DELETE", "memory_id": ex.state_before.ids()[0]}])]
    r = _call(f["r_trans"], row, texts)
    noop = memory_levenshtein(list(ex.state_before.entries), list(ex.state_after.entries)).reward
    assert r[0] == pytest.approx(noop) and r[1] == pytest.approx(noop) and r[2] == pytest.approx(noop)
    assert _call(f["format"], row, texts) == [0.0, -1.0, 0.0, 0.0]            # only the prose is unreadable
    assert _call(f["invalid_calls"], row, texts) == [0.0, -1.0, -1.0, 0.0]   # unknown id m99 is rejected


def test_invalid_share_counts_rejected_among_attempted(row):
    f, _ = _funcs(TrainConfig())
    ops = json.loads(_gold_json(row)) + [{"op": "UPDATE", "memory_id": "m99", "content": "User is tall."}]
    assert _call(f["invalid_calls"], row, [json.dumps(ops)]) == [pytest.approx(-1 / len(ops))]


def test_no_delete_ablation_rejects_delete(row):
    ex = parse_rl_row(row)
    f, _ = _funcs(apply_ablation(TrainConfig(), "no_delete"))
    text = json.dumps([{"op": "DELETE", "memory_id": ex.state_before.ids()[0]}])
    assert _call(f["invalid_calls"], row, [text]) == [-1.0]


def test_weights_and_names_per_setting():
    _, w = _funcs(TrainConfig(w_invalid=0.3, w_format=0.2))
    assert w == {"r_trans": 1.0, "r_ops": 1.0, "idle": 0.5, "invalid_calls": 0.3, "format": 0.2}
    _, w = _funcs(TrainConfig(w_ops=0.0, w_idle=0.0))
    assert w == {"r_trans": 1.0, "invalid_calls": 0.5, "format": 0.5}
    _, w = _funcs(apply_ablation(TrainConfig(), "outcome_reward"))
    assert w == {"outcome": 1.0, "r_trans": 0.0, "invalid_calls": 0.5, "format": 0.5}
    _, w = _funcs(apply_ablation(TrainConfig(), "state_scope"))
    assert w["r_state"] == 1.0 and w["r_trans"] == 0.0
    _, w = _funcs(apply_ablation(TrainConfig(), "no_lexical_fidelity"))
    assert w["r_trans_no_fidelity"] == 1.0 and w["r_trans"] == 0.0
    _, w = _funcs(apply_ablation(TrainConfig(), "ordered_mld"))
    assert w["r_ordered"] == 1.0
    funcs, weights, _ = build_reward_functions(TrainConfig(agent="react", w_ops=0.0, w_idle=0.0),
                                               env_owns_reward=True)
    assert [fn.__name__ for fn in funcs] == ["invalid_calls", "format"] and weights == [0.5, 0.5]


def test_variant_rewards_match_the_mld_library(row):
    ex = parse_rl_row(row)
    text = json.dumps([{"op": "ADD", "content": "User enjoys chess."}])
    pred = ex.state_before.copy()
    pred.apply([{"op": "ADD", "content": "User enjoys chess."}])
    gold = list(ex.state_after.entries)
    f, _ = _funcs(apply_ablation(TrainConfig(), "ordered_mld"))
    assert _call(f["r_ordered"], row,
                 [text]) == [pytest.approx(ordered_levenshtein(list(pred.entries), gold).reward)]
    f, _ = _funcs(apply_ablation(TrainConfig(), "state_scope"))
    assert _call(f["r_state"], row, [text]) == [
        pytest.approx(memory_levenshtein(list(pred.entries), gold, scope="state").reward)]


def test_outcome_component_reads_the_probes(row):
    f, _ = _funcs(apply_ablation(TrainConfig(), "outcome_reward"))
    ex = parse_rl_row(row)
    probes = json.loads(row["probes"])
    assert probes, "every session with changes has probe questions"
    out = _call(f["outcome"], row, [_gold_json(row), "[]"])
    assert out[0] == 1.0
    assert out[1] == pytest.approx(outcome_accuracy(ex.state_before.entries, probes)) and out[1] < 1.0


def test_scorer_parses_a_batch_once(row, monkeypatch):
    scorer = RolloutScorer("oneshot")
    calls = []
    orig = scorer.apply_oneshot
    monkeypatch.setattr(scorer, "apply_oneshot", lambda *a, **k: calls.append(1) or orig(*a, **k))
    funcs, _, _ = build_reward_functions(TrainConfig(), scorer)
    for fn in funcs:
        _call(fn, row, ["[]", _gold_json(row)])
    assert len(calls) == 2  # two rollouts, parsed once for three components


# ----- GRPO group -----------------------------------------------------------------------------
def test_group_advantages_match_trl_formula():
    r = [1.0, 0.5, 0.0, 0.0]
    a = group_advantages(r)
    std = float(np.std(r, ddof=1))
    assert a == pytest.approx([(x - 0.375) / (std + 1e-4) for x in r])
    assert sum(a) == pytest.approx(0.0, abs=1e-9)
    assert group_advantages([1.0, 1.0, 1.0]) == [0.0, 0.0, 0.0]


def test_hand_made_group_ranks_the_gold_answer_first(row):
    group = mistake_group(row)
    scores = score_group(row, group, TrainConfig())
    names = [g["rollout"] for g in group]
    assert names[0] == "perfect" and scores["r_trans"][0] == 1.0
    assert max(scores["r_trans"]) == scores["r_trans"][0]
    assert scores["r_trans"][names.index("do_nothing")] == 0.0
    assert "A (state)" in str(group_table(row, TrainConfig()))


def test_group_table_can_be_checked_by_hand(row):
    """Every component is shown; R is their weighted sum with the weights the note states, and A
    follows from R with the group mean and the G − 1 standard deviation the note states."""
    import re

    from deltamem_lib.teaching.rl_training import reward_terms

    cfg = TrainConfig()
    table = group_table(row, cfg)
    cols = {c: [r[i] for r in table.rows] for i, c in enumerate(table.columns)}
    for reward in ("state", "outcome"):
        terms = reward_terms(cfg, reward)
        totals = cols[f"R ({reward})"]
        for i, total in enumerate(totals):
            assert total == pytest.approx(sum(w * cols[name][i] for name, w in terms))
        mean, std = float(np.mean(totals)), float(np.std(totals, ddof=1))
        assert cols[f"A ({reward})"] == pytest.approx([(r - mean) / (std + 1e-4) for r in totals])
        line = next(x for x in table.note.split("\n") if x.startswith(f"**{reward.capitalize()} reward:**"))
        assert re.search(rf"mean\(R\) = {mean:.3f}, std\(R\) = {std:.3f}", line), line
        assert all(f"{w:g}·{name}" in line for name, w in terms if w)


# ----- the outcome reader ---------------------------------------------------------------------
def test_reader_answers_every_probe_from_the_gold_state():
    from deltamem_lib.synthesis import SynthConfig, generate_episodes
    from deltamem_lib.synthesis.probes import probe_questions

    eps = generate_episodes(SynthConfig(users=6, sessions=6, seed=11))
    right = total = 0
    for ep in eps:
        by = {}
        for p in probe_questions(ep):
            by.setdefault(p["session_id"], []).append(p)
        for s, _, after in state_before_each_session(ep):
            for p in by.get(s.session_id, []):
                right += answer_probe(after.entries, p).correct
                total += 1
    assert total > 50 and right == total


def test_reader_on_hand_made_memories():
    probe = {"question": "Which city does the user live in?", "answer": "Leeds", "answer_type": "span",
             "fact_type": "home", "keywords": ["Leeds"]}
    assert answer_probe([MemoryEntry("m1", "User lives in Leeds.")], probe).correct
    assert not answer_probe([MemoryEntry("m1", "User lives in York.")], probe).correct  # missed update
    # added instead of updated: the earlier (stale) entry is read, as a confused reader would
    assert not answer_probe([MemoryEntry("m1", "User lives in York."),
                             MemoryEntry("m2", "User lives in Leeds.")],
                            probe).correct
    assert answer_probe([MemoryEntry("m1", "User works as a nurse."),
                         MemoryEntry("m2", "User lives in Leeds.")],
                        probe).entry_id == "m2"
    deleted = {"question": "Is it still true that the user has a parrot named Kiwi?", "answer": "no",
               "answer_type": "yes_no", "fact_type": "pet", "keywords": ["parrot", "Kiwi"]}
    assert not answer_probe([MemoryEntry("m1", "User has a parrot named Kiwi.")], deleted).correct
    assert answer_probe([MemoryEntry("m1", "User lives in Leeds.")], deleted).correct
    assert entry_types("User has coeliac disease.") == ["condition"]
    assert entry_types("User has a dog named Rex.") == ["pet"]
    assert outcome_accuracy([], []) == 1.0


# ----- paired bootstrap -----------------------------------------------------------------------
def test_bootstrap_detects_a_known_difference():
    rng = np.random.default_rng(0)
    before = rng.uniform(0, 1, 150)
    after = np.clip(before + 0.1 + rng.normal(0, 0.1, 150), 0, 1.5)
    res = paired_bootstrap(before, after, n_boot=2000, seed=1)
    assert res["excludes_zero"] and res["ci_low"] > 0 and res["ci_low"] < res["mean_diff"] < res["ci_high"]


def test_bootstrap_of_no_difference_covers_zero():
    rng = np.random.default_rng(1)
    before = rng.uniform(0, 1, 200)
    noise = rng.normal(0, 0.2, 100)
    after = before + np.concatenate([noise, -noise])  # differences with mean exactly 0
    res = paired_bootstrap(before, after, n_boot=2000, seed=2)
    assert res["mean_diff"] == pytest.approx(0.0, abs=1e-9)
    assert res["ci_low"] < 0 < res["ci_high"] and not res["excludes_zero"]
    same = paired_bootstrap([0.5, 0.2, 1.0], [0.5, 0.2, 1.0])
    assert same["ci_low"] == same["ci_high"] == 0.0 and same["ties"] == 3


def test_paired_from_results_matches_sessions():
    a = {"per_session": [{"user_id": "u", "session_id": s, "r_trans": v}
                         for s, v in (("a", 0.0), ("b", 0.5))]}
    b = {"per_session": [{"user_id": "u", "session_id": s, "r_trans": v}
                         for s, v in (("b", 1.0), ("c", 0.0))]}
    res = paired_from_results(a, b)
    assert res["n"] == 1 and res["mean_diff"] == 0.5
    with pytest.raises(ValueError, match="equally long"):
        paired_bootstrap([1.0], [1.0, 2.0])


# ----- configs --------------------------------------------------------------------------------
GRPO_OPTIONS = {  # GRPOConfig field: TrainConfig field (every option whose default moved in TRL)
    "beta": "beta", "loss_type": "loss_type", "scale_rewards": "scale_rewards",
    "num_generations": "num_generations", "max_completion_length": "max_completion_length",
    "temperature": "temperature", "learning_rate": "learning_rate",
    "max_tool_calling_iterations": "max_tool_calling_iterations",
    "gradient_checkpointing": "gradient_checkpointing", "logging_steps": "logging_steps",
    "save_steps": "save_steps", "num_iterations": "num_iterations", "epsilon": "epsilon", "top_p": "top_p",
    "top_k": "top_k", "mask_truncated_completions": "mask_truncated_completions",
    "importance_sampling_level": "importance_sampling_level",
    "multi_objective_aggregation": "multi_objective_aggregation", "seed": "seed",
}


def test_grpo_config_sets_every_moved_default_from_the_config(tmp_path):
    # values chosen to differ from TRL's defaults, so a forgotten option cannot pass by accident
    cfg = TrainConfig(beta=0.04, loss_type="dr_grpo", scale_rewards="batch", num_generations=3,
                      prompts_per_step=2, max_completion_length=77, temperature=0.9, learning_rate=3e-5,
                      max_tool_calling_iterations=3, gradient_checkpointing=True, logging_steps=2,
                      save_steps=5, num_iterations=2, epsilon=0.25, top_p=0.95, top_k=20,
                      mask_truncated_completions=True, importance_sampling_level="sequence",
                      multi_objective_aggregation="normalize_then_sum", seed=5)
    args = grpo_config(cfg, tmp_path, device="cpu")
    mapped = {trl: ours for trl, ours, _ in GRPO_FIELDS}
    assert GRPO_OPTIONS.items() <= mapped.items()  # no moved default dropped from the mapping
    for trl_name, our_name in mapped.items():
        assert getattr(args, trl_name) == getattr(cfg, our_name), trl_name
    # notebook 04's table names every option grpo_config sets, with its value for this config
    table = {row["option"]: row["value"] for row in grpo_options_table(cfg)}
    assert set(table) == set(grpo_options(cfg, tmp_path)) - {"output_dir"}
    assert table["temperature"] == 0.9 and table["per_device_train_batch_size"] == 6
    assert args.use_cpu is True and args.bf16 is False and args.fp16 is False
    assert args.per_device_train_batch_size == 6 and args.shuffle_dataset is True
    assert args.save_strategy == "steps" and args.report_to in ([], "none", ["none"])
    assert args.remove_unused_columns is False


def test_precision_per_device():
    from deltamem_lib.training.settings import precision_flags

    assert precision_flags(TrainConfig(), "cpu") == {"use_cpu": True, "bf16": False, "fp16": False}
    assert precision_flags(TrainConfig(precision="bf16"), "cuda") == {"use_cpu": False, "bf16": True,
                                                                      "fp16": False}
    assert precision_flags(TrainConfig(precision="fp16"), "cuda") == {"use_cpu": False, "bf16": False,
                                                                      "fp16": True}


def test_config_validation_and_profiles():
    with pytest.raises(ValueError, match="num_generations"):
        TrainConfig(num_generations=1).validate()
    with pytest.raises(ValueError, match="agent"):
        TrainConfig(agent="multi").validate()
    with pytest.raises(ValueError, match="did you mean 'learning_rate'"):
        TrainConfig.from_params({"learning_rte": 1e-4}, strict=True)
    with pytest.raises(ValueError, match="unknown ablation"):
        TrainConfig(ablations=["nope"]).validate()
    assert TrainConfig.from_params({"seed": 3, "output_dir": "x"}).seed == 3
    assert set(ABLATIONS) == {"no_lexical_fidelity", "state_scope", "ordered_mld", "outcome_reward",
                              "no_delete", "oneshot_agent"}
    assert all(TrainConfig.help()[k] for k in TrainConfig.field_names())


def test_every_profile_section_is_a_valid_config():
    from deltamem_lib.config import list_profiles, load_profile

    for name in list_profiles():
        assert TrainConfig.from_profile(name).profile == load_profile(name).name


# ----- data -----------------------------------------------------------------------------------
def test_train_and_test_users_are_disjoint_and_eval_samples_nest(data):
    assert not {r["user_id"] for r in data.train_rows} & {r["user_id"] for r in data.test_rows}
    small = [r["session_id"] for r in data.eval_rows(4)]
    large = [r["session_id"] for r in data.eval_rows(9)]
    assert set(small) <= set(large) and len(large) == 9


def test_oneshot_prompts_are_the_agents_prompts(data):
    from deltamem_lib.agent.oneshot import OneShotAgent
    from deltamem_lib.training.datasets import prompt_rows

    cfg = TrainConfig()
    rows = prompt_rows(data.train_rows[:3], cfg)
    agent = OneShotAgent(None, related_k=cfg.related_k, retriever=cfg.retriever)
    for r in rows:
        assert r["prompt"] == agent.prompt(parse_rl_row(r))


def test_oneshot_target_replays_to_the_gold_state(data):
    from deltamem_lib.models.parsing import parse_operation_list
    from deltamem_lib.training.datasets import oneshot_target

    for r in data.train_rows:
        ex = parse_rl_row(r)
        ops = parse_operation_list(oneshot_target(ex)).operations
        state = ex.state_before.copy()
        state.apply(ops)
        assert [e.content for e in state] == [e.content for e in ex.state_after]


def test_rows_carry_probes_for_every_session_with_changes(data):
    for r in data.train_rows:
        if json.loads(r["gold_ops"]):
            assert json.loads(r["probes"])


# ----- metrics log ----------------------------------------------------------------------------
def test_metrics_log_per_phase_and_truncation(tmp_path):
    path = tmp_path / "metrics.jsonl"
    recs = [{"phase": "sft", "step": 1, "loss": 2.0, "step_time_s": 9.0},
            {"phase": "grpo", "step": 1, "reward": 0.1, "step_time_s": 5.0},
            {"phase": "grpo", "step": 2, "reward": 0.2, "step_time_s": 3.0},
            {"phase": "grpo", "step": 3, "reward": 0.3, "step_time_s": 4.0},
            {"phase": "grpo", "step": 2, "reward": 0.25, "step_time_s": 3.0}]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    grpo = read_metrics(path, "grpo")
    assert [r["step"] for r in grpo] == [1, 2, 3] and grpo[1]["reward"] == 0.25
    assert step_times(grpo) == {"mean_s": 3.5, "median_s": 3.5, "steps": 2}
    truncate_metrics(path, 1, phase="grpo")
    assert [(r["phase"], r["step"]) for r in read_metrics(path)] == [("sft", 1), ("grpo", 1)]


# ----- exercises ------------------------------------------------------------------------------
def test_exercise_checks(row):
    from deltamem_lib.teaching import rl_training as X

    r = [1.0, 0.0, 0.5, 0.5]
    assert X.check_advantages(r, None).ok is None
    assert X.check_advantages(r, group_advantages(r)).ok is True
    assert X.check_advantages(r, [0.5, -0.5, 0.0, 0.0]).ok is False
    assert X.check_advantages(r, [1.22, -1.22, 0.0, 0.0]).ok is True  # std with n − 1 = 3: sqrt(0.5 / 3)
    population = X.check_advantages(r, [1.41, -1.41, 0.0, 0.0])  # std with n = 4: sqrt(0.5 / 4)
    assert population.ok is False and "G − 1" in population.message
    assert X.check_zero_spread(0.0).ok is True and X.check_zero_spread(1.0).ok is False
    ex = parse_rl_row(row)
    want = outcome_accuracy(ex.state_before.entries, json.loads(row["probes"]))
    assert X.check_noop_outcome(row, want).ok is True and X.check_noop_outcome(row, want + 0.5).ok is False
    assert X.check_reward_function(X.too_many_operations_reference).ok is True
    assert X.check_reward_function(lambda prompts, completions: [0.0] * len(completions)).ok is False
    assert X.check_reward_function(lambda prompts=None, completions=(),
                                   **kw: [0.0] * len(completions)).ok is False


# ----- command line ---------------------------------------------------------------------------
def test_cli_settings_merge_profile_set_and_ablations(tmp_path, capsys):
    from deltamem_lib.cli import build_parser, main
    from deltamem_lib.commands.train import settings

    args = build_parser().parse_args(["train", "--profile", "smallest", "--set", "learning_rate=1e-4",
                                      "agent=react", "--ablation", "no_delete"])
    cfg = settings(args)
    assert cfg.profile == "smallest" and cfg.learning_rate == 1e-4 and cfg.agent == "react"
    assert cfg.ablations == ["no_delete"]
    assert main(["train", "--help-settings"]) == 0
    assert "grpo_max_steps" in capsys.readouterr().out
    assert main(["train", "--profile", "smallest", "--set", "learning_rte=1"]) == 2


def test_notebook_defaults_are_the_config_defaults():
    """The notebook's parameters cell (the smallest profile) and TrainConfig agree, so
    `deltamem train --profile smallest` runs what the notebook runs."""
    from deltamem_lib.config import NOTEBOOKS_DIR, notebook_parameters

    params = notebook_parameters(NOTEBOOKS_DIR / "04_rl_training.ipynb")
    defaults = TrainConfig().to_dict()
    shared = {k: v for k, v in params.items() if k in defaults}
    assert len(shared) >= 30
    assert {k: defaults[k] for k in shared} == shared
    assert set(params) - set(defaults) == {"output_dir", "interrupt_after"}


def test_auxiliary_rewards_rank_partly_right_answers(row):
    """The dense r_trans pays an exactly right UPDATE with a missed ADD for its right half, and
    doing nothing 0; both auxiliary rewards rank them the same way — but the whole-state one
    also pays doing nothing for the unchanged memory, the transition one does not."""
    ex = parse_rl_row(row)
    assert ex.state_before.entries and ex.gold_ops
    ops = json.loads(_gold_json(row))
    partial = json.dumps([o for o in ops if o["op"] != "ADD"])  # the UPDATE right, the ADD missed
    f, w = _funcs(TrainConfig(w_state_aux=0.5, aux_scope="state", w_ops=0.0, w_idle=0.0))
    assert w == {"r_trans": 1.0, "r_state": 0.5, "invalid_calls": 0.5, "format": 0.5}
    r_trans = _call(f["r_trans"], row, [partial, "[]"])
    r_state = _call(f["r_state"], row, [partial, "[]"])
    assert 0.0 < r_trans[0] < 1.0 and r_trans[1] == 0.0 and r_state[0] > r_state[1] > 0.0
    cfg = TrainConfig(w_state_aux=0.5, w_ops=0.0, w_idle=0.0)  # the default auxiliary scope: transition
    f, w = _funcs(cfg)
    assert w == {"r_trans": 1.0, "r_transition": 0.5, "invalid_calls": 0.5, "format": 0.5}
    r_tr = _call(f["r_transition"], row, [_gold_json(row), partial, "[]"])
    assert r_tr[0] == 1.0 and 0.0 < r_tr[1] < 1.0 and r_tr[2] == 0.0
    _, w = _funcs(apply_ablation(cfg, "outcome_reward"))
    assert "r_transition" not in w  # the outcome ablation trains on the probes alone
    _, w = _funcs(apply_ablation(cfg, "state_scope"))
    assert w["r_state"] == 1.0 and list(w).count("r_state") == 1 and "r_transition" not in w
    with pytest.raises(ValueError, match="aux_scope"):
        TrainConfig(aux_scope="delta").validate()


def test_start_run_resumes_refuses_or_starts_afresh(tmp_path):
    from deltamem_lib.training.pipeline import start_run

    cfg, run_dir, said = TrainConfig(), tmp_path / "run", []
    out = start_run(cfg, run_dir, device="cpu").out_dir
    assert out == run_dir / "04_rl_training"
    (out / "metrics.jsonl").write_text('{"phase": "sft", "step": 1}\n')
    # evaluation-only change: resume
    start_run(cfg.replace(eval_sessions=9), run_dir, device="cpu", log=said.append)
    assert (out / "metrics.jsonl").is_file() and "resuming" in said[-1]
    # so is scoring a finished single-level run on the full level too
    start_run(cfg.replace(full_level_eval_sessions=cfg.full_level_eval_sessions + 80), run_dir, device="cpu",
              log=said.append)
    assert (out / "metrics.jsonl").is_file() and "resuming" in said[-1]
    with pytest.raises(ValueError, match=r"other settings \(seed\)"):
        start_run(cfg.replace(seed=9), run_dir, device="cpu")
    assert (out / "metrics.jsonl").is_file()  # refused: nothing touched
    start_run(cfg.replace(seed=9), run_dir, device="cpu", fresh="changed", log=said.append)
    assert not (out / "metrics.jsonl").exists() and "starting afresh" in said[-1]
    assert TrainConfig.load(out / "config.json").seed == 9
    with pytest.raises(ValueError, match="fresh must be"):
        start_run(cfg, run_dir, device="cpu", fresh="yes")


def test_sft_config_takes_every_mapped_field(tmp_path):
    from deltamem_lib.training.settings import SFT_FIELDS, sft_config

    cfg = TrainConfig(sft_learning_rate=2e-4, sft_epochs=3.0, sft_max_steps=7, sft_batch_size=3,
                      sft_grad_accum=2, logging_steps=3, seed=4, save_steps=2)
    args = sft_config(cfg, tmp_path, device="cpu")
    for trl_name, our_name, _ in SFT_FIELDS:
        assert getattr(args, trl_name) == getattr(cfg, our_name), trl_name
    assert args.completion_only_loss is True and args.packing is False and args.save_steps == 10
    assert args.use_cpu is True and args.lr_scheduler_type == "cosine"


def test_held_out_evaluation_judges_with_the_papers_r_trans_whatever_the_training_reward():
    cfg = TrainConfig(similarity="exact", threshold=0.7, lexical_fidelity=False, scope="state")
    assert cfg.mld_options().scope == "state" and cfg.mld_options().lexical_fidelity is False
    judge = cfg.r_trans_options()
    assert (judge.similarity, judge.threshold) == ("exact", 0.7)
    assert judge.lexical_fidelity is True and judge.scope == "delta"
