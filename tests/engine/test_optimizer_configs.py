"""The per-optimizer leaf configs: generated from the bases, every one builds, CPU-scale ones train."""
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
    assert len(CPU) == 36 and len(FULL) == 32


def _load(name):
    import dualopt_mm  # noqa: F401
    from mmengine.config import Config
    return Config.fromfile(config_path(name))


def _method_base(name):
    return name.rsplit('_', 1)[1][:-3].replace('-', '_')


@pytest.mark.parametrize('name', CPU)
def test_cpu_leaf_trains(name, in_fake_data, tmp_path):
    from mmengine.runner import Runner

    from dualopt_mm.testing import shorten_schedule
    cfg = shorten_schedule(_load(name), iters=1, batch_size=2)
    cfg.train_cfg.val_interval = 100
    cfg.work_dir = str(tmp_path)
    optimizer = cfg.optim_wrapper.optimizer.type
    fine_tune = 'scratch' not in name
    if fine_tune:  # the leaf points the backbone at the upstream checkpoint
        assert cfg.model.backbone.init_cfg.checkpoint == 'checkpoints/upstream_resnet18.pth'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    opt = runner.optim_wrapper.optimizer
    assert type(opt).__name__ == optimizer
    groups = opt.param_groups
    assert any(g['pretrained'] for g in groups) and any(not g['pretrained'] for g in groups)


@pytest.mark.parametrize('name', FULL)
def test_full_scale_leaf_builds(name, in_fake_data, tmp_path):
    """Model and optimizer (constructor, groups, depth tracing) build; no data, no download."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from dualopt_mm.testing import _strip_pretrained
    cfg = _load(name)
    _strip_pretrained(cfg.model)
    cfg.work_dir = str(tmp_path)
    init_default_scope(cfg.default_scope)
    runner = Runner.from_cfg(cfg)
    wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    assert type(wrapper.optimizer).__name__ == cfg.optim_wrapper.optimizer.type
    assert len(wrapper.optimizer.param_groups) < 40  # merged, not one group per tensor
