"""The main job: execute every notebook in reading order through papermill on one profile.

Each notebook gets the profile's parameters for it plus ``profile`` and ``output_dir`` (the
run folder, where its figures and results go); the executed copy is written next to them.
A manifest (``manifest.json``, written atomically after each notebook) records what
finished, so an interrupted run resumes where it stopped; ``force=True`` reruns everything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import NOTEBOOKS_DIR, check_profile_strictly, load_profile, notebook_parameters
from .io import DataFileError, atomic_write_json, read_json_object
from .workdir import WorkDirLock

__all__ = ["NotebookRun", "list_notebooks", "run_notebooks"]


@dataclass
class NotebookRun:
    notebook: str
    status: str  # "done", "skipped" (already done), "failed"
    seconds: float
    output: Path
    error: str | None = None


def list_notebooks(directory: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Notebooks named ``NN_name.ipynb``, in reading order."""
    return sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))


def run_notebooks(profile: str, out: str | Path, *, notebooks_dir: Path = NOTEBOOKS_DIR,
                  only: Sequence[str] = (), force: bool = False, kernel_name: str = "python3",
                  progress: Callable[[str], Any] = print) -> list[NotebookRun]:
    """Execute the notebooks with papermill; resume from ``out/manifest.json``.

    Raises ``RuntimeError`` after the first failing notebook (the manifest records it and
    the executed copy keeps the traceback), so later notebooks never run on a broken state.
    The folder is locked while the notebooks run (``.lock``), so a second run on it stops at once.
    """
    prof = load_profile(profile)
    check_profile_strictly(prof, notebooks_dir)  # every key of every section, before anything runs
    out = Path(out).resolve()
    with WorkDirLock(out, what="--out"):  # one run per folder: a second one stops at once
        return _run_locked(prof, out, notebooks_dir=notebooks_dir, only=only, force=force,
                           kernel_name=kernel_name, progress=progress)


def _run_locked(prof: Any, out: Path, *, notebooks_dir: Path, only: Sequence[str], force: bool,
                kernel_name: str, progress: Callable[[str], Any]) -> list[NotebookRun]:
    import papermill as pm

    manifest_path = out / "manifest.json"
    manifest: dict[str, Any] = {"profile": prof.name, "notebooks": {}}
    if manifest_path.exists() and not force:
        manifest = read_json_object(manifest_path, "an object with 'profile' and 'notebooks'")
        if not isinstance(manifest.get("notebooks"), dict) or not all(
                isinstance(v, dict) for v in manifest["notebooks"].values()):
            raise DataFileError(f"{manifest_path}: field notebooks: expected an object of notebook records, "
                                f"got {type(manifest.get('notebooks')).__name__}; delete the file or pass "
                                "--force")
        if manifest.get("profile") != prof.name:
            raise ValueError(f"{out} holds a run of profile {manifest.get('profile')!r}, not {prof.name!r}; "
                             "choose another --out or pass --force")
    books = list_notebooks(notebooks_dir)
    if only:
        unknown = set(only) - {b.stem for b in books}
        if unknown:
            raise ValueError(f"unknown notebook(s) {sorted(unknown)}; known: {[b.stem for b in books]}")
        books = [b for b in books if b.stem in only]
    results: list[NotebookRun] = []
    for k, nb in enumerate(books, start=1):
        target = out / nb.name
        done = manifest["notebooks"].get(nb.stem, {})
        if done.get("status") == "done" and target.exists() and not force:
            progress(f"[{k}/{len(books)}] {nb.stem}: already done in {float(done.get('seconds') or 0):.0f} "
                     "s, skipped")
            results.append(NotebookRun(nb.stem, "skipped", 0.0, target))
            continue
        declared = notebook_parameters(nb)
        params = {key: v for key, v in prof.params_for(nb.stem).items() if key in declared}  # checked above
        if "output_dir" in declared:
            params["output_dir"] = str(out)
        progress(f"[{k}/{len(books)}] {nb.stem}: running with {params}")
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(str(nb), str(target), parameters=params, kernel_name=kernel_name,
                                cwd=str(nb.parent), progress_bar=False)
            status, error = "done", None
        except Exception as exc:  # papermill raises PapermillExecutionError with the cell's traceback
            status, error = "failed", (f"{type(exc).__name__}: "
                                       f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}")
        secs = time.perf_counter() - t0
        manifest["notebooks"][nb.stem] = {"status": status, "seconds": round(secs, 1),
                                          "parameters": params, "error": error}
        atomic_write_json(manifest_path, manifest)
        results.append(NotebookRun(nb.stem, status, secs, target, error))
        progress(f"[{k}/{len(books)}] {nb.stem}: {status} in {secs:.0f} s")
        if status == "failed":
            raise RuntimeError(f"notebook {nb.stem} failed ({error}); the executed copy with the "
                               f"traceback is {target}. Fix it and rerun: finished notebooks are skipped.")
    return results
