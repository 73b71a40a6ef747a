"""The memory environment: DeltaMem's state transition as four tools.

DeltaMem (§3.1) casts memory management as a state transition ``S_{t+1} = f(S_t, d_{t+1})``
carried out by an agent that searches the memory and emits ADD / UPDATE / DELETE operations;
RL (§3.3) starts every rollout from the *gold* state before the session and rewards the
state the agent leaves with ``r_trans`` (the MLD reward, ``docs/mld_spec.md``).
:class:`MemoryEnv` is exactly that, in the shape TRL 1.16 expects of an
``environment_factory``:

* its public methods with type hints and Google-style docstrings are the **tools**
  (``search_memory``, ``add_memory``, ``update_memory``, ``delete_memory``); the chat template
  renders them from the docstrings, TRL calls them with the parsed arguments;
* ``reset(**row)`` receives one RL row (every dataset column, ``prompt`` included), loads the
  gold state before the session, and returns the session text that TRL appends to the
  prompt;
* ``get_reward()`` returns ``r_trans`` of the current state against the gold state after.

Invalid calls (unknown id, empty content, wrong argument names or types) raise
:class:`ToolCallError`: TRL shows the model ``{"error": <reason>}`` and counts it in
``tools/failure_frequency``; the environment logs it and counts it in ``invalid_calls`` (a
separate reward component for the training notebook), and the state is never touched by
a rejected call (each call is one lenient :meth:`MemoryState.apply`).

TRL calls the factory with no arguments, so options (the no-DELETE ablation, reward
settings, the retriever) are class attributes; :func:`make_env_factory` returns a subclass
with them set.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..episodes import SessionExample, parse_rl_row
from ..memory import MemoryEntry, MemoryState, Operation, OpType
from ..mld import MLDOptions
from ..models.parsing import normalize_memory_id
from ..retrieval import get_retriever
from .prompts import session_observation

__all__ = ["ENV_OPTIONS", "MemoryEnv", "ToolCallError", "apply_operations", "make_env_factory",
           "note_unknown_calls", "tool_schemas"]

ENV_OPTIONS: dict[str, str] = {
    "allow_delete": "expose delete_memory (False: the no-DELETE ablation)",
    "similarity": "MLD similarity: 'lexical' or 'embedding' (or a sentence-transformers model id)",
    "threshold": "MLD threshold tau: pairs below it earn nothing",
    "lexical_fidelity": "MLD keyword check (False: the ablation of the paper's Figure 3)",
    "scope": "MLD scope: 'delta' (the paper's r_trans) or 'state' (whole-state variant)",
    "retriever": "search_memory backend: 'auto' (MiniLM, else BM25), 'embedding' or 'lexical'",
    "default_top_k": "results of search_memory when the model gives no top_k",
    "max_top_k": "upper bound on top_k",
    "preview_memories": "memories related to the session shown in the observation (0: the agent must search)",
}
#: The ENV_OPTIONS that are settings of the reward, kept together as ``MemoryEnv.mld``.
_MLD_NAMES = ("similarity", "threshold", "lexical_fidelity", "scope")

_LOG = logging.getLogger(__name__)


class ToolCallError(ValueError):
    """An invalid tool call; the message is the reason shown to the model."""


def _tool(fn: Callable[..., str]) -> Callable[..., str]:
    """Make a method a logged, counted tool: bad argument names or types and rejected
    operations become a :class:`ToolCallError` recorded in the call log."""
    sig = inspect.signature(fn)
    shown = "(" + ", ".join(p for p in list(sig.parameters)[1:]) + ")"

    @functools.wraps(fn)
    def wrapper(self: MemoryEnv, *args: Any, **kwargs: Any) -> str:
        arguments = dict(zip(list(sig.parameters)[1:], args)) | kwargs
        try:
            try:
                sig.bind(self, *args, **kwargs)
            except TypeError as exc:
                extra = sorted(set(kwargs) - set(sig.parameters))
                why = f"unexpected argument(s) {', '.join(map(repr, extra))}" if extra else str(exc)
                raise ToolCallError(f"{fn.__name__}: {why}; expected {fn.__name__}{shown}") from None
            result = fn(self, *args, **kwargs)
        except ToolCallError as exc:
            self._log.append({"tool": fn.__name__, "arguments": arguments, "ok": False, "result": str(exc)})
            self._invalid += 1
            _LOG.debug("rejected %s(%s): %s", fn.__name__, arguments, exc)
            raise
        self._log.append({"tool": fn.__name__, "arguments": arguments, "ok": True, "result": result})
        return result

    return wrapper


class MemoryEnv:
    """A user's memory state for one session, with the agent's four tools.

    Use directly (``env.reset(**row)``, then the tools, then ``env.get_reward()``) or pass the
    class, or :func:`make_env_factory`'s subclass, as ``GRPOTrainer(environment_factory=...)``.
    """

    allow_delete: bool = True
    mld: MLDOptions = MLDOptions()  # the reward's settings (make_env_factory takes them by name)
    retriever: str = "auto"
    default_top_k: int = 5
    max_top_k: int = 20
    preview_memories: int = 0

    def __init__(self) -> None:
        self._state = MemoryState()
        self._gold_after: MemoryState | None = None
        self._example: SessionExample | None = None
        self._log: list[dict[str, Any]] = []
        self._invalid = 0
        self._applied: list[Operation] = []
        self._last_result: Any = None
        self._unknown = 0

    # ----- episode ----------------------------------------------------------------------
    def reset(self, **row: Any) -> str:
        """Load one RL row (the gold state before the session, the session, the gold state
        after) and return the session as the agent reads it.

        Args:
            **row: the columns of one :func:`deltamem_lib.episodes.rl_rows` row; extra columns
                such as ``prompt`` are ignored. A ``SessionExample`` may be passed as
                ``example=``.
        """
        example = row["example"] if isinstance(row.get("example"), SessionExample) else parse_rl_row(row)
        return self._load(example)

    def _load(self, example: SessionExample) -> str:
        self._example = example
        self._state = example.state_before.copy()
        self._state.log = []
        self._gold_after = example.state_after
        self._log, self._invalid, self._applied, self._last_result, self._unknown = [], 0, [], None, 0
        related: Sequence[MemoryEntry] = ()
        if self.preview_memories > 0 and len(self._state):
            query = " ".join(t.text for t in example.turns if t.speaker == "user")
            related = [e for e, _ in self._retriever().search(query, self._state.entries,
                                                              self.preview_memories)]
        return session_observation(example, related=related)

    def get_reward(self) -> float:
        """``r_trans`` of the current state against the gold state after the session."""
        if self._gold_after is None:
            raise RuntimeError("MemoryEnv.get_reward() before reset(): no session loaded")
        self._last_result = self.mld.score(
            list(self._state.entries), list(self._gold_after.entries),
            before=list(self._example.state_before.entries) if self._example is not None else None)
        return float(self._last_result.reward)

    # ----- tools ------------------------------------------------------------------------
    @_tool
    def search_memory(self, query: str, top_k: int = 5) -> str:
        """Search the user's memory for entries related to a query.

        Args:
            query: What to look for, for example a topic or a fact from the session.
            top_k: How many memories to return, at most 20.

        Returns:
            The matching memories, one per line as "[id] content (date)".
        """
        if not isinstance(query, str) or not query.strip():
            raise ToolCallError("search_memory needs a non-empty query string")
        k = self._as_int(top_k, "top_k")
        k = max(1, min(k, self.max_top_k))
        if not len(self._state):
            return "The memory is empty."
        hits = self._retriever().search(query, self._state.entries, k)
        if not hits:
            return f"No memory matches {query!r}."
        return "\n".join(f"[{e.id}] {e.content}" + (f" ({e.timestamp})" if e.timestamp else "")
                         for e, _ in hits)

    @_tool
    def add_memory(self, content: str) -> str:
        """Store a new fact about the user.

        Args:
            content: The fact, one short sentence about the user.

        Returns:
            The new memory with its id.
        """
        self._apply(Operation.add(self._as_text(content, "content")))
        e = self._state[self._applied[-1].memory_id]  # type: ignore[index]
        return f"Added [{e.id}] {e.content}"

    @_tool
    def update_memory(self, memory_id: str, content: str) -> str:
        """Rewrite a memory whose fact has changed.

        Args:
            memory_id: The id of the memory to rewrite, for example "m3".
            content: The corrected fact, one short sentence about the user.

        Returns:
            The memory before and after.
        """
        mid = self._as_id(memory_id)
        old = self._state[mid].content
        self._apply(Operation.update(mid, self._as_text(content, "content")))
        return f"Updated [{mid}] {old} -> {self._state[mid].content}"

    @_tool
    def delete_memory(self, memory_id: str) -> str:
        """Remove a memory that is no longer true.

        Args:
            memory_id: The id of the memory to remove, for example "m3".

        Returns:
            The removed memory.
        """
        if not self.allow_delete:
            raise ToolCallError("delete_memory is not available in this configuration")
        mid = self._as_id(memory_id)
        old = self._state[mid].content
        self._apply(Operation.delete(mid))
        return f"Deleted [{mid}] {old}"

    # ----- read-only views (properties are not tools) ------------------------------------
    @property
    def state(self) -> MemoryState:
        """The current memory state (a copy)."""
        return self._state.copy()

    @property
    def example(self) -> SessionExample | None:
        return self._example

    @property
    def invalid_calls(self) -> int:
        """Tool calls rejected in this episode (bad arguments, unknown id, empty content, a tool
        that does not exist)."""
        return self._invalid + self._unknown

    @property
    def num_calls(self) -> int:
        """Tool calls made in this episode, valid or not."""
        return len(self._log) + self._unknown

    @property
    def call_log(self) -> list[dict[str, Any]]:
        """Every call of this episode: ``{"tool", "arguments", "ok", "result"}``."""
        return list(self._log)

    @property
    def operations(self) -> list[Operation]:
        """The operations applied in this episode (ADDs with their allocated ids)."""
        return list(self._applied)

    @property
    def last_reward(self) -> Any:
        """The full MLD result of the last :meth:`get_reward` (pairs, precision, recall)."""
        return self._last_result

    # ----- helpers ----------------------------------------------------------------------
    def _retriever(self) -> Any:
        return get_retriever(self.retriever)

    def _apply(self, op: Operation) -> None:
        ex = self._example
        source = {"session_id": ex.session_id, "turns": []} if ex else None
        res = self._state.apply([op], timestamp=ex.date if ex else None, source=source, strict=False,
                                allow_delete=self.allow_delete)
        if res.rejected:
            raise ToolCallError(res.rejected[0].reason)
        self._applied.extend(res.applied)

    def _as_id(self, value: Any) -> str:
        mid = normalize_memory_id(value)
        if mid is None:
            raise ToolCallError(f"memory_id must look like 'm3', got {value!r}")
        if mid not in self._state:
            raise ToolCallError(f"unknown memory id {mid!r}; search_memory shows the ids")
        return mid

    @staticmethod
    def _as_text(value: Any, name: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ToolCallError(f"{name} must be a non-empty sentence, got {value!r}")
        return value.strip()

    @staticmethod
    def _as_int(value: Any, name: str) -> int:
        if isinstance(value, bool):
            raise ToolCallError(f"{name} must be an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ToolCallError(f"{name} must be an integer, got {value!r}") from None


def note_unknown_calls(env: MemoryEnv, completion: Sequence[Mapping[str, Any]]) -> int:
    """Count the calls of a TRL rollout (its completion messages) to tools ``env`` does not
    offer, such as ``delete_memory`` in the no-DELETE ablation, into its :attr:`~MemoryEnv.invalid_calls`.

    TRL answers such a call itself ("Tool … not found") without reaching the environment, so
    the count is set from the transcript, before the rewards read it (idempotent: setting it
    twice counts once). Returns the count. A function, not a method: every public method of
    the environment would be offered to the model as a tool.
    """
    offered = {name for name, fn in inspect.getmembers(type(env), predicate=inspect.isfunction)
               if not name.startswith("_") and name not in ("reset", "get_reward")}
    unknown = 0
    for message in completion if isinstance(completion, (list, tuple)) else ():
        if isinstance(message, Mapping) and message.get("role") == "assistant":
            for call in message.get("tool_calls") or ():
                fn = call.get("function", call) if isinstance(call, Mapping) else {}
                unknown += (fn.get("name") if isinstance(fn, Mapping) else None) not in offered
    env._unknown = unknown
    return unknown


def make_env_factory(**options: Any) -> type[MemoryEnv]:
    """A :class:`MemoryEnv` subclass with options set (TRL calls the factory without arguments).

    The reward's settings come as one ``mld=MLDOptions(...)`` or by their names
    (``similarity``, ``threshold``, ``lexical_fidelity``, ``scope``; these replace the
    matching fields of ``mld``); either way they are checked once, here.

    Example: ``GRPOTrainer(..., environment_factory=make_env_factory(allow_delete=False))``.
    The subclass keeps the name ``MemoryEnv`` so TRL logs its reward as ``rewards/MemoryEnv/mean``.
    With ``allow_delete=False`` the ``delete_memory`` tool is removed from the class, so the
    model is not offered it at all.
    """
    unknown = sorted(set(options) - set(ENV_OPTIONS) - {"mld"})
    if unknown:
        raise ValueError(f"unknown MemoryEnv option(s) {unknown}; known: {sorted(ENV_OPTIONS)} or mld")
    if options.get("retriever", "auto") not in ("auto", "embedding", "lexical"):
        raise ValueError(f"retriever must be auto, embedding or lexical, got {options['retriever']!r}")
    attrs: dict[str, Any] = {k: v for k, v in options.items() if k not in _MLD_NAMES}
    named = {k: options[k] for k in _MLD_NAMES if k in options}
    mld = attrs.get("mld", MemoryEnv.mld)
    if not isinstance(mld, MLDOptions):
        raise TypeError(f"mld={mld!r}: expected an MLDOptions")
    attrs["mld"] = dataclasses.replace(mld, **named) if named else mld  # checked once, here
    if attrs["mld"].scope not in ("delta", "state"):
        raise ValueError(f"scope must be 'delta' or 'state', got {attrs['mld'].scope!r}")
    if options.get("allow_delete", True) is False:
        attrs["delete_memory"] = None  # not a function any more: TRL and tool_schemas skip it
    attrs["__doc__"] = MemoryEnv.__doc__
    attrs["__module__"] = __name__
    return type("MemoryEnv", (MemoryEnv,), attrs)


def apply_operations(env: MemoryEnv, operations: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Apply parsed operations (``{"op", "memory_id", "content"}``) through the environment's
    own tools, so the one-shot agent and the baselines share the ReAct agent's validation,
    logging and counting. Returns one ``{"operation", "ok", "result"}`` per item."""
    out = []
    for op in operations:
        kind = str(op.get("op", "")).upper()
        try:
            if kind == OpType.ADD.value:
                res = env.add_memory(op.get("content"))  # type: ignore[arg-type]
            elif kind == OpType.UPDATE.value:
                res = env.update_memory(op.get("memory_id"), op.get("content"))  # type: ignore[arg-type]
            elif kind == OpType.DELETE.value:
                if not callable(getattr(env, "delete_memory", None)):
                    env._log.append({"tool": "delete_memory", "arguments": dict(op), "ok": False,
                                     "result": "delete_memory is not available in this configuration"})
                    env._invalid += 1
                    raise ToolCallError("delete_memory is not available in this configuration")
                res = env.delete_memory(op.get("memory_id"))  # type: ignore[arg-type]
            elif kind == OpType.NOOP.value:
                continue
            else:
                env._log.append({"tool": "?", "arguments": dict(op), "ok": False,
                                 "result": f"unknown op {kind!r}"})
                env._invalid += 1
                raise ToolCallError(f"unknown operation {kind!r}")
            out.append({"operation": dict(op), "ok": True, "result": res})
        except ToolCallError as exc:
            out.append({"operation": dict(op), "ok": False, "result": str(exc)})
    return out


def tool_schemas(env_cls: Any = None) -> list[dict[str, Any]]:
    """JSON schemas of the environment's tools, exactly as TRL renders them (from the typed,
    Google-style documented public methods of the class, ``reset``/``get_reward`` excluded)."""
    import inspect

    from transformers.utils import get_json_schema

    if env_cls is None:
        env_cls = MemoryEnv
    return [get_json_schema(fn) for name, fn in inspect.getmembers(env_cls, predicate=inspect.isfunction)
            if not name.startswith("_") and name not in ("reset", "get_reward")]
