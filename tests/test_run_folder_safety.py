"""Run folders: ``--fresh`` removes only what a run wrote, and a training or notebooks run folder
is used by one process at a time."""

from __future__ import annotations

import json

import pytest


def _train(args, cwd=None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "deltamem_lib", "train", *args], capture_output=True,
                          text=True, timeout=480, cwd=cwd)


def test_fresh_refuses_a_folder_that_is_not_a_run_and_deletes_nothing(tmp_path):
    out = tmp_path / "notes" / "04_rl_training"  # the training folder of run folder notes/
    (out / "eval").mkdir(parents=True)
    (out / "sft").mkdir()
    files = {out / "eval" / "my_notes.txt": "mine", out / "sft" / "thesis.tex": "\\begin",
             out / "metrics.jsonl": "{}"}
    for p, text in files.items():
        p.write_text(text)
    r = _train(["--profile", "cpu", "--out", str(tmp_path / "notes"), "--fresh"])
    assert r.returncode == 2, r.stderr
    assert ("Traceback" not in r.stderr and "is not a deltamem training run" in r.stderr
            and str(out) in r.stderr)
    assert all(p.read_text() == text for p, text in files.items())


def test_fresh_removes_only_what_the_run_wrote(tmp_path):
    from deltamem_lib.training import TrainConfig
    from deltamem_lib.training.pipeline import RUN_MANIFEST, start_run

    out = start_run(TrainConfig(), tmp_path / "run", device="cpu").out_dir  # <run>/04_rl_training
    assert json.loads((out / RUN_MANIFEST).read_text())["program"] == "deltamem train"
    (out / "eval").mkdir()
    (out / "eval" / "base.json").write_text("{}")
    (out / "metrics.jsonl").write_text("{}\n")
    (out / "my_notes.txt").write_text("mine")
    start_run(TrainConfig(seed=5), tmp_path / "run", device="cpu", fresh=True)
    assert not (out / "eval").exists() and not (out / "metrics.jsonl").exists()
    assert (out / "my_notes.txt").read_text() == "mine"
    assert TrainConfig.load(out / "config.json").seed == 5


def test_a_run_manifest_naming_other_files_is_refused(tmp_path):
    from deltamem_lib.training import TrainConfig
    from deltamem_lib.training.pipeline import RUN_MANIFEST, start_run

    out = tmp_path / "run" / "04_rl_training"
    out.mkdir(parents=True)
    (out / "thesis.tex").write_text("x")
    (out / RUN_MANIFEST).write_text(json.dumps({"program": "deltamem train", "entries": ["thesis.tex"]}))
    with pytest.raises(ValueError, match="field entries"):
        start_run(TrainConfig(), tmp_path / "run", device="cpu", fresh=True)
    assert (out / "thesis.tex").is_file()


def test_a_second_process_cannot_open_a_training_folder_in_use(tmp_path):
    import subprocess
    import sys

    from deltamem_lib.training import TrainConfig
    from deltamem_lib.training.pipeline import start_run

    out = tmp_path / "run"
    start_run(TrainConfig(), out, device="cpu")  # this test process now holds the folder
    start_run(TrainConfig(), out, device="cpu")  # the same process may open it again (a notebook rerun)
    code = ("import sys\nfrom deltamem_lib.training import TrainConfig\nfrom deltamem_lib.training.pipeline "
            "import start_run\nfrom deltamem_lib.workdir import WorkDirBusyError\ntry:\n    "
            f"start_run(TrainConfig(), {str(out)!r}, device='cpu')\nexcept WorkDirBusyError as e:\n    "
            "print(e)\n    sys.exit(3)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=480)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "in use by another run" in r.stdout


def test_a_notebooks_run_folder_in_use_is_refused(tmp_path):
    from deltamem_lib.notebook_job import run_notebooks
    from deltamem_lib.workdir import WorkDirBusyError, WorkDirLock

    with WorkDirLock(tmp_path), pytest.raises(WorkDirBusyError, match="in use by another run"):
        run_notebooks("cpu", tmp_path, only=["00_nothing"], progress=lambda m: None)
    assert not (tmp_path / "manifest.json").exists()
