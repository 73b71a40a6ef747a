"""Figures of the workbook, one module per notebook topic.

Every plotting function returns a matplotlib ``Figure`` (closed in pyplot, so a notebook
shows it once, when the cell returns it) and, given ``save_dir``, also writes the PNG and
the numbers behind it as JSON next to it. Nothing here prints.

* :mod:`deltamem_lib.viz.mld` — the MLD reward (notebook 02): alignment heatmaps, order vs
  set, reward against the threshold, reward per typical mistake, a threshold explorer.
"""

from .mld import (
    Table,
    edit_script_table,
    has_widget_frontend,
    order_vs_set,
    plot_alignment,
    plot_alignments,
    plot_mistake_rewards,
    plot_order_vs_set,
    plot_reward_vs_threshold,
    reward_vs_threshold,
    save_figure,
    threshold_explorer,
)

__all__ = [
    "Table",
    "edit_script_table",
    "has_widget_frontend",
    "order_vs_set",
    "plot_alignment",
    "plot_alignments",
    "plot_mistake_rewards",
    "plot_order_vs_set",
    "plot_reward_vs_threshold",
    "reward_vs_threshold",
    "save_figure",
    "threshold_explorer",
]
