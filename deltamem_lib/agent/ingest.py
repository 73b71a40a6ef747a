"""Ingesting whole users: sessions in order, the system's own memory carried forward.

At deployment there is no gold state: the memory after session ``t`` is whatever the system
made of sessions ``1..t`` (``Ŝ_{t+1} = f(Ŝ_t, d_{t+1})``, DeltaMem §3.1), and errors
accumulate — the paper's Figures 4–5 plot accuracy as the number of sessions grows. This
module produces that sequence of states for many users, with each session's own date as
the timestamp of what it writes.

**Batching.** Sessions of one user must run in order, but different users are independent:
with ``batch_users=True`` the *t*-th sessions of up to ``max_batch`` users are processed
together (one model batch per agent turn). ``speed/bench_ingest.py`` measures the gain.

**Resuming.** With ``out_dir``, each finished session's state is written atomically to
``out_dir/states/<folder>/<index>.json``. A folder name is a readable slug of the user id and a
short hash of the whole id (``Ana_Lee-1f3a…``), so two ids never share a folder (``Ana Lee`` and
``Ana_Lee``, or ``李雷`` and ``韩梅``, would share one slug); the folder's ``user.json`` records
its id, and a folder holding another id is refused rather than read. The work is a fixed schedule of *chunks*
(a chunk = the sessions processed together); a rerun skips every chunk whose files all exist and
recomputes a partly written chunk whole, from the saved states before it. Each chunk
therefore sees exactly the inputs (and the same batch companions, hence the same padded
batch) it had in an uninterrupted run, and the final states are the same.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..episodes import Episode, SessionExample, state_before_each_session
from ..io import DataFileError, atomic_write_json, read_json
from ..memory import MemoryState

__all__ = ["IngestResult", "ingest_users", "load_ingested", "schedule", "state_path"]


@dataclass
class IngestResult:
    """States after each session per user, and what this run did.

    Attributes:
        states: ``user_id -> [state after session 0, after session 1, …]``.
        processed: sessions computed in this run (resumed ones excluded).
        skipped: sessions loaded from ``out_dir`` instead of computed.
        seconds: wall time of this run.
        per_session: ``(user_id, index) -> summary`` of each computed session.
    """

    states: dict[str, list[MemoryState]]
    processed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    per_session: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    @property
    def sessions_per_minute(self) -> float:
        return 60.0 * self.processed / self.seconds if self.seconds > 0 else 0.0


def schedule(episodes: Sequence[Episode], *, batch_users: bool = True,
             max_batch: int = 8) -> list[list[tuple[int, int]]]:
    """The fixed order of work: chunks of ``(user position, session index)``.

    ``batch_users=True``: step-major, the *t*-th sessions of up to ``max_batch`` users per
    chunk. ``False``: one session per chunk, user after user (one-at-a-time ingestion).
    """
    if not batch_users:
        return [[(u, k)] for u, ep in enumerate(episodes) for k in range(len(ep.sessions))]
    chunks = []
    for k in range(max((len(ep.sessions) for ep in episodes), default=0)):
        users = [u for u, ep in enumerate(episodes) if k < len(ep.sessions)]
        chunks += [[(u, k) for u in users[i:i + max_batch]] for i in range(0, len(users), max_batch)]
    return chunks


def _safe(name: str) -> str:
    """The folder of ``name``: a readable slug (at most 40 characters) and 12 hex digits of its SHA-256.

    The hash makes the mapping injective (up to SHA-256 collisions), whatever the slug loses.
    """
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:40].strip(".") or "user"
    return f"{slug}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def _user_dir(out_dir: Path, user_id: str, *, create: bool = False) -> Path:
    """``out_dir/states/<folder of user_id>``, checked to belong to ``user_id`` (``user.json``).

    With ``create``, a new folder gets its ``user.json``; a folder that records another id is
    refused in either case.
    """
    folder = out_dir / "states" / _safe(user_id)
    marker = folder / "user.json"
    if marker.is_file():
        rec = read_json(marker)
        owner = rec.get("user_id") if isinstance(rec, dict) else None
        if owner != user_id:
            raise ValueError(f"{marker}: field user_id: the folder belongs to {owner!r}, not {user_id!r}; "
                             "the work folder is corrupt, delete it to start over")
    elif create:
        atomic_write_json(marker, {"user_id": user_id})
    return folder


def state_path(out_dir: Path, user_id: str, k: int, *, create: bool = False) -> Path:
    """Where the state of ``user_id`` after session ``k`` is saved under ``out_dir``."""
    return _user_dir(out_dir, user_id, create=create) / f"{k:04d}.json"


def _load_state(out_dir: Path, user_id: str, k: int) -> MemoryState:
    """The saved state of ``user_id`` after session ``k``, refused with file and field when malformed."""
    p = state_path(out_dir, user_id, k)
    rec = read_json(p)
    if not isinstance(rec, dict) or not isinstance(rec.get("state"), dict):
        raise DataFileError(f"{p}: field state: expected an object holding a memory state, got "
                            f"{type(rec.get('state') if isinstance(rec, dict) else rec).__name__}; the work "
                            "folder is corrupt, delete it to start over")
    if rec.get("user_id") != user_id:
        raise DataFileError(f"{p}: field user_id: {rec.get('user_id')!r}, expected {user_id!r}; the work "
                            "folder is corrupt, delete it to start over")
    try:
        return MemoryState.from_dict(rec["state"])
    except ValueError as exc:
        raise DataFileError(f"{p}: {exc}") from None


def load_ingested(out_dir: str | Path, user_id: str) -> list[MemoryState]:
    """The saved states of one user, in session order (stops at the first gap)."""
    out, k = [], 0
    while state_path(Path(out_dir), user_id, k).is_file():
        out.append(_load_state(Path(out_dir), user_id, k))
        k += 1
    return out


#: the settings of a memory system that change what it writes (a resumed ingestion must share them)
SYSTEM_OPTIONS = ("prompt_style", "related_k", "max_new_tokens", "temperature", "max_tool_calls", "max_turns",
                  "top_k", "max_facts")
#: the same for the options of its environment class (``make_env_factory``)
ENV_OPTIONS = ("allow_delete", "retriever")


def system_options(system: Any) -> dict[str, Any]:
    """The :data:`SYSTEM_OPTIONS` that ``system`` has and its environment's :data:`ENV_OPTIONS`,
    as JSON values (for the resume manifest)."""
    found = [(name, getattr(system, name, None)) for name in SYSTEM_OPTIONS]
    env = getattr(system, "env_cls", None)
    found += [(name, getattr(env, name, None)) for name in ENV_OPTIONS] if env is not None else []
    return {name: value if isinstance(value, (bool, int, float, str)) else repr(value)
            for name, value in found if value is not None}


def _check_manifest(out: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest of a new run; refuse to resume a run made with other settings."""
    mpath = out / "ingest_manifest.json"
    if not mpath.is_file():
        atomic_write_json(mpath, manifest)
        return
    old = read_json(mpath)
    if not isinstance(old, dict):
        raise DataFileError(f"{mpath}: expected an object (the ingestion's settings), got "
                            f"{type(old).__name__}; the work folder is corrupt, delete it to start over")
    for key in ("system", "model", "options", "users", "batch_users", "max_batch", "seed"):
        if key == "options" and key not in old:  # a folder written before options were recorded
            continue
        if old.get(key) != manifest[key]:
            raise ValueError(f"{mpath}: field {key}: holds an ingestion with a different {key} "
                             f"({old.get(key)!r} vs {manifest[key]!r}); use another out_dir or delete it")


def _example(ep: Episode, k: int, gold: tuple[Any, MemoryState], before: MemoryState) -> SessionExample:
    """Session ``k`` of ``ep`` as the system sees it, starting from ``before`` (log cleared)."""
    session, gold_after = gold
    start = before.copy()
    start.log = []
    return SessionExample(ep.user_id, session.session_id, k, session.date, session.turns, start, gold_after,
                          session.gold_ops)


def _save_session(out: Path | None, ex: SessionExample, res: Any) -> dict[str, Any]:
    """The per-session summary of ``res``; with ``out``, the state after the session is saved."""
    summary = {"operations": len(res.operations), "invalid_calls": res.invalid_calls,
               "malformed_outputs": res.malformed_outputs, "prompt_tokens": res.prompt_tokens,
               "completion_tokens": res.completion_tokens, "seconds": round(res.seconds, 4)}
    if out is not None:
        atomic_write_json(state_path(out, ex.user_id, ex.session_index, create=True), {
            "user_id": ex.user_id, "session_index": ex.session_index, "session_id": ex.session_id,
            "date": ex.date, "state": res.state_after.to_dict(include_log=True), "summary": summary})
    return summary


def _check_unique(episodes: Sequence[Episode]) -> None:
    """Refuse a user id that appears twice, naming its second position."""
    seen: set[str] = set()
    for i, ep in enumerate(episodes):
        if ep.user_id in seen:
            raise ValueError(f"ingest_users: episodes[{i}].user_id: duplicate user id {ep.user_id!r}; each "
                             "user must appear once")
        seen.add(ep.user_id)


def ingest_users(system: Any, episodes: Sequence[Episode], *, out_dir: str | Path | None = None,
                 batch_users: bool = True, max_batch: int = 8, seed: int | None = 0,
                 callback: Callable[[str, int, MemoryState], None] | None = None,
                 progress: bool = False) -> IngestResult:
    """Run ``system`` over every session of every user, in order, from each user's initial memory.

    Args:
        system: a memory system (``run(examples, seed=) -> [SessionResult]``).
        episodes: the users.
        out_dir: where states are saved after each chunk; an existing run there is resumed
            (it must be the same system and users, checked by a manifest).
        batch_users: process the *t*-th sessions of several users together.
        max_batch: users per chunk.
        seed: chunk seeds derive from it (for sampling systems).
        callback: called as ``callback(user_id, session_index, state)`` after each saved
            session; an exception stops the run (what an interruption looks like).
        progress: show a tqdm bar.
    """
    _check_unique(episodes)
    out = Path(out_dir) if out_dir is not None else None
    model = getattr(getattr(system, "model", None), "name", None)
    manifest = {"system": getattr(system, "name", type(system).__name__), "model": model,
                "options": system_options(system),
                "users": [ep.user_id for ep in episodes], "batch_users": batch_users, "max_batch": max_batch,
                "seed": seed}
    if out is not None:
        _check_manifest(out, manifest)
    gold = {ep.user_id: [(s, after) for s, _, after in state_before_each_session(ep)] for ep in episodes}
    states: dict[str, list[MemoryState | None]] = {ep.user_id: [None] * len(ep.sessions) for ep in episodes}
    result = IngestResult(states={})
    chunks = schedule(episodes, batch_users=batch_users, max_batch=max_batch)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(len(c) for c in chunks), desc="ingest", leave=False)
    t0 = time.perf_counter()

    def before(u: int, k: int) -> MemoryState:
        ep = episodes[u]
        if k == 0:
            return ep.initial_state()
        prev = states[ep.user_id][k - 1]
        if prev is None and out is not None:
            prev = _load_state(out, ep.user_id, k - 1)
            states[ep.user_id][k - 1] = prev
        assert prev is not None, "schedule order guarantees the previous session is done"
        return prev

    for ci, chunk in enumerate(chunks):
        if out is not None and all(state_path(out, episodes[u].user_id, k).is_file() for u, k in chunk):
            for u, k in chunk:
                states[episodes[u].user_id][k] = _load_state(out, episodes[u].user_id, k)
            result.skipped += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
            continue
        examples = [_example(episodes[u], k, gold[episodes[u].user_id][k], before(u, k)) for u, k in chunk]
        chunk_seed = None if seed is None else seed + 1000 * chunk[0][1] + ci
        results = system.run(examples, seed=chunk_seed)
        for (u, k), ex, res in zip(chunk, examples, results):
            uid = episodes[u].user_id
            states[uid][k] = res.state_after
            result.per_session[(uid, k)] = _save_session(out, ex, res)
        result.processed += len(chunk)
        if bar is not None:
            bar.update(len(chunk))
        if callback is not None:
            for (u, k) in chunk:
                callback(episodes[u].user_id, k, states[episodes[u].user_id][k])  # type: ignore[arg-type]
    result.seconds = time.perf_counter() - t0
    if bar is not None:
        bar.close()
    result.states = {uid: [s for s in ss if s is not None] for uid, ss in states.items()}
    return result
