"""Second round of bad input: nothing lost, nothing swapped, nothing leaked.

Each test fails on the code before this round: two users sharing one work folder, ``--fresh``
deleting files it did not write, an API key reaching disk JSON-escaped, training folders
without a lock, text that scores differently by its Unicode encoding, impossible dates,
tracebacks and unnamed errors, unbounded reads. See ``docs/what_happens_when.md``.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from deltamem_lib.agent.ingest import ingest_users, load_ingested
from deltamem_lib.agent.systems import make_system
from deltamem_lib.synthesis import SynthConfig, generate_episodes


# ------------------------------------------------------------------ 1. one folder per user
@pytest.mark.parametrize("a,b", [("Ana Lee", "Ana_Lee"), ("李雷", "韩梅"), ("José", "Josè")])
def test_users_whose_names_share_a_slug_keep_their_own_memories(tmp_path, a, b):
    eps = generate_episodes(SynthConfig(users=2, sessions=2, seed=3))
    eps = [dataclasses.replace(eps[0], user_id=a), dataclasses.replace(eps[1], user_id=b)]
    first = ingest_users(make_system("oracle"), eps, out_dir=tmp_path)
    again = ingest_users(make_system("oracle"), eps, out_dir=tmp_path)  # every state read back from disk
    assert again.skipped == 4 and again.processed == 0
    for uid in (a, b):
        assert again.states[uid] == first.states[uid]
        assert load_ingested(tmp_path, uid) == first.states[uid]
    assert first.states[a][-1] != first.states[b][-1]
    folders = sorted((tmp_path / "states").iterdir())
    assert len(folders) == 2
    assert {json.loads((f / "user.json").read_text())["user_id"] for f in folders} == {a, b}


def test_a_user_folder_recording_another_id_is_refused(tmp_path):
    eps = generate_episodes(SynthConfig(users=1, sessions=2, seed=3))
    ingest_users(make_system("oracle"), eps, out_dir=tmp_path)
    (marker,) = (tmp_path / "states").glob("*/user.json")
    marker.write_text(json.dumps({"user_id": "someone else"}))
    with pytest.raises(ValueError, match=r"user\.json: field user_id: the folder belongs to 'someone else'"):
        load_ingested(tmp_path, eps[0].user_id)


@pytest.mark.parametrize("content,field", [("[]", "field state"), ('{"user_id": "x", "state": {}}', "field user_id")])
def test_a_malformed_ingest_state_file_is_refused_naming_file_and_field(tmp_path, content, field):
    eps = generate_episodes(SynthConfig(users=1, sessions=2, seed=3))
    ingest_users(make_system("oracle"), eps, out_dir=tmp_path)
    (state,) = (tmp_path / "states").glob("*/0000.json")
    state.write_text(content)
    with pytest.raises(ValueError, match=rf"0000\.json: {field}"):
        ingest_users(make_system("oracle"), eps, out_dir=tmp_path)


def test_an_ingest_manifest_holding_a_list_is_refused_naming_the_file(tmp_path):
    eps = generate_episodes(SynthConfig(users=1, sessions=1, seed=3))
    (tmp_path / "ingest_manifest.json").write_text("[]")
    with pytest.raises(ValueError, match=r"ingest_manifest\.json: expected an object"):
        ingest_users(make_system("oracle"), eps, out_dir=tmp_path)


def test_duplicate_user_ids_are_named():
    eps = generate_episodes(SynthConfig(users=1, sessions=1, seed=3))
    with pytest.raises(ValueError, match=r"episodes\[1\]\.user_id: duplicate user id"):
        ingest_users(make_system("oracle"), eps + eps)


# ------------------------------------------------------------------ 2. --fresh removes only a run's own files
def _train(args, cwd=None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "deltamem_lib", "train", *args], capture_output=True, text=True,
                          timeout=480, cwd=cwd)


def test_fresh_refuses_a_folder_that_is_not_a_run_and_deletes_nothing(tmp_path):
    out = tmp_path / "notes"
    (out / "eval").mkdir(parents=True)
    (out / "sft").mkdir()
    files = {out / "eval" / "my_notes.txt": "mine", out / "sft" / "thesis.tex": "\\begin", out / "metrics.jsonl": "{}"}
    for p, text in files.items():
        p.write_text(text)
    r = _train(["--profile", "cpu", "--out", str(out), "--fresh"])
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "is not a deltamem training run" in r.stderr and str(out) in r.stderr
    assert all(p.read_text() == text for p, text in files.items())


def test_fresh_removes_only_what_the_run_wrote(tmp_path):
    from deltamem_lib.training import TrainConfig
    from deltamem_lib.training.pipeline import RUN_MANIFEST, start_run

    out = tmp_path / "run"
    start_run(TrainConfig(), out, device="cpu")
    assert json.loads((out / RUN_MANIFEST).read_text())["program"] == "deltamem train"
    (out / "eval").mkdir()
    (out / "eval" / "base.json").write_text("{}")
    (out / "metrics.jsonl").write_text("{}\n")
    (out / "my_notes.txt").write_text("mine")
    start_run(TrainConfig(seed=5), out, device="cpu", fresh=True)
    assert not (out / "eval").exists() and not (out / "metrics.jsonl").exists()
    assert (out / "my_notes.txt").read_text() == "mine"
    assert TrainConfig.load(out / "config.json").seed == 5


def test_a_run_manifest_naming_other_files_is_refused(tmp_path):
    from deltamem_lib.training import TrainConfig
    from deltamem_lib.training.pipeline import RUN_MANIFEST, start_run

    out = tmp_path / "run"
    out.mkdir()
    (out / "thesis.tex").write_text("x")
    (out / RUN_MANIFEST).write_text(json.dumps({"program": "deltamem train", "entries": ["thesis.tex"]}))
    with pytest.raises(ValueError, match="field entries"):
        start_run(TrainConfig(), out, device="cpu", fresh=True)
    assert (out / "thesis.tex").is_file()


# ------------------------------------------------------------------ 4. one run per training folder
def test_a_second_process_cannot_open_a_training_folder_in_use(tmp_path):
    import subprocess
    import sys

    from deltamem_lib.training import TrainConfig
    from deltamem_lib.training.pipeline import start_run

    out = tmp_path / "run"
    start_run(TrainConfig(), out, device="cpu")  # this test process now holds the folder
    start_run(TrainConfig(), out, device="cpu")  # the same process may open it again (a notebook rerun)
    code = ("import sys\nfrom deltamem_lib.training import TrainConfig\nfrom deltamem_lib.training.pipeline import "
            "start_run\nfrom deltamem_lib.workdir import WorkDirBusyError\ntry:\n    start_run(TrainConfig(), "
            f"{str(out)!r}, device='cpu')\nexcept WorkDirBusyError as e:\n    print(e)\n    sys.exit(3)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=480)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "in use by another run" in r.stdout


# ------------------------------------------------------------------ 3. the key never reaches disk
def _escaped(key):
    return key.replace("-", "\\u002d")


def test_a_key_echoed_json_escaped_in_tool_arguments_never_reaches_a_state_file(tmp_path):
    import threading
    from http.server import ThreadingHTTPServer

    from test_hardening_openai import KEY, _ok, _Stub

    from deltamem_lib.models.openai_backend import OpenAIChatModel

    args = '{"content": "User\'s API key is ' + _escaped(KEY) + '."}'
    call = {"id": "c1", "type": "function", "function": {"name": "add_memory", "arguments": args}}
    _Stub.script, _Stub.seen = [("json", _ok("", tool_calls=[call]))], []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        model = OpenAIChatModel("tiny", base_url=f"http://127.0.0.1:{srv.server_address[1]}/v1", api_key=KEY,
                                retries=0, timeout=5)
        eps = generate_episodes(SynthConfig(users=1, sessions=1, seed=3))
        res = ingest_users(make_system("deltamem", model, retriever="lexical"), eps, out_dir=tmp_path)
    finally:
        srv.shutdown()
        srv.server_close()
    assert any("***" in c for c in res.states[eps[0].user_id][0].contents())
    for p in tmp_path.rglob("*.json"):
        text = p.read_text()
        assert KEY not in text and _escaped(KEY) not in text, p


def test_writers_and_the_error_line_redact_registered_secrets_in_every_spelling(tmp_path, capsys):
    from deltamem_lib.cli_errors import report_error
    from deltamem_lib.io import append_jsonl, atomic_write_json, atomic_write_text
    from deltamem_lib.redaction import register

    key = "sk-round2-writers-777"
    register(key)
    atomic_write_json(tmp_path / "a.json", {"plain": key, "in text": f"x {key} y"})
    atomic_write_text(tmp_path / "b.txt", f"escaped {_escaped(key)} and {key.upper()[:4]}")
    append_jsonl(tmp_path / "c.jsonl", [{"k": key}])
    for p in tmp_path.iterdir():
        text = p.read_text()
        assert key not in text and _escaped(key) not in text and "***" in text, p
    json.loads((tmp_path / "a.json").read_text())  # still valid JSON
    assert report_error("bench", ValueError(f"bad {key}")) == 2
    assert key not in capsys.readouterr().err


# ------------------------------------------------------------------ 5. one spelling per text
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
    from deltamem_lib.episodes import EpisodeError, Episode, check_episode

    ep = generate_episodes(SynthConfig(users=1, sessions=2, seed=3))[0]
    d = ep.to_dict()
    d["sessions"][1]["gold_ops"] = [{"op": "UPDATE", "memory_id": d["initial_memory"][0]["id"] if d["initial_memory"]
                                     else "m1", "content": "\u200b"}]
    with pytest.raises(EpisodeError, match="non-empty content"):
        check_episode(Episode.from_dict(d))


# ------------------------------------------------------------------ 6. dates
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
    with pytest.raises(ValueError, match=r"state\.json: state\.entries\[0\]\.timestamp: '2024-13-45' is not a calendar"):
        MemoryState.load(p)


def test_sessions_out_of_date_order_fail_the_integrity_check():
    from deltamem_lib.episodes import EpisodeError, Episode, check_episode

    ep = generate_episodes(SynthConfig(users=1, sessions=2, seed=3))[0]
    check_episode(ep)
    d = ep.to_dict()
    d["sessions"][1]["date"] = "2001-01-01"
    with pytest.raises(EpisodeError, match=r"date: 2001-01-01 is before the previous session's date"):
        check_episode(Episode.from_dict(d))


# ------------------------------------------------------------------ 8. bounded replies and inputs
def _serve(script):
    import threading
    from http.server import ThreadingHTTPServer

    from test_hardening_openai import _Stub

    _Stub.script, _Stub.seen = list(script), []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/v1"


@pytest.mark.parametrize("kind", ["text", "arguments", "body"])
def test_an_over_long_reply_is_one_malformed_output_not_kept(kind):
    from test_hardening_openai import _ok

    from deltamem_lib.models.openai_backend import OpenAIChatModel

    big = "x" * 5000
    if kind == "text":
        reply = ("json", _ok(big))
    elif kind == "arguments":
        reply = ("json", _ok("", tool_calls=[{"id": "c", "type": "function", "function": {
            "name": "add_memory", "arguments": json.dumps({"content": big})}}]))
    else:  # a body far beyond any reply of the cap, whatever its shape
        reply = ("raw", (200, b'{"pad": "' + b"y" * 200_000 + b'"}', {}))
    srv, url = _serve([reply, ("json", _ok("short"))])
    try:
        m = OpenAIChatModel("tiny", base_url=url, retries=0, timeout=5, max_reply_chars=1000)
        r = m.chat([{"role": "user", "content": "hi"}])
        assert r.text == "" and r.tool_calls == [] and r.malformed_tool_calls == 1 and r.finish_reason == "length"
        assert m.chat([{"role": "user", "content": "hi"}]).text == "short"  # the next call is unaffected
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("usage", ['{"prompt_tokens": NaN, "completion_tokens": Infinity}',
                                   '{"prompt_tokens": 1e400, "completion_tokens": -Infinity}'])
def test_usage_counts_that_are_not_finite_count_as_zero(usage):
    from deltamem_lib.models.openai_backend import OpenAIChatModel

    body = ('{"choices": [{"message": {"role": "assistant", "content": "ok"}}], "usage": ' + usage + "}").encode()
    srv, url = _serve([("raw", (200, body, {}))])
    try:
        r = OpenAIChatModel("tiny", base_url=url, retries=0, timeout=5).chat([{"role": "user", "content": "hi"}])
    finally:
        srv.shutdown()
        srv.server_close()
    assert r.text == "ok" and r.prompt_tokens == 0 and r.completion_tokens == 0


def test_special_files_are_refused_before_reading(tmp_path):
    import os

    from deltamem_lib.io import DataFileError, iter_jsonl, read_json

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    for read in (read_json, lambda p: list(iter_jsonl(p))):
        with pytest.raises(DataFileError, match=r"pipe\.json: is a named pipe \(FIFO\), not a regular file"):
            read(fifo)  # would block forever if opened
        with pytest.raises(DataFileError, match="is a device"):
            read("/dev/zero")  # would never end
        with pytest.raises(IsADirectoryError, match="is a folder"):
            read(tmp_path)


def test_input_size_and_nesting_limits_are_enforced_and_can_be_raised(tmp_path, monkeypatch):
    from deltamem_lib.io import DataFileError, iter_jsonl, read_json

    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataFileError, match=r"deep\.json: JSON nested deeper than 200 levels"):
        read_json(deep)
    lines = tmp_path / "deep.jsonl"
    lines.write_text('{"a": 1}\n' + "[" * 300 + "]" * 300 + "\n")
    with pytest.raises(DataFileError, match=r"deep\.jsonl: line 2: JSON nested deeper than 200 levels"):
        list(iter_jsonl(lines))
    monkeypatch.setenv("DELTAMEM_MAX_JSON_DEPTH", "400")
    assert len(list(iter_jsonl(lines))) == 2
    big = tmp_path / "big.json"
    big.write_text("[" + "1, " * 600_000 + "1]")
    monkeypatch.setenv("DELTAMEM_MAX_INPUT_MB", "1")
    with pytest.raises(DataFileError, match=r"big\.json: 2 MB is larger than the input limit of 1 MB"):
        read_json(big)
    monkeypatch.setenv("DELTAMEM_MAX_INPUT_MB", "3")
    assert len(read_json(big)) == 600_001


@pytest.mark.parametrize("text,problem", [
    ('{"a": ' + "9" * 5000 + "}", "Exceeds the limit"),
    ('{"answer": 1e400}', "the number 1e400 is outside the range of a float"),
    ('{"p": NaN}', "NaN is not a number standard JSON allows"),
])
def test_numbers_json_cannot_hold_are_refused_naming_the_file(tmp_path, text, problem):
    from deltamem_lib.io import DataFileError, read_json

    p = tmp_path / "numbers.json"
    p.write_text(text)
    with pytest.raises(DataFileError, match=r"numbers\.json: ") as info:
        read_json(p)
    assert problem in str(info.value)


# ------------------------------------------------------------------ 7. one line, naming where
SAMPLES = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "samples"


def _halumem_importance(tmp_path):
    from deltamem_lib.benchmarks.halumem import load_halumem

    lines = (SAMPLES / "halumem_tiny.jsonl").read_text().splitlines()
    d = json.loads(lines[0])
    d["sessions"][0]["memory_points"][0]["importance"] = 10 ** 400
    p = tmp_path / "halumem.jsonl"
    p.write_text("\n".join([json.dumps(d), *lines[1:]]) + "\n")
    return lambda: load_halumem(p), ["halumem.jsonl", "importance", "finite number"]


def _personamem_nan(tmp_path):
    from deltamem_lib.benchmarks.personamem import load_personamem_questions

    text = (SAMPLES / "personamem_questions_tiny.csv").read_text().replace(",66.67%,", ",nan,", 1)
    p = tmp_path / "questions.csv"
    p.write_text(text)
    return lambda: load_personamem_questions(p), ["questions.csv", "distance_to_ref_proportion_in_context",
                                                  "between 0% and 100%"]


def _locomo_inf_answer(tmp_path):
    from deltamem_lib.benchmarks.locomo import load_locomo

    text = (SAMPLES / "locomo_tiny.json").read_text().replace('"answer": "cello"', '"answer": 1e400', 1)
    assert "1e400" in text
    p = tmp_path / "locomo.json"
    p.write_text(text)
    return lambda: load_locomo(p), ["locomo.json", "1e400"]


def _stats_list(tmp_path):
    from deltamem_lib.agent.harness import split_users

    (tmp_path / "stats.json").write_text("[]")
    eps = [dataclasses.replace(e, meta={}) for e in generate_episodes(SynthConfig(users=3, sessions=1, seed=1))]
    return lambda: split_users(eps, "test", dataset_dir=tmp_path / "dataset"), ["stats.json", "expected an object"]


def _notebook_manifest(tmp_path, content):
    def call():
        from deltamem_lib.notebook_job import run_notebooks

        (tmp_path / "manifest.json").write_text(content)
        run_notebooks("cpu", tmp_path, only=["00_nothing"], progress=lambda m: None)
    return call, ["manifest.json"]


def _answers_record(tmp_path):
    from deltamem_lib.benchmarks.protocol import cost

    recs = [{"key": "q1", "prompt_tokens": "x"}]
    return lambda: cost(recs, where=lambda i: f"{tmp_path}/answers.jsonl: record {recs[i]['key']}"), [
        "answers.jsonl: record q1: field prompt_tokens"]


def _train_config(tmp_path, content):
    from deltamem_lib.training import TrainConfig

    p = tmp_path / "config.json"
    p.write_text(content)
    return lambda: TrainConfig.load(p), ["config.json"]


def _state_version(tmp_path):
    from deltamem_lib.memory import MemoryState

    p = tmp_path / "state.json"
    p.write_text(json.dumps({"version": 2, "entries": []}))
    return lambda: MemoryState.load(p), ["state.json", "state.version: unsupported version 2"]


def _state_bad_id(tmp_path):
    from deltamem_lib.memory import MemoryState

    p = tmp_path / "state.json"
    p.write_text(json.dumps({"entries": [{"id": "mem1", "content": "x"}]}))
    return lambda: MemoryState.load(p), ["state.json", "state.entries[0].id: 'mem1' is not a state id"]


@pytest.mark.parametrize("case", [
    _halumem_importance, _personamem_nan, _locomo_inf_answer, _stats_list,
    lambda t: _notebook_manifest(t, "[]"), lambda t: _notebook_manifest(t, '{"profile": "cpu", "notebooks": []}'),
    _answers_record, lambda t: _train_config(t, "[]"), lambda t: _train_config(t, '{"seed": }'),
    _state_version, _state_bad_id,
], ids=["halumem-importance", "personamem-nan", "locomo-1e400", "stats-list", "manifest-list",
        "manifest-notebooks-list", "answers-prompt-tokens", "config-list", "config-syntax", "state-version",
        "state-id"])
def test_each_error_of_the_second_round_is_a_value_error_naming_the_file(tmp_path, case):
    from deltamem_lib.cli_errors import exit_code, one_line

    call, wanted = case(tmp_path)
    with pytest.raises(Exception) as info:  # noqa: PT011 - the class is checked below
        call()
    assert exit_code(info.value) == 2, repr(info.value)  # one line, exit 2: never a traceback
    line = one_line(info.value)
    for w in wanted:
        assert w in line, line


def test_an_unknown_similarity_is_refused_before_any_model_is_loaded(tmp_path):
    import subprocess
    import sys

    eps = tmp_path / "episodes.jsonl"
    eps.write_text("")
    r = subprocess.run([sys.executable, "-m", "deltamem_lib", "evaluate", "--episodes", str(eps), "--system",
                        "deltamem", "--model", "openai:nothing-here", "--similarity", "bogus", "--out",
                        str(tmp_path / "r.json")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--similarity" in r.stderr and "bogus" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ 9. MLD at scale says so
def test_a_comparison_beyond_the_stated_scale_warns():
    import warnings

    from deltamem_lib.mld import MLD_WARN_ENTRIES, MLDScaleWarning, memory_levenshtein

    many = [f"User fact number {i}." for i in range(MLD_WARN_ENTRIES + 1)]
    with pytest.warns(MLDScaleWarning, match=r"pred: 2,001 entries"):
        memory_levenshtein(many, ["User fact number 1."], similarity="exact")
    with warnings.catch_warnings():
        warnings.simplefilter("error", MLDScaleWarning)
        memory_levenshtein(many[:MLD_WARN_ENTRIES], many[:10], similarity="exact")  # at the bound: silent


def test_a_notebooks_run_folder_in_use_is_refused(tmp_path):
    from deltamem_lib.notebook_job import run_notebooks
    from deltamem_lib.workdir import WorkDirBusyError, WorkDirLock

    with WorkDirLock(tmp_path), pytest.raises(WorkDirBusyError, match="in use by another run"):
        run_notebooks("cpu", tmp_path, only=["00_nothing"], progress=lambda m: None)
    assert not (tmp_path / "manifest.json").exists()


@pytest.mark.parametrize("line,problem", [("[" * 100_000 + "]" * 100_000, "nested too deeply"),
                                          ('{"key": "a", "n": ' + "9" * 5000 + "}", "Exceeds the limit")])
def test_a_journal_line_python_cannot_parse_is_refused_naming_file_and_line(tmp_path, line, problem):
    from deltamem_lib.io import DataFileError, Journal

    p = tmp_path / "answers.jsonl"
    p.write_text(line + '\n{"key": "b"}\n')
    with pytest.raises(DataFileError, match=r"answers\.jsonl: line 1: ") as info:
        Journal(p)
    assert problem in str(info.value)


def test_what_a_command_prints_is_redacted_too(tmp_path, capsys):
    """Progress and result lines go through the same redaction as files and the error line."""
    import json

    from deltamem_lib.cli import main
    from deltamem_lib.redaction import redacted_output, register

    secret = "sk-printed-0123456789abcdef"
    register(secret)
    with redacted_output():
        print(f"key {secret} and escaped {json.dumps(secret).replace('-', chr(92) + 'u002d')}")
    out = capsys.readouterr().out
    assert secret not in out and "u002d" not in out and out.count("***") == 2
    runs = []
    for s in (0, 1):
        p = tmp_path / f"r{s}.json"
        p.write_text(json.dumps({"profile": "cpu", "model": "m", "data": {}, "training_seconds": 1.0,
                                 "config": {"seed": s}, "comparisons": {},
                                 "per_session": {k: {"keys": ["a/b"], "r_trans": [0.5]}
                                                 for k in ("no-op", "sft", "sft+grpo")}}))
        runs.append(str(p))
    target = tmp_path / f"{secret}.json"  # a path that holds the secret is printed by the command
    assert main(["train", "--collect-seeds", *runs, "--out", str(target)]) == 0
    printed = capsys.readouterr().out
    assert "seeds file:" in printed and secret not in printed and "***" in printed
