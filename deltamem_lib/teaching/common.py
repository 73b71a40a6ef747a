"""What every notebook helper shares: one verdict type, one table, one way to save a figure.

* :class:`Check` — the verdict of an exercise check: ``ok`` is True (right), False (wrong) or
  None (no answer yet), and the message says why; a notebook shows it as Markdown. Checks
  never raise on a wrong answer, so a reader can keep trying.
* :class:`Table` — a small table a notebook shows as Markdown, with an optional title; a table
  without rows shows one sentence (``empty``), never a bare header.
* :func:`save_figure` — ``<name>.png`` plus ``<name>.json`` (the numbers drawn), each written
  atomically (:func:`deltamem_lib.io.save_figure`, the one implementation).
* :func:`ties_by_construction` — the sentence a page shows instead of a comparison when the
  systems it compares wrote no memory at all, and so tie by construction.
* :func:`has_widget_frontend` — whether ipywidgets will render live (explorers degrade to a
  static view when not).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..io import save_figure

__all__ = ["Check", "Table", "has_widget_frontend", "operations_written", "save_figure",
           "ties_by_construction"]


@dataclass(frozen=True)
class Check:
    """The verdict of a check: ``ok`` True / False / None (not answered yet) and why."""

    ok: bool | None
    message: str

    def __bool__(self) -> bool:
        return bool(self.ok)

    def _repr_markdown_(self) -> str:
        icon = {True: "✅ **Right.**", False: "❌ **Not yet.**", None: "✏️ **Your turn.**"}[self.ok]
        return f"{icon} {self.message}"

    def __str__(self) -> str:
        return self._repr_markdown_()


@dataclass(frozen=True)
class Table:
    """A small table that a notebook shows as Markdown (``display`` or last expression)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    digits: int = 3
    note: str = ""  # Markdown shown under the table (e.g. the formula its last columns come from)
    title: str = ""  # shown in bold above the table (e.g. which data its measured rows come from)
    empty: str = ""  # the sentence shown instead of a header-only table when there are no rows

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], columns: Sequence[str], digits: int = 3,
                     note: str = "", title: str = "", empty: str = "") -> Table:
        return cls(tuple(columns), tuple(tuple(r.get(c, "") for c in columns) for r in records), digits, note,
                   title, empty)

    def _cell(self, v: Any) -> str:
        if isinstance(v, float):
            return f"{v + 0.0:.{self.digits}f}"  # + 0.0: a zero penalty (-0.0) prints as 0.000
        return str(v).replace("|", "\\|")

    def _repr_markdown_(self) -> str:
        if not self.rows:  # a header with nothing under it reads as a result; say what is missing instead
            return (f"**{self.title}**: " if self.title else "") + (self.empty
                                                                    or "nothing to show (no rows).")
        head = "| " + " | ".join(self.columns) + " |\n|" + "---|" * len(self.columns) + "\n"
        body = head + "\n".join("| " + " | ".join(self._cell(v) for v in row) + " |" for row in self.rows)
        return (f"**{self.title}**\n\n" if self.title else "") + body + (f"\n\n{self.note}" if self.note
                                                                         else "")

    def __str__(self) -> str:
        return self._repr_markdown_()


def has_widget_frontend() -> bool:
    """Whether ipywidgets will be rendered live: Colab, or a kernel started by a Jupyter
    server or VS Code. ``DELTAMEM_WIDGETS=1``/``0`` forces the answer. Papermill, nbval
    and plain Python get False."""
    forced = os.environ.get("DELTAMEM_WIDGETS")
    if forced in ("0", "1"):
        return forced == "1"
    if "google.colab" in sys.modules:
        return True
    ip = sys.modules.get("IPython")
    shell = ip.get_ipython() if ip is not None and hasattr(ip, "get_ipython") else None
    if shell is None or not hasattr(shell, "kernel"):
        return False
    return bool(os.environ.get("JPY_SESSION_NAME") or os.environ.get("VSCODE_PID"))


def operations_written(result: Mapping[str, Any]) -> int | None:
    """How many memory operations a result's system applied: ``op_f1.all.predicted`` of a harness
    evaluation (notebooks 03, 05's agent ablations), ``cost.ingest.operations`` of a benchmark run;
    ``None`` when the result does not say."""
    op_f1 = result.get("op_f1") or {}
    if isinstance(op_f1.get("all"), Mapping) and op_f1["all"].get("predicted") is not None:
        return int(op_f1["all"]["predicted"])
    ingest = (result.get("cost") or {}).get("ingest")
    if isinstance(ingest, Mapping) and ingest.get("operations") is not None:
        return int(ingest["operations"])
    return None


def _name(result: Mapping[str, Any]) -> str:
    return str(result.get("label") or result.get("system") or (result.get("labels") or {}).get("system")
               or "?")


def ties_by_construction(results: Sequence[Mapping[str, Any]], *, tie_with: str = "doing nothing",
                         what: str = "model systems", on: str = "these sessions") -> str | None:
    """One sentence when systems tie because none of them wrote a memory, else ``None``.

    ``results`` are the model systems compared (leave the references out). When every one of them
    applied no operation, their memories are the memory they started from, so their scores equal
    ``tie_with``'s by construction: the page says so instead of presenting the tie as a finding.
    When only some wrote nothing, the sentence names those. ``None`` also when a result does not
    say how many operations it applied (nothing can be claimed)."""
    written = [(_name(r), operations_written(r)) for r in results]
    if not written or any(n is None for _, n in written):
        return None
    empty = [name for name, n in written if n == 0]
    if not empty:
        return None
    if len(empty) == len(written) == 1:
        return (f"The only {what[:-1] if what.endswith('s') else what} here ({empty[0]}) wrote no memory on "
                f"{on}: its scores are those of {tie_with} by construction, not a measurement of the system.")
    if len(empty) == len(written):
        count = "both" if len(empty) == 2 else f"all {len(empty)}"
        return (f"{count.capitalize()} {what} ({', '.join(empty)}) wrote no memory on {on}: they tie with "
                f"{tie_with} by construction, so these scores compare nothing between them.")
    return (f"{', '.join(empty)} wrote no memory on {on}: {'it ties' if len(empty) == 1 else 'they tie'} "
            f"with {tie_with} by construction; only the other {what} ({len(written) - len(empty)}) are "
            "compared.")
