"""LoCoMo loader (deltamem_lib.benchmarks.locomo) and benchmark downloads (…download).

The hand-made sample ``data/samples/locomo_tiny.json`` follows the official schema and
reproduces every quirk of the real file; the real ``locomo10.json`` is checked against the
counts in ``data/README.md`` when it is in ``data/`` or in ``$DELTAMEM_DATA``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest

from deltamem_lib.benchmarks import download
from deltamem_lib.benchmarks.locomo import (
    CATEGORY_NAMES,
    DiaId,
    category_counts,
    load_locomo,
    locomo_stats,
    parse_dia_id,
    parse_evidence,
    scored_questions,
)
from deltamem_lib.benchmarks.paths import SAMPLES, locate_data
from deltamem_lib.io import DataFileError

FIXTURE = SAMPLES / "locomo_tiny.json"
_REAL = locate_data("locomo", warn=False)
REAL = _REAL.path
REAL_DIR = REAL.parents[1]
needs_real = pytest.mark.skipif(
    _REAL.fixture,
    reason="real LoCoMo file not found in data/locomo/ or $DELTAMEM_DATA/locomo/ (`deltamem data fetch "
    "locomo` gets it; it is never committed because of its non-commercial licence)",
)


@pytest.fixture(scope="module")
def toy():
    return load_locomo(FIXTURE)


# ------------------------------------------------------------------ fixture: structure


def test_sessions_are_lists_in_numeric_order_and_date_only_keys_are_ignored(toy):
    conv = toy[0]
    assert conv.sample_id == "toy-1"
    assert conv.speakers == ("Ana", "Ben")
    # session_10 precedes session_2 in the file; session_3/4 have a date but no turns
    assert [s.index for s in conv.sessions] == [1, 2, 10]
    assert [s.date for s in conv.sessions] == ["2023-03-03", "2023-06-20", "2024-01-01"]
    assert conv.sessions[2].date_time == "11:30 pm on 1 January, 2024"
    assert conv.sessions[2].datetime.hour == 23 and conv.sessions[0].datetime.minute == 5
    assert conv.num_turns == 7


def test_turn_fields_and_image_caption(toy):
    s1 = toy[0].sessions[0]
    assert [str(t.dia_id) for t in s1.turns] == ["D1:1", "D1:2", "D1:3"]
    t = s1.turns[1]
    assert (t.speaker, t.text) == ("Ben", "Nice! I adopted a cat called Pixel.")
    assert t.image_caption == "a photo of a grey cat on a sofa"
    assert t.image_urls == ("https://example.invalid/pixel.jpg",) and t.image_query == "grey cat"
    assert t.render().endswith("[shares a photo: a photo of a grey cat on a sofa]")
    assert s1.turns[0].image_caption is None and s1.turns[0].render() == s1.turns[0].text
    assert toy[0].turn("D10:2").text.startswith("Congrats")
    assert toy[0].turn("D9:9") is None


def test_answers_categories_and_adversarial_items(toy):
    qs = toy[0].questions
    assert qs[1].answer == "2022" and isinstance(qs[1].answer, str)  # integer in the file
    assert qs[6].category == 5 and qs[6].answer is None and qs[6].adversarial_answer == "a cat called Pixel"
    assert qs[7].answer == "No" and qs[7].adversarial_answer == "Yes"  # both keys present
    assert qs[0].category_name == "single-hop" and qs[2].category_name == "multi-hop"
    assert qs[0].qid == "toy-1/q0"
    assert CATEGORY_NAMES == {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop",
                              5: "adversarial"}


def test_malformed_evidence_is_parsed_where_possible(toy):
    qs = toy[0].questions
    assert qs[2].evidence == (DiaId(1, 2), DiaId(10, 1))  # "D1:2; D10:1"
    assert qs[3].evidence == (DiaId(10, 2),) and qs[3].evidence_unparsed == ("D",)
    assert qs[4].evidence == () and qs[4].evidence_raw == ()
    # "D:10:1" (stray colon) and "D10:01" (leading zero) are the same turn; "D9:9" does not exist
    assert qs[5].evidence == (DiaId(10, 1), DiaId(9, 9))
    assert qs[5].evidence_missing == (DiaId(9, 9),)
    assert qs[7].evidence == (DiaId(1, 2), DiaId(1, 3))  # space-separated


def test_parse_helpers():
    assert parse_dia_id("D3:14") == DiaId(3, 14) and str(DiaId(3, 14)) == "D3:14"
    assert parse_dia_id("D3") is None and parse_dia_id("x") is None
    ids, bad = parse_evidence(["D8:6; D9:17", "D", "", 7, "D8:6"])
    assert ids == [DiaId(8, 6), DiaId(9, 17)]
    assert bad == ["D", "", "7"]


def test_scored_questions_drop_category_5(toy):
    scored = scored_questions(toy)
    assert len(scored) == 7 and all(q.category != 5 for q in scored)
    assert category_counts(toy[0].questions) == {1: 1, 2: 1, 3: 1, 4: 3, 5: 2}
    stats = locomo_stats(toy)
    assert stats["sessions"] == 4 and stats["turns"] == 9 and stats["evidence_missing"] == 1


# ------------------------------------------------------------------ malformed files


def _write(tmp_path: Path, data, name="bad.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(data), encoding="utf-8")
    return p


@pytest.fixture()
def raw():
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def _mutated(raw, fn):
    data = copy.deepcopy(raw)
    fn(data)
    return data


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d[1].pop("conversation"), ["toy-2", "'conversation'", "missing"]),
        (lambda d: d[0]["conversation"]["session_2"][1].pop("text"),
         ["toy-1", "session_2[1].text", "missing"]),
        (lambda d: d[0]["conversation"].pop("session_10_date_time"), ["toy-1", "session_10_date_time"]),
        (lambda d: d[0]["conversation"].__setitem__("session_1_date_time", "March 3rd"),
         ["toy-1", "session_1_date_time", "March 3rd"]),
        (lambda d: d[0]["qa"][0].__setitem__("category", 7), ["toy-1", "qa[0].category", "1..5"]),
        (lambda d: d[0]["qa"][0].pop("answer"), ["toy-1", "qa[0].answer", "category-4"]),
        (lambda d: d[0]["qa"][2].__setitem__("evidence", "D1:2"), ["toy-1", "qa[2].evidence", "list"]),
        (lambda d: d[0]["conversation"]["session_1"][0].__setitem__("dia_id", "D2:1"),
         ["toy-1", "session_1[0].dia_id", "session 2"]),
        (lambda d: d[1].pop("sample_id"), ["record 1", "'sample_id'"]),
        (lambda d: d[0]["conversation"].__setitem__("session_2", {"oops": 1}),
         ["toy-1", "session_2", "list"]),
    ],
)
def test_malformed_record_names_file_record_and_field(tmp_path, raw, mutate, expected):
    p = _write(tmp_path, _mutated(raw, mutate))
    with pytest.raises(DataFileError) as err:
        load_locomo(p)
    msg = str(err.value)
    assert str(p) in msg
    for part in expected:
        assert part in msg


def test_not_a_list_and_invalid_json(tmp_path):
    p = _write(tmp_path, {"sample_id": "x"})
    with pytest.raises(DataFileError, match="expected a JSON array"):
        load_locomo(p)
    q = tmp_path / "trunc.json"
    q.write_text('[{"sample_id": "a",\n "conversation": ', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"trunc\.json: line 2"):
        load_locomo(q)
    with pytest.raises(FileNotFoundError):
        load_locomo(tmp_path / "absent.json")


# ------------------------------------------------------------------ real file


@pytest.fixture(scope="module")
def real():
    return load_locomo(REAL)


@needs_real
def test_real_locomo_counts_match_the_data_readme(real):
    stats = locomo_stats(real)
    assert stats["conversations"] == 10
    assert stats["sessions"] == 272
    assert stats["turns"] == 5882
    assert stats["questions"] == 1986
    assert stats["per_category"] == {1: 282, 2: 321, 3: 96, 4: 841, 5: 446}
    assert stats["scored"] == 1540 == len(scored_questions(real))
    assert stats["evidence_empty"] == 4
    by_id = {c.sample_id: c for c in real}
    assert len(by_id["conv-26"].sessions) == 19
    assert [s.index for s in by_id["conv-26"].sessions] == list(range(1, 20))
    assert by_id["conv-26"].sessions[0].date == "2023-05-08"
    assert sorted(len(c.sessions) for c in real)[0] == 19 and max(len(c.sessions) for c in real) == 32


@needs_real
def test_real_locomo_quirks(real):
    qs = [q for c in real for q in c.questions]
    assert all(q.answer is None or isinstance(q.answer, str) for q in qs)
    assert sum(q.answer is None for q in qs) == 444
    assert sum(q.answer is not None and q.adversarial_answer is not None for q in qs) == 2
    # of the malformed ids only "D" cannot be read; "D:11:26" and "D30:05" resolve to real turns
    assert [u for q in qs for u in q.evidence_unparsed] == ["D"]
    missing = sorted((q.sample_id, str(d)) for q in qs for d in q.evidence_missing)
    assert missing == [("conv-42", "D10:19"), ("conv-47", "D4:36")]
    multi = next(q for q in qs if "D8:6; D9:17" in q.evidence_raw)
    assert multi.evidence == (DiaId(8, 6), DiaId(9, 17))


# ------------------------------------------------------------------ downloads (local only)


def _remote(url: str, sha: str | None) -> download.RemoteFile:
    return download.RemoteFile("toy", "toy", "data.json", url, sha, None, "test", "test")


def test_download_file_url_verifies_checksum_and_reuses_the_cache(tmp_path):
    src = tmp_path / "src.json"
    src.write_bytes(b'[{"hello": "world"}]\n')
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    root = tmp_path / "cache"
    got = download.fetch("toy", remote=_remote(src.as_uri(), sha), root=root, search_dirs=[])
    assert got == root / "toy" / "data.json" and got.read_bytes() == src.read_bytes()
    src.unlink()  # the source is gone: a second call must use the cached copy
    again = download.fetch("toy", remote=_remote(src.as_uri(), sha), root=root, search_dirs=[])
    assert again == got
    assert [p.name for p in got.parent.iterdir()] == ["data.json"]  # no temporary files left


def test_download_checksum_mismatch_leaves_nothing(tmp_path):
    src = tmp_path / "src.json"
    src.write_bytes(b"tampered")
    dest = tmp_path / "out" / "data.json"
    with pytest.raises(download.ChecksumError, match="does not match"):
        download.download_file(src.as_uri(), dest, sha256="0" * 64)
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    # a corrupt cached copy is replaced by a good download
    dest.write_bytes(b"stale")
    good = hashlib.sha256(b"tampered").hexdigest()
    assert download.download_file(src.as_uri(), dest, sha256=good).read_bytes() == b"tampered"


def test_download_offline_gives_a_clear_error(tmp_path):
    missing = (tmp_path / "nowhere.json").as_uri()
    with pytest.raises(download.DownloadError, match="offline or the host is unreachable"):
        download.download_file(missing, tmp_path / "d" / "x.json")
    assert not (tmp_path / "d" / "x.json").exists()


def test_registry_has_official_sources_and_checksums():
    (loc,) = download.REMOTE_FILES["locomo"]
    assert loc.sha256 == "79fa87e90f04081343b8c8debecb80a9a6842b76a7aa537dc9fdf651ea698ff4"
    assert "snap-research/locomo/3eb6f2c585f5e1699204e3c3bdf7adc5c28cb376" in loc.url
    pm = {f.filename: f for f in download.REMOTE_FILES["personamem-32k"]}
    assert pm["questions_32k.csv"].sha256.startswith("cccd34cf")
    assert pm["shared_contexts_32k.jsonl"].url.endswith(
        "bowen-upenn/PersonaMem/resolve/main/shared_contexts_32k.jsonl")
    assert download.REMOTE_FILES["halumem-medium"][0].sha256.startswith("486fbc13")
    with pytest.raises(KeyError, match="known"):
        download.fetch("nope")


@needs_real
def test_fetch_finds_a_local_copy_without_network(tmp_path):
    got = download.fetch("locomo", root=tmp_path / "empty", search_dirs=[REAL_DIR])
    assert got == REAL
