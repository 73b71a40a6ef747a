"""Bad synthetic data and bad output folders: a clear error naming file, line, user, session and
field before any work, or a correct result; never a traceback, never lost data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from deltamem_lib.cli import main
from deltamem_lib.episodes import EpisodeError, load_episodes
from deltamem_lib.synthesis.dataset import split_users, write_synth_output
from deltamem_lib.synthesis.procedural import SynthConfig, generate_episodes


@pytest.fixture(scope="module")
def eps():
    return generate_episodes(SynthConfig(users=3, sessions=3, seed=0))


def _write(tmp_path: Path, records) -> Path:
    p = tmp_path / "episodes.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in records))
    return p


def _dicts(eps):
    return [json.loads(json.dumps(e.to_dict())) for e in eps]


# ------------------------------------------------------------------ small user counts
@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_small_sets_get_a_user_in_every_split(n):
    s = split_users([f"u{i}" for i in range(n)], seed=0)
    assert all(len(s[k]) >= 1 for k in ("train", "validation", "test")), s
    assert sorted(sum(s.values(), [])) == sorted(f"u{i}" for i in range(n))


def test_large_sets_keep_their_split_sizes():
    s = split_users([f"u{i:03d}" for i in range(100)], seed=0)
    assert [len(s[k]) for k in ("train", "validation", "test")] == [80, 10, 10]


def test_two_users_empty_split_loads_back_and_evaluate_says_so(tmp_path, eps, capsys):
    out = write_synth_output(tmp_path / "syn", eps[:2], seed=0, generator="procedural")
    from deltamem_lib.agent.harness import split_users as eval_split

    users, _ = eval_split(eps[:2], "test", dataset_dir=out.dataset)  # loads the saved empty split
    assert users == set()
    code = main(["evaluate", "--episodes", str(out.episodes), "--system", "noop", "--split", "test",
                 "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 2 and "has no sessions" in err and "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


# ------------------------------------------------------------------ episode integrity (evaluate)
def _mutations():
    def dup_user(d):
        d[1]["user_id"] = d[0]["user_id"]

    def dup_session(d):
        d[0]["sessions"][1]["session_id"] = d[0]["sessions"][0]["session_id"]

    def bad_date(d):
        d[0]["sessions"][1]["date"] = "2024-13-45"

    def state_after(d):
        s = next(s for s in d[0]["sessions"] if s["state_after"])
        s["state_after"][0]["content"] = "User secretly owns a zeppelin."

    def keyword(d):
        for s in d[0]["sessions"]:
            for o in s["gold_ops"]:
                if o.get("keywords"):
                    o["keywords"] = o["keywords"] + ["zeppelin"]
                    for e in s["state_after"]:
                        if e["id"] == o["memory_id"]:
                            e["keywords"] = o["keywords"]
                    return

    def unknown_id(d):
        s = d[0]["sessions"][0]
        s["gold_ops"].append({"op": "DELETE", "memory_id": "m999", "content": None})

    return [("duplicate user", dup_user, ["line 2", "user_id", "duplicate user id", "line 1"]),
            ("duplicate session", dup_session, ["line 1", "session_id", "duplicate session id"]),
            ("impossible date", bad_date, ["line 1", ".date", "2024-13-45", "not a calendar date"]),
            ("state_after", state_after, ["line 1", "state_after", "does not reproduce"]),
            ("keyword", keyword, ["line 1", "keyword 'zeppelin' not in the user turns"]),
            ("unknown id", unknown_id, ["line 1", "gold_ops[", "unknown memory id 'm999'"])]


@pytest.mark.parametrize("name,mutate,expect", _mutations(), ids=[m[0] for m in _mutations()])
def test_evaluate_runs_the_integrity_check(tmp_path, eps, name, mutate, expect, capsys):
    d = _dicts(eps)
    mutate(d)
    path = _write(tmp_path, d)
    with pytest.raises(EpisodeError) as info:
        load_episodes(path, check=True, unique_users=True)
    msg = str(info.value)
    assert str(path) in msg and all(x in msg for x in expect), msg
    assert f"user {d[0]['user_id']}" in msg or name == "duplicate user"
    code = main(["evaluate", "--episodes", str(path), "--system", "noop", "--split", "all",
                 "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 2 and str(path) in err and "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


# ------------------------------------------------------------------ output paths (synth)
def test_synth_out_below_a_file_refused_before_work(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    code = main(["synth", "--users", "3", "--sessions", "2", "--out", str(f / "sub"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "is a file, not a folder" in err and "Traceback" not in err


def test_synth_overwrite_on_a_file_refused(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    code = main(["synth", "--users", "3", "--sessions", "2", "--out", str(f), "--overwrite", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "is a file" in err and "folders only" in err
    assert f.read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_synth_unwritable_folder_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code = main(["synth", "--users", "3", "--sessions", "2", "--out", str(ro / "out"), "--no-progress"])
    finally:
        ro.chmod(0o700)
    assert code == 2 and "permission denied" in capsys.readouterr().err


def test_unwritable_folder_check_without_root(tmp_path, monkeypatch):
    from deltamem_lib import workdir

    monkeypatch.setattr(workdir.os, "access", lambda p, mode: False)
    with pytest.raises(workdir.OutputPathError, match="permission denied"):
        workdir.check_output_dir(tmp_path / "new")
    with pytest.raises(workdir.OutputPathError, match="permission denied"):
        workdir.check_output_file(tmp_path / "r.json")


# ------------------------------------------------------------------ faults during a write
def test_overwrite_whose_final_rename_fails_restores_the_old_data(tmp_path, eps, monkeypatch):
    import deltamem_lib.synthesis.dataset as ds

    target = tmp_path / "syn"
    write_synth_output(target, eps[:3], seed=0, generator="procedural")
    old = (target / "episodes.jsonl").read_text()
    real = os.replace

    def flaky(src, dst):  # os.replace is global: fail only the final rename of the new folder
        if Path(src).name.startswith(".syn.partial-"):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(ds.os, "replace", flaky)
    with pytest.raises(OSError, match="old data was restored"):
        write_synth_output(target, eps[:2], seed=1, generator="procedural", overwrite=True)
    assert (target / "episodes.jsonl").read_text() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["syn"]


def test_overwrite_that_cannot_restore_says_where_the_old_data_is(tmp_path, eps, monkeypatch):
    import deltamem_lib.synthesis.dataset as ds

    target = tmp_path / "syn"
    write_synth_output(target, eps[:3], seed=0, generator="procedural")
    real = os.replace

    def flaky(src, dst):
        if Path(src).name.startswith((".syn.partial-", ".syn.old-")):
            raise OSError(5, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(ds.os, "replace", flaky)
    with pytest.raises(OSError) as info:
        write_synth_output(target, eps[:2], seed=1, generator="procedural", overwrite=True)
    old = next(tmp_path.glob(".syn.old-*"))
    assert str(old) in str(info.value) and "rename it" in str(info.value)
    assert (old / "episodes.jsonl").is_file()
    monkeypatch.undo()
    assert ds.leftovers_beside(target) == [old]


def test_stale_tmp_files_are_found_and_removed(tmp_path):
    from deltamem_lib.workdir import remove_stale_temp_files, stale_temp_files

    (tmp_path / "sub").mkdir()
    left = [tmp_path / ".state.json.abc123.tmp", tmp_path / "sub" / ".journal.jsonl.x.tmp"]
    for p in left:
        p.write_text("{half")
    (tmp_path / "keep.json").write_text("{}")
    assert stale_temp_files(tmp_path) == sorted(left)
    assert sorted(remove_stale_temp_files(tmp_path)) == sorted(left)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["keep.json"]
