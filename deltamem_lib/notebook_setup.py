"""Inside a notebook's kernel: the profile applied to its globals, the values papermill
injected, and the run folders of its setup cell.

Every notebook's setup cells call, in this order::

    from deltamem_lib.notebook_setup import apply_profile, resolve_run
    print(apply_profile(globals()))  # the profile's section for this notebook, checked
    ctx = resolve_run("02_mld_reward", profile=profile, seed=seed, output_dir=output_dir)

Interactively (Jupyter, Colab) there is no papermill: :func:`apply_profile` reads ``profile``
from the parameters cell and applies that profile's section for the notebook, with the same
checks (names and types, for the profile's values and for those papermill injected alike:
:func:`deltamem_lib.config.check_parameters`). Values papermill injected win over the profile
file, so ``deltamem notebooks --profile X`` (which injects X's section) gives the same values
either way and ``papermill -p profile X -p key value`` keeps ``value``.

Profiles themselves (loading, checking, typed settings) are :mod:`deltamem_lib.config`;
running every notebook in order is :mod:`deltamem_lib.notebook_job`.
"""

from __future__ import annotations

import ast
import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import (
    NOTEBOOKS_DIR,
    PROFILES_DIR,
    PROJECT_ROOT,
    Profile,
    check_parameters,
    declared_types,
    list_profiles,
    load_profile,
    notebook_parameters,
    pick_device,
    seed_everything,
)

__all__ = ["PROJECT_ROOT", "ProfileApplied", "RunContext", "apply_profile", "resolve_run"]


@dataclass
class RunContext:
    """Everything a notebook resolves at its start."""

    notebook: str
    profile: str
    seed: int
    device: str
    output_dir: Path
    figures_dir: Path
    results_dir: Path
    data_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return (f"notebook {self.notebook} · profile {self.profile} · seed {self.seed} · "
                f"device {self.device} · outputs in {self.output_dir}")


def resolve_run(notebook: str, *, profile: str = "smallest", seed: int = 0,
                output_dir: str | os.PathLike[str] | None = None, device: str = "auto",
                needs_torch: bool = False) -> RunContext:
    """One call for a notebook's setup cell: seed, device and output folders.

    ``output_dir`` empty or None → ``runs/<profile>/`` under the project root (the main job
    passes its own run folder). ``device`` is resolved only when ``needs_torch``; otherwise
    it is reported as ``cpu`` without importing torch.
    """
    out = Path(output_dir) if output_dir else PROJECT_ROOT / "runs" / profile
    figures, results = out / "figures", out / "results"
    for d in (out, figures, results):
        d.mkdir(parents=True, exist_ok=True)
    seed_everything(seed, include_torch=needs_torch or None)
    return RunContext(
        notebook=notebook,
        profile=profile,
        seed=seed,
        device=pick_device(device) if needs_torch else "cpu",
        output_dir=out,
        figures_dir=figures,
        results_dir=results,
        data_dir=PROJECT_ROOT / "data",
    )


@dataclass(frozen=True)
class ProfileApplied:
    """What :func:`apply_profile` did: the notebook it recognised, the profile, the values it
    set, and the values papermill had injected (checked, kept)."""

    notebook: str
    profile: str
    applied: dict[str, Any]
    injected: dict[str, Any]

    def __str__(self) -> str:
        head = f"profile {self.profile!r} for {self.notebook}"
        if not self.applied and not self.injected:
            return f"{head}: the parameters cell's values (the profile changes none of them)"
        parts = []
        if self.applied:
            parts.append("applied " + ", ".join(f"{k}={v!r}" for k, v in self.applied.items()))
        if self.injected:
            parts.append(f"set by papermill (checked) and kept: {', '.join(self.injected)}")
        return f"{head}: " + "; ".join(parts)


def _papermill_injected(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters papermill injected in this kernel: the assignments of the last executed cell
    that starts with papermill's ``# Parameters`` comment (IPython keeps every executed cell's
    source in ``In``). Empty when not run by papermill."""
    history = namespace.get("In")
    if not isinstance(history, (list, tuple)):
        return {}
    for src in reversed(history):
        if isinstance(src, str) and src.lstrip().startswith("# Parameters"):
            out: dict[str, Any] = {}
            try:
                body = ast.parse(src).body
            except SyntaxError:
                return {}
            for node in body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0],
                                                                                          ast.Name):
                    try:
                        out[node.targets[0].id] = ast.literal_eval(node.value)
                    except ValueError:
                        continue
            return out
    return {}


def _recognise_notebook(namespace: Mapping[str, Any], notebooks_dir: Path) -> str:
    """The notebook whose declared parameters are all defined in ``namespace`` (the one whose
    parameters cell just ran); the most specific one if several fit."""
    fits = []
    for nb in sorted(notebooks_dir.glob("*.ipynb")):
        try:
            declared = notebook_parameters(nb)
        except ValueError:
            continue
        if declared and all(k in namespace for k in declared):
            fits.append((len(declared), nb.stem))
    if not fits:
        raise ValueError(f"apply_profile: no notebook in {notebooks_dir} declares exactly the parameters "
                         "defined here; run the parameters cell first, or pass notebook='<stem>'")
    fits.sort(reverse=True)
    if len(fits) > 1 and fits[0][0] == fits[1][0]:
        raise ValueError(f"apply_profile: parameters fit {fits[0][1]} and {fits[1][1]}; pass "
                         "notebook='<stem>'")
    return fits[0][1]


def apply_profile(namespace: dict[str, Any], notebook: str | os.PathLike[str] | None = None, *,
                  profiles_dir: Path | None = None, notebooks_dir: Path | None = None) -> ProfileApplied:
    """Apply the section of ``profiles/<namespace['profile']>.yaml`` for this notebook to
    ``namespace`` (a notebook's ``globals()``) and say what changed.

    ``notebook`` is the notebook's stem or path; by default it is recognised from the
    parameters defined in ``namespace``, so the call does not name the notebook. The section
    and the values papermill injected (``deltamem notebooks``, or ``papermill -p``) are checked
    the same way (:func:`check_parameters`: an unknown name, with the closest declared one, or a
    type other than the declared default's raises a one-line
    :class:`~deltamem_lib.typed_settings.SettingsError` naming the file and section or the
    papermill parameter). Injected values win over the profile file; every other key of the
    section is set. A profile papermill named that is not in ``profiles_dir`` (a file elsewhere,
    whose values ``deltamem notebooks`` injected) leaves the injected values, checked.
    """
    profiles_dir = profiles_dir or PROFILES_DIR
    notebooks_dir = notebooks_dir or NOTEBOOKS_DIR
    stem = Path(notebook).stem if notebook else _recognise_notebook(namespace, notebooks_dir)
    name = namespace.get("profile")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{stem}: the parameters cell must set `profile` to a name in {profiles_dir} "
                         f"({', '.join(list_profiles(profiles_dir))})")
    declared = declared_types(stem, notebooks_dir)
    injected = _papermill_injected(namespace)
    check_parameters(injected, declared, f"{stem}: papermill parameter")
    try:
        prof = load_profile(name, profiles_dir)
    except FileNotFoundError:
        if "profile" in injected:  # a profile file elsewhere, given to papermill: its values were injected
            return ProfileApplied(stem, name, {}, {k: v for k, v in injected.items() if k != "profile"})
        raise
    section = Profile(prof.name, prof.description, {stem: prof.notebooks.get(stem, {})}, prof.path)
    check_parameters(section.notebooks[stem], declared, f"profile {prof.path} [{stem}]")
    applied = {}
    for key, value in section.notebooks[stem].items():
        if key in injected:
            continue
        if namespace.get(key, object()) != value:
            applied[key] = value
        namespace[key] = copy.deepcopy(value)
    return ProfileApplied(stem, prof.name, applied, {k: v for k, v in injected.items() if k != "profile"})
