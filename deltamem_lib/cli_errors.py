"""How the ``deltamem`` command ends when something goes wrong: one clear line, no traceback.

Every expected failure (bad data file, bad path, a server error, a busy work folder, an
interrupted run) is an exception whose message already names the file, line, record and
field or the argument, and says what to do. The command prints that message on one line,
``deltamem COMMAND: error: MESSAGE``, and exits with code 2 (bad input: fix and rerun) or 1
(the run itself failed: server, busy folder, interrupt). ``--debug`` or ``DELTAMEM_DEBUG=1``
shows the full traceback instead, for bug reports.
"""

from __future__ import annotations

import json
import os
import sys

from .hardware import PreflightError
from .models.base import BackendError
from .redaction import redact
from .workdir import WorkDirBusyError

__all__ = ["DEBUG_ENV", "exit_code", "one_line", "report_error"]

DEBUG_ENV = "DELTAMEM_DEBUG"


def exit_code(exc: BaseException) -> int | None:
    """2 for bad input, 1 for a failed run, None for a bug (shown with its traceback)."""

    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, (BackendError, WorkDirBusyError, PreflightError)):
        return 1
    if isinstance(exc, (ValueError, KeyError, OSError, json.JSONDecodeError, UnicodeError)):
        # ValueError covers DataFileError, EpisodeError, OperationError, MemoryStateError,
        # OutputPathError; OSError covers FileNotFoundError, IsADirectoryError,
        # NotADirectoryError, PermissionError, FileExistsError
        return 2
    return None


def one_line(exc: BaseException) -> str:
    """The exception's message on one line (the path for OS errors when the message lacks it)."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted; finished work is kept, rerun the same command to continue where it stopped"
    if isinstance(exc, KeyError) and exc.args:
        msg = str(exc.args[0])
    elif isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in str(exc.strerror
                                                                                                or ""):
        what = {IsADirectoryError: "is a folder, not a file", NotADirectoryError: "a part of the path is not "
                                                                                  "a folder",
                PermissionError: "permission denied", FileNotFoundError: "no such file or folder",
                FileExistsError: "already exists"}.get(type(exc), exc.strerror or str(exc))
        msg = f"{exc.filename}: {what}"
    else:
        msg = str(exc) or type(exc).__name__
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    return " ".join(lines)


def report_error(command: str | None, exc: BaseException, *, debug: bool = False) -> int:
    """Print ``exc`` as one line and return the exit code; re-raise bugs and debug runs."""
    code = exit_code(exc)
    if code is None or debug or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        raise exc
    print(f"deltamem {command or ''}: error: {redact(one_line(exc))}".replace("deltamem :", "deltamem:"),
          file=sys.stderr)
    return code
