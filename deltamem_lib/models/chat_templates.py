"""Chat templates that let a small ChatML model call tools, in the format TRL parses.

A chat template turns a conversation (and the tools' JSON schemas) into the text the model
reads; for tool calling it must (1) describe the tools, (2) render the assistant's earlier
calls and the tool results, and (3) agree with the *response parser* that reads calls back
out of generated text. TRL 1.16 parses ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``
blocks with its Qwen response template; SmolLM2 speaks ChatML like Qwen, so both templates
below use that exact call format.

* ``"qwen2.5"`` — TRL's copy of the Qwen2.5 tool template, byte for byte, so
  ``trl.chat_template_utils.add_response_schema`` recognises it. It prints every tool's full
  JSON schema: measured with SmolLM2's tokenizer on the memory agent's first prompt (system
  prompt, four tools, one session) it takes 950 tokens where the compact template takes 488
  (a synthetic 8-turn session; 851 vs 389 on the shorter toy session) — the tool block alone
  shrinks by about 460 tokens. :func:`measure_templates` reproduces the numbers.
* ``"compact"`` (the workbook's default for models without a tool template) — the same
  ChatML turns and ``<tool_call>`` format, one line per tool
  (``- add_memory(content: string): Store a new memory ...``), and ``{% generation %}`` markers
  around assistant turns so SFT can train on assistant tokens only. On a 2-core CPU every
  prompt token is paid at every decoding step of every rollout, so the shorter prompt is
  the choice; the response parser is set by hand (:func:`set_tool_chat_template`), because
  ``add_response_schema`` only knows the upstream templates.

Both are prefix-preserving (an earlier turn renders the same whatever follows), which TRL's
multi-turn GRPO requires.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "COMPACT_TOOL_TEMPLATE",
    "has_tool_template",
    "measure_templates",
    "qwen_response_template",
    "set_tool_chat_template",
    "training_template",
]

COMPACT_TOOL_TEMPLATE = (
    "{%- if messages and messages[0]['role'] == 'system' %}"
    "{%- set system_message = messages[0]['content'] %}{%- set loop_messages = messages[1:] %}"
    "{%- else %}"
    "{%- set system_message = 'You are a helpful assistant.' %}{%- set loop_messages = messages %}"
    "{%- endif %}"
    "{{- '<|im_start|>system\\n' + system_message }}"
    "{%- if tools %}"
    "{{- '\\n\\nTools. To call one, write <tool_call>{\"name\": ..., \"arguments\": {...}}</tool_call>:' }}"
    "{%- for tool in tools %}"
    "{%- set f = tool.function if tool.function is defined else tool %}"
    "{{- '\\n- ' + f.name + '(' }}"
    "{%- if f.parameters is defined and f.parameters.properties is defined %}"
    "{%- set req = f.parameters.required if f.parameters.required is defined else [] %}"
    "{%- for pname, p in f.parameters.properties.items() %}"
    "{{- pname }}{%- if pname not in req %}{{- '?' }}{%- endif %}{{- ': ' + (p.type | string) }}"
    "{%- if not loop.last %}{{- ', ' }}{%- endif %}"
    "{%- endfor %}"
    "{%- endif %}"
    "{{- '): ' + (f.description | default('')) }}"
    "{%- endfor %}"
    "{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- for message in loop_messages %}"
    "{%- if message.role == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- generation %}"
    "{%- if message.content %}{{- message.content }}{%- endif %}"
    "{%- if message.tool_calls %}"
    "{%- for tool_call in message.tool_calls %}"
    "{%- set tc = tool_call.function if tool_call.function is defined else tool_call %}"
    "{%- if message.content or not loop.first %}{{- '\\n' }}{%- endif %}"
    "{{- '<tool_call>\\n{\"name\": \"' + tc.name + '\", \"arguments\": ' }}"
    "{%- if tc.arguments is string %}{{- tc.arguments }}{%- else %}{{- tc.arguments | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{%- endif %}"
    "{{- '<|im_end|>' }}"
    "{%- endgeneration %}"
    "{{- '\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if loop.first or loop_messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif "
    "%}{{- '\\n<tool_response>\\n' + (message.content | string) + '\\n</tool_response>' }}"
    "{%- if loop.last or loop_messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- else %}"
    "{{- '<|im_start|>' + message.role + '\\n' + (message.content | string) + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def qwen_response_template() -> dict[str, Any]:
    """TRL's response template for ``<tool_call>{json}</tool_call>`` (the Qwen family)."""
    from trl.chat_template_utils import qwen3_template

    return qwen3_template


def has_tool_template(tokenizer: Any) -> bool:
    """Whether the tokenizer's own template renders tools and tool calls (TRL's check)."""
    from trl.chat_template_utils import supports_tool_calling

    try:
        return bool(tokenizer.chat_template) and supports_tool_calling(tokenizer)
    except Exception:  # noqa: BLE001 — a broken template simply does not support tools
        return False


def set_tool_chat_template(tokenizer: Any, kind: str = "compact") -> Any:
    """Give ``tokenizer`` a tool-calling chat template and the matching response parser.

    Args:
        tokenizer: a transformers tokenizer of a ChatML model (SmolLM2, Qwen).
        kind: ``"compact"`` or ``"qwen2.5"`` (see the module docstring), or ``"keep"`` to
            leave the template and only add a response parser if missing.

    Returns:
        The same tokenizer (changed in place).
    """
    if kind == "compact":
        tokenizer.chat_template = COMPACT_TOOL_TEMPLATE
        tokenizer.response_template = qwen_response_template()
    elif kind in ("qwen2.5", "qwen2_5"):
        from trl.chat_template_utils import add_response_schema, qwen2_5_chat_template

        tokenizer.chat_template = qwen2_5_chat_template
        tokenizer.response_template = None
        add_response_schema(tokenizer)
    elif kind == "keep":
        if getattr(tokenizer, "response_template", None) is None and getattr(tokenizer, "response_schema",
                                                                             None) is None:
            try:
                from trl.chat_template_utils import add_response_schema

                add_response_schema(tokenizer)
            except ValueError:
                tokenizer.response_template = qwen_response_template()
    else:
        raise ValueError(f"unknown chat template kind {kind!r}; expected 'compact', 'qwen2.5' or 'keep'")
    return tokenizer


def training_template(tokenizer: Any) -> str | None:
    """The template TRL's ``GRPOTrainer`` renders tool conversations with, or None when it uses
    the tokenizer's own: TRL swaps a template that is not prefix-preserving (Qwen3's drops the
    empty ``<think>`` block of earlier assistant turns) for its training version
    (``trl.chat_template_utils.get_training_chat_template``). The inference backend renders tool
    conversations with the same template, so an agent meets at evaluation, turn after turn, the
    text it was trained on."""
    from trl.chat_template_utils import get_training_chat_template, is_chat_template_prefix_preserving

    try:
        if not tokenizer.chat_template or is_chat_template_prefix_preserving(tokenizer):
            return None
        return get_training_chat_template(tokenizer)
    except Exception:  # noqa: BLE001 — a template TRL cannot check is used as it is, as TRL would fail on it
        return None


def measure_templates(tokenizer: Any, messages: list[dict[str, Any]], tools: list[Any]) -> dict[str, int]:
    """Prompt tokens of one conversation under each template (the measurement behind the
    choice of the compact template). The tokenizer is left as it was."""
    saved = (tokenizer.chat_template, getattr(tokenizer, "response_template", None))
    out = {}
    try:
        for kind in ("qwen2.5", "compact"):
            set_tool_chat_template(tokenizer, kind)
            ids = tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True,
                                                tokenize=True, return_dict=False)
            out[kind] = len(ids)
    finally:
        tokenizer.chat_template, tokenizer.response_template = saved
    return out
