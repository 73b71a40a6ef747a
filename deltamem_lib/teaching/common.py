"""What every notebook helper shares: one verdict type, one table, one way to save a figure.

* :class:`Check` — the verdict of an exercise check: ``ok`` is True (right), False (wrong) or
  None (no answer yet), and the message says why; a notebook shows it as Markdown. Checks
  never raise on a wrong answer, so a reader can keep trying.
* :class:`Table` — a small table a notebook shows as Markdown.
* :func:`save_figure` — ``<name>.png`` plus ``<name>.json`` (the numbers drawn), each written
  atomically (:func:`deltamem_lib.io.save_figure`, the one implementation).
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

__all__ = ["Check", "Table", "has_widget_frontend", "save_figure"]


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

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], columns: Sequence[str], digits: int = 3,
                     note: str = "") -> Table:
        return cls(tuple(columns), tuple(tuple(r.get(c, "") for c in columns) for r in records), digits, note)

    def _cell(self, v: Any) -> str:
        if isinstance(v, float):
            return f"{v + 0.0:.{self.digits}f}"  # + 0.0: a zero penalty (-0.0) prints as 0.000
        return str(v).replace("|", "\\|")

    def _repr_markdown_(self) -> str:
        head = "| " + " | ".join(self.columns) + " |\n|" + "---|" * len(self.columns) + "\n"
        body = head + "\n".join("| " + " | ".join(self._cell(v) for v in row) + " |" for row in self.rows)
        return body + (f"\n\n{self.note}" if self.note else "")

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
