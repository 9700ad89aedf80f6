"""Goldens of every optimizer: each class x path (for-loop, foreach list, fused) x setting, 10 steps
of parameters and the final state; a state dict after 5 steps and the 3 steps that follow its
load; each signature and ``defaults``. Frozen before a refactor of the optimizer core, compared
bit for bit after it (``tests/optim/test_goldens.py``); regenerate only on purpose, with
``python tools/freeze_optim_goldens.py``.

Bit-for-bit holds for one torch build on one machine family, not across CPUs: torch's and its
libraries' vectorised kernels round differently on different CPUs (AdamW's trail differs by 1 ulp
from its fourth step between the machine that froze ``optim_goldens.pt`` and an AVX512 Xeon). So a
machine family can add a *variant*, ``optim_goldens.<name>.pt``, frozen from the same code as the
default file (``tools/freeze_optim_goldens.py --variant NAME``, before the change it checks); a
record passes when it equals the default or one variant bit for bit."""
from __future__ import annotations

import copy
import inspect
import os.path as osp

import torch

GOLDENS_DIR = osp.join(osp.dirname(__file__), 'goldens')
GOLDENS = osp.join(GOLDENS_DIR, 'optim_goldens.pt')
STEPS = 10
CUT = 5
AFTER = 3


def cpu_capability() -> str:
    """The CPU kernel family torch dispatches to here (``DEFAULT``, ``AVX2``, ``AVX512``, ...)."""
    get = getattr(getattr(torch.backends, 'cpu', None), 'get_cpu_capability', None)
    return get() if get is not None else 'unknown'


def variant_path(name: str) -> str:
    return osp.join(GOLDENS_DIR, f'optim_goldens.{name}.pt')


def golden_files() -> list:
    """The default goldens first, then every variant."""
    import glob
    return [GOLDENS] + sorted(glob.glob(variant_path('*')))


def settings(entry) -> dict:
    """Named settings per optimizer: defaults, the typical non-neutral knobs, and variants that
    reach the other branches of the base step."""
    out = {'defaults': {}, 'typical': dict(entry.typical)}
    if entry.base == 'sgd':
        out['nesterov_wd'] = dict(entry.typical, momentum=0.9, nesterov=True, weight_decay=1e-2)
        out['no_momentum_maximize'] = dict(entry.typical, momentum=0.0, maximize=True)
    else:
        out['wd_amsgrad'] = dict(entry.typical, weight_decay=5e-2, amsgrad=True)
        out['maximize'] = dict(entry.typical, maximize=True)
    if entry.name.startswith('DualOpt'):
        out['scratch'] = dict(mode='scratch', weight_decay=1e-2)
    return out


def paths(entry) -> dict:
    out = {'for_loop': dict(foreach=False)}
    if entry.supports_foreach:
        out['foreach'] = dict(foreach=True)
    if entry.supports_fused:
        out['fused'] = dict(fused=True)
    return out


def _params():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(4, 3, generator=g), torch.randn(4, generator=g), torch.randn(2, 1, 3, 3, generator=g)]


def _groups(params):
    # three groups: two pre-trained ones at different depths and a new one
    return [dict(params=[params[0]], layer_depth=0.0), dict(params=[params[2]], layer_depth=1.0),
            dict(params=[params[1]], pretrained=False, layer_depth=0.5)]


def _grads(params, step):
    g = torch.Generator().manual_seed(1000 + step)
    for p in params:
        p.grad = 0.3 * p.detach() + torch.randn(p.shape, generator=g)


def _supported(cls, kwargs) -> bool:
    sig = inspect.signature(cls)
    return all(k in sig.parameters for k in kwargs)


def _build(entry, kwargs, params):
    lr = 0.05 if entry.base == 'sgd' else 1e-2
    torch.manual_seed(0)  # a random optimizer without a seed draws it from torch's global RNG
    return entry.cls(_groups(params), lr=lr, **kwargs)


def _run(entry, kwargs, steps, params=None, opt=None, start=0):
    params = params if params is not None else [p.clone().requires_grad_(True) for p in _params()]
    opt = opt or _build(entry, kwargs, params)
    trail = []
    for t in range(start, start + steps):
        _grads(params, t)
        opt.step()
        trail.append(torch.cat([p.detach().flatten() for p in params]))
    return params, opt, torch.stack(trail)  # one row of all parameters per step


def _state(opt, params):
    out = []
    for p in params:
        s = opt.state.get(p, {})
        out.append({k: (v.clone() if torch.is_tensor(v) else v) for k, v in sorted(s.items())})
    return out


def compute(entries) -> dict:
    """``{(class, path, setting): record}`` plus ``('signature', class)`` entries."""
    out = {}
    for entry in entries:
        out[('signature', entry.name)] = {'signature': str(inspect.signature(entry.cls)),
                                          'defaults': repr(sorted(_build(entry, {}, [p.clone().requires_grad_(True) for p in _params()]).defaults.items()))}
        for sname, setting in settings(entry).items():
            for pname, path in paths(entry).items():
                kwargs = dict(setting, **path)
                if not _supported(entry.cls, kwargs):
                    continue
                params, opt, trail = _run(entry, kwargs, STEPS)
                record = {'trail': trail, 'state': _state(opt, params)}
                p5, o5, _ = _run(entry, kwargs, CUT)
                sd = copy.deepcopy(o5.state_dict())  # state_dict() holds the live tensors
                fresh = [p.detach().clone().requires_grad_(True) for p in p5]
                opt2 = _build(entry, kwargs, fresh)
                opt2.load_state_dict(copy.deepcopy(sd))
                _, _, after = _run(entry, kwargs, AFTER, params=fresh, opt=opt2, start=CUT)
                record['cut_params'] = [p.detach().clone() for p in p5]
                record['state_dict'] = sd
                record['after_load'] = after
                out[(entry.name, pname, sname)] = record
    return out


def replay_after_load(entry, kwargs, cut_params, state_dict):
    """The 3 steps that follow loading a saved state dict into a fresh optimizer."""
    fresh = [p.clone().requires_grad_(True) for p in cut_params]
    opt = _build(entry, kwargs, fresh)
    opt.load_state_dict(copy.deepcopy(state_dict))
    _, _, after = _run(entry, kwargs, AFTER, params=fresh, opt=opt, start=CUT)
    return after
