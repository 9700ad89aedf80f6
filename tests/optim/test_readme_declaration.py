"""The README's "Add your own optimizer" block runs as written: a new stage on top of the existing
anchor capture, declared with the AdamW base, steps on every path and does what its maths says."""
import inspect
import os.path as osp
import re

import pytest
import torch

import dualopt_mm.optim as O
from dualopt_mm.optim import _info

README = osp.join(osp.dirname(__file__), '..', '..', 'README.md')


def _declared(monkeypatch):
    text = open(README).read()
    section = text[text.index('## Add your own optimizer'):]
    block = re.findall(r'```python\n(.*?)```', section, flags=re.S)[0]
    # the block registers its class in the listing: give it a copy, so other tests see ours only
    monkeypatch.setattr(_info, 'OPTIMIZERS_INFO', dict(_info.OPTIMIZERS_INFO))
    ns = {}
    exec(compile(block, 'README.md', 'exec'), ns)
    assert 'AnchorDecayAdamW' in _info.OPTIMIZERS_INFO and 'AnchorDecayAdamW' not in O.OPTIMIZERS_INFO
    return ns['AnchorDecayAdamW'], ns['opt']


def _params():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(s, generator=g, dtype=torch.float64).requires_grad_() for s in [(3, 4), (5,)]]


def _steps(opt, params, n=6):
    for t in range(n):
        g = torch.Generator().manual_seed(10 + t)
        for p in params:
            p.grad = torch.randn(p.shape, generator=g, dtype=p.dtype)
        opt.step()


@pytest.mark.parametrize('path', [dict(foreach=False), dict(foreach=True),
                                  pytest.param(dict(fused=True), marks=pytest.mark.cpu_fused)],
                         ids=['for-loop', 'foreach', 'fused'])
def test_the_readme_declaration_follows_its_maths(monkeypatch, path):
    cls, opt = _declared(monkeypatch)
    assert isinstance(opt, O.ComposedOptimizer) and opt.defaults['anchor_decay'] == 0.5
    assert 'anchor_decay=0.1' in str(inspect.signature(cls)) and 'math::' in cls.__doc__
    with pytest.raises(ValueError, match='anchor_decay'):
        cls(_params(), anchor_decay=-1.0)
    # neutral: torch's AdamW bit for bit
    plain, b = _params(), _params()
    _steps(cls(plain, lr=0.01, anchor_decay=0.0, **path), plain)
    _steps(torch.optim.AdamW(b, lr=0.01, weight_decay=0.0, **path), b)
    assert all(torch.equal(x, y) for x, y in zip(plain, b))
    # the new stage: AdamW's step, then theta <- theta - lr alpha (theta - theta_0), by hand
    a, b = _params(), _params()
    anchors = [p.detach().clone() for p in b]
    _steps(cls(a, lr=0.01, anchor_decay=0.5, **path), a)
    ref = torch.optim.AdamW(b, lr=0.01, weight_decay=0.0, **path)
    for t in range(6):
        g = torch.Generator().manual_seed(10 + t)
        for p in b:
            p.grad = torch.randn(p.shape, generator=g, dtype=p.dtype)
        ref.step()
        with torch.no_grad():
            for p, a0 in zip(b, anchors):
                p.sub_(0.01 * 0.5 * (p - a0))
    for x, y, z in zip(a, b, plain):
        torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-14)
        assert (x - z).abs().max() > 1e-4  # the pull moved the weights
