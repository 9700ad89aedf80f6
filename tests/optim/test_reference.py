"""Every optimizer against the slow textbook reference written from the equations in the class docstrings and docs/optimizers.md, and torch at neutral."""

import pytest
import torch

from dualopt_optim_refs import Reference
import dualopt_mm.optim as O

METHOD = {"DualOpt": "dualopt", "SPD": "spd", "RandomScaled": "random", "Hybrid": "hybrid",
          "L2SP": "l2sp"}

# (optimizer, constructor kwargs, group-0 overrides)
CASES = [
    ("DualOptAdamW", dict(rollback=0.3, rollback_min=0.05, rollback_power=2.0, weight_decay=0.05),
     dict(rollback=0.5)),
    ("DualOptAdamW", dict(mode="scratch", weight_decay=0.5, decay_min=0.1, decay_power=2.0),
     dict(weight_decay=0.2)),
    ("DualOptAdamW", dict(rollback=0.2, amsgrad=True, maximize=True), dict(rollback_power=0.5)),
    ("DualOptSGD", dict(rollback=0.3, rollback_min=0.1, nesterov=True, weight_decay=0.01),
     dict(rollback=0.6)),
    ("DualOptSGD", dict(mode="scratch", weight_decay=0.3, dampening=0.2, decay_min=0.2),
     dict(decay_power=0.5)),
    ("DualOptSGD", dict(rollback=0.25, maximize=True, momentum=0.0), dict(rollback_min=0.1)),
    ("SPDAdamW", dict(projection_decay=0.8, weight_decay=0.01), dict(projection_decay=1.0)),
    ("SPDAdamW", dict(projection_decay=1.0, maximize=True, amsgrad=True), dict(projection_decay=0.5)),
    ("SPDSGD", dict(projection_decay=0.8, nesterov=True), dict(projection_decay=1.0)),
    ("SPDSGD", dict(projection_decay=1.0, maximize=True, weight_decay=0.02), dict(momentum=0.5)),
    ("RandomScaledSGD", dict(seed=1, weight_decay=0.01), dict(momentum=0.5)),
    ("RandomScaledSGD", dict(seed=2, nesterov=True, max_scale=1.5), dict(random_scaling=False)),
    ("RandomScaledAdamW", dict(seed=3), dict(weight_decay=0.1)),
    ("RandomScaledAdamW", dict(seed=4, maximize=True, max_scale=2.0), dict(max_scale=0.8)),
    ("HybridSGD", dict(gamma=0.5, lr_out=0.05, weight_decay=0.01), dict(gamma=0.2)),
    ("HybridSGD", dict(gamma=0.7, variant="pow", lr_out=0.1, lr_in=2.0), dict(gamma=1.0)),
    ("HybridAdamW", dict(gamma=0.5, lr_out=0.05), dict(gamma=1.0)),
    ("HybridAdamW", dict(gamma=0.3, variant="pow", lr_out=0.1, maximize=True), dict(lr_in=0.5)),
    ("L2SPAdamW", dict(sp_alpha=0.3), dict(sp_alpha=1.0)),
    ("L2SPAdamW", dict(sp_alpha=0.3, weight_decay=0.05, maximize=True), dict(sp_alpha=0.1)),
    ("L2SPSGD", dict(sp_alpha=0.3, weight_decay=0.01), dict(sp_alpha=1.0)),
    ("L2SPSGD", dict(sp_alpha=0.5, maximize=True, nesterov=True), dict(sp_alpha=0.1)),
]


def _make_params(seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = [[(3, 4), (4,)], [(2, 3, 2)], [(5,)]]
    return [[torch.randn(s, generator=g, dtype=torch.float64).requires_grad_() for s in grp]
            for grp in shapes]


def _groups(params, name, override):
    lr = 0.05 if "SGD" in name else 0.02
    g0 = dict(params=params[0], layer_depth=0.25, lr=lr, **override)
    g1 = dict(params=params[1], lr=lr * 0.5)  # depth from tensor order
    g2 = dict(params=params[2], pretrained=False, lr=lr * 2)
    return [g0, g1, g2]


def _grad_of(theta, target, noise):
    return 0.3 * (theta - target) + noise


def _run(name, kwargs, override, *, path, sched, steps=22):
    entry = O.OPTIMIZERS_INFO[name]
    params = _make_params()
    impl = {"single": dict(foreach=False), "foreach": dict(foreach=True),
            "fused": dict(fused=True)}[path]
    opt = entry.cls(_groups(params, name, override), **kwargs, **impl)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.93**t) if sched else None
    ref_groups = [{k: v for k, v in g.items()} for g in opt.param_groups]
    ref = Reference(METHOD[[k for k in METHOD if name.startswith(k)][0]], entry.base, ref_groups)
    gen = torch.Generator().manual_seed(1)
    flat = [p for grp in params for p in grp]
    targets = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in flat]
    for t in range(steps):
        noises = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in flat]
        ref_flat = ref.params()
        rgrads, k = [], 0
        for grp_i, grp in enumerate(params):
            row = []
            for p in grp:
                skip = t == 7 and k == 1  # one tensor without gradient in one step
                p.grad = None if skip else _grad_of(p.detach(), targets[k], noises[k])
                row.append(None if skip else _grad_of(ref_flat[k], targets[k], noises[k]))
                k += 1
            rgrads.append(row)
        for rg, og in zip(ref.groups, opt.param_groups):
            rg["lr"] = og["lr"]
            if "initial_lr" in og:
                rg["initial_lr"] = og["initial_lr"]
        opt.step()
        ref.step(rgrads, scale=getattr(opt, "last_scale", None) or 1.0)
        if scheduler is not None:
            scheduler.step()
    return flat, ref.params(), opt


def _paths(entry):
    """The paths an optimizer has: the for-loop always, foreach / fused where supported."""
    return ["single"] + ["foreach"] * entry.supports_foreach + ["fused"] * entry.supports_fused


def _cases(cases, ids):
    # the fused path runs on CPU from torch 2.4 (marker cpu_fused; test_compat.py checks the
    # error older torch gives)
    return [pytest.param(c, p, id=i, marks=[pytest.mark.cpu_fused] if p == "fused" else [])
            for (c, p), i in zip(cases, ids)]


REF_CASES = [(c, p) for c in CASES for p in _paths(O.OPTIMIZERS_INFO[c[0]])]


@pytest.mark.parametrize("sched", [True, False], ids=["lr_schedule", "const_lr"])
@pytest.mark.parametrize("case,path", _cases(REF_CASES, [f"{c[0]}-{CASES.index(c)}-{p}"
                                                         for c, p in REF_CASES]))
def test_matches_textbook_reference(case, path, sched):
    name, kwargs, override = case
    entry = O.OPTIMIZERS_INFO[name]
    got, want, opt = _run(name, kwargs, override, path=path, sched=sched)
    for a, b in zip(got, want):
        torch.testing.assert_close(a.detach(), b, rtol=0, atol=1e-10)
    # the run must have moved away from the start, and anchored groups carry anchors
    if entry.anchored and not (name.startswith("DualOpt") and kwargs.get("mode") == "scratch"):
        assert "anchor" in opt.state[opt.param_groups[0]["params"][0]]
        assert "anchor" not in opt.state[opt.param_groups[2]["params"][0]]


def _torch_kwargs(entry, extra):
    kw = dict(lr=0.03, weight_decay=0.02)
    if entry.base == "sgd":
        kw.update(momentum=0.9, dampening=0.1)
    kw.update(extra)
    return kw


NEUTRAL = []
for _e in O.get_optimizer_info():
    NEUTRAL.append((_e.name, _e.neutral, _e.torch_equivalent, {}))
    NEUTRAL.append((_e.name, _e.neutral, _e.torch_equivalent,
                    dict(maximize=True, nesterov=True, dampening=0.0) if _e.base == "sgd"
                    else dict(maximize=True, amsgrad=True)))
    for _kw, _cls in _e.extra_neutral:
        NEUTRAL.append((_e.name, _kw, _cls, {}))


NEUTRAL_CASES = [(c, p) for c in NEUTRAL for p in _paths(O.OPTIMIZERS_INFO[c[0]])]


@pytest.mark.parametrize("case,path", _cases(NEUTRAL_CASES, [f"{c[0]}-{c[2].__name__}-{NEUTRAL.index(c)}-{p}"
                                                             for c, p in NEUTRAL_CASES]))
def test_neutral_setting_equals_torch(case, path):
    name, neutral, torch_cls, extra = case
    entry = O.OPTIMIZERS_INFO[name]
    kw = _torch_kwargs(entry, extra)
    if torch_cls is torch.optim.Adam:
        kw["weight_decay"] = 0.0
    kw.update({k: v for k, v in neutral.items() if k == "weight_decay"})
    gen = torch.Generator().manual_seed(0)
    p1 = [torch.randn(s, generator=gen, dtype=torch.float64, requires_grad=True)
          for s in [(4, 3), (3,), (0,), (2, 2)]]
    p2 = [p.detach().clone().requires_grad_() for p in p1]
    impl = {"single": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True)}[path]
    ours = entry.cls(p1, **kw, **{k: v for k, v in neutral.items() if k != "weight_decay"}, **impl)
    theirs = torch_cls(p2, **kw, **impl)
    for t in range(21):
        for a, b in zip(p1, p2):
            g = torch.randn(a.shape, generator=gen, dtype=torch.float64)
            a.grad, b.grad = g.clone(), g.clone()
        if t == 5:
            p1[0].grad = p2[0].grad = None
        ours.step()
        theirs.step()
    for a, b in zip(p1, p2):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
        if path == "single":
            assert torch.equal(a, b), "for-loop path must be bitwise equal to torch"
    for a, b in zip(p1, p2):
        for k, v in theirs.state[b].items():
            torch.testing.assert_close(ours.state[a][k], v, rtol=0, atol=1e-12)
