"""Safe file input and output shared by every part of the workbook.

Nothing the workbook writes (a memory state, a dataset, a results file, a checkpoint
manifest) may be left half-written: every writer here writes a temporary file in the
target's folder, flushes it to disk and renames it over the target, which is atomic on
POSIX file systems. Every reader names the file and the line when the content is bad.

The JSON writers write standard JSON only: a NaN or an infinity (which ``json`` would write
as the non-standard ``NaN``) and text that is not valid Unicode (a lone surrogate) are
refused *before* the file is opened, with an error naming the file and the field.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "DataFileError",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_write_jsonl",
    "read_json",
    "read_jsonl",
    "iter_jsonl",
]


class DataFileError(ValueError):
    """A file's content is malformed; the message names the file, and the line if known."""


def _bad_value(obj: Any, where: str = "") -> str | None:
    """The first field of ``obj`` that standard UTF-8 JSON cannot hold, described, or None."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else f"{('field ' + where) if where else 'a value'} = {obj!r} (NaN and infinity are not standard JSON)"
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (f"{('field ' + where) if where else 'a value'} holding {obj[exc.start:exc.end]!r} at character {exc.start}, "
                    "which is not valid Unicode text (a lone surrogate)")
        return None
    if isinstance(obj, dict):
        for k, v in obj.items():
            why = _bad_value(k, f"{where}.<key>") or _bad_value(v, f"{where}.{k}" if where else str(k))
            if why:
                return why
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            why = _bad_value(v, f"{where}[{i}]")
            if why:
                return why
    return None


def _dumps(obj: Any, path: str | os.PathLike[str], prefix: str = "", **kw: Any) -> str:
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, **kw)
        text.encode("utf-8")
    except (ValueError, UnicodeEncodeError) as exc:
        why = _bad_value(obj) or str(exc)
        raise ValueError(f"{path}: {prefix}cannot write {why}; nothing was written") from None
    return text


def _file_mode(target: Path) -> int:
    """The mode a plain ``open(target, "w")`` would give: the existing file's, else 0666 & ~umask."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file + rename).

    If anything fails before the rename, the previous content of ``path`` is untouched and
    the temporary file is removed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{target}: cannot write {text[exc.start:exc.end]!r} at character {exc.start}: not "
                         "valid Unicode text (a lone surrogate); nothing was written") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode(target))  # mkstemp creates 0600; give the usual mode
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> Path:
    """Serialise ``obj`` as JSON and write it atomically.

    The object is serialised in full *before* the file is opened, so an object that cannot
    be serialised (NaN, infinity, a lone surrogate) raises ``ValueError`` naming the file and
    the field without touching the disk.
    """
    text = _dumps(obj, path, indent=indent) + "\n"
    return atomic_write_text(path, text)


def atomic_write_jsonl(path: str | os.PathLike[str], records: Iterable[Any]) -> Path:
    """Write one JSON object per line, atomically."""
    text = "".join(_dumps(r, path, f"line {i}: ") + "\n" for i, r in enumerate(records, start=1))
    return atomic_write_text(path, text)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; a syntax error is reported with file, line and column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(
            f"{p}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg}); "
            "the file is corrupt or truncated"
        ) from None


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSON-lines file."""
    p = Path(path)
    try:
        fh = p.open(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: no such file") from None
    with fh:
        lineno = 0
        try:
            for lineno, line in enumerate(fh, start=1):  # noqa: B007
                if not line.strip():
                    continue
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataFileError(
                        f"{p}: line {lineno}, column {exc.colno}: invalid JSON ({exc.msg}); "
                        "the file is corrupt or truncated"
                    ) from None
        except UnicodeDecodeError as exc:
            raise DataFileError(f"{p}: line {lineno + 1}: not UTF-8 text ({exc.reason})") from None


def read_jsonl(path: str | os.PathLike[str]) -> list[Any]:
    """Read a whole JSON-lines file (see :func:`iter_jsonl`)."""
    return [obj for _, obj in iter_jsonl(path)]
