"""``data/``: the committed samples, where real benchmark files are looked for, and
``deltamem data fetch`` (tested on local files and a 127.0.0.1 server, never the internet)."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import deltamem_lib.benchmarks.paths as P
from deltamem_lib.benchmarks import download
from deltamem_lib.benchmarks.halumem import load_halumem
from deltamem_lib.benchmarks.locomo import load_locomo
from deltamem_lib.benchmarks.personamem import load_personamem_questions, load_shared_contexts
from deltamem_lib.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_every_sample_loads_with_its_benchmark_loader_and_is_documented():
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert load_locomo(P.SAMPLES / "locomo_tiny.json")
    assert load_halumem(P.SAMPLES / "halumem_tiny.jsonl")
    qs = load_personamem_questions(P.SAMPLES / "personamem_questions_tiny.csv")
    ctx = load_shared_contexts(P.SAMPLES / "personamem_contexts_tiny.jsonl")
    assert {q.shared_context_id for q in qs} <= set(ctx)
    for f in P.SAMPLES.iterdir():
        assert f"`{f.name}`" in readme, f"data/README.md does not describe {f.name}"
    for word in ("source", "licence", "apache-2.0"):
        assert word in readme.lower()


def test_real_files_are_looked_for_in_data_dir_then_data_then_the_environment(tmp_path, monkeypatch):
    data, env, given = tmp_path / "data", tmp_path / "env", tmp_path / "given"
    monkeypatch.setattr(P, "DATA_DIR", data)
    monkeypatch.setenv(P.DATA_ENV, str(env))
    assert P.search_dirs() == [data, env]
    assert P.search_dirs(given) == [given, data, env]
    (env / "locomo").mkdir(parents=True)
    (env / "locomo" / "locomo10.json").write_text("[]")
    assert P.locate_data("locomo").path == env / "locomo" / "locomo10.json"
    (data / "locomo").mkdir(parents=True)
    (data / "locomo" / "locomo10.json").write_text("[]")
    assert P.locate_data("locomo").path == data / "locomo" / "locomo10.json"  # data/ before $DELTAMEM_DATA
    assert P.data_source(data / "locomo" / "locomo10.json") == "real"
    assert P.data_source(P.SAMPLES / "locomo_tiny.json") == "sample"


def test_the_sample_fallback_warns_loudly(tmp_path, monkeypatch):
    monkeypatch.setattr(P, "DATA_DIR", tmp_path)
    monkeypatch.delenv(P.DATA_ENV, raising=False)
    with pytest.warns(P.SampleDataWarning, match=r"USING THE SAMPLE .*deltamem data fetch halumem"):
        where = P.locate_data("halumem")
    assert where.fixture and where.source == "sample" and where.path.parent == P.SAMPLES


def _remote(src: Path, url: str) -> download.RemoteFile:
    rf = download.REMOTE_FILES["locomo"][0]
    return replace(rf, url=url, sha256=hashlib.sha256(src.read_bytes()).hexdigest(), size=src.stat().st_size)


def test_fetch_command_downloads_into_the_root_and_reuses_it(tmp_path, monkeypatch, capsys):
    src = P.SAMPLES / "locomo_tiny.json"
    monkeypatch.setitem(download.REMOTE_FILES, "locomo", (_remote(src, src.as_uri()),))
    assert main(["data", "fetch", "locomo", "--root", str(tmp_path)]) == 0
    got = tmp_path / "locomo" / "locomo10.json"
    assert got.read_bytes() == src.read_bytes() and str(got) in capsys.readouterr().out
    got.write_text("stale")  # a bad copy is replaced, never trusted
    assert main(["data", "fetch", "locomo", "--root", str(tmp_path)]) == 0
    assert json.loads(got.read_text()) == json.loads(src.read_text())


def test_fetch_command_over_http_from_127_0_0_1(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    (served / "locomo10.json").write_bytes((P.SAMPLES / "locomo_tiny.json").read_bytes())
    handler = partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/locomo10.json"
        monkeypatch.setitem(download.REMOTE_FILES, "locomo", (_remote(served / "locomo10.json", url),))
        assert main(["data", "fetch", "locomo", "--root", str(tmp_path / "data")]) == 0
    finally:
        server.shutdown()
    assert (tmp_path / "data" / "locomo" / "locomo10.json").is_file()


def test_fetch_offline_names_the_source_and_where_to_put_a_copy(tmp_path, monkeypatch, capsys):
    gone = (tmp_path / "nowhere" / "HaluMem-Medium.jsonl").as_uri()
    rf = replace(download.REMOTE_FILES["halumem-medium"][0], url=gone)
    monkeypatch.setitem(download.REMOTE_FILES, "halumem-medium", (rf,))
    monkeypatch.delenv(P.DATA_ENV, raising=False)
    assert main(["data", "fetch", "halumem", "--root", str(tmp_path / "data")]) == 1
    err = capsys.readouterr().err
    assert gone in err and "IAAR-Shanghai/HaluMem" in err
    assert str(tmp_path / "data" / "halumem" / "HaluMem-Medium.jsonl") in err
    assert not (tmp_path / "data" / "halumem" / "HaluMem-Medium.jsonl").exists()


def test_data_status_says_sample_or_real(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(P, "DATA_DIR", tmp_path)
    monkeypatch.delenv(P.DATA_ENV, raising=False)
    assert main(["data", "status"]) == 0
    out = capsys.readouterr().out
    assert out.count(": sample: ") == 3


def test_fetch_or_sample_never_fails_and_says_in_one_line_what_is_used(tmp_path, monkeypatch, capsys):
    gone = (tmp_path / "nowhere" / "locomo10.json").as_uri()
    monkeypatch.setitem(download.REMOTE_FILES, "locomo",
                        (replace(download.REMOTE_FILES["locomo"][0], url=gone),))
    monkeypatch.delenv(P.DATA_ENV, raising=False)
    monkeypatch.setattr(P, "DATA_DIR", tmp_path / "empty")
    assert main(["data", "fetch", "locomo", "--root", str(tmp_path / "data"), "--or-sample"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("locomo: using the SAMPLE") and "locomo_tiny.json" in out[0]
    src = P.SAMPLES / "locomo_tiny.json"
    monkeypatch.setitem(download.REMOTE_FILES, "locomo", (_remote(src, src.as_uri()),))
    assert main(["data", "fetch", "locomo", "--root", str(tmp_path / "data"), "--or-sample"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"locomo: using the real file {tmp_path / 'data' / 'locomo' / 'locomo10.json'}"]
