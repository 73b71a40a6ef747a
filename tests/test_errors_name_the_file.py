"""Bad input files end in one line (exit code 2) naming the file and field, never a traceback;
an unknown similarity is refused before any model is loaded."""

from __future__ import annotations

import dataclasses
import json

import pytest

from deltamem_lib.synthesis import SynthConfig, generate_episodes

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
    eps = [dataclasses.replace(e, meta={})
           for e in generate_episodes(SynthConfig(users=3, sessions=1, seed=1))]
    return lambda: split_users(eps, "test", dataset_dir=tmp_path / "dataset"), ["stats.json",
                                                                                "expected an object"]


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
    lambda t: _notebook_manifest(t, "[]"),
    lambda t: _notebook_manifest(t, '{"profile": "cpu", "notebooks": []}'), _answers_record,
    lambda t: _train_config(t, "[]"), lambda t: _train_config(t, '{"seed": }'), _state_version, _state_bad_id,
], ids=["halumem-importance", "personamem-nan", "locomo-1e400", "stats-list", "manifest-list",
        "manifest-notebooks-list", "answers-prompt-tokens", "config-list", "config-syntax", "state-version",
        "state-id"])
def test_each_bad_file_is_a_value_error_naming_the_file(tmp_path, case):
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
    assert (r.returncode == 2 and "--similarity" in r.stderr and "bogus" in r.stderr
            and "Traceback" not in r.stderr)
