"""The benchmark: task family x optimizer x regime x seed, run from the configs, measured in and
out of distribution, for forgetting and for cost (``tools/benchmark.py``; ``results/README.md``
states the protocol)."""
from .suite import Cell, Method, Suite, Task, cell_id, expand, planned_count, select_lr
from .suites import SUITES, demo_suite, full_suite, get_suite, mini_suite

__all__ = ['Cell', 'Method', 'Suite', 'Task', 'cell_id', 'expand', 'planned_count', 'select_lr',
           'SUITES', 'demo_suite', 'full_suite', 'get_suite', 'mini_suite']
