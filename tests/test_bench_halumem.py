"""HaluMem loader (deltamem_lib.benchmarks.halumem).

No real HaluMem file is available to the project (Hugging Face only, CC BY-NC-ND), so the
loader is checked on ``data/samples/halumem_tiny.jsonl``: two hand-written users in
the documented schema, one Medium-style and one with a Long-style distractor session.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deltamem_lib.benchmarks.halumem import (
    QUESTION_TYPES,
    halumem_stats,
    iter_halumem,
    load_halumem,
    parse_halumem_time,
)
from deltamem_lib.io import DataFileError

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "samples" / "halumem_tiny.jsonl"


@pytest.fixture(scope="module")
def users():
    return load_halumem(FIXTURE)


def test_users_sessions_and_counts(users):
    assert [u.uuid for u in users] == ["u-0001", "u-0002"]
    assert [u.line for u in users] == [1, 2]
    assert users[0].user_name == "Mira Holt" and users[1].user_name == "Tomas Vidal"
    stats = halumem_stats(users)
    assert stats == {
        "users": 2,
        "sessions": 5,
        "scored_sessions": 4,
        "distractor_sessions": 1,
        "dialogue_turns": 12,
        "memory_points": 7,
        "interference_points": 1,
        "update_probe_points": 1,
        "questions": 4,
        "questions_per_type": {"Basic Fact Recall": 1, "Dynamic Update": 1, "Memory Boundary": 1,
                               "Memory Conflict": 1},
    }


def test_memory_points_are_typed(users):
    s0, s1 = users[0].sessions
    sys_pt, prim, interf = s0.memory_points
    assert sys_pt.memory_source == "system" and sys_pt.is_update is False and sys_pt.importance == 1.0
    assert prim.importance == 0.75 and prim.memory_type == "Event Memory"
    assert interf.is_interference and not sys_pt.is_interference
    assert interf.extra["reference_memory_index"] == 1 and "reason" in interf.extra
    upd, upd_no_original = s1.memory_points
    assert upd.is_update and upd.original_memories == ("Mira Holt swims every Sunday.",)
    # an update flag without original memories is not probed (as in the official scripts)
    assert upd_no_original.is_update and not upd_no_original.is_update_probe
    assert s1.update_probe_points == (upd,)


def test_questions_and_boundary_items(users):
    q_city, q_dog = users[0].sessions[0].questions
    assert q_city.answer == "Leeds" and q_city.difficulty == "easy"
    assert q_city.evidence[0].memory_type == "Persona Memory"
    assert q_dog.question_type == "Memory Boundary" and q_dog.evidence == ()
    assert all(q.question_type in QUESTION_TYPES for u in users for s in u.sessions for q in s.questions)


def test_distractor_sessions_are_kept_but_not_scored(users):
    u = users[1]
    assert [s.is_generated_qa_session for s in u.sessions] == [False, True, False]
    distractor = u.sessions[1]
    assert distractor.memory_points == () and distractor.questions == () and len(distractor.dialogue) == 2
    assert [s.index for s in u.scored_sessions()] == [0, 2]


def test_dialogue_text_and_timestamps(users):
    s = users[0].sessions[0]
    text = s.dialogue_text()
    assert text.splitlines()[0] == ("[Mar 02, 2025, 09:00:00]user: Hi, I'm Mira. "
                                    "I work as an architect in Leeds.")
    assert text.splitlines()[2] == ""  # blank line after each assistant turn
    assert s.dialogue[1].dialogue_turn == 0 and s.dialogue[2].dialogue_turn == 1
    t = parse_halumem_time(s.dialogue[2].timestamp)
    assert (t.year, t.month, t.day, t.hour, t.minute) == (2025, 3, 2, 9, 5)
    with pytest.raises(ValueError):
        parse_halumem_time("2025-03-02 09:05")


def _records() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]


def _write(tmp_path: Path, records: list) -> Path:
    p = tmp_path / "bad.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "line, mutate, expected",
    [
        (1, lambda r: r.pop("uuid"), ["'uuid'", "missing"]),
        (2, lambda r: r["sessions"][0]["memory_points"][1].__setitem__("is_update", "maybe"),
         ["u-0002", "sessions[0].memory_points[1].is_update", "'maybe'"]),
        (1, lambda r: r["sessions"][1]["memory_points"][0].pop("memory_content"),
         ["u-0001", "sessions[1].memory_points[0].memory_content", "missing"]),
        (2, lambda r: r["sessions"][2]["questions"][0].pop("question_type"),
         ["u-0002", "sessions[2].questions[0].question_type"]),
        (1, lambda r: r["sessions"][0]["dialogue"][1].__setitem__("role", "bot"),
         ["u-0001", "sessions[0].dialogue[1].role", "'bot'"]),
        (1, lambda r: r["sessions"][0].pop("memory_points"),
         ["u-0001", "sessions[0].memory_points", "missing"]),
        (2, lambda r: r["sessions"][0]["memory_points"][0].__setitem__("importance", "high"),
         ["u-0002", "importance", "str"]),
        (1, lambda r: r.__setitem__("sessions", {}), ["u-0001", "'sessions'", "expected list"]),
    ],
)
def test_malformed_records_name_file_line_and_field(tmp_path, line, mutate, expected):
    recs = _records()
    mutate(recs[line - 1])
    p = _write(tmp_path, recs)
    with pytest.raises(DataFileError) as err:
        load_halumem(p)
    msg = str(err.value)
    assert f"{p}: line {line}:" in msg
    for part in expected:
        assert part in msg, msg


def test_invalid_json_line_and_duplicate_users(tmp_path):
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    p = tmp_path / "broken.jsonl"
    p.write_text(lines[0] + "\n\n" + lines[1][:50] + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"broken\.jsonl: line 3.*invalid JSON"):
        load_halumem(p)
    d = tmp_path / "dup.jsonl"
    d.write_text(lines[0] + "\n" + lines[0] + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="line 2: field 'uuid'.*already used on line 1"):
        load_halumem(d)


def test_iter_halumem_is_lazy(tmp_path):
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    p = tmp_path / "tail_broken.jsonl"
    p.write_text(lines[0] + "\n{not json}\n", encoding="utf-8")
    it = iter_halumem(p)
    assert next(it).uuid == "u-0001"  # the first user is usable before the bad line is reached
    with pytest.raises(DataFileError, match="line 2"):
        next(it)
