"""The procedural generator: DeltaMem's four synthesis steps, offline and seeded (§3.2).

The paper synthesises its training data with an LLM in four steps; this generator runs the
same four steps with catalogues and phrase banks, so a dataset of any size costs seconds and
is identical for a seed:

1. :func:`~deltamem_lib.synthesis.world.build_profile` — seed persona → full profile →
   initial memory state;
2. :func:`~deltamem_lib.synthesis.events.plan_timeline` — a dated life event per session
   (and which hidden facts the user mentions in passing);
3. :func:`label_operations` — the gold memory operations of each session, with keywords and
   evolution kind (intra, inter, padding), ADD ids allocated as the state will allocate them;
4. :func:`render_episode` — a user–assistant dialogue per session, the evidence turns of each
   operation, and the gold state after each session.

:func:`generate_episode` runs the four steps for one user, checks the episode's integrity
(:func:`deltamem_lib.episodes.check_episode`) and the operation-mix targets, and retries with
a fresh random stream if a target is short (rare: the planner steers towards them).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..config import field_help, setting, settings_from_profile
from ..episodes import Episode, Session, check_episode
from ..memory import MemoryEntry, MemoryState, Operation, OpType
from .dialogue import render_session
from .events import TimelineEvent, plan_timeline
from .stats import TargetError, check_targets
from .world import Fact, Profile, build_profile

__all__ = [
    "Labels",
    "SynthConfig",
    "UserWalk",
    "generate_episode",
    "generate_episodes",
    "label_operations",
    "render_episode",
    "synthesize_user",
    "user_id",
    "user_rng",
]


@dataclass(frozen=True)
class SynthConfig:
    """Settings of the procedural generator (each field's ``metadata["help"]`` says what it does)."""

    users: int = setting(10, "number of synthetic users (one episode each)")
    sessions: int = setting(20, "dialogue sessions per user")
    seed: int = setting(0, "random seed; the same seed gives the same dataset")
    min_initial_facts: int = setting(4, "fewest facts in the initial memory (home, job and employer always "
                                        "are)")
    max_initial_facts: int = setting(7, "most facts in the initial memory; the rest of the profile is hidden")
    quiet_rate: float = setting(0.12, "share of sessions where nothing about the user changes")
    extra_correction_rate: float = setting(0.06, "chance that a session also corrects an earlier statement")
    padding_weights: tuple[float, float, float] = setting((0.45, 0.40, 0.15),
                                                          "weights of 0, 1, 2 padding facts per session")
    min_gap_days: int = setting(4, "fewest days between two sessions")
    max_gap_days: int = setting(45, "most days between two sessions")
    min_update_delete_share: float = setting(0.25, "target: UPDATE + DELETE at least this share of "
                                                   "operations")
    min_inter_share_of_updates: float = setting(0.10, "target: inter-event evolution at least this share of "
                                                      "UPDATEs")
    max_attempts: int = setting(20, "random streams tried per user before a target shortfall is an error")

    def __post_init__(self) -> None:
        problems = []
        for name in ("users", "sessions", "max_attempts", "min_gap_days"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            problems.append(f"seed must be an integer >= 0, got {self.seed!r}")
        if isinstance(self.min_gap_days, int) and self.max_gap_days < self.min_gap_days:
            problems.append(f"max_gap_days ({self.max_gap_days}) is below min_gap_days ({self.min_gap_days})")
        if not 3 <= self.min_initial_facts <= self.max_initial_facts:
            problems.append("need 3 <= min_initial_facts <= max_initial_facts "
                            f"(got {self.min_initial_facts}, {self.max_initial_facts})")
        for name in ("quiet_rate", "extra_correction_rate", "min_update_delete_share",
                     "min_inter_share_of_updates"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be between 0 and 1, got {getattr(self, name)!r}")
        if len(self.padding_weights) != 3 or min(self.padding_weights) < 0 or sum(self.padding_weights) <= 0:
            problems.append("padding_weights must be three non-negative weights, got "
                            f"{self.padding_weights!r}")
        if problems:
            raise ValueError("invalid synthesis settings:\n" + "\n".join(f"  - {p}" for p in problems))

    @classmethod
    def help(cls) -> dict[str, str]:
        """Field name → one-line help."""
        return field_help(cls)

    @classmethod
    def from_profile(cls, profile: Any = None, overrides: Any = None) -> SynthConfig:
        """The generator's settings of ``profile``'s ``01_data_synthesis`` section (``n_users`` →
        ``users``, ``n_sessions`` → ``sessions``, ``seed``; the notebook's other parameters are
        type-checked and left out), then ``overrides`` by field name; every name and type checked
        once (:func:`deltamem_lib.config.settings_from_profile`)."""
        return settings_from_profile(cls, profile, overrides, section="01_data_synthesis",
                                     names={"n_users": "users", "n_sessions": "sessions"})


def user_id(index: int) -> str:
    return f"u{index:05d}"


def user_rng(seed: int, index: int, attempt: int = 0) -> random.Random:
    """The random stream of one user: independent of the other users, so user ``i`` is the
    same whatever ``users`` is, and generation can be split across processes."""
    return random.Random(f"deltamem-synth:{seed}:{index}:{attempt}")


# ----- step 3 ---------------------------------------------------------------------------------
@dataclass
class Labels:
    """Step 3's output: the initial memory and the gold operations of every session."""

    initial: list[MemoryEntry]
    ops: list[list[Operation]]  # per session, one per change of the timeline event
    ids: dict[str, str]  # fact slot -> memory id
    fact_types: dict[str, str]  # memory id -> fact type (ids are never reused)


def label_operations(profile: Profile, timeline: list[TimelineEvent]) -> Labels:
    """Step 3: turn each planned change into a gold operation against the memory state.

    The initial memory gets ids ``m1 …`` in profile order. An ADD names the id the state will
    allocate next, so replaying the operations reproduces the gold states exactly; UPDATE and
    DELETE name the id of the fact's slot. Keywords are the new fact's keywords; the
    evolution kind comes from the change.
    """
    ids: dict[str, str] = {}
    types: dict[str, str] = {}
    initial = []
    facts = {f.slot: f for f in profile.facts}
    for n, slot in enumerate(profile.initial, start=1):
        fact = facts[slot]
        ids[slot] = f"m{n}"
        types[f"m{n}"] = fact.type
        initial.append(MemoryEntry(f"m{n}", fact.content(), profile.start_date, None, fact.keywords()))
    next_id = len(initial) + 1
    all_ops = []
    for ev in timeline:
        ops = []
        for c in ev.changes:
            if c.op is OpType.ADD:
                mid = f"m{next_id}"
                next_id += 1
                ids[c.slot] = mid
                types[mid] = c.fact.type
                ops.append(Operation.add(c.fact.content(), memory_id=mid, keywords=c.fact.keywords(),
                                         evolution=c.evolution))
            elif c.op is OpType.UPDATE:
                ops.append(Operation.update(ids[c.slot], c.fact.content(), keywords=c.fact.keywords(),
                                            evolution=c.evolution))
            else:
                ops.append(Operation.delete(ids[c.slot], evolution=c.evolution))
        all_ops.append(ops)
    return Labels(initial, all_ops, ids, types)


# ----- step 4 and assembly --------------------------------------------------------------------
def _taboo(profile: Profile, timeline: list[TimelineEvent]) -> set[str]:
    values = set(profile.used_names)
    for f in profile.facts:
        values |= f.values()
    for ev in timeline:
        for c in ev.changes:
            for f in (c.before, c.after):
                if f is not None:
                    values |= f.values()
    return values


def render_episode(profile: Profile, timeline: list[TimelineEvent], labels: Labels, rng: random.Random,
                   meta: dict[str, Any] | None = None) -> Episode:
    """Step 4: a dialogue per session, evidence turns per operation, gold state after each."""
    facts = {f.slot: f for f in profile.facts}
    known: dict[str, Fact] = {s: facts[s] for s in profile.initial}
    taboo = _taboo(profile, timeline)
    state = MemoryState(labels.initial)
    sessions = []
    for ev, ops in zip(timeline, labels.ops):
        rendered = render_session(ev, known, profile.first_name, rng, taboo)
        sid = f"{profile.user_id}-s{ev.index + 1:02d}"
        ops = [dataclasses.replace(op, evidence=ev_turns) for op, ev_turns in zip(ops, rendered.evidence)]
        for op in ops:  # one by one, so each entry's source is its own evidence
            state.apply([op], timestamp=ev.date, source={"session_id": sid, "turns": list(op.evidence)})
        state.log.clear()  # the log is not needed here; keeping it short keeps copies cheap
        event = {"kind": ev.kind, "summary": ev.summary, "distractors": rendered.distractors}
        sessions.append(Session(sid, ev.date, event, tuple(rendered.turns), tuple(ops), state.entries))
        for c in ev.changes:
            if c.after is None:
                known.pop(c.slot, None)
            else:
                known[c.slot] = c.after
    meta = {"generator": "procedural", **(meta or {}), "fact_types": dict(labels.fact_types)}
    return Episode(profile.user_id, profile.to_dict(), tuple(labels.initial), tuple(sessions), meta)


@dataclass
class UserWalk:
    """The output of each of the four steps for one user (what notebook 01 walks through)."""

    profile: Profile
    timeline: list[TimelineEvent]
    labels: Labels
    episode: Episode


def synthesize_user(cfg: SynthConfig, index: int, attempt: int = 0) -> UserWalk:
    """Run the four steps for user ``index`` on its random stream (no target check)."""
    rng = user_rng(cfg.seed, index, attempt)
    profile = build_profile(user_id(index), rng, min_initial=cfg.min_initial_facts,
                            max_initial=cfg.max_initial_facts)
    timeline = plan_timeline(profile, cfg.sessions, rng, cfg)
    labels = label_operations(profile, timeline)
    episode = render_episode(profile, timeline, labels, rng, {"seed": cfg.seed, "attempt": attempt})
    return UserWalk(profile, timeline, labels, episode)


def generate_episode(cfg: SynthConfig, index: int, *, check: bool = True) -> Episode:
    """One user's episode, integrity-checked and meeting the operation-mix targets.

    Raises :class:`~deltamem_lib.synthesis.stats.TargetError` naming the shortfall if no
    random stream out of ``cfg.max_attempts`` meets the targets (e.g. targets set above what
    the event mix can give).
    """
    shortfall: list[str] = []
    for attempt in range(cfg.max_attempts):
        episode = synthesize_user(cfg, index, attempt).episode
        shortfall = check_targets([episode], cfg.min_update_delete_share, cfg.min_inter_share_of_updates)
        if not shortfall:
            if check:
                check_episode(episode)
            return episode
    raise TargetError(
        f"user {user_id(index)} (seed {cfg.seed}, {cfg.sessions} sessions): no random stream out of "
        f"{cfg.max_attempts} meets the targets: " + "; ".join(shortfall)
        + ". Lower the targets, raise max_attempts, or use more sessions per user."
    )


def generate_episodes(cfg: SynthConfig, *, progress: bool = False, check: bool = True) -> list[Episode]:
    """Episodes for users ``0 … cfg.users - 1``; ``progress`` shows a tqdm bar."""
    indices: Iterator[int] | range = range(cfg.users)
    if progress:
        from tqdm.auto import tqdm

        indices = tqdm(indices, desc="synthesising users", unit="user")
    episodes = [generate_episode(cfg, i, check=check) for i in indices]
    shortfall = check_targets(episodes, cfg.min_update_delete_share, cfg.min_inter_share_of_updates)
    if shortfall:  # cannot happen when every user meets them, kept as a guard
        raise TargetError("the dataset misses its targets: " + "; ".join(shortfall))
    return episodes
