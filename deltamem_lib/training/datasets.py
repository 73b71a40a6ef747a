"""Training data: RL rows with prompts, gold SFT targets, held-out sessions (DeltaMem §3.2–3.3).

One GRPO prompt is one session (DeltaMem §3.3: a rollout starts from the gold state before
the session, and the reward compares the state it leaves with the gold state after). The
rows are :func:`deltamem_lib.episodes.rl_rows` of synthetic users plus two columns:

* ``prompt`` — exactly what the agent reads at inference: for the one-shot agent the
  messages of :meth:`~deltamem_lib.agent.oneshot.OneShotAgent.prompt` (related memories with
  their ids, then the session); for the ReAct agent :func:`~deltamem_lib.agent.prompts.react_prompt`
  (TRL appends the session that ``MemoryEnv.reset`` returns);
* ``probes`` — the session's probe questions as JSON (for the outcome reward).

Training and test users are disjoint: held-out numbers measure people the model has never
seen. SFT targets are the gold operations: for the one-shot agent the JSON list of
operations (:func:`oneshot_target`), for the ReAct agent the gold tool-calling trajectory of
:mod:`deltamem_lib.agent.trajectories`. Both are pre-tokenised here, with a mask on the
tokens the model must learn to write (Arrow would otherwise merge the argument dictionaries
of different tools; ``docs/training_notes.md``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..agent.env import make_env_factory
from ..agent.oneshot import OneShotAgent
from ..agent.prompts import react_prompt
from ..agent.react import ReActAgent
from ..agent.trajectories import gold_trajectory, tokenize_trajectory
from ..episodes import Episode, SessionExample, parse_rl_row, rl_rows
from ..memory import OpType
from ..synthesis import SynthConfig, generate_episodes
from ..synthesis.dataset import load_synth_output
from ..synthesis.levels import KINDS, balanced_rows, single_change_pools, single_change_rows
from ..synthesis.probes import probe_questions
from .settings import TrainConfig

__all__ = ["TrainingData", "grpo_rows", "make_agent", "session_kind", "sft_rows", "oneshot_target",
           "prepare_data", "prompt_rows", "sft_records", "tokenize_prompt_completion"]


@dataclass
class TrainingData:
    """Rows for training and evaluation, and where they came from."""

    train_rows: list[dict[str, Any]]
    test_rows: list[dict[str, Any]]
    source: str
    stats: dict[str, Any] = field(default_factory=dict)
    level: str = "full"
    #: level "single": held-out sessions of the full level, for evaluating the trained adapter there too
    full_test_rows: list[dict[str, Any]] = field(default_factory=list)

    def train_examples(self) -> list[SessionExample]:
        return [parse_rl_row(r) for r in self.train_rows]

    def eval_rows(self, n: int, *, seed: int = 0) -> list[dict[str, Any]]:
        """A seeded sample of ``n`` held-out sessions in (user, session) order. Samples are
        nested: the sample for a smaller ``n`` is a subset of the one for a larger ``n``, so
        every model, and every ablation, is compared on the same sessions."""
        order = list(range(len(self.test_rows)))
        random.Random(f"eval:{seed}").shuffle(order)
        idx = sorted(order[:n]) if n >= 0 else sorted(order)
        return [self.test_rows[i] for i in idx]

    def eval_examples(self, n: int, *, seed: int = 0) -> list[SessionExample]:
        """:meth:`eval_rows` parsed into sessions with their gold states."""
        return [parse_rl_row(r) for r in self.eval_rows(n, seed=seed)]


def _probe_column(episodes: Sequence[Episode]) -> dict[str, str]:
    by_session: dict[str, list[dict[str, Any]]] = {}
    for ep in episodes:
        for p in probe_questions(ep):
            by_session.setdefault(p["session_id"], []).append(p)
    return {k: json.dumps(v, ensure_ascii=False) for k, v in by_session.items()}


def _rows(episodes: Sequence[Episode]) -> list[dict[str, Any]]:
    probes = _probe_column(episodes)
    return [{**r, "probes": probes.get(r["session_id"], "[]")} for r in rl_rows(episodes)]


def prepare_data(cfg: TrainConfig) -> TrainingData:
    """Training and held-out rows for a config.

    With ``cfg.data_dir`` the split of a ``deltamem synth`` folder is used (train users for
    training, test users for evaluation); otherwise ``train_users + test_users`` users are
    synthesised with ``cfg.data_seed`` and the last ``test_users`` are held out (each user is
    generated from its own random stream, so adding users never changes existing ones).
    """

    if cfg.data_dir:

        episodes, _, stats = load_synth_output(cfg.data_dir)
        splits = stats.get("splits") or {}
        train_ids, test_ids = set(splits.get("train", ())), set(splits.get("test", ()))
        if not train_ids or not test_ids:
            raise ValueError(f"{cfg.data_dir}: stats.json has no train/test user splits; regenerate it with "
                             "`deltamem synth`")
        train = [e for e in episodes if e.user_id in train_ids]
        test = [e for e in episodes if e.user_id in test_ids]
        source = str(Path(cfg.data_dir))
    else:
        n = cfg.train_users + cfg.test_users
        episodes = generate_episodes(SynthConfig(users=n, sessions=cfg.sessions_per_user, seed=cfg.data_seed))
        train, test = episodes[:cfg.train_users], episodes[cfg.train_users:]
        source = (f"procedural: {cfg.train_users} train + {cfg.test_users} test users × "
                  f"{cfg.sessions_per_user} sessions, seed {cfg.data_seed}")
    train_rows, test_rows = _rows(train), _rows(test)
    full_test_rows: list[dict[str, Any]] = []
    if cfg.level == "single":
        full_test_rows = test_rows
        train_rows, test_rows = _single_level(train, test, cfg)
        source += "; single-change level (one change or none per session, balanced over kinds)"
    if set(r["user_id"] for r in train_rows) & set(r["user_id"] for r in test_rows):
        raise ValueError("a user is in both the training and the test split")

    def share_changed(rows: list[dict[str, Any]]) -> float:
        return round(sum(bool(json.loads(r["gold_ops"])) for r in rows) / max(1, len(rows)), 3)

    stats = {"train_users": len(train), "test_users": len(test), "train_sessions": len(train_rows),
             "test_sessions": len(test_rows), "train_share_with_changes": share_changed(train_rows),
             "test_share_with_changes": share_changed(test_rows)}
    if cfg.level == "single":
        for name, rows in (("train", train_rows), ("test", test_rows)):
            stats[f"{name}_kinds"] = {k: sum(r["kind"] == k for r in rows) for k in KINDS}
    return TrainingData(train_rows, test_rows, source, stats, cfg.level, full_test_rows)


def _single_level(train: Sequence[Episode], test: Sequence[Episode], cfg: TrainConfig
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The single-change level (:mod:`deltamem_lib.synthesis.levels`): every balanced training
    session the training users allow, and ``ceil(eval_sessions / 4)`` held-out sessions of each
    kind from the test users."""
    pools = single_change_pools(train, seed=cfg.data_seed)
    train_rows = balanced_rows(pools, min(len(v) for v in pools.values()), seed=cfg.data_seed)
    test_rows = single_change_rows(test, -(-cfg.eval_sessions // len(KINDS)), seed=cfg.data_seed + 1,
                                   where="held-out users")
    probes = {**_probe_column(train), **_probe_column(test)}
    for r in train_rows + test_rows:  # the probes of the session the row was cut from
        r["probes"] = probes.get(r["session_id"].rsplit("-", 1)[0], "[]")
    return train_rows, test_rows


# ----- which sessions each stage trains on ----------------------------------------------------
def session_kind(row: dict[str, Any]) -> str:
    """``"unchanged"`` (no gold operation), ``"add_only"`` (only ADDs) or ``"revises"`` (at
    least one UPDATE or DELETE: the operations prompted managers miss most, DeltaMem §1)."""
    kinds = {o["op"] for o in json.loads(row["gold_ops"])} - {"NOOP"}
    if not kinds:
        return "unchanged"
    return "add_only" if kinds == {"ADD"} else "revises"


def sft_rows(rows: Sequence[dict[str, Any]], cfg: TrainConfig) -> list[dict[str, Any]]:
    """The ``cfg.sft_examples`` training sessions of the SFT warm start (seeded by
    ``cfg.sft_seed_value``: the seed, or the shared SFT start's own ``sft_seed``).

    With ``cfg.sft_unchanged_share`` ≥ 0 that share of them are sessions that change
    nothing (gold answer ``[]``), the rest drawn from the other sessions; ``-1`` keeps the
    data's own mix (about 9 % unchanged), from which a small model learns to always write
    something — and scores 0 where doing nothing scores 1. At the single-change level
    (``cfg.level == "single"``) the examples are balanced over the four kinds instead.
    """
    rng = random.Random(f"sft:{cfg.sft_seed_value}")
    rows = list(rows)
    rng.shuffle(rows)
    n = cfg.sft_examples
    if cfg.level == "single":  # balanced: the first n / 4 sessions of each kind, interleaved
        by_kind = {k: [r for r in rows if r["kind"] == k][: -(-n // len(KINDS))] for k in KINDS}
        picked = [r for group in zip(*by_kind.values()) for r in group][:n]
        if len(picked) < n:
            raise ValueError(f"sft_examples={n}: the single-change level of the training users holds only "
                             f"{min(map(len, by_kind.values()))} sessions of some kind; add train_users")
        return picked
    share = cfg.sft_unchanged_share
    if share < 0:
        return rows[:n]
    kinds = [session_kind(r) for r in rows]
    unchanged = [r for r, k in zip(rows, kinds) if k == "unchanged"]
    other = [r for r, k in zip(rows, kinds) if k != "unchanged"]
    k = min(len(unchanged), round(n * share))
    picked = unchanged[:k] + other[: n - k]
    rng.shuffle(picked)
    return picked


def grpo_rows(rows: Sequence[dict[str, Any]], cfg: TrainConfig) -> list[dict[str, Any]]:
    """The training sessions GRPO samples from: every session that revises or changes nothing,
    and a seeded ``cfg.grpo_add_only_keep`` share of the sessions that only ADD.

    Groups of ADD-only sessions mostly teach "ADD, never UPDATE" (an UPDATE there overwrites a
    fact that should stay); keeping fewer of them lets the groups that compare a right-id
    UPDATE with an ADD-instead-of-UPDATE carry more of the gradient. At the single-change level
    GRPO samples the (balanced) training sessions that SFT did not see.
    """
    if cfg.level == "single":  # the sessions SFT did not see, all kinds balanced already
        seen = {(r["user_id"], r["session_id"]) for r in sft_rows(rows, cfg)} if cfg.sft else set()
        left = [r for r in rows if (r["user_id"], r["session_id"]) not in seen]
        if not left:  # TRL would stop at step 0 without a word
            raise ValueError(f"GRPO has no training session left: SFT used all {len(rows)} single-change "
                             f"sessions (sft_examples {cfg.sft_examples}); raise train_users or "
                             "sessions_per_user, or lower sft_examples")
        return left
    keep = cfg.grpo_add_only_keep
    if keep >= 1.0:
        return list(rows)
    rng = random.Random(f"grpo-rows:{cfg.seed}")
    return [r for r in rows if session_kind(r) != "add_only" or rng.random() < keep]


# ----- prompts --------------------------------------------------------------------------------
def make_agent(cfg: TrainConfig, model: Any = None) -> Any:
    """The inference agent a config trains (one-shot or ReAct), on ``model`` (a chat backend).

    The training prompts are built by this same object, so what GRPO trains on is
    byte-for-byte what the agent reads at evaluation.
    """

    env = {"allow_delete": cfg.allow_delete, "retriever": cfg.retriever}
    if cfg.agent == "oneshot":
        return OneShotAgent(model, related_k=cfg.related_k, max_new_tokens=cfg.eval_max_new_tokens,
                            temperature=0.0, prompt_style=cfg.prompt_style, **env)
    # the room of a GRPO rollout: max_tool_calling_iterations rounds of tool calls after the first
    # reply, max_completion_length tokens for every turn and tool result together
    return ReActAgent(model, max_tool_calls=cfg.max_completion_length,
                      max_new_tokens=cfg.max_completion_length, max_turns=cfg.max_tool_calling_iterations,
                      max_total_tokens=cfg.max_completion_length, temperature=0.0, **env)


def prompt_rows(rows: Sequence[dict[str, Any]], cfg: TrainConfig) -> list[dict[str, Any]]:
    """RL rows with the ``prompt`` column of the config's agent."""

    if cfg.agent == "react":
        prompt = react_prompt(cfg.allow_delete)
        return [{**r, "prompt": [dict(m) for m in prompt]} for r in rows]
    agent = make_agent(cfg)
    return [{**r, "prompt": agent.prompt(parse_rl_row(r))} for r in rows]


# ----- SFT targets ----------------------------------------------------------------------------
def oneshot_json(ops: Sequence[Any], *, allow_delete: bool = True) -> str:
    """Operations as one JSON list, in the key order of the system prompt's example (``[]`` when
    nothing changes); DELETEs left out when ``allow_delete`` is false."""
    out = []
    for o in ops:
        if o.op is OpType.ADD:
            out.append({"op": "ADD", "content": o.content})
        elif o.op is OpType.UPDATE:
            out.append({"op": "UPDATE", "memory_id": o.memory_id, "content": o.content})
        elif o.op is OpType.DELETE:
            if allow_delete:
                out.append({"op": "DELETE", "memory_id": o.memory_id})
    return json.dumps(out, ensure_ascii=False)


def oneshot_target(example: SessionExample, *, allow_delete: bool = True) -> str:
    """The gold one-shot answer: the session's operations as :func:`oneshot_json` writes them."""
    return oneshot_json(example.gold_ops, allow_delete=allow_delete)


def tokenize_prompt_completion(tokenizer: Any, messages: list[dict[str, Any]], completion: str, *,
                               chat_template_kwargs: dict[str, Any] | None = None) -> dict[str, list[int]]:
    """``{"input_ids", "completion_mask"}``: the prompt as the generation prompt renders it,
    then the assistant's answer and its end-of-turn token (mask 1 on those)."""
    kw = dict(chat_template_kwargs or {})
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False, **kw)
    full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": completion}],
                                         tokenize=False, **kw)
    if full.startswith(prompt) and completion in full[len(prompt):]:
        tail = full[len(prompt):]
        end = tail.index(completion) + len(completion)
        # keep the end-of-turn marker that follows the answer (``<|im_end|>``), drop the newline after it
        rest = tail[end:]
        eot = rest[:rest.index(tokenizer.eos_token)
                   + len(tokenizer.eos_token)] if tokenizer.eos_token in rest else ""
        answer = tail[:end] + eot
    else:  # a template that rewrites the last turn: fall back to answer + EOS
        answer = completion + (tokenizer.eos_token or "")
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    c_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    return {"input_ids": p_ids + c_ids, "completion_mask": [0] * len(p_ids) + [1] * len(c_ids)}


def sft_records(rows: Sequence[dict[str, Any]], tokenizer: Any,
                cfg: TrainConfig) -> list[dict[str, list[int]]]:
    """Pre-tokenised SFT records for ``cfg.agent`` (longer than ``cfg.sft_max_length`` dropped)."""
    out = []
    if cfg.agent == "react":

        env_cls = make_env_factory(allow_delete=cfg.allow_delete, retriever=cfg.retriever)
        saved = tokenizer.chat_template
        try:
            from trl.chat_template_utils import get_training_chat_template, has_generation_markers

            if not has_generation_markers(saved):  # e.g. Qwen3: TRL's copy with {% generation %} markers
                tokenizer.chat_template = get_training_chat_template(tokenizer)
            for r in rows:
                ex = parse_rl_row(r)
                if not cfg.allow_delete and any(o.op is OpType.DELETE for o in ex.gold_ops):
                    continue
                rec = tokenize_trajectory(tokenizer, gold_trajectory(ex, env_cls=env_cls))
                if len(rec["input_ids"]) <= cfg.sft_max_length:
                    out.append(rec)
        finally:
            tokenizer.chat_template = saved
        return out
    kw = cfg.chat_template_kwargs()
    for r in prompt_rows(rows, cfg):
        ex = parse_rl_row(r)
        rec = tokenize_prompt_completion(tokenizer, r["prompt"],
                                         oneshot_target(ex, allow_delete=cfg.allow_delete),
                                         chat_template_kwargs=kw)
        if len(rec["input_ids"]) <= cfg.sft_max_length:
            out.append(rec)
    return out
