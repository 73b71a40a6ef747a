"""Profiles against the notebooks' declared parameters, house-style checks, the main-job runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from deltamem_lib.config import (
    check_profile,
    list_profiles,
    load_profile,
    notebook_parameters,
)
from deltamem_lib.notebook_job import list_notebooks, run_notebooks

NOTEBOOKS = list_notebooks()


def test_the_four_profiles_exist():
    assert {"smallest", "cpu", "colab-t4", "gpu-a100"} <= set(list_profiles())


@pytest.mark.parametrize("name", list_profiles())
def test_every_profile_key_is_a_declared_parameter(name):
    assert check_profile(load_profile(name)) == []


def test_check_profile_catches_a_misspelled_parameter(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("seed = 0  # random seed\nn_users = 3  # users")
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    nbformat.write(nb, tmp_path / "01_x.ipynb")
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(
        {"name": "p", "notebooks": {"01_x": {"n_user": 5, "seed": "zero"}, "09_missing": {}}}))
    problems = check_profile(load_profile(tmp_path / "p.yaml"), tmp_path)
    assert any("n_user" in p for p in problems)
    assert any("seed" in p and "expected an integer, got 'zero'" in p for p in problems)
    assert any("09_missing" in p for p in problems)


def test_unknown_profile_lists_known_ones():
    with pytest.raises(FileNotFoundError, match="smallest"):
        load_profile("no-such-profile")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_house_style(path: Path):
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith(f"# {path.stem[:2]} · ")
    assert "colab.research.google.com" in cells[0].source, "Open in Colab badge"
    assert not any(c.get("outputs") for c in cells if c.cell_type == "code"), ("commit notebooks without "
                                                                               "outputs")
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    params = notebook_parameters(path)
    assert {"profile", "seed", "output_dir"} <= set(params)
    assert params["profile"] == "smallest", "defaults are the smallest profile"
    pcell = next(c for c in cells if "parameters" in c.metadata.get("tags", []))
    for line in pcell.source.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert "#" in line, f"parameter without a help comment: {line!r}"
    md = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    assert "## Summary" in md and "## Exercises" in md and "You will learn" in md


def _tiny_notebook(folder: Path, name: str, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("profile = 'smallest'  # profile\nseed = 0  # seed\noutput_dir = ''  # "
                                  "out\nx = 1  # x")
    p.metadata["tags"] = ["parameters"]
    nb.cells += [p, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / name)


@pytest.mark.notebook
def test_runner_executes_in_order_and_resumes(tmp_path):
    books = tmp_path / "nb"
    books.mkdir()
    marker = tmp_path / "calls.txt"
    _tiny_notebook(books, "01_a.ipynb", f"open({str(marker)!r}, 'a').write(f'a{{x}} {{profile}}\\n')")
    _tiny_notebook(books, "02_b.ipynb", "raise RuntimeError('broken on purpose')")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "t.yaml").write_text(yaml.safe_dump({"name": "t", "notebooks": {"01_a": {"x": 7}}}))
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="02_b failed"):
        run_notebooks(str(profiles / "t.yaml"), out, notebooks_dir=books, progress=lambda m: None)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["notebooks"]["01_a"]["status"] == "done"
    assert manifest["notebooks"]["02_b"]["status"] == "failed"
    assert marker.read_text() == "a7 t\n"
    # resume: the finished notebook is skipped, the broken one runs again
    (books / "02_b.ipynb").unlink()
    _tiny_notebook(books, "02_b.ipynb", "y = x + 1")
    runs = run_notebooks(str(profiles / "t.yaml"), out, notebooks_dir=books, progress=lambda m: None)
    assert [r.status for r in runs] == ["skipped", "done"]
    assert marker.read_text() == "a7 t\n"


def test_cli_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "deltamem_lib", "--help"], capture_output=True, text=True,
                         check=True)
    assert "notebooks" in out.stdout


def test_setting_copies_mutable_defaults_and_lists_help():
    from dataclasses import dataclass

    from deltamem_lib.config import setting, settings_help

    @dataclass
    class S:
        names: list = setting(["a"], "some names")
        k: int = setting(3, "how many")

    a, b = S(), S()
    a.names.append("b")
    assert b.names == ["a"]  # not shared between instances
    assert settings_help(S).splitlines() == ["names = ['a']  # some names", "k = 3  # how many"]


@pytest.mark.parametrize("section, words", [
    ({"02_mld_reward": {"n_scenario": 3}}, "'n_scenario' is no parameter of the notebook; did you mean "
                                           "'n_scenarios'?"),
    ({"02_mld_reward": {"threshold": "high"}}, "threshold: expected a number, got 'high'"),
    ({"02_mld_rewrd": {}}, "no notebook 02_mld_rewrd.ipynb"),
])
def test_notebooks_command_refuses_a_custom_profiles_bad_key_before_running(tmp_path, capsys, section, words):
    """``deltamem notebooks --profile custom.yaml`` no longer drops an unknown key silently: the
    whole profile is checked before the first notebook, one line naming the file and section."""
    from deltamem_lib.cli import main

    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump({"name": "custom", "notebooks": section}))
    assert main(["notebooks", "--profile", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and f"profile {path} [" in err, err
    assert not (tmp_path / "run").exists()  # nothing ran
