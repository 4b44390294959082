"""``python -m harness``."""

from .cli import main

raise SystemExit(main())
