"""Run the ``scratchgen`` command line as ``python -m scratchgen``."""

from .cli import main

raise SystemExit(main())
