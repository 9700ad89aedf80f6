"""What a Slurm job of the benchmark runs: one cell (submitit pickles a :class:`CellTask` and
calls it with the cell id in the job's own Python process). Kept apart from ``executors.py``
because it needs submitit at import time (the job unpickles this class)."""
from __future__ import annotations

import os

import submitit

from .executors import master_port

__all__ = ['CellTask']


class CellTask(submitit.helpers.Checkpointable):
    """``CellTask(...)(cell_id)`` trains the cell and writes its json. Checkpointable: when Slurm
    preempts the job or its time runs out (submitit's signal), submitit requeues it with the same
    arguments; cells keep no checkpoint, so the requeued job trains the cell from its start (its
    claim is released on the way out, or recognised as its own by the requeued job)."""

    def __init__(self, suite_ref: str, out_dir: str, threads: int | None, launcher: str = 'none'):
        self.suite_ref, self.out_dir, self.threads, self.launcher = suite_ref, out_dir, threads, launcher

    def __call__(self, cell_id: str) -> str:
        from .claim import LockHeld, slurm_job_id
        from .executors import run_cell_command
        if self.launcher == 'slurm':
            # mmengine's slurm launcher reads MASTER_PORT: derived from the job id, so two
            # distributed cells on one node do not collide
            os.environ.setdefault('MASTER_PORT', str(master_port(slurm_job_id() or '0')))
        try:
            return run_cell_command(self.suite_ref, cell_id, self.out_dir, self.threads, self.launcher)
        except LockHeld as e:
            print(f'{cell_id}: {e}', flush=True)
            return 'held'
