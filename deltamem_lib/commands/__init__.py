"""Subcommands of the ``deltamem`` command.

Every module in this package that defines ``register(subparsers)`` adds one subcommand;
``register`` must add a parser and set ``func`` (a callable taking the parsed arguments and
returning an exit code) with ``parser.set_defaults(func=...)``. Modules import heavy
dependencies inside ``func`` so that ``deltamem --help`` stays fast.
"""
