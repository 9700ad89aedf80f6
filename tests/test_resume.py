"""The torch >= 2.6 resume fix: a run stopped after one epoch resumes and finishes identically."""
import pytest
import torch

from dualopt_mm.testing import config_path

pytestmark = pytest.mark.openmmlab  # an mmpretrain config under a Runner


def _cfg(work_dir, epochs):
    import dualopt_mm  # noqa: F401
    from mmengine.config import Config

    from dualopt_mm.testing import shorten_schedule
    cfg = shorten_schedule(Config.fromfile(config_path('classification', 'resnet18_shapes.py')),
                           iters=2, batch_size=4)
    cfg.train_cfg.update(max_epochs=epochs, val_interval=100)
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=3)
    cfg.randomness = dict(seed=7, deterministic=False)
    # augmentation draws from global RNGs that mmengine does not checkpoint; without it the data
    # order (seeded per epoch by DefaultSampler) is all that varies, so the runs must agree
    cfg.train_dataloader.dataset.pipeline = cfg.test_pipeline
    cfg.work_dir = work_dir
    return cfg


def test_train_stop_resume(in_fake_data, tmp_path):
    from mmengine.runner import Runner
    straight = Runner.from_cfg(_cfg(str(tmp_path / 'straight'), epochs=2))
    straight.train()

    first = Runner.from_cfg(_cfg(str(tmp_path / 'interrupted'), epochs=1))
    first.train()
    ckpt = torch.load(tmp_path / 'interrupted' / 'epoch_1.pth', weights_only=False)
    assert 'message_hub' in ckpt and 'optimizer' in ckpt

    cfg = _cfg(str(tmp_path / 'interrupted'), epochs=2)
    cfg.resume = True
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.iter == straight.iter == 4 and resumed.epoch == 2
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
