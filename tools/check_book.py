"""Open every page of the HTML book in headless Chromium, screenshot it, and fail on a page with
an error output, a missing image or a broken internal link. Images from other sites (the
"Open in Colab" badge) are counted but not checked, so the check gives the same answer offline.

    python tools/check_book.py [BOOK_DIR] [--shots DIR]        (make check-book)

For each page Chromium (Debian's ``chromium`` package; ``$CHROMIUM`` overrides the binary) loads a
copy of the page with a small script that, once everything has loaded, lists the images that did
not load (``naturalWidth == 0``), the ``#anchor`` links with no target, and the cells marked by
``tools/build_book.py`` as having raised an error; the DOM is dumped and read back. Links to
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
  const out = document.createElement("pre");
  out.id = "book-check-result";
  out.textContent = JSON.stringify({images: images.length, external: document.images.length - images.length,
                                     badImages, badAnchors, errors,
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
        elif parts.fragment and target.suffix == ".html" and not {parts.fragment, unquote(parts.fragment)} & _ids(target):
            problems.append(f"broken link {url!r}: no element id {parts.fragment!r} in {target.name}")
    return problems


def check_page(exe: str, page: Path, book: Path, shots: Path) -> dict:
    probe = page.with_name(f".check-{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
    try:
        dom = _browser(exe, "--virtual-time-budget=15000", "--dump-dom", probe.resolve().as_uri())
    finally:
        probe.unlink(missing_ok=True)
    problems = static_links(page, book)
    m = RESULT.search(dom.stdout)
    if not m:
        problems.append(f"Chromium did not render the page (exit {dom.returncode}): {dom.stderr.strip()[-300:]}")
        found: dict = {}
    else:
        found = json.loads(html.unescape(m.group(1)))
        problems += [f"missing image {s!r}" for s in found["badImages"]]
        problems += [f"broken link '#{a}': no element with that id" for a in found["badAnchors"]]
        problems += [f"error output: {e}" for e in found["errors"]]
    shot = shots / f"{page.stem}.png"
    height = min(max(int(found.get("height", 1600)), 800), 16000)
    s = _browser(exe, f"--screenshot={shot.resolve()}", f"--window-size=1280,{height}", page.resolve().as_uri())
    if not shot.is_file() or shot.stat().st_size == 0:
        problems.append(f"no screenshot (exit {s.returncode}): {s.stderr.strip()[-300:]}")
    return {"page": page.name, "images": found.get("images"), "external_images": found.get("external"),
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
        print(f"{status:4} {r['page']}: {r['images']} images loaded ({r['external_images']} external, not checked), "
              f"screenshot {r['screenshot']}")
        for p in r["problems"]:
            print(f"     - {p}")
    print(f"check_book: {len(pages)} pages, {len(bad)} failing, {time.perf_counter() - t0:.1f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
