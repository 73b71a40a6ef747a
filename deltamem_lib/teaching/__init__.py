"""The notebooks' helpers, apart from the core: one module per notebook, plus what they share.

Figures, tables, explanations, interactive explorers and the self-checks of the Exercises
sections. The core library never imports this package (``tests/test_layers.py`` enforces it);
every figure function returns a matplotlib ``Figure`` and, given ``save_dir``, writes the PNG
and the numbers behind it as JSON (:func:`deltamem_lib.io.save_figure`).

* :mod:`.common` — :class:`~.common.Check` (an exercise's verdict), :class:`~.common.Table`,
  :func:`~.common.save_figure`, :func:`~.common.has_widget_frontend`;
* :mod:`.data_synthesis` — notebook 01: dataset figures, the session explorer, checks;
* :mod:`.mld_reward` — notebook 02: alignment heatmaps, order vs set, reward against the
  threshold, reward per typical mistake, a threshold explorer, checks;
* :mod:`.memory_agent` — notebook 03: the systems table and figure, transcripts, checks;
* :mod:`.rl_training` — notebook 04: one GRPO group by hand, reward density, the
  before/after and per-profile tables, checks;
* :mod:`.benchmarks_ablations` — notebook 05: the paper's tables beside measured rows,
  recall@k, cumulative accuracy and reward-ablation figures, checks;
* :mod:`.overview` — the README's overview diagram.

Submodules are imported on use (``from deltamem_lib.teaching import mld_reward``).
"""
