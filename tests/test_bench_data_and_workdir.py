"""Benchmarks: bad LoCoMo files are refused naming file, record and field; resume never serves
work made from other data; two runs never share one work folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deltamem_lib.benchmarks.locomo import load_locomo
from deltamem_lib.benchmarks.runner import BenchConfig, run_benchmark
from deltamem_lib.io import DataFileError
from deltamem_lib.workdir import WorkDirBusyError, WorkDirLock, file_sha256

LOCOMO = Path(__file__).resolve().parents[1] / "data" / "samples" / "locomo_tiny.json"


def _raw():
    return json.loads(LOCOMO.read_text())


def _write(tmp_path, data):
    p = tmp_path / "locomo.json"
    p.write_text(json.dumps(data))
    return p


# ------------------------------------------------------------------ LoCoMo loader
def _empty_session(d):
    d[0]["conversation"]["session_2"] = []


def _unknown_speaker(d):
    d[0]["conversation"]["session_1"][1]["speaker"] = "Zoe"


def _duplicate_dia_id(d):
    d[0]["conversation"]["session_1"][2]["dia_id"] = d[0]["conversation"]["session_1"][0]["dia_id"]


def _removed_session_keeps_no_date(d):
    conv = d[0]["conversation"]
    del conv["session_2_date_time"]


@pytest.mark.parametrize("mutate,field,problem", [
    (_empty_session, "conversation.session_2", "is empty"),
    (_unknown_speaker, "conversation.session_1[1].speaker", "'Zoe' is neither speaker_a"),
    (_duplicate_dia_id, "conversation.session_1[2].dia_id", "duplicate dia_id 'D1:1'"),
    (_removed_session_keeps_no_date, "conversation.session_2_date_time", "missing"),
])
def test_bad_locomo_file_names_file_record_and_field(tmp_path, mutate, field, problem):
    d = _raw()
    mutate(d)
    p = _write(tmp_path, d)
    with pytest.raises(DataFileError) as info:
        load_locomo(p)
    msg = str(info.value)
    assert (str(p) in msg and "record 0 (sample_id 'toy-1')" in msg and f"field {field!r}" in msg
            and problem in msg)


def test_locomo_file_holding_an_empty_array_is_refused(tmp_path):
    p = _write(tmp_path, [])
    with pytest.raises(DataFileError, match="holds no conversations"):
        load_locomo(p)


# ------------------------------------------------------------------ resume and changed data
def _cfg(data, **kw):
    return BenchConfig(**{**dict(benchmark="locomo", data=str(data), system="deltamem-oneshot",
                                 retriever="lexical", top_k=5, recall_ks=(1, 5), batch_size=2), **kw})


def test_changed_data_file_is_refused_on_resume(tmp_path):
    from test_bench_runner import Scripted

    data = tmp_path / "locomo.json"
    data.write_bytes(LOCOMO.read_bytes())
    work = tmp_path / "w"
    res = run_benchmark(_cfg(data), work, model=Scripted())
    assert res["data"]["sha256"] == file_sha256(data)
    manifest = json.loads((work / "bench_manifest.json").read_text())
    assert manifest["data_sha256"] == {str(data): file_sha256(data)}
    again = run_benchmark(_cfg(data), work, model=Scripted())  # same data: resumes
    assert again["metrics"] == res["metrics"]
    d = _raw()
    d[0]["qa"][0]["answer"] = "a different answer"
    data.write_text(json.dumps(d))
    with pytest.raises(ValueError) as info:
        run_benchmark(_cfg(data), work, model=Scripted())
    msg = str(info.value)
    assert ("the data changed since this work was done" in msg and str(data) in msg
            and "delete the work folder" in msg)
    assert file_sha256(data)[:12] in msg


def test_work_folder_from_before_data_hashes_is_refused(tmp_path):
    from test_bench_runner import Scripted

    work = tmp_path / "w"
    run_benchmark(_cfg(LOCOMO), work, model=Scripted())
    m = json.loads((work / "bench_manifest.json").read_text())
    del m["data_sha256"]
    (work / "bench_manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match="before data hashes were recorded"):
        run_benchmark(_cfg(LOCOMO), work, model=Scripted())


def test_stale_tmp_file_in_the_work_folder_is_cleaned(tmp_path):
    from test_bench_runner import Scripted

    work = tmp_path / "w"
    work.mkdir()
    orphan = work / ".answers.jsonl.k1ll3d.tmp"
    orphan.write_text("{half a rec")
    run_benchmark(_cfg(LOCOMO), work, model=Scripted())
    assert not orphan.exists()


# ------------------------------------------------------------------ one run per work folder
def test_second_lock_attempt_is_refused_then_free_after_release(tmp_path):
    first = WorkDirLock(tmp_path).acquire()
    with pytest.raises(WorkDirBusyError, match=r"in use by another run \(pid \d+"):
        WorkDirLock(tmp_path).acquire()
    first.release()
    with WorkDirLock(tmp_path):
        pass


def test_bench_run_refused_while_another_holds_the_folder(tmp_path):
    from test_bench_runner import Scripted

    work = tmp_path / "w"
    with WorkDirLock(work):
        with pytest.raises(WorkDirBusyError, match="choose another --work-dir"):
            run_benchmark(_cfg(LOCOMO), work, model=Scripted())
    run_benchmark(_cfg(LOCOMO), work, model=Scripted())  # free again


def test_lock_held_by_another_process_and_released_when_it_dies(tmp_path):
    code = ("import sys, time; from deltamem_lib.workdir import WorkDirLock; "
            "l = WorkDirLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(WorkDirBusyError, match=f"pid {proc.pid}"):
            WorkDirLock(tmp_path).acquire()
    finally:
        proc.kill()  # like SIGKILL of a run: the kernel drops the lock
        proc.wait()
    with WorkDirLock(tmp_path):
        pass
