"""The per-optimizer leaf configs: generated from the bases, every one builds, CPU-scale ones train."""
import os.path as osp
import subprocess
import sys

import pytest

from dualopt_mm.testing import REPO_ROOT, config_path, list_configs

CPU = list_configs('cpu', optimizers=True)
FULL = list_configs('full', optimizers=True)


def test_leaves_are_generated_and_up_to_date():
    out = subprocess.run([sys.executable, 'tools/make_optimizer_configs.py', '--check'], cwd=REPO_ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    # exactly the leaves the suites use, no count kept by hand
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools'))
    import make_optimizer_configs
    assert sorted(CPU + FULL) == sorted(osp.relpath(p, 'configs') for p in make_optimizer_configs.all_leaves())


def _load(name):
    import dualopt_mm  # noqa: F401
    from mmengine.config import Config
    return Config.fromfile(config_path(name))


def _method_base(name):
    return name.rsplit('_', 1)[1][:-3].replace('-', '_')


_BATCHES = {}


def _batch(cfg, task):
    """One training batch of the task's data (cached: leaves of one task share it)."""
    from mmengine.runner import Runner
    if task not in _BATCHES:
        cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
        cfg.train_dataloader.pop('batch_sampler', None)
        _BATCHES[task] = next(iter(Runner.build_dataloader(cfg.train_dataloader, seed=0)))
    return _BATCHES[task]


@pytest.mark.openmmlab
@pytest.mark.parametrize('name', CPU)
def test_cpu_leaf_trains(name, in_fake_data):
    """Build the leaf's model (loading the upstream checkpoint for fine-tuning leaves) and its
    optim wrapper exactly as the Runner does, and take two real training steps on task data.
    (Full Runner runs of the leaves' optimizers: test_runner_integration.py.)"""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS, init_default_scope
    cfg = _load(name)
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    model.init_weights()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    opt = wrapper.optimizer
    assert type(opt).__name__ == cfg.optim_wrapper.optimizer.type
    assert any(g['pretrained'] for g in opt.param_groups) and any(not g['pretrained'] for g in opt.param_groups)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    batch = _batch(cfg, name.split('/')[0] + name.split('/')[-1].split('_shapes')[0])
    model.train()
    for _ in range(2):
        losses = model.train_step(batch, wrapper)
        assert all(torch.isfinite(v).all() for v in losses.values())
    moved = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert len(moved) > len(before) // 2
    if 'scratch' not in name:
        ckpt = torch.load('checkpoints/upstream_resnet18.pth', weights_only=False)['state_dict']
        assert torch.equal(before['backbone.layer1.0.conv1.weight'], ckpt['backbone.layer1.0.conv1.weight'])
        if hasattr(opt, 'capture_anchors') and opt._uses_anchors:
            p = model.backbone.layer1[0].conv1.weight
            assert torch.equal(opt.state[p]['anchor'], ckpt['backbone.layer1.0.conv1.weight'])


@pytest.mark.openmmlab
@pytest.mark.parametrize('name', FULL)
def test_full_scale_leaf_builds(name):
    """Model and optim wrapper (constructor, groups, depth tracing) build as the Runner builds
    them; no data, no download."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS, init_default_scope

    from dualopt_mm.testing import _strip_pretrained
    cfg = _load(name)
    _strip_pretrained(cfg.model)
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper.optimizer).__name__ == cfg.optim_wrapper.optimizer.type
    groups = wrapper.optimizer.param_groups
    assert len(groups) < 40  # merged, not one group per tensor
    assert any(g['pretrained'] for g in groups)
