"""The README's config snippet, pasted onto a real upstream mmdet config the way a user would (a
child config inheriting it), builds the model's optimizer wrapper."""
import os.path as osp
import re

import pytest

from dualopt_mm.testing import REPO_ROOT

pytestmark = pytest.mark.openmmlab  # mmdet's RetinaNet config and model


def _snippet():
    text = open(osp.join(REPO_ROOT, 'README.md')).read()
    section = text[text.index('## Using the optimizers from a config'):]
    blocks = re.findall(r'```python\n(.*?)```', section, flags=re.S)
    return next(b for b in blocks if 'optim_wrapper = dict(' in b)


def test_the_readme_optimizer_snippet_builds_on_an_upstream_mmdet_config(tmp_path):
    import dualopt_mm  # noqa: F401
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS, init_default_scope

    import mmdet
    base = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', 'retinanet', 'retinanet_r18_fpn_1x_coco.py')
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = [{base!r}]\ncustom_imports = dict(imports=['dualopt_mm'], allow_failed_imports=False)\n"
                     "model = dict(backbone=dict(init_cfg=None))\n" + _snippet())
    cfg = Config.fromfile(str(child))
    assert 'momentum' not in cfg.optim_wrapper.optimizer
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(ow.optimizer).__name__ == 'DualOptAdamW'
    assert any(g['pretrained'] for g in ow.optimizer.param_groups)
    assert not all(g['pretrained'] for g in ow.optimizer.param_groups)
