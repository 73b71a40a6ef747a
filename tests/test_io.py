"""The one atomic writer, the append-only log and figure saving of deltamem_lib.io."""

from __future__ import annotations

import json

import pytest

from deltamem_lib.io import append_jsonl, atomic_write, iter_jsonl, save_figure


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def broken(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    assert atomic_write(target,
                        lambda tmp: tmp.write_bytes(b"new")) == target and target.read_bytes() == b"new"


def test_append_jsonl_appends_whole_lines(tmp_path):
    path = tmp_path / "sub" / "log.jsonl"
    append_jsonl(path, [{"a": 1}, {"a": 2}])
    append_jsonl(path, [])  # nothing to write: the file is unchanged
    append_jsonl(path, [{"a": 3}])
    assert [rec["a"] for _, rec in iter_jsonl(path)] == [1, 2, 3]


class _Figure:
    """Stands in for a matplotlib figure: save_figure only calls savefig."""

    def __init__(self):
        self.calls = []

    def savefig(self, path, **kwargs):
        self.calls.append(kwargs)
        with open(path, "wb") as fh:
            fh.write(b"\x89PNG fake")


def test_save_figure_writes_png_and_numbers_or_nothing(tmp_path):
    fig = _Figure()
    assert save_figure(fig, {"x": [1, 2]}, None, "f") is None and not fig.calls
    png = save_figure(fig, {"x": [1, 2]}, tmp_path / "figs", "f")
    assert png == tmp_path / "figs" / "f.png" and png.read_bytes().startswith(b"\x89PNG")
    assert json.loads((tmp_path / "figs" / "f.json").read_text()) == {"x": [1, 2]}
    assert fig.calls[0]["format"] == "png"  # the temporary file has no .png suffix to go by
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["f.json", "f.png"]


def test_the_overview_figure_is_saved_the_one_way(tmp_path):
    """The README's overview diagram goes through io.save_figure like every other figure: PNG
    plus the JSON of what it draws, or nothing without a folder."""
    import matplotlib

    matplotlib.use("Agg")
    from deltamem_lib.teaching.overview import draw_overview

    draw_overview(None)
    assert list(tmp_path.iterdir()) == []
    draw_overview(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overview.json", "overview.png"]
    drawn = json.loads((tmp_path / "overview.json").read_text())
    assert drawn["boxes"]["reward"]["title"] == "MLD reward (02)" and len(drawn["arrows"]) == 7
