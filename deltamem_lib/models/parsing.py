"""Robust parsing of what a model writes: tool calls and JSON operation lists.

Small local models (SmolLM2-135M here, 4B models in the paper's "prompted" rows) often emit
output that is *almost* right: a ``<tool_call>`` block with single quotes or a trailing
comma, a JSON list wrapped in a Markdown fence, ``"parameters"`` instead of
``"arguments"``, a Python-style call ``add_memory(content="...")``. Users of Mem0 report
that such output makes memories "silently come back empty" (``docs/paper_notes.md`` §3). Here
every parser is lenient about the *syntax* and strict about the *meaning*: what can be read
is returned, what cannot is counted as malformed and reported — never an exception.

* :func:`parse_tool_calls` — the ReAct agent's output (ChatML ``<tool_call>{json}</tool_call>``,
  the format TRL parses with the Qwen response template);
* :func:`parse_operation_list` — the one-shot agent's output (one JSON list of operations);
* :func:`extract_json` — the first JSON value in a text (used by the Mem0-style baseline).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ParsedToolCalls",
    "ParsedOperations",
    "extract_json",
    "loads_lenient",
    "normalize_memory_id",
    "parse_operation_list",
    "parse_tool_calls",
]

_TOOL_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FENCE = re.compile(r"```(?:json|python)?\s*(.*?)```", re.S)
_PY_CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\((.*?)\)\s*$", re.S | re.I)
_MEMORY_ID = re.compile(r"^\[?\s*(?:m(?:emory)?[\s_-]*)?(\d+)\s*\]?$", re.I)
_SPECIAL = re.compile(r"<\|im_end\|>|<\|endoftext\|>|<\|eot_id\|>|</s>")


def loads_lenient(text: str) -> Any:
    """``json.loads`` that also accepts Python literals (single quotes, True/None) and
    trailing commas. Raises ``ValueError`` if nothing works."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    cleaned = re.sub(r",\s*([}\]])", r"\1", text)
    try:
        return json.loads(cleaned)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(cleaned)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        pass
    py = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", cleaned)))
    try:
        return ast.literal_eval(py)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise ValueError(f"not JSON: {text[:80]!r}") from None


def _balanced_spans(text: str, opener: str) -> list[str]:
    """Substrings that start with ``opener`` (``{`` or ``[``) and end at the matching
    closer, skipping brackets inside strings."""
    closer = "}" if opener == "{" else "]"
    spans = []
    i = text.find(opener)
    while i != -1:
        depth, quote, esc = 0, None, False
        for j in range(i, len(text)):
            ch = text[j]
            if quote:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == quote:
                    quote = None
                continue
            if ch in "\"'":
                quote = ch
            elif ch in "{[":
                depth += 1
            elif ch in "}]":
                depth -= 1
                if depth == 0:
                    if ch == closer:
                        spans.append(text[i:j + 1])
                    break
        i = text.find(opener, i + 1)
    return spans


def extract_json(text: str, *, want: type | tuple[type, ...] = (list, dict)) -> Any:
    """The first JSON value of type ``want`` in ``text`` (fenced blocks first), or None."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for cand in candidates:
        try:
            val = loads_lenient(cand)
            if isinstance(val, want):
                return val
        except ValueError:
            pass
        openers = []
        for t in (want if isinstance(want, tuple) else (want,)):
            openers.append("[" if t is list else "{")
        # try the opener that appears first in the text first
        openers.sort(key=lambda o: (cand.find(o) if cand.find(o) != -1 else len(cand)))
        for opener in openers:
            for span in _balanced_spans(cand, opener):
                try:
                    val = loads_lenient(span)
                except ValueError:
                    continue
                if isinstance(val, want):
                    return val
    return None


def normalize_memory_id(value: Any) -> str | None:
    """``"m3"``, ``"M3"``, ``"[m3]"``, ``"3"``, ``3`` and ``"memory 3"`` → ``"m3"``; anything
    else → None (the caller reports it as an unknown id)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return f"m{value}" if value > 0 else None
    if not isinstance(value, str):
        return None
    m = _MEMORY_ID.match(value.strip())
    return f"m{int(m.group(1))}" if m and int(m.group(1)) > 0 else None


@dataclass
class ParsedToolCalls:
    """Result of :func:`parse_tool_calls`."""

    content: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)


def _call_from_obj(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    if "function" in obj and isinstance(obj["function"], dict):
        obj = obj["function"]
    name = obj.get("name") or obj.get("tool") or obj.get("tool_name")
    if not isinstance(name, str) or not name.strip():
        return None
    args = obj.get("arguments", obj.get("parameters", obj.get("args", {})))
    if isinstance(args, str):
        try:
            args = loads_lenient(args) if args.strip() else {}
        except ValueError:
            return None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return None
    return {"name": name.strip(), "arguments": args}


def _python_call(text: str, known: set[str] | None) -> dict[str, Any] | None:
    """``add_memory(content="x")`` → a call, if the name is a known tool."""
    m = _PY_CALL.search(text.strip())
    if not m or (known is not None and m.group(1) not in known):
        return None
    try:
        node = ast.parse(text.strip()[m.start():], mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.args:
        return None
    try:
        args = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
    except ValueError:
        return None
    return {"name": node.func.id, "arguments": args}


def parse_tool_calls(text: str, *, known_tools: set[str] | None = None) -> ParsedToolCalls:
    """Read the tool calls of an assistant turn.

    Accepted: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks (the last one
    may be unterminated when generation hit its budget), ``"parameters"``/``"args"`` for
    ``"arguments"``, arguments given as a JSON string, Python-literal quoting. Without any
    ``<tool_call>`` tag, a reply that *is* one JSON call object, a list of them, or a
    Python-style call of a ``known_tools`` name is read as well. Anything inside a tag that
    cannot be read lands in ``malformed``.
    """
    text = _SPECIAL.sub("", text or "")
    calls: list[dict[str, Any]] = []
    malformed: list[str] = []
    blocks = list(_TOOL_BLOCK.finditer(text))
    if blocks:
        content = text[:blocks[0].start()].strip()
        for b in blocks:
            body = b.group(1).strip()
            if not body:
                malformed.append(b.group(0))
                continue
            call = None
            try:
                obj = loads_lenient(body)
                objs = obj if isinstance(obj, list) else [obj]
                parsed = [_call_from_obj(o) for o in objs]
                if parsed and all(parsed):
                    calls.extend(parsed)  # type: ignore[arg-type]
                    continue
            except ValueError:
                obj = extract_json(body, want=dict)
                call = _call_from_obj(obj) if obj is not None else None
            if call is None:
                call = _python_call(body, known_tools)
            if call is None:
                malformed.append(b.group(0))
            else:
                calls.append(call)
        return ParsedToolCalls(content, calls, malformed)
    stripped = text.strip()
    # untagged: a whole-reply JSON call (or list of calls), or a Python-style call
    if stripped[:1] in "[{" or stripped.startswith("```"):
        obj = extract_json(stripped)
        objs = obj if isinstance(obj, list) else [obj] if obj is not None else []
        parsed = [_call_from_obj(o) for o in objs]
        # type: ignore[index]
        if parsed and all(parsed) and (known_tools is None or all(p["name"] in known_tools for p in parsed)):
            return ParsedToolCalls("", parsed, [])  # type: ignore[arg-type]
    if known_tools:
        lines = [ln for ln in stripped.splitlines() if ln.strip()]
        py = [_python_call(ln, known_tools) for ln in lines]
        if lines and all(py):
            return ParsedToolCalls("", py, [])  # type: ignore[arg-type]
    return ParsedToolCalls(stripped, [], [])


@dataclass
class ParsedOperations:
    """Result of :func:`parse_operation_list`: operations as mappings for
    :meth:`deltamem_lib.memory.MemoryState.apply`, plus what could not be read."""

    operations: list[dict[str, Any]] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    found_list: bool = False


_OP_ALIASES = {"ADD": "ADD", "CREATE": "ADD", "INSERT": "ADD", "UPDATE": "UPDATE", "MODIFY": "UPDATE",
               "EDIT": "UPDATE", "DELETE": "DELETE", "REMOVE": "DELETE", "NONE": "NOOP", "NOOP": "NOOP",
               "NO_OP": "NOOP", "NOTHING": "NOOP"}


def normalize_operation(item: Any) -> dict[str, Any] | None:
    """One operation object (several spellings accepted) → ``{"op", "memory_id", "content"}``."""
    if not isinstance(item, dict):
        return None
    raw = item.get("op", item.get("event", item.get("type", item.get("operation", item.get("action")))))
    if not isinstance(raw, str):
        return None
    op = _OP_ALIASES.get(raw.strip().upper().replace(" ", "_"))
    if op is None:
        return None
    raw_id = item.get("memory_id", item.get("id", item.get("target")))
    mid = normalize_memory_id(raw_id)
    content = item.get("content", item.get("text", item.get("memory", item.get("fact"))))
    out: dict[str, Any] = {"op": op, "memory_id": mid if mid is not None
                           else (raw_id if isinstance(raw_id, str) else None), "content": content
                           if isinstance(content, str) else None}
    if op == "ADD":
        out["memory_id"] = None  # the state allocates ADD ids
    return out


def parse_operation_list(text: str) -> ParsedOperations:
    """Read a JSON list of operations (the one-shot agent's output).

    Accepts a bare list, a list inside a Markdown fence or surrounded by prose, an object
    holding the list (``{"operations": [...]}``, Mem0's ``{"memory": [...]}``), and the
    spellings of :func:`normalize_operation`. An empty list means "no change". NOOP items are
    dropped. Items that are not operations are returned in ``malformed``.
    """
    text = _SPECIAL.sub("", text or "")
    val = extract_json(text, want=(list, dict))
    if isinstance(val, dict):
        for key in ("operations", "ops", "memory", "actions", "updates"):
            if isinstance(val.get(key), list):
                val = val[key]
                break
        else:
            val = [val] if normalize_operation(val) else None
    if not isinstance(val, list):
        return ParsedOperations([], [text.strip()[:200]] if text.strip() else [], False)
    res = ParsedOperations(found_list=True)
    for item in val:
        op = normalize_operation(item)
        if op is None:
            res.malformed.append(json.dumps(item, ensure_ascii=False)[:200] if not isinstance(item, str)
                                 else item[:200])
        elif op["op"] != "NOOP":
            res.operations.append(op)
    return res
