"""Benchmark data as the project's users and sessions, so any memory system can ingest it.

The memory systems of :mod:`deltamem_lib.agent` read :class:`~deltamem_lib.episodes.Episode`
objects: a user, dated sessions, turns spoken by ``"user"`` or ``"assistant"`` (DeltaMem §3.1:
the manager updates a memory *about the user* after every session). The three benchmarks of
the paper's §4 come in other shapes; this module converts them, and every decision it takes
is written here once:

**LoCoMo** (two named people talking, no assistant; ``docs/benchmark_protocols.md`` §1).

* *One memory per speaker*, as in the Mem0 protocol ("both speakers are users; Mem0 keeps one
  memory store per speaker"): each conversation becomes two episodes, ``"<sample_id>:<name>"``.
  In the episode of speaker A, A's turns are the ``"user"`` turns and B's turns play the
  ``"assistant"``; the system writes memories about A (B's turns are context). At question
  time the memories of both stores are retrieved (``k`` per speaker) and shown with the
  speaker's name (:func:`deltamem_lib.benchmarks.answering.locomo_answer_messages`).
* *Turn ids are the dia ids* (``"D3:7"``), so the provenance of a memory
  (``MemoryEntry.source``: session id and turn ids) maps directly to LoCoMo's evidence.
* *Dates*: each session's ``session_<n>_date_time`` becomes its ISO date, which the memory
  state stamps on everything the session writes (the answer prompt shows it).
* *Images*: a turn that shared a photo carries ``[shares a photo: <BLIP caption>]``
  (:meth:`deltamem_lib.benchmarks.locomo.Turn.render`).
* *Fewer sessions* (``max_sessions``): only the first ``n`` sessions are ingested, and only
  questions whose every evidence turn lies in them are asked (:func:`locomo_questions`).

**HaluMem** (user–assistant sessions with gold memory points; §2): one episode per user, turn
ids ``s<k>:t<i>``, the session date from ``start_time``. The persona line is not ingested
(it is the generator's seed, not something the user said). Distractor sessions of the Long
release are ingested like any other.

**PersonaMem** (one long user–chatbot history per shared context, questions pointing into it
at ``end_index_in_shared_context``; §3): the history is cut into pseudo-sessions at every
question's end index (and every ``block`` messages), so that a question is answered from the
memory as it stood after exactly the messages it may see. The first, persona system message is
**not** ingested by default (it states the persona outright — the leak ``docs/benchmark_protocols.md`` §3
warns about); ``include_persona=True`` ingests it as a first user turn. PersonaMem has no dates:
sessions carry an empty date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..agent.result import SessionResult
from ..episodes import Episode, Session, Turn
from ..io import read_json
from ..memory import Operation
from .halumem import HaluMemUser, parse_halumem_time
from .locomo import Conversation, DiaId, parse_dia_id, parse_evidence, Question, SCORED_CATEGORIES

__all__ = [
    "LocomoObservations",
    "PersonaMemContext",
    "evidence_sessions",
    "halumem_episode",
    "halumem_session_id",
    "locomo_episodes",
    "locomo_questions",
    "locomo_session_id",
    "locomo_user_id",
    "personamem_context",
    "personalise",
]


# ------------------------------------------------------------------------------- LoCoMo
def locomo_user_id(sample_id: str, speaker: str) -> str:
    """The episode (memory store) of one speaker: ``"conv-26:Caroline"``."""
    return f"{sample_id}:{speaker}"


def locomo_session_id(sample_id: str, index: int) -> str:
    """``"conv-26:S3"`` for ``session_3`` (both speakers' episodes share session ids)."""
    return f"{sample_id}:S{index}"


def locomo_episodes(conversation: Conversation, *, speakers: str | Sequence[str] = "both",
                    max_sessions: int | None = None) -> list[Episode]:
    """The episodes of one LoCoMo conversation, one per speaker (module docstring).

    Args:
        conversation: a conversation of :func:`deltamem_lib.benchmarks.locomo.load_locomo`.
        speakers: ``"both"`` (the Mem0 protocol) or the names of the speakers to keep.
        max_sessions: ingest only the first ``n`` sessions (``None``: all).
    """
    names = list(conversation.speakers) if speakers == "both" else list(speakers)
    unknown = [n for n in names if n not in conversation.speakers]
    if unknown:
        raise ValueError(f"{conversation.sample_id}: no speaker {unknown}; the speakers are "
                         f"{', '.join(conversation.speakers)}")
    sessions = conversation.sessions if max_sessions is None else conversation.sessions[:max_sessions]
    out = []
    for name in names:
        converted = tuple(
            Session(session_id=locomo_session_id(conversation.sample_id, s.index), date=s.date,
                    event={"kind": "locomo", "summary": f"session_{s.index} ({s.date_time})"},
                    turns=tuple(Turn(str(t.dia_id), "user" if t.speaker == name else "assistant", t.render())
                                for t in s.turns),
                    gold_ops=(), state_after=())
            for s in sessions)
        out.append(Episode(user_id=locomo_user_id(conversation.sample_id, name), persona={"name": name},
                           initial_memory=(), sessions=converted,
                           meta={"benchmark": "locomo", "sample_id": conversation.sample_id, "speaker": name}))
    return out


def evidence_sessions(question: Question) -> set[int]:
    """The session numbers of a question's evidence turns (missing turns included)."""
    return {d.session for d in question.evidence}


def locomo_questions(conversation: Conversation, *, max_sessions: int | None = None,
                     categories: Iterable[int] = SCORED_CATEGORIES) -> list[Question]:
    """The questions to ask after ingesting the first ``max_sessions`` sessions.

    All questions of ``categories`` (default 1–4, the Mem0 protocol's 1,540) when every session
    is ingested. With ``max_sessions``, only the questions whose evidence is non-empty and lies
    entirely in the ingested sessions: the rest could not be answered from them. (On the full
    conversation the 4 questions without evidence are kept, as the protocol does.)
    """
    cats = set(categories)
    qs = [q for q in conversation.questions if q.category in cats]
    if max_sessions is None or max_sessions >= len(conversation.sessions):
        return qs
    kept = {s.index for s in conversation.sessions[:max_sessions]}
    return [q for q in qs if q.evidence and not q.evidence_missing and evidence_sessions(q) <= kept]


_USER_WORD = re.compile(r"\b(?:[Tt]he )?[Uu]ser('s)?\b")


def personalise(content: str, name: str) -> str:
    """Put the speaker's name where a memory says "User" (``"User's cat"`` → ``"Ana's cat"``).

    The systems write memories about "the user"; with two stores the answer model must know
    whose memory it reads."""
    return _USER_WORD.sub(lambda m: name + ("'s" if m.group(1) else ""), content)


# ------------------------------------------------------------------------------ HaluMem
def halumem_session_id(uuid: str, index: int) -> str:
    return f"{uuid}:s{index}"


def _halumem_date(session: Any) -> str:
    for raw in [session.start_time] + [t.timestamp for t in session.dialogue]:
        if raw:
            try:
                return parse_halumem_time(raw).date().isoformat()
            except ValueError:
                continue
    return ""


def halumem_episode(user: HaluMemUser) -> Episode:
    """One HaluMem user as an episode: every session (distractor sessions included), in order,
    dated by ``start_time``; turn ids ``s<k>:t<i>``; system turns dropped."""
    sessions = tuple(
        Session(session_id=halumem_session_id(user.uuid, s.index), date=_halumem_date(s),
                event={"kind": "halumem", "summary": "distractor session" if s.is_generated_qa_session else ""},
                turns=tuple(Turn(f"s{s.index}:t{i}", t.role, t.content)
                            for i, t in enumerate(s.dialogue) if t.role in ("user", "assistant")),
                gold_ops=(), state_after=())
        for s in user.sessions)
    return Episode(user_id=user.uuid, persona={"name": user.user_name or ""}, initial_memory=(), sessions=sessions,
                   meta={"benchmark": "halumem"})


# --------------------------------------------------------------------------- PersonaMem
@dataclass(frozen=True)
class PersonaMemContext:
    """A shared context cut into pseudo-sessions.

    ``episode`` holds the sessions; ``cuts[i]`` is the message index where session ``i`` ends
    (exclusive), so the memory after session ``i`` has seen ``messages[:cuts[i]]``.
    :meth:`session_for` maps a question's end index to the session after which it is asked
    (``-1``: before any session, the empty memory)."""

    episode: Episode
    cuts: tuple[int, ...]

    def session_for(self, end_index: int) -> int:
        if end_index not in self.cuts and end_index != 0:
            raise ValueError(f"end index {end_index} is not a session boundary of {self.episode.user_id}; "
                             "build the context with every question's end index")
        return self.cuts.index(end_index) if end_index in self.cuts else -1


def personamem_context(context_id: str, messages: Sequence[Mapping[str, str]], end_indices: Iterable[int], *,
                       block: int = 20, include_persona: bool = False) -> PersonaMemContext:
    """Cut one shared context into pseudo-sessions ending at every question's end index and at
    least every ``block`` messages (module docstring). Turn ids are the message indices
    (``"m12"``)."""
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    n = len(messages)
    ends = sorted({e for e in end_indices if 0 < e <= n})
    bad = [e for e in end_indices if e > n]
    if bad:
        raise ValueError(f"context {context_id[:16]}…: end index {bad[0]} beyond its {n} messages")
    cuts: list[int] = []
    start = 0
    for e in ends + [n]:
        while e - start > block:
            start += block
            cuts.append(start)
        if e > start:
            cuts.append(e)
            start = e
    sessions = []
    prev = 0
    for k, cut in enumerate(cuts):
        turns = []
        for i in range(prev, cut):
            m = messages[i]
            if m["role"] == "system":
                if include_persona:
                    turns.append(Turn(f"m{i}", "user", m["content"]))
                continue
            turns.append(Turn(f"m{i}", m["role"], m["content"]))
        sessions.append(Session(session_id=f"{context_id[:12]}:b{k}", date="", event={"kind": "personamem"},
                                turns=tuple(turns), gold_ops=(), state_after=()))
        prev = cut
    ep = Episode(user_id=context_id, persona={}, initial_memory=(), sessions=tuple(sessions),
                 meta={"benchmark": "personamem"})
    return PersonaMemContext(ep, tuple(cuts))


def dia_id(value: str) -> DiaId | None:
    """``"D3:7"`` → ``DiaId(3, 7)`` (other turn ids → ``None``)."""
    return parse_dia_id(value)


# ------------------------------------------------------------- LoCoMo's observations
class LocomoObservations:
    """A *reference* memory for LoCoMo, not a memory system of the paper: the release's
    ``observation`` field — facts per session and speaker, written by gpt-3.5-turbo when the
    dataset was made (``README.md``: "model-generated aids, not gold"), each with the dia id it
    came from. Ingesting them session by session gives a memory with **recorded** provenance
    and no model cost, which separates answering from memory writing: with it, a small answer
    model is scored on a memory of reasonable quality.

    Build with :meth:`from_file`; ``run`` follows the memory-system contract of
    :mod:`deltamem_lib.agent.systems`.
    """

    name = "observations"

    def __init__(self, facts: Mapping[tuple[str, int, str], Sequence[tuple[str, tuple[str, ...]]]]) -> None:
        self.facts = facts  # (sample_id, session index, speaker) -> [(fact, dia ids)]

    @classmethod
    def from_file(cls, path: Any) -> LocomoObservations:
        facts: dict[tuple[str, int, str], list[tuple[str, tuple[str, ...]]]] = {}
        for rec in read_json(path):
            for key, by_speaker in (rec.get("observation") or {}).items():
                m = re.fullmatch(r"session_(\d+)_observation", key)
                if not m or not isinstance(by_speaker, Mapping):
                    continue
                for speaker, items in by_speaker.items():
                    for item in items or []:
                        if not (isinstance(item, list) and item and isinstance(item[0], str)):
                            continue
                        raw = item[1] if len(item) > 1 else []
                        ids, _ = parse_evidence(raw if isinstance(raw, list) else [raw])
                        facts.setdefault((rec["sample_id"], int(m[1]), speaker), []).append(
                            (item[0], tuple(str(d) for d in ids)))
        return cls(facts)

    def run(self, examples: Sequence[Any], *, seed: int | None = None) -> list[Any]:
        out = []
        for ex in examples:
            sample_id, speaker = ex.user_id.rsplit(":", 1)
            index = int(ex.session_id.rsplit(":S", 1)[1])
            state = ex.state_before.copy()
            res = SessionResult(self.name, ex.user_id, ex.session_id, state)
            for fact, turns in self.facts.get((sample_id, index, speaker), []):
                applied = state.apply([Operation.add(fact)], timestamp=ex.date,
                                      source={"session_id": ex.session_id, "turns": list(turns)})
                res.operations.extend(applied.applied)
            res.state_after = state
            out.append(res)
        return out
