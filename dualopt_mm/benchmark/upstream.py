"""The upstream checkpoint every fine-tuning cell starts from: trained once (CPU suites: on the
upstream synthetic world) and scored once on the upstream val split, the reference forgetting is
measured against."""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import os.path as osp
import shutil

from .suite import Suite

__all__ = ['pretrain_upstream', 'ensure_upstream', 'reference_accuracy', 'UPSTREAM_CONFIG', 'UPSTREAM_CKPT']

UPSTREAM_CONFIG = 'classification/resnet18_upstream.py'
UPSTREAM_CKPT = osp.join('checkpoints', 'upstream_resnet18.pth')


def pretrain_upstream(target: str = UPSTREAM_CKPT, work_dir: str = osp.join('work_dirs', 'upstream'),
                      seed: int = 0, force: bool = False, configs_root: str | None = None,
                      quiet: bool = False) -> str:
    """Train ``configs/classification/resnet18_upstream.py`` and copy its last checkpoint to
    ``target`` (skipped when ``target`` exists, unless ``force``); ``quiet``: warnings only on the
    console (the full log is in ``work_dir``)."""
    if osp.exists(target) and not force:
        return target
    from mmengine.runner import Runner

    from ..engine.config import isolate_run, load_config
    from .cell import CONFIGS
    cfg = isolate_run(load_config(osp.join(configs_root or CONFIGS, UPSTREAM_CONFIG), work_dir=work_dir))
    cfg.randomness = dict(seed=seed, deterministic=False)
    if quiet:
        cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    last = osp.join(work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')
    os.makedirs(osp.dirname(target) or '.', exist_ok=True)
    shutil.copyfile(last, target)
    return target


def ensure_upstream(suite: Suite, progress=None) -> None:
    config, ckpt = suite.upstream
    if '://' in ckpt or osp.exists(ckpt):
        return
    if config != UPSTREAM_CONFIG:
        raise FileNotFoundError(f'suite {suite.name!r}: upstream checkpoint {ckpt} does not exist')
    if progress is not None:
        progress.message(f'{ckpt} missing: pre-training the upstream ResNet-18 once ({config}, '
                         '~3 min on 2 CPU cores)')
    pretrain_upstream(ckpt, quiet=True)
    if progress is not None:
        progress.message(f'{ckpt}: written')


def _fingerprint(ckpt: str) -> str:
    if '://' in ckpt:
        return ckpt
    h = hashlib.sha256()
    with open(ckpt, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return 'sha256:' + h.hexdigest()[:16]


def reference_accuracy(suite: Suite, out_dir: str, configs_root: str | None = None) -> float:
    """The pre-trained classifier's top-1 on the upstream val split, cached in ``upstream.json``
    next to the results (recomputed if the checkpoint changed)."""
    from .cell import CONFIGS, upstream_accuracy
    config, ckpt = suite.upstream
    path = osp.join(out_dir, 'upstream.json')
    fp = _fingerprint(ckpt)
    if osp.exists(path):
        with open(path) as f:
            rec = json.load(f)
        if rec.get('checkpoint_fingerprint') == fp:
            return rec['top1']
    top1 = upstream_accuracy(suite, None, configs_root or CONFIGS)
    with open(path, 'w') as f:
        json.dump({'config': config, 'checkpoint': ckpt, 'checkpoint_fingerprint': fp, 'top1': top1,
                   'date': datetime.date.today().isoformat()}, f, indent=1)
    return top1
