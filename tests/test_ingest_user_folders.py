"""Ingest keeps one folder per user: users whose names share a slug keep their own memories, and
malformed or foreign ingest state is refused naming the file and field."""

from __future__ import annotations

import dataclasses
import json

import pytest

from deltamem_lib.agent.ingest import ingest_users, load_ingested
from deltamem_lib.agent.systems import make_system
from deltamem_lib.synthesis import SynthConfig, generate_episodes


@pytest.mark.parametrize("a,b", [("Ana Lee", "Ana_Lee"), ("李雷", "韩梅"), ("José", "Josè")])
def test_users_whose_names_share_a_slug_keep_their_own_memories(tmp_path, a, b):
    eps = generate_episodes(SynthConfig(users=2, sessions=2, seed=3))
    eps = [dataclasses.replace(eps[0], user_id=a), dataclasses.replace(eps[1], user_id=b)]
    first = ingest_users(make_system("oracle"), eps, out_dir=tmp_path)
    again = ingest_users(make_system("oracle"), eps, out_dir=tmp_path)  # every state read back from disk
    assert again.skipped == 4 and again.processed == 0
    for uid in (a, b):
        assert again.states[uid] == first.states[uid]
        assert load_ingested(tmp_path, uid) == first.states[uid]
    assert first.states[a][-1] != first.states[b][-1]
    folders = sorted((tmp_path / "states").iterdir())
    assert len(folders) == 2
    assert {json.loads((f / "user.json").read_text())["user_id"] for f in folders} == {a, b}


def test_a_user_folder_recording_another_id_is_refused(tmp_path):
    eps = generate_episodes(SynthConfig(users=1, sessions=2, seed=3))
    ingest_users(make_system("oracle"), eps, out_dir=tmp_path)
    (marker,) = (tmp_path / "states").glob("*/user.json")
    marker.write_text(json.dumps({"user_id": "someone else"}))
    with pytest.raises(ValueError, match=r"user\.json: field user_id: the folder belongs to 'someone else'"):
        load_ingested(tmp_path, eps[0].user_id)


@pytest.mark.parametrize("content,field",
                         [("[]", "field state"), ('{"user_id": "x", "state": {}}', "field user_id")])
def test_a_malformed_ingest_state_file_is_refused_naming_file_and_field(tmp_path, content, field):
    eps = generate_episodes(SynthConfig(users=1, sessions=2, seed=3))
    ingest_users(make_system("oracle"), eps, out_dir=tmp_path)
    (state,) = (tmp_path / "states").glob("*/0000.json")
    state.write_text(content)
    with pytest.raises(ValueError, match=rf"0000\.json: {field}"):
        ingest_users(make_system("oracle"), eps, out_dir=tmp_path)


def test_an_ingest_manifest_holding_a_list_is_refused_naming_the_file(tmp_path):
    eps = generate_episodes(SynthConfig(users=1, sessions=1, seed=3))
    (tmp_path / "ingest_manifest.json").write_text("[]")
    with pytest.raises(ValueError, match=r"ingest_manifest\.json: expected an object"):
        ingest_users(make_system("oracle"), eps, out_dir=tmp_path)


def test_duplicate_user_ids_are_named():
    eps = generate_episodes(SynthConfig(users=1, sessions=1, seed=3))
    with pytest.raises(ValueError, match=r"episodes\[1\]\.user_id: duplicate user id"):
        ingest_users(make_system("oracle"), eps + eps)
