"""Several seeds of one recipe: the seeds file and its two-level bootstrap."""

from __future__ import annotations

import copy

import pytest

from deltamem_lib.training.seeds import collect_seeds, compare_recipes, pooled_bootstrap


def _result(seed, gains, keys=("u1/s1", "u1/s2", "u2/s1", "u2/s2")):
    sft = [0.2, 0.4, 0.1, 0.3]
    noop = [0.25] * 4
    after = [s + g for s, g in zip(sft, gains)]
    per = {"no-op": noop, "sft": sft, "sft+grpo": after}
    cmp = {f"sft+grpo vs {ref}": {"mean_diff": 0.0} for ref in ("sft", "no-op")}
    return {"profile": "cpu", "level": "single", "model": "SmolLM2-135M-Instruct",
            "data": {"source": "procedural"}, "config": {"seed": seed, "learning_rate": 1e-4},
            "comparisons": cmp, "training_seconds": 100.0, "grpo_reward_thirds": None, "per_operation": {},
            "decisions": {}, "per_session": {k: {"keys": list(keys), "r_trans": v} for k, v in per.items()}}


def test_pooled_interval_covers_seeds_and_sessions():
    better = collect_seeds([_result(0, [0.1, 0.2, 0.1, 0.2]), _result(1, [0.1, 0.1, 0.2, 0.2]),
                            _result(2, [0.2, 0.1, 0.1, 0.1])])
    p = better["pooled"]["sft+grpo vs sft"]
    assert better["seeds"] == [0, 1, 2] and p["seeds"] == 3 and p["sessions"] == 4
    assert p["mean_diff"] == pytest.approx(0.1417, abs=1e-4) and p["excludes_zero"] and p["ci_low"] > 0
    mixed = collect_seeds([_result(0, [0.3, 0.3, 0.3, 0.3]), _result(1, [-0.3, -0.3, -0.3, -0.3])])
    m = mixed["pooled"]["sft+grpo vs sft"]
    assert m["ci_low"] < 0 < m["ci_high"] and not m["excludes_zero"]  # one good seed is not a result
    assert m["per_seed_mean"] == [0.3, -0.3]


def test_collect_refuses_what_is_not_one_recipe():
    a, b = _result(0, [0.1] * 4), _result(1, [0.1] * 4)
    with pytest.raises(ValueError, match="own seed"):
        collect_seeds([a, copy.deepcopy(a)])
    other = copy.deepcopy(b)
    other["config"]["learning_rate"] = 2e-4
    with pytest.raises(ValueError, match="learning_rate"):
        collect_seeds([a, other])
    evaluated_less = copy.deepcopy(b)
    evaluated_less["config"]["eval_base"] = False  # an evaluation-only setting: the seeds still pool
    assert collect_seeds([a, evaluated_less])["seeds"] == [0, 1]
    moved = _result(1, [0.1] * 4, keys=("u1/s1", "u1/s2", "u2/s1", "u3/s9"))
    with pytest.raises(ValueError, match="held-out sessions differ"):
        collect_seeds([a, moved])
    with pytest.raises(ValueError, match="at least two"):
        collect_seeds([a])
    with pytest.raises(ValueError, match="seeds × sessions"):
        pooled_bootstrap([])


def _recipe(beta, gains_per_seed):
    runs = [_result(seed, gains) for seed, gains in enumerate(gains_per_seed)]
    for r in runs:
        r["config"]["beta"] = beta
    return runs


def test_compare_recipes_pairs_seed_with_seed_and_session_with_session():
    a = _recipe(0.0, [[0.0, 0.0, 0.0, 0.0], [0.1, 0.0, 0.1, 0.0]])
    b = _recipe(1.0, [[0.1, 0.1, 0.1, 0.1], [0.2, 0.1, 0.2, 0.1]])
    c = compare_recipes(a, list(reversed(b)))  # paired by seed, not by position
    assert c["per_seed_mean"] == [0.1, 0.1] and c["mean_diff"] == pytest.approx(0.1) and c["excludes_zero"]
    assert c["settings_differ"] == {"beta": [0.0, 1.0]} and c["seed_ids"] == [0, 1] and c["seeds"] == 2
    worse = compare_recipes(b, a)
    assert worse["mean_diff"] == pytest.approx(-0.1) and worse["ci_high"] < 0
    with pytest.raises(ValueError, match="different seeds"):
        compare_recipes(a, b[:1])
    moved = copy.deepcopy(b)
    moved[1]["per_session"]["sft+grpo"]["keys"][3] = "u3/s9"
    with pytest.raises(ValueError, match="seed 1: .*different held-out sessions"):
        compare_recipes(a, moved)
    with pytest.raises(ValueError, match="one run per seed"):
        compare_recipes(a, [b[0], b[0]])


def test_the_command_line_collects_seeds_and_sets_the_seed(tmp_path, capsys):
    import argparse
    import json

    from deltamem_lib.cli import main
    from deltamem_lib.commands.train import settings

    paths = []
    for s in (0, 1):
        p = tmp_path / f"seed{s}.json"
        p.write_text(json.dumps(_result(s, [0.1, 0.2, 0.1, 0.2])))
        paths.append(str(p))
    out = tmp_path / "seeds.json"
    assert main(["train", "--collect-seeds", *paths, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["seeds"] == [0,
                                                    1] and "2 seeds × 4 sessions" in capsys.readouterr().out
    ns = argparse.Namespace(profile="smallest", set=(), ablation=None, seed=7)
    assert settings(ns).seed == 7


def test_seeds_can_share_one_sft_start(tmp_path):
    """``sft_from``: the SFT stage reads another run's finished SFT phase instead of training;
    a folder that is not a finished phase is refused before anything trains."""
    from deltamem_lib.io import atomic_write_json
    from deltamem_lib.training.pipeline import Run
    from deltamem_lib.training.settings import TrainConfig

    start = tmp_path / "start" / "sft"
    run = Run(TrainConfig(sft_from=str(start)), tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="not a finished SFT phase"):
        run.sft()
    (start / "adapter").mkdir(parents=True)
    atomic_write_json(start / "adapter" / "adapter_config.json", {})
    atomic_write_json(start / "phase.json", {"phase": "sft", "steps": 200, "seconds": 1500.0,
                                             "finished": False})
    with pytest.raises(FileNotFoundError):
        run.sft()
    atomic_write_json(start / "phase.json", {"phase": "sft", "steps": 200, "seconds": 1500.0,
                                             "finished": True})
    res = run.sft()
    assert res.adapter == start / "adapter" and res.steps == 200 and res.skipped
    assert run.phases["sft"] is res and not (tmp_path / "run" / "sft").exists()
    # a start whose run recorded its settings must agree on what made it, its seed included
    atomic_write_json(tmp_path / "start" / "config.json", {**TrainConfig().to_dict(), "seed": 3})
    with pytest.raises(ValueError, match="sft_seed"):
        Run(TrainConfig(sft_from=str(start)), tmp_path / "run2").sft()
    assert Run(TrainConfig(sft_from=str(start), seed=1, sft_seed=3), tmp_path / "run3").sft().steps == 200
    atomic_write_json(tmp_path / "start" / "config.json", {**TrainConfig().to_dict(), "sft_examples": 400})
    with pytest.raises(ValueError, match="sft_examples"):
        Run(TrainConfig(sft_from=str(start)), tmp_path / "run4").sft()


def test_grpo_leaves_out_the_sessions_of_the_shared_sft_start():
    from deltamem_lib.training.datasets import grpo_rows, sft_rows
    from deltamem_lib.training.settings import TrainConfig

    rows = [{"user_id": f"u{i}", "session_id": "s1", "kind": k} for i in range(40)
            for k in ("none", "ADD", "UPDATE", "DELETE")]
    rows = [dict(r, user_id=f"{r['user_id']}{r['kind']}") for r in rows]
    start = TrainConfig(level="single", sft_examples=40, seed=0)
    later = start.replace(seed=2, sft_seed=0)
    seen = {(r["user_id"], r["session_id"]) for r in sft_rows(rows, start)}
    assert {(r["user_id"], r["session_id"]) for r in sft_rows(rows, later)} == seen
    assert not seen & {(r["user_id"], r["session_id"]) for r in grpo_rows(rows, later)}
    assert seen != {(r["user_id"], r["session_id"]) for r in sft_rows(rows, start.replace(seed=2))}


def test_the_seeds_figure_draws_each_curve_and_interval(tmp_path):
    from deltamem_lib.io import read_json
    from deltamem_lib.training.plots import plot_seeds

    seeds = collect_seeds([_result(0, [0.1] * 4), _result(1, [0.0, 0.1, 0.0, 0.1])],
                          reward_curves=[[0.3, 0.4, 0.5], None])
    assert seeds["per_seed"]["0"]["grpo_reward_per_step"] == [0.3, 0.4, 0.5]
    assert seeds["per_seed"]["1"]["grpo_reward_per_step"] is None
    plot_seeds(seeds, title="t", save_dir=tmp_path, name="s")
    drawn = read_json(tmp_path / "s.json")
    assert list(drawn["curves"]) == ["0"] and drawn["curves"]["0"]["r_trans"] == [0.3, 0.4, 0.5]
    assert drawn["differences"]["sft+grpo vs sft / pooled"]["mean_diff"] == seeds["pooled"]["sft+grpo vs "
                                                                                            "sft"][
        "mean_diff"]
    assert (tmp_path / "s.png").is_file()


def test_the_seeds_table_has_a_row_per_seed_and_the_pooled_row():
    from deltamem_lib.teaching.rl_training import seeds_table

    a, b = _result(0, [0.1] * 4), _result(1, [0.0, 0.1, 0.0, 0.1])
    for r in (a, b):
        r["comparisons"] = {k: {"mean_diff": 0.05, "ci_low": 0.01, "ci_high": 0.09} for k in r["comparisons"]}
        r["grpo_reward_thirds"] = {"first_third": 0.4, "last_third": 0.5}
        r["decisions"] = {"sft": {"type_accuracy": 0.6},
                          "sft+grpo": {"type_accuracy": 0.65, "largest_kind": "ADD",
                                                                     "largest_share": 0.3}}
    t = seeds_table(collect_seeds([a, b]))
    assert [row[0] for row in t.rows] == ["0", "1", "pooled (2 seeds × sessions)"]
    text = str(t)
    assert "+0.050 [+0.010, +0.090]" in text and "0.400 → 0.500" in text and "0.60 → 0.65" in text
    assert "ADD 30%" in text and "+0.075" in text  # the pooled mean of the per-session differences


def test_the_decisions_table_reads_what_each_system_decides():
    from deltamem_lib.teaching.rl_training import decisions_table

    assert decisions_table({"no-op": {"r_trans_mean": 0.25}}) is None  # the full level: nothing to show
    dec = {"type_accuracy": 0.6, "type_accuracy_by_kind": {"none": 0.63, "ADD": 0.43, "UPDATE": 0.57,
                                                           "DELETE": 0.77},
           "largest_kind": "DELETE", "largest_share": 0.28, "id_accuracy": {"UPDATE": 0.23, "DELETE": 0.33},
           "separation": {"none": 0.3, "ADD": 0.12, "UPDATE": 0.23, "DELETE": 0.42}}
    t = decisions_table({"no-op": {}, "sft": {"decisions": dec}})
    assert [r[0] for r in t.rows] == ["sft"]
    text = str(t)
    assert ("0.63 / 0.43 / 0.57 / 0.77" in text and "DELETE 28%" in text
            and "0.30 / 0.12 / 0.23 / 0.42" in text)
