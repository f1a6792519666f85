"""``python -m services.cli``: the ``guardline`` command."""

from services.cli import main

raise SystemExit(main())
