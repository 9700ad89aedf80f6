"""A claim on one cell: whoever holds it is the only process training that cell.

Two drivers (or a driver and a worker left over from an earlier driver) may look at the same
results folder. A cell is claimed by creating ``<out>/locks/<cell id>.lock`` with
``O_CREAT | O_EXCL`` (atomic on local file systems and on NFS v3+), holding its owner's host, pid,
the pid's start time and its Slurm job id. The json in ``cells/`` stays the only mark of a
finished cell; a lock only says "being trained now".

A lock is stale, and is taken over, when its owner cannot be running any more:

* on this host: its pid is gone, or the pid now belongs to another process (start time differs);
* the owner was this same Slurm job (a requeued job runs again under its id: its earlier
  incarnation was killed);
* the owner was a Slurm job that the queue no longer holds (``squeue``; asked only where Slurm is
  installed).

A lock of another host without a Slurm job id is never broken automatically (nothing can tell
whether its owner lives); the message names the file to delete.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import time
import uuid

__all__ = ['CellLock', 'LockHeld', 'owner_alive', 'slurm_job_id', 'slurm_jobs_alive', 'lock_path']


class LockHeld(RuntimeError):
    """The cell is claimed by a process that may still be running."""

    def __init__(self, path: str, owner: dict):
        self.path, self.owner = path, owner
        who = f"pid {owner.get('pid')} on {owner.get('host')}"
        if owner.get('slurm_job'):
            who += f" (Slurm job {owner['slurm_job']})"
        super().__init__(f'{path}: the cell is being trained by {who} since {owner.get("since")}')


def lock_path(out_dir: str, cell_id: str) -> str:
    return osp.join(out_dir, 'locks', f'{cell_id}.lock')


def _start_time(pid: int):
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22): a pid
    reused by another process has another one. None where /proc cannot tell."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            stat = f.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    return int(stat[stat.rindex(')') + 2:].split()[19])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def slurm_job_id(environ=None) -> str | None:
    """This process's Slurm job as ``squeue`` names it (``<array job>_<task>`` for an array task)."""
    env = os.environ if environ is None else environ
    if env.get('SLURM_ARRAY_JOB_ID') and env.get('SLURM_ARRAY_TASK_ID'):
        return f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
    return env.get('SLURM_JOB_ID') or None


def slurm_jobs_alive(job_ids) -> set | None:
    """The subset of ``job_ids`` that Slurm still holds (pending, running, requeued, ...); None
    if ``squeue`` cannot be asked."""
    job_ids = sorted(set(job_ids))
    if not job_ids or shutil.which('squeue') is None:
        return None
    try:
        # -r: one line per array task; %i: <array job>_<task> for array tasks, the job id otherwise
        out = subprocess.run(['squeue', '-h', '-r', '-o', '%i %T'], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    alive = set()
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] not in ('COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY',
                                                'NODE_FAIL', 'BOOT_FAIL', 'DEADLINE'):
            alive.add(parts[0])
    return {j for j in job_ids if j in alive}


def owner_alive(owner: dict, slurm_alive=slurm_jobs_alive) -> bool | None:
    """True: the lock's owner may still run; False: it cannot; None: cannot tell (another host,
    no Slurm job)."""
    here = socket.gethostname()
    job = owner.get('slurm_job')
    if job:
        if job == slurm_job_id():
            # a requeued Slurm job runs under its old id: the lock is its killed earlier incarnation's
            return owner.get('host') == here and owner.get('pid') == os.getpid()
        if owner.get('host') != here:
            alive = slurm_alive([job])
            return None if alive is None else job in alive
    if owner.get('host') != here:
        return None
    pid = owner.get('pid')
    if not isinstance(pid, int) or not _pid_alive(pid):
        return False
    started = _start_time(pid)
    return started is None or owner.get('start_time') is None or started == owner['start_time']


class CellLock:
    """``with CellLock(out, cell_id):`` claims the cell (or raises :class:`LockHeld`) and
    releases it on exit, whatever ends the block (a SIGKILL leaves the file: it is then stale)."""

    def __init__(self, out_dir: str, cell_id: str, slurm_alive=slurm_jobs_alive):
        self.path = lock_path(out_dir, cell_id)
        self.cell_id = cell_id
        self.slurm_alive = slurm_alive
        self.owner = None

    def _me(self) -> dict:
        return {'cell': self.cell_id, 'host': socket.gethostname(), 'pid': os.getpid(),
                'start_time': _start_time(os.getpid()), 'slurm_job': slurm_job_id(),
                'since': time.strftime('%Y-%m-%dT%H:%M:%S'), 'token': uuid.uuid4().hex}

    @staticmethod
    def read(path: str) -> dict | None:
        try:
            with open(path) as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            # being written this very moment (the owner opens, then writes): treat as alive
            return {'host': None, 'pid': None, 'partial': True}

    def acquire(self) -> 'CellLock':
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        for _ in range(5):
            me = self._me()
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self.read(self.path)
                if owner is None:
                    continue  # released between our open and our read: try again
                if owner.get('partial'):
                    time.sleep(0.2)
                    owner = self.read(self.path)
                    if owner is None:
                        continue
                    if owner.get('partial'):
                        raise LockHeld(self.path, owner)
                alive = owner_alive(owner, self.slurm_alive)
                if alive is False:
                    self._break(owner)
                    continue
                if alive is None:
                    raise LockHeld(self.path, owner) from RuntimeError(
                        f'the owner is on another host ({owner.get("host")}) and not a Slurm job: if it is not '
                        f'running any more, delete {self.path}')
                raise LockHeld(self.path, owner)
            with os.fdopen(fd, 'w') as f:
                json.dump(me, f)
                f.flush()
                os.fsync(f.fileno())
            self.owner = me
            return self
        raise LockHeld(self.path, self.read(self.path) or {})

    def _break(self, stale: dict) -> None:
        """Remove a stale lock; a lock that changed meanwhile (another process broke and took
        it first) is put back."""
        moved = f'{self.path}.stale-{uuid.uuid4().hex[:8]}'
        try:
            os.rename(self.path, moved)
        except FileNotFoundError:
            return
        if self.read(moved) != stale:
            try:
                os.link(moved, self.path)  # fails if a third process created a lock meanwhile
            except OSError:
                pass
        os.remove(moved)

    def release(self) -> None:
        if self.owner is None:
            return
        current = self.read(self.path)
        if current is not None and current.get('token') == self.owner['token']:
            os.remove(self.path)
        self.owner = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
