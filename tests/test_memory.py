"""Memory state and operations: validation, ids, replay, diff, atomic save/load."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deltamem_lib.io import DataFileError
from deltamem_lib.memory import (
    MemoryEntry,
    MemoryState,
    MemoryStateError,
    Operation,
    OperationError,
    OpType,
    replay,
)


def _state() -> MemoryState:
    s = MemoryState()
    s.add("User lives in Hamburg", keywords=["Hamburg"], timestamp="2024-01-01")
    s.add("User has a cat named Miso", keywords=["Miso"], timestamp="2024-01-01")
    return s


def test_ids_are_allocated_in_order_and_never_reused():
    s = _state()
    assert s.ids() == ["m1", "m2"]
    s.apply([Operation.delete("m2")])
    e = s.add("User likes jazz")
    assert e.id == "m3"  # m2 is gone for good
    assert s.next_id == 4


def test_strict_apply_lists_every_problem_and_leaves_state_unchanged():
    s = _state()
    before = s.to_dict(include_log=True)
    ops = [
        Operation.update("m1", "User lives in Berlin"),  # valid on its own
        {"op": "DELETE", "memory_id": "m7"},               # unknown id
        {"op": "UPDATE", "memory_id": "m1", "content": "again"},  # m1 twice
        {"op": "ADD", "content": "   "},                    # empty content
        {"op": "RENAME", "memory_id": "m2"},                # unknown op
        {"op": "UPDATE", "memory_id": 3, "content": "x"},   # wrong type
    ]
    with pytest.raises(OperationError) as info:
        s.apply(ops)
    problems = info.value.problems
    assert len(problems) == 5
    joined = "\n".join(problems)
    for needle in ("unknown memory id 'm7'", "twice", "non-empty content", "unknown op 'RENAME'",
                   "memory_id"):
        assert needle in joined
    assert s.to_dict(include_log=True) == before


def test_lenient_apply_applies_valid_ops_and_returns_rejections():
    s = _state()
    res = s.apply([Operation.update("m1", "User lives in Berlin"), Operation.delete("m9"),
                   Operation.add("User works as a nurse")], strict=False, timestamp="2024-02-01")
    assert [o.op for o in res.applied] == [OpType.UPDATE, OpType.ADD]
    assert res.applied[1].memory_id == "m3"
    assert len(res.rejected) == 1 and res.rejected[0].index == 1
    assert "m9" in res.rejected[0].reason
    assert s["m1"].content == "User lives in Berlin" and s["m1"].timestamp == "2024-02-01"


def test_add_with_explicit_id_must_match_allocation():
    s = _state()
    with pytest.raises(OperationError, match="allocates 'm3'"):
        s.apply([Operation(OpType.ADD, memory_id="m5", content="x")])
    s.apply([Operation(OpType.ADD, memory_id="m3", content="x")])
    assert "m3" in s


def test_delete_can_be_switched_off():
    s = _state()
    with pytest.raises(OperationError, match="DELETE is not allowed"):
        s.apply([Operation.delete("m1")], allow_delete=False)
    assert len(s) == 2


def test_noop_changes_nothing_and_none_is_accepted_as_noop():
    s = _state()
    res = s.apply([{"op": "NONE"}, Operation.noop()])
    assert len(res.applied) == 2 and len(s) == 2


def test_diff_and_to_operations_round_trip():
    a = _state()
    b = a.copy()
    b.apply([Operation.update("m1", "User lives in Berlin"), Operation.delete("m2"),
             Operation.add("User likes jazz")])
    d = a.diff(b)
    assert [e.id for e in d.added] == ["m3"]
    assert [e.id for e in d.removed] == ["m2"]
    assert [(o.id, n.content) for o, n in d.changed] == [("m1", "User lives in Berlin")]
    c = a.copy()
    c.apply(d.to_operations())
    assert c.contents() == b.contents()
    assert "+ [m3]" in d.render() and "- [m2]" in d.render()


_ops = st.lists(
    st.one_of(
        st.builds(lambda t: {"op": "ADD", "content": t}, st.text(min_size=0, max_size=12)),
        st.builds(lambda i, t: {"op": "UPDATE", "memory_id": f"m{i}", "content": t},
                  st.integers(1, 8), st.text(max_size=12)),
        st.builds(lambda i: {"op": "DELETE", "memory_id": f"m{i}"}, st.integers(1, 8)),
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_ops, max_size=6))
def test_log_replay_reproduces_state_exactly(batches):
    initial = _state()
    s = initial.copy()
    for k, batch in enumerate(batches):
        s.apply(batch, strict=False, timestamp=f"2024-01-{k + 1:02d}",
                source={"session_id": f"s{k}", "turns": ["t1"]})
    again = replay(MemoryState(), s.log)  # the whole history, from the empty state
    assert again == s
    assert replay(initial, s.log[len(initial.log):]) == s  # or the suffix, from the initial state
    assert [e.to_dict() for e in again] == [e.to_dict() for e in s]


@settings(max_examples=150, deadline=None)
@given(_ops)
def test_strict_apply_is_all_or_nothing(batch):
    s = _state()
    before = s.to_dict(include_log=True)
    try:
        s.apply(batch)
    except OperationError:
        assert s.to_dict(include_log=True) == before
    else:
        assert len(s.log) == len(before["log"]) + len(batch)


def test_save_load_round_trip(tmp_path):
    s = _state()
    s.apply([Operation.update("m1", "User lives in Berlin")], source={"session_id": "s2", "turns": ["t3"]})
    path = s.save(tmp_path / "state.json")
    t = MemoryState.load(path)
    assert t == s and t.log == s.log and t["m1"].source.turns == ("t3",)


def test_truncated_file_names_file_and_line(tmp_path):
    path = _state().save(tmp_path / "state.json")
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(DataFileError) as info:
        MemoryState.load(path)
    assert str(path) in str(info.value) and "line" in str(info.value)


def test_malformed_entry_names_the_field(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"version": 1, "entries": [{"id": "m1", "content": 5}]}))
    with pytest.raises(MemoryStateError, match=r"entries\[0\]\.content"):
        MemoryState.load(p)
    p.write_text(json.dumps({"version": 1, "entries": [{"id": "m1", "content": "a"},
                                                       {"id": "m1", "content": "b"}]}))
    with pytest.raises(MemoryStateError, match="duplicate id"):
        MemoryState.load(p)


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    s = _state()
    path = s.save(tmp_path / "state.json")
    good = path.read_text()
    s.add("User likes jazz")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        s.save(path)
    assert path.read_text() == good
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left


def test_entries_are_immutable():
    s = _state()
    with pytest.raises(AttributeError):
        s["m1"].content = "changed"  # type: ignore[misc]
    assert isinstance(s["m1"], MemoryEntry)


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    import stat

    umask = os.umask(0o022)
    try:
        path = _state().save(tmp_path / "state.json")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        path.chmod(0o600)
        _state().save(path)  # an existing file keeps its mode
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(umask)
