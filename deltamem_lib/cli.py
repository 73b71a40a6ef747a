"""The ``deltamem`` console command.

Subcommands are discovered from :mod:`deltamem_lib.commands` (one module each), so each
part of the workbook adds its own without touching this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Sequence

from . import __version__, commands
from .cli_errors import report_error
from .redaction import redacted_output


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deltamem",
        description="DeltaMem workbook: data synthesis, MLD reward, memory agent, training, benchmarks.",
    )
    parser.add_argument("--version", action="version", version=f"deltamem {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (also: DELTAMEM_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0 if args.command is None else 2
    with redacted_output():  # no registered secret reaches the terminal (redaction.py)
        try:
            return int(func(args) or 0)
        except (Exception, KeyboardInterrupt) as exc:  # one clear line, no traceback (cli_errors.py)
            return report_error(args.command, exc, debug=args.debug)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
