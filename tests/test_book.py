"""The rendered book (tools/build_book.py) and its browser check (tools/check_book.py), on a
tiny run folder made here: two executed notebooks, one with a figure and formulas, one with an
error."""

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

# an empty result printed as a table (pandas' form: a header row, an empty body)
EMPTY_TABLE = ('<table class="dataframe"><thead><tr style="text-align: '
               'right;"><th>system</th><th>r_trans</th>'
               "</tr></thead><tbody></tbody></table>")
# a 1x1 PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ"
                       "DwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _run_folder(tmp_path: Path, *, error: bool) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    a = nbformat.v4.new_notebook()
    a.cells = [nbformat.v4.new_markdown_cell("# 01 · First\n\nOn to [the next one](02_second.ipynb#Results) "
                                             "and [the spec](../docs/mld_spec.md).\n\n"
                                             "The reward $r_{trans}$ is\n\n"
                                             r"$$r = 1 - \frac{\mathrm{MLD}}{N}.$$"),
               nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
                   "display_data", data={"image/png": base64.b64encode(PNG).decode(),
                                         "text/plain": "<Figure>"})])]
    b = nbformat.v4.new_notebook()
    outs = [nbformat.v4.new_output("error", ename="ValueError", evalue="bad input",
                                   traceback=["ValueError: bad input"])]
    b.cells = [nbformat.v4.new_markdown_cell("# 02 · Second\n\n## Results\n\nBack to [the "
                                             "first](01_first.ipynb)."),
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
    text, n = re.subn(r'(<img\s[^>]*?src=)"data:image/png;base64,[^"]*"', r'\1"missing.png"',
                      page.read_text(encoding="utf-8"))
    assert n == 1
    text, n = re.subn(r"<math [^>]*>.*?</math>", "$r_{trans}$", text, count=1, flags=re.S)  # TeX left as text
    assert n == 1
    text = text.replace("</main>", '<math><merror><mtext>bad</mtext></merror></math></main>', 1)
    page.write_text(text, encoding="utf-8")
    second = bad / "book" / "02_second.html"
    second.write_text(second.read_text(encoding="utf-8").replace("</main>", EMPTY_TABLE + "</main>", 1),
                      encoding="utf-8")
    assert check_book.main([str(bad / "book")]) == 1
    results = {r["page"]: r["problems"]
               for r in json.loads((bad / "book" / "_screenshots" / "check.json").read_text())}
    assert any("missing image" in p for p in results["01_first.html"])
    assert "raw TeX in the text: $r_{trans}$" in results["01_first.html"]
    assert "formula not rendered: 'bad'" in results["01_first.html"]
    assert any("error output" in p for p in results["02_second.html"])
    assert "header-only table: system | r_trans" in results["02_second.html"]
    good_results = json.loads((good / "book" / "_screenshots" / "check.json").read_text())
    assert [r["formulas"] for r in good_results] == [2, 0, 0]  # drawn by Chromium with a size, no TeX left


def test_the_book_shows_no_absolute_paths_of_the_machine_that_ran_it(tmp_path, monkeypatch):
    run = _run_folder(tmp_path, error=False)
    nb = nbformat.read(run / "02_second.ipynb", as_version=4)
    data = tmp_path / "private" / "benchmarks"
    monkeypatch.setenv("DELTAMEM_DATA", str(data))
    printed = (f"saved {build_book.ROOT}/runs/cpu/figures/a.png; cache {Path.home()}/.cache/deltamem/x; "
               f"locomo: the real file {data}/locomo/locomo10.json")
    nb.cells.append(nbformat.v4.new_code_cell("print(path)", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text=printed)]))
    nbformat.write(nb, run / "02_second.ipynb")
    info = build_book.build(run, tmp_path / "book")
    page = (tmp_path / "book" / "02_second.html").read_text(encoding="utf-8")
    assert "saved runs/cpu/figures/a.png" in page and "cache ~/.cache/deltamem/x" in page
    assert "the real file $DELTAMEM_DATA/locomo/locomo10.json" in page and str(data) not in page
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


REMOTE = re.compile(r"""<script[^>]*\bsrc="(https?:)?//|<link[^>]*\bhref="(https?:)?//|"""
                    r"""cdnjs|unpkg|jsdelivr""")


def test_formulas_are_mathml_and_no_page_loads_a_script_from_the_network(tmp_path):
    info = build_book.build(_run_folder(tmp_path, error=False), tmp_path / "book")
    first = (tmp_path / "book" / "01_first.html").read_text(encoding="utf-8")
    assert info["formulas"] == 2 and info["math_errors"] == 0
    assert first.count("<math") == 2 and len(re.findall(r'<math [^>]*display="block"', first)) == 1
    assert "<mfrac>" in first and "$r_{trans}$" not in first and "$$" not in first
    for page in (tmp_path / "book").glob("*.html"):
        assert not REMOTE.search(page.read_text(encoding="utf-8")), page.name
    assert check_book.remote_resources(tmp_path / "book" / "01_first.html") == []


def test_a_formula_the_converter_cannot_do_stays_as_tex_in_a_marked_box(tmp_path):
    run = _run_folder(tmp_path, error=False)
    nb = nbformat.read(run / "02_second.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(r"Broken: $x^$, unknown: $\foo{x}$, cut: $\frac{a}$."))
    nbformat.write(nb, run / "02_second.ipynb")
    info = build_book.build(run, tmp_path / "book")
    assert info["math_errors"] == 3
    assert [m["tex"] for m in info["pages"][1]["math_errors"]] == ["x^", r"\foo{x}", r"\frac{a}"]
    page = (tmp_path / "book" / "02_second.html").read_text(encoding="utf-8")
    assert page.count('class="book-math-error"') == 3 and "$x^$" in page
    for tex in ("x^", r"\foo{x}", r"\frac{a}"):
        with pytest.raises(ValueError):
            build_book.tex_to_mathml(tex, display=False)


def test_every_formula_of_the_notebooks_converts():
    formulas = 0
    exporter = build_book.MathMLExporter()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                exporter.exporter.markdown2html({"cell": cell}, cell.source)
    formulas = exporter.formulas
    assert exporter.math_errors == [] and formulas > 0


def test_progress_bars_are_drawn_from_their_saved_state(tmp_path):
    run = _run_folder(tmp_path, error=False)
    nb = nbformat.read(run / "02_second.ipynb", as_version=4)
    view = "application/vnd.jupyter.widget-view+json"
    nb.cells.append(nbformat.v4.new_code_cell("for _ in tqdm(range(10)): pass",
                                              outputs=[nbformat.v4.new_output(
        "display_data", data={view: {"model_id": "box", "version_major": 2, "version_minor": 0},
                              "text/plain": "  0%|          | 0/10"})]))
    models = {"box": {"model_name": "HBoxModel",
                      "state": {"children": ["IPY_MODEL_a", "IPY_MODEL_b", "IPY_MODEL_c"]}},
              "a": {"model_name": "HTMLModel", "state": {"value": "steps: 100%"}},
              "b": {"model_name": "FloatProgressModel", "state": {"value": 10.0, "max": 10.0}},
              "c": {"model_name": "HTMLModel", "state": {"value": " 10/10 [00:01&lt;00:00]"}}}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": models}}
    nbformat.write(nb, run / "02_second.ipynb")
    info = build_book.build(run, tmp_path / "book")
    page = (tmp_path / "book" / "02_second.html").read_text(encoding="utf-8")
    assert info["pages"][1]["widgets"] == 1
    assert re.search(r'<progress (max="10.0" value="10.0"|value="10.0" max="10.0")>',
                     page) and "steps: 100%" in page
    assert "widget-view+json" not in page and "widget-state+json" not in page and "0%|" not in page


def test_a_table_with_a_header_and_no_rows_is_found_and_named(tmp_path):
    run = _run_folder(tmp_path, error=False)
    nb = nbformat.read(run / "02_second.ipynb", as_version=4)
    full = ('<table><thead><tr><th></th><th>system</th></tr></thead>'
            "<tbody><tr><th>0</th><td>add-only</td></tr></tbody></table>")  # index cells are <th>
    nb.cells.append(nbformat.v4.new_code_cell("table", outputs=[nbformat.v4.new_output(
        "execute_result", execution_count=1, data={"text/html": full + EMPTY_TABLE, "text/plain": "..."})]))
    nb.cells.append(nbformat.v4.new_markdown_cell("| step | loss |\n|---|---|\n| 1 | 0.5 |\n\n"
                                                  "<table><tr><th>seed</th><th>reward</th></tr></table>"))
    nbformat.write(nb, run / "02_second.ipynb")
    build_book.build(run, tmp_path / "book")
    assert check_book.header_only_tables(tmp_path / "book" / "01_first.html") == []
    assert check_book.header_only_tables(tmp_path / "book" / "02_second.html") == [
        "header-only table: system | r_trans", "header-only table: seed | reward"]


def test_scripts_and_stylesheets_from_the_network_are_found(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<html><head><script src="https://cdn.example/mathjax.js"></script>'
                    '<link rel="stylesheet" href="//cdn.example/theme.css"><link rel="stylesheet" '
                    'href="style-1.css"><style>@import url("https://fonts.example/font.css"); p { color: red '
                    '}</style><script type="module">await import("https://cdn.example/mermaid.mjs");</script>'
                    '<script type="application/vnd.jupyter.widget-state+json">{"u": '
                    '"https://x.example"}</script></head><body><img '
                    'src="https://colab.example/badge.svg"><script>var a = 1;</script></body></html>')
    assert check_book.remote_resources(page) == [
        "remote script https://cdn.example/mathjax.js", "remote stylesheet //cdn.example/theme.css",
        "remote stylesheet https://fonts.example/font.css", "script loads https://cdn.example/mermaid.mjs"]
