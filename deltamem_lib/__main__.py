"""``python -m deltamem_lib`` is the ``deltamem`` command."""

from .cli import main

raise SystemExit(main())
