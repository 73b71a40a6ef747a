"""The registry of memory systems by name (DeltaMem §3.1): the agent (ReAct or one-shot) and
each baseline, built by :func:`make_system`. What a system returns for a session
(:class:`SessionResult`) and the protocol it follows (:class:`MemorySystem`) live in
:mod:`.result` and are re-exported here.
"""

from __future__ import annotations

from typing import Any

from .baselines import AddOnlySystem, Mem0StyleSystem, NoopSystem, OracleSystem
from .oneshot import OneShotAgent
from .react import ReActAgent
from .result import MemorySystem, SessionResult

__all__ = ["SYSTEMS", "MemorySystem", "SessionResult", "make_system"]


SYSTEMS = {
    "oracle": "applies the gold operations (scores exactly 1)",
    "noop": "changes nothing (the floor: what 'do nothing' earns)",
    "deltamem": "the DeltaMem agent, ReAct: search, then ADD/UPDATE/DELETE tool calls",
    "deltamem-oneshot": "the DeltaMem agent, one-shot: related memories in the prompt, one JSON list",
    "mem0-style": "extract facts; per fact retrieve similar memories and decide ADD/UPDATE/DELETE/NONE",
    "add-only": "extract facts and add them all (recent Mem0 behaviour)",
}


_GENERATION = ("max_new_tokens", "temperature")
_ONLY = {"max_tool_calls": ("deltamem",), "related_k": ("deltamem-oneshot",), "top_k": ("mem0-style",),
         "max_facts": ("mem0-style", "add-only")}


def make_system(name: str, model: Any = None, **options: Any) -> Any:
    """Build a system by name (see :data:`SYSTEMS`); ``model`` is a chat backend
    (:func:`deltamem_lib.models.load_chat_model`) for the systems that need one.

    Options a system does not have are dropped, so one set of settings serves every system:
    generation settings (``max_new_tokens``, ``temperature``) go to the model-based systems,
    ``max_tool_calls`` to the ReAct agent, ``related_k`` to the one-shot agent, ``top_k`` and
    ``max_facts`` to the pipelines; :class:`~.env.MemoryEnv` options (``retriever``,
    ``allow_delete`` …) to all. ``model`` is ignored by ``oracle`` and ``noop``.
    """
    classes = {"oracle": OracleSystem, "noop": NoopSystem, "deltamem": ReActAgent,
               "deltamem-oneshot": OneShotAgent, "mem0-style": Mem0StyleSystem, "add-only": AddOnlySystem}
    if name not in classes:
        raise ValueError(f"unknown system {name!r}; choose one of: {', '.join(SYSTEMS)}")
    cls = classes[name]
    options = {k: v for k, v in options.items()
               if not (k in _GENERATION and name in ("oracle", "noop")) and name in _ONLY.get(k, (name,))}
    if name in ("oracle", "noop"):
        return cls(**options)
    if model is None:
        raise ValueError(f"system {name!r} needs a model (e.g. load_chat_model('smollm2'))")
    return cls(model, **options)
