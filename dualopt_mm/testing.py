"""Helpers for tests and smoke runs: tiny data sets in the real on-disk layouts, short Runner runs.

The full-scale configs read ``data/coco``, ``data/ade/ADEChallengeData2016`` and
``data/imagenet`` relative to the working directory, and the CPU-scale ones read
``data/synthetic``; :func:`make_fake_datasets` writes all of them (a few images each) under a
folder, so a test that changes into that folder runs the configs unmodified apart from the
schedule length.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import shutil

from .datasets import ADE_SPLITS, COCO_SPLITS, SyntheticSpec, generate_world
from .datasets.synthetic import FAKE_MARKER
from .resources import configs_root

__all__ = ['REPO_ROOT', 'config_path', 'list_configs', 'make_fake_datasets',
           'shorten_schedule', 'run_cfg']

# the repository a clone's tests run in (in an installed wheel: the folder holding the package)
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _coco_classes():
    # Fake COCO files must name real COCO categories: CocoDataset keeps only annotations whose
    # category is in its class list. The synthetic classes become the first five.
    from mmdet.datasets import CocoDataset
    return CocoDataset.METAINFO['classes']


def make_fake_datasets(root: str, num_train: int = 8, num_val: int = 4, seed: int = 0) -> str:
    """Write tiny copies of every data set the configs read, under ``root/data``."""
    data = osp.join(root, 'data')
    synthetic = osp.join(data, 'synthetic')
    for world in ('downstream', 'upstream'):
        generate_world(synthetic, SyntheticSpec(world=world, seed=seed, num_train=num_train,
                                                num_val=num_val, num_val_ood=num_val,
                                                num_test=num_val, num_test_cls=num_val))
    with open(osp.join(synthetic, FAKE_MARKER), 'w') as f:
        f.write('tiny copy for tests: ensure_synthetic_data leaves this folder alone\n')
    src = osp.join(synthetic, 'downstream')

    coco = osp.join(data, 'coco')
    os.makedirs(osp.join(coco, 'annotations'), exist_ok=True)
    for split in ('train', 'val'):
        name = COCO_SPLITS[split]
        shutil.copytree(osp.join(src, 'coco', name), osp.join(coco, name), dirs_exist_ok=True)
        with open(osp.join(src, 'coco', 'annotations', f'instances_{name}.json')) as f:
            ann = json.load(f)
        # all 80 categories, so any label a COCO model predicts maps to a category id
        ann['categories'] = [{'id': i + 1, 'name': n, 'supercategory': 'object'}
                             for i, n in enumerate(_coco_classes())]
        with open(osp.join(coco, 'annotations', f'instances_{name}.json'), 'w') as f:
            json.dump(ann, f)

    ade = osp.join(data, 'ade', 'ADEChallengeData2016')
    for kind in ('images', 'annotations'):
        for split in ('train', 'val'):
            shutil.copytree(osp.join(src, 'ade', kind, ADE_SPLITS[split]),
                            osp.join(ade, kind, ADE_SPLITS[split]), dirs_exist_ok=True)

    _write_fake_upstream_checkpoint(osp.join(root, 'checkpoints', 'upstream_resnet18.pth'))

    imagenet = osp.join(data, 'imagenet')
    os.makedirs(osp.join(imagenet, 'meta'), exist_ok=True)
    for split in ('train', 'val'):
        lines = []
        cls_root = osp.join(src, 'cls', split)
        for label, cls in enumerate(sorted(os.listdir(cls_root))):
            wnid = f'n{label:08d}'
            for fname in sorted(os.listdir(osp.join(cls_root, cls))):
                rel = f'{wnid}/{fname}' if split == 'train' else fname
                dst = osp.join(imagenet, split, rel)
                os.makedirs(osp.dirname(dst), exist_ok=True)
                shutil.copyfile(osp.join(cls_root, cls, fname), dst)
                lines.append(f'{rel} {label}')
        with open(osp.join(imagenet, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return data


def _write_fake_upstream_checkpoint(path: str):
    """A stand-in for ``make upstream``'s checkpoint: a ResNet-18 classifier's weights."""
    import torch
    from mmengine.registry import DefaultScope
    from mmpretrain.models import ImageClassifier
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # whatever scope a caller left set
        model = ImageClassifier(backbone=dict(type='ResNet', depth=18),
                                neck=dict(type='GlobalAveragePooling'),
                                head=dict(type='LinearClsHead', num_classes=5, in_channels=512))
    model.init_weights()
    os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)


def shorten_schedule(cfg, iters: int = 2, batch_size: int = 2):
    """Make a config train ``iters`` iterations (epoch-based: one epoch of a tiny set), validate
    once at the end, load data in the main process, and start from random weights."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            cfg[key].update(num_workers=0, persistent_workers=False, batch_size=batch_size)
    loop = cfg.train_cfg
    if loop.get('type', 'EpochBasedTrainLoop') == 'IterBasedTrainLoop' or 'max_iters' in loop:
        loop.update(max_iters=iters, val_interval=iters)
        cfg.default_hooks.checkpoint.update(interval=iters)
    else:
        loop.update(max_epochs=1, val_interval=1)
        cfg.train_dataloader.pop('batch_sampler', None)
        cfg.train_dataloader.dataset['indices'] = iters * batch_size
    _strip_pretrained(cfg.model)
    from .engine.config import isolate_run
    isolate_run(cfg)
    return cfg


def _strip_pretrained(node):
    """No downloads in tests: drop checkpoint URLs (``scheme://``) from ``init_cfg`` /
    ``pretrained``; local checkpoint files stay."""
    if isinstance(node, dict):
        if isinstance(node.get('pretrained'), str) and '://' in node['pretrained']:
            node['pretrained'] = None
        init = node.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained' and '://' in str(init.get('checkpoint')):
            node['init_cfg'] = None
        for v in node.values():
            _strip_pretrained(v)
    elif isinstance(node, list):
        for v in node:
            _strip_pretrained(v)


def run_cfg(cfg, work_dir: str):
    """Build a Runner from ``cfg``, train, and return (runner, last validation metrics)."""
    from mmengine.runner import Runner
    cfg.work_dir = work_dir
    runner = Runner.from_cfg(cfg)
    captured = {}

    def _keep(metrics):
        captured.update(metrics or {})
    orig = runner.val_loop.evaluator.evaluate

    def evaluate(size):
        metrics = orig(size)
        _keep(metrics)
        return metrics
    runner.val_loop.evaluator.evaluate = evaluate
    runner.train()
    return runner, captured


def config_path(*parts):
    """A shipped config: from the installed package if it carries them, else the repository."""
    return osp.join(configs_root(), *parts)


def list_configs(kind, optimizers=False):
    """Task configs (``optimizers=False``) or per-optimizer leaves (``configs/<family>/optimizers``)
    of one scale: CPU-scale names contain ``_shapes`` or ``_upstream``, the others are full-scale."""
    out = []
    for family in ('classification', 'detection', 'instance_seg', 'semantic_seg'):
        folder = osp.join(family, 'optimizers') if optimizers else family
        if not osp.isdir(config_path(folder)):
            continue
        for name in sorted(os.listdir(config_path(folder))):
            cpu = '_shapes' in name or '_upstream' in name
            if name.endswith('.py') and cpu == (kind == 'cpu'):
                out.append(f'{folder}/{name}')
    return out
