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
    """cpu: prompts_per_step 2 × num_generations 4 = 8 completions, divisible by 4 (the
    defaults' 1 × 2 are not); the combined config is what is checked."""
    from deltamem_lib.cli import build_parser
    from deltamem_lib.commands.train import settings

    args = build_parser().parse_args(["train", "--profile", "cpu", "--set", "gradient_accumulation_steps=4",
                                      "sft=no", "ablations=no_delete,state_scope", "learning_rate=1e-4"])
    cfg = settings(args)
    assert cfg.profile == "cpu" and cfg.gradient_accumulation_steps == 4 and cfg.num_generations == 4
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
