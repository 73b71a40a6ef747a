"""Lenient readers of model output: what can be read is read, the rest is counted."""

from __future__ import annotations

import pytest

from deltamem_lib.models.parsing import (
    extract_json,
    loads_lenient,
    normalize_memory_id,
    parse_operation_list,
    parse_tool_calls,
)

TOOLS = {"add_memory", "update_memory", "delete_memory", "search_memory"}


def test_tool_call_blocks_and_content():
    text = ('Let me check.\n<tool_call>\n{"name": "search_memory", "arguments": {"query": '
            '"home"}}\n</tool_call>\n<tool_call>{"name": "delete_memory", "arguments": {"memory_id": '
            '"m2"}}</tool_call><|im_end|>')
    p = parse_tool_calls(text)
    assert p.content == "Let me check."
    assert p.calls == [{"name": "search_memory", "arguments": {"query": "home"}},
                       {"name": "delete_memory", "arguments": {"memory_id": "m2"}}]
    assert p.malformed == []


@pytest.mark.parametrize("body,expected", [
    ("{'name': 'add_memory', 'arguments': {'content': 'x'}}", {"content": "x"}),             # Python quotes
    ('{"name": "add_memory", "arguments": {"content": "x",},}', {"content": "x"}),           # trailing commas
    ('{"name": "add_memory", "parameters": {"content": "x"}}', {"content": "x"}),            # Llama's key
    ('{"name": "add_memory", "arguments": "{\\"content\\": \\"x\\"}"}', {"content": "x"}),   # args as string
    ('{"function": {"name": "add_memory", "arguments": {"content": "x"}}}', {"content": "x"}),
    ('add_memory(content="x")', {"content": "x"}),                                            # Python call
])
def test_tool_call_spellings(body, expected):
    p = parse_tool_calls(f"<tool_call>{body}</tool_call>", known_tools=TOOLS)
    assert p.calls == [{"name": "add_memory", "arguments": expected}] and not p.malformed


def test_unterminated_and_malformed_blocks_are_counted():
    p = parse_tool_calls('<tool_call>{"name": "add_memory", "arguments": {"content": "a"}}</tool_call>'
                         '<tool_call>{"name": oops</tool_call><tool_call>\n{"name": "add_memory", "argu')
    assert p.calls == [{"name": "add_memory", "arguments": {"content": "a"}}]
    assert len(p.malformed) == 2


def test_untagged_replies():
    assert parse_tool_calls('{"name": "add_memory", "arguments": {"content": "a"}}', known_tools=TOOLS).calls
    assert parse_tool_calls('add_memory(content="a")\nsearch_memory(query="b")', known_tools=TOOLS).calls == [
        {"name": "add_memory", "arguments": {"content": "a"}},
        {"name": "search_memory", "arguments": {"query": "b"}}]
    plain = parse_tool_calls("The user moved to Berlin (nice).", known_tools=TOOLS)
    assert plain.calls == [] and plain.content.startswith("The user") and not plain.malformed
    assert parse_tool_calls('{"name": "rm_rf", "arguments": {}}', known_tools=TOOLS).calls == []


def test_memory_ids():
    for v in ("m3", "M3", "[m3]", "3", 3, "memory 3", " m3 "):
        assert normalize_memory_id(v) == "m3", v
    for v in ("x3", "", None, True, 0, "m0", "m3a", 2.5):
        assert normalize_memory_id(v) is None, v


def test_operation_lists():
    text = ('Sure! ```json\n[{"op": "update", "memory_id": "3", "content": "User lives in Berlin."},\n'
            '{"event": "ADD", "text": "User has a dog.", "id": "m9"}, {"op": "NONE"}, {"op": "FLY"}, '
            '"junk"]\n```')
    p = parse_operation_list(text)
    assert p.found_list
    assert p.operations == [{"op": "UPDATE", "memory_id": "m3", "content": "User lives in Berlin."},
                            # ADD ids: the state's
                            {"op": "ADD", "memory_id": None, "content": "User has a dog."}]
    assert len(p.malformed) == 2
    assert parse_operation_list("[]").found_list and parse_operation_list("[]").operations == []
    assert parse_operation_list('{"memory": [{"event": "DELETE", "id": "m2"}]}').operations == [
        {"op": "DELETE", "memory_id": "m2", "content": None}]
    bad = parse_operation_list("I think the user moved.")
    assert not bad.found_list and bad.malformed


def test_extract_json_and_lenient_loads():
    assert extract_json('The facts: ["User likes tea.", "User is 30."] and more') == ["User likes tea.",
                                                                                      "User is 30."]
    assert extract_json('x {"event": "NONE"} y', want=dict) == {"event": "NONE"}
    assert extract_json("a [b] c") is None  # [b] is not JSON
    assert extract_json('{"a": "has ] bracket"}', want=dict) == {"a": "has ] bracket"}
    assert loads_lenient("{'a': None, 'b': True}") == {"a": None, "b": True}
    assert loads_lenient('{"a": null, "b": true,}') == {"a": None, "b": True}
    with pytest.raises(ValueError):
        loads_lenient("{nope")
