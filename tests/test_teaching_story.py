"""One true story per page: the helpers that keep a page from presenting a sample as the real
benchmark, a tie by construction as a comparison, or a raw setting as a number."""

from __future__ import annotations

import json
from types import SimpleNamespace

from deltamem_lib.teaching.rl_training import profile_rows, training_steps


def test_training_steps_says_epochs_when_sft_steps_are_minus_one():
    cfg = SimpleNamespace(sft=True, sft_max_steps=-1, sft_epochs=1.0, grpo_max_steps=20)
    assert training_steps(cfg) == "SFT 1 epoch + GRPO 20 steps"
    assert training_steps(SimpleNamespace(sft=True, sft_max_steps=2, sft_epochs=1.0, grpo_max_steps=1)) == \
        "SFT 2 steps + GRPO 1 step"
    assert training_steps(SimpleNamespace(sft=False, sft_max_steps=-1, sft_epochs=2.0, grpo_max_steps=3)) == \
        "no SFT + GRPO 3 steps"
    assert training_steps(SimpleNamespace(sft=True, sft_max_steps=-1, sft_epochs=0.5, grpo_max_steps=3)) == \
        "SFT 0.5 epochs + GRPO 3 steps"


def test_profile_rows_never_show_a_raw_minus_one(tmp_path):
    rows = profile_rows(tmp_path)
    assert rows and all("-1" not in r["training"] for r in rows)
    assert any("epoch" in r["training"] for r in rows)  # cpu trains its SFT for an epoch


# ----- ties by construction -------------------------------------------------------------------
def _ev(system, predicted, r=0.5):
    return {"system": system, "r_trans_mean": r, "op_f1": {"all": {"predicted": predicted, "f1": 0.0}}}


def test_ties_by_construction_only_when_nothing_was_written():
    from deltamem_lib.teaching.common import operations_written, ties_by_construction

    none = [_ev("deltamem", 0), _ev("mem0-style", 0), _ev("add-only", 0)]
    line = ties_by_construction(none, on="24 sessions")
    assert line is not None and "all 3 model systems (deltamem, mem0-style, add-only)" in line.lower()
    assert "tie with doing nothing by construction" in line and "24 sessions" in line
    assert ties_by_construction([_ev("deltamem", 0), _ev("add-only", 2)]).startswith("deltamem wrote no "
                                                                                     "memory")
    assert ties_by_construction([_ev("deltamem", 1), _ev("add-only", 2)]) is None  # a real comparison
    assert ties_by_construction([]) is None
    one = ties_by_construction([_ev("deltamem-oneshot", 0)], tie_with="an empty memory")
    assert one.startswith("The only model system here (deltamem-oneshot) wrote no "
                          "memory") and "an empty memory" in one
    assert ties_by_construction([{"system": "x"}]) is None  # does not say what it wrote: no claim
    bench = {"labels": {"system": "add-only"}, "cost": {"ingest": {"operations": 0}}}
    assert operations_written(bench) == 0
    both = ties_by_construction([bench, {**bench, "labels": {"system": "deltamem-oneshot"}}],
                                tie_with="each other")
    assert both.startswith("Both model systems (add-only, deltamem-oneshot)") and "each other" in both


def test_empty_table_says_so_instead_of_a_bare_header():
    from deltamem_lib.teaching.common import Table

    empty = str(Table(("a", "b"), (), empty="this profile trains no ablation."))
    assert empty == "this profile trains no ablation." and "|" not in empty
    assert "|" not in str(Table(("a",), ()))
    titled = str(Table(("a",), ((1,),), title="on sample"))
    assert titled.startswith("**on sample**") and "| 1 |" in titled


# ----- data-source labels ------------------------------------------------------------------------
def _locomo(system, path, **extra):
    rec = {"k_per_speaker": [1, 2], "turn_sources": {"attributed": 1},
           "turn": {"1": {"all": 0.0, "n": 4}, "2": {"all": 0.5, "n": 4}},
           "session": {"1": {"all": 0.0, "n": 4}, "2": {"all": 0.5, "n": 4}}}
    return {"labels": {"benchmark": "locomo", "system": system, "memory_model": "m", "answer_model": "m",
                       "judge": None, "profile": "cpu"},
            "data": {"path": path}, "metrics": {"questions": 4, "f1": 0.1, "bleu1": 0.1, "j": None,
                                                "per_category": [], "evidence_recall": rec}, **extra}


def test_every_measured_row_and_title_names_its_data(tmp_path):
    from deltamem_lib.benchmarks.paths import SAMPLES, data_label
    from deltamem_lib.benchmarks.runner import result_data_label
    from deltamem_lib.teaching import benchmarks_ablations as report

    assert (data_label(SAMPLES / "locomo_tiny.json") == "sample"
            and data_label("data/samples/locomo_tiny.json") == "sample")
    assert data_label("/elsewhere/locomo/locomo10.json") == "locomo10.json"
    sample = _locomo("noop", str(SAMPLES / "locomo_tiny.json"), data_source="sample")
    real = _locomo("add-only", "data/locomo/locomo10.json")  # a committed result from before data_label
    assert result_data_label(sample) == "sample" and result_data_label(real) == "locomo10.json"
    table = str(report.locomo_f1_table([sample, real]))
    assert "measured: noop (sample)" in table and "measured: add-only (locomo10.json)" in table
    assert table.startswith("**LoCoMo, F1 and BLEU-1 (%): published numbers, and measured rows on sample and "
                            "locomo10.json**")
    assert "published numbers only" in str(report.locomo_j_table())
    assert " on sample" in report.summary_line(sample) and " on locomo10.json" in report.summary_line(real)
    report.plot_recall_at_k([real], save_dir=tmp_path, name="rec")
    assert json.loads((tmp_path / "rec.json").read_text())[0]["data"] == "locomo10.json"


# ----- figures that do not hide a series ------------------------------------------------------------
def test_identical_recall_lines_are_drawn_once_with_both_names(tmp_path):
    from deltamem_lib.teaching import benchmarks_ablations as report

    fig = report.plot_recall_at_k([_locomo("a", "x/locomo10.json"), _locomo("b", "x/locomo10.json")])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["a · turn = a · session = b · turn = b · session"]  # four equal lines, one drawn
    assert "on locomo10.json" in fig.axes[0].get_title()


def _curve(label, system, mean, std):
    return {"label": label, "system": system, "users": ["u1", "u2"],
            "cumulative": {"mean": mean, "std": std, "min": mean, "max": mean}}


def test_cumulative_figure_labels_identical_curves_once(tmp_path):
    from deltamem_lib.teaching import benchmarks_ablations as report

    curves = [_curve("oracle", "oracle", [1.0, 1.0], [0.0, 0.0]), _curve("do nothing", "noop", [0.8, 0.6],
                                                                         [0.1, 0.1]),
              _curve("base", "deltamem-oneshot", [0.8, 0.6], [0.1, 0.1]),
              _curve("baseline", "add-only", [0.8, 0.6], [0.2, 0.1])]  # same mean, wider band: its own line
    fig = report.plot_cumulative(curves, save_dir=tmp_path, name="cum")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["oracle (2 users)", "do nothing = base (2 users)", "baseline (2 users)"]
    saved = json.loads((tmp_path / "cum.json").read_text())
    assert [d["drawn_as"] for d in saved][1:3] == ["do nothing = base (2 users)"] * 2 and len(saved) == 4
    assert "synthetic users" in fig.axes[0].get_title()
    assert report.identical_groups([[1, 2], [1, 2.0], [1, 3], [None], [None]]) == [[0, 1], [2], [3, 4]]


def test_before_after_bars_name_the_reference_of_each_delta():
    from deltamem_lib.training.plots import plot_before_after

    ev = {k: {"r_trans_mean": m, "r_trans_sem": 0.01, "op_f1": {}} for k, m in
          (("no-op", 0.1), ("base", 0.1), ("sft", 0.08), ("sft+grpo", 0.1))}
    cmp = {"sft": {"reference": "base", "mean_diff": -0.02, "ci_low": -0.07, "ci_high": 0.01},
           "sft+grpo": {"reference": "sft", "mean_diff": 0.02, "ci_low": -0.01, "ci_high": 0.05}}
    fig = plot_before_after(ev, cmp)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("Δ vs base -0.020" in t for t in texts) and any("Δ vs sft +0.020" in t for t in texts)
    assert not any("Δ" in t and "vs" not in t for t in texts)


def test_before_after_table_without_systems_is_one_sentence():
    from deltamem_lib.teaching.rl_training import before_after_table

    assert str(before_after_table({}, {}, empty="This profile trains no ablation.")) == ("This profile "
                                                                                         "trains no "
                                                                                         "ablation.")
    table = str(before_after_table({"base": {"r_trans_mean": 0.1, "sessions": 3}}))
    assert table.startswith("| system |") and "0.100 ± 0.000" in table


def test_notebook_03_table_and_figure_say_when_every_model_system_wrote_nothing():
    from deltamem_lib.teaching import memory_agent as report

    def ev(system, predicted, r):
        f1 = {"f1": None, "predicted": predicted}
        return {"system": system, "model": None if system in ("oracle", "noop") else "m", "sessions": 24,
                "r_trans_mean": r, "r_trans_sem": 0.0, "op_f1": {"ADD": f1, "UPDATE": f1, "DELETE": f1,
                                                                 "all": f1},
                "invalid_call_rate": 0.0, "malformed_output_rate": 1.0, "tokens_per_session": 10.0,
                "seconds_per_session": 1.0}

    tied = [ev("oracle", 28, 1.0), ev("noop", 0, 0.1), ev("deltamem", 0, 0.1), ev("add-only", 0, 0.1)]
    table = str(report.systems_table(tied))
    assert table.startswith("**Both model systems (deltamem, add-only) wrote no memory on these 24 sessions: "
                            "they tie with doing nothing by construction")
    fig = report.plot_systems(tied)
    assert "by construction" in fig._suptitle.get_text()
    writing = tied[:3] + [ev("add-only", 5, 0.2)]
    assert str(report.systems_table(writing)).startswith("**deltamem wrote no memory on these 24 sessions")
    assert report.systems_tie(tied[:2] + [ev("deltamem", 3, 0.3)]) is None


def test_notebook_03_figure_title_is_unchanged_when_the_systems_wrote_something():
    from deltamem_lib.teaching import memory_agent as report

    f1 = {"f1": 0.5, "predicted": 2}
    res = [{"system": "deltamem", "model": "m", "sessions": 4, "r_trans_mean": 0.4, "r_trans_sem": 0.1,
            "op_f1": {"ADD": f1, "UPDATE": f1, "DELETE": f1, "all": f1}, "invalid_call_rate": 0.0,
            "malformed_output_rate": 0.0, "tokens_per_session": 10.0, "seconds_per_session": 1.0}]
    fig = report.plot_systems(res)
    assert fig._suptitle.get_text() == "Memory systems on 4 test sessions · m"
    assert not str(report.systems_table(res)).startswith("**")
