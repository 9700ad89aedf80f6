"""Generic torch.optim property suite over dualopt_mm.optim.OPTIMIZERS_INFO.

Re-implements the properties of torch's own optimizer tests (torch ships
``torch.testing._internal.common_optimizers`` but not ``test/test_optim.py``) for third-party
optimizers: direction and ``maximize``, tensor lr, fast paths equal to the for-loop, state-dict
round trips (also ``weights_only=True`` and older state dicts), deepcopy, repr, hooks, no-op.
"""

import copy
import io

import pytest
import torch

import dualopt_mm.optim as O

ALL = O.get_optimizer_info()
IDS = lambda e: e.name  # noqa: E731
F64 = torch.float64


def _params(dtype=F64, zero_size=True):
    g = torch.Generator().manual_seed(0)
    shapes = [(4, 3), (3,), (2, 2, 2)] + ([(0,)] if zero_size else []) + [(5,)]
    return [torch.randn(s, generator=g, dtype=dtype).requires_grad_() for s in shapes]


def _groups(params, e):
    # two groups with different settings; the second is a new (non-pretrained) head
    return [dict(params=params[:-1], layer_depth=0.3), dict(params=params[-1:], pretrained=False, lr=0.02)]


def _quad_loss(params, targets):
    return sum(((p - t) ** 2).sum() for p, t in zip(params, targets))


def _set_grads(params, step, frozen=()):
    g = torch.Generator().manual_seed(100 + step)
    for i, p in enumerate(params):
        noise = torch.randn(p.shape, generator=g, dtype=p.dtype)
        p.grad = None if i in frozen else noise


def _kw(e, **extra):
    kw = dict(e.typical)
    kw.update(lr=0.05 if e.base == "sgd" else 0.02)
    kw.update(extra)
    return kw


@pytest.mark.parametrize("e", ALL, ids=IDS)
@pytest.mark.parametrize("maximize", [False, True])
def test_goes_the_right_direction(e, maximize):
    params = _params(zero_size=False)
    targets = [torch.zeros_like(p) for p in params]
    opt = e.cls(_groups(params, e), maximize=maximize, **_kw(e))
    with torch.no_grad():
        start = _quad_loss(params, targets).item()
    for _ in range(10):
        opt.zero_grad()
        loss = _quad_loss(params, targets)
        # maximize ascends the given objective: hand it -loss, the value must go down as well
        obj = -loss if maximize else loss
        obj.backward()
        opt.step()
    with torch.no_grad():
        end = _quad_loss(params, targets).item()
    assert end < start


@pytest.mark.parametrize("e", ALL, ids=IDS)
def test_maximize_goes_the_other_way(e):
    res = []
    for maximize in (False, True):
        params = _params(zero_size=False)
        targets = [torch.zeros_like(p) for p in params]
        opt = e.cls(_groups(params, e), maximize=maximize, **_kw(e))
        for _ in range(5):
            opt.zero_grad()
            _quad_loss(params, targets).backward()
            opt.step()
        with torch.no_grad():
            res.append(_quad_loss(params, targets).item())
    with torch.no_grad():
        start = _quad_loss(_params(zero_size=False), [torch.zeros_like(p) for p in _params(zero_size=False)]).item()
    assert res[0] < start < res[1]


def _run(e, steps=7, frozen_steps=(2, 3), **kw):
    params = _params()
    opt = e.cls(_groups(params, e), **_kw(e, **kw))
    for t in range(steps):
        if t == 4:
            for p in params:
                p.grad = None  # a step where every grad is None
        else:
            _set_grads(params, t, frozen=(0,) if t in frozen_steps else ())
        opt.step()
    return params, opt


def _compare_opts(pa, oa, pb, ob, atol):
    for a, b in zip(pa, pb):
        torch.testing.assert_close(a, b, rtol=0, atol=atol)
        sa, sb = oa.state[a], ob.state[b]
        assert sa.keys() == sb.keys()
        for k in sa:
            torch.testing.assert_close(sa[k].to(sb[k].dtype), sb[k], rtol=0, atol=atol, msg=k)


def _path_params(cases):
    # the fused path runs on CPU from torch 2.4 (marker cpu_fused; test_compat.py checks the
    # error older torch gives)
    return [pytest.param(e, p, id=f"{e.name}-{p}", marks=[pytest.mark.cpu_fused] if p == "fused" else [])
            for e, p in cases]


FAST = [(e, p) for e in ALL for p in ["foreach"] * e.supports_foreach + ["fused"] * e.supports_fused]


@pytest.mark.parametrize("e,path", _path_params(FAST))
def test_fast_paths_equal_for_loop(e, path):
    pa, oa = _run(e, foreach=False)
    pb, ob = _run(e, **{path: True})
    _compare_opts(pa, oa, pb, ob, atol=1e-12)
    if e.random:
        assert oa.last_scale == ob.last_scale


LR_PATHS = [(e, p) for e in ALL for p in ["single"] + ["fused"] * e.supports_fused]


@pytest.mark.parametrize("e,path", _path_params(LR_PATHS))
def test_tensor_lr_equals_float_lr(e, path):
    impl = dict(fused=True) if path == "fused" else dict(foreach=False)
    lr = 0.03
    pa, oa = _run(e, lr=lr, **impl)
    pb, ob = _run(e, lr=torch.tensor(lr, dtype=F64), **impl)
    _compare_opts(pa, oa, pb, ob, atol=1e-12)


@pytest.mark.parametrize("e", ALL, ids=IDS)
def test_no_grads_is_a_noop(e):
    params = _params()
    opt = e.cls(_groups(params, e), **_kw(e))
    vals = [p.detach().clone() for p in params]
    opt.step()
    assert all(torch.equal(p, v) for p, v in zip(params, vals))
    assert len(opt.state) == 0
    if e.random:
        assert opt.last_scale is None and opt.state_dict()["random_scaling"]["draws"] == 0


def _clone_params(params):
    return [p.detach().clone().requires_grad_() for p in params]


@pytest.mark.parametrize("e", ALL, ids=IDS)
@pytest.mark.parametrize("weights_only", [False, True])
def test_state_dict_round_trip_and_continue(e, weights_only):
    params, opt = _run(e)
    params2 = _clone_params(params)
    opt2 = e.cls(_groups(params2, e), **_kw(e, lr=0.5))  # different lr: overwritten by the load
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    opt2.load_state_dict(torch.load(buf, weights_only=weights_only))
    for t in range(10):
        _set_grads(params, 50 + t)
        _set_grads(params2, 50 + t)
        opt.step()
        opt2.step()
    _compare_opts(params, opt, params2, opt2, atol=0)
    assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


@pytest.mark.parametrize("e", ALL, ids=IDS)
def test_loads_state_dict_saved_before_new_group_keys(e):
    params, opt = _run(e)
    sd = copy.deepcopy(opt.state_dict())
    new_keys = {"pretrained", "layer_depth", "maximize", "foreach", "fused"}
    own = set(e.neutral) | set(e.typical) - {"seed"}
    for g in sd["param_groups"]:
        for k in list(g):
            if k in new_keys or k in own:
                del g[k]
    sd.pop("random_scaling", None)
    params2 = _clone_params(params)
    opt2 = e.cls(_groups(params2, e), **_kw(e))
    opt2.load_state_dict(sd)
    for k in new_keys | own:
        assert all(k in g for g in opt2.param_groups), k
    _set_grads(params2, 99)
    opt2.step()  # still steps


@pytest.mark.parametrize("e", ALL, ids=IDS)
def test_deepcopy(e):
    params, opt = _run(e)
    opt.custom_public_attr = 123
    cp = copy.deepcopy(opt)
    assert cp.custom_public_attr == 123 and cp.defaults == opt.defaults
    assert cp.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    if e.random:
        assert cp.last_scale == opt.last_scale
        assert cp.state_dict()["random_scaling"] == opt.state_dict()["random_scaling"]
    # the copy owns copies of the parameters: stepping both stays equal
    cparams = [p for g in cp.param_groups for p in g["params"]]
    oparams = [p for g in opt.param_groups for p in g["params"]]
    for t in range(3):
        _set_grads(oparams, 70 + t)
        _set_grads(cparams, 70 + t)
        opt.step()
        cp.step()
    for a, b in zip(oparams, cparams):
        assert torch.equal(a, b) and a is not b


@pytest.mark.parametrize("e", ALL, ids=IDS)
def test_printable(e):
    params = _params()
    s = repr(e.cls(_groups(params, e), **_kw(e)))
    assert s.startswith(e.name) and "Parameter Group 1" in s and "pretrained" in s
    assert e.cls.__doc__ and "math::" in e.cls.__doc__ and "Reference" in e.cls.__doc__


@pytest.mark.parametrize("e", ALL, ids=IDS)
def test_hooks(e):
    params = _params()
    opt = e.cls(_groups(params, e), **_kw(e))
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    h2 = opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    h3 = opt.register_state_dict_post_hook(lambda o, sd: calls.append("sd") or sd)
    h4 = opt.register_load_state_dict_pre_hook(lambda o, sd: calls.append("load") or sd)
    _set_grads(params, 0)
    opt.step()
    sd = opt.state_dict()
    opt.load_state_dict(sd)
    assert calls == ["pre", "post", "sd", "load"]
    for h in (h1, h2, h3, h4):
        h.remove()
    opt.step()
    assert calls == ["pre", "post", "sd", "load"]


def test_listing_is_complete():
    names = {e.name for e in ALL}
    assert names == {"DualOptAdamW", "DualOptSGD", "SPDAdamW", "SPDSGD", "RandomScaledSGD",
                     "RandomScaledAdamW", "HybridSGD", "HybridAdamW", "L2SPAdamW", "L2SPSGD"}
    for e in ALL:
        assert issubclass(e.cls, torch.optim.Optimizer)
        for k in ("pretrained", "layer_depth", *[k for k in e.neutral]):
            assert k in e.cls([torch.zeros(1, requires_grad=True)]).defaults, (e.name, k)
