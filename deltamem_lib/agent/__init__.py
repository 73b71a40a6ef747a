"""The DeltaMem memory agent and the systems it is compared with.

* :mod:`.env` — :class:`~.env.MemoryEnv`, the memory state behind the agent's four tools;
  it plugs into TRL's ``GRPOTrainer(environment_factory=...)`` unchanged;
* :mod:`.prompts` — system prompts and tool schemas, shared by inference and training;
* :mod:`.react` — the ReAct agent (search, then ADD / UPDATE / DELETE calls);
* :mod:`.oneshot` — the one-shot variant (related memories in the prompt, one JSON list);
* :mod:`.baselines` — Mem0-style pipeline, add-only extraction, oracle, full context;
* :mod:`.ingest` — whole users, session after session, resumable;
* :mod:`.evaluate` — ``r_trans``, operation F1 per type, invalid-call rate, cost;
* :mod:`.trajectories` — gold tool-calling trajectories for SFT;
* :mod:`.parsing` — lenient readers of tool calls and JSON operation lists.
"""
