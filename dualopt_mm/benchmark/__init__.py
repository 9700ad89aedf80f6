"""The benchmark (protocol v2): suites read from files (``configs/benchmark/*.py``), a tuning
phase on tuning seeds and the val split, a reporting phase on held-out seeds and the test split,
paired statistics with stated margins (``tools/benchmark.py``; ``results/README.md`` states the
protocol)."""
from .suite import (Cell, Claim, Method, Suite, SuiteError, Task, configurations, load_suite, reporting_cells,
                    suite_from_dict, tuning_cells)

__all__ = ['Cell', 'Claim', 'Method', 'Suite', 'SuiteError', 'Task', 'configurations', 'load_suite',
           'reporting_cells', 'suite_from_dict', 'tuning_cells']
