"""Episode schema: parsing errors name the field, integrity checks, the RL row view."""

from __future__ import annotations

import copy
import json

import pytest

from deltamem_lib.episodes import (
    Episode,
    EpisodeError,
    check_episode,
    load_episodes,
    parse_rl_row,
    render_dialogue,
    rl_rows,
    save_episodes,
)

EP = {
    "user_id": "u1",
    "persona": {"name": "Ada"},
    "initial_memory": [
        {"id": "m1", "content": "User lives in Hamburg.", "timestamp": "2024-01-01", "keywords": ["Hamburg"],
         "source": {"session_id": "s0", "turns": []}},
    ],
    "sessions": [
        {
            "session_id": "s1",
            "date": "2024-02-03",
            "event": {"kind": "moving", "summary": "moved to Berlin"},
            "turns": [
                {"turn_id": "t1", "speaker": "user", "text": "Since the move to Berlin I barely sleep."},
                {"turn_id": "t2", "speaker": "assistant", "text": "Moving is tiring! How is work?"},
                {"turn_id": "t3", "speaker": "user", "text": "Fine, I still work as a nurse."},
            ],
            "gold_ops": [
                {"op": "UPDATE", "memory_id": "m1", "content": "User lives in Berlin.",
                 "keywords": ["Berlin"], "evolution": "intra", "evidence": ["t1"]},
                {"op": "ADD", "memory_id": "m2", "content": "User works as a nurse.", "keywords": ["nurse"],
                 "evolution": "padding", "evidence": ["t3"]},
            ],
            "state_after": [
                {"id": "m1", "content": "User lives in Berlin.", "timestamp": "2024-02-03",
                 "keywords": ["Berlin"], "source": {"session_id": "s1", "turns": ["t1"]}},
                {"id": "m2", "content": "User works as a nurse.", "timestamp": "2024-02-03",
                 "keywords": ["nurse"], "source": {"session_id": "s1", "turns": ["t3"]}},
            ],
        },
        {
            "session_id": "s2",
            "date": "2024-03-10",
            "event": {"kind": "none", "summary": "chit-chat"},
            "turns": [{"turn_id": "t1", "speaker": "user", "text": "Lovely weather today."}],
            "gold_ops": [],
            "state_after": [
                {"id": "m1", "content": "User lives in Berlin.", "timestamp": "2024-02-03",
                 "keywords": ["Berlin"]},
                {"id": "m2", "content": "User works as a nurse.", "timestamp": "2024-02-03",
                 "keywords": ["nurse"]},
            ],
        },
    ],
}


def test_valid_episode_round_trips_and_passes_integrity(tmp_path):
    ep = Episode.from_dict(EP)
    check_episode(ep)
    path = save_episodes(tmp_path / "episodes.jsonl", [ep, ep])
    back = load_episodes(path, check=True)
    assert [e.to_dict() for e in back] == [ep.to_dict()] * 2


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["sessions"][0].update(date="3 Feb 2024"), "date: expected YYYY-MM-DD"),
    (lambda d: d["sessions"][0]["turns"][0].update(speaker="narrator"), "speaker"),
    (lambda d: d["sessions"][0]["gold_ops"][0].update(op="MOVE"), "unknown op 'MOVE'"),
    (lambda d: d["sessions"][0]["gold_ops"][0].update(evolution="sideways"), "evolution"),
    (lambda d: d["initial_memory"][0].pop("content"), "initial_memory[0]"),
    (lambda d: d.pop("sessions"), "sessions: missing"),
])
def test_schema_errors_name_user_session_and_field(mutate, message):
    d = copy.deepcopy(EP)
    mutate(d)
    with pytest.raises(EpisodeError, match="user u1") as info:
        Episode.from_dict(d)
    assert message in str(info.value)


def test_integrity_violations_are_all_reported():
    d = copy.deepcopy(EP)
    d["sessions"][0]["gold_ops"][0]["keywords"] = ["Munich"]          # not said by the user
    d["sessions"][0]["gold_ops"][1]["evidence"] = ["t9"]              # no such turn
    with pytest.raises(EpisodeError) as info:
        check_episode(Episode.from_dict(d))
    msg = str(info.value)
    assert "'Munich' not in the user turns" in msg and "'t9'" in msg


def test_integrity_catches_wrong_state_after_and_unknown_ids():
    d = copy.deepcopy(EP)
    d["sessions"][1]["state_after"][0]["content"] = "User lives in Paris."
    with pytest.raises(EpisodeError, match="does not reproduce state_after"):
        check_episode(Episode.from_dict(d))
    d = copy.deepcopy(EP)
    d["sessions"][0]["gold_ops"][0]["memory_id"] = "m7"
    with pytest.raises(EpisodeError, match="unknown memory id 'm7'"):
        check_episode(Episode.from_dict(d))


def test_keyword_said_only_by_the_assistant_does_not_count():
    d = copy.deepcopy(EP)
    d["sessions"][0]["turns"][1]["text"] = "Berlin is lovely."
    d["sessions"][0]["turns"][0]["text"] = "Since the move I barely sleep."
    with pytest.raises(EpisodeError, match="'Berlin' not in the user turns"):
        check_episode(Episode.from_dict(d))


def test_bad_line_in_file_names_file_and_line(tmp_path):
    path = tmp_path / "episodes.jsonl"
    good = json.dumps(EP)
    bad = copy.deepcopy(EP)
    bad["sessions"][0]["date"] = 20240203
    path.write_text(good + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(EpisodeError, match=r"episodes.jsonl: line 2: .*date"):
        load_episodes(path)
    path.write_text(good + "\n" + good[:50] + "\n")
    with pytest.raises(Exception, match="line 2"):
        load_episodes(path)


def test_rl_rows_carry_gold_states_and_parse_back():
    rows = rl_rows([Episode.from_dict(EP)])
    assert [r["session_index"] for r in rows] == [0, 1]
    assert all(isinstance(v, (str, int)) for r in rows for v in r.values())  # Arrow-friendly
    ex = parse_rl_row({**rows[0], "prompt": "ignored"})
    assert ex.state_before.contents() == ["User lives in Hamburg."]
    assert ex.state_after.contents() == ["User lives in Berlin.", "User works as a nurse."]
    assert ex.state_after["m1"].keywords == ("Berlin",)
    assert ex.state_after["m2"].source.turns == ("t3",)  # provenance = the op's evidence
    assert ex.state_after.next_id == 3
    assert len(ex.gold_ops) == 2
    second = parse_rl_row(rows[1])
    assert second.state_before.contents() == second.state_after.contents()


def test_parse_rl_row_errors_are_clear():
    row = rl_rows([Episode.from_dict(EP)])[0]
    with pytest.raises(EpisodeError, match="missing column"):
        parse_rl_row({k: v for k, v in row.items() if k != "state_after"})
    with pytest.raises(EpisodeError, match="'session' is not valid JSON"):
        parse_rl_row({**row, "session": "[{"})


def test_render_dialogue_shows_date_and_turn_ids():
    ep = Episode.from_dict(EP)
    text = render_dialogue(ep.sessions[0].turns, date=ep.sessions[0].date)
    assert text.splitlines()[0] == "Session date: 2024-02-03"
    assert "[t3] User: Fine, I still work as a nurse." in text
