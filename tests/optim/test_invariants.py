"""One test per invariant of the methods (docs/optimizers.md, the class docstrings) (DualOpt, SPD, random scaling, GOFAU, L2-SP)."""

import math

import pytest
import torch

import dualopt_mm.optim as O
from dualopt_mm.optim._pull import decay_level, rollback_level

F64 = torch.float64


def _p(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=F64).requires_grad_()


def _grad(p, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(p.shape, generator=g, dtype=F64)


def _twin(p):
    return p.detach().clone().requires_grad_()


def _step_pair(ours, torch_opt, pa, pb, seed):
    g = _grad(pa, seed)
    pa.grad, pb.grad = g.clone(), g.clone()
    ours.step()
    torch_opt.step()


# ---------------------------------------------------------------- DualOpt
@pytest.mark.parametrize("base", ["adamw", "sgd"])
def test_dualopt_rollback_relation(base):
    """theta_t - theta_0 = (1 - lambda)(theta_hat_t - theta_0), theta_hat = plain base step."""
    pa = _p(6, 3)
    pb = _twin(pa)
    theta0 = pa.detach().clone()
    cls, tcls = (O.DualOptAdamW, torch.optim.AdamW) if base == "adamw" else (O.DualOptSGD, torch.optim.SGD)
    ours = cls([dict(params=[pa], layer_depth=0.4)], lr=0.05, rollback=0.3, rollback_min=0.1)
    for t in range(6):
        # theta_hat from a torch optimizer starting from our current value and state
        pb.data.copy_(pa.detach())
        tor = tcls([pb], lr=0.05, weight_decay=0.0, **({"momentum": 0.9} if base == "sgd" else {}))
        if t > 0:
            tor.state[pb] = {k: (v.clone() if torch.is_tensor(v) else v)
                             for k, v in ours.state[pa].items() if k != "anchor"}
        _step_pair(ours, tor, pa, pb, t)
        lam = rollback_level(0.4, 0.3, 0.1, 1.0)
        torch.testing.assert_close(pa.detach() - theta0, (1 - lam) * (pb.detach() - theta0),
                                   rtol=0, atol=1e-13)


@pytest.mark.parametrize("cls", [O.DualOptAdamW, O.DualOptSGD])
def test_dualopt_lambda_one_returns_anchor_exactly(cls):
    p = _p(5, 4)
    theta0 = p.detach().clone()
    opt = cls([dict(params=[p], layer_depth=0.0)], lr=0.1, rollback=1.0, rollback_min=1.0)
    for t in range(3):
        p.grad = _grad(p, t)
        opt.step()
        assert torch.equal(p.detach(), theta0)


def test_rollback_non_increasing_in_depth():
    for r_max, r_min, pw in [(0.01, 0.0, 1.0), (0.5, 0.1, 2.0), (0.3, 0.3, 0.5), (1.0, 0.0, 0.0)]:
        levels = [rollback_level(d / 20, r_max, r_min, pw) for d in range(21)]
        assert all(a >= b for a, b in zip(levels, levels[1:]))
        assert math.isclose(levels[0], r_max) and (pw == 0 or math.isclose(levels[-1], r_min))
    decays = [decay_level(d / 20, 0.1, 2.0) for d in range(21)]
    assert all(a <= b for a, b in zip(decays, decays[1:]))
    # and in the optimizer: a shallow tensor is pulled back more than a deep one (same update)
    a, b = _p(4, seed=1), _p(4, seed=1)
    opt = O.DualOptSGD([dict(params=[a], layer_depth=0.0), dict(params=[b], layer_depth=1.0)],
                       lr=0.1, rollback=0.5, rollback_min=0.1)
    start = a.detach().clone()
    g = _grad(a, 3)
    a.grad, b.grad = g.clone(), g.clone()
    opt.step()
    assert (a.detach() - start).norm() < (b.detach() - start).norm()


@pytest.mark.parametrize("cls,tcls", [(O.DualOptAdamW, torch.optim.Adam), (O.DualOptSGD, torch.optim.SGD)])
def test_dualopt_scratch_wd0_equals_base(cls, tcls):
    pa = _p(3, 3)
    pb = _twin(pa)
    kw = {"momentum": 0.9} if tcls is torch.optim.SGD else {}
    ours = cls([pa], lr=0.05, mode="scratch", weight_decay=0.0, **kw)
    tor = tcls([pb], lr=0.05, **kw)
    for t in range(20):
        _step_pair(ours, tor, pa, pb, t)
    assert torch.equal(pa, pb)


def test_dualopt_scratch_never_crosses_zero_and_exact_difference():
    """|theta_t| <= |theta_hat_t| when eta*wd*s <= 1; theta_t - AdamW(wd*s) = eta^2 wd s u."""
    lr, wd, depth = 0.1, 3.0, 0.6
    s = decay_level(depth, 0.2, 1.0)
    pa = _p(50)
    pb, pc = _twin(pa), _twin(pa)
    ours = O.DualOptAdamW([dict(params=[pa], layer_depth=depth)], lr=lr, mode="scratch",
                          weight_decay=wd, decay_min=0.2)
    plain = torch.optim.Adam([pb], lr=lr)  # theta_hat (no decay)
    adamw = torch.optim.AdamW([pc], lr=lr, weight_decay=wd * s)
    for t in range(5):
        before = pa.detach().clone()
        pb.data.copy_(before)
        pc.data.copy_(before)
        g = _grad(pa, t)
        pa.grad, pb.grad, pc.grad = g.clone(), g.clone(), g.clone()
        ours.step()
        plain.step()
        adamw.step()
        theta_hat = pb.detach()
        assert (pa.detach().abs() <= theta_hat.abs() + 1e-15).all()
        u = (before - theta_hat) / lr  # the bias-corrected Adam direction
        torch.testing.assert_close(pa.detach() - pc.detach(), lr**2 * wd * s * u, rtol=0, atol=1e-13)


# ---------------------------------------------------------------- SPD
def _spd_pair(base="adamw", lam=1.0, **kw):
    pa = _p(8, 3, seed=5)
    pb = _twin(pa)
    if base == "adamw":
        ours, tor = O.SPDAdamW([pa], lr=0.05, projection_decay=lam, **kw), torch.optim.AdamW([pb], lr=0.05, weight_decay=0.0)
    else:
        ours, tor = O.SPDSGD([pa], lr=0.05, projection_decay=lam, **kw), torch.optim.SGD([pb], lr=0.05, momentum=0.9)
    return pa, pb, ours, tor


@pytest.mark.parametrize("base", ["adamw", "sgd"])
def test_spd_first_step_never_decayed(base):
    pa, pb, ours, tor = _spd_pair(base)
    _step_pair(ours, tor, pa, pb, 0)
    assert torch.equal(pa, pb)


@pytest.mark.parametrize("base", ["adamw", "sgd"])
def test_spd_projection_geometry(base):
    """Gate c<0 with lambda=1: ||theta_t - theta_0|| = min(||tilde - theta_0||, ||prev - theta_0||);
    always parallel to (tilde - theta_0); no growth => r = 0 (plain step)."""
    pa = _p(30, seed=2)
    opt = (O.SPDAdamW if base == "adamw" else O.SPDSGD)([pa], lr=0.05, projection_decay=1.0)
    theta0 = pa.detach().clone()
    seen_gate = seen_nogate = False
    for t in range(25):
        prev = pa.detach().clone()
        g = _grad(pa, 100 + t)
        # a tentative step without projection, from the same state
        shadow = pa.detach().clone().requires_grad_()
        st = {k: v.clone() for k, v in opt.state[pa].items()} if opt.state[pa] else {}
        tor = (torch.optim.AdamW([shadow], lr=0.05, weight_decay=0.0) if base == "adamw"
               else torch.optim.SGD([shadow], lr=0.05, momentum=0.9))
        if st:
            tor.state[shadow] = {k: v for k, v in st.items() if k != "anchor"}
        shadow.grad = g.clone()
        tor.step()
        tilde = shadow.detach()
        pa.grad = g.clone()
        opt.step()
        c = -torch.dot(g, prev - theta0)
        new_dev, tilde_dev, prev_dev = (pa.detach() - theta0), (tilde - theta0), (prev - theta0)
        # parallel: the cross terms vanish
        cos = torch.dot(new_dev, tilde_dev) / (new_dev.norm() * tilde_dev.norm() + 1e-300)
        assert new_dev.norm() < 1e-14 or abs(cos.item() - 1) < 1e-10
        if c < 0:
            seen_gate = True
            torch.testing.assert_close(new_dev.norm(), torch.minimum(tilde_dev.norm(), prev_dev.norm()),
                                       rtol=1e-9, atol=1e-12)
        else:
            seen_nogate = True
            torch.testing.assert_close(pa.detach(), tilde, rtol=0, atol=1e-15)
        if tilde_dev.norm() <= prev_dev.norm():
            torch.testing.assert_close(pa.detach(), tilde, rtol=0, atol=1e-15)
        pa.data.copy_(pa.detach())
    assert seen_gate and seen_nogate


def test_spd_gate_is_per_tensor():
    """Changing tensor B's gradient never changes tensor A's result."""
    res = []
    for gb_seed in (1, 2):
        a, b = _p(10, seed=1), _p(7, seed=2)
        opt = O.SPDAdamW([a, b], lr=0.1, projection_decay=1.0)
        for t in range(6):
            a.grad = _grad(a, 10 + t)
            b.grad = _grad(b, 1000 * gb_seed + t) * (10.0 if gb_seed == 2 else 1.0)
            opt.step()
        res.append(a.detach().clone())
    assert torch.equal(res[0], res[1])


# ---------------------------------------------------------------- random scaling
@pytest.mark.parametrize("cls,tcls", [(O.RandomScaledSGD, torch.optim.SGD), (O.RandomScaledAdamW, torch.optim.AdamW)])
def test_random_scale_whole_displacement(cls, tcls):
    """One step moves every element of every tensor by s_t x the unscaled displacement."""
    ps = [_p(4, 3, seed=1), _p(5, seed=2)]
    opt = cls([dict(params=[ps[0]]), dict(params=[ps[1]], lr=0.02)], lr=0.05, weight_decay=0.1, seed=7)
    for t in range(4):
        before = [p.detach().clone() for p in ps]
        shadows = [_twin(p) for p in ps]
        kw = {"momentum": 0.9} if tcls is torch.optim.SGD else {}
        tor = tcls([dict(params=[shadows[0]]), dict(params=[shadows[1]], lr=0.02)], lr=0.05, weight_decay=0.1, **kw)
        for p, sh in zip(ps, shadows):
            if opt.state[p]:
                tor.state[sh] = {k: v.clone() for k, v in opt.state[p].items()}
        grads = [_grad(p, 10 * t + i) for i, p in enumerate(ps)]
        for p, sh, g in zip(ps, shadows, grads):
            p.grad, sh.grad = g.clone(), g.clone()
        opt.step()
        tor.step()
        s = opt.last_scale
        for p, sh, b in zip(ps, shadows, before):
            torch.testing.assert_close(p.detach() - b, s * (sh.detach() - b), rtol=1e-12, atol=1e-14)


def test_random_scale_distribution_and_reproducibility():
    from dualopt_mm.optim._random_scale import ExpScaleSource

    src = ExpScaleSource(seed=123)
    draws = torch.tensor([src.draw() for _ in range(20000)], dtype=F64)
    assert abs(draws.mean().item() - 1) < 0.03 and abs(draws.var().item() - 1) < 0.08
    assert (draws > 0).all()
    src2 = ExpScaleSource(seed=123)
    assert [src2.draw() for _ in range(50)] == draws[:50].tolist()

    def run(seed):
        p = _p(6)
        opt = O.RandomScaledSGD([p], lr=0.1, seed=seed)
        for t in range(5):
            p.grad = _grad(p, t)
            opt.step()
        return p.detach()

    assert torch.equal(run(5), run(5)) and not torch.equal(run(5), run(6))


def test_random_scale_resume_draws_same_scalars(tmp_path):
    p = _p(6)
    opt = O.RandomScaledAdamW([p], lr=0.1, seed=11)
    for t in range(3):
        p.grad = _grad(p, t)
        opt.step()
    torch.save(opt.state_dict(), tmp_path / "o.pt")
    cont = []
    q = _twin(p)
    for t in range(3, 6):
        p.grad = _grad(p, t)
        opt.step()
        cont.append(opt.last_scale)
    opt2 = O.RandomScaledAdamW([q], lr=0.1, seed=999)  # a different seed is overridden by the state
    opt2.load_state_dict(torch.load(tmp_path / "o.pt", weights_only=True))
    resumed = []
    for t in range(3, 6):
        q.grad = _grad(q, t)
        opt2.step()
        resumed.append(opt2.last_scale)
    assert cont == resumed and torch.equal(p, q)


# ---------------------------------------------------------------- GOFAU
@pytest.mark.parametrize("cls", [O.HybridSGD, O.HybridAdamW])
@pytest.mark.parametrize("variant", ["abs", "pow"])
def test_multiplicative_keeps_signs_zeros_and_bound(cls, variant):
    p = _p(200, seed=3)
    with torch.no_grad():
        p[:20] = 0.0
    opt = cls([p], lr=0.5, lr_out=0.9, lr_in=5.0, gamma=1.0, variant=variant, weight_decay=0.0)
    for t in range(15):
        before = p.detach().clone()
        p.grad = _grad(p, t) * 10
        opt.step()
        assert torch.equal(torch.sign(p.detach()), torch.sign(before))
        assert (p.detach()[:20] == 0).all()
        if variant == "abs":
            assert ((p.detach() - before).abs() <= 0.9 * before.abs() * (1 + 1e-12)).all()


@pytest.mark.parametrize("cls", [O.HybridSGD, O.HybridAdamW])
@pytest.mark.parametrize("gamma", [0.3, 1.0])
def test_hybrid_moves_against_direction(cls, gamma):
    p = _p(100, seed=4)
    opt = cls([p], lr=0.05, lr_out=0.1, gamma=gamma, weight_decay=0.0, momentum=0.0) if cls is O.HybridSGD \
        else cls([p], lr=0.05, lr_out=0.1, gamma=gamma, weight_decay=0.0)
    before = p.detach().clone()
    g = _grad(p, 1)
    p.grad = g
    opt.step()
    moved = p.detach() - before
    # the first direction has the sign of the gradient (SGD: d = g; Adam: d = g/(|g|+eps))
    assert ((moved * g) <= 0).all()


# ---------------------------------------------------------------- L2-SP
def test_l2sp_pulls_toward_anchor():
    p = _p(20)
    theta0 = p.detach().clone()
    opt = O.L2SPSGD([p], lr=0.1, momentum=0.0, sp_alpha=1.0)
    for t in range(30):
        p.grad = torch.ones_like(p)  # constant push away
        opt.step()
    # equilibrium of g + alpha (theta - theta0) = 0: theta = theta0 - 1
    torch.testing.assert_close(p.detach(), theta0 - 1, rtol=0, atol=1e-1)
