"""Safe file input and output shared by every part of the workbook.

Nothing the workbook writes (a memory state, a dataset, a results file, a checkpoint
manifest, a figure, a downloaded benchmark file) may be left half-written: every writer
goes through :func:`atomic_write`, which fills a temporary file in the target's folder,
flushes it to disk and renames it over the target, which is atomic on POSIX file systems.
Logs that grow while a job runs (a training log, a benchmark journal) append whole lines
with one write and an ``fsync`` (:func:`append_jsonl`, :class:`Journal`), so an
interruption loses at most the line being written. Every reader names the file and the
line when the content is bad.

Every writer replaces registered secrets (an API key) by ``***`` in the final text, plain or
JSON-escaped (:mod:`deltamem_lib.redaction`).

The JSON writers write standard JSON only: a NaN or an infinity (which ``json`` would write
as the non-standard ``NaN``) and text that is not valid Unicode (a lone surrogate) are
refused *before* the file is opened, with an error naming the file and the field.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from .redaction import redact

__all__ = [
    "DataFileError",
    "Journal",
    "append_jsonl",
    "atomic_write",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_write_jsonl",
    "DEFAULT_MAX_INPUT_MB",
    "DEFAULT_MAX_JSON_DEPTH",
    "check_input_file",
    "loads_checked",
    "read_json",
    "read_json_object",
    "iter_jsonl",
    "save_figure",
]


class DataFileError(ValueError):
    """A file's content is malformed; the message names the file, and the line if known."""


def _bad_value(obj: Any, where: str = "") -> str | None:
    """The first field of ``obj`` that standard UTF-8 JSON cannot hold, described, or None."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (f"{('field ' + where) if where else 'a value'} = {obj!r} "
                                                "(NaN and infinity are not standard JSON)")
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (f"{('field ' + where) if where else 'a value'} holding {obj[exc.start:exc.end]!r} at "
                    f"character {exc.start}, which is not valid Unicode text (a lone surrogate)")
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


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Produce ``path`` atomically: ``write(tmp)`` fills a temporary file in the target's
    folder, which is then flushed to disk and renamed over ``path``.

    If anything fails before the rename, the previous content of ``path`` is untouched and
    the temporary file is removed. The file gets the mode a plain ``open(path, "w")`` would.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode(target))  # mkstemp creates 0600; give the usual mode
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`atomic_write`); text that is not valid
    Unicode (a lone surrogate) is refused before the file is opened, and registered secrets
    (:mod:`deltamem_lib.redaction`) are replaced by ``***``."""
    text = redact(text)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{path}: cannot write {text[exc.start:exc.end]!r} at character {exc.start}: not "
                         "valid Unicode text (a lone surrogate); nothing was written") from None
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


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


#: Largest input file read, in bytes (``DELTAMEM_MAX_INPUT_MB`` raises it): 2 GiB.
DEFAULT_MAX_INPUT_MB = 2048
#: Deepest nesting of a JSON value read (``DELTAMEM_MAX_JSON_DEPTH`` raises it).
DEFAULT_MAX_JSON_DEPTH = 200


def _limit(env: str, default: int) -> int:
    raw = os.environ.get(env, "")
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{env}={raw!r}: expected a whole number") from None
    if value <= 0:
        raise ValueError(f"{env}={raw!r}: expected a number above 0")
    return value


def check_input_file(path: str | os.PathLike[str], *, what: str = "") -> Path:
    """Refuse, before reading, a path that is not a regular file (a FIFO, a device, a folder,
    a socket) or that is larger than ``DELTAMEM_MAX_INPUT_MB`` megabytes (default 2048).

    Reading a FIFO would block and a device such as ``/dev/zero`` never ends; a limit stops
    an absurd file before it fills the memory.
    """
    import stat

    p = Path(path)
    label = f"{what} {p}" if what else str(p)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"{label}: no such file") from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{label}: is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "not a regular file")
        raise DataFileError(f"{label}: is {kind}, not a regular file; give a file")
    limit_mb = _limit("DELTAMEM_MAX_INPUT_MB", DEFAULT_MAX_INPUT_MB)
    if st.st_size > limit_mb * 2**20:
        raise DataFileError(f"{label}: {st.st_size / 2**20:.0f} MB is larger than the input limit of "
                            f"{limit_mb} MB; raise it with DELTAMEM_MAX_INPUT_MB if the file is right")
    return p


def _depth_exceeded(obj: Any, limit: int) -> bool:
    """True when ``obj`` nests lists and objects deeper than ``limit`` levels (iterative)."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((v, depth + 1) for v in value if isinstance(v, (list, dict)))
    return False


def loads_checked(text: str, where: str) -> Any:
    """``json.loads`` whose every failure is a :class:`DataFileError` naming ``where``.

    Nesting deeper than ``DELTAMEM_MAX_JSON_DEPTH`` levels (default 200) is refused, and so
    are integers too long for Python (over 4300 digits) and numbers outside the float range
    (``1e400``, which would become infinity).
    """
    import sys

    limit = _limit("DELTAMEM_MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH)
    old = sys.getrecursionlimit()
    try:
        if limit + 200 > old:
            sys.setrecursionlimit(limit + old)
        obj = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{where}line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg}); "
                            "the file is corrupt or truncated") from None
    except RecursionError:
        raise DataFileError(f"{where}JSON nested deeper than {limit} levels; raise DELTAMEM_MAX_JSON_DEPTH "
                            "if the file is right") from None
    except ValueError as exc:  # an integer of more than 4300 digits, a number out of range, NaN
        raise DataFileError(f"{where}{str(exc).splitlines()[0]}") from None
    finally:
        sys.setrecursionlimit(old)
    if _depth_exceeded(obj, limit):
        raise DataFileError(f"{where}JSON nested deeper than {limit} levels; raise DELTAMEM_MAX_JSON_DEPTH "
                            "if the file is right")
    return obj


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number standard JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is outside the range of a float")
    return value


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; a syntax error is reported with file, line and column.

    The path must be a regular file within the input size limit (:func:`check_input_file`);
    nesting, huge integers and out-of-range numbers are refused (:func:`loads_checked`).
    """
    p = check_input_file(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return loads_checked(text, f"{p}: ")


def read_json_object(path: str | os.PathLike[str], what: str = "an object") -> dict[str, Any]:
    """:func:`read_json` of a file that must hold a JSON object; anything else is refused
    naming the file and what it holds."""
    obj = read_json(path)
    if not isinstance(obj, dict):
        raise DataFileError(f"{path}: expected {what}, got a JSON {type(obj).__name__}; the file is not what "
                            "it should be (regenerate or delete it)")
    return obj


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSON-lines file (a regular
    file within the input size limit; each line checked by :func:`loads_checked`)."""
    p = check_input_file(path)
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
                    yield lineno, loads_checked(line, f"{p}: line {lineno}: ")
                except DataFileError as exc:
                    raise DataFileError(str(exc).replace(f": line {lineno}: line 1, column",
                                                         f": line {lineno}, column")
                                        ) from None
        except UnicodeDecodeError as exc:
            raise DataFileError(f"{p}: line {lineno + 1}: not UTF-8 text ({exc.reason})") from None


def append_jsonl(path: str | os.PathLike[str], records: Iterable[Any]) -> None:
    """Append one JSON object per line to ``path`` with one write and an ``fsync``."""
    text = redact("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    if not text:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


class Journal:
    """Append-only JSON-lines store keyed by ``record["key"]``, for work that resumes.

    Each :meth:`add` writes its lines with :func:`append_jsonl`; on opening, a last line that
    does not parse (a write cut short) is dropped and the file rewritten without it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.records: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            good = []
            for i, line in enumerate(lines):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except RecursionError:
                    raise DataFileError(f"{self.path}: line {i + 1}: JSON nested too deeply; the journal is "
                                        "corrupt (delete the work folder to start over)") from None
                except json.JSONDecodeError:
                    if i == len(lines) - 1:
                        atomic_write_jsonl(self.path, good)  # the torn tail of an interrupted write
                        break
                    raise ValueError(f"{self.path}: line {i + 1} is not JSON; the journal is corrupt "
                                     "(delete the work folder to start over)") from None
                except ValueError as exc:  # an integer of more than 4300 digits
                    raise DataFileError(f"{self.path}: line {i + 1}: {str(exc).splitlines()[0]}; the journal "
                                        "is corrupt (delete the work folder to start over)") from None
                if not isinstance(rec, dict) or not isinstance(rec.get("key"), str):
                    raise ValueError(f"{self.path}: line {i + 1}: expected a record with a string 'key', got "
                                     f"{str(rec)[:60]}; the journal is corrupt (delete the work folder to "
                                     "start over)")
                good.append(rec)
                self.records[rec["key"]] = rec

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self.records[key]

    def __len__(self) -> int:
        return len(self.records)

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        records = list(records)
        append_jsonl(self.path, records)
        for r in records:
            self.records[r["key"]] = r


def save_figure(fig: Any, data: Any, save_dir: str | os.PathLike[str] | None, name: str, *,
                dpi: int = 120) -> Path | None:
    """Write a figure as ``<save_dir>/<name>.png`` and the numbers drawn as ``<name>.json``,
    each atomically; ``save_dir=None`` writes nothing. The one way the workbook saves figures."""
    if save_dir is None:
        return None
    folder = Path(save_dir)
    target = atomic_write(folder / f"{name}.png",
                          lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"))
    atomic_write_json(folder / f"{name}.json", data)
    return target
