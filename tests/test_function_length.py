"""Every library function reads in one screen: at most 60 lines of body (docstring excluded)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "deltamem_lib"
LIMIT = 60
# Functions allowed to stay longer, each with its reason; the list may only shrink.
KNOWN_LONG: set[str] = set()


def body_length(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement after the docstring to the end of the function."""
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body[-1].end_lineno - body[0].lineno + 1 if body else 0


def function_lengths() -> dict[str, int]:
    lengths = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                key = f"{path.relative_to(PACKAGE).as_posix()}:{node.name}"
                lengths[key] = max(lengths.get(key, 0), body_length(node))
    return lengths


def test_no_library_function_is_longer_than_60_lines() -> None:
    lengths = function_lengths()
    too_long = {k: n for k, n in lengths.items() if n > LIMIT and k not in KNOWN_LONG}
    assert not too_long, f"split these functions (body lines, docstring excluded): {too_long}"
    fixed = {k for k in KNOWN_LONG if lengths.get(k, 0) <= LIMIT}
    assert not fixed, f"remove from KNOWN_LONG, they are short now: {fixed}"


def test_body_length_skips_the_docstring() -> None:
    fn = ast.parse('def f():\n    """Doc\n    string."""\n    a = 1\n\n    return a\n').body[0]
    assert body_length(fn) == 3
    assert body_length(ast.parse("def g(): pass").body[0]) == 1
