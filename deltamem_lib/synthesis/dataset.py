"""User-level splits, the Hugging Face ``DatasetDict`` of RL rows, and the output folder.

DeltaMem trains on one session per rollout, starting from the gold state before it (§3.3);
the rows are :func:`deltamem_lib.episodes.rl_rows`. Splits are by *user*: every session of
a user lands in the same split, so validation and test measure generalisation to people the
manager has never seen, not to later sessions of a training user.

``deltamem synth`` writes a folder::

    DIR/episodes.jsonl   one user per line (deltamem_lib.episodes schema)
    DIR/dataset/         DatasetDict(train, validation, test) of RL rows (save_to_disk)
    DIR/stats.json       sizes, operation mix, memory sizes, splits, seed, generator

:func:`write_synth_output` builds all of it in a temporary sibling folder and renames it into
place at the end, so a crash or an invalid episode never leaves a half-written dataset.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..episodes import Episode, check_episode, load_episodes, rl_rows, save_episodes
from ..io import atomic_write_json, read_json
from .stats import dataset_stats

__all__ = ["RL_COLUMNS", "SPLITS", "SynthOutput", "build_dataset_dict", "load_synth_output", "split_users",
           "write_synth_output"]

SPLITS = ("train", "validation", "test")
RL_COLUMNS = {"user_id": "string", "session_id": "string", "session_index": "int64", "date": "string",
              "session": "string", "state_before": "string", "state_after": "string", "gold_ops": "string"}


def split_users(user_ids: Sequence[str], *, seed: int = 0,
                fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> dict[str, list[str]]:
    """Assign users to train / validation / test, deterministically for ``seed``.

    Sizes are ``round(n · fraction)`` for validation and test, but at least one user for
    a non-zero fraction once there are three users or more (so ``--users 3`` still gives a
    validation and a test user); train keeps the rest and at least one user. With fewer
    users than non-empty splits a split may stay empty (it is saved so that it loads back;
    evaluating an empty split says so). Users are shuffled by a stream of their own, so the
    split of a user does not depend on the order of ``user_ids``.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError("fractions must be three non-negative numbers summing to 1 (train, validation, "
                         f"test), got {fractions!r}")
    ids = sorted(set(user_ids))
    if len(ids) != len(user_ids):
        raise ValueError("user ids must be unique")
    random.Random(f"split:{seed}").shuffle(ids)
    n = len(ids)
    n_val, n_test = round(n * fractions[1]), round(n * fractions[2])
    if n >= 3:  # small sets: a non-zero fraction gets at least one user
        n_val = max(n_val, 1 if fractions[1] > 0 else 0)
        n_test = max(n_test, 1 if fractions[2] > 0 else 0)
    while n and n_val + n_test > n - 1 and fractions[0] > 0:
        if n_test >= n_val and n_test:
            n_test -= 1
        else:
            n_val -= 1
    return {"train": sorted(ids[n_val + n_test:]), "validation": sorted(ids[:n_val]),
            "test": sorted(ids[n_val:n_val + n_test])}


def build_dataset_dict(episodes: Sequence[Episode], splits: Mapping[str, Sequence[str]]) -> Any:
    """A ``datasets.DatasetDict`` of RL rows, one per session, split by user."""
    from datasets import Dataset, DatasetDict, Features, Value

    features = Features({k: Value(v) for k, v in RL_COLUMNS.items()})
    by_user = {ep.user_id: ep for ep in episodes}
    out = {}
    for name in SPLITS:
        rows = rl_rows(by_user[u] for u in splits.get(name, ()))
        out[name] = Dataset.from_dict({k: [r[k] for r in rows] for k in RL_COLUMNS}, features=features)
    return DatasetDict(out)


@dataclass
class SynthOutput:
    """Where a synthesis run wrote its files, and its statistics."""

    path: Path
    episodes: Path
    dataset: Path
    stats_path: Path
    stats: dict[str, Any]


def write_synth_output(out_dir: str | os.PathLike[str], episodes: Sequence[Episode], *, seed: int,
                       generator: str, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                       overwrite: bool = False, extra_files: Mapping[str, Any] | None = None,
                       extra_stats: Mapping[str, Any] | None = None) -> SynthOutput:
    """Check every episode and write ``episodes.jsonl``, ``dataset/`` and ``stats.json`` atomically.

    Everything is written into a temporary folder beside ``out_dir`` and renamed into place
    at the end; on any error the temporary folder is removed and ``out_dir`` is untouched.
    An existing non-empty ``out_dir`` is replaced only with ``overwrite=True``.
    ``extra_files`` maps file names to JSON-serialisable objects written alongside.
    """
    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise FileExistsError(f"{target} already holds files; pass overwrite=True (--overwrite) to replace "
                              "it")
    if not episodes:
        raise ValueError("no episodes to write")
    for ep in episodes:  # an invalid episode stops the run before anything is written
        check_episode(ep)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the dataset folder should not be
    try:
        splits = split_users([ep.user_id for ep in episodes], seed=seed, fractions=fractions)
        save_episodes(tmp / "episodes.jsonl", episodes)
        dataset = build_dataset_dict(episodes, splits)
        # one shard per split: an empty split saved with zero shards cannot be loaded back
        _quietly(lambda: dataset.save_to_disk(str(tmp / "dataset"), num_shards={k: 1 for k in dataset}))
        stats = dataset_stats(episodes, seed=seed, generator=generator, splits=splits)
        stats["split_fractions"] = list(fractions)
        stats.update(extra_stats or {})
        for name, obj in (extra_files or {}).items():
            atomic_write_json(tmp / name, obj)
        atomic_write_json(tmp / "stats.json", stats)
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SynthOutput(target, target / "episodes.jsonl", target / "dataset", target / "stats.json", stats)


def _quietly(fn: Any) -> Any:
    """Run ``fn`` without datasets' per-split progress bars (restored afterwards)."""
    import datasets

    was_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        return fn()
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing ``target`` is kept until the new one is in place.

    If the final rename fails, the old folder is moved back; if even that fails, the error
    says where the old data is, so nothing is lost without a word.
    """
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except OSError as exc:
        if old is None:
            raise
        try:
            os.replace(old, target)
        except OSError:
            raise OSError(f"{target}: could not move the new data into place ({exc.strerror or exc}) nor the "
                          f"old data back; the old data is in {old}, rename it to {target.name} to restore "
                          "it") from None
        raise OSError(f"{target}: could not move the new data into place ({exc.strerror or exc}); the old "
                      "data was restored unchanged") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def leftovers_beside(target: str | os.PathLike[str]) -> list[Path]:
    """Folders an interrupted write of ``target`` left beside it (``.NAME.partial-*``, ``.NAME.old-*``)."""
    t = Path(target)
    if not t.parent.is_dir():
        return []
    return sorted(p for p in t.parent.glob(f".{t.name}.*") if p.is_dir() and (".partial-" in p.name
                                                                           or ".old-" in p.name))


def load_synth_output(path: str | os.PathLike[str]) -> tuple[list[Episode], Any, dict[str, Any]]:
    """``(episodes, DatasetDict, stats)`` of a folder written by :func:`write_synth_output`."""
    from datasets import load_from_disk

    p = Path(path)
    return (load_episodes(p / "episodes.jsonl"), load_from_disk(str(p / "dataset")),
            read_json(p / "stats.json"))
