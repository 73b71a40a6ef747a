"""The workbook's repository URL, set in one place: ``[project.urls] Repository`` in pyproject.toml.

The notebooks cannot import it (their setup cell clones the repository before the workbook is
installed), so the URL is also written, by this tool, into the ``REPO = "…"`` line of every
notebook's setup cell, into the "Open In Colab" badges of the notebooks and the README, and into
the README's sentence that names the address (a GitHub address in backticks there).

    python tools/repo_url.py                 rewrite notebooks and README from pyproject.toml
    python tools/repo_url.py --check         list what disagrees with pyproject.toml (exit 1), change nothing
    python tools/repo_url.py https://github.com/OWNER/NAME
                                             a fork: set the URL in pyproject.toml, then rewrite the rest

Files are edited as text, one substitution per occurrence, so nothing else in them changes
(``tests/test_setup_cell.py`` runs the check).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
URL = re.compile(r"https://github\.com/([\w.-]+/[\w.-]+)")
# pyproject.toml's line; the setup cell's line as it is stored in the notebook's JSON (quotes escaped);
# a Colab badge's target (notebooks and README)
PYPROJECT_LINE = re.compile(r'^(Repository = ")https://github\.com/[\w.-]+/[\w.-]+(")', re.M)
REPO_LINE = re.compile(r'(REPO = \\?")https://github\.com/(?P<slug>[\w.-]+/[\w.-]+)(\\?")')
BADGE = re.compile(r"(colab\.research\.google\.com/github/)(?P<slug>[\w.-]+/[\w.-]+)(/blob/)")
NAMED = re.compile(r"(`)https://github\.com/(?!OWNER/NAME`)(?P<slug>[\w.-]+/[\w.-]+)(`)")  # README prose


def repository_url(pyproject: Path = PYPROJECT) -> str:
    """``[project.urls] Repository`` of pyproject.toml."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    url = data.get("project", {}).get("urls", {}).get("Repository", "")
    if not URL.fullmatch(url):
        raise ValueError(f"{pyproject}: [project.urls] Repository must be https://github.com/OWNER/NAME, got "
                         f"{url!r}")
    return url


def targets(root: Path = ROOT) -> list[Path]:
    """The files that repeat the URL: every notebook and the README."""
    return sorted((root / "notebooks").glob("*.ipynb")) + [root / "README.md"]


def rewrite(text: str, url: str) -> str:
    """``text`` with every setup-cell ``REPO`` line, Colab badge and backticked GitHub address
    pointing at ``url``."""
    slug = URL.fullmatch(url).group(1)
    text = REPO_LINE.sub(lambda m: f"{m.group(1)}{url}{m.group(3)}", text)
    text = NAMED.sub(lambda m: f"{m.group(1)}{url}{m.group(3)}", text)
    return BADGE.sub(lambda m: f"{m.group(1)}{slug}{m.group(3)}", text)


def disagreements(root: Path = ROOT) -> list[str]:
    """One line per file whose URLs differ from pyproject.toml's (empty: all agree)."""
    url = repository_url(root / "pyproject.toml")
    out = []
    for path in targets(root):
        text = path.read_text(encoding="utf-8")
        if rewrite(text, url) != text:
            found = sorted({m.group("slug") for pattern in (REPO_LINE, BADGE, NAMED)
                            for m in pattern.finditer(text)})
            out.append(f"{path.relative_to(root)}: github.com/{', '.join(found)}, not {url}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", nargs="?", help="new repository URL, https://github.com/OWNER/NAME (written to "
                                           "pyproject.toml)")
    ap.add_argument("--check", action="store_true", help="only report files that disagree with "
                                                         "pyproject.toml")
    args = ap.parse_args(argv)
    if args.url:
        if args.check:
            ap.error("--check takes no URL")
        if not URL.fullmatch(args.url):
            ap.error(f"expected https://github.com/OWNER/NAME, got {args.url!r}")
        text = PYPROJECT.read_text(encoding="utf-8")
        new, n = PYPROJECT_LINE.subn(lambda m: f"{m.group(1)}{args.url}{m.group(2)}", text)
        if n != 1:
            ap.error(f"{PYPROJECT}: expected one 'Repository = \"…\"' line under [project.urls], found {n}")
        PYPROJECT.write_text(new, encoding="utf-8")
    if args.check:
        bad = disagreements()
        print("\n".join(bad) if bad else f"every notebook and the README use {repository_url()}")
        return 1 if bad else 0
    url = repository_url()
    for path in targets():
        text = path.read_text(encoding="utf-8")
        new = rewrite(text, url)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"{path.relative_to(ROOT)}: now {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
