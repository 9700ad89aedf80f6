"""Every optimizer reproduces its frozen goldens (tests/optim/optim_goldens.py) bit for bit on CPU
with the torch version that froze them (this CPU family's own file where it has one, see
optim_goldens.py), and to float tolerance with any other torch: 10 steps of parameters and state
per class x path x setting, the 3 steps after loading a saved state dict, each signature and
``defaults``."""
import pytest
import torch

import optim_goldens as G
from dualopt_mm.optim import OPTIMIZERS_INFO

_FILE = G.goldens_for_this_cpu()
_DATA = torch.load(_FILE, weights_only=False)
RECORDS = _DATA['records']
SAME_TORCH = _DATA['torch'] == torch.__version__
KEYS = sorted(k for k in RECORDS if k[0] != 'signature')


def _equal(a, b, what):
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.dtype == b.dtype and a.shape == b.shape, what
        if SAME_TORCH:
            assert torch.equal(a, b), what
        else:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=what)
    elif isinstance(a, dict):
        assert set(a) == set(b), what
        for k in a:
            _equal(a[k], b[k], f'{what}.{k}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            _equal(x, y, f'{what}[{i}]')
    else:
        assert a == b, what


def test_goldens_cover_every_optimizer_and_path():
    assert {k[0] for k in KEYS} == set(OPTIMIZERS_INFO)
    for entry in OPTIMIZERS_INFO.values():
        for path in G.paths(entry):
            assert any(k[:2] == (entry.name, path) for k in KEYS), (entry.name, path)


@pytest.mark.parametrize('key', KEYS, ids=lambda k: '-'.join(k))
def test_steps_state_and_resume_equal_the_goldens(key):
    name, path, setting = key
    entry = OPTIMIZERS_INFO[name]
    kwargs = dict(G.settings(entry)[setting], **G.paths(entry)[path])
    golden = RECORDS[key]
    if not SAME_TORCH:
        if entry.random:
            pytest.skip(f'torch {torch.__version__} draws another Exp(1) stream than torch {_DATA["torch"]}, '
                        'which froze the goldens')
        if 'fused' in kwargs:
            try:
                G._run(entry, kwargs, 1)
            except RuntimeError as e:  # a kernel this torch lacks: the error must say which torch has it
                assert 'needs torch >=' in str(e), e
                return
    params, opt, trail = G._run(entry, kwargs, G.STEPS)
    _equal(golden['trail'], trail, 'trail')
    _equal(golden['state'], G._state(opt, params), 'state')
    after = G.replay_after_load(entry, kwargs, golden['cut_params'], golden['state_dict'])
    _equal(golden['after_load'], after, 'after_load')


def test_cpu_family_goldens_differ_from_the_default_by_rounding_only():
    """A CPU family's own goldens are the same computation as the default ones: equal to float
    tolerance, and with the same records, signatures and defaults (bit-for-bit only differs)."""
    import glob
    import os.path as osp
    default = torch.load(G.GOLDENS, weights_only=False)['records']
    own = sorted(glob.glob(osp.join(G.GOLDENS_DIR, 'optim_goldens.*.pt')))
    if not own:
        pytest.skip('no CPU-family goldens: only the default file exists')
    for path in own:
        records = torch.load(path, weights_only=False)['records']
        assert set(records) == set(default), path
        for k in records:
            if k[0] == 'signature':
                assert records[k] == default[k], (path, k)
            else:
                for part in ('trail', 'state', 'after_load'):
                    _close(records[k][part], default[k][part], f'{osp.basename(path)}:{"-".join(k)}.{part}')


def _close(a, b, what):
    if torch.is_tensor(a):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=what)
    elif isinstance(a, dict):
        assert set(a) == set(b), what
        for k in a:
            _close(a[k], b[k], f'{what}.{k}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), what
        for x, y in zip(a, b):
            _close(x, y, what)
    else:
        assert a == b, what


@pytest.mark.parametrize('name', sorted(OPTIMIZERS_INFO))
def test_signature_and_defaults_equal_the_goldens(name):
    import inspect
    entry = OPTIMIZERS_INFO[name]
    golden = RECORDS[('signature', name)]
    assert str(inspect.signature(entry.cls)) == golden['signature']
    opt = G._build(entry, {}, [p.clone().requires_grad_(True) for p in G._params()])
    assert repr(sorted(opt.defaults.items())) == golden['defaults']
