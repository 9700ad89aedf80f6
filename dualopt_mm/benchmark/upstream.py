"""The upstream checkpoint every fine-tuning cell starts from: trained once (CPU suites: on the
upstream synthetic world, with a progress line like a cell's) and scored once on the upstream val
split, as it is and after BatchNorm re-estimation: the references forgetting is measured
against."""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import os.path as osp
import shutil

from .suite import Suite

__all__ = ['pretrain_upstream', 'ensure_upstream', 'ensure_upstream_checkpoint', 'reference_accuracy',
           'checkpoint_fingerprint', 'UPSTREAM_CONFIG', 'UPSTREAM_CKPT']

UPSTREAM_CONFIG = 'classification/resnet18_upstream.py'
UPSTREAM_CKPT = osp.join('checkpoints', 'upstream_resnet18.pth')


def pretrain_upstream(target: str = UPSTREAM_CKPT, work_dir: str = osp.join('work_dirs', 'upstream'),
                      seed: int = 0, force: bool = False, configs_root: str | None = None,
                      quiet: bool = False, progress=None) -> str:
    """Train ``configs/classification/resnet18_upstream.py`` and copy its last checkpoint to
    ``target`` (skipped when ``target`` exists, unless ``force``); ``quiet``: warnings only on the
    console (the full log is in ``work_dir``); ``progress(it, max_iters)`` is called every
    iteration."""
    if osp.exists(target) and not force:
        return target
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    from ..engine.config import isolate_run, load_config
    from .cell import CONFIGS
    cfg = isolate_run(load_config(osp.join(configs_root or CONFIGS, UPSTREAM_CONFIG), work_dir=work_dir))
    cfg.randomness = dict(seed=seed, deterministic=False)
    if quiet:
        cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    if progress is not None:
        class _Progress(Hook):
            priority = 'VERY_LOW'

            def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
                progress(runner.iter + 1, runner.max_iters)
        runner.register_hook(_Progress())
    runner.train()
    last = osp.join(work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')
    os.makedirs(osp.dirname(target) or '.', exist_ok=True)
    shutil.copyfile(last, target)
    return target


def ensure_upstream_checkpoint(ckpt: str, progress=None) -> None:
    """Pre-train the project's upstream ResNet-18 into ``ckpt`` if it is missing."""
    if '://' in ckpt or osp.exists(ckpt):
        return
    if progress is not None:
        progress.message(f'{ckpt} missing: pre-training the upstream ResNet-18 once ({UPSTREAM_CONFIG}, '
                         '525 iterations: ~10-15 min on 2 CPU cores)')
        progress.start_cell(0, 'upstream pre-training', 0.0)
    pretrain_upstream(ckpt, quiet=True, progress=progress)
    if progress is not None:
        progress.message(f'{ckpt}: written')


def ensure_upstream(suite: Suite, progress=None) -> None:
    config, ckpt = suite.upstream
    if '://' not in ckpt and not osp.exists(ckpt) and config != UPSTREAM_CONFIG:
        raise FileNotFoundError(f'suite {suite.name!r}: upstream checkpoint {ckpt} does not exist')
    ensure_upstream_checkpoint(ckpt, progress)


def checkpoint_fingerprint(ckpt: str) -> str:
    """``sha256:<16 hex>`` of the checkpoint file (a URL stands for itself). Fine-tuning cells
    and ``tuning.json`` record it: results fine-tuned from different weights are never mixed."""
    if '://' in ckpt:
        return ckpt
    h = hashlib.sha256()
    with open(ckpt, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return 'sha256:' + h.hexdigest()[:16]


def reference_accuracy(suite: Suite, out_dir: str, configs_root: str | None = None) -> dict:
    """The pre-trained classifier's top-1 on the upstream val split, as it is (``raw``) and after
    BatchNorm re-estimation (``bn``), cached in ``upstream.json`` next to the results
    (recomputed if the checkpoint or the val split changed)."""
    from .cell import CONFIGS, upstream_accuracy
    config, ckpt = suite.upstream
    path = osp.join(out_dir, 'upstream.json')
    fp = checkpoint_fingerprint(ckpt)
    if osp.exists(path):
        with open(path) as f:
            rec = json.load(f)
        if rec.get('checkpoint_fingerprint') == fp and 'top1_bn' in rec:
            return {'raw': rec['top1'], 'bn': rec['top1_bn']}
    root = configs_root or CONFIGS
    top1 = upstream_accuracy(suite, None, root)
    top1_bn = upstream_accuracy(suite, None, root, bn_reestimate=True)
    os.makedirs(out_dir, exist_ok=True)
    with open(path, 'w') as f:
        json.dump({'config': config, 'checkpoint': ckpt, 'checkpoint_fingerprint': fp, 'top1': top1,
                   'top1_bn': top1_bn, 'date': datetime.date.today().isoformat()}, f, indent=1)
    return {'raw': top1, 'bn': top1_bn}
