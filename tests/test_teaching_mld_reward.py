"""Notebook 02's teaching helpers: the figures of deltamem_lib.teaching.mld_reward (they draw
and save the right numbers) and its self-checking exercises."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from deltamem_lib.mistakes import make_scenarios, mistake_rewards, predictions
from deltamem_lib.mld import memory_levenshtein, tokens
from deltamem_lib.teaching import mld_reward as viz
from deltamem_lib.teaching.mld_reward import (
    Check,
    check_dice,
    check_largest_threshold,
    check_order_example,
    check_reward,
    check_shared_first_counterexample,
    check_touched_reward,
    full_assignment_credit,
    touched_reward_reference,
)

GOLD = [{"content": "User lives in Berlin", "keywords": ["Berlin"]},
        {"content": "User works as a nurse", "keywords": ["nurse"]}]
PRED = ["User lives in Hamburg", "User lives in Berlin now"]   # the spec's worked example
STALE = ["User lives in Hamburg"]                              # "do nothing"


# ----- figures ---------------------------------------------------------------------------------
def test_alignment_figure_saves_the_numbers_it_draws(tmp_path):
    r = memory_levenshtein(PRED, GOLD)
    fig = viz.plot_alignment(r, PRED, GOLD, title="spec", save_dir=tmp_path, name="a")
    assert isinstance(fig, Figure)
    assert (tmp_path / "a.png").stat().st_size > 1000
    data = json.loads((tmp_path / "a.json").read_text())
    (panel,) = data["panels"]
    assert panel["reward"] == pytest.approx(4 / 9)
    assert panel["delta_pred"] == PRED and panel["gold_keywords"] == [["Berlin"], ["nurse"]]
    assert np.array(panel["sim"]).shape == (2, 2)
    assert panel["sim"][1][0] == pytest.approx(8 / 9)
    assert panel["pairs"] == [{"pred": "User lives in Berlin now", "gold": "User lives in Berlin",
                               "sim": pytest.approx(8 / 9), "cov": 1.0, "q": pytest.approx(8 / 9)}]


def test_alignment_panels_side_by_side_and_empty_deltas(tmp_path):
    off = memory_levenshtein(STALE, GOLD, lexical_fidelity=False)
    on = memory_levenshtein(STALE, GOLD)
    same = memory_levenshtein(["User lives in Berlin"], GOLD[:1])
    fig = viz.plot_alignments([("off", off, STALE, GOLD), ("on", on, STALE, GOLD),
                               ("identical", same, ["User lives in Berlin"], GOLD[:1])],
                              save_dir=tmp_path, name="b")
    assert len(fig.axes) == 3
    panels = json.loads((tmp_path / "b.json").read_text())["panels"]
    assert [p["reward"] for p in panels] == [pytest.approx(0.5), 0.0, 1.0]
    assert panels[0]["cov"][0][0] == 1.0 and panels[1]["cov"][0][0] == 0.0
    assert panels[2]["shared"] == ["User lives in Berlin"] and panels[2]["sim"] == []
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_alignments([])


def test_nothing_is_written_without_a_folder(tmp_path):
    viz.plot_alignment(memory_levenshtein(PRED, GOLD), PRED, GOLD)
    assert viz.save_figure(Figure(), {}, None, "x") is None
    assert list(tmp_path.iterdir()) == []


def test_order_changes_the_ordered_distance_not_the_set_distance(tmp_path):
    pred = ["User lives in Berlin", "User works as a nurse", "User has a dog named Rex"]
    gold = [{"content": "User has a dog named Rex"}, {"content": "User lives in Berlin"},
            {"content": "User works as a nurse", "keywords": ["nurse"]}]
    recs = viz.order_vs_set(pred, gold, n_orders=6)
    assert recs[0]["order"] == [0, 1, 2] and len(recs) == 6
    assert len({r["set_distance"] for r in recs}) == 1 and recs[0]["set_distance"] == 0.0
    assert min(r["ordered_distance"] for r in recs) == 0.0 < max(r["ordered_distance"] for r in recs)
    assert all(r["ordered_distance"] >= r["set_distance"] for r in recs)
    viz.plot_order_vs_set(recs, save_dir=tmp_path, name="o")
    assert json.loads((tmp_path / "o.json").read_text())["records"] == recs
    many = viz.order_vs_set([f"fact number {i}" for i in range(8)], gold, n_orders=5)
    assert len({tuple(r["order"]) for r in many}) == 5


def test_reward_never_rises_with_the_threshold(tmp_path):
    recs = viz.reward_vs_threshold(STALE, GOLD)
    assert len(recs) == 2 * 101
    for fid in (True, False):
        rs = [r["reward"] for r in recs if r["lexical_fidelity"] == fid]
        assert all(a >= b for a, b in zip(rs, rs[1:]))
    off = {r["threshold"]: r["reward"] for r in recs if not r["lexical_fidelity"]}
    assert off[0.75] == pytest.approx(0.5) and off[0.76] == 0.0
    assert all(r["reward"] == 0.0 for r in recs if r["lexical_fidelity"])
    fig = viz.plot_reward_vs_threshold(recs, threshold=0.5, save_dir=tmp_path, name="t")
    assert isinstance(fig, Figure) and (tmp_path / "t.png").exists()


def test_mistake_figure(tmp_path):
    recs = mistake_rewards(make_scenarios(3, seed=0))
    fig = viz.plot_mistake_rewards(recs, save_dir=tmp_path, name="m")
    assert len(fig.axes) == 2
    saved = json.loads((tmp_path / "m.json").read_text())["records"]
    assert saved == json.loads(json.dumps(recs))
    with pytest.raises(ValueError, match="no records"):
        viz.plot_mistake_rewards([])


def test_threshold_explorer_degrades_without_a_front_end(monkeypatch, tmp_path):
    monkeypatch.delenv("DELTAMEM_WIDGETS", raising=False)
    assert viz.has_widget_frontend() is False          # plain Python: no kernel, no front end
    static = viz.threshold_explorer(STALE, GOLD, save_dir=tmp_path, name="x")
    assert isinstance(static, Figure) and (tmp_path / "x.json").exists()
    monkeypatch.setenv("DELTAMEM_WIDGETS", "1")
    assert viz.has_widget_frontend() is True
    import ipywidgets
    live = viz.threshold_explorer(STALE, GOLD, interactive=True)
    assert isinstance(live, ipywidgets.VBox)
    slider = live.children[0].children[0]
    assert slider.value == 0.5 and slider.max == 1.0


def test_table_renders_markdown():
    t = viz.Table.from_records([{"a": 1, "b": 0.12345}, {"a": "x|y"}], ["a", "b"])
    md = t._repr_markdown_()
    assert md.splitlines()[0] == "| a | b |" and "0.123" in md and "x\\|y" in md


# ----- exercises -------------------------------------------------------------------------------
def test_check_reward_right_wrong_and_unanswered():
    assert check_reward(None, PRED, GOLD).ok is None
    right = check_reward(0.444, PRED, GOLD)
    assert right.ok is True and bool(right) and "2·0.889/4" in right.message
    wrong = check_reward(0.5, STALE, GOLD)
    assert wrong.ok is False and "cov 0.00" in wrong.message and "['Berlin']" in wrong.message
    assert check_reward(0.5, STALE, GOLD, lexical_fidelity=False).ok is True
    assert check_reward("half", PRED, GOLD).ok is False
    assert "✅" in right._repr_markdown_() and "❌" in str(wrong)


def test_check_largest_threshold():
    assert check_largest_threshold(0.75, STALE, GOLD).ok is True
    low = check_largest_threshold(0.5, STALE, GOLD)
    assert low.ok is False and "Too low" in low.message
    assert "Too high" in check_largest_threshold(0.9, STALE, GOLD).message


def _dice_right(p: str, g: str) -> float:
    from collections import Counter
    a, b = Counter(tokens(p)), Counter(tokens(g))
    total = sum(a.values()) + sum(b.values())
    return 2 * sum((a & b).values()) / total if total else 0.0


def _dice_sets(p: str, g: str) -> float:          # a typical slip: sets instead of multisets
    a, b = set(tokens(p)), set(tokens(g))
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 0.0


def _dice_split(p: str, g: str) -> float:         # another: str.split keeps case and punctuation
    a, b = p.split(), g.split()
    return 2 * len(set(a) & set(b)) / (len(a) + len(b))


def _todo(p: str, g: str) -> float:
    raise NotImplementedError


def test_check_dice():
    assert check_dice(_dice_right).ok is True
    sets = check_dice(_dice_sets)
    assert sets.ok is False and "Counter" in sets.message
    split = check_dice(_dice_split)
    assert split.ok is False and "lower" in split.message
    assert check_dice(_todo).ok is None


def test_check_order_example():
    gold = ["User has a dog named Rex", "User lives in Berlin"]
    a = ["User lives in Berlin", "User has a dog named Rex"]
    assert check_order_example(a, list(reversed(a)), gold).ok is True
    assert check_order_example(a, a, gold).ok is False
    assert "same entries" in check_order_example(a, a[:1], gold).message


def test_touched_reward_reference_values():
    s = make_scenarios(1, seed=0)[0]
    preds = predictions(s)
    ref = {name: touched_reward_reference(s.before, p.state, s.after) for name, p in preds.items()}
    assert ref["perfect"] == 1.0
    assert ref["spurious_add"] == pytest.approx(2 * 2 / 5)   # 2 correct changes, 1 extra entry
    assert ref["missed_update"] == pytest.approx(2 * 1 / 4)  # stale + right ADD vs new + ADD
    assert ref["do_nothing"] == 0.0


def test_check_touched_reward_accepts_the_reference_and_rejects_r_trans():
    assert check_touched_reward(touched_reward_reference).ok is True

    def r_trans(before, pred, gold):
        return memory_levenshtein(pred.entries, gold.entries).reward

    verdict = check_touched_reward(r_trans)
    assert verdict.ok is False and "scope" in verdict.message

    def todo(before, pred, gold):
        raise NotImplementedError

    assert check_touched_reward(todo).ok is None


def test_shared_first_counterexample():
    pred, gold = ["c c d", "c c", "f a b"], ["c d d", "c c d"]
    assert full_assignment_credit(pred, gold) == pytest.approx(2 / 3 + 4 / 5)
    assert check_shared_first_counterexample(pred, gold).ok is True
    assert check_shared_first_counterexample(PRED, GOLD).ok is False
    assert isinstance(check_shared_first_counterexample([], GOLD), Check)


def test_unanswered_coding_exercises_are_not_failures():
    assert check_order_example(None, None, GOLD).ok is None
    assert check_shared_first_counterexample(None, None).ok is None


def test_edit_script_table():
    from deltamem_lib.mld import ordered_levenshtein
    res = ordered_levenshtein(PRED, GOLD, similarity="exact")
    t = viz.edit_script_table(res, PRED, GOLD)
    assert t.columns[0] == "step" and len(t.rows) == len(res.alignment)
    assert sum(row[3] for row in t.rows) == res.distance == 4  # nothing identical: 2 + 2


def test_threshold_steps_are_the_similarities_of_the_backend_drawn():
    from deltamem_lib.memory import MemoryEntry, MemoryState, Operation
    from deltamem_lib.teaching.mld_reward import reward_vs_threshold, threshold_steps

    before = MemoryState([MemoryEntry("m1", "User lives in Hamburg")])
    gold = before.copy()
    gold.apply([Operation.update("m1", "User lives in Berlin", keywords=("Berlin",)),
                Operation.add("User works as a nurse", memory_id="m2", keywords=("nurse",))])
    pred = ["User lives in Hamburg", "The user is employed as a nurse"]
    records = reward_vs_threshold(pred, list(gold.entries), similarity="lexical")
    assert threshold_steps(records) == [0.66, 0.75]  # the paraphrase (Dice 0.667), then the stale fact (0.75)
    # only the paraphrase is paid with fidelity
    assert len(threshold_steps(records, lexical_fidelity=True)) == 1
