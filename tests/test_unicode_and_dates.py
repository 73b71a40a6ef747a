"""One spelling per text (Unicode normalisation, invisible content refused) and calendar dates only."""

from __future__ import annotations

import json

import pytest

from deltamem_lib.synthesis import SynthConfig, generate_episodes


def test_a_fact_scores_the_same_in_any_unicode_encoding():
    import unicodedata

    from deltamem_lib.memory import MemoryEntry
    from deltamem_lib.mld import memory_levenshtein

    gold_text = "User lives in Zürich near Café Zoë."
    gold = [MemoryEntry("m1", gold_text, keywords=("Zürich", "Café Zoë"))]
    nfd = unicodedata.normalize("NFD", gold_text)
    assert nfd != gold_text
    assert memory_levenshtein([nfd], gold).reward == 1.0
    assert memory_levenshtein(["User lives in Ber\u200blin."], ["User lives in Berlin."]).reward == 1.0
    assert memory_levenshtein([{"content": "User likes Zo\u0308e\u0308.", "keywords": []}],
                              [MemoryEntry("m1", "User likes Zöë.", keywords=("Zöë",))]).reward == 1.0


def test_content_made_only_of_format_characters_is_refused():
    from deltamem_lib.memory import MemoryEntry, MemoryState, Operation, OperationError

    state = MemoryState([MemoryEntry("m1", "User lives in Berlin.")])
    with pytest.raises(OperationError, match="non-empty content"):
        state.add("\u200b\u200b\ufeff")
    with pytest.raises(OperationError, match="non-empty content"):
        state.apply([Operation.update("m1", "\u200b")])
    res = state.apply([{"op": "ADD", "content": "\u2060"}], strict=False)
    assert not res.applied and "non-empty content" in res.rejected[0].reason
    assert state.contents() == ["User lives in Berlin."]
    with pytest.raises(ValueError, match=r"entries\[0\]\.content: empty"):
        MemoryState.from_dict({"entries": [{"id": "m1", "content": "\u200b"}]})
    assert state.add("Ber\u200blin is home.").content == "Berlin is home."


def test_a_gold_update_to_invisible_content_fails_the_integrity_check():
    from deltamem_lib.episodes import Episode, EpisodeError, check_episode

    ep = generate_episodes(SynthConfig(users=1, sessions=2, seed=3))[0]
    d = ep.to_dict()
    d["sessions"][1]["gold_ops"] = [{"op": "UPDATE", "memory_id": d["initial_memory"][0]["id"]
                                     if d["initial_memory"]
                                     else "m1", "content": "\u200b"}]
    with pytest.raises(EpisodeError, match="non-empty content"):
        check_episode(Episode.from_dict(d))


@pytest.mark.parametrize("ts", ["2024-13-45", "2024-02-30", "yesterday", "2024-1-5"])
def test_apply_refuses_a_timestamp_that_is_not_a_calendar_date(ts):
    from deltamem_lib.memory import MemoryState

    state = MemoryState()
    with pytest.raises(ValueError, match="timestamp"):
        state.add("User likes tea.", timestamp=ts)
    assert len(state) == 0
    assert state.add("User likes tea.", timestamp="2024-02-29").timestamp == "2024-02-29"


def test_a_saved_state_with_an_impossible_date_is_refused_naming_the_field(tmp_path):
    from deltamem_lib.memory import MemoryState

    p = tmp_path / "state.json"
    p.write_text(json.dumps({"entries": [{"id": "m1", "content": "x y", "timestamp": "2024-13-45"}]}))
    with pytest.raises(ValueError, match=r"state\.json: state\.entries\[0\]\.timestamp: '2024-13-45' is not "
                                         r"a calendar"):
        MemoryState.load(p)


def test_sessions_out_of_date_order_fail_the_integrity_check():
    from deltamem_lib.episodes import Episode, EpisodeError, check_episode

    ep = generate_episodes(SynthConfig(users=1, sessions=2, seed=3))[0]
    check_episode(ep)
    d = ep.to_dict()
    d["sessions"][1]["date"] = "2001-01-01"
    with pytest.raises(EpisodeError, match=r"date: 2001-01-01 is before the previous session's date"):
        check_episode(Episode.from_dict(d))
