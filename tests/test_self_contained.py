"""The repository stands on its own: no tracked file points at a folder outside it.

A clone must carry everything its readers need (the specification in docs/, the samples in
data/). References to a sibling ``shared`` folder — ``shared/…``, ``../shared``, or the path
built as ``"shared" / …`` — worked only inside the workspace where the workbook was written.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()
PATTERN = re.compile(r"(?<![\w.-])(?:\.\./)*shared/|\.\./shared\b|[\"']shared[\"']\s*/")


def _tracked() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    return [f for f in out.stdout.decode().split("\0") if f]


def offending_lines(text: str) -> list[str]:
    return [line.strip()[:160] for line in text.splitlines() if PATTERN.search(line)]


def test_the_pattern_catches_every_form_and_spares_ordinary_words():
    for bad in ("see shared/docs/mld_spec.md", "data_dir = \"../shared/benchmarks\"",
                "ROOT.parent / \"shared\" / \"benchmarks\"", "`../shared`", "(shared/benchmarks/README.md)"):
        assert offending_lines(bad), bad
    for ok in ("shared_contexts_32k.jsonl", "a shared context", "the shared part E", "res.shared",
               "load_shared_contexts(p)", "docs/benchmark_protocols.md"):
        assert not offending_lines(ok), ok


def test_no_tracked_file_refers_to_a_shared_folder_outside_the_repository():
    bad = {}
    for name in _tracked():
        if name == THIS:
            continue
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary (figures)
        lines = offending_lines(text)
        if lines:
            bad[name] = lines
    assert not bad, "files referring to a shared/ folder outside the repository (use docs/ or data/): " + \
        "; ".join(f"{k}: {v[:3]}" for k, v in bad.items())


def test_docs_the_workbook_cites_exist():
    for name in ("mld_spec.md", "paper_notes.md", "training_notes.md", "benchmark_protocols.md"):
        assert (ROOT / "docs" / name).is_file(), name
    cited = set()
    for name in _tracked():
        if name.endswith((".py", ".ipynb", ".md")) and (ROOT / name).is_file():
            cited |= set(re.findall(r"docs/([\w-]+\.md)", (ROOT / name).read_text(encoding="utf-8")))
    missing = sorted(c for c in cited if not (ROOT / "docs" / c).is_file())
    assert not missing, f"cited but absent from docs/: {missing}"


def test_the_readme_lists_every_file_in_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Reference notes (`docs/`)", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"\(docs/([\w-]+\.md)\)", section))
    missing = sorted(p.name for p in (ROOT / "docs").glob("*.md") if p.name not in listed)
    assert not missing, f"docs/ files missing from the README's reference notes: {missing}"


def test_the_worked_example_of_the_spec_in_docs_is_what_the_library_computes():
    from deltamem_lib.mld import memory_levenshtein

    spec = (ROOT / "docs" / "mld_spec.md").read_text(encoding="utf-8")
    gold = [{"content": "User lives in Berlin", "keywords": ["Berlin"]},
            {"content": "User works as a nurse", "keywords": ["nurse"]}]
    before = ["User lives in Hamburg"]
    added = memory_levenshtein(["User lives in Hamburg", "User lives in Berlin now"], gold, before=before)
    assert f"Q* ≈ {added.q_total:.3f}" in spec
    assert f"r_trans ≈ 1 − {added.distance:.3f}/4 ≈ {added.reward:.3f}" in spec
    partial = memory_levenshtein(["User lives in Hamburg", "User works as a nurse"], gold, before=before)
    assert partial.reward == 0.5 and "`r_trans = 1 − 2/4 = 0.5`" in spec
    noop = memory_levenshtein(before, gold[:1], before=before)  # doing nothing keeps the stale fact
    no_check = memory_levenshtein(before, gold[:1], before=before, lexical_fidelity=False)
    assert noop.reward == 0.0 and "`r_trans = 0`" in spec
    assert f"r_trans = 1 − (2 − 2·0.75)/2 = {no_check.reward:.2f}" in spec
    for rule in ("`r_trans = 1 − MLD / N`", "`N = |P ⊖ B| + |G ⊖ B|`", "`τ` (default 0.5)",
                 "r_state = 2·(|E| + Q*) / (|P| + |G|)", r'`tokens(s) = re.findall(r"\w+", s.lower())`'):
        assert rule in spec, rule
