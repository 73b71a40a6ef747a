"""One true story per page: the helpers that keep a page from presenting a sample as the real
benchmark, a tie by construction as a comparison, or a raw setting as a number."""

from __future__ import annotations

from types import SimpleNamespace

from deltamem_lib.teaching.rl_training import profile_rows, training_steps


def test_training_steps_says_epochs_when_sft_steps_are_minus_one():
    cfg = SimpleNamespace(sft=True, sft_max_steps=-1, sft_epochs=1.0, grpo_max_steps=20)
    assert training_steps(cfg) == "SFT 1 epoch + GRPO 20 steps"
    assert training_steps(SimpleNamespace(sft=True, sft_max_steps=2, sft_epochs=1.0, grpo_max_steps=1)) == \
        "SFT 2 steps + GRPO 1 step"
    assert training_steps(SimpleNamespace(sft=False, sft_max_steps=-1, sft_epochs=2.0, grpo_max_steps=3)) == \
        "no SFT + GRPO 3 steps"
    assert training_steps(SimpleNamespace(sft=True, sft_max_steps=-1, sft_epochs=0.5, grpo_max_steps=3)) == \
        "SFT 0.5 epochs + GRPO 3 steps"


def test_profile_rows_never_show_a_raw_minus_one(tmp_path):
    rows = profile_rows(tmp_path)
    assert rows and all("-1" not in r["training"] for r in rows)
    assert any("epoch" in r["training"] for r in rows)  # cpu trains its SFT for an epoch
