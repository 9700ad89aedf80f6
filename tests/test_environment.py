"""The OpenMMLab stack imports and its compiled pieces work (torchvision ops, mmcv ops)."""
import glob
import os.path as osp
import re

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _pins():
    """{torch pin: torchvision pin} of each leg's requirements file (requirements/*.txt)."""
    pairs = {}
    for path in glob.glob(osp.join(REPO, 'requirements', '*.txt')):
        text = open(path).read()
        tv = re.search(r'^torchvision==(\S+)', text, flags=re.M)
        for t in re.findall(r'^torch==([0-9.]+)', text, flags=re.M):
            if tv:
                pairs[t] = tv.group(1)
    return pairs


def test_torch_and_torchvision_ops():
    import torchvision
    from torchvision.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
    assert keep.tolist() == [0, 2]
    # the torchvision this leg's requirements pair with its torch (a mismatched one breaks ops)
    pins = _pins()
    assert set(pins) >= {'2.13.0', '2.1.2'}, pins
    assert torchvision.__version__.split('+')[0] == pins[torch.__version__.split('+')[0]]


@pytest.mark.openmmlab
def test_mmcv_compiled_ops():
    import mmcv
    from mmcv.ops import RoIAlign, nms
    assert mmcv.__version__ == '2.1.0'
    dets, keep = nms(torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]]),
                     torch.tensor([0.9, 0.8]), 0.5)
    assert keep.tolist() == [0]
    feat = torch.arange(16.).view(1, 1, 4, 4)
    out = RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2)(feat, torch.tensor([[0., 0., 0., 4., 4.]]))
    assert out.shape == (1, 1, 2, 2)


@pytest.mark.openmmlab
def test_openmmlab_packages_import():
    import mmdet
    import mmdet.models  # noqa: F401  (crashes when torchvision's ops are broken)
    import mmengine
    import mmpretrain
    import mmpretrain.models  # noqa: F401
    import mmseg
    import mmseg.models  # noqa: F401
    import pycocotools.mask  # noqa: F401
    assert (mmengine.__version__, mmdet.__version__, mmseg.__version__, mmpretrain.__version__) == \
        ('0.10.7', '3.3.0', '1.2.2', '1.2.0')


def test_import_dualopt_mm_applies_compat():
    import dualopt_mm
    from mmengine.runner.checkpoint import CheckpointLoader

    from dualopt_mm.compat.checkpoint import _torch_defaults_to_weights_only, load_local_checkpoint
    assert dualopt_mm.OPENMMLAB_AVAILABLE
    loader = CheckpointLoader._get_checkpoint_loader('/some/local/file.pth')
    # the fix is for torch >= 2.6 (weights_only=True by default); older torch keeps mmengine's loader
    assert (loader is load_local_checkpoint) == _torch_defaults_to_weights_only()
    # and that predicate says what this torch does: a file holding a non-tensor object (a date)
    import datetime
    import io
    import pickle
    buf = io.BytesIO()
    torch.save({'day': datetime.date(2020, 1, 1)}, buf)
    buf.seek(0)
    try:
        torch.load(buf)
        refused = False
    except pickle.UnpicklingError:
        refused = True
    assert _torch_defaults_to_weights_only() == refused


def test_optim_package_imports_without_openmmlab():
    """`dualopt_mm.optim` must not pull in mmengine (checked in a clean interpreter)."""
    import subprocess
    import sys
    code = ('import sys; import builtins; real = builtins.__import__\n'
            'def guard(name, *a, **k):\n'
            '    if name.split(".")[0] in ("mmengine", "mmcv", "mmdet", "mmseg", "mmpretrain"):\n'
            '        raise ImportError("blocked " + name)\n'
            '    return real(name, *a, **k)\n'
            'builtins.__import__ = guard\n'
            'import dualopt_mm.optim, dualopt_mm\n'
            'assert not dualopt_mm.OPENMMLAB_AVAILABLE\n'
            'print("ok")')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'ok'


def test_optimizers_registered_in_mmengine_root_registry():
    import dualopt_mm  # noqa: F401
    from mmengine.registry import OPTIMIZERS, DefaultScope

    from dualopt_mm import optim
    names = [e.cls.__name__ for e in optim.OPTIMIZERS_INFO.values()]
    assert len(names) == 10
    model = torch.nn.Linear(2, 2)
    for scope in ('mmdet', 'mmseg', 'mmpretrain'):
        with DefaultScope.overwrite_default_scope(scope):
            for name in names:
                opt = OPTIMIZERS.build(dict(type=name, params=model.parameters(), lr=0.1))
                assert type(opt).__name__ == name
