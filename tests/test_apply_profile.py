"""Profiles inside notebooks: ``apply_profile(globals())`` gives an interactive run the same
values as ``deltamem notebooks --profile X`` (papermill), with the same checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deltamem_lib.config import NOTEBOOKS_DIR, apply_profile, list_profiles, load_profile, notebook_parameters

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def _interactive(nb: Path, profile: str) -> dict:
    """A kernel's globals after the setup and parameters cells, with ``profile`` chosen by hand."""
    ns = {"os": object(), "sys": object(), "REPO": "x", **notebook_parameters(nb)}
    ns["profile"] = profile
    return ns


def _papermill(nb: Path, params: dict) -> dict:
    """The same after papermill injected ``params`` (its ``# Parameters`` cell, kept in ``In``)."""
    ns = {**notebook_parameters(nb), **params}
    injected = "# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in params.items())
    ns["In"] = ["", "import sys", "profile = 'smallest'", injected]
    return ns


@pytest.mark.parametrize("profile", list_profiles())
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_interactive_and_papermill_runs_get_the_same_values(nb, profile):
    section = load_profile(profile).params_for(nb.stem)
    ns = _interactive(nb, profile)
    done = apply_profile(ns)
    assert done.notebook == nb.stem  # recognised from its parameters, not from its file name
    declared = notebook_parameters(nb)
    assert {k: ns[k] for k in declared} == {**declared, **section}
    pm = _papermill(nb, section)  # what `deltamem notebooks --profile` injects
    apply_profile(pm)
    assert {k: pm[k] for k in declared} == {k: ns[k] for k in declared}


def test_choosing_colab_t4_changes_the_values_and_says_so():
    nb = NOTEBOOKS_DIR / "01_data_synthesis.ipynb"
    ns = _interactive(nb, "colab-t4")
    done = apply_profile(ns)
    want = load_profile("colab-t4").notebooks["01_data_synthesis"]
    assert ns["n_users"] == want["n_users"] != notebook_parameters(nb)["n_users"]
    assert "n_users" in done.applied and "colab-t4" in str(done)


def test_papermill_values_win_over_the_profile_file():
    nb = NOTEBOOKS_DIR / "01_data_synthesis.ipynb"
    ns = _papermill(nb, {"profile": "cpu", "n_users": 5})
    done = apply_profile(ns)
    assert ns["n_users"] == 5 and "n_users" in done.injected
    assert ns["n_sessions"] == load_profile("cpu").notebooks["01_data_synthesis"]["n_sessions"]


def test_a_misspelled_key_or_a_wrong_type_fails_like_the_papermill_check(tmp_path):
    nb = NOTEBOOKS_DIR / "01_data_synthesis.ipynb"
    (tmp_path / "typo.yaml").write_text("name: typo\nnotebooks:\n  01_data_synthesis: {n_user: 3}\n")
    (tmp_path / "kind.yaml").write_text("name: kind\nnotebooks:\n  01_data_synthesis: {n_users: many}\n")
    ns = _interactive(nb, "typo")
    before = dict(ns)
    with pytest.raises(ValueError, match=r"typo.yaml \[01_data_synthesis\]: 'n_user' is no parameter of the "
                                         r"notebook; did you mean 'n_users'\?"):
        apply_profile(ns, profiles_dir=tmp_path)
    assert ns == before  # nothing half-applied
    with pytest.raises(ValueError, match="n_users: expected an integer, got 'many'"):
        apply_profile(_interactive(nb, "kind"), profiles_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="known profiles"):
        apply_profile(_interactive(nb, "colab-t5"))


@pytest.mark.parametrize("stem, params, words", [
    ("02_mld_reward", {"threshold": "high"},
     "02_mld_reward: papermill parameter: threshold: expected a number, got 'high'"),
    ("02_mld_reward", {"n_scenarios": "eight"},
     "papermill parameter: n_scenarios: expected an integer, got 'eight'"),
    ("02_mld_reward", {"n_scenario": 3},
     "papermill parameter: 'n_scenario' is no parameter of the notebook; did you mean 'n_scenarios'?"),
    ("01_data_synthesis", {"n_users": True}, "papermill parameter: n_users: expected an integer, got True"),
])
def test_papermill_injected_values_are_checked_like_the_profile_file(stem, params, words):
    """A papermill value is no longer "set by papermill and kept" unchecked."""
    nb = NOTEBOOKS_DIR / f"{stem}.ipynb"
    for profile in ("smallest", "not-in-profiles"):  # also when the profile file is elsewhere
        ns = _papermill(nb, {"profile": profile, **params})
        with pytest.raises(ValueError) as err:
            apply_profile(ns)
        assert words in str(err.value) and len(str(err.value).splitlines()) == 1, str(err.value)


def test_good_papermill_values_from_a_profile_elsewhere_are_kept_and_said_to_be_checked():
    nb = NOTEBOOKS_DIR / "02_mld_reward.ipynb"
    ns = _papermill(nb, {"profile": "custom", "threshold": 0.5, "n_scenarios": 3})
    done = apply_profile(ns)
    assert ns["threshold"] == 0.5 and set(done.injected) == {"threshold", "n_scenarios"}
    assert "checked" in str(done)


def test_every_notebook_resolve_cell_makes_the_call():
    for nb in NOTEBOOKS:
        code = [c for c in json.loads(nb.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
        assert "apply_profile(globals())" in "".join(code[2]["source"]), nb.name


@pytest.mark.notebook
def test_a_real_papermill_run_keeps_injected_values(tmp_path):
    pm = pytest.importorskip("papermill")
    nbformat = pytest.importorskip("nbformat")
    nbdir, profdir = tmp_path / "nbs", tmp_path / "profiles"
    nbdir.mkdir()
    profdir.mkdir()
    (profdir / "p.yaml").write_text("name: p\nnotebooks:\n  tiny: {a: 10, b: 20}\n")
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "smallest"  # profile\na = 1  # a\nb = 2  # b')
    params.metadata["tags"] = ["parameters"]
    out = tmp_path / "values.json"
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import json, pathlib\nfrom deltamem_lib.config import apply_profile\n"
        f"apply_profile(globals(), profiles_dir=pathlib.Path({str(profdir)!r}), "
        f"notebooks_dir=pathlib.Path({str(nbdir)!r}))\n"
        f"pathlib.Path({str(out)!r}).write_text(json.dumps({{'a': a, 'b': b}}))")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, nbdir / "tiny.ipynb")
    (profdir / "smallest.yaml").write_text("name: smallest\nnotebooks: {}\n")
    pm.execute_notebook(str(nbdir / "tiny.ipynb"), str(tmp_path / "out.ipynb"),
                        parameters={"profile": "p", "a": 5}, progress_bar=False, kernel_name="python3")
    assert json.loads(out.read_text()) == {"a": 5, "b": 20}  # a from papermill, b from the profile


def test_colab_t4_states_an_estimate_of_at_most_45_minutes_for_every_notebook():
    """Each notebook's colab-t4 run time is written down, marked estimated, and within a workshop slot."""
    import re

    text = (NOTEBOOKS_DIR.parent / "profiles" / "colab-t4.yaml").read_text(encoding="utf-8")
    prof = load_profile("colab-t4")
    assert set(prof.notebooks) == {nb.stem for nb in NOTEBOOKS}
    for stem in prof.notebooks:
        title = stem.split("_", 1)[1].replace("_", " ")
        m = re.search(rf"^# .*(?:{stem}|{title}).*estimated (\d+) min", text, re.M | re.I)
        assert m, f"colab-t4.yaml: no 'estimated N min' line for {stem}"
        assert int(m.group(1)) <= 45, f"{stem}: estimated {m.group(1)} min, over the 45-minute slot"
