"""Allows ``python -m fromzero``."""

from fromzero.cli import main

raise SystemExit(main())
