"""Trained adapters that ship with the workbook, checked by their checksums.

At the ``cpu`` profile the prompted SmolLM2-135M writes no memory, so every model-based system
ties with doing nothing. Notebook 04 trains LoRA adapters that do write memories, but it takes
about 45 minutes on 2 cores; the adapters of one such run (the SFT warm start and SFT+GRPO of
seed 0) are committed in ``data/adapters/<profile>/`` in float16 (a few MB each), so that the
notebooks before and after 04 can show a manager that writes memories without retraining.

``data/adapters/<profile>/MANIFEST.json`` records, per stage, the files and their SHA-256, the
agent settings the adapter was trained with (the prompt it expects), the command and results
file that produced it, and its held-out numbers. :func:`shipped_adapters` verifies every file
before an adapter is used; a missing or changed file is refused in one line naming it.
``tools/ship_adapters.py`` writes a folder from a finished training run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import PROJECT_ROOT
from ..io import read_json
from ..workdir import file_sha256 as sha256

ADAPTERS = PROJECT_ROOT / "data" / "adapters"
MANIFEST = "MANIFEST.json"


class ShippedAdapterError(ValueError):
    """A shipped adapter is missing, incomplete or does not match its manifest."""


@dataclass(frozen=True)
class ShippedAdapter:
    """One verified adapter folder: ``stage`` (e.g. ``"sft"``), ``path``, ``label`` (what a table
    shows), ``agent_options`` (the one-shot prompt it was trained on) and ``info`` (its manifest
    entry, with the run's command, results file, commit and data)."""

    stage: str
    path: Path
    label: str
    agent_options: dict[str, Any]
    info: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Shipped:
    """What :func:`shipped_adapters` found: the verified ``adapters`` (possibly none) and a ``note``
    saying what they are or why there are none."""

    adapters: tuple[ShippedAdapter, ...]
    note: str


def read_manifest(profile: str, *, root: str | os.PathLike[str] = ADAPTERS) -> dict[str, Any] | None:
    """The manifest of ``<root>/<profile>``, or ``None`` when that profile ships no adapters."""
    path = Path(root) / profile / MANIFEST
    return read_json(path) if path.is_file() else None


def verify(folder: str | os.PathLike[str], files: dict[str, str]) -> None:
    """Raise :class:`ShippedAdapterError` unless every file of ``files`` (name -> SHA-256) is in
    ``folder`` with that checksum."""
    folder = Path(folder)
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise ShippedAdapterError(f"{path}: missing (listed in {folder.parent / MANIFEST}); "
                                      "restore it with `git checkout -- data/adapters`")
        got = sha256(path)
        if got != expected:
            raise ShippedAdapterError(f"{path}: SHA-256 {got[:12]}… does not match the manifest's "
                                      f"{expected[:12]}…; the file was changed — restore it with `git "
                                      "checkout -- data/adapters`")


def shipped_adapters(profile: str, stages: list[str] | tuple[str, ...] = ("sft", "sft+grpo"), *,
                     model: str = "smollm2", root: str | os.PathLike[str] = ADAPTERS) -> Shipped:
    """The verified adapters of ``profile`` for ``stages``, in that order.

    None, with a note saying why, when the profile ships none, when ``stages`` is empty, or when
    they were trained on another base model than ``model`` (an adapter fits only its own model).
    An unknown stage, a missing file or a checksum that does not match raises
    :class:`ShippedAdapterError`."""
    manifest = read_manifest(profile, root=root)
    if not stages:
        return Shipped((), "no shipped adapter asked for (trained_adapters is empty)")
    if manifest is None:
        return Shipped((), f"the {profile!r} profile ships no trained adapters (data/adapters/{profile}/ is "
                           "absent)")
    if manifest["model_spec"] != model:
        return Shipped((), f"the shipped adapters of data/adapters/{profile}/ were trained on "
                           f"{manifest['model']} ({manifest['model_spec']!r}), not on {model!r}: not used")
    known = manifest["stages"]
    found = []
    for stage in stages:
        if stage not in known:
            raise ShippedAdapterError(f"{Path(root) / profile / MANIFEST}: no stage {stage!r}; "
                                      f"shipped: {', '.join(known)}")
        entry = known[stage]
        folder = Path(root) / profile / entry["folder"]
        verify(folder, entry["files"])
        info = {**entry, **{k: manifest[k] for k in ("command", "results", "commit", "data")
                            if k in manifest}}
        found.append(ShippedAdapter(stage, folder, entry["label"], dict(manifest["agent_options"]), info))
    note = (f"{len(found)} adapter(s) trained by notebook 04's pipeline ({manifest['profile']} profile, "
            f"{manifest['model']}, level {manifest['level']}, seed {manifest['seed']}), shipped in "
            f"data/adapters/{profile}/ and verified by SHA-256: {', '.join(a.label for a in found)}")
    return Shipped(tuple(found), note)
