"""Output paths, work folders and data files: checked before any work starts.

Long commands (``deltamem synth``, ``evaluate``, ``bench``) must not spend minutes or hours
and then fail on an output path that could never be written, serve results computed from a
data file that has changed since, or let two runs write into one work folder. This module
holds the small checks they share:

* :func:`check_output_file` / :func:`check_output_dir` — an ``--out`` path is refused up
  front when it is a folder (for a file) or a file (for a folder), when a parent is a file,
  or when the nearest existing folder is not writable;
* :func:`file_sha256` — the content hash that resume keys carry, so edited data is noticed;
* :class:`WorkDirLock` — an exclusive lock (``fcntl.flock`` on ``DIR/.lock``) held for the
  whole run; the operating system releases it when the process ends, even on SIGKILL;
* :func:`stale_temp_files` / :func:`remove_stale_temp_files` — the ``.NAME.XXXX.tmp`` files a
  killed atomic write leaves behind (see :mod:`deltamem_lib.io`).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from .io import check_input_file

__all__ = [
    "OutputPathError",
    "WorkDirBusyError",
    "WorkDirLock",
    "check_output_dir",
    "check_output_file",
    "file_sha256",
    "remove_stale_temp_files",
    "stale_temp_files",
]


class OutputPathError(ValueError):
    """An output path can never be written; the message names it and says why."""


class WorkDirBusyError(RuntimeError):
    """Another run holds the work folder's lock."""


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_parents(path: Path, what: str) -> None:
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputPathError(f"{what} {path}: {parent} is a file, not a folder; choose another path")
    base = _nearest_existing(path.parent)
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(f"{what} {path}: cannot write in {base} (permission denied); choose another "
                              "path")


def check_output_file(path: str | os.PathLike[str], *, what: str = "--out") -> Path:
    """Refuse an output *file* path that could never be written (before any work)."""
    p = Path(path)
    if p.is_dir():
        raise OutputPathError(f"{what} {p}: is a folder; give a file name such as {p / 'results.json'}")
    _check_parents(p, what)
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputPathError(f"{what} {p}: the file exists and is not writable (permission denied)")
    return p


def check_output_dir(path: str | os.PathLike[str], *, overwrite: bool = False, what: str = "--out") -> Path:
    """Refuse an output *folder* path that could never be written (before any work).

    An existing non-empty folder needs ``overwrite``; a file is never replaced by a folder.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputPathError(f"{what} {p}: is a file, not a folder; remove it or choose another path"
                              + (" (--overwrite replaces folders only)" if overwrite and what == "--out"
                                 else ""))
    _check_parents(p, what)
    if p.is_dir():
        if any(p.iterdir()) and not overwrite:
            raise OutputPathError(f"{what} {p}: already exists and is not empty; pass --overwrite to replace "
                                  "it")
        if not os.access(p.parent, os.W_OK | os.X_OK):
            raise OutputPathError(f"{what} {p}: cannot replace it, {p.parent} is not writable (permission "
                                  "denied)")
    return p


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def stale_temp_files(folder: str | os.PathLike[str], *, recursive: bool = True) -> list[Path]:
    """Temporary files of atomic writes (``.NAME.XXXX.tmp``) under ``folder``."""
    root = Path(folder)
    if not root.is_dir():
        return []
    pattern = "**/.*.tmp" if recursive else ".*.tmp"
    return sorted(p for p in root.glob(pattern) if p.is_file())


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove leftover temporary files under ``folder`` (call it while holding its lock)."""
    removed = []
    for p in stale_temp_files(folder):
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed


class WorkDirLock:
    """An exclusive, non-blocking lock on a work folder (``DIR/.lock``).

    Use as a context manager. A second run on the same folder fails at once with
    :class:`WorkDirBusyError` naming the holder's pid. The lock is released when the holder
    exits for any reason (the kernel drops ``flock`` locks with the process), so a killed
    run never blocks the next one; the file itself stays and is harmless.
    """

    def __init__(self, folder: str | os.PathLike[str], *, what: str = "--work-dir"):
        self.folder = Path(folder)
        self.what = what
        self.path = self.folder / ".lock"
        self._fh: Any = None

    def acquire(self) -> WorkDirLock:
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - kept open while locked
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise WorkDirBusyError(f"{self.folder} is in use by another run ({holder}); wait for it to "
                                   f"finish or choose another {self.what}") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            import fcntl

            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> WorkDirLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def data_hashes(paths: list[str | os.PathLike[str] | None]) -> dict[str, str]:
    """``{path: sha256}`` of the given data files (None and empty entries skipped); each must be
    a regular file within the input limit (a FIFO or a device is refused before it is read)."""
    return {str(p): file_sha256(check_input_file(p, what="data file")) for p in paths if p}


def stale_data_message(work: str | os.PathLike[str], old: Any, new: dict[str, str]) -> str | None:
    """Why the work in ``work`` (made from data hashed ``old``) cannot serve data hashed ``new``."""
    if old == new:
        return None
    if old is None:
        return (f"{work}: this work folder was made before data hashes were recorded, so it cannot tell "
                f"whether its stored states and answers belong to {', '.join(new)} as it is now; delete the "
                "folder or choose another --work-dir to start over")
    if not isinstance(old, dict):
        return f"{work}: the manifest's data_sha256 is corrupt; delete the work folder to start over"
    changed = [f"{p} (sha256 {str(old.get(p))[:12]}… then, {h[:12]}… now)" for p, h in new.items()
               if old.get(p) != h]
    gone = [p for p in old if p not in new]
    what = "; ".join(changed + [f"{p} is no longer used" for p in gone])
    return (f"{work}: the data changed since this work was done: {what}. The stored memory states and "
            "answers belong to the old data and are not reused; delete the work folder or choose another "
            "--work-dir to start over")
