"""``python -m dualopt_mm.benchmark``: the benchmark's command line (``cli.py``)."""
import sys

from .cli import main

sys.exit(main())
