"""Where notebook 05 finds its inputs: benchmark files, and notebook 04's RL adapter and results.

* :func:`locate_data` — a benchmark file under the ``data_dir`` parameter (default
  ``../shared/benchmarks`` relative to the project root, where the project's workspace keeps
  the licensed files; they are never committed), else the project's tiny fixture in
  ``tests/fixtures/benchmarks`` — a hand-made file in the same schema, good for the mechanics
  only, and said so wherever its numbers appear.
* :func:`find_rl_run` — the adapter and results of a notebook-04 run in the same run folder
  (the main job runs the notebooks in order with one ``output_dir``), checked against the
  model this notebook uses; the RL rows say "not trained in this run" when there is none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import PROJECT_ROOT
from ..io import read_json

__all__ = ["DataFile", "FIXTURES", "RLRun", "find_rl_run", "locate_data"]

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "benchmarks"

_FILES = {"locomo": ("locomo/locomo10.json", "locomo_tiny.json", None),
          "halumem": ("halumem/HaluMem-Medium.jsonl", "halumem_tiny.jsonl", None),
          "personamem": ("personamem/questions_32k.csv", "personamem_questions_tiny.csv",
                         ("personamem/shared_contexts_32k.jsonl", "personamem_contexts_tiny.jsonl"))}


@dataclass(frozen=True)
class DataFile:
    """A located benchmark file: ``path`` (and PersonaMem's ``contexts``), whether it is the
    tiny fixture, and a sentence saying which it is."""

    benchmark: str
    path: Path
    contexts: Path | None
    fixture: bool
    note: str


def _root(data_dir: str | os.PathLike[str]) -> Path:
    p = Path(data_dir)
    return p if p.is_absolute() else PROJECT_ROOT / p


def locate_data(benchmark: str, data_dir: str | os.PathLike[str] = "../shared/benchmarks") -> DataFile:
    """The real file of ``benchmark`` under ``data_dir`` if it is there (PersonaMem needs its
    contexts file too), else the tiny fixture."""
    if benchmark not in _FILES:
        raise ValueError(f"unknown benchmark {benchmark!r}; known: {', '.join(_FILES)}")
    real, tiny, ctx = _FILES[benchmark]
    root = _root(data_dir) if data_dir else None
    if root is not None and (root / real).is_file() and (ctx is None or (root / ctx[0]).is_file()):
        return DataFile(benchmark, root / real, root / ctx[0] if ctx else None, False,
                        f"{benchmark}: the real file {root / real}")
    why = f"no {real} under {root}" if root is not None else "no data_dir given"
    if ctx is not None and root is not None and (root / real).is_file():
        why = f"{root / real} is there but its conversations ({ctx[0]}) are not"
    return DataFile(benchmark, FIXTURES / tiny, FIXTURES / ctx[1] if ctx else None, True,
                    f"{benchmark}: {why}; using the project's tiny fixture {FIXTURES / tiny} "
                    "(hand-made, same schema: its numbers show the mechanics, not the benchmark)")


@dataclass(frozen=True)
class RLRun:
    """Notebook 04's outputs: ``adapter`` (a LoRA folder) and ``results`` (its JSON), or ``None``;
    ``agent`` (oneshot / react) and ``model_spec`` it was trained with; ``note`` says what was found."""

    adapter: Path | None
    results: Path | None
    agent: str | None
    model_spec: str | None
    note: str

    @property
    def system(self) -> str:
        return "deltamem" if self.agent == "react" else "deltamem-oneshot"


def find_rl_run(output_dir: str | os.PathLike[str], profile: str, model: str, *,
                adapter: str | os.PathLike[str] = "") -> RLRun:
    """The RL adapter for ``model``: ``adapter`` if given, else ``<output_dir>/04_rl_training/grpo/
    adapter``; its results file ``04_rl_training/results/04_rl_training_<profile>.json`` beside it.
    An adapter trained on another base model than ``model`` is not used (the note says so)."""
    run = Path(output_dir) / "04_rl_training"
    results = run / "results" / f"04_rl_training_{profile}.json"
    info: dict[str, Any] = read_json(results) if results.is_file() else {}
    path = Path(adapter) if adapter else run / "grpo" / "adapter"
    if not (path / "adapter_config.json").is_file():
        return RLRun(None, results if info else None, info.get("agent"), info.get("model_spec"),
                     f"no RL adapter at {path}: not trained in this run (notebook 04 trains one)")
    spec = info.get("model_spec")
    if spec is not None and spec != model:
        return RLRun(None, results, info.get("agent"), spec,
                     f"the adapter at {path} was trained on {spec!r}, not on {model!r}: not used")
    return RLRun(path, results if info else None, info.get("agent"), spec, f"RL adapter {path}")
