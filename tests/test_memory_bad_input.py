"""Bad model output and bad memory files: refused with the field named, never saved half-way."""

from __future__ import annotations

import json

import pytest

from deltamem_lib.io import atomic_write_json, atomic_write_jsonl
from deltamem_lib.memory import MemoryState, MemoryStateError, Operation, OperationError


def _state():
    s = MemoryState()
    s.apply([Operation.add("User lives in Oslo.")], timestamp="2024-01-02",
            source={"session_id": "s1", "turns": ["t1"]})
    return s


@pytest.mark.parametrize("field,op", [
    ("content", {"op": "ADD", "content": "likes \ud800 tea"}),
    ("keywords", {"op": "ADD", "content": "likes tea", "keywords": ["te\udfff"]}),
    ("content", {"op": "UPDATE", "memory_id": "m1", "content": "\udc80"}),
])
def test_lone_surrogate_from_a_model_is_rejected_and_state_stays_saveable(tmp_path, field, op):
    s = _state()
    res = s.apply([op], strict=False, timestamp="2024-01-03", source={"session_id": "s2", "turns": []})
    assert not res.applied and len(res.rejected) == 1
    reason = res.rejected[0].reason
    assert field in reason and "surrogate" in reason
    s.save(tmp_path / "state.json")  # nothing unsaveable got in
    assert MemoryState.load(tmp_path / "state.json") == s
    with pytest.raises(OperationError, match="surrogate"):
        s.apply([op])


def test_lone_surrogate_in_an_operation_object_is_rejected():
    s = _state()
    res = s.apply([Operation.add("bad \ud800")], strict=False)
    assert res.rejected and "surrogate" in res.rejected[0].reason and len(s) == 1


def test_integer_timestamp_refused_so_save_load_round_trips(tmp_path):
    s = _state()
    with pytest.raises(TypeError, match="timestamp.*int"):
        s.apply([Operation.add("User has a cat.")], timestamp=20240101)
    assert len(s) == 1
    s.apply([Operation.add("User has a cat.")], timestamp="2024-01-01")
    s.save(tmp_path / "s.json")
    assert MemoryState.load(tmp_path / "s.json") == s


def test_nan_never_written(tmp_path):
    target = tmp_path / "r.json"
    atomic_write_json(target, {"ok": 1})
    with pytest.raises(ValueError) as info:
        atomic_write_json(target, {"scores": [0.5, float("nan")]})
    assert str(target) in str(info.value) and "scores[1]" in str(info.value) and "NaN" in str(info.value)
    assert json.loads(target.read_text()) == {"ok": 1}  # the old content survives
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left
    with pytest.raises(ValueError, match="line 2: cannot write field x = inf"):
        atomic_write_jsonl(tmp_path / "r.jsonl", [{"x": 1.0}, {"x": float("inf")}])


def test_unencodable_text_never_written(tmp_path):
    with pytest.raises(ValueError, match=r"field a\.b holding '\\ud800'"):
        atomic_write_json(tmp_path / "x.json", {"a": {"b": "x\ud800"}})
    assert not list(tmp_path.iterdir())


def _saved(tmp_path, mutate):
    d = _state().to_dict(include_log=True)
    mutate(d)
    p = tmp_path / "state.json"
    p.write_text(json.dumps(d, indent=2))
    return p


@pytest.mark.parametrize("mutate,expect", [
    (lambda d: d.update(format="deltamem.episodes"), "state.format"),
    (lambda d: d["log"].append("junk"), "state.log[1]: expected an operation record"),
    (lambda d: d["log"].append({"op": "FLY"}), "state.log[1]: unknown op"),
    (lambda d: d["log"].append({"op": "ADD", "memory_id": "x9", "content": "a"}), "state.log[1].memory_id"),
    (lambda d: d["log"][0].update(timestamp=5), "state.log[0].timestamp"),
    (lambda d: d["log"][0].update(source="s1"), "state.log[0].source"),
    (lambda d: d["entries"][0].update(content="a\ud800"), "state.entries[0].content"),
])
def test_bad_memory_file_refused_naming_file_and_field(tmp_path, mutate, expect):
    p = _saved(tmp_path, mutate)
    with pytest.raises(MemoryStateError) as info:
        MemoryState.load(p)
    assert str(p) in str(info.value) and expect in str(info.value)


def test_good_memory_file_with_log_still_loads(tmp_path):
    p = _saved(tmp_path, lambda d: None)
    assert MemoryState.load(p) == _state()


def test_evidence_as_a_string_is_refused():
    with pytest.raises(OperationError, match="evidence: expected a list of turn ids, got str"):
        Operation.from_dict({"op": "ADD", "content": "x", "evidence": "t12"})
    assert Operation.from_dict({"op": "ADD", "content": "x", "evidence": ["t12"]}).evidence == ("t12",)
