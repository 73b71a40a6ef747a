"""Around the benchmark runner: cumulative accuracy, ablations, reports, data and adapter
lookup, exercises (deltamem_lib.benchmarks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_bench_runner import LOCOMO, CitingSystem, Scripted, _without_missing_evidence

from deltamem_lib.agent.systems import make_system
from deltamem_lib.benchmarks.ablations import mistake_rewards, probes_by_session, training_ablations
from deltamem_lib.benchmarks.cumulative import cumulative_accuracy, curve_stats, locomo_recall_by_session
from deltamem_lib.benchmarks.paths import find_rl_run, locate_data
from deltamem_lib.benchmarks.runner import BenchConfig, run_benchmark
from deltamem_lib.episodes import parse_rl_row, rl_rows
from deltamem_lib.synthesis import SynthConfig, generate_episodes
from deltamem_lib.teaching import benchmarks_ablations as X
from deltamem_lib.teaching import benchmarks_ablations as report


@pytest.fixture(scope="module")
def users():
    return generate_episodes(SynthConfig(users=3, sessions=4, seed=0))


def test_curve_stats():
    st = curve_stats({"a": [1.0, 0.5], "b": [0.0, None], "c": [0.5]})
    assert st["mean"] == [0.5, 0.5] and st["users"] == [3, 1] and st["min"] == [0.0, 0.5]
    assert st["std"][0] == pytest.approx(0.5) and st["std"][1] == 0.0


def test_cumulative_accuracy_oracle_is_one_and_doing_nothing_drifts(users, tmp_path):
    oracle = cumulative_accuracy(make_system("oracle"), users, out_dir=tmp_path / "o")
    noop = cumulative_accuracy(make_system("noop"), users)
    assert oracle["cumulative"]["mean"] == [1.0] * 4 and oracle["final_mean"] == 1.0
    assert all(n <= o for n, o in zip(noop["cumulative"]["mean"], oracle["cumulative"]["mean"]))
    assert noop["final_mean"] < 1.0 and set(noop["per_user"]) == {ep.user_id for ep in users}
    counts = noop["probes_per_session"][users[0].user_id]
    own = noop["per_user_session"][users[0].user_id]
    cum = noop["per_user"][users[0].user_id]
    hits = sum(o * n for o, n in zip(own, counts) if o is not None)
    assert cum[-1] == pytest.approx(hits / sum(counts))  # the running mean of the sessions' own accuracies
    again = cumulative_accuracy(make_system("oracle"), users, out_dir=tmp_path / "o")
    assert again["ingest"]["sessions_resumed"] == 12 and again["per_user"] == oracle["per_user"]


def test_mistake_rewards_show_fidelity_and_outcome_blindness(users):
    examples = [parse_rl_row(r) for r in rl_rows(users)]
    recs = {(r["mistake"], r["reward"]): r for r in mistake_rewards(examples, probes_by_session(users))}
    assert recs[("perfect", "r_trans")]["mean"] == 1.0
    assert (recs[("keyword_dropped", "r_trans")]["mean"]
            < recs[("keyword_dropped", "no_lexical_fidelity")]["mean"])
    assert (recs[("spurious_add", "outcome_reward")]["mean"] == 1.0
            > recs[("spurious_add", "r_trans")]["mean"])
    assert recs[("missed_update", "r_trans")]["n"] < recs[("perfect", "r_trans")]["n"]


def test_training_ablations(tmp_path):
    assert training_ablations(None) is None and training_ablations(tmp_path / "none.json") is None
    res = {"profile": "cpu", "model": "m", "agent": "oneshot",
           "evaluation": {"sft": {"sessions": 4, "r_trans_mean": 0.2, "probe_accuracy": 0.5},
                          "ablation: no_delete": {"sessions": 2, "r_trans_mean": 0.1}},
           "comparisons": {"ablation: no_delete": {"reference": "sft", "mean_diff": -0.1, "ci_low": -0.2,
                                                   "ci_high": 0.0}}}
    (tmp_path / "r.json").write_text(json.dumps(res))
    rows = {r["label"]: r for r in training_ablations(tmp_path / "r.json")["rows"]}
    assert rows["ablation: no DELETE"]["diff"] == -0.1 and rows["sft"]["reference"] is None  # shown by label


def test_locomo_recall_by_session(tmp_path, monkeypatch):
    from deltamem_lib.agent import systems

    data = _without_missing_evidence(tmp_path)
    monkeypatch.setattr(systems, "make_system", lambda name, model=None, **kw: CitingSystem(True))
    cfg = BenchConfig(benchmark="locomo", data=str(data), system="oracle", retriever="lexical", top_k=10,
                      recall_ks=(10,), sample_ids=("toy-1",))
    res = run_benchmark(cfg, tmp_path / "w", answer_model=Scripted())
    by = locomo_recall_by_session(res, tmp_path / "w")
    assert by["sessions"] == [1, 2, 3] and by["questions"] == [1, 2, 4]  # answerable so far
    assert by["turn_recall"] == [1.0, 1.0, 1.0] and by["session_recall"][-1] == 1.0


def test_locate_data_falls_back_to_the_sample(tmp_path, monkeypatch):
    import deltamem_lib.benchmarks.paths as P

    monkeypatch.setattr(P, "DATA_DIR", tmp_path / "no-data")
    monkeypatch.delenv(P.DATA_ENV, raising=False)
    with pytest.warns(P.SampleDataWarning, match="USING THE SAMPLE"):
        missing = locate_data("locomo", tmp_path)
    assert missing.fixture and missing.path.name == "locomo_tiny.json" and missing.source == "sample"
    (tmp_path / "locomo").mkdir()
    (tmp_path / "locomo" / "locomo10.json").write_text("[]")
    assert not locate_data("locomo", tmp_path).fixture
    (tmp_path / "personamem").mkdir()
    (tmp_path / "personamem" / "questions_32k.csv").write_text("x")
    with pytest.warns(P.SampleDataWarning):
        pm = locate_data("personamem", tmp_path)
    assert pm.fixture and "conversations" in pm.note and pm.contexts.name == "personamem_contexts_tiny.jsonl"


def test_find_rl_run(tmp_path):
    assert find_rl_run(tmp_path, "cpu", "smollm2").adapter is None
    run = tmp_path / "04_rl_training"
    (run / "grpo" / "adapter").mkdir(parents=True)
    (run / "grpo" / "adapter" / "adapter_config.json").write_text("{}")
    assert find_rl_run(tmp_path, "cpu", "smollm2").adapter == run / "grpo" / "adapter"
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "04_rl_training_cpu.json").write_text(json.dumps({"model_spec": "Qwen/Qwen3-4B",
                                                                              "agent": "react"}))
    other = find_rl_run(tmp_path, "cpu", "smollm2")
    assert other.adapter is None and "not used" in other.note
    same = find_rl_run(tmp_path, "cpu", "Qwen/Qwen3-4B")
    assert same.adapter is not None and same.system == "deltamem" and same.prompt_options == {}


def test_find_rl_run_evaluates_the_adapter_on_its_training_prompt(tmp_path):
    """A one-shot adapter trained on the compact prompt is evaluated on the compact prompt (the
    notebook's own prompt settings would give it a prompt it never saw)."""
    run = tmp_path / "04_rl_training"
    (run / "grpo" / "adapter").mkdir(parents=True)
    (run / "grpo" / "adapter" / "adapter_config.json").write_text("{}")
    (tmp_path / "results").mkdir()
    results = tmp_path / "results" / "04_rl_training_cpu.json"  # the run folder's results/
    results.write_text(json.dumps({"model_spec": "smollm2", "agent": "oneshot",
                                   "agent_options": {"related_k": 10, "prompt_style": "compact",
                                                     "retriever": "lexical"},
                                   "config": {"prompt_style": "full", "related_k": 5}}))
    rl = find_rl_run(tmp_path, "cpu", "smollm2")
    assert rl.prompt_options == {"prompt_style": "compact", "related_k": 10} and "compact" in rl.note
    system = make_system(rl.system, object(), retriever="lexical", **rl.prompt_options)
    assert system.prompt_style == "compact" and system.related_k == 10
    # one layout: a results file beside the training folder's adapter is not the run's
    stray = run / "results" / "04_rl_training_cpu.json"
    stray.parent.mkdir()
    results.rename(stray)
    assert find_rl_run(tmp_path, "cpu", "smollm2").results is None
    stray.rename(results)
    # an older results file without prompt_style in agent_options: the run's config says it
    results.write_text(json.dumps({"model_spec": "smollm2", "agent": "oneshot",
                                   "config": {"prompt_style": "compact"}}))
    assert find_rl_run(tmp_path, "cpu", "smollm2").prompt_options == {"prompt_style": "compact"}


def test_report_tables_label_every_measured_row(tmp_path):
    res = run_benchmark(BenchConfig(benchmark="locomo", data=str(LOCOMO), system="noop", retriever="lexical",
                                    top_k=2, recall_ks=(1, 2), profile="test"), tmp_path / "w",
                        answer_model=Scripted())
    j = str(report.locomo_j_table([res]))
    assert "not computed" in j and "profile test" in j and "answer model scripted" in j
    f1 = str(report.locomo_f1_table([res]))
    assert "measured: noop" in f1 and "DeltaMem-8B-RL | 1540 | 50.72 | 39.78" in f1
    line = report.summary_line(res)
    assert "J not computed" in line and "evidence recall@2" in line
    fig = report.plot_recall_at_k([res], save_dir=tmp_path, name="rec")
    assert fig is not None and json.loads((tmp_path / "rec.json").read_text())[0]["k"] == [1, 2]


def test_exercise_checks_can_fail():
    assert X.check_f1(None).ok is None and X.check_f1(0.667).ok and X.check_f1(1.0).ok is False
    assert X.check_mem0_label(4).ok and X.check_mem0_label(3).ok is False
    assert X.check_evidence_recall(0, 1).ok and X.check_evidence_recall(1, 1).ok is False
    assert X.check_answerer(lambda q, ms: "").ok is False
    assert X.check_answerer(lambda q, ms: 1 / 0).ok is False
    best = X.check_answerer(lambda q, ms: max(ms, key=lambda m: len(set(m.lower().split())
                                                                    & set(q.lower().split()))))
    assert best.ok
    assert Path(X.FIXTURE).is_file()
