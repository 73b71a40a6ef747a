"""The DeltaMem memory agent and the systems it is compared with (DeltaMem §3.1).

* :mod:`.env` — :class:`~.env.MemoryEnv`, the memory state behind the agent's four tools;
  it plugs into TRL's ``GRPOTrainer(environment_factory=...)`` unchanged;
* :mod:`.prompts` — system prompts, shared by inference and training (tool schemas:
  :func:`~.env.tool_schemas`);
* :mod:`.react` — the ReAct agent (search, then ADD / UPDATE / DELETE calls);
* :mod:`.oneshot` — the one-shot variant (related memories in the prompt, one JSON list);
* :mod:`.baselines` — Mem0-style pipeline, add-only extraction, oracle, no-op, full context;
* :mod:`.result` — the per-session result every system returns, and the protocol systems follow;
* :mod:`.systems` — systems by name (:func:`~.systems.make_system`);
* :mod:`.ingest` — whole users, session after session, batched across users, resumable;
* :mod:`.harness` — ``r_trans``, operation F1 per type, invalid-call rate, cost; splits;
* :mod:`.trajectories` — gold tool-calling trajectories for SFT (conversational and pre-tokenised);
* :mod:`.toy` — two hand-written users, the smallest complete example.

Reading model output (tool calls, JSON operation lists) is :mod:`deltamem_lib.models.parsing`;
notebook 03's tables, figures and checks are :mod:`deltamem_lib.teaching.memory_agent`.

Submodules are imported on use (``from deltamem_lib.agent.env import MemoryEnv``) so that
importing the package stays cheap.
"""
