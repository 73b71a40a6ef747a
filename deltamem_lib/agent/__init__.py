"""The DeltaMem memory agent and the systems it is compared with (DeltaMem §3.1).

* :mod:`.env` — :class:`~.env.MemoryEnv`, the memory state behind the agent's four tools;
  it plugs into TRL's ``GRPOTrainer(environment_factory=...)`` unchanged;
* :mod:`.prompts` — system prompts and tool schemas, shared by inference and training;
* :mod:`.react` — the ReAct agent (search, then ADD / UPDATE / DELETE calls);
* :mod:`.oneshot` — the one-shot variant (related memories in the prompt, one JSON list);
* :mod:`.baselines` — Mem0-style pipeline, add-only extraction, oracle, no-op, full context;
* :mod:`.systems` — the per-session result every system returns, and systems by name;
* :mod:`.ingest` — whole users, session after session, batched across users, resumable;
* :mod:`.evaluate` — ``r_trans``, operation F1 per type, invalid-call rate, cost; splits;
* :mod:`.trajectories` — gold tool-calling trajectories for SFT (conversational and pre-tokenised);
* :mod:`.parsing` — lenient readers of tool calls and JSON operation lists;
* :mod:`.report` — table, figure and transcript view of notebook 03; :mod:`.exercises` its checks;
* :mod:`.toy` — two hand-written users, the smallest complete example.

Submodules are imported on use (``from deltamem_lib.agent.env import MemoryEnv``) so that
importing the package stays cheap.
"""
