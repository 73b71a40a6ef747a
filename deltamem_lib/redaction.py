"""Secrets never reach a file or the terminal: one registry, applied to everything written.

An API key is read from the environment (:mod:`deltamem_lib.models.openai_backend`) and
registered here. Every writer of :mod:`deltamem_lib.io`, the command's error line and, while a
command runs, everything it prints (:func:`redacted_output`) pass their final text through
:func:`redact`, which replaces each registered secret by ``***`` —
in its plain form *and* in the forms JSON can spell it (``sk\\u002d…``, ``\\/``, ``\\"``), so a
key a model echoes back escaped inside a tool call's arguments is caught whether the text is
still escaped or already decoded.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["RedactingStream", "redact", "redact_value", "redacted_output", "register"]

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

_SHORTEST = 8  # shorter strings (a user name such as "user") would match ordinary text


def _char(c: str) -> str:
    """A regex matching ``c`` as written, or as a JSON ``\\uXXXX`` (any case) or short escape."""
    code = f"{ord(c):04x}"
    hexes = "".join(f"[{h}{h.upper()}]" if h.isalpha() else h for h in code)
    alts = [re.escape(c), rf"\\u{hexes}"] if ord(c) <= 0xFFFF else [re.escape(c)]
    if c in '"\\/':
        alts.append(re.escape("\\" + c))
    return "(?:" + "|".join(alts) + ")"


def register(*secrets: str) -> None:
    """Add secrets (empty and very short strings are ignored) to what :func:`redact` removes."""
    global _pattern
    new = {s for s in secrets if isinstance(s, str) and len(s) >= _SHORTEST}
    with _lock:
        if new <= _secrets:
            return
        _secrets.update(new)
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join("".join(_char(c) for c in s) for s in ordered))


def redact(text: str) -> str:
    """``text`` with every registered secret (plain or JSON-escaped) replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not isinstance(text, str):
        return text
    return pattern.sub("***", text)


def redact_value(value: object) -> object:
    """:func:`redact` applied to every string (keys included) of a JSON-like value."""
    if _pattern is None:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


class RedactingStream:
    """A text stream that passes everything written through :func:`redact` (the terminal side:
    ``print``, progress bars and log lines of a command)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding … of the real stream
        return getattr(self._stream, name)


@contextlib.contextmanager
def redacted_output() -> Iterator[None]:
    """Redact what is printed to ``sys.stdout`` and ``sys.stderr`` while the block runs."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(saved[0]), RedactingStream(saved[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
