"""The rendered book (tools/build_book.py) and its browser check (tools/check_book.py), on a
tiny run folder made here: two executed notebooks, one with a figure, one with an error."""

from __future__ import annotations

import base64
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbconvert")
import build_book  # noqa: E402
import check_book  # noqa: E402

# a 1x1 PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _run_folder(tmp_path: Path, *, error: bool) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    a = nbformat.v4.new_notebook()
    a.cells = [nbformat.v4.new_markdown_cell("# 01 · First\n\nOn to [the next one](02_second.ipynb#Results) "
                                             "and [the spec](../docs/mld_spec.md)."),
               nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
                   "display_data", data={"image/png": base64.b64encode(PNG).decode(), "text/plain": "<Figure>"})])]
    b = nbformat.v4.new_notebook()
    outs = [nbformat.v4.new_output("error", ename="ValueError", evalue="bad input", traceback=["ValueError: bad input"])]
    b.cells = [nbformat.v4.new_markdown_cell("# 02 · Second\n\n## Results\n\nBack to [the first](01_first.ipynb)."),
               nbformat.v4.new_code_cell("1 / 0" if error else "1", outputs=outs if error else [])]
    nbformat.write(a, run / "01_first.ipynb")
    nbformat.write(b, run / "02_second.ipynb")
    (run / "manifest.json").write_text(json.dumps({"profile": "smallest"}))
    return run


def test_the_book_has_one_page_per_notebook_in_order_with_navigation(tmp_path):
    info = build_book.build(_run_folder(tmp_path, error=False), tmp_path / "book")
    book = tmp_path / "book"
    assert [p["page"] for p in info["pages"]] == ["01_first.html", "02_second.html"]
    first = (book / "01_first.html").read_text(encoding="utf-8")
    assert 'href="02_second.html#Results"' in first  # notebook links become page links
    assert 'href="02_second.html">' in first and 'href="index.html"' in first  # next / contents
    assert "/blob/main/docs/mld_spec.md" in first  # repository files link to the repository online
    assert "data:image/png;base64," in first  # the figure is embedded
    index = (book / "index.html").read_text(encoding="utf-8")
    assert index.index("01 · First") < index.index("02 · Second") and "smallest" in index
    assert check_book.static_links(book / "01_first.html", book) == []


def test_errors_are_marked_and_broken_links_found(tmp_path):
    info = build_book.build(_run_folder(tmp_path, error=True), tmp_path / "book")
    book = tmp_path / "book"
    assert [p["errors"] for p in info["pages"]] == [0, 1]
    assert 'class="book-error-output"' in (book / "02_second.html").read_text(encoding="utf-8")
    (book / "02_second.html").unlink()
    problems = check_book.static_links(book / "01_first.html", book)
    assert any("02_second.html" in p for p in problems)


def test_no_run_folder_says_what_to_do(tmp_path):
    with pytest.raises(SystemExit, match="deltamem notebooks"):
        build_book.build(tmp_path, tmp_path / "book")


@pytest.mark.slow
@pytest.mark.skipif(not any(shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome")),
                    reason="Chromium is not installed (apt-get install -y chromium)")
def test_chromium_passes_a_good_book_and_fails_a_bad_one(tmp_path):
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    build_book.build(_run_folder(good, error=False), good / "book")
    assert check_book.main([str(good / "book")]) == 0
    shots = sorted((good / "book" / "_screenshots").glob("*.png"))
    assert [s.name for s in shots] == ["01_first.png", "02_second.png", "index.png"]
    build_book.build(_run_folder(bad, error=True), bad / "book")
    page = bad / "book" / "01_first.html"
    text, n = re.subn(r'(<img\s[^>]*?src=)"data:image/png;base64,[^"]*"', r'\1"missing.png"', page.read_text(encoding="utf-8"))
    assert n == 1
    page.write_text(text, encoding="utf-8")
    assert check_book.main([str(bad / "book")]) == 1
    results = {r["page"]: r["problems"] for r in json.loads((bad / "book" / "_screenshots" / "check.json").read_text())}
    assert any("missing image" in p for p in results["01_first.html"])
    assert any("error output" in p for p in results["02_second.html"])


def test_the_book_shows_no_absolute_paths_of_the_machine_that_ran_it(tmp_path):
    run = _run_folder(tmp_path, error=False)
    nb = nbformat.read(run / "02_second.ipynb", as_version=4)
    printed = f"saved {build_book.ROOT}/runs/cpu/figures/a.png; cache {Path.home()}/.cache/deltamem/x"
    nb.cells.append(nbformat.v4.new_code_cell("print(path)", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text=printed)]))
    nbformat.write(nb, run / "02_second.ipynb")
    info = build_book.build(run, tmp_path / "book")
    page = (tmp_path / "book" / "02_second.html").read_text(encoding="utf-8")
    assert "saved runs/cpu/figures/a.png" in page and "cache ~/.cache/deltamem/x" in page
    assert str(build_book.ROOT) not in page or str(build_book.ROOT) in ("/", "")
    assert not info["run_dir"].startswith(str(build_book.ROOT) + "/")


def test_the_theme_every_page_shares_is_one_stylesheet_and_a_missing_one_is_a_broken_link(tmp_path):
    info = build_book.build(_run_folder(tmp_path, error=False), tmp_path / "book")
    book = tmp_path / "book"
    pages = [(book / p["page"]).read_text(encoding="utf-8") for p in info["pages"]]
    assert info["styles"] and all((book / name).is_file() for name in info["styles"])
    for page in pages:
        assert all(f'<link rel="stylesheet" href="{name}">' in page for name in info["styles"])
    inline = [set(re.findall(r"<style[^>]*>.*?</style>", p, re.S)) for p in pages]
    assert not inline[0] & inline[1]  # nothing the two pages share stays inline
    assert sum(len(p) for p in pages) < 200_000  # nbconvert's theme alone is about 260 kB a page
    (book / info["styles"][0]).unlink()
    assert any("broken link" in p for p in check_book.static_links(book / "01_first.html", book))
