"""Data-parallel training equals one process with the same global batch.

Two CPU processes (gloo, file rendezvous, forked workers), the model wrapped in mmengine's
``MMDistributedDataParallel`` and the optim wrapper built on the wrapped model (as the Runner
does), each rank given half of every global batch, run a few ``train_step`` calls; the final
weights must equal those of one process that sees the whole batch. The runs (all in float64, the
model BatchNorm-free, so the only difference is the order of the summations):

* ``dualopt``: ``DualOptSGD`` (fine-tuning, rollback toward anchors captured at the first step)
  through ``LayerwiseOptimWrapperConstructor`` (pre-trained backbone vs new heads, layer depth),
  with a per-iteration ``LinearLR`` schedule (the rollback follows eta_t / eta_0);
* ``osgd``: ``OSGDOptimWrapper`` (two tasks, SGD momentum) on a two-loss model; under DDP it
  averages each task gradient over the ranks before projecting;
* ``random_scaled``: ``RandomScaledSGD`` with the default seed (``torch.initial_seed()``): every
  rank must draw the same s_t, and the same as the single process.

This file is also the script the test launches: ``python test_distributed.py OUT_DIR``.
"""
from __future__ import annotations

import copy
import os
import os.path as osp
import signal
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

GLOBAL_BATCH = 8
WORLD = 2
STEPS = 3
RUNS = ('dualopt', 'osgd', 'random_scaled')


def _build_model():
    from mmengine.model import BaseModel

    class TwoExitNet(BaseModel):
        """Tiny conv net, GroupNorm only; two exits, forward(mode='loss') returns two losses."""

        def __init__(self):
            super().__init__()
            # two blocks: layer depths 0 and 1/2 for the constructor, the heads new (depth 1)
            self.backbone = nn.Sequential(
                nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.ReLU()),
                nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, stride=2), nn.GroupNorm(2, 8),
                              nn.ReLU()))
            self.aux_head = nn.Linear(8, 3)
            self.head = nn.Linear(8, 3)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            h1 = self.backbone[0](inputs)
            h2 = self.backbone[1](h1)
            aux = self.aux_head(h1.mean((2, 3)))
            main = self.head(h2.mean((2, 3)))
            if mode == 'loss':
                return {'loss_aux': F.cross_entropy(aux, data_samples),
                        'loss_main': F.cross_entropy(main, data_samples)}
            return main

    torch.manual_seed(0)
    return TwoExitNet().double()


def _global_batch(step: int) -> dict:
    g = torch.Generator().manual_seed(100 + step)
    return dict(inputs=torch.randn(GLOBAL_BATCH, 3, 8, 8, generator=g, dtype=torch.float64),
                data_samples=torch.randint(0, 3, (GLOBAL_BATCH, ), generator=g))


def _optim_cfg(run: str) -> dict:
    if run == 'dualopt':
        return dict(optimizer=dict(type='DualOptSGD', lr=0.1, momentum=0.9, weight_decay=1e-3,
                                   rollback=0.2, rollback_min=0.05),
                    constructor='LayerwiseOptimWrapperConstructor',
                    paramwise_cfg=dict(pretrained_prefixes=['backbone'], depth_mode='order'))
    if run == 'osgd':
        return dict(type='OSGDOptimWrapper', tasks=[['aux'], ['main']],
                    optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
    if run == 'random_scaled':
        return dict(optimizer=dict(type='RandomScaledSGD', lr=0.1, momentum=0.9))
    raise ValueError(run)


def train(run: str, rank: int = 0, world: int = 1) -> dict:
    """``STEPS`` train steps on this rank's share of each global batch; returns the result."""
    import dualopt_mm  # noqa: F401  (registers the optimizers, wrapper and constructor)
    from mmengine.model import MMDistributedDataParallel
    from mmengine.optim import LinearLR, build_optim_wrapper

    torch.manual_seed(0)  # the same global seed on every rank (RandomScaledSGD's default seed)
    model = _build_model()
    init = copy.deepcopy(model.state_dict())
    wrapped = MMDistributedDataParallel(module=model) if world > 1 else model
    ow = build_optim_wrapper(wrapped, _optim_cfg(run))
    sched = LinearLR(ow, start_factor=0.5, by_epoch=False, begin=0, end=STEPS) \
        if run == 'dualopt' else None
    per = GLOBAL_BATCH // world
    scales, losses = [], []
    for step in range(STEPS):
        batch = _global_batch(step)
        data = {k: v[rank * per:(rank + 1) * per] for k, v in batch.items()}
        log_vars = wrapped.train_step(data, ow)
        losses.append(float(log_vars['loss'].detach()))
        if sched is not None:
            sched.step()
        scales.append(getattr(ow.optimizer, 'last_scale', None))
    opt = ow.optimizer
    anchors = {n: opt.state[p]['anchor'].clone() for n, p in model.named_parameters()
               if 'anchor' in opt.state[p]}
    return dict(state={k: v.detach().clone() for k, v in model.state_dict().items()},
                init=init, anchors=anchors, scales=scales, losses=losses,
                lrs=[g['lr'] for g in opt.param_groups],
                groups=[(g.get('param_names'), g.get('layer_depth'), g.get('pretrained'))
                        for g in opt.param_groups])


# ------------------------------------------------------------------------------- the launcher
def _worker(rank: int, out: str) -> None:
    import datetime

    import torch.distributed as dist
    torch.set_num_threads(1)
    # a file rendezvous: no TCP port to race for with other test runs
    dist.init_process_group('gloo', init_method=f'file://{out}/rendezvous', rank=rank,
                            world_size=WORLD, timeout=datetime.timedelta(seconds=60))
    try:
        for run in RUNS:
            torch.save(train(run, rank, WORLD), osp.join(out, f'{run}_rank{rank}.pt'))
        dist.barrier()
    except BaseException:
        import traceback
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    # No teardown: destroying a gloo ProcessGroup (destroy_process_group, or dropping the last
    # DDP Reducer that references it) can deadlock while a gloo worker thread releases a
    # finished collective and waits for the GIL the destructor holds (seen with torch 2.13).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _launch(out: str) -> None:
    import torch.multiprocessing as mp
    import dualopt_mm  # noqa: F401  (imported once, inherited by the forked workers)
    import mmengine.model  # noqa: F401
    mp.start_processes(_worker, args=(out, ), nprocs=WORLD, start_method='fork')


# ---------------------------------------------------------------------------------- the test
def _run_workers(out: str, timeout: float = 180) -> None:
    import dualopt_mm
    root = osp.dirname(osp.dirname(osp.abspath(dualopt_mm.__file__)))  # the same package
    path = os.environ.get('PYTHONPATH')
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONPATH=root + (os.pathsep + path if path else ''))
    proc = subprocess.Popen([sys.executable, osp.abspath(__file__), out], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its forked workers
        log, _ = proc.communicate()
        raise AssertionError(f'2-process run did not finish in {timeout} s:\n'
                             f'{log.decode(errors="replace")[-4000:]}')
    assert proc.returncode == 0, \
        f'2-process run failed (rc {proc.returncode}):\n{log.decode(errors="replace")[-4000:]}'


def _close(a: dict, b: dict, what: str, rtol=1e-10, atol=1e-12) -> None:
    assert a.keys() == b.keys(), what
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=rtol, atol=atol, msg=f'{what}: {k}')


def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    torch.set_num_threads(1)
    _run_workers(str(tmp_path))
    for run in RUNS:
        ref = train(run)
        r0 = torch.load(tmp_path / f'{run}_rank0.pt')
        r1 = torch.load(tmp_path / f'{run}_rank1.pt')
        # same start; the run really moved the weights
        _close(r0['init'], ref['init'], f'{run} init', rtol=0, atol=0)
        assert any(not torch.allclose(ref['state'][k], ref['init'][k]) for k in ref['init'])
        # both ranks identical, and equal to one process on the whole batch
        _close(r1['state'], r0['state'], f'{run} rank1 vs rank0', rtol=0, atol=0)
        _close(r0['state'], ref['state'], f'{run} 2-proc vs 1-proc')
        # the logged loss is the mean of the per-rank losses
        torch.testing.assert_close(
            [(a + b) / 2 for a, b in zip(r0['losses'], r1['losses'])], ref['losses'],
            rtol=1e-10, atol=1e-12)
        assert r0['lrs'] == r1['lrs'] == ref['lrs']
        if run == 'dualopt':
            # the pre-trained / new split and the layer depths are real
            depth = {n: (d, pre) for names, d, pre in ref['groups'] for n in names}
            assert {k: v for k, v in depth.items() if k.endswith('weight')} == {
                'backbone.0.0.weight': (0.0, True), 'backbone.0.1.weight': (0.0, True),
                'backbone.1.0.weight': (0.5, True), 'backbone.1.1.weight': (0.5, True),
                'aux_head.weight': (1.0, False), 'head.weight': (1.0, False)}
            assert r0['groups'] == r1['groups'] == ref['groups']
            # anchors of the pre-trained backbone only, captured at the first step = init
            names = {k for k in ref['init'] if k.startswith('backbone.')}
            for res in (ref, r0, r1):
                assert set(res['anchors']) == names
                _close(res['anchors'], {k: ref['init'][k] for k in names}, f'{run} anchors',
                       rtol=0, atol=0)
        if run == 'random_scaled':
            assert None not in ref['scales'] and len(set(ref['scales'])) == STEPS
            assert r0['scales'] == r1['scales'] == ref['scales']


if __name__ == '__main__':
    _launch(sys.argv[1])
