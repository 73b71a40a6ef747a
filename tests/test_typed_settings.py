"""Settings travel as one typed, validated object (deltamem_lib/typed_settings.py): every source of
a setting — a profile file, ``deltamem train --set``, a value papermill injected — goes through
the same name and type checks, and a refusal is one line naming the source and the field."""

from __future__ import annotations

import pytest

from deltamem_lib.cli import main
from deltamem_lib.training.settings import TrainConfig
from deltamem_lib.typed_settings import Layer, SettingsError, build, parse_set


def _profile(tmp_path, body: str, name: str = "custom.yaml"):
    path = tmp_path / name
    path.write_text(f"name: custom\nnotebooks:\n  04_rl_training: {body}\n")
    return path


def _train(capsys, *argv: str) -> tuple[int, str]:
    code = main(["train", *argv])
    err = capsys.readouterr().err.strip()
    return code, err


# ----- the profile file: deltamem train --profile PATH ----------------------------------------
@pytest.mark.parametrize("body, words", [
    ("{lerning_rate: 0.1}", ["'lerning_rate' is no setting", "did you mean 'learning_rate'"]),
    ("{learning_rate: fast}", ["learning_rate: expected a number, got 'fast'"]),
    ("{num_generations: '4'}", ["num_generations: expected an integer, got '4'"]),
    ("{threshold: high}", ["threshold: expected a number, got 'high'"]),
    ("{seed: true}", ["seed: expected an integer, got True"]),
    ("{sft: maybe}", ["sft: expected true or false, got 'maybe'"]),
    ("{ablations: no_delete}", ["ablations: expected a list, got 'no_delete'"]),
    ("{threshold: 1.5}", ["threshold must be in [0, 1]", "threshold from profile"]),
])
def test_a_bad_profile_value_is_one_line_naming_the_file_section_and_field(tmp_path, capsys, body, words):
    path = _profile(tmp_path, body)
    code, err = _train(capsys, "--profile", str(path))
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("deltamem train: error: ")
    if "from profile" not in words[-1]:
        assert f"profile {path} [04_rl_training]" in err
    for w in words:
        assert w in err, err


# ----- --set on the command line ---------------------------------------------------------------
@pytest.mark.parametrize("item, words", [
    ("learning_rate=abc", ["--set: learning_rate: expected a number, got 'abc'"]),
    ("seed=1.5", ["--set: seed: expected an integer, got '1.5'"]),
    ("num_generations=abc", ["--set: num_generations: expected an integer, got 'abc'"]),
    ("sft=maybe", ["--set: sft: expected true or false, got 'maybe'"]),
    ("lerning_rate=0.1", ["--set: 'lerning_rate' is no setting", "did you mean 'learning_rate'"]),
    ("learning_rate", ["--set: expected KEY=VALUE"]),
    ("num_generations=1", ["num_generations must be >= 2", "num_generations from --set"]),
])
def test_a_bad_set_value_is_one_line_naming_set_and_the_field(capsys, item, words):
    code, err = _train(capsys, "--profile", "smallest", "--set", item)
    assert code == 2 and len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, err


def test_set_is_checked_against_the_chosen_profile_not_the_defaults():
    """cpu: prompts_per_step 4 × num_generations 8 = 32 completions, divisible by 8 (the
    defaults' 1 × 2 are not); the combined config is what is checked."""
    from deltamem_lib.cli import build_parser
    from deltamem_lib.commands.train import settings

    args = build_parser().parse_args(["train", "--profile", "cpu", "--set", "gradient_accumulation_steps=8",
                                      "sft=no", "ablations=no_delete,state_scope", "learning_rate=1e-4"])
    cfg = settings(args)
    assert cfg.profile == "cpu" and cfg.gradient_accumulation_steps == 8 and cfg.num_generations == 8
    assert cfg.sft is False and cfg.ablations == ["no_delete", "state_scope"] and cfg.learning_rate == 1e-4


def test_set_parses_text_by_the_field_type():
    items = ["seed=4", "threshold=0.5", "model='x y'", "eval_base=false", "ablations=[]", "learning_rate=2"]
    cfg = TrainConfig.from_profile(None, parse_set(items))
    assert cfg.seed == 4 and cfg.threshold == 0.5 and cfg.model == "x y" and cfg.eval_base is False
    assert cfg.ablations == [] and isinstance(cfg.learning_rate, float)


def test_typed_overrides_are_not_parsed():
    """A value from Python or YAML already has a type: the string '4' is no int."""
    with pytest.raises(SettingsError, match=r"overrides: seed: expected an integer, got '4'"):
        TrainConfig.from_profile(None, {"seed": "4"})
    with pytest.raises(SettingsError, match="expected an integer, got 1.5"):
        TrainConfig.from_profile(None, {"seed": 1.5})
    assert TrainConfig.from_profile(None, {"learning_rate": 1}).learning_rate == 1.0


def test_a_profile_outside_profiles_gets_the_same_checks_as_one_inside(tmp_path):
    ok = _profile(tmp_path, "{grpo_max_steps: 3}")
    assert TrainConfig.from_profile(ok).grpo_max_steps == 3
    assert TrainConfig.from_profile(ok).profile == "custom"
    with pytest.raises(SettingsError, match="did you mean 'grpo_max_steps'"):
        TrainConfig.from_profile(_profile(tmp_path, "{grpo_max_step: 3}", "typo.yaml"))


def test_later_layers_win_and_the_error_names_the_last_source():
    layers = [Layer({"seed": 1}, "a"), Layer({"seed": 2}, "b")]
    assert build(TrainConfig, layers).seed == 2
    with pytest.raises(SettingsError, match=r"^b: seed"):
        build(TrainConfig, [Layer({"seed": 1}, "a"), Layer({"seed": "x"}, "b")])


# ----- SynthConfig and BenchConfig: the same function ------------------------------------------
def test_synth_config_from_a_profile_maps_the_notebook_names(tmp_path):
    from deltamem_lib.synthesis.procedural import SynthConfig

    path = tmp_path / "s.yaml"
    path.write_text("name: s\nnotebooks:\n"
                    "  01_data_synthesis: {n_users: 7, n_sessions: 3, teacher_users: 1}\n")
    cfg = SynthConfig.from_profile(path, {"quiet_rate": 0.5})
    assert (cfg.users, cfg.sessions, cfg.quiet_rate) == (7, 3, 0.5)
    path.write_text("name: s\nnotebooks:\n  01_data_synthesis: {n_users: '7'}\n")
    with pytest.raises(SettingsError, match=r"\[01_data_synthesis\]: n_users \(users\): expected an integer"):
        SynthConfig.from_profile(path)
    with pytest.raises(SettingsError, match="padding_weights: expected a list of 3 values"):
        SynthConfig.from_profile(None, {"padding_weights": [1, 2]})
    with pytest.raises(SettingsError, match="quiet_rate must be between 0 and 1.*quiet_rate from overrides"):
        SynthConfig.from_profile(None, {"quiet_rate": 2})


def _bench_profile(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text("name: b\nnotebooks:\n  05_benchmarks_ablations: {locomo_questions: 3, "
                    "locomo_conversations: 2, locomo_sessions: 4, top_k: 10, systems: [noop]}\n")
    return path


def test_locomo_questions_caps_locomo_and_leaves_personamem_and_halumem_untouched(tmp_path):
    from deltamem_lib.benchmarks.protocol import BenchConfig

    path = _bench_profile(tmp_path)
    locomo = BenchConfig.from_profile(path, {"data": "x"}, benchmark="locomo")
    assert (locomo.limit, locomo.conversations, locomo.max_sessions, locomo.top_k) == (3, 2, 4, 10)
    for bench in ("personamem", "halumem"):
        other = BenchConfig.from_profile(path, {"data": "x"}, benchmark=bench)
        assert (other.limit, other.conversations, other.max_sessions) == (0, 0, 0), bench
        assert other.top_k == 10 and other.profile == "b"


def test_notebook_05_values_go_through_the_same_function_per_benchmark():
    """Notebook 05 passes its globals (after apply_profile) as ``params``: the LoCoMo knobs reach
    LoCoMo's config only, a wrong type is refused naming the notebook's parameter."""
    from deltamem_lib.benchmarks.protocol import BenchConfig
    from deltamem_lib.config import NOTEBOOKS_DIR, notebook_parameters

    ns = {**notebook_parameters(NOTEBOOKS_DIR / "05_benchmarks_ablations.ipynb"), "locomo_questions": 3,
          "In": [], "np": object()}
    fields = {"data": "x", "recall_ks": (1, 5)}
    assert BenchConfig.from_profile(None, fields, benchmark="locomo", params=ns).limit == 3
    assert BenchConfig.from_profile(None, fields, benchmark="personamem", params=ns).limit == 0
    bad = {**ns, "locomo_questions": "all"}
    with pytest.raises(SettingsError, match="05_benchmarks_ablations parameters: locomo_questions: expected"):
        BenchConfig.from_profile(None, fields, benchmark="personamem", params=bad)
    with pytest.raises(SettingsError, match="did you mean 'limit'"):
        BenchConfig.from_profile(None, {**fields, "limt": 3}, benchmark="locomo")


def test_notebook_05_builds_every_benchmark_config_through_from_profile_with_the_old_locomo_slug():
    """The notebook's bench_config (cell 2c170b2b) gives LoCoMo the settings the hand-built dict
    gave (same slug, so earlier work folders resume), and PersonaMem no LoCoMo knob."""
    import json

    from deltamem_lib.benchmarks.protocol import BenchConfig
    from deltamem_lib.config import NOTEBOOKS_DIR, notebook_parameters

    path = NOTEBOOKS_DIR / "05_benchmarks_ablations.ipynb"
    code = {c["id"]: "".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]}
    assert "BenchConfig.from_profile(" in code["2c170b2b"] and "settings.items()" not in code["a3a498a9"]
    assert 'bench_config("locomo"' in code["eac8e404"] and "bench_config(bench," in code["a3a498a9"]
    g = {**notebook_parameters(path), "locomo_questions": 3, "BenchConfig": BenchConfig}
    start = code["2c170b2b"].index("recall_ks =")
    end = code["2c170b2b"].index("base_system =")
    exec(code["2c170b2b"][start:end], g)
    p = g  # the notebook's names, as the old cell read them
    old = BenchConfig(benchmark="locomo", data="x", model=p["model"], answer_model=p["answer_model"],
                      judge_model=p["judge_model"], judge_runs=p["judge_runs"], retriever=p["retriever"],
                      top_k=p["top_k"], recall_ks=p["recall_ks"], conversations=p["locomo_conversations"],
                      max_sessions=p["locomo_sessions"], limit=p["locomo_questions"],
                      batch_size=p["batch_size"],
                      max_new_tokens=p["max_new_tokens"], answer_max_new_tokens=p["answer_max_new_tokens"],
                      seed=p["seed"], profile=p["profile"], system="noop")
    new = g["bench_config"]("locomo", data="x", system="noop")
    assert new == old and new.slug() == old.slug()
    assert g["bench_config"]("personamem", data="x", system="noop").limit == 0


# ----- deltamem bench: one flag per BenchConfig field ------------------------------------------
def test_bench_flags_are_made_from_benchconfigs_fields_one_name_per_setting():
    import dataclasses

    from deltamem_lib.benchmarks.protocol import BenchConfig
    from deltamem_lib.cli import build_parser
    from deltamem_lib.commands.bench import settings

    parser = build_parser()
    bench = parser._subparsers._group_actions[0].choices["bench"]
    flags = {o for a in bench._actions for o in a.option_strings}
    for f in dataclasses.fields(BenchConfig):
        if f.name != "benchmark":
            assert "--" + f.name.replace("_", "-") in flags, f.name
    args = parser.parse_args(["bench", "halumem", "--data", "d.jsonl", "--no-allow-delete", "--top-k", "3",
                              "--sample-ids", "a", "b", "--personamem-block", "5", "--out", "o.json"])
    cfg = settings(args)
    assert cfg == BenchConfig(benchmark="halumem", data="d.jsonl", allow_delete=False, top_k=3,
                              recall_ks=(1,), sample_ids=("a", "b"), personamem_block=5)


@pytest.mark.parametrize("argv, words", [
    (["--top-k", "abc"], "--top-k: top_k: expected an integer, got 'abc'"),
    (["--recall-ks", "1", "x"], "--recall-ks: recall_ks: expected an integer, got 'x'"),
    (["--batch-size", "0"], "batch_size must be ≥ 1, got 0 (batch_size from --batch-size)"),
    (["--top-k", "3", "--recall-ks", "5"], "top_k (3) must be ≥ 1 and every recall k ([5]) in 1..top_k"),
])
def test_bad_bench_flags_are_one_line_naming_the_flag(tmp_path, capsys, argv, words):
    code = main(["bench", "locomo", "--data", "x", *argv, "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and words in err, err
