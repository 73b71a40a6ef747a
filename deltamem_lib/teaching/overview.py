"""The workbook's overview diagram (the analogue of DeltaMem's Figure 1).

A session enters; the memory agent reads it and the current memory state, searches, and
emits ADD / UPDATE / DELETE operations; the environment applies them; the resulting state is
compared with the gold state of the synthetic data by the MLD reward, which GRPO uses to
update the agent. ``draw_overview("figures")`` writes the figure shown at the top of the README
(``figures/overview.png``, with the boxes and arrows drawn in ``overview.json``).
"""

from __future__ import annotations

import os

from ..io import save_figure

__all__ = ["draw_overview"]

_BOXES = {
    # key: (x, y, width, height, title, body, colour)
    "synth": (0.02, 0.60, 0.28, 0.34, "Synthetic data (01)",
              "persona → timeline → events\nsession d(t+1) + gold ops\n(intra / inter / padding)", "#e8f1fb"),
    "agent": (0.36, 0.60, 0.28, 0.34, "Memory agent (03)",
              "reads d(t+1) and S(t)\nsearch_memory(query)\nADD / UPDATE / DELETE", "#fdf1e1"),
    "state": (0.70, 0.60, 0.28, 0.34, "Predicted state",
              "S(t) + agent's ops = Ŝ(t+1)\nids m1, m2 … never reused\nprovenance per entry", "#eaf6ea"),
    "gold": (0.02, 0.16, 0.28, 0.30, "Gold state S(t+1)",
             "S(t) + gold ops\nkeywords per entry", "#e8f1fb"),
    "grpo": (0.36, 0.16, 0.28, 0.30, "GRPO + LoRA (04)",
             "a group of rollouts per session\nadvantage = r − mean(r)\nTRL environment_factory", "#fbeaea"),
    "reward": (0.70, 0.16, 0.28, 0.30, "MLD reward (02)",
               "drop the shared entries\noptimal transport on sim\nkeyword fidelity → r_trans", "#f6e9f5"),
}
# (from, to, label, connection style)
_ARROWS = [("synth", "agent", "session", None), ("agent", "state", "operations", None),
           ("state", "reward", "Ŝ(t+1)", None), ("synth", "gold", "labels", None),
           ("reward", "grpo", "r_trans", None), ("grpo", "agent", "update", None),
           ("gold", "reward", "S(t+1)", "arc3,rad=0.25")]


def draw_overview(save_dir: str | os.PathLike[str] | None = None, dpi: int = 150):
    """Draw the diagram; with ``save_dir``, save it as ``overview.png`` (and what it draws as
    ``overview.json``) the way every figure of the workbook is saved. Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(11, 5.2))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.05, 1)
    centre = {}
    for key, (x, y, w, h, title, body, colour) in _BOXES.items():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.01,rounding_size=0.02",
                                    fc=colour, ec="#555555", lw=1.2))
        ax.text(x + w / 2, y + h - 0.05, title, ha="center", va="top", fontsize=11.5, weight="bold")
        ax.text(x + w / 2, y + h / 2 - 0.05, body, ha="center", va="center", fontsize=9.5, family="monospace")
        centre[key] = (x, y, w, h)

    def anchor(a: str, b: str) -> tuple[tuple[float, float], tuple[float, float]]:
        xa, ya, wa, ha = centre[a]
        xb, yb, wb, hb = centre[b]
        if abs(ya - yb) < 1e-6 and abs(xb - xa) > wa + 0.1:  # same row, not neighbours: go underneath
            return (xa + wa / 2, ya), (xb + wb / 2, yb)
        if abs(ya - yb) < 1e-6:  # neighbours in a row
            return ((xa + wa, ya + ha / 2), (xb, yb + hb / 2)) if xa < xb else ((xa, ya + ha / 2),
                                                                                (xb + wb, yb + hb / 2))
        return ((xa + wa / 2, ya), (xb + wb / 2, yb + hb)) if ya > yb else ((xa + wa / 2, ya + ha),
                                                                            (xb + wb / 2, yb))

    for a, b, label, style in _ARROWS:
        p, q = anchor(a, b)
        ax.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>", mutation_scale=16, lw=1.4, color="#333333",
                                     connectionstyle=style or "arc3,rad=0"))
        if label:
            lx, ly = (p[0] + q[0]) / 2, (p[1] + q[1]) / 2
            if style:
                ly -= 0.13
            elif abs(p[1] - q[1]) > 1e-6:
                lx += 0.04
            else:
                ly += 0.03
            ax.text(lx, ly, label, ha="center", fontsize=9, style="italic")
    ax.set_title("DeltaMem in this workbook: one session = one state transition, scored against the gold "
                 "state",
                 fontsize=12)
    fig.tight_layout()
    save_figure(fig, {"boxes": {k: {"title": b[4], "body": b[5]} for k, b in _BOXES.items()},
                      "arrows": [{"from": a, "to": b, "label": lab} for a, b, lab, _ in _ARROWS]},
                save_dir, "overview", dpi=dpi)
    return fig
