"""Where notebook 05 finds its inputs: benchmark files, and notebook 04's RL adapter and results.

* :func:`locate_data` — a benchmark's real file, looked for in this order: the ``data_dir``
  parameter when one is given, the project's ``data/`` folder (where ``deltamem data fetch``
  puts it), and the folder named by the environment variable ``DELTAMEM_DATA``. When none
  holds it, the small sample in ``data/samples`` is used — a hand-made file in the same
  schema, good for the mechanics only — and the fallback is announced with a
  :class:`SampleDataWarning` (printed in a notebook's output) and recorded as
  ``data_source: sample`` in every results file made from it (:func:`data_source`).
* :func:`find_rl_run` — the adapter and results of a notebook-04 run in the same run folder
  (the main job runs the notebooks in order with one ``output_dir``), checked against the
  model this notebook uses; the RL rows say "not trained in this run" when there is none.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import PROJECT_ROOT
from ..io import read_json
from ..models.shipped import shipped_adapters

__all__ = ["DATA_DIR", "DATA_ENV", "DataFile", "SAMPLES", "SampleDataWarning", "RLRun", "data_label",
           "data_source", "find_rl_run", "locate_data", "search_dirs"]

#: The project's data folder: real benchmark files go to ``data/<benchmark>/`` (never committed).
DATA_DIR = PROJECT_ROOT / "data"
#: The committed samples, one per benchmark, in each benchmark's real schema (``data/README.md``).
SAMPLES = DATA_DIR / "samples"
#: Environment variable naming one more folder that holds ``<benchmark>/<file>`` copies.
DATA_ENV = "DELTAMEM_DATA"

_FILES = {"locomo": ("locomo/locomo10.json", "locomo_tiny.json", None),
          "halumem": ("halumem/HaluMem-Medium.jsonl", "halumem_tiny.jsonl", None),
          "personamem": ("personamem/questions_32k.csv", "personamem_questions_tiny.csv",
                         ("personamem/shared_contexts_32k.jsonl", "personamem_contexts_tiny.jsonl"))}


class SampleDataWarning(UserWarning):
    """A benchmark's real file was not found and its small sample is used instead."""


@dataclass(frozen=True)
class DataFile:
    """A located benchmark file: ``path`` (and PersonaMem's ``contexts``), whether it is the
    sample (``fixture``), and a sentence saying which it is."""

    benchmark: str
    path: Path
    contexts: Path | None
    fixture: bool
    note: str

    @property
    def source(self) -> str:
        """``"sample"`` or ``"real"``: the value of ``data_source`` in results files."""
        return "sample" if self.fixture else "real"


def _root(data_dir: str | os.PathLike[str]) -> Path:
    p = Path(data_dir)
    return p if p.is_absolute() else PROJECT_ROOT / p


def search_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for real benchmark files, in order: ``data_dir`` (when given,
    relative to the project root), ``data/``, then ``$DELTAMEM_DATA`` (when set)."""
    dirs = [_root(data_dir)] if data_dir else []
    dirs.append(DATA_DIR)
    env = os.environ.get(DATA_ENV)
    if env:
        dirs.append(Path(env).expanduser())
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def data_source(path: str | os.PathLike[str]) -> str:
    """``"sample"`` when ``path`` is one of the committed samples in ``data/samples``, else ``"real"``
    (a relative path is read from the project root, as the results files record it)."""
    try:
        _root(path).resolve().relative_to(SAMPLES.resolve())
    except ValueError:
        return "real"
    return "sample"


def data_label(path: str | os.PathLike[str]) -> str:
    """What a measured number was computed on, in one word: ``"sample"`` for the hand-made files of
    ``data/samples``, else the real file's name (``"locomo10.json"``). Every table row, table title
    and figure title that shows benchmark results carries it."""
    return "sample" if data_source(path) == "sample" else Path(path).name


def locate_data(benchmark: str, data_dir: str | os.PathLike[str] | None = None, *,
                warn: bool = True) -> DataFile:
    """The real file of ``benchmark`` in the first folder of :func:`search_dirs` that holds it
    (PersonaMem needs its contexts file too), else the sample in ``data/samples``, with a
    :class:`SampleDataWarning` unless ``warn`` is false."""
    if benchmark not in _FILES:
        raise ValueError(f"unknown benchmark {benchmark!r}; known: {', '.join(_FILES)}")
    real, tiny, ctx = _FILES[benchmark]
    dirs = search_dirs(data_dir)
    for root in dirs:
        if (root / real).is_file() and (ctx is None or (root / ctx[0]).is_file()):
            return DataFile(benchmark, root / real, root / ctx[0] if ctx else None, False,
                            f"{benchmark}: the real file {root / real}")
    why = f"no {real} in {', '.join(str(d) for d in dirs)}"
    for root in dirs:
        if ctx is not None and (root / real).is_file():
            why = f"{root / real} is there but its conversations ({ctx[0]}) are not"
            break
    note = (f"{benchmark}: {why}; USING THE SAMPLE {SAMPLES / tiny} "
            f"(hand-made, same schema: its numbers show "
            f"the mechanics, not the benchmark). Get the real file with `deltamem data fetch {benchmark}` "
            f"or put it in data/{real} (or in ${DATA_ENV}/{real}).")
    if warn:
        warnings.warn(note, SampleDataWarning, stacklevel=2)
    return DataFile(benchmark, SAMPLES / tiny, SAMPLES / ctx[1] if ctx else None, True, note)


@dataclass(frozen=True)
class RLRun:
    """Notebook 04's outputs: ``adapter`` (a LoRA folder) and ``results`` (its JSON), or ``None``;
    ``agent`` (oneshot / react) and ``model_spec`` it was trained with; ``note`` says what was found."""

    adapter: Path | None
    results: Path | None
    agent: str | None
    model_spec: str | None
    note: str
    prompt_options: dict[str, Any] = field(default_factory=dict)
    label: str = "RL (notebook 04 adapter)"

    @property
    def system(self) -> str:
        return "deltamem" if self.agent == "react" else "deltamem-oneshot"


#: the one-shot agent's settings that make up the prompt an adapter was trained on
PROMPT_OPTIONS = ("prompt_style", "related_k")


def _prompt_options(info: dict[str, Any]) -> dict[str, Any]:
    """The one-shot prompt the adapter was trained on (``prompt_style``, ``related_k``), so that it
    is evaluated on the prompt it learned: from the results file's ``agent_options``, else its
    ``config``; empty for the ReAct agent or when the file does not say."""
    if info.get("agent") != "oneshot":
        return {}
    known = {**info.get("config", {}), **info.get("agent_options", {})}
    return {k: known[k] for k in PROMPT_OPTIONS if k in known}


def find_rl_run(output_dir: str | os.PathLike[str], profile: str, model: str, *,
                adapter: str | os.PathLike[str] = "") -> RLRun:
    """The RL adapter for ``model``: ``adapter`` if given, else ``<output_dir>/04_rl_training/grpo/
    adapter``; its results file ``<output_dir>/results/04_rl_training_<profile>.json`` (the run
    folder's layout, whether notebook 04 or ``deltamem train --out <output_dir>`` trained it).
    An adapter trained on another base model than ``model`` is not used (the note says so).
    ``adapter="shipped"``: the SFT+GRPO adapter of the ``cpu`` profile shipped in ``data/adapters/cpu/``
    (:mod:`deltamem_lib.models.shipped`, checked by SHA-256), for a machine that did not run notebook 04."""
    if str(adapter) == "shipped":
        shipped = shipped_adapters("cpu", ("sft+grpo",), model=model)
        if not shipped.adapters:
            return RLRun(None, None, None, None, shipped.note)
        one = shipped.adapters[0]
        return RLRun(one.path, PROJECT_ROOT / one.info["results"], "oneshot", model,
                     f"{shipped.note}; results file {one.info['results']}",
                     _prompt_options({"agent": "oneshot", "agent_options": one.agent_options}),
                     label="RL (notebook 04's cpu adapter, shipped)")
    run = Path(output_dir) / "04_rl_training"  # training.pipeline.training_folder (not imported: layers)
    results = Path(output_dir) / "results" / f"04_rl_training_{profile}.json"
    info: dict[str, Any] = read_json(results) if results.is_file() else {}
    path = Path(adapter) if adapter else run / "grpo" / "adapter"
    if not (path / "adapter_config.json").is_file():
        return RLRun(None, results if info else None, info.get("agent"), info.get("model_spec"),
                     f"no RL adapter at {path}: not trained in this run (notebook 04 trains one)")
    spec = info.get("model_spec")
    if spec is not None and spec != model:
        return RLRun(None, results, info.get("agent"), spec,
                     f"the adapter at {path} was trained on {spec!r}, not on {model!r}: not used")
    options = _prompt_options(info)
    shown = ", ".join(f"{k} {v}" for k, v in options.items())
    return RLRun(path, results if info else None, info.get("agent"), spec,
                 f"RL adapter {path}"
                 + (f" (evaluated on the prompt it was trained on: {shown})" if shown else ""),
                 options)
