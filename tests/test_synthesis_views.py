"""Tests of notebook 01's figures, session views, explorer and exercise self-checks."""

from __future__ import annotations

import json

import pytest

from deltamem_lib.synthesis import SynthConfig, generate_episodes, operation_counts
from deltamem_lib.teaching.data_synthesis import (
    SessionExplorer,
    check_event_template,
    check_inter_counter,
    check_prediction,
    session_html,
    session_text,
    synthesis_figures,
)


@pytest.fixture(scope="module")
def episodes():
    return generate_episodes(SynthConfig(users=12, sessions=6, seed=4))


def test_figures_save_png_and_the_numbers_behind_them(tmp_path, episodes):
    plots = synthesis_figures(episodes, tmp_path)
    assert len(plots) == 5
    for p in plots.values():
        assert p.png.stat().st_size > 5000 and p._repr_png_()[:4] == b"\x89PNG"
        assert json.loads(p.json.read_text()) == json.loads(json.dumps(p.data))
    mix = json.loads((tmp_path / "01_operation_mix.json").read_text())
    assert mix == json.loads(json.dumps(operation_counts(episodes)))
    per_session = plots["01_ops_per_session"].data
    assert sum(per_session["histogram"].values()) == 12 * 6
    sizes = plots["01_memory_size"].data["by_session"]
    assert len(sizes) == 7 and sizes[0]["mean"] == pytest.approx(sum(len(e.initial_memory)
                                                                     for e in episodes) / 12)


def test_session_views_show_dialogue_operations_and_diff(episodes):
    ep = episodes[0]
    i = next(i for i, s in enumerate(ep.sessions) if s.gold_ops)
    s = ep.sessions[i]
    text = session_text(ep, i)
    assert s.turns[0].text in text and "Gold operations:" in text and "State diff:" in text
    page = session_html(ep, i)
    for op in s.gold_ops:
        assert op.op.value in page and (op.memory_id or "") in page
    assert "background:#fff3a3" in page  # keywords are highlighted


def test_explorer_has_a_static_fallback(episodes):
    bundle = SessionExplorer(episodes[1])._repr_mimebundle_()
    assert "text/html" in bundle and bundle["text/html"].count("<details") == 6
    assert "application/vnd.jupyter.widget-view+json" in bundle  # ipywidgets is installed
    assert bundle["text/plain"].startswith(episodes[1].user_id)


def test_exercise_checks(episodes):
    assert check_prediction(None, 0.5, what="x").ok is None
    assert check_prediction(None, 0.5, what="x").message.startswith("No prediction")
    assert check_prediction(0.52, 0.5, what="x").ok is True
    assert check_prediction(0.9, 0.5, what="x").ok is False
    assert check_event_template("move", "Guess what, I live in {city} now!", users=15).ok is True
    assert "Leeds" not in check_event_template("move", "I moved house!", users=15).message
    assert check_event_template("move", "I moved house!", users=15).ok is False
    assert check_event_template("move", "Hello {town}", users=15).ok is False
    assert check_event_template("move", "Hello {town}", users=15).message.startswith("placeholder")

    def right(ep):
        return sum(o.op.value == "UPDATE" and o.evolution == "inter" for s in ep.sessions for o in s.gold_ops)

    def wrong(ep):
        return sum(o.evolution == "inter" for s in ep.sessions for o in s.gold_ops)

    assert check_inter_counter(right, episodes).ok is True
    assert check_inter_counter(wrong, episodes).ok is False
