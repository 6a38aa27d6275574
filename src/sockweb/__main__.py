"""``python -m sockweb`` runs the command line."""

from __future__ import annotations

from sockweb.cli import main

raise SystemExit(main())
