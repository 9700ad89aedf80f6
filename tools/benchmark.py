#!/usr/bin/env python
"""Run a benchmark suite from a clone: the package's command line (``dualopt_mm/benchmark/cli.py``,
``python -m dualopt_mm.benchmark`` from an installed wheel), run as ``python tools/benchmark.py``
(``--help`` for the usage; the protocol is in results/README.md)."""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from dualopt_mm.benchmark import cli  # noqa: E402

PROG = 'python tools/benchmark.py'


def parse_args(argv=None):
    return cli.parse_args(argv, PROG)


def main(argv=None):
    return cli.main(argv, PROG)


if __name__ == '__main__':
    sys.exit(main())
