"""Reward functions for GRPO, one named function per component (DeltaMem §3.3).

TRL's contract: a reward function is called as ``f(prompts=..., completions=...,
**columns)`` and returns one float per rollout; TRL logs ``rewards/<name>/mean`` and ``/std``
for each function, and the GRPO reward of a rollout is the weighted sum. The columns of the
RL row (``state_before``, ``state_after``, ``session`` …) arrive as lists, and with
``environment_factory`` the per-rollout environments arrive as ``environments=``.

Components (weights in :class:`~deltamem_lib.training.settings.TrainConfig`):

* ``r_trans`` — the state reward: the dense MLD reward of the memory state the rollout leaves
  against the gold state after the session, normalised by the size of the two transitions
  (``docs/mld_spec.md``: a partly right session earns the share it got right, doing nothing
  on a changed session 0). In ReAct training with the default settings it is the
  environment's own ``get_reward`` (TRL adds it with weight 1 and logs it as
  ``rewards/MemoryEnv``); otherwise it is this function. Variants take the ablation's name:
  ``r_state`` (whole-state scope), ``r_trans_no_fidelity`` (no keyword check), ``r_ordered``
  (the ordered Levenshtein variant).
* an auxiliary MLD component (``w_state_aux`` > 0, an ablation): ``aux_scope="state"``:
  ``r_state``, the whole-state MLD — the unchanged part of the memory dominates it, so doing
  nothing already scores high; ``aux_scope="transition"``: ``r_transition`` (beyond the spec,
  ``mld.py``), the MLD over the entries the session touches in the state before, the
  prediction or the gold state. (Both were added when ``r_trans`` was normalised by its own
  residual and gave a partly right session 0; the dense ``r_trans`` credits it itself.)
* ``r_ops`` (``w_ops`` > 0) — operation-level shaping from the synthetic data's labels
  (:mod:`.shaping`): soft F1 of the rollout's changes against the gold operations, an
  UPDATE credited only on its id, so keeping a stale fact next to the new one earns less
  than leaving the update out. Beyond the paper; the notebook shows what it pays per mistake.
* ``idle`` (``w_idle`` > 0) — ``-1`` when the session changes something and the rollout
  changed nothing, else 0: breaks the tie between doing nothing and a failed attempt, which
  otherwise lets GRPO collapse to answering ``[]`` everywhere (measured in notebook 04).
* ``outcome`` — the AtomMem / Memory-R1 alternative: share of the session's probe questions
  the deterministic reader answers from the memory (:mod:`deltamem_lib.outcome`).
* ``invalid_calls`` — ``-(rejected operations / attempted operations)``: an unknown id, an
  empty sentence, a DELETE where none is allowed. Kept apart from ``r_trans`` so the MLD
  reward stays the paper's.
* ``format`` — ``-1`` when the output cannot be read at all (no JSON list in a one-shot
  answer, an unparseable ``<tool_call>`` block in a ReAct turn), else 0.

One-shot rollouts are scored by parsing the JSON list and applying it through a fresh
:class:`~deltamem_lib.agent.env.MemoryEnv` — the same validation as the agent at inference.
All components read one shared :class:`RolloutScorer`, which parses each batch once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..agent.env import apply_operations, make_env_factory
from ..episodes import SessionExample, parse_rl_row
from ..memory import MemoryState
from ..mistakes import MISTAKES, make_scenarios, predictions
from ..mld import MLDOptions
from ..models.parsing import parse_operation_list
from ..outcome import outcome_accuracy
from .settings import TrainConfig
from .shaping import operation_f1

__all__ = ["Rollout", "RolloutScorer", "apply_rewards", "build_reward_functions", "completion_text",
           "env_owns_reward", "reward_on_mistakes", "state_reward_name", "total_rewards"]


@dataclass
class Rollout:
    """One scored rollout: the state it left and what went wrong on the way."""

    example: SessionExample
    state: MemoryState
    attempted: int = 0
    invalid: int = 0
    malformed: bool = False
    probes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def invalid_share(self) -> float:
        return self.invalid / self.attempted if self.attempted else 0.0


def completion_text(completion: Any) -> str:
    """The assistant text of a completion (a string, or TRL's list of messages)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence):
        return "\n".join(str(m.get("content") or "") for m in completion
                         if isinstance(m, Mapping) and m.get("role") == "assistant")
    return str(completion)


def _react_malformed(completion: Any) -> bool:
    """A ``<tool_call>`` block left in an assistant message's text: TRL could not parse it."""
    return "<tool_call>" in completion_text(completion)


class RolloutScorer:
    """Parses and applies a batch of rollouts once; every reward component reads the result.

    Args:
        agent: ``"oneshot"`` (parse the JSON list and apply it) or ``"react"`` (read the
            environments TRL ran the tool calls on).
        env_options: options of the :class:`~deltamem_lib.agent.env.MemoryEnv` used to apply
            one-shot operations (``allow_delete`` …).
    """

    def __init__(self, agent: str = "oneshot", env_options: Mapping[str, Any] | None = None) -> None:
        self.agent = agent
        self.env_cls = make_env_factory(**dict(env_options or {}))
        self._key: tuple[Any, ...] | None = None
        self._rollouts: list[Rollout] = []
        self._examples: dict[str, SessionExample] = {}

    def _example(self, row: Mapping[str, Any]) -> SessionExample:
        key = f"{row['user_id']}/{row['session_id']}"
        if key not in self._examples:
            if len(self._examples) > 4096:
                self._examples.clear()
            self._examples[key] = parse_rl_row(row)
        return self._examples[key]

    def score(self, completions: Sequence[Any], environments: Sequence[Any] | None = None,
              log_metric: Callable[[str, float], None] | None = None, **columns: Any) -> list[Rollout]:
        """The rollouts of a batch (cached: the components of one batch share the work)."""
        texts = tuple(completion_text(c) for c in completions)
        key = (texts, tuple(columns.get("session_id", ())), tuple(id(e) for e in environments or ()))
        if key == self._key:
            return self._rollouts
        n = len(completions)
        rows = [{k: v[i] for k, v in columns.items() if isinstance(v, list) and len(v) == n}
                for i in range(n)]
        out = []
        for i, row in enumerate(rows):
            ex = self._example(row)
            probes = json.loads(row["probes"]) if isinstance(row.get("probes"),
                                                             str) else list(row.get("probes") or [])
            if self.agent == "react":
                if environments is None:
                    raise ValueError("ReAct rewards need the environments TRL ran (environment_factory)")
                env = environments[i]
                out.append(Rollout(ex, env.state, env.num_calls, env.invalid_calls,
                                   _react_malformed(completions[i]), probes))
            else:
                out.append(self.apply_oneshot(ex, texts[i], probes))
        self._key, self._rollouts = key, out
        if log_metric is not None and out:
            attempted = sum(r.attempted for r in out)
            log_metric("rollouts/invalid_call_rate", sum(r.invalid for r in out) / attempted if attempted
                       else 0.0)
            log_metric("rollouts/malformed_rate", sum(r.malformed for r in out) / len(out))
            log_metric("rollouts/operations", attempted / len(out))
            log_metric("rollouts/no_op_share", sum(r.attempted == 0 for r in out) / len(out))
        return out

    def apply_oneshot(self, example: SessionExample, text: str,
                      probes: list[dict[str, Any]] | None = None) -> Rollout:
        """Parse a one-shot answer and apply it to the gold state before (fresh environment)."""

        env = self.env_cls()
        env.reset(example=example)
        parsed = parse_operation_list(text)
        apply_operations(env, parsed.operations)
        return Rollout(example, env.state, env.num_calls + len(parsed.malformed),
                       env.invalid_calls + len(parsed.malformed), not parsed.found_list, list(probes or []))


def state_reward_name(*, scope: str = "delta", lexical_fidelity: bool = True, ordered: bool = False) -> str:
    """The logged name of the state reward for a setting (``r_trans`` for the paper's)."""
    if ordered:
        return "r_ordered"
    name = {"delta": "r_trans", "state": "r_state", "transition": "r_transition"}[scope]
    return name if lexical_fidelity else f"{name}_no_fidelity"


def build_reward_functions(cfg: TrainConfig, scorer: RolloutScorer | None = None, *,
                           env_owns_reward: bool = False
                           ) -> tuple[list[Callable[..., list[float]]], list[float], RolloutScorer]:
    """The reward functions and weights for a config (one function per component).

    Args:
        cfg: a :class:`~deltamem_lib.training.settings.TrainConfig`.
        scorer: share a scorer (default: a new one for ``cfg``).
        env_owns_reward: ReAct with the paper's reward: the environment's ``get_reward`` is
            ``r_trans`` (TRL appends it with weight 1), so no ``r_trans`` function is added.

    Returns:
        ``(functions, weights, scorer)``. With the outcome reward, the paper's ``r_trans`` is
        still computed and logged, with weight 0, so the two runs can be compared.
    """
    scorer = scorer or RolloutScorer(cfg.agent, cfg.env_options())
    mld = cfg.mld_options()

    def rollouts(completions: Sequence[Any], kwargs: dict[str, Any]) -> list[Rollout]:
        kw = {k: v for k, v in kwargs.items() if k not in ("prompts", "completion_ids", "trainer_state",
                                                           "log_extra")}
        return scorer.score(completions, **kw)

    def make_state(scope: str, lexical_fidelity: bool, ordered: bool) -> Callable[..., list[float]]:
        opts = dataclasses.replace(mld, scope=scope, lexical_fidelity=lexical_fidelity)
        return _component(state_reward_name(scope=scope, lexical_fidelity=lexical_fidelity, ordered=ordered),
                          "State reward: MLD of the rollout's memory against the gold state after.",
                          lambda r: _state_value(r, opts, ordered=ordered), rollouts)

    def make(name: str) -> Callable[..., list[float]]:
        doc, value = _COMPONENTS[name]
        return _component(name, doc, lambda r: value(r, mld), rollouts)

    funcs: list[Callable[..., list[float]]] = []
    weights: list[float] = []
    main = make_state(cfg.scope, cfg.lexical_fidelity, cfg.ordered)
    state = cfg.reward == "state"
    if state and not env_owns_reward:
        funcs.append(main)
        weights.append(cfg.w_state)
    elif not state:
        funcs.append(make("outcome"))
        weights.append(cfg.w_outcome)
    if main.__name__ != "r_trans" or not state:
        funcs.append(make_state("delta", True, False))  # the paper's r_trans, logged for comparison
        weights.append(0.0)
    if state and cfg.w_state_aux > 0 and cfg.scope == "delta" and not cfg.ordered:
        # dense auxiliary: credit per entry
        funcs.append(make_state(cfg.aux_scope, cfg.lexical_fidelity, False))
        weights.append(cfg.w_state_aux)
    for name, weight in (("r_ops", cfg.w_ops), ("idle", cfg.w_idle)):
        if state and weight > 0:
            funcs.append(make(name))
            weights.append(weight)
    funcs += [make("invalid_calls"), make("format")]
    weights += [cfg.w_invalid, cfg.w_format]
    return funcs, weights, scorer


def _component(name: str, doc: str, value: Callable[[Rollout], float],
               rollouts: Callable[[Sequence[Any], dict[str, Any]], list[Rollout]]) -> Callable[...,
                                                                                               list[float]]:
    """A reward function in TRL's contract, named ``name`` (TRL logs ``rewards/<name>/mean``)."""

    def fn(prompts: Any = None, completions: Sequence[Any] = (), **kwargs: Any) -> list[float]:
        return [value(r) for r in rollouts(completions, kwargs)]

    fn.__name__, fn.__doc__ = name, doc
    return fn


def _state_value(r: Rollout, mld: MLDOptions, *, ordered: bool) -> float:
    pred, gold = list(r.state.entries), list(r.example.state_after.entries)
    if ordered:
        return float(mld.ordered(pred, gold).reward)
    return float(mld.score(pred, gold, before=list(r.example.state_before.entries)).reward)


def _ops_value(r: Rollout, mld: MLDOptions) -> float:
    return operation_f1(r.example.state_before, r.state, r.example.state_after, mld=mld)


def _idle_value(r: Rollout, mld: MLDOptions) -> float:
    changes = r.example.state_before.diff(r.example.state_after)
    return -1.0 if changes and not r.example.state_before.diff(r.state) else 0.0


def _outcome_value(r: Rollout, mld: MLDOptions) -> float:
    return outcome_accuracy(r.state.entries, r.probes)


#: The components besides the state rewards: name → (docstring, value of one rollout).
_COMPONENTS: dict[str, tuple[str, Callable[[Rollout, MLDOptions], float]]] = {
    "r_ops": ("Operation-level shaping: soft F1 of the rollout's changes against the gold operations.",
              _ops_value),
    "idle": ("-1 when the session changes something and the rollout changed nothing, else 0.", _idle_value),
    "outcome": ("Share of the session's probe questions answered from the rollout's memory.", _outcome_value),
    "invalid_calls": ("Minus the share of attempted operations the environment rejected.",
                      lambda r, mld: -r.invalid_share),
    "format": ("-1 when the answer cannot be read (no JSON list / a broken tool call), else 0.",
               lambda r, mld: -1.0 if r.malformed else 0.0),
}


def env_owns_reward(cfg: TrainConfig) -> bool:
    """ReAct training with the paper's reward: the environment's ``get_reward`` is ``r_trans``
    and TRL adds it with weight 1 (no separate ``r_trans`` function)."""
    return (cfg.agent == "react" and cfg.reward == "state" and not cfg.ordered and cfg.scope == "delta"
            and cfg.lexical_fidelity and cfg.w_state == 1.0)


class _FixedScorer:
    """A scorer that hands out rollouts built elsewhere (for scoring states without a model)."""

    def __init__(self, rollouts: list[Rollout]) -> None:
        self.rollouts = rollouts

    def score(self, completions: Sequence[Any], **kwargs: Any) -> list[Rollout]:
        return self.rollouts


def apply_rewards(funcs: Sequence[Callable[..., list[float]]], weights: Sequence[float],
                  completions: Sequence[Any], **columns: Any) -> tuple[dict[str, list[float]], list[float]]:
    """Call reward functions the way TRL does (``prompts``, ``completions`` and the dataset's
    columns, one value per rollout) and weight and sum them.

    Returns ``({function name: unweighted values}, weighted sum per rollout)``: the sum is
    the reward GRPO turns into advantages (apart from an environment's own reward).
    """
    values: dict[str, list[float]] = {}
    total = [0.0] * len(completions)
    for fn, w in zip(funcs, weights):
        vals = [float(v) for v in fn(prompts=[None] * len(completions), completions=completions, **columns)]
        values[fn.__name__] = vals
        total = [t + w * v for t, v in zip(total, vals)]
    return values, total


def total_rewards(cfg: TrainConfig, rollouts: Sequence[Rollout]) -> dict[str, list[float]]:
    """Every reward component of ``cfg`` on ``rollouts``, weighted, plus their sum ``total``:
    exactly what GRPO optimises (with ReAct and the paper's reward, the environment's
    ``r_trans`` with weight 1 included)."""

    rollouts = list(rollouts)
    owns = env_owns_reward(cfg)
    funcs, weights, _ = build_reward_functions(cfg, _FixedScorer(rollouts),  # type: ignore[arg-type]
                                               env_owns_reward=owns)
    values, total = apply_rewards(funcs, weights, [""] * len(rollouts))
    out = {fn.__name__: [w * v for v in values[fn.__name__]] for fn, w in zip(funcs, weights) if w}
    if owns:
        mld = cfg.r_trans_options()
        out["r_trans"] = [float(mld.score(r.state.entries, r.example.state_after.entries,
                                          before=r.example.state_before.entries).reward) for r in rollouts]
        total = [t + v for t, v in zip(total, out["r_trans"])]
    out["total"] = total
    return out


def reward_on_mistakes(cfg: TrainConfig, *, n_scenarios: int = 20, seed: int = 0) -> dict[str, float]:
    """Mean training reward of each mistake of :mod:`deltamem_lib.mistakes` under ``cfg``.

    The catalogue's scenarios (one UPDATE and one ADD per session) are scored with every
    reward component ``cfg`` trains with, weighted and summed ({mistake name: mean reward}).
    A reward that teaches the right thing ranks ``perfect`` first, ``paraphrase`` second, every
    error below the paraphrase, and every partly right answer above doing nothing
    (``tests/test_reward_design.py``).
    """

    scenarios = make_scenarios(n_scenarios, seed=seed)
    names = list(MISTAKES)
    rollouts = []
    for k, sc in enumerate(scenarios):
        ex = SessionExample("mistakes", f"s{k}", 0, "2024-01-01", (), sc.before, sc.after,
                            tuple(sc.operations))
        preds = predictions(sc, names)
        rollouts += [Rollout(ex, preds[name].state, attempted=len(preds[name].operations)) for name in names]
    totals = total_rewards(cfg, rollouts)["total"]
    return {name: round(sum(totals[k * len(names) + i] for k in range(len(scenarios))) / len(scenarios), 4)
            for i, name in enumerate(names)}
