"""Tests of the procedural generator, probes, splits, output folder and CLI (issue 3)."""

from __future__ import annotations

import json
import random
import string
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deltamem_lib.cli import main as cli_main
from deltamem_lib.episodes import Episode, EpisodeError, check_episode, load_episodes, parse_rl_row
from deltamem_lib.memory import OpType
from deltamem_lib.synthesis import (
    SynthConfig,
    TargetError,
    check_targets,
    dataset_stats,
    generate_episode,
    generate_episodes,
    operation_counts,
    synthesize_user,
)
from deltamem_lib.synthesis import phrases as P
from deltamem_lib.synthesis.dataset import (
    build_dataset_dict,
    load_synth_output,
    split_users,
    write_synth_output,
)
from deltamem_lib.synthesis.events import EVENT_TYPES
from deltamem_lib.synthesis.probes import (
    PROBE_FIELDS,
    gold_lookup_answer,
    lookup_accuracy,
    probe_questions,
    probe_rows,
    score_answer,
)
from deltamem_lib.synthesis.stats import extraction_difficulty
from deltamem_lib.synthesis.text import occurs
from deltamem_lib.synthesis.world import FACT_TYPES, article

USERS, SESSIONS = 120, 20


@pytest.fixture(scope="module")
def episodes() -> list[Episode]:
    return generate_episodes(SynthConfig(users=USERS, sessions=SESSIONS, seed=0))


def _user_text(session) -> str:
    return " ".join(t.text for t in session.turns if t.speaker == "user")


# ----- determinism and integrity --------------------------------------------------------------
def test_same_seed_same_episode_and_users_independent_of_count():
    a = generate_episode(SynthConfig(users=3, sessions=6, seed=5), 2)
    b = generate_episode(SynthConfig(users=50, sessions=6, seed=5), 2)
    assert a.to_dict() == b.to_dict()
    c = generate_episode(SynthConfig(users=3, sessions=6, seed=6), 2)
    assert c.to_dict() != a.to_dict()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), index=st.integers(0, 500), sessions=st.integers(1, 24))
def test_integrity_for_many_seeds(seed, index, sessions):
    ep = generate_episode(SynthConfig(users=index + 1, sessions=sessions, seed=seed), index)
    check_episode(ep)  # replay reproduces every state_after; keywords in user turns; known ids
    assert len(ep.sessions) == sessions
    assert not check_targets([ep]), check_targets([ep])
    ids_seen = {e.id for e in ep.initial_memory}
    for s in ep.sessions:
        text = _user_text(s)
        turn_ids = {t.turn_id for t in s.turns if t.speaker == "user"}
        for op in s.gold_ops:
            assert op.evolution in ("intra", "inter", "padding")
            assert set(op.evidence) <= turn_ids and op.evidence, op
            if op.op is OpType.ADD:
                assert op.memory_id not in ids_seen  # ids are never reused
                ids_seen.add(op.memory_id)
            if op.op in (OpType.ADD, OpType.UPDATE):
                assert op.keywords
                for kw in op.keywords:
                    assert occurs(kw, text)
                    assert occurs(kw, op.content)  # a faithful copy of the gold entry keeps them
                    assert any(occurs(kw, t.text) for t in s.turns if t.turn_id in op.evidence)


def test_dates_advance_and_entries_are_third_person_sentences(episodes):
    for ep in episodes[:30]:
        dates = [s.date for s in ep.sessions]
        assert dates == sorted(dates) and len(set(dates)) == len(dates)
        for s in ep.sessions:
            for e in s.state_after:
                assert e.content.startswith("User") and e.content.endswith(".") and e.content.count(".") <= 2


def test_operation_mix_meets_targets_with_all_three_evolution_kinds(episodes):
    counts = operation_counts(episodes)
    assert counts["update_delete_share"] >= 0.25
    assert counts["inter_share_of_updates"] >= 0.10
    table = counts["table"]
    assert table["ADD"]["padding"] > 0 and table["UPDATE"]["inter"] > 0 and table["DELETE"]["intra"] > 0
    assert table["UPDATE"]["padding"] == table["DELETE"]["padding"] == 0  # padding is only ever ADD
    assert table["ADD"]["inter"] == 0  # inter-event evolution revises an earlier memory


def test_some_sessions_change_nothing(episodes):
    sessions = [s for ep in episodes for s in ep.sessions]
    share = sum(not s.gold_ops for s in sessions) / len(sessions)
    assert 0.05 <= share <= 0.2, share


def test_unreachable_targets_raise_naming_the_shortfall():
    cfg = SynthConfig(users=1, sessions=4, seed=0, min_update_delete_share=0.99, max_attempts=2)
    with pytest.raises(TargetError, match=r"UPDATE\+DELETE are .* \(target >= 99%\)"):
        generate_episode(cfg, 0)


def test_check_targets_counts_inter_updates_only():
    counts = {"total": 10, "by_type": {"ADD": 5, "UPDATE": 4, "DELETE": 1}, "update_delete_share": 0.5,
              "inter_share_of_updates": 0.0}
    assert check_targets(counts) == ["inter-event evolution is 0.0% of 4 UPDATEs (target >= 10%)"]
    assert check_targets({**counts, "inter_share_of_updates": 0.25}) == []


@pytest.mark.parametrize("kw,problem", [({"users": 0}, "users"), ({"sessions": -1}, "sessions"),
                                        ({"quiet_rate": 1.5}, "quiet_rate"),
                                        ({"min_gap_days": 9, "max_gap_days": 3}, "max_gap_days")])
def test_config_rejects_bad_settings(kw, problem):
    with pytest.raises(ValueError, match=problem):
        SynthConfig(**kw)


# ----- realism: distractors, indirect and spread mentions --------------------------------------
def test_distractors_never_become_memories(episodes):
    n = 0
    for ep in episodes:
        contents = [e.content for e in ep.initial_memory] + [e.content for s in ep.sessions
                                                             for e in s.state_after]
        for s in ep.sessions:
            for d in s.event["distractors"]:
                n += 1
                assert occurs(d["value"], d["text"]) and occurs(d["text"], _user_text(s))
                assert not any(occurs(d["value"], c) for c in contents), (ep.user_id, d)
                name = d["person"].split()[-1]
                assert not any(occurs(name, c) for c in contents), (ep.user_id, d)
    assert n > len(episodes) * SESSIONS * 0.5  # distractors are common, not a rarity


def test_dialogues_are_not_trivially_extractable(episodes):
    d = extraction_difficulty(episodes)
    assert d["verbatim"] == 0  # no entry is ever said word for word
    assert d["predicate"] < 0.05, d  # nor, but rarely, "lives in Leeds" as such
    assert d["spread"] > 0.2 and d["distractor"] > 0.4 and d["corrections"] > 0.05, d


def test_extraction_difficulty_sees_a_verbatim_sentence(episodes):
    ep = json.loads(json.dumps(episodes[0].to_dict()))
    s = next(s for s in ep["sessions"] if any(o["op"] == "ADD" for o in s["gold_ops"]))
    op = next(o for o in s["gold_ops"] if o["op"] == "ADD")
    s["turns"].append({"turn_id": "t99", "speaker": "user", "text": f"For the record: {op['content']}"})
    op["evidence"] = op["evidence"] + ["t99"]
    before = extraction_difficulty([episodes[0]])
    after = extraction_difficulty([Episode.from_dict(ep)])
    written = sum(o.op in (OpType.ADD, OpType.UPDATE) for s in episodes[0].sessions for o in s.gold_ops)
    assert after["verbatim"] == pytest.approx(before["verbatim"] + 1 / written)
    assert after["predicate"] > before["predicate"]


def test_many_distinct_phrasings_per_event_kind(episodes):
    skeletons: dict[str, set[str]] = defaultdict(set)
    for ep in episodes:
        for s in ep.sessions:
            main = [op for op in s.gold_ops if op.evolution != "padding"]
            for op in main[:1]:
                turns = [t.text for t in s.turns if t.turn_id in op.evidence]
                skel = " ".join(turns)
                for kw in sorted(op.keywords, key=len, reverse=True):
                    skel = skel.replace(kw, "<kw>")
                skeletons[s.event["kind"]].add(skel[:25])
    assert sum(len(v) for v in skeletons.values()) >= 80
    common = [k for k in ("move", "new_job", "adopt_pet", "take_up_hobby", "correction") if k in skeletons]
    assert len(common) == 5 and all(len(skeletons[k]) >= 3 for k in common), {k: len(skeletons[k])
                                                                              for k in common}


def test_every_event_template_says_its_keywords():
    contexts: dict[str, list[tuple[dict, list]]] = defaultdict(list)
    for i in range(60):
        for ev in synthesize_user(SynthConfig(users=60, sessions=16, seed=1), i).timeline:
            for kind in {c.cause for c in ev.changes} - {"padding"}:
                main = [c for c in ev.changes if c.cause == kind]
                key = f"change_taste:{main[0].fact.type}" if kind == "change_taste" else kind
                ctx = {"first": "Alex"}
                for c in main:
                    ctx.update({k: v for k, v in c.context().items() if k not in ctx})
                contexts[key].append((ctx,
                                      [k for c in main if c.op is not OpType.DELETE
                                       for k in c.fact.keywords()]))
    banks = {**P.EVENTS, **{f"correction:{k}": {"single": v} for k, v in P.CORRECTIONS.items()}}
    for kind, ctxs in contexts.items():
        if kind == "correction":
            continue
        bank = banks[kind]
        for template in bank["single"] + [" ".join((a, c)) for a, _, c in bank.get("split", [])]:
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
            usable = [(c, kws) for c, kws in ctxs if fields <= c.keys()]
            assert usable or kind in ("buy_car", "change_diet"), (kind, template)
            for ctx, kws in usable[:5]:
                text = template.format(**ctx)
                assert all(occurs(k, text) for k in kws), (kind, text, kws)


def test_every_fact_type_can_be_probed_and_mentioned():
    assert set(P.CORRECTIONS) == {k for k, v in FACT_TYPES.items() if v.correctable}
    for name in FACT_TYPES:
        if name not in ("injury",):  # injuries only arise from events
            assert name in P.PADDING or any(k.startswith(f"{name}:") for k in P.PADDING), name
    assert set(EVENT_TYPES) <= set(P.EVENTS) | {"correction", "change_taste"}


def test_article():
    assert [article(x) for x in ("nurse", "accountant", "HR advisor", "UX designer", "Audi A3", "PhD")] == \
        ["a nurse", "an accountant", "an HR advisor", "a UX designer", "an Audi A3", "a PhD"]


# ----- probes ---------------------------------------------------------------------------------
def test_probes_are_answerable_from_gold_state_and_not_from_stale(episodes):
    kinds = Counter()
    for ep in episodes[:40]:
        states = [ep.initial_memory] + [s.state_after for s in ep.sessions]
        for p in probe_questions(ep):
            assert set(PROBE_FIELDS) <= p.keys()
            i = p["asked_after_session_index"]
            assert p["session_id"] == ep.sessions[i].session_id
            kinds[p["kind"]] += 1
            assert score_answer(p, gold_lookup_answer(p, states[i + 1])) == 1.0, p
            stale = score_answer(p, gold_lookup_answer(p, states[i]))
            assert stale == (1.0 if p["kind"] == "unchanged" else 0.0), p
            if p["kind"] == "deleted":
                assert p["answer"] == "no" and p["memory_ids"][0] not in {e.id for e in states[i + 1]}
            if p["kind"] == "changed" and p["answer_type"] == "span":
                assert p["stale_answer"] and p["stale_answer"].lower() != p["answer"].lower()
    assert all(kinds[k] > 20 for k in ("added", "changed", "deleted", "unchanged")), kinds


def test_lookup_accuracy_separates_gold_stale_and_empty_memories(episodes):
    gold, previous, never = (lookup_accuracy(episodes[:30], m) for m in ("gold", "previous", "initial"))
    assert set(gold.values()) == {1.0}
    assert (previous["unchanged"] == 1.0
            and previous["changed"] == previous["added"] == previous["deleted"] == 0.0)
    assert never["all"] < previous["all"] < 1.0
    with pytest.raises(ValueError, match="memory"):
        lookup_accuracy(episodes[:1], "future")


def test_probe_questions_are_deterministic_and_scored_by_tokens(episodes):
    assert probe_questions(episodes[0]) == probe_questions(episodes[0])
    assert probe_rows(episodes[:3]) == [p for ep in episodes[:3] for p in probe_questions(ep)]
    span = {"answer_type": "span", "answer": "St Mary's Hospital"}
    assert score_answer(span, "She works at st mary's hospital now.") == 1.0
    assert score_answer(span, "St Mary Hospital") == 0.0
    yes_no = {"answer_type": "yes_no", "answer": "no"}
    assert score_answer(yes_no, "No, not any more.") == 1.0
    assert score_answer(yes_no, "Yes — still true.") == 0.0
    assert score_answer(yes_no, "I don't know") == 0.0


# ----- splits, dataset, output folder ---------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 300), seed=st.integers(0, 99))
def test_splits_are_user_level_disjoint_and_deterministic(n, seed):
    ids = [f"u{i:05d}" for i in range(n)]
    s = split_users(ids, seed=seed)
    assert sorted(s["train"] + s["validation"] + s["test"]) == ids
    assert not (set(s["train"]) & set(s["validation"]) or set(s["train"]) & set(s["test"])
                or set(s["validation"]) & set(s["test"]))
    # round(n · 0.1) users each, but at least one from three users on (a workshop's --users 3)
    expected = max(round(n * 0.1), 1) if n >= 3 else round(n * 0.1)
    assert s["train"] and len(s["validation"]) == expected and len(s["test"]) == expected
    shuffled = ids[:]
    random.Random(seed).shuffle(shuffled)
    assert split_users(shuffled, seed=seed) == s


def test_split_rejects_bad_fractions():
    with pytest.raises(ValueError, match="sum"):
        split_users(["a", "b"], fractions=(0.5, 0.5, 0.5))


def test_dataset_dict_rows_are_sessions_of_their_split_users(episodes):
    eps = episodes[:20]
    splits = split_users([e.user_id for e in eps], seed=3)
    dd = build_dataset_dict(eps, splits)
    assert set(dd) == {"train", "validation", "test"}
    for name, ds in dd.items():
        assert set(ds["user_id"]) == set(splits[name])
        assert len(ds) == SESSIONS * len(splits[name])
    row = dd["train"][5]
    assert all(isinstance(row[k], str) for k in ("session", "state_before", "state_after", "gold_ops"))
    ex = parse_rl_row(row)
    ep = next(e for e in eps if e.user_id == row["user_id"])
    assert [e.content for e in ex.state_after] == [e.content
                                                   for e in ep.sessions[row["session_index"]].state_after]


def test_write_output_and_reload(tmp_path, episodes):
    out = write_synth_output(tmp_path / "synth", episodes[:10], seed=0, generator="procedural")
    eps, dd, stats = load_synth_output(out.path)
    assert [e.to_dict() for e in eps] == [e.to_dict() for e in episodes[:10]]
    assert stats["users"] == 10 and stats["sessions"] == 10 * SESSIONS and stats["seed"] == 0
    assert sum(v["users"] for v in stats["splits"].values()) == 10
    assert sum(len(d) for d in dd.values()) == 10 * SESSIONS
    assert stats == dataset_stats(episodes[:10], seed=0,
                                  splits=split_users([e.user_id for e in episodes[:10]]))\
        | {"split_fractions": [0.8, 0.1, 0.1]}
    with pytest.raises(FileExistsError, match="overwrite"):
        write_synth_output(out.path, episodes[:2], seed=0, generator="procedural")


def test_failure_mid_write_leaves_nothing_behind(tmp_path, episodes, monkeypatch):
    import deltamem_lib.synthesis.dataset as dataset_mod

    target = tmp_path / "synth"
    write_synth_output(target, episodes[:3], seed=0, generator="procedural")
    before = sorted(p.name for p in target.iterdir())
    old_episodes = (target / "episodes.jsonl").read_text()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(dataset_mod, "dataset_stats", boom)  # fails after episodes and dataset are written
    with pytest.raises(RuntimeError, match="disk full"):
        write_synth_output(target, episodes[:6], seed=0, generator="procedural", overwrite=True)
    with pytest.raises(RuntimeError, match="disk full"):
        write_synth_output(tmp_path / "fresh", episodes[:6], seed=0, generator="procedural")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synth"]  # no temporary folder, no "fresh"
    assert sorted(p.name for p in target.iterdir()) == before
    assert (target / "episodes.jsonl").read_text() == old_episodes


def test_an_invalid_episode_is_never_written(tmp_path, episodes):
    bad = json.loads(json.dumps(episodes[0].to_dict()))
    first = next(s for s in bad["sessions"] if any(o["keywords"] for o in s["gold_ops"]))
    op = next(o for o in first["gold_ops"] if o["keywords"])
    op["keywords"] = op["keywords"] + ["zeppelin"]
    for e in first["state_after"]:
        if e["id"] == op["memory_id"]:
            e["keywords"] = op["keywords"]
    with pytest.raises(EpisodeError, match="zeppelin"):
        write_synth_output(tmp_path / "out", [Episode.from_dict(bad)], seed=0, generator="procedural")
    assert not list(tmp_path.iterdir())


# ----- CLI ------------------------------------------------------------------------------------
def test_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "synth"
    assert cli_main(["synth", "--users", "6", "--sessions", "3", "--seed", "2", "--out", str(out),
                     "--no-progress"]) == 0
    assert "6 users, 18 sessions" in capsys.readouterr().out
    eps = load_episodes(out / "episodes.jsonl", check=True)
    stats = json.loads((out / "stats.json").read_text())
    assert len(eps) == 6 and stats["generator"] == "procedural" and stats["seed"] == 2
    assert eps[0].to_dict() == generate_episode(SynthConfig(users=6, sessions=3, seed=2), 0).to_dict()
    assert cli_main(["synth", "--users", "2", "--sessions", "2", "--out", str(out), "--no-progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli_main(["synth", "--users", "2", "--sessions", "2", "--out", str(out), "--no-progress",
                     "--overwrite"]) == 0
    assert len(load_episodes(out / "episodes.jsonl")) == 2


@pytest.mark.parametrize("args,message",
                         [(["--users", "0"], "must be >= 1"), (["--sessions", "x"], "integer"),
                                          (["--split", "0.5", "0.5", "2"], "between 0 and 1"),
                                          (["--generator", "gpt"], "invalid choice")])
def test_cli_rejects_bad_arguments(tmp_path, capsys, args, message):
    base = {"--users": "2", "--sessions": "2", "--out": str(tmp_path / "o")}
    for k, v in zip(args[::2], args[1::2]):
        base[k] = v
    argv = ["synth"] + [x for kv in base.items() for x in kv] + args[4:]
    if args[0] == "--split":
        argv = ["synth", "--users", "2", "--sessions", "2", "--out", str(tmp_path / "o"), *args]
    with pytest.raises(SystemExit) as exc:
        cli_main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_split_must_sum_to_one(tmp_path, capsys):
    assert cli_main(["synth", "--users", "2", "--sessions", "2", "--out", str(tmp_path / "o"),
                     "--split", "0.5", "0.3", "0.1"]) == 2
    assert "sum to 1" in capsys.readouterr().err
