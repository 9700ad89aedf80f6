"""Anchors, resume and monitoring under a real mmengine Runner (CPU classification config)."""
import glob
import json
import os.path as osp

import pytest
import torch

from dualopt_mm.testing import config_path

pytestmark = pytest.mark.openmmlab  # an mmpretrain config under a Runner


def _cfg(work_dir, optimizer, epochs=1, **extra):
    import dualopt_mm  # noqa: F401
    from mmengine.config import Config

    from dualopt_mm.testing import shorten_schedule
    cfg = shorten_schedule(Config.fromfile(config_path('classification', 'resnet18_shapes.py')),
                           iters=2, batch_size=4)
    cfg.train_cfg.update(max_epochs=epochs, val_interval=100)
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=3)
    cfg.default_hooks.logger.update(interval=1)
    cfg.randomness = dict(seed=3, deterministic=False)
    cfg.train_dataloader.dataset.pipeline = cfg.test_pipeline  # no global-RNG augmentation
    cfg.optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer,
                             constructor='LayerwiseOptimWrapperConstructor',
                             paramwise_cfg=dict(trace_input_size=(1, 3, 64, 64)))
    cfg.custom_hooks = [dict(type='AnchorHook'), dict(type='OptimizerStatsHook', interval=1)]
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=4, T_max=4,
                                eta_min_ratio=0.1)]
    cfg.work_dir = str(work_dir)
    cfg.merge_from_dict(extra)
    return cfg


@pytest.fixture
def pretrained_ckpt(in_fake_data, tmp_path):
    """A 'pre-trained' classifier checkpoint whose weights differ from any fresh initialisation."""
    import dualopt_mm  # noqa: F401
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.config import Config
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(config_path('classification', 'resnet18_shapes.py'))
    torch.manual_seed(1234)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    path = str(tmp_path / 'pretrained.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path, model.state_dict()


def _anchors_by_name(runner):
    opt = runner.optim_wrapper.optimizer
    return {n: opt.state[p]['anchor'] for g in opt.param_groups for n, p in zip(g['param_names'], g['params'])
            if 'anchor' in opt.state.get(p, {})}


def _log_text(work_dir):
    return '\n'.join(open(f).read() for f in glob.glob(osp.join(work_dir, '*', '*.log')))


SGD = dict(type='DualOptSGD', lr=0.05, momentum=0.9, rollback=0.2)


@pytest.mark.parametrize('how', ['init_cfg', 'load_from'])
def test_anchor_equals_checkpoint(how, pretrained_ckpt, tmp_path):
    from mmengine.runner import Runner
    path, weights = pretrained_ckpt
    if how == 'init_cfg':
        cfg = _cfg(tmp_path / how, SGD)
        cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=path, prefix='backbone.')
    else:
        cfg = _cfg(tmp_path / how, SGD, load_from=path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    anchors = _anchors_by_name(runner)
    backbone = [n for n in weights if n.startswith('backbone.') and 'num_batches' not in n
                and 'running' not in n]
    assert set(anchors) == set(backbone)  # the head is new: never anchored
    for n in backbone:
        assert torch.equal(anchors[n], weights[n].float()), n
    log = _log_text(str(tmp_path / how))
    assert 'AnchorHook: DualOptSGD: %d tensors anchored' % len(backbone) in log
    assert 'random initialisation' not in log


def test_warns_without_pretrained_weights(in_fake_data, tmp_path):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(_cfg(tmp_path / 'w', SGD))
    runner.train()
    assert 'the anchors are the random initialisation' in _log_text(str(tmp_path / 'w'))


@pytest.mark.parametrize('optimizer', [
    SGD,
    dict(type='SPDAdamW', lr=2e-3, weight_decay=0.01, projection_decay=1.0),
    dict(type='RandomScaledSGD', lr=0.05, momentum=0.9, seed=5),
], ids=lambda o: o['type'])
def test_resume_is_bit_identical(optimizer, pretrained_ckpt, tmp_path):
    from mmengine.runner import Runner
    path, weights = pretrained_ckpt
    straight = Runner.from_cfg(_cfg(tmp_path / 'straight', optimizer, epochs=2, load_from=path))
    straight.train()
    Runner.from_cfg(_cfg(tmp_path / 'cut', optimizer, epochs=1, load_from=path)).train()
    ckpt = torch.load(tmp_path / 'cut' / 'epoch_1.pth', weights_only=False)
    has_anchor = any('anchor' in s for s in ckpt['optimizer']['state'].values())
    assert has_anchor == (optimizer['type'] != 'RandomScaledSGD')
    resumed = Runner.from_cfg(_cfg(tmp_path / 'cut', optimizer, epochs=2, resume=True))
    resumed.train()
    assert resumed.iter == straight.iter == 4
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    for n, anchor in _anchors_by_name(resumed).items():  # restored, never re-captured
        assert torch.equal(anchor, weights[n].float()), n
    if optimizer['type'] == 'RandomScaledSGD':
        assert straight.optim_wrapper.optimizer.last_scale == resumed.optim_wrapper.optimizer.last_scale


def test_warns_when_resumed_checkpoint_has_no_anchors(pretrained_ckpt, tmp_path):
    from mmengine.runner import Runner
    path, _ = pretrained_ckpt
    Runner.from_cfg(_cfg(tmp_path / 'r', SGD, epochs=1, load_from=path)).train()
    ckpt_path = tmp_path / 'r' / 'epoch_1.pth'
    ckpt = torch.load(ckpt_path, weights_only=False)
    for s in ckpt['optimizer']['state'].values():
        s.pop('anchor', None)
    torch.save(ckpt, ckpt_path)
    Runner.from_cfg(_cfg(tmp_path / 'r', SGD, epochs=2, resume=True)).train()
    assert 'holds no anchors' in _log_text(str(tmp_path / 'r'))


def test_stats_hook_keys_reach_the_json_log(pretrained_ckpt, tmp_path):
    from mmengine.runner import Runner
    path, _ = pretrained_ckpt
    for opt, keys in [(SGD, ['anchor_dist/d0', 'anchor_dist/d3', 'rollback_lambda']),
                      (dict(type='SPDSGD', lr=0.05), ['spd_gate_open']),
                      (dict(type='RandomScaledSGD', lr=0.05), ['random_scale']),
                      (dict(type='HybridSGD', lr=0.05, gamma=0.5), ['hybrid_gamma'])]:
        work = tmp_path / opt['type']
        Runner.from_cfg(_cfg(work, opt, load_from=path)).train()
        lines = [json.loads(x) for f in glob.glob(str(work / '*' / 'vis_data' / 'scalars.json'))
                 for x in open(f)]
        logged = set().union(*[set(x) for x in lines])
        for k in keys:
            assert k in logged, (opt['type'], k, sorted(logged))
        if opt is SGD:
            last = [x for x in lines if 'anchor_dist/d0' in x][-1]
            assert 0 < last['anchor_dist/d0'] < 1
            # cosine schedule: lambda follows lr / initial_lr
            assert 0 < last['rollback_lambda'] <= 0.2


def test_warns_when_groups_do_not_say_what_is_pretrained(pretrained_ckpt, tmp_path):
    """Only optimizer.type changed to an anchored optimizer (mmengine's default constructor): the
    new head is anchored to its random initialisation; the run says so."""
    from mmengine.runner import Runner
    path, _ = pretrained_ckpt
    cfg = _cfg(tmp_path / 'plain', SGD, load_from=path)
    cfg.optim_wrapper = dict(type='OptimWrapper', optimizer=SGD)
    Runner.from_cfg(cfg).train()
    assert 'the randomly initialised neck and head included' in _log_text(str(tmp_path / 'plain'))
    cfg = _cfg(tmp_path / 'layerwise', SGD, load_from=path)
    Runner.from_cfg(cfg).train()
    assert 'randomly initialised neck and head' not in _log_text(str(tmp_path / 'layerwise'))
