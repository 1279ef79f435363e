"""``python -m cre_core``: the command line."""

from cre_core.cli import main

raise SystemExit(main())
