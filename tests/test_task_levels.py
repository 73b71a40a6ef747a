"""The single-change level of the task and the decision diagnostics (does the model read the session?)."""

from __future__ import annotations

import json
from collections import Counter
from types import SimpleNamespace

import pytest

from deltamem_lib.episodes import parse_rl_row
from deltamem_lib.synthesis import SynthConfig, generate_episodes
from deltamem_lib.synthesis.levels import (
    KINDS,
    LevelError,
    balanced_rows,
    single_change_pools,
    single_change_rows,
)
from deltamem_lib.training.datasets import grpo_rows, prepare_data, sft_rows
from deltamem_lib.training.decisions import (
    _decision_tokens,
    decision_report,
    kind_probabilities,
    predicted_kind,
    separation,
)
from deltamem_lib.training.settings import TrainConfig


@pytest.fixture(scope="module")
def episodes():
    return generate_episodes(SynthConfig(users=30, sessions=8, seed=5))


@pytest.fixture(scope="module")
def pools(episodes):
    return single_change_pools(episodes, seed=0)


def test_each_session_holds_one_change_or_none(pools):
    assert all(len(pools[k]) > 5 for k in KINDS), {k: len(v) for k, v in pools.items()}
    for kind, rows in pools.items():
        for r in rows:
            ex = parse_rl_row(r)
            ops = json.loads(r["gold_ops"])
            assert r["kind"] == kind and len(ops) == (0 if kind == "none" else 1)
            assert 1 <= len(ex.state_before) <= 5
            assert all(t.speaker == "user" for t in ex.turns) and 1 <= len(ex.turns) <= 3
            state = ex.state_before.copy()
            state.apply(list(ex.gold_ops), timestamp=ex.date)
            assert [(e.id, e.content) for e in state.entries] == [(e.id, e.content)
                                                                  for e in ex.state_after.entries]
            if kind in ("UPDATE", "DELETE"):
                assert ops[0]["memory_id"] in ex.state_before  # the target is shown
            if kind != "none":  # the change's evidence is kept
                assert set(ops[0]["evidence"]) <= {t.turn_id for t in ex.turns}


def test_balanced_rows_and_a_clear_shortfall(pools):
    rows = balanced_rows(pools, 5, seed=1)
    assert Counter(r["kind"] for r in rows) == {k: 5 for k in KINDS}
    assert rows == balanced_rows(pools, 5, seed=1)  # seeded
    with pytest.raises(LevelError, match="kind DELETE"):
        balanced_rows({**pools, "DELETE": pools["DELETE"][:2]}, 5, where="held-out users")


def test_single_change_rows_is_pools_then_balance(episodes, pools):
    assert single_change_rows(episodes, 4, seed=0) == balanced_rows(pools, 4, seed=0)
    with pytest.raises(ValueError, match="max_memories"):
        single_change_pools(episodes, max_memories=0)


def test_training_data_of_the_single_level_keeps_users_apart_and_sft_from_grpo():
    cfg = TrainConfig(level="single", train_users=40, test_users=30, sessions_per_user=8, eval_sessions=40,
                      sft_examples=16)
    data = prepare_data(cfg)
    assert data.level == "single" and data.stats["test_kinds"] == {k: 10 for k in KINDS}
    assert len(set(data.stats["train_kinds"].values())) == 1
    assert not {r["user_id"] for r in data.train_rows} & {r["user_id"] for r in data.test_rows}
    assert data.full_test_rows and "kind" not in data.full_test_rows[0]
    sft = sft_rows(data.train_rows, cfg)
    assert Counter(r["kind"] for r in sft) == {k: 4 for k in KINDS}
    grpo = grpo_rows(data.train_rows, cfg)
    assert len(grpo) == len(data.train_rows) - 16
    assert not {r["session_id"] for r in sft} & {r["session_id"] for r in grpo}
    # SFT taking every session would leave GRPO nothing: refused in one line, not a silent step-0 stop
    with pytest.raises(ValueError, match="GRPO has no training session left: SFT used all"):
        grpo_rows(data.train_rows, cfg.replace(sft_examples=len(data.train_rows)))
    with pytest.raises(ValueError, match="level="):
        TrainConfig(level="medium").validate()


# ----- decisions --------------------------------------------------------------------------------
def _rec(add=0, update=0, delete=0, malformed=0, tp_update=0):
    return {"malformed_outputs": malformed, "counts": {"pred_ADD": add, "pred_UPDATE": update,
                                                       "pred_DELETE": delete,
                                                      "tp_UPDATE": tp_update}}


def test_predicted_kind_and_the_report():
    assert predicted_kind(_rec()) == "none" and predicted_kind(_rec(add=1)) == "ADD"
    assert predicted_kind(_rec(add=1,
                               update=1)) == "multi" and predicted_kind(_rec(malformed=1)) == "malformed"
    kinds = ["none", "ADD", "UPDATE", "UPDATE", "DELETE"]
    recs = [_rec(), _rec(update=1), _rec(update=1, tp_update=1), _rec(update=1), _rec(malformed=1)]
    rep = decision_report(recs, kinds)
    assert rep["type_accuracy"] == pytest.approx(3 / 5)
    assert rep["type_accuracy_by_kind"] == {"none": 1.0, "ADD": 0.0, "UPDATE": 1.0, "DELETE": 0.0}
    assert rep["id_accuracy"] == {"UPDATE": 0.5, "DELETE": 0.0}
    assert rep["largest_kind"] == "UPDATE" and rep["largest_share"] == pytest.approx(3 / 5)
    assert rep["confusion"]["ADD->UPDATE"] == 1 and rep["predicted"]["malformed"] == 1
    with pytest.raises(ValueError, match="kinds"):
        decision_report(recs, ["none", "ADD", "UPDATE", "UPDATE", "NOOP"])


def test_separation_is_zero_for_a_global_bias_and_positive_for_reading():
    kinds = ["none", "ADD", "UPDATE", "DELETE"] * 3
    biased = [[0.1, 0.1, 0.7, 0.1]] * len(kinds)
    s = separation(biased, kinds)
    assert s["separation"] == {k: 0.0 for k in KINDS} and s["mean"]["UPDATE"] == 0.7
    reading = [[0.7 if KINDS.index(k) == c else 0.1 for c in range(4)] for k in kinds]
    r = separation(reading, kinds)
    assert r["min_separation"] == pytest.approx(0.6) and r["p_gold"] == pytest.approx(0.7)


class _Tok:
    """A character-level tokenizer whose chat template is the plain text of the messages."""

    pad_token_id, eos_token_id = 0, 0

    def __call__(self, s, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in s]}

    def apply_chat_template(self, messages, add_generation_prompt=True, tokenize=False, **kw):
        return "".join(m["content"] for m in messages) + ">"


class _Model:
    """Logits that favour ']' after '[' when the prompt contains '!', and 'D' (DELETE) otherwise."""

    training = False

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def __call__(self, input_ids, attention_mask, position_ids):
        import torch

        logits = torch.zeros(*input_ids.shape, 128)
        for b, seq in enumerate(input_ids.tolist()):
            bang = ord("!") in seq
            for i, t in enumerate(seq):
                if t == ord("["):
                    logits[b, i, ord("]") if bang else ord("{")] = 5.0
            logits[b, -1, ord("D")] = 5.0
        return SimpleNamespace(logits=logits)


def test_kind_probabilities_read_the_decision_tokens():
    prefix, at, close, ops = _decision_tokens(_Tok())
    assert at == 1 and close == ord("]") and prefix[at] == ord("{") and ops == [ord("A"), ord("U"), ord("D")]
    probs = kind_probabilities(_Model(), _Tok(), [[{"role": "user", "content": "nothing new!"}],
                                                  [{"role": "user", "content": "a long session text"}]],
                               batch_size=2)
    assert all(sum(p) == pytest.approx(1.0) for p in probs)
    assert probs[0][0] > 0.9 and probs[1][0] < 0.1  # the position of '[' is read, padding included
    assert probs[1][3] == max(probs[1][1:])


def test_doing_nothing_on_the_full_level_is_doing_nothing(tmp_path, monkeypatch):
    """"no-op (full level)" is scored as doing nothing, never by loading a model."""
    from deltamem_lib.training import pipeline

    cfg = TrainConfig(level="single", train_users=40, test_users=30, sessions_per_user=8, eval_sessions=40,
                      full_level_eval_sessions=12, sft_examples=40)
    monkeypatch.setattr(pipeline, "evaluate_model", lambda *a, **k: pytest.fail("a model was evaluated"))
    run = pipeline.Run(cfg, tmp_path)
    run.evaluate_full_level([])  # the path notebook 04 and `deltamem train` take
    res = run.evaluations["no-op (full level)"]
    assert res["sessions"] == 12 and "decisions" not in res
    assert res["per_session"] and all(r.get("counts", {}).get("tp_ADD", 0) == 0 for r in res["per_session"])
