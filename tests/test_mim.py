"""`mim train <package> <config>` runs a project config through the package's own train script:
here a DualOpt fine-tuning config (upstream checkpoint, layer-wise constructor, AnchorHook)."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

from dualopt_mm.testing import REPO_ROOT, config_path

pytestmark = pytest.mark.openmmlab  # mim train mmpretrain


def test_mim_train_mmpretrain(in_fake_data, tmp_path):
    mim = shutil.which('mim', path=osp.dirname(sys.executable)) or shutil.which('mim')
    assert mim, 'openmim is not installed in this environment'
    work = tmp_path / 'mim_work'
    config = config_path('classification', 'optimizers', 'resnet18_shapes_dualopt-adamw.py')
    cmd = [mim, 'train', 'mmpretrain', config,
           '--work-dir', str(work), '--cfg-options', 'train_cfg.max_epochs=1',
           'train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=4',
           'val_dataloader.dataset.indices=8']
    # the repository root itself (its parent would make a clone folder named dualopt_mm import as
    # an empty namespace package, and custom_imports would register nothing)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get('PYTHONPATH')])))
    out = subprocess.run(cmd, cwd=in_fake_data, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (work / 'epoch_1.pth').exists()
    log = out.stdout + out.stderr
    assert 'accuracy/top1' in log
    import re
    anchored = re.search(r'AnchorHook: DualOptAdamW: (\d+) tensors anchored', log)
    assert anchored and int(anchored.group(1)) == 60, log[-3000:]  # ResNet-18: 20 convs + 20 norms x 2
    assert 'Load checkpoint from checkpoints/upstream_resnet18.pth' in log or 'upstream_resnet18.pth' in log
