"""Resume of mmengine checkpoints on torch >= 2.6.

torch 2.6 switched ``torch.load`` to ``weights_only=True``. mmengine 0.10.7 calls ``torch.load``
without the argument, and a full training checkpoint holds the message hub's ``HistoryBuffer``
objects and numpy scalars, so ``runner.resume`` fails with ``Unsupported global:
mmengine.logging.history_buffer.HistoryBuffer``. We re-register mmengine's loader for local paths
(the empty prefix) with one that passes ``weights_only=False``: these are files the user's own run
wrote, the trust level mmengine assumed before torch 2.6. Remote schemes (http, open-mmlab://,
torchvision://) are left alone: they serve plain state dicts, which the safe loader reads.
"""
from __future__ import annotations

import os.path as osp

import torch

_APPLIED = False


def _torch_defaults_to_weights_only() -> bool:
    major, minor = (int(x) for x in torch.__version__.split('+')[0].split('.')[:2])
    return (major, minor) >= (2, 6)


def load_local_checkpoint(filename, map_location=None):
    """mmengine's ``load_from_local`` with ``weights_only=False`` (trusted local files only)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def apply_checkpoint_fix() -> bool:
    """Install the local-file loader; returns True if it is in force. Idempotent."""
    global _APPLIED
    if _APPLIED:
        return True
    if not _torch_defaults_to_weights_only():
        return False
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
    _APPLIED = True
    return True
