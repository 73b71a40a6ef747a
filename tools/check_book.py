"""Open every page of the HTML book in headless Chromium, screenshot it, and fail on a page with
an error output, a missing image, a broken internal link, a script or stylesheet from the network,
a formula shown as raw TeX or not rendered, or a header-only table. Images from other sites (the
"Open in Colab" badge) are counted but not checked, so the check gives the same answer offline.

    python tools/check_book.py [BOOK_DIR] [--shots DIR]        (make check-book)

For each page Chromium (Debian's ``chromium`` package; ``$CHROMIUM`` overrides the binary) loads a
copy of the page with a small script that, once everything has loaded, lists the images that did
not load (``naturalWidth == 0``), the ``#anchor`` links with no target, the cells marked by
``tools/build_book.py`` as having raised an error, the formulas it could not convert
(``book-math-error``), MathML formulas that the browser drew with no size or as ``<merror>``, and
text outside code that still reads as TeX (``$$...$$``, or ``$...$`` holding a backslash, ``_``, ``^``,
``{`` or a single letter); the DOM is dumped and read back. Read from the file: ``<script src>``,
stylesheets and ``@import`` from other sites and inline scripts naming a URL (the book must open
offline), and tables with a header row and no body rows (an empty result printed as a table). Links to
other pages of the book are checked against the files and their element ids. A PNG screenshot of
each page goes to ``--shots`` (default: ``BOOK_DIR/_screenshots``). Exit status 1 when any page
fails, with one line per problem; ``check.json`` in the screenshots folder holds the results.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

PROBE = r"""<script>
window.addEventListener("load", () => setTimeout(() => {
  const external = i => /^(https?:)?\/\//.test(i.getAttribute("src") || "");
  const images = [...document.images].filter(i => !external(i));
  const badImages = images.filter(i => !i.complete || i.naturalWidth === 0)
                          .map(i => (i.getAttribute("src") || "").slice(0, 120));
  const decode = s => { try { return decodeURIComponent(s); } catch (e) { return s; } };
  // as a browser resolves a fragment: the id as written, else percent-decoded
  const badAnchors = [...document.querySelectorAll('a[href^="#"]')]
      .map(a => a.getAttribute("href").slice(1))
      .filter(id => id && !document.getElementById(id) && !document.getElementById(decode(id)));
  const errors = [...document.querySelectorAll(".book-error-output")].map(e => e.textContent.slice(0, 200));
  const mathErrors = [...document.querySelectorAll(".book-math-error")].map(e => e.textContent.slice(0, 200));
  const maths = [...document.querySelectorAll("math")];
  const badMath = maths.filter(m => { const r = m.getBoundingClientRect();
                                      return r.width === 0 || r.height === 0 || m.querySelector("merror"); })
                       .map(m => m.textContent.slice(0, 120));
  // TeX left in the text a reader sees (code, outputs printed as text and formulas excluded)
  const skip = "pre, code, script, style, math, textarea, .jp-InputArea-editor, .book-math-error";
  const tex = /\$\$[\s\S]+?\$\$|\$([^$\n]+?)\$/g;
  const rawMath = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (n.parentElement.closest(skip)) continue;
    for (const m of n.textContent.matchAll(tex))
      if (m[0].startsWith("$$") || /[\\_^{}]/.test(m[1]) || /^[A-Za-z]$/.test(m[1]))
        rawMath.push(m[0].slice(0, 120));
  }
  const out = document.createElement("pre");
  out.id = "book-check-result";
  out.textContent = JSON.stringify({images: images.length, external: document.images.length - images.length,
                                     badImages, badAnchors, errors, mathErrors, badMath, rawMath,
                                     formulas: maths.length,
                                     title: document.title, height: document.body.scrollHeight});
  document.body.appendChild(out);
}, 200));
</script>"""
RESULT = re.compile(r'<pre id="book-check-result">(.*?)</pre>', re.S)


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    raise SystemExit("check_book: no Chromium found; install Debian's `chromium` package "
                     "(apt-get install -y chromium) or set $CHROMIUM")


def _browser(exe: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    cmd = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--hide-scrollbars", "--allow-file-access-from-files", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _ids(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    return {html.unescape(m) for m in re.findall(r'\sid="([^"]+)"', text)}


def static_links(page: Path, book: Path) -> list[str]:
    """Relative links and stylesheets of ``page`` that point to a missing file or a missing id in
    another page."""
    problems = []
    for raw in re.findall(r'<(?:a|link)\s[^>]*?href="([^"]*)"', page.read_text(encoding="utf-8")):
        url = html.unescape(raw)
        parts = urlsplit(url)
        if parts.scheme or url.startswith(("#", "//")) or not parts.path:
            continue
        target = (page.parent / unquote(parts.path)).resolve()
        if not target.is_file():
            problems.append(f"broken link {url!r}: no file {target}")
        elif parts.fragment and target.suffix == ".html" and not {parts.fragment,
                                                                  unquote(parts.fragment)} & _ids(target):
            problems.append(f"broken link {url!r}: no element id {parts.fragment!r} in {target.name}")
    return problems


REMOTE_URL = re.compile(r"^(https?:)?//", re.I)


def remote_resources(page: Path) -> list[str]:
    """Scripts and stylesheets ``page`` would fetch from the network: ``<script src>`` and
    ``<link rel=stylesheet>`` with a remote URL, ``@import`` of one in a ``<style>``, and inline
    scripts naming an http(s) URL (nbconvert's MathJax, require.js, mermaid and widget loaders)."""
    text = page.read_text(encoding="utf-8")
    found = []
    for tag in re.findall(r"<script\b[^>]*>", text, re.I):
        m = re.search(r"""\ssrc=["']?([^"'\s>]+)""", tag, re.I)
        if m and REMOTE_URL.match(html.unescape(m.group(1))):
            found.append(f"remote script {m.group(1)}")
    for tag in re.findall(r"<link\b[^>]*>", text, re.I):
        m = re.search(r"""\shref=["']?([^"'\s>]+)""", tag, re.I)
        if m and re.search(r"stylesheet", tag, re.I) and REMOTE_URL.match(html.unescape(m.group(1))):
            found.append(f"remote stylesheet {m.group(1)}")
    for css in re.findall(r"<style\b[^>]*>(.*?)</style>", text, re.I | re.S):
        found += [f"remote stylesheet {u}"
                  for u in re.findall(r"""@import\s+(?:url\()?["']?((?:https?:)?//[^"')\s;]+)""", css)]
    for attrs, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", text, re.I | re.S):
        if "json" in attrs.lower():  # data (widget state), not code
            continue
        found += [f"script loads {u}" for u in re.findall(r"""["'`]((?:https?:)?//[^"'`\s]+)""", body)
                  if not u.startswith("http://www.w3.org/")]  # names of XML namespaces, not loads
    return found


class _Tables(HTMLParser):
    """Each ``<table>`` of a page as a list of rows ``(in_thead, [(tag, text), ...])``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[tuple[bool, list[tuple[str, str]]]]] = []
        self._open: list[list] = []  # tables being read (nested tables are their own)
        self._thead: list[bool] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self._open.append([])
            self._thead.append(False)
        elif self._open and tag == "thead":
            self._thead[-1] = True
        elif self._open and tag == "tr":
            self._open[-1].append((self._thead[-1], []))
        elif self._open and tag in ("th", "td") and self._open[-1]:
            self._open[-1][-1][1].append([tag, ""])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._open:
            self.tables.append([(h, [(t, " ".join(x.split())) for t, x in cells])
                                for h, cells in self._open.pop()])
            self._thead.pop()
        elif tag == "thead" and self._open:
            self._thead[-1] = False

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] and self._open[-1][-1][1]:
            self._open[-1][-1][1][-1][1] += data


def header_only_tables(page: Path) -> list[str]:
    """Tables of ``page`` with a header row and no body row, each named by its header: the header
    rows are those in ``<thead>`` (else the leading rows of ``<th>`` cells only), the body rows all
    the others."""
    parser = _Tables()
    parser.feed(page.read_text(encoding="utf-8"))
    found = []
    for rows in parser.tables:
        if any(h for h, _ in rows):
            head = [cells for h, cells in rows if h]
            body = [cells for h, cells in rows if not h]
        else:
            n = 0
            while n < len(rows) and rows[n][1] and all(t == "th" for t, _ in rows[n][1]):
                n += 1
            head, body = [c for _, c in rows[:n]], [c for _, c in rows[n:]]
        if head and not body:
            names = " | ".join(x for x in (text for cells in head for _, text in cells) if x)
            found.append(f"header-only table: {names[:200] or '(empty header)'}")
    return found


def check_page(exe: str, page: Path, book: Path, shots: Path) -> dict:
    probe = page.with_name(f".check-{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>", 1),
                     encoding="utf-8")
    try:
        dom = _browser(exe, "--virtual-time-budget=15000", "--dump-dom", probe.resolve().as_uri())
    finally:
        probe.unlink(missing_ok=True)
    problems = static_links(page, book) + remote_resources(page) + header_only_tables(page)
    m = RESULT.search(dom.stdout)
    if not m:
        problems.append(f"Chromium did not render the page (exit {dom.returncode}): "
                        f"{dom.stderr.strip()[-300:]}")
        found: dict = {}
    else:
        found = json.loads(html.unescape(m.group(1)))
        problems += [f"missing image {s!r}" for s in found["badImages"]]
        problems += [f"broken link '#{a}': no element with that id" for a in found["badAnchors"]]
        problems += [f"error output: {e}" for e in found["errors"]]
        problems += [f"formula left as TeX by the build: {t}" for t in found.get("mathErrors", [])]
        problems += [f"formula not rendered: {t!r}" for t in found.get("badMath", [])]
        problems += [f"raw TeX in the text: {t}" for t in found.get("rawMath", [])]
    shot = shots / f"{page.stem}.png"
    height = min(max(int(found.get("height", 1600)), 800), 16000)
    s = _browser(exe, f"--screenshot={shot.resolve()}", f"--window-size=1280,{height}",
                 page.resolve().as_uri())
    if not shot.is_file() or shot.stat().st_size == 0:
        problems.append(f"no screenshot (exit {s.returncode}): {s.stderr.strip()[-300:]}")
    return {"page": page.name, "images": found.get("images"), "external_images": found.get("external"),
            "formulas": found.get("formulas"),
            "height": found.get("height"),
            "screenshot": str(shot), "problems": problems}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("book", nargs="?", default="book", help="folder built by tools/build_book.py")
    ap.add_argument("--shots", default=None, help="folder for the screenshots (default: BOOK/_screenshots)")
    args = ap.parse_args(argv)
    book = Path(args.book)
    pages = sorted(p for p in book.glob("*.html") if not p.name.startswith("."))
    if not pages:
        print(f"check_book: no pages in {book}; build it with `make book`", file=sys.stderr)
        return 1
    shots = Path(args.shots) if args.shots else book / "_screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    exe = chromium()
    t0 = time.perf_counter()
    results = [check_page(exe, p, book, shots) for p in pages]
    (shots / "check.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    bad = [r for r in results if r["problems"]]
    for r in results:
        status = "FAIL" if r["problems"] else "ok"
        print(f"{status:4} {r['page']}: {r['images']} images loaded ({r['external_images']} external, not "
              f"checked), {r['formulas']} formulas, screenshot {r['screenshot']}")
        for p in r["problems"]:
            print(f"     - {p}")
    print(f"check_book: {len(pages)} pages, {len(bad)} failing, {time.perf_counter() - t0:.1f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
