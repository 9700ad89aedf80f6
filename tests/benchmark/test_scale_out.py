"""The benchmark scaled out: one process per cell (``run-cell``), the manifest, claim locks,
local worker processes, retries, and a real single-node Slurm cluster through submitit.

The fast tests (locks, manifest, retry accounting, option validation) run in both legs; those
that train are marked ``openmmlab`` (and ``slow``). The Slurm test sets the cluster up itself
with tools/setup_slurm.sh and skips only where that script says the machine cannot run one."""
import contextlib
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from dualopt_mm.benchmark import suite_from_dict, tuning_cells
from dualopt_mm.benchmark.claim import CellLock, LockHeld, lock_path
from dualopt_mm.benchmark.executors import (ExecutorError, ExecutorOptions, master_port, resolve_options, run_phase,
                                            split_devices, worker_command)
from dualopt_mm.benchmark.manifest import ManifestError, manifest_cell, read_manifest, write_phase
from dualopt_mm.testing import REPO_ROOT

_cls32 = 'classification/resnet18_shapes_32px.py'


def scratch_dict(length=1, budget=2, reporting=(0, 1), **over):
    """A suite of from-scratch cells only (no upstream pre-training): 2 methods x ``budget``."""
    d = dict(
        name='tiny_scale', description='test', seeds=dict(tuning=[100], reporting=list(reporting)),
        search=dict(budget=budget, sampler='grid', defaults=False),
        margins={'accuracy/top1': 1.5},
        methods=dict(
            sgd=dict(optimizer=dict(type='SGD', momentum=0.9, weight_decay=5e-4),
                     space=dict(lr=[0.05, 0.1][:budget])),
            adamw=dict(optimizer=dict(type='AdamW', weight_decay=0.05), space=dict(lr=[1e-3, 2e-3][:budget]))),
        tasks=dict(cls=dict(config=_cls32, regime='scratch', metric='accuracy/top1', methods=['sgd', 'adamw'],
                            baseline='sgd', length=length)),
        claims=[dict(paper='X', claim='adamw better', method='adamw', baseline='sgd', tasks=['cls'],
                     column='metric', primary=True)])
    d.update(over)
    return d


def write_suite_file(path, d) -> str:
    """The suite as a file a worker process can load (mmengine config syntax: plain literals)."""
    with open(path, 'w') as f:
        for k, v in d.items():
            f.write(f'{k} = {v!r}\n')
    return str(path)


# ----------------------------------------------------------------------------- claim locks

def test_a_claimed_cell_cannot_be_claimed_twice_and_release_frees_it(tmp_path):
    out = str(tmp_path)
    with CellLock(out, 'c1') as mine:
        owner = json.load(open(lock_path(out, 'c1')))
        assert owner['pid'] == os.getpid() and owner['host'] == socket.gethostname()
        with pytest.raises(LockHeld, match=f'pid {os.getpid()}'):
            CellLock(out, 'c1').acquire()
        assert mine.owner is not None
    assert not osp.exists(lock_path(out, 'c1'))
    CellLock(out, 'c1').acquire().release()


def _write_lock(out, cid, **owner):
    os.makedirs(osp.join(out, 'locks'), exist_ok=True)
    base = {'cell': cid, 'host': socket.gethostname(), 'pid': None, 'start_time': None, 'slurm_job': None,
            'since': 'then', 'token': 'x'}
    base.update(owner)
    with open(lock_path(out, cid), 'w') as f:
        json.dump(base, f)


def test_stale_locks_are_taken_over_live_and_unknown_ones_are_not(tmp_path, monkeypatch):
    out = str(tmp_path)
    monkeypatch.delenv('SLURM_JOB_ID', raising=False)
    monkeypatch.delenv('SLURM_ARRAY_JOB_ID', raising=False)
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    _write_lock(out, 'dead', pid=dead.pid)                       # its owner exited (a SIGKILLed worker)
    CellLock(out, 'dead').acquire().release()
    _write_lock(out, 'reused', pid=os.getpid(), start_time=1)    # the pid now belongs to another process
    CellLock(out, 'reused').acquire().release()
    _write_lock(out, 'live', pid=os.getpid(), start_time=None)   # alive: never taken
    with pytest.raises(LockHeld):
        CellLock(out, 'live').acquire()
    _write_lock(out, 'far', host='elsewhere', pid=1)             # another host, no Slurm job: cannot tell
    with pytest.raises(LockHeld) as e:
        CellLock(out, 'far').acquire()
    assert 'delete' in str(e.value.__cause__)
    # a Slurm job's lock on another host: the queue decides
    _write_lock(out, 'queued', host='elsewhere', pid=1, slurm_job='77_3')
    with pytest.raises(LockHeld, match='Slurm job 77_3'):
        CellLock(out, 'queued', slurm_alive=lambda ids: set(ids)).acquire()
    CellLock(out, 'queued', slurm_alive=lambda ids: set()).acquire().release()
    # a requeued Slurm job runs under its old id: the lock of its killed incarnation is its own
    monkeypatch.setenv('SLURM_ARRAY_JOB_ID', '88')
    monkeypatch.setenv('SLURM_ARRAY_TASK_ID', '1')
    _write_lock(out, 'requeued', pid=999999, slurm_job='88_1')
    CellLock(out, 'requeued', slurm_alive=lambda ids: set(ids)).acquire().release()
    assert os.listdir(osp.join(out, 'locks')) == ['live.lock', 'far.lock'] or \
        sorted(os.listdir(osp.join(out, 'locks'))) == ['far.lock', 'live.lock']


def test_processes_racing_for_one_cell_claim_it_exactly_once(tmp_path):
    """16 processes released at the same instant (all started and waiting first); the winner
    holds its claim until every one has tried: exactly one holds it."""
    out, sync = str(tmp_path / 'out'), tmp_path / 'sync'
    sync.mkdir()
    code = textwrap.dedent(f'''
        import importlib.util, os, sys, time
        # claim.py alone (standard library only): 16 imports of torch would take minutes
        spec = importlib.util.spec_from_file_location('claim', {osp.join(REPO_ROOT, 'dualopt_mm', 'benchmark', 'claim.py')!r})
        claim = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(claim)
        CellLock, LockHeld = claim.CellLock, claim.LockHeld
        sync = {str(sync)!r}
        open(os.path.join(sync, 'ready-%d' % os.getpid()), 'w').close()
        while not os.path.exists(os.path.join(sync, 'go')):
            time.sleep(0.001)
        try:
            lock = CellLock({out!r}, 'cell').acquire()
        except LockHeld:
            open(os.path.join(sync, 'tried-%d' % os.getpid()), 'w').close()
            print('held')
        else:
            open(os.path.join(sync, 'tried-%d' % os.getpid()), 'w').close()
            while len([n for n in os.listdir(sync) if n.startswith('tried-')]) < 16:
                time.sleep(0.01)
            print('claimed')
            lock.release()
    ''')
    procs = [subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True) for _ in range(16)]
    t0 = time.time()
    while len([n for n in os.listdir(sync) if n.startswith('ready-')]) < 16 and time.time() - t0 < 120:
        time.sleep(0.05)
    (sync / 'go').touch()
    said = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert sorted(said) == ['claimed'] + ['held'] * 15, said
    assert not osp.exists(lock_path(out, 'cell'))


# ----------------------------------------------------------------------------- manifest

def test_the_manifest_names_its_cells_and_refuses_unknown_or_stale_ones(tmp_path):
    out = str(tmp_path / 'out')
    suite = suite_from_dict(scratch_dict())
    cells = tuning_cells(suite)
    with pytest.raises(ManifestError, match='does not exist'):
        read_manifest(out)
    write_phase(out, 'my_suite.py', ['tasks.cls.length=1'], 'w', 'tuning', cells)
    m = read_manifest(out)
    assert m['phases']['tuning']['cells'] == {c.id: c.spec_hash for c in cells}
    assert m['suite'] == 'my_suite.py' and m['cfg_options'] == ['tasks.cls.length=1']
    phase, c, _ = manifest_cell(m, suite, cells[0].id, out)
    assert phase == 'tuning' and c == cells[0]
    with pytest.raises(ManifestError, match="'cls__sgd__c9__s100' is not in"):
        manifest_cell(m, suite, 'cls__sgd__c9__s100', out)
    # the suite changed after the driver wrote the manifest: the worker must not train that cell
    changed = suite_from_dict(scratch_dict(length=2))
    with pytest.raises(ManifestError, match='stale.*spec hash'):
        manifest_cell(m, changed, cells[0].id, out)
    fewer = suite_from_dict(scratch_dict(budget=1))
    with pytest.raises(ManifestError, match='no longer defines it'):
        manifest_cell(m, fewer, cells[1].id if cells[1].tag == 'c1' else cells[-1].id, out)
    # no reporting phase before the barrier
    with pytest.raises(ManifestError, match='not in'):
        manifest_cell(m, suite, 'cls__sgd__tuned__s0', out)


# ----------------------------------------------------------------------------- options

def test_executor_options_name_the_problem():
    assert resolve_options('sequential').kind == 'sequential'
    assert resolve_options('sequential', cli={'threads': 1}).threads == 1
    with pytest.raises(ExecutorError, match='--workers: only with --executor local or slurm'):
        resolve_options('sequential', cli={'workers': 2})
    with pytest.raises(ExecutorError, match='--slurm-partition: only with --executor slurm'):
        resolve_options('local', cli_slurm={'partition': 'gpu'})
    with pytest.raises(ExecutorError, match="unknown key\\(s\\) \\['partiton'\\]"):
        resolve_options('slurm', section={'slurm': {'partiton': 'gpu'}})
    with pytest.raises(ExecutorError, match='workers must be a positive integer'):
        resolve_options('local', cli={'workers': 0})
    with pytest.raises(ExecutorError, match='--executor must be one of'):
        resolve_options('kubernetes')
    # the command line wins over the suite file's section
    o = resolve_options('slurm', section={'retries': 1, 'slurm': {'partition': 'a', 'time_min': 30}},
                        cli={'retries': 4}, cli_slurm={'partition': 'b'})
    assert (o.retries, o.slurm) == (4, {'partition': 'b', 'time_min': 30})
    assert resolve_options('slurm', cli={'workers': 3}).slurm['array_parallelism'] == 3
    assert resolve_options('local', cli={'gpus_per_cell': 2}).launcher == 'pytorch'
    assert resolve_options('slurm', cli={'gpus_per_cell': 2}).launcher == 'slurm'
    assert resolve_options('local').launcher == 'none'


def test_the_suite_files_executor_section_is_validated_like_the_rest():
    from dualopt_mm.benchmark import SuiteError
    s = suite_from_dict(scratch_dict(executor=dict(workers=2, slurm=dict(partition='gpu', mem_gb=16))))
    assert s.executor == {'workers': 2, 'slurm': {'partition': 'gpu', 'mem_gb': 16}}
    with pytest.raises(SuiteError, match="suite 'tiny_scale': executor: unknown key\\(s\\) \\['worker'\\]"):
        suite_from_dict(scratch_dict(executor=dict(worker=2)))
    with pytest.raises(SuiteError, match='executor.slurm.time_min must be a positive integer'):
        suite_from_dict(scratch_dict(executor=dict(slurm=dict(time_min='2h'))))
    # the section never enters a cell's spec: the same cells, the same hashes
    a = {c.id: c.spec_hash for c in tuning_cells(suite_from_dict(scratch_dict()))}
    b = {c.id: c.spec_hash for c in tuning_cells(s)}
    assert a == b


def test_a_bad_executor_option_on_the_command_line_changes_nothing(tmp_path, capsys, monkeypatch):
    from dualopt_mm.benchmark import cli
    out = tmp_path / 'out'
    assert cli.main(['demo', '--out', str(out), '--workers', '2']) == 2
    assert '--workers: only with --executor local or slurm' in capsys.readouterr().err
    assert cli.main(['demo', '--out', str(out), '--executor', 'local', '--slurm-qos', 'high']) == 2
    assert '--slurm-qos: only with --executor slurm' in capsys.readouterr().err
    # an executor this machine cannot run is refused before the manifest is written
    monkeypatch.setenv('PATH', str(tmp_path / 'no_slurm_here'))
    assert cli.main(['demo', '--out', str(out), '--executor', 'slurm']) == 2
    err = capsys.readouterr().err
    assert ('no sbatch / srun on this machine' if _has_submitit() else 'needs submitit') in err
    assert not out.exists()


def _has_submitit():
    try:
        import submitit  # noqa: F401
    except ImportError:
        return False
    return True


def test_run_cell_refuses_a_cell_the_driver_did_not_dispatch(tmp_path, capsys):
    from dualopt_mm.benchmark import cli
    suite_file = write_suite_file(tmp_path / 'tiny_scale.py', scratch_dict())
    out = str(tmp_path / 'out')
    assert cli.main(['run-cell', suite_file, 'cls__sgd__c0__s100', '--out', out]) == 2
    assert 'manifest.json does not exist' in capsys.readouterr().err
    write_phase(out, suite_file, [], str(tmp_path / 'w'), 'tuning', tuning_cells(suite_from_dict(scratch_dict())))
    assert cli.main(['run-cell', suite_file, 'cls__nope__c0__s100', '--out', out]) == 2
    assert "'cls__nope__c0__s100' is not in" in capsys.readouterr().err
    write_suite_file(tmp_path / 'tiny_scale.py', scratch_dict(length=3))  # edited after the dispatch
    assert cli.main(['run-cell', suite_file, 'cls__sgd__c0__s100', '--out', out]) == 2
    assert 'is stale' in capsys.readouterr().err
    assert not osp.exists(osp.join(out, 'cells'))


def test_devices_ports_and_the_distributed_command():
    assert split_devices(['0', '1', '2', '3'], None, 1) == [['0'], ['1'], ['2'], ['3']]
    assert split_devices(['4', '5', '6', '7'], None, 2) == [['4', '5'], ['6', '7']]
    assert split_devices(['0', '1', '2'], 1, 2) == [['0', '1']]
    with pytest.raises(ExecutorError, match='needs 6 GPUs'):
        split_devices(['0', '1', '2', '3'], 3, 2)
    ports = {master_port(f'{j}_{t}') for j in range(100, 110) for t in range(8)}
    assert all(20000 <= p < 60000 for p in ports) and len(ports) >= 75
    assert master_port('123_4') == master_port('123_4')
    cmd = worker_command('mini', 'c', 'results/mini', threads=4, gpus_per_cell=2, port=23456)
    assert cmd[1:8] == ['-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '23456', '-m']
    assert cmd[-2:] == ['--launcher', 'pytorch'] and 'run-cell' in cmd
    assert worker_command('mini', 'c', 'o')[1:] == ['-m', 'dualopt_mm.benchmark', 'run-cell', 'mini', 'c', '--out', 'o']


# ----------------------------------------------------------------------------- retries (fake workers)

FAKE_WORKER = '''
import json, os, os.path as osp, signal, sys
out, cid = sys.argv[1], sys.argv[2]
plan = json.load(open(osp.join(out, 'plan.json')))[cid]
count = osp.join(out, cid + '.attempts')
n = int(open(count).read()) + 1 if osp.exists(count) else 1
open(count, 'w').write(str(n))
step = plan[min(n, len(plan)) - 1]
if step == 'ok':
    os.makedirs(osp.join(out, 'cells'), exist_ok=True)
    json.dump({'id': cid, 'phase': 'tuning', 'metric': 'm', 'val': {'m': 1.0}, 'wall_s': 1.0},
              open(osp.join(out, 'cells', cid + '.json'), 'w'))
elif step == 'sigkill':
    os.kill(os.getpid(), signal.SIGKILL)
elif step == 'bad':
    sys.exit(2)
else:
    sys.exit(1)
'''


def test_retries_then_failed_in_the_summary_never_missing(tmp_path, monkeypatch):
    from dualopt_mm.benchmark import executors
    out = str(tmp_path / 'out')
    os.makedirs(out)
    worker = tmp_path / 'worker.py'
    worker.write_text(FAKE_WORKER)
    plan = {'a': ['ok'], 'b': ['crash', 'sigkill', 'ok'], 'c': ['crash'], 'd': ['bad'], 'e': ['sigkill', 'ok']}
    json.dump(plan, open(osp.join(out, 'plan.json'), 'w'))
    monkeypatch.setattr(executors, 'worker_command', lambda suite_ref, cid, out_dir, *a, **k:
                        [sys.executable, str(worker), out_dir, cid])
    suite = suite_from_dict(scratch_dict())
    stream = open(tmp_path / 'progress.txt', 'w+')
    opts = ExecutorOptions('local', workers=2, threads=1, retries=2, poll_s=0.05)
    r = run_phase(suite, 'x', 'tuning', list(plan), list(plan), out, str(tmp_path / 'w'), opts, stream=stream)
    stream.seek(0)
    text = stream.read()
    assert sorted(r['finished']) == ['a', 'b', 'e']
    assert sorted(r['failed']) == ['c', 'd']  # c: 3 attempts; d: bad input is not retried
    assert r['attempts'] == {'a': 1, 'b': 3, 'c': 3, 'd': 1, 'e': 2}
    assert '3 attempt(s), none finished' in r['failed']['c'] and 'exit status 1' in r['failed']['c']
    assert 'killed by signal 9' in text and 'c: FAILED after 3 attempt(s)' in text
    assert '5/5 done' not in text and '3/5 done | 0 running | 0 left | 2 failed' in text
    for cid in ('b', 'c'):  # every attempt has its own log under the work root
        assert sorted(os.listdir(tmp_path / 'w' / 'tiny_scale' / '_logs' / cid)) == \
            ['attempt-1.log', 'attempt-2.log', 'attempt-3.log']


# ----------------------------------------------------------------------------- training: local workers

def _core(r: dict) -> dict:
    """What a cell measured, without what differs between two runs of the same computation
    (times, memory of the process, date, environment)."""
    drop = {'wall_s', 'env', 'date'}
    out = {k: v for k, v in r.items() if k not in drop}
    out['cost'] = {k: v for k, v in r['cost'].items() if k in ('iters', 'max_iters', 'optimizer_state_mb')}
    return out


@pytest.fixture(scope='module')
def sequential_reference(fake_data_root, tmp_path_factory):
    """The tiny scratch suite, both phases, run the sequential way with 1 torch thread."""
    import io

    import torch

    from dualopt_mm.benchmark.driver import run_suite
    root = tmp_path_factory.mktemp('seq')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(fake_data_root)
            results = run_suite(suite_from_dict(scratch_dict()), str(root / 'out'), str(root / 'w'),
                                stream=io.StringIO())
    finally:
        torch.set_num_threads(threads)
    return results


def _driver(args, cwd, log, env_extra=None):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([REPO_ROOT] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env.update(env_extra or {})
    return subprocess.Popen([sys.executable, '-m', 'dualopt_mm.benchmark', *args], cwd=cwd, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _finishing_lines(log_root: str) -> dict:
    """cell id -> how many attempts of it trained to the end (the line run-cell prints then)."""
    count = {}
    for cid in os.listdir(log_root):
        for name in os.listdir(osp.join(log_root, cid)):
            text = open(osp.join(log_root, cid, name), errors='replace').read()
            count[cid] = count.get(cid, 0) + text.count(f'{cid}: val ') + text.count(f'{cid}: test ') \
                + text.count(f'{cid}: DIVERGED')
    return count


@pytest.mark.openmmlab
@pytest.mark.slow
def test_two_local_workers_give_the_sequential_results_bit_for_bit(sequential_reference, fake_data_root, tmp_path):
    suite_file = write_suite_file(tmp_path / 'tiny_scale.py', scratch_dict())
    out, work = str(tmp_path / 'out'), str(tmp_path / 'w')
    with open(tmp_path / 'driver.log', 'w') as log, _cleanup(out) as started:
        p = started(_driver([suite_file, '--out', out, '--work-root', work, '--executor', 'local', '--workers', '2',
                             '--threads', '1'], fake_data_root, log))
        rc = p.wait(timeout=1800)
    text = open(tmp_path / 'driver.log').read()
    assert rc == 0, text[-3000:]
    from dualopt_mm.benchmark.driver import load_results
    res = load_results(out)
    assert sorted(res) == sorted(sequential_reference)
    for cid, ref in sequential_reference.items():
        assert _core(res[cid]) == _core(ref), cid
        assert res[cid]['env']['threads'] == 1
    m = read_manifest(out)
    assert set(m['phases']) == {'tuning', 'reporting'}
    assert set(m['phases']['reporting']['cells']) == {c for c in res if '__tuned__' in c}
    assert '[tuning] 4/4 done | 0 running | 0 left | 0 failed' in text
    assert '[reporting] 4/4 done' in text and 'FAILED' not in text
    assert 'tuning: 4 cell process(es); start-up per process' in text
    assert set(_finishing_lines(osp.join(work, 'tiny_scale', '_logs')).values()) == {1}
    assert not os.listdir(osp.join(out, 'locks'))


def _wait_for(predicate, timeout, what):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = predicate()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f'timed out after {timeout} s waiting for {what}')


def _locks(out):
    folder = osp.join(out, 'locks')
    found = {}
    for name in os.listdir(folder) if osp.isdir(folder) else []:
        if name.endswith('.lock'):
            owner = CellLock.read(osp.join(folder, name))
            if owner and not owner.get('partial'):
                found[name[:-5]] = owner
    return found


@pytest.mark.openmmlab
@pytest.mark.slow
def test_a_worker_killed_with_sigkill_is_retried_and_each_cell_finishes_once(fake_data_root, tmp_path):
    suite_file = write_suite_file(tmp_path / 'tiny_scale.py', scratch_dict())
    out, work = str(tmp_path / 'out'), str(tmp_path / 'w')
    with open(tmp_path / 'driver.log', 'w') as log, _cleanup(out) as started:
        p = started(_driver([suite_file, '--phase', 'tuning', '--out', out, '--work-root', work, '--executor',
                             'local', '--workers', '2', '--threads', '1'], fake_data_root, log))
        victim_cell, owner = sorted(_wait_for(lambda: _locks(out), 600, 'a worker to claim a cell').items())[0]
        os.kill(owner['pid'], signal.SIGKILL)
        rc = p.wait(timeout=1800)
    text = open(tmp_path / 'driver.log').read()
    assert rc == 0, text[-3000:]
    assert f'{victim_cell}: attempt 1 ended without a result (killed by signal 9' in text
    from dualopt_mm.benchmark.driver import load_results
    assert sorted(load_results(out)) == sorted(c.id for c in tuning_cells(suite_from_dict(scratch_dict())))
    logs = osp.join(work, 'tiny_scale', '_logs')
    assert sorted(os.listdir(osp.join(logs, victim_cell))) == ['attempt-1.log', 'attempt-2.log']
    assert set(_finishing_lines(logs).values()) == {1}
    assert not os.listdir(osp.join(out, 'locks')) and not osp.exists(osp.join(out, 'replaced'))


@pytest.mark.openmmlab
@pytest.mark.slow
def test_a_driver_restarted_while_its_workers_run_loses_no_cell_and_runs_none_twice(fake_data_root, tmp_path):
    suite_file = write_suite_file(tmp_path / 'tiny_scale.py', scratch_dict())
    out, work = str(tmp_path / 'out'), str(tmp_path / 'w')
    args = [suite_file, '--phase', 'tuning', '--out', out, '--work-root', work, '--executor', 'local',
            '--workers', '2', '--threads', '1']
    with open(tmp_path / 'driver1.log', 'w') as log, _cleanup(out) as started:
        first = started(_driver(args, fake_data_root, log))
        running = _wait_for(lambda: len(_locks(out)) == 2 and _locks(out), 600, 'two workers to claim cells')
        os.kill(first.pid, signal.SIGKILL)  # the driver only: its workers run on (own sessions)
        first.wait()
    # the orphaned workers are paused until the second driver has looked (cells on the fake data
    # take seconds: without the pause they could finish before it starts)
    for owner in running.values():
        os.kill(owner['pid'], signal.SIGSTOP)
    try:
        with open(tmp_path / 'driver2.log', 'w') as log, _cleanup(out) as started:
            second = started(_driver(args, fake_data_root, log))
            _wait_for(lambda: all(f'{cid}: claimed by another process; waiting for its result'
                                  in open(tmp_path / 'driver2.log').read() for cid in running), 600,
                      'the second driver to find the cells claimed')
            for owner in running.values():
                os.kill(owner['pid'], signal.SIGCONT)
            rc = second.wait(timeout=1800)
    finally:
        for owner in running.values():
            try:
                os.kill(owner['pid'], signal.SIGCONT)
            except ProcessLookupError:
                pass
    text = open(tmp_path / 'driver2.log').read()
    assert rc == 0, text[-3000:]
    for cid in running:
        assert f'{cid}: val' in text  # the second driver reports the orphans' results when they land
    from dualopt_mm.benchmark.driver import load_results
    assert sorted(load_results(out)) == sorted(c.id for c in tuning_cells(suite_from_dict(scratch_dict())))
    assert set(_finishing_lines(osp.join(work, 'tiny_scale', '_logs')).values()) == {1}
    for cid in running:  # the cells the first driver's workers trained were never dispatched again
        assert os.listdir(osp.join(work, 'tiny_scale', '_logs', cid)) == ['attempt-1.log']
    assert not os.listdir(osp.join(out, 'locks'))


# ----------------------------------------------------------------------------- training: a real Slurm cluster

@contextlib.contextmanager
def _cleanup(out, slurm_name=None):
    """A failed test must not leave its driver, workers or Slurm jobs behind: ``started(proc)``
    registers the driver; on the way out whatever still runs is ended (by pid, by job id, by the
    Slurm job name)."""
    procs = []
    try:
        yield lambda p: procs.append(p) or p
    except BaseException:
        _end(procs, out, slurm_name)
        raise
    finally:
        for p in procs:  # a driver SIGKILLed on purpose is reaped here
            if p.poll() is None:
                p.kill()
                p.wait()


def _end(procs, out, slurm_name):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    for owner in _locks(out).values():
        if owner.get('slurm_job'):
            subprocess.run(['scancel', owner['slurm_job']])
        elif owner.get('host') == socket.gethostname():
            try:
                os.kill(owner['pid'], signal.SIGKILL)
            except ProcessLookupError:
                pass
    if slurm_name:
        subprocess.run(['scancel', f'--name={slurm_name}'])


@pytest.fixture(scope='module')
def slurm_cluster():
    """A single-node Slurm started by the project's own script (skip only where it says the
    machine cannot run one; any other failure fails the test)."""
    pytest.importorskip('submitit', reason='submitit is in requirements/tests.txt: the environment lacks it')
    r = subprocess.run(['bash', osp.join(REPO_ROOT, 'tools', 'setup_slurm.sh')], capture_output=True, text=True,
                       timeout=900)
    if r.returncode == 77:
        print(r.stderr)
        pytest.skip(f'tools/setup_slurm.sh: {r.stderr.strip()}')
    assert r.returncode == 0, f'tools/setup_slurm.sh failed:\n{r.stdout}\n{r.stderr}'
    return r.stdout


@pytest.mark.openmmlab
@pytest.mark.slow
def test_slurm_job_arrays_requeue_a_preempted_cell_and_resubmit_a_killed_one(
        slurm_cluster, sequential_reference, fake_data_root, tmp_path):
    suite_file = write_suite_file(tmp_path / 'tiny_scale.py', scratch_dict())
    out, work = str(tmp_path / 'out'), str(tmp_path / 'w')
    with open(tmp_path / 'driver.log', 'w') as log, _cleanup(out, 'bench-tiny_scale') as started:
        p = started(_driver([suite_file, '--out', out, '--work-root', work, '--executor', 'slurm', '--threads', '1',
                             '--slurm-cpus-per-task', '1', '--slurm-time-min', '30', '--retries', '1'],
                            fake_data_root, log))
        # the job that claims a cell first is preempted: submitit's signal makes it requeue itself.
        # Its process is paused first (one node: the pid is on this host), so the signal finds it
        # mid-cell however fast the cell is, and handled when it resumes.
        first = _wait_for(lambda: _locks(out), 900, 'a Slurm job to claim a cell')
        pre_cell, pre_owner = sorted(first.items())[0]
        os.kill(pre_owner['pid'], signal.SIGSTOP)
        subprocess.run(['scancel', '--signal=USR2', pre_owner['slurm_job']])
        os.kill(pre_owner['pid'], signal.SIGCONT)
        # ... and another job's process is killed outright (SIGKILL, as the OOM killer would; scancel
        # sends SIGTERM first, which submitit ignores, and a cell of the fake data can finish
        # within KillWait): the job fails without a result, the driver resubmits that cell alone
        other = _wait_for(lambda: {c: o for c, o in _locks(out).items() if c != pre_cell}, 900,
                          'a second Slurm job to claim a cell')
        kill_cell, kill_owner = sorted(other.items())[0]
        os.kill(kill_owner['pid'], signal.SIGKILL)
        rc = p.wait(timeout=2400)
    text = open(tmp_path / 'driver.log').read()
    assert rc == 0, text[-4000:]
    from dualopt_mm.benchmark.driver import load_results
    res = load_results(out)
    assert sorted(res) == sorted(sequential_reference)
    for cid, ref in sequential_reference.items():
        assert _core(res[cid]) == _core(ref), cid
    assert f'{kill_cell}: attempt 1 ended without a result (Slurm job {kill_owner["slurm_job"]} left the queue' in text
    assert f'{kill_cell}: attempt 2 started (Slurm job' in text
    assert text.count('attempt 2 started') == 1  # only the killed cell was resubmitted
    # the preempted job was requeued by submitit under its own id and trained its cell again
    slurm_dir = osp.join(work, 'tiny_scale', '_slurm')
    job = pre_owner['slurm_job']
    log = open(osp.join(slurm_dir, f'{job}_0_log.err')).read() + open(osp.join(slurm_dir, f'{job}_0_log.out')).read()
    assert 'Requeued job' in log and log.count(f'{pre_cell}: val ') == 1
    assert set(_finishing_lines(osp.join(work, 'tiny_scale', '_logs')).values()) == {1}
    assert not os.listdir(osp.join(out, 'locks'))
