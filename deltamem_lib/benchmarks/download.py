"""Download the benchmark files of the DeltaMem evaluation from their official sources.

Sources, sizes, checksums and licences are listed in ``data/README.md``
(``docs/benchmark_protocols.md`` §0 names the official repositories):

* LoCoMo — ``data/locomo10.json`` of GitHub ``snap-research/locomo``, pinned to commit
  ``3eb6f2c`` (CC BY-NC 4.0), sha256 known;
* PersonaMem — ``questions_32k.csv`` and ``shared_contexts_32k.jsonl`` of the Hugging Face
  dataset ``bowen-upenn/PersonaMem`` (sha256 known for the questions only);
* HaluMem — ``HaluMem-Medium.jsonl`` / ``HaluMem-Long.jsonl`` of the Hugging Face dataset
  ``IAAR-Shanghai/HaluMem`` (CC BY-NC-ND 4.0; sha256 known for Medium only).

The licences are non-commercial: the files are downloaded into the project's ``data/``
folder (``data/<benchmark>/<file>``, ignored by git) and never committed. :func:`fetch` first
looks for a copy already on disk (``data/``, then the folder named by ``$DELTAMEM_DATA``),
verifies its checksum where one is known, and downloads only when there is none. The command
``deltamem data fetch locomo|personamem|halumem`` calls it. Downloads stream to a temporary file
in the target folder, are hashed on the way, and are renamed into place only when the
checksum matches (:func:`deltamem_lib.io.atomic_write`), so a failed or interrupted download never
leaves a bad file behind.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import PROJECT_ROOT
from ..io import atomic_write
from ..workdir import file_sha256

__all__ = [
    "RemoteFile",
    "REMOTE_FILES",
    "ALIASES",
    "DownloadError",
    "ChecksumError",
    "benchmarks_root",
    "download_file",
    "fetch",
    ]

#: Short names used by the command line and by :func:`deltamem_lib.benchmarks.paths.locate_data`.
ALIASES = {"locomo": "locomo", "personamem": "personamem-32k", "halumem": "halumem-medium"}

_HF = "https://huggingface.co/datasets"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a benchmark: where it comes from and how to check it."""

    benchmark: str  # key in REMOTE_FILES, e.g. "locomo"
    subdir: str  # folder under the benchmarks root ("locomo", "personamem", "halumem")
    filename: str
    url: str
    sha256: str | None  # None: no checksum recorded yet
    size: int | None
    licence: str
    source: str  # human-readable origin, for error messages and data cards


REMOTE_FILES: dict[str, tuple[RemoteFile, ...]] = {
    "locomo": (
        RemoteFile(
            "locomo", "locomo", "locomo10.json",
            "https://raw.githubusercontent.com/snap-research/locomo/"
            "3eb6f2c585f5e1699204e3c3bdf7adc5c28cb376/data/locomo10.json",
            "79fa87e90f04081343b8c8debecb80a9a6842b76a7aa537dc9fdf651ea698ff4", 2_805_274,
            "CC BY-NC 4.0", "GitHub snap-research/locomo @3eb6f2c, data/locomo10.json",
        ),
    ),
    "personamem-32k": (
        RemoteFile(
            "personamem-32k", "personamem", "questions_32k.csv",
            f"{_HF}/bowen-upenn/PersonaMem/resolve/main/questions_32k.csv",
            "cccd34cf53e0bc4d9536c04cff5ca045156d9a4e227e83327112482840bbc93c", 1_305_366,
            "research use; cite arXiv 2504.14225", "Hugging Face bowen-upenn/PersonaMem",
        ),
        RemoteFile(
            "personamem-32k", "personamem", "shared_contexts_32k.jsonl",
            f"{_HF}/bowen-upenn/PersonaMem/resolve/main/shared_contexts_32k.jsonl",
            None, None,
            "research use; cite arXiv 2504.14225", "Hugging Face bowen-upenn/PersonaMem",
        ),
    ),
    "halumem-medium": (
        RemoteFile(
            "halumem-medium", "halumem", "HaluMem-Medium.jsonl",
            f"{_HF}/IAAR-Shanghai/HaluMem/resolve/main/HaluMem-Medium.jsonl",
            "486fbc130a5c8781a2af27ffa508a1d7855245137aa449c193ac4d29c45634e7", 33_511_525,
            "CC BY-NC-ND 4.0", "Hugging Face IAAR-Shanghai/HaluMem",
        ),
    ),
    "halumem-long": (
        RemoteFile(
            "halumem-long", "halumem", "HaluMem-Long.jsonl",
            f"{_HF}/IAAR-Shanghai/HaluMem/resolve/main/HaluMem-Long.jsonl",
            None, None, "CC BY-NC-ND 4.0", "Hugging Face IAAR-Shanghai/HaluMem",
        ),
    ),
}


class DownloadError(RuntimeError):
    """A benchmark file could not be obtained (offline, HTTP error, …)."""


class ChecksumError(DownloadError):
    """A file's sha256 differs from the recorded one."""


def benchmarks_root() -> Path:
    """Where downloads go: the project's ``data/`` folder."""
    return PROJECT_ROOT / "data"


def _env_dirs() -> list[Path]:
    env = os.environ.get("DELTAMEM_DATA")
    return [Path(env).expanduser()] if env else []


def download_file(url: str, dest: str | os.PathLike[str], *, sha256: str | None = None,
                  force: bool = False, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically and return ``dest``.

    If ``dest`` exists and (when ``sha256`` is given) matches, it is reused without any
    network access unless ``force``. A mismatching existing file is downloaded again. The
    new content is hashed while streaming into a temporary file beside ``dest`` and renamed
    into place only if it matches ``sha256``; otherwise :class:`ChecksumError` is raised and
    ``dest`` is left as it was. Network failures raise :class:`DownloadError` saying how to
    get the file by hand. ``file://`` URLs work (used by the tests).
    """
    target = Path(dest)
    if target.exists() and not force:
        if sha256 is None or file_sha256(target) == sha256:
            return target

    def stream(tmp: Path) -> None:  # runs inside atomic_write: raising leaves ``target`` as it was
        h = hashlib.sha256()
        with open(tmp, "wb") as out:
            try:
                req = urllib.request.Request(url, headers={"User-Agent": "deltamem-workbook"})
                with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (fixed URLs)
                    while block := resp.read(1 << 20):
                        h.update(block)
                        out.write(block)
            except urllib.error.HTTPError as exc:
                raise DownloadError(
                    f"could not download {url}: HTTP {exc.code} {exc.reason}. Download it by hand "
                    f"and save it as {target}, or pass your copy's path to the loader."
                ) from None
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                reason = getattr(exc, "reason", exc)
                raise DownloadError(
                    f"could not download {url} ({reason}); this machine seems to be offline or the "
                    f"host is unreachable. Download the file on a connected machine, copy it to "
                    f"{target} (or set $DELTAMEM_DATA to a folder holding <benchmark>/<file>), or pass your "
                    "copy's path to the loader."
                ) from None
        got = h.hexdigest()
        if sha256 is not None and got != sha256:
            raise ChecksumError(
                f"{url}: sha256 {got} does not match the recorded {sha256}; the download is corrupt "
                f"or the upstream file changed. Nothing was written to {target}. Retry, or if the "
                "upstream file was deliberately updated, check the new release and update the "
                "checksum in deltamem_lib/benchmarks/download.py."
            )

    atomic_write(target, stream)
    return target


def _lookup(benchmark: str, filename: str | None) -> RemoteFile:
    if benchmark not in REMOTE_FILES:
        raise KeyError(f"unknown benchmark {benchmark!r}; known: {', '.join(REMOTE_FILES)}")
    files = REMOTE_FILES[benchmark]
    if filename is None:
        return files[0]
    for f in files:
        if f.filename == filename:
            return f
    raise KeyError(f"benchmark {benchmark!r} has no file {filename!r}; it has "
                   f"{', '.join(f.filename for f in files)}")


def fetch(benchmark: str, filename: str | None = None, *, root: str | os.PathLike[str] | None = None,
          search_dirs: Sequence[str | os.PathLike[str]] | None = None, remote: RemoteFile | None = None,
          timeout: float = 60.0) -> Path:
    """Path to a benchmark file, downloading it only if no good copy is on disk.

    Looks for ``<dir>/<subdir>/<filename>`` in ``root`` (default :func:`benchmarks_root`)
    and then in ``search_dirs`` (default: the folder named by ``$DELTAMEM_DATA``, if set); a copy
    is accepted when its sha256 matches (or when none is recorded). Otherwise downloads
    into ``root``. ``filename`` defaults to the benchmark's first file; ``remote`` overrides
    the registry entry (tests use it with ``file://`` URLs).
    """
    rf = remote or _lookup(benchmark, filename)
    base = Path(root) if root is not None else benchmarks_root()
    dirs = [base] + [Path(d) for d in (search_dirs if search_dirs is not None else _env_dirs())]
    for d in dirs:
        cand = d / rf.subdir / rf.filename
        if cand.is_file() and (rf.sha256 is None or file_sha256(cand) == rf.sha256):
            return cand
    return download_file(rf.url, base / rf.subdir / rf.filename, sha256=rf.sha256, timeout=timeout)
