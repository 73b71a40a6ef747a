"""Self-checking helpers for the notebooks' Exercises sections.

Each ``check_*`` function returns a :class:`Check`: ``ok`` is True (right), False (wrong)
or None (no answer yet), and the message says why — a notebook shows it as Markdown. The
checks never raise on a wrong answer, so a reader can keep trying.

* :mod:`deltamem_lib.exercises.mld` — notebook 02, the MLD reward.
"""

from .mld import Check

__all__ = ["Check"]
