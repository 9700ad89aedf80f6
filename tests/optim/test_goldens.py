"""Every optimizer reproduces its frozen goldens (tests/optim/optim_goldens.py) bit for bit on CPU
with the torch version that froze them (the default file or one machine family's variant, see
optim_goldens.py), and to float tolerance with any other torch: 10 steps of parameters and state
per class x path x setting, the 3 steps after loading a saved state dict, each signature and
``defaults``."""
import os.path as osp

import pytest
import torch

import optim_goldens as G
from dualopt_mm.optim import OPTIMIZERS_INFO

_DATA = torch.load(G.GOLDENS, weights_only=False)
RECORDS = _DATA['records']
SAME_TORCH = _DATA['torch'] == torch.__version__
# the default file, then the variants frozen by the same torch: a record must equal one of them
_EXACT = [(osp.basename(f), d) for f, d in ((f, torch.load(f, weights_only=False)) for f in G.golden_files())
          if d['torch'] == torch.__version__]
KEYS = sorted(k for k in RECORDS if k[0] != 'signature')


def _equal(a, b, what, exact=None):
    exact = SAME_TORCH if exact is None else exact
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.dtype == b.dtype and a.shape == b.shape, what
        if exact:
            assert torch.equal(a, b), what
        else:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=what)
    elif isinstance(a, dict):
        assert set(a) == set(b), what
        for k in a:
            _equal(a[k], b[k], f'{what}.{k}', exact)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            _equal(x, y, f'{what}[{i}]', exact)
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
    if not SAME_TORCH:
        _check(golden, entry, kwargs, params, opt, trail, exact=False)
        return
    misses = []
    for name, data in _EXACT:
        try:
            _check(data['records'][key], entry, kwargs, params, opt, trail, exact=True)
            return
        except AssertionError as e:
            misses.append(f'{name}: {e}')
    pytest.fail('bit for bit equal to none of the frozen goldens:\n' + '\n'.join(misses))


def _check(golden, entry, kwargs, params, opt, trail, exact):
    _equal(golden['trail'], trail, 'trail', exact)
    _equal(golden['state'], G._state(opt, params), 'state', exact)
    after = G.replay_after_load(entry, kwargs, golden['cut_params'], golden['state_dict'])
    _equal(golden['after_load'], after, 'after_load', exact)


def test_variant_goldens_differ_from_the_default_by_rounding_only():
    """A machine family's variant is the same computation as the default goldens: equal to float
    tolerance, with the same records, signatures and defaults (only the last bits may differ)."""
    default = RECORDS
    own = G.golden_files()[1:]
    if not own:
        pytest.skip('no variant goldens: only the default file exists')
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
