"""Stages compose: a combination nobody wrote by hand (SPD with exponential random scaling),
declared from existing stages, against a slow float64 reference written from the equations, and
bit for bit against the hand-declared methods it reduces to."""
import inspect

import pytest
import torch

from dualopt_optim_refs import base_direction
import dualopt_mm.optim as O
from dualopt_mm.optim._base import ADAMW, SGD
from dualopt_mm.optim._random_scale import ExpScaleSource
from dualopt_mm.optim._stages import Anchor, RandomScale, SelectiveProjection

F64 = torch.float64
PATHS = {"for-loop": dict(foreach=False), "foreach": dict(foreach=True),
         "fused": dict(fused=True)}


def _declare(base):
    return O.declare(f"RandomScaledSPD{base.title}", base,
                     (SelectiveProjection(), RandomScale(), Anchor()),
                     defaults=dict(weight_decay=0.0), register=False,
                     summary="SPD whose base step is randomly scaled.")


def _params():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(s, generator=g, dtype=F64).requires_grad_() for s in [(4, 3), (5,), (2, 2, 2)]]


def _grads(params, step):
    g = torch.Generator().manual_seed(50 + step)
    # a target that jumps between two sides: the deviation grows, then the loss says it hurts
    target = 3.0 if step % 4 < 2 else -3.0
    return [0.5 * (p.detach() - target) + torch.randn(p.shape, generator=g, dtype=F64) for p in params]


def _run(cls, params, steps=8, **kw):
    opt = cls(params, **kw)
    opt.opened = 0
    for t in range(steps):
        for p, g in zip(params, _grads(params, t)):
            p.grad = g
        opt.step()
        opt.opened += int(sum(getattr(opt, "last_gates", [])))
    return opt


def _reference(base, params, hp, seed, steps=8):
    """SPD (docs/methods.md) around the base step whose whole displacement is scaled by s_t."""
    theta = [p.detach().clone() for p in params]
    anchors = [t.clone() for t in theta]
    states = [{} for _ in theta]
    src = ExpScaleSource(seed)
    for t in range(steps):
        s = src.peek(t)
        for i, g in enumerate(_grads(theta, t)):
            th, a = theta[i], anchors[i]
            c = -torch.sum(g * (th - a))
            prev = torch.linalg.vector_norm(th - a)
            th1, d = base_direction(base.name, th, g, states[i], hp, hp["lr"], hp["weight_decay"], False)
            new = th + s * (th1 - hp["lr"] * d - th)
            nn_ = torch.linalg.vector_norm(new - a)
            r = min(max(float((nn_ - prev) / (nn_ + 1e-12)), 0.0), 1.0)
            if c < 0:
                new = new - hp["projection_decay"] * r * (new - a)
            theta[i] = new
    return theta


@pytest.mark.parametrize("path", list(PATHS), ids=list(PATHS))
@pytest.mark.parametrize("base", [SGD, ADAMW], ids=lambda b: b.title)
def test_spd_with_random_scaling_matches_the_reference(base, path):
    if path == "fused":
        try:
            O._core._compat.check_fused(base.name, [torch.zeros(1)])
        except RuntimeError as e:
            pytest.skip(str(e))
    cls = _declare(base)
    hp = dict(lr=0.05, projection_decay=0.8, weight_decay=0.01)
    defaults = dict(inspect.signature(cls).parameters)
    full = {k: v.default for k, v in defaults.items() if k != "params"}
    full.update(hp)
    params = _params()
    opt = _run(cls, params, **hp, seed=5, **PATHS[path])
    assert 0 < opt.opened < 8 * len(params) and opt.last_scale == ExpScaleSource(5).peek(7)
    for p, r in zip(params, _reference(base, _params(), full, seed=5)):
        torch.testing.assert_close(p.detach(), r, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("base", [SGD, ADAMW], ids=lambda b: b.title)
def test_the_combination_reduces_bit_for_bit_to_each_declared_method(base):
    cls = _declare(base)
    spd, rs = (O.OPTIMIZERS_INFO[n + base.title].cls for n in ("SPD", "RandomScaled"))
    for kw, other in ((dict(random_scaling=False), spd), (dict(projection_decay=0.0), rs)):
        a, b = _params(), _params()
        _run(cls, a, seed=7, weight_decay=0.0, **kw)
        kw = dict(kw, seed=7, weight_decay=0.0)
        _run(other, b, **{k: v for k, v in kw.items() if k in inspect.signature(other).parameters})
        assert all(torch.equal(x, y) for x, y in zip(a, b)), kw
    # both stages' arguments, state and state-dict entries are there
    assert {"projection_decay", "projection_eps", "random_scaling", "max_scale", "seed",
            "anchor_dtype"} <= set(inspect.signature(cls).parameters)
    p = _params()
    opt = _run(cls, p, steps=2, seed=1)
    sd = opt.state_dict()
    assert sd["random_scaling"]["draws"] == 2 and all("anchor" in s for s in sd["state"].values())
    assert "math::" in cls.__doc__ and "Zhang & Cutkosky" in cls.__doc__ and "Tian" in cls.__doc__
    assert cls.__name__ not in O.OPTIMIZERS_INFO  # a local combination is not listed


def test_a_declaration_refuses_what_cannot_compose():
    with pytest.raises(ValueError, match="Anchor"):
        O.declare("X", SGD, (SelectiveProjection(),), register=False, summary="x")
    with pytest.raises(ValueError, match="same argument"):
        O.declare("X", SGD, (RandomScale(), RandomScale()), register=False, summary="x")
    with pytest.raises(ValueError, match="exists already"):
        O.declare("SPDSGD", SGD, (SelectiveProjection(), Anchor()), summary="x")
