"""Build an HTML book from the executed notebooks of a run folder.

    python tools/build_book.py [RUN_DIR] [--out BOOK_DIR]      (make book: runs/cpu -> book/)

Every executed notebook ``NN_*.ipynb`` of RUN_DIR (what ``deltamem notebooks`` writes) becomes
one page, in reading order (the two-digit prefix), converted by nbconvert's HTML exporter with
its outputs — figures, tables, printed results — embedded, so the book is a folder of static
files that opens without a server. Each page gets a navigation bar (previous · contents · next);
``index.html`` lists the pages with the run's profile. Links between notebooks point to their
pages, other relative links (docs/, data/, …) to the files in the repository online, and images
referenced by relative path are embedded. A cell that raised an error is marked with a visible
``book-error-output`` box, which ``tools/check_book.py`` fails on. ``book.json`` records what
was built.

The pages need no network: the formulas of the markdown cells (``$...$``, ``$$...$$``, ``\\(...\\)``,
``\\[...\\]``, ``\\begin{env}...\\end{env}``, as nbconvert finds them) are converted to MathML here by
``latex2mathml``, which browsers render natively, in place of nbconvert's MathJax from a CDN; a
formula the converter cannot do stays as its TeX source in a ``book-math-error`` box (a failing
check). Progress bars (tqdm's ipywidgets) are drawn from their saved final state as static HTML
instead of by the widget manager from a CDN; nbconvert's require.js and mermaid loaders are left out.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import mimetypes
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = re.compile(r"^\d\d_[\w-]+\.ipynb$")
CSS = """
nav.book-nav { position: sticky; top: 0; z-index: 10; background: #f6f8fa; border-bottom: 1px solid #d0d7de;
  padding: .5em 1em; font: 14px/1.4 system-ui, sans-serif; display: flex; gap: 1.5em; }
nav.book-nav a { color: #0969da; text-decoration: none; }
nav.book-nav .book-title { font-weight: 600; margin-right: auto; }
div.book-error-output { border: 2px solid #cf222e; background: #ffebe9; padding: .5em; font-weight: 600; }
.book-math-error { border: 2px solid #cf222e; background: #ffebe9; font-family: monospace; }
math[display="block"] { margin: .8em 0; overflow-x: auto; }
div.book-widget { font: 13px/1.4 monospace; white-space: pre; }
div.book-widget progress { vertical-align: middle; width: 16em; }
"""
# nbconvert's lab template without the scripts it loads from CDNs (require.js, MathJax, mermaid,
# the ipywidgets manager): the book is read offline.
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""
# MathML elements with a fixed number of children (an incomplete formula like ``\\frac{a}`` gives
# one child, which a browser draws as an error)
ARITY = {"mfrac": 2, "msub": 2, "msup": 2, "msubsup": 3, "mroot": 2, "munder": 2, "mover": 2, "munderover": 3}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def repo_url() -> str:
    """The repository URL, from the ``REPO = "..."`` line of the notebooks' setup cell."""
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        m = re.search(r'REPO = \\?"(https://[^"\\]+)\\?"', nb.read_text(encoding="utf-8"))
        if m:
            return m.group(1)
    return ""


def local_paths(text: str) -> str:
    """``text`` with this machine's folders taken out of printed paths: the repository's
    absolute path becomes relative (``runs/cpu/figures/…``), the folder named by
    ``$DELTAMEM_DATA`` (where the real benchmark files were found) ``$DELTAMEM_DATA`` and the
    home folder ``~``, so a published book shows no one's file system."""
    text = text.replace(str(ROOT) + "/", "").replace(str(ROOT), ".")
    data = os.environ.get("DELTAMEM_DATA", "").rstrip("/")
    if data and data not in (".", "~"):
        text = text.replace(data, "$DELTAMEM_DATA")
    home = str(Path.home())
    return text.replace(home + "/", "~/") if home not in ("/", "") else text


def title_of(nb: dict, fallback: str) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            m = re.search(r"^#\s+(.+)$", "".join(cell["source"]), re.M)
            if m:
                return m.group(1).strip()
    return fallback


def mark_errors(nb: dict) -> int:
    """Put a visible marker before every error output; return how many there were."""
    n = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        outs = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                n += 1
                msg = html.escape(f"This cell raised {out.get('ename', 'an error')}: {out.get('evalue', '')}")
                outs.append({"output_type": "display_data", "metadata": {},
                             "data": {"text/html": f'<div class="book-error-output">{msg}</div>',
                                      "text/plain": msg}})
            outs.append(out)
        cell["outputs"] = outs
    return n


def tex_to_mathml(tex: str, display: bool) -> str:
    """``tex`` (a formula without its ``$`` delimiters) as a MathML ``<math>`` element. Raises
    ``ValueError`` saying what is wrong when the converter fails or leaves a TeX command it does
    not know (it would otherwise print ``\\foo`` as a variable) or an incomplete fraction, script or
    root."""
    from xml.etree import ElementTree

    from latex2mathml.converter import convert

    try:
        mathml = convert(tex.strip(), display="block" if display else "inline")
    except Exception as e:  # the converter's own exceptions carry no common base class
        raise ValueError(f"latex2mathml cannot convert it ({type(e).__name__}: {e})") from e
    tree = ElementTree.fromstring(mathml)
    for el in tree.iter():
        tag = el.tag.rpartition("}")[2]
        if tag in ("mi", "mo", "mtext") and re.match(r"\\[A-Za-z]", el.text or ""):
            raise ValueError(f"unknown TeX command {el.text}")
        if tag in ARITY and len(el) != ARITY[tag]:
            raise ValueError(f"incomplete {tag}: {len(el)} part(s) instead of {ARITY[tag]}")
    return mathml


class MathMLExporter:
    """nbconvert's HTML exporter with the lab template less its CDN scripts, whose markdown
    renderer turns each formula into MathML. ``formulas`` counts the formulas converted,
    ``math_errors`` lists ``(TeX, reason)`` of those that could not be."""

    def __init__(self) -> None:
        import jinja2
        from jinja2 import pass_context
        from nbconvert import HTMLExporter
        from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

        book = self

        class Renderer(IPythonRenderer):
            def block_math(self, body: str) -> str:
                return book.math(body, display=True)

            def inline_math(self, body: str) -> str:
                return book.math(body, display=False)

            def latex_environment(self, name: str, body: str) -> str:
                return book.math(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)

        class Exporter(HTMLExporter):
            @pass_context
            def markdown2html(self, context, source):  # as HTMLExporter.markdown2html, with Renderer
                cell = context.get("cell", {})
                renderer = Renderer(escape=False, attachments=cell.get("attachments", {}),
                                    embed_images=self.embed_images,
                                    path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                                    anchor_link_text=self.anchor_link_text,
                                    exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)
                return MarkdownWithMath(renderer=renderer).render(source)

        self.exporter = Exporter(template_name="lab", template_file="book.html.j2",
                                 extra_loaders=[jinja2.DictLoader({"book.html.j2": TEMPLATE})])
        self.formulas = 0
        self.math_errors: list[tuple[str, str]] = []

    def math(self, tex: str, display: bool) -> str:
        try:
            mathml = tex_to_mathml(tex, display)
        except ValueError as e:
            self.math_errors.append((tex, str(e)))
            delim = "$$" if display else "$"
            return (f'<span class="book-math-error" title="{html.escape(str(e))}">'
                    f"{html.escape(delim + tex + delim)}</span>")
        self.formulas += 1
        return mathml


def static_widgets(nb: dict) -> int:
    """Replace each ipywidgets output (tqdm's progress bars) by static HTML drawn from the
    widget state saved in the notebook: the texts of the bar and a ``<progress>`` element at its
    final value; a widget with no saved state keeps its plain-text form. The notebook's widget
    state is removed, so nbconvert loads no widget manager. Returns how many were drawn."""
    state = nb.get("metadata", {}).pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = state.get("state", {})

    def draw(model_id: str) -> str | None:
        model = models.get(model_id)
        if model is None:
            return None
        name, st = model.get("model_name", ""), model.get("state", {})
        if name in ("HBoxModel", "VBoxModel"):
            parts = [draw(c.removeprefix("IPY_MODEL_")) for c in st.get("children", [])]
            return None if None in parts else "".join(parts)  # type: ignore[arg-type]
        if name.endswith("ProgressModel"):
            return f'<progress value="{st.get("value", 0)}" max="{st.get("max", 100)}"></progress>'
        if name in ("HTMLModel", "LabelModel"):
            return (
                f"<span>{st.get('value', '') if name == 'HTMLModel' else html.escape(st.get('value', ''))}"
                "</span>")
        return None

    n = 0
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                drawn = draw(data.pop(WIDGET_VIEW).get("model_id", ""))
                if drawn is not None:
                    data["text/html"] = f'<div class="book-widget">{drawn}</div>'
                    n += 1
    return n


def _rewrite_links(page: str, pages: dict[str, str], repo: str) -> str:
    """``NN_x.ipynb`` links -> their pages; other relative links -> the repository online;
    relative images -> embedded data (left as they are when the file is missing, so the check
    reports them)."""

    def href(m: re.Match[str]) -> str:
        url = html.unescape(m.group(2))
        parts = urlsplit(url)
        if parts.scheme or url.startswith(("#", "//")):
            return m.group(0)
        name = Path(parts.path).name
        if name in pages:
            return f'{m.group(1)}"{pages[name]}{"#" + parts.fragment if parts.fragment else ""}"'
        target = (ROOT / "notebooks" / parts.path).resolve()
        if repo and target.is_relative_to(ROOT):
            rel = target.relative_to(ROOT).as_posix()
            return f'{m.group(1)}"{repo}/blob/main/{rel}{"#" + parts.fragment if parts.fragment else ""}"'
        return m.group(0)

    def src(m: re.Match[str]) -> str:
        url = html.unescape(m.group(2))
        if urlsplit(url).scheme or url.startswith("//"):
            return m.group(0)
        f = (ROOT / "notebooks" / url).resolve()
        if not f.is_file():
            return m.group(0)
        mime = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
        return f'{m.group(1)}"data:{mime};base64,{base64.b64encode(f.read_bytes()).decode()}"'

    page = re.sub(r'(<a\s[^>]*?href=)"([^"]*)"', href, page)
    return re.sub(r'(<img\s[^>]*?src=)"([^"]*)"', src, page)


def shared_styles(pages: list[str], out: Path) -> dict[str, str]:
    """The ``<style>`` blocks that every page holds (nbconvert's theme, about 260 kB a page),
    each written once as ``out/style-<hash>.css``; returns ``{block: file name}`` for the pages
    to link in its place (same order, so the cascade is unchanged). Style files of an earlier
    build are removed first. One page alone keeps its styles inline."""
    for old in out.glob("style-*.css"):
        old.unlink()
    if len(pages) < 2:
        return {}
    blocks = dict.fromkeys(re.findall(r"<style[^>]*>.*?</style>", pages[0], re.S))
    names = {}
    for block in blocks:
        if all(block in p for p in pages[1:]):
            css = re.sub(r"^<style[^>]*>|</style>$", "", block)
            name = f"style-{hashlib.sha256(css.encode()).hexdigest()[:10]}.css"
            (out / name).write_text(css, encoding="utf-8")
            names[block] = name
    return names


def _nav(prev: tuple[str, str] | None, nxt: tuple[str, str] | None) -> str:
    left = f'<a href="{prev[0]}">← {html.escape(prev[1])}</a>' if prev else ""
    right = f'<a href="{nxt[0]}">{html.escape(nxt[1])} →</a>' if nxt else ""
    return (f'<nav class="book-nav"><span class="book-title">DeltaMem workbook</span>{left}'
            f'<a href="index.html">Contents</a>{right}</nav>')


def build(run_dir: Path, out: Path) -> dict:
    import nbformat

    books = sorted(p for p in run_dir.glob("*.ipynb") if NOTEBOOK.match(p.name))
    if not books:
        raise SystemExit(f"build_book: no executed notebooks NN_*.ipynb in {run_dir}; run "
                         f"`deltamem notebooks --profile <name> --out {run_dir}` first")
    out.mkdir(parents=True, exist_ok=True)
    manifest = (json.loads((run_dir / "manifest.json").read_text()) if (run_dir / "manifest.json").is_file()
                else {})
    exporter = MathMLExporter()
    repo = repo_url()
    entries = []
    for p in books:
        nb = json.loads(local_paths(p.read_text(encoding="utf-8")))
        entries.append({"notebook": p.name, "page": p.stem + ".html", "title": title_of(nb, p.stem),
                        "errors": mark_errors(nb), "widgets": static_widgets(nb), "nb": nb})
    pages = {e["notebook"]: e["page"] for e in entries}
    bodies = []
    for i, e in enumerate(entries):
        before = len(exporter.math_errors)
        body, _ = exporter.exporter.from_notebook_node(nbformat.reads(json.dumps(e.pop("nb")), as_version=4))
        e["math_errors"] = [{"tex": tex, "why": why} for tex, why in exporter.math_errors[before:]]
        for tex, why in exporter.math_errors[before:]:
            print(f"build_book: {e['notebook']}: formula {tex!r} left as TeX: {why}", file=sys.stderr)
        body = _rewrite_links(body, pages, repo).replace("</head>", f"<style>{CSS}</style></head>", 1)
        prev = (entries[i - 1]["page"], entries[i - 1]["title"]) if i else None
        nxt = (entries[i + 1]["page"], entries[i + 1]["title"]) if i + 1 < len(entries) else None
        body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + _nav(prev, nxt), body, count=1)
        bodies.append(body.replace("</body>", _nav(prev, nxt) + "</body>", 1))
    styles = shared_styles(bodies, out)
    for e, body in zip(entries, bodies):
        for block, name in styles.items():
            body = body.replace(block, f'<link rel="stylesheet" href="{name}">')
        (out / e["page"]).write_text(body, encoding="utf-8")
    profile = manifest.get("profile", run_dir.name)
    rows = "".join(f'<li><a href="{e["page"]}">{html.escape(e["title"])}</a>'
                   + (f' <span class="book-error-output">{e["errors"]} error output(s)</span>' if e["errors"]
                      else "")
                   + "</li>" for e in entries)
    index = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>DeltaMem workbook</title>"
             f"<style>{CSS} body {{ font: 16px/1.5 system-ui, sans-serif; margin: 0; }} "
             f"main {{ max-width: 50em; margin: 2em auto; }}</style></head><body>"
             f"{_nav(None, (entries[0]['page'], entries[0]['title']))}"
             "<main><h1>DeltaMem workbook</h1><p>The notebooks as executed on the "
             f"<code>{html.escape(profile)}"
             f"</code> profile (from <code>{html.escape(local_paths(str(run_dir.resolve())))}</code>), "
             "in reading order.</p>"
             f"<ol>{rows}</ol>"
             + (f'<p>Source: <a href="{repo}">{repo}</a></p>' if repo else "") + "</main></body></html>")
    (out / "index.html").write_text(index, encoding="utf-8")
    info = {"run_dir": local_paths(str(run_dir.resolve())), "profile": profile,
            "built": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "pages": entries,
            "styles": sorted(styles.values()), "formulas": exporter.formulas,
            "math_errors": len(exporter.math_errors)}
    (out / "book.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", nargs="?", default="runs/cpu", help="run folder with executed NN_*.ipynb")
    ap.add_argument("--out", default="book", help="folder of the HTML book (default: book/)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    info = build(Path(args.run_dir), Path(args.out))
    print(f"book: {len(info['pages'])} pages from {args.run_dir} ({info['profile']}) in {args.out}/, "
          f"{info['formulas']} formulas as MathML ({info['math_errors']} left as TeX), "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
