"""Anchors, skipped steps (no grad, GradScaler, non-finite), validation, sparse gradients."""

import copy
import warnings

import pytest
import torch
from torch import nn

import dualopt_mm.optim as O

ALL = O.get_optimizer_info()
ANCHORED = [e for e in ALL if e.anchored]
F64 = torch.float64


def _p(*s, seed=0, dtype=torch.float32):
    return torch.randn(*s, generator=torch.Generator().manual_seed(seed), dtype=dtype).requires_grad_()


def _snapshot(opt):
    return copy.deepcopy({k: v for k, v in opt.state.items()}), [dict(g) for g in opt.param_groups]


def _state_equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].keys() == b[k].keys()
        for kk in a[k]:
            va, vb = a[k][kk], b[k][kk]
            assert (torch.equal(va, vb) if torch.is_tensor(va) else va == vb), kk


@pytest.mark.parametrize("e", ANCHORED, ids=lambda e: e.name)
def test_anchor_lazy_fp32_bf16_capture_and_pretrained_false(e):
    a, b, c = _p(4, 3), _p(5, seed=1), _p(2, seed=2)
    opt = e.cls([dict(params=[a, b]), dict(params=[c], pretrained=False)], **e.typical)
    assert len(opt.state) == 0  # nothing at construction
    with torch.no_grad():
        a.add_(1.0)  # "pre-trained weights loaded after the optimizer was built"
    start_a = a.detach().clone()
    a.grad, c.grad = torch.randn_like(a), torch.randn_like(c)
    opt.step()
    assert torch.equal(opt.state[a]["anchor"], start_a) and opt.state[a]["anchor"].dtype == torch.float32
    assert "anchor" not in opt.state[b]  # no grad yet: untouched
    assert "anchor" not in opt.state[c]  # pretrained=False: never anchored
    assert opt.capture_anchors() == 1 and "anchor" in opt.state[b]
    assert "anchor" not in opt.state[c]
    # never re-captured
    a.grad = torch.randn_like(a)
    opt.step()
    assert torch.equal(opt.state[a]["anchor"], start_a)
    # bf16 anchors
    d = _p(8, seed=3)
    opt2 = e.cls([d], anchor_dtype=torch.bfloat16, **e.typical)
    d.grad = torch.randn_like(d)
    opt2.step()
    assert opt2.state[d]["anchor"].dtype == torch.bfloat16
    assert opt2.state[d]["anchor"].element_size() == 2
    # float64 params keep a float64 anchor by default (nothing lost)
    f = _p(3, dtype=F64)
    opt3 = e.cls([f], **e.typical)
    f.grad = torch.randn_like(f)
    opt3.step()
    assert opt3.state[f]["anchor"].dtype == F64


def test_dualopt_scratch_has_no_anchor():
    p = _p(4)
    opt = O.DualOptSGD([p], mode="scratch", weight_decay=0.1)
    p.grad = torch.randn_like(p)
    opt.step()
    assert "anchor" not in opt.state[p] and opt.capture_anchors() == 0


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_param_without_grad_untouched(e):
    a, b = _p(4, 3), _p(5, seed=1)
    opt = e.cls([a, b], **e.typical)
    for t in range(3):
        a.grad, b.grad = torch.randn_like(a), torch.randn_like(b)
        opt.step()
    b_val = b.detach().clone()
    b_state = copy.deepcopy(opt.state[b])
    b.grad = None
    a.grad = torch.randn_like(a)
    opt.step()
    assert torch.equal(b, b_val)
    _state_equal({0: b_state}, {0: opt.state[b]})


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
@pytest.mark.parametrize("mode", ["skip", "raise"])
def test_nonfinite_gradient_changes_nothing(e, mode):
    a, b = _p(4, 3), _p(5, seed=1)
    opt = e.cls([a, b], nonfinite=mode, **e.typical)
    for t in range(2):
        a.grad, b.grad = torch.randn_like(a), torch.randn_like(b)
        opt.step()
    snap = copy.deepcopy(opt.state_dict())
    vals = [a.detach().clone(), b.detach().clone()]
    last = getattr(opt, "last_scale", None)
    a.grad = torch.randn_like(a)
    b.grad = torch.randn_like(b)
    b.grad[2] = float("nan") if mode == "skip" else float("inf")
    if mode == "skip":
        with pytest.warns(RuntimeWarning, match="non-finite"):
            opt.step()
        assert opt.skipped_steps == 1
    else:
        with pytest.raises(FloatingPointError):
            opt.step()
    assert torch.equal(a, vals[0]) and torch.equal(b, vals[1])
    _state_equal(snap["state"], opt.state_dict()["state"])
    if e.random:
        assert opt.state_dict()["random_scaling"] == snap["random_scaling"] and opt.last_scale == last


def test_sum_overflow_is_not_mistaken_for_nonfinite():
    p = _p(4)
    opt = O.DualOptSGD([p], lr=0.0)
    p.grad = torch.full((4,), 3e38)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
    assert opt.skipped_steps == 0


@pytest.mark.cpu_gradscaler
@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_gradscaler_skipped_step_changes_nothing(e):
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    opt = e.cls(model.parameters(), **e.typical)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4)
    x = torch.randn(8, 4)
    for t in range(2):
        opt.zero_grad()
        scaler.scale(model(x).pow(2).mean()).backward()
        scaler.step(opt)
        scaler.update()
    snap = copy.deepcopy(opt.state_dict())
    vals = [p.detach().clone() for p in model.parameters()]
    opt.zero_grad()
    scaler.scale(model(x).pow(2).mean() * float("inf")).backward()
    scaler.step(opt)
    scaler.update()
    for p, v in zip(model.parameters(), vals):
        assert torch.equal(p, v)
    _state_equal(snap["state"], opt.state_dict()["state"])
    if e.random:
        assert opt.state_dict()["random_scaling"] == snap["random_scaling"]
    assert scaler.get_scale() < 2.0**4


BAD = {
    "lr": -1.0, "weight_decay": -0.1, "betas": (0.9, 1.0), "eps": -1e-8, "momentum": -0.5,
    "rollback": 1.5, "rollback_min": -0.1, "mode": "finetuning", "projection_decay": 1.5,
    "gamma": 1.2, "variant": "mul", "lr_out": -1.0, "sp_alpha": -0.1, "max_scale": 0.0,
    "decay_min": 2.0, "anchor_dtype": torch.int32, "nonfinite": "warn", "seed": "x",
}


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_invalid_hyperparameters_raise_value_error_naming_argument(e):
    import inspect

    names = set(inspect.signature(e.cls).parameters)
    checked = 0
    for arg, bad in BAD.items():
        if arg not in names:
            continue
        with pytest.raises(ValueError, match=arg.split("[")[0]):
            e.cls([_p(2)], **{arg: bad})
        checked += 1
    assert checked >= 5
    # groups are validated too
    with pytest.raises(ValueError, match="lr"):
        e.cls([dict(params=[_p(2)], lr=-0.5)])
    with pytest.raises(ValueError, match="layer_depth"):
        e.cls([dict(params=[_p(2)], layer_depth=1.5)])
    if "betas" in names:
        with pytest.raises(ValueError, match="betas"):
            e.cls([_p(2)], betas=(-0.1, 0.9))
    if "nesterov" in names:
        with pytest.raises(ValueError, match="nesterov"):
            e.cls([_p(2)], nesterov=True, momentum=0.0)
    if e.name.startswith("DualOpt"):
        with pytest.raises(ValueError, match="rollback_min"):
            e.cls([_p(2)], rollback=0.1, rollback_min=0.2)


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_sparse_gradient_raises(e):
    emb = nn.Embedding(5, 3, sparse=True)
    opt = e.cls(emb.parameters(), **e.typical)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()


@pytest.mark.cpu_fused
@pytest.mark.parametrize("cls", [O.HybridSGD, O.HybridAdamW])
def test_hybrid_fused_equals_for_loop_with_per_group_fallback(cls):
    # groups the fused path handles (abs; gamma 0 / 0.6 / 1) and groups it hands to the
    # for-loop (pow; SGD nesterov / no momentum; AdamW gamma=1 with decay)
    def build(**impl):
        g = torch.Generator().manual_seed(0)
        ps = [torch.randn(s, generator=g, dtype=torch.float64).requires_grad_()
              for s in [(3, 2), (4,), (2, 2), (5,), (3,), (2,)]]
        base = (dict(nesterov=True, momentum=0.9) if cls is O.HybridSGD
                else dict(weight_decay=0.1))
        other = dict(momentum=0.0) if cls is O.HybridSGD else dict(amsgrad=True)
        groups = [dict(params=ps[:1], gamma=0.6), dict(params=ps[1:2], gamma=0.0),
                  dict(params=ps[2:3], gamma=1.0, **base), dict(params=ps[3:4], variant="pow"),
                  dict(params=ps[4:5], gamma=0.3, **other), dict(params=ps[5:], gamma=1.0)]
        return ps, cls(groups, lr=0.05, lr_out=0.2, lr_in=3.0, weight_decay=0.02, **impl)

    pa, oa = build(foreach=False)
    pb, ob = build(fused=True)
    for step in range(6):
        g = torch.Generator().manual_seed(10 + step)
        for a, b in zip(pa, pb):
            a.grad = torch.randn(a.shape, generator=g, dtype=a.dtype)
            b.grad = a.grad.clone()
        oa.step()
        ob.step()
    for a, b in zip(pa, pb):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_unknown_group_keys_are_kept_and_ignored():
    p = _p(3)
    opt = O.DualOptAdamW([dict(params=[p], layer_id=3, num_layers=12, param_names=["w"],
                               custom="x")], rollback=0.1)
    p.grad = torch.randn_like(p)
    opt.step()
    assert opt.param_groups[0]["layer_id"] == 3 and opt.param_groups[0]["custom"] == "x"


def test_named_parameters_accepted():
    m = nn.Linear(2, 2)
    opt = O.SPDAdamW(m.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    m(torch.randn(3, 2)).sum().backward()
    opt.step()


def test_closure_returns_loss():
    p = _p(3)
    opt = O.L2SPSGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = p.pow(2).sum()
        loss.backward()
        return loss

    assert torch.is_tensor(opt.step(closure))


@pytest.mark.cpu_fused
@pytest.mark.parametrize("name", ["DualOptSGD", "DualOptAdamW", "SPDSGD", "SPDAdamW",
                                  "L2SPSGD", "L2SPAdamW"])
@pytest.mark.parametrize("pipelined", [True, False], ids=["per-tensor", "list"])
def test_fused_list_and_per_tensor_paths_equal_for_loop(name, pipelined):
    # CPU runs the fused path tensor by tensor; GPUs use the list form: both must match
    e = O.OPTIMIZERS_INFO[name]

    def build(**impl):
        g = torch.Generator().manual_seed(0)
        ps = [torch.randn(s, generator=g, dtype=torch.float64).requires_grad_()
              for s in [(3, 2), (4,), (0,), (2, 2)]]
        extra = dict(weight_decay=0.05, maximize=True)
        return ps, e.cls([dict(params=ps[:3]), dict(params=ps[3:], pretrained=False)],
                         lr=0.03, **e.typical, **extra, **impl)

    pa, oa = build(foreach=False)
    pb, ob = build(fused=True)
    ob._pipelined = pipelined
    for step in range(6):
        g = torch.Generator().manual_seed(10 + step)
        for i, (a, b) in enumerate(zip(pa, pb)):
            a.grad = None if (step == 2 and i == 0) else torch.randn(a.shape, generator=g,
                                                                      dtype=a.dtype)
            b.grad = None if a.grad is None else a.grad.clone()
        oa.step()
        ob.step()
    for a, b in zip(pa, pb):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


BF16 = ["DualOptSGD", "DualOptAdamW", "SPDSGD", "SPDAdamW", "L2SPSGD", "L2SPAdamW", "HybridSGD",
        "HybridAdamW"]


@pytest.mark.parametrize("fused", [False, pytest.param(True, marks=pytest.mark.cpu_fused)],
                         ids=["for-loop", "and-fused"])
@pytest.mark.parametrize("name", BF16)
def test_bf16_parameters_every_path(name, fused):
    # bf16 parameters keep fp32 anchors; every path runs, stays finite and keeps the dtype, and
    # the AdamW-based fused path equals the for-loop up to a bf16 rounding (torch's own bf16
    # fused SGD kernel rounds differently from its for-loop, so SGD bases are compared loosely)
    e = O.OPTIMIZERS_INFO[name]
    impls = [dict(foreach=False)] + ([dict(fused=True)] if fused and e.supports_fused else [])
    runs = []
    for impl in impls:
        g = torch.Generator().manual_seed(0)
        ps = [torch.randn(s, generator=g).to(torch.bfloat16).requires_grad_()
              for s in [(8, 4), (5,)]]
        opt = e.cls(ps, lr=0.01, **e.typical, **impl)
        for _ in range(3):
            for p in ps:
                p.grad = torch.randn(p.shape, generator=g).to(torch.bfloat16)
            opt.step()
        for p in ps:
            assert p.dtype == torch.bfloat16 and torch.isfinite(p).all()
        runs.append(ps)
    if len(runs) == 2:
        tol = 1e-2 if e.base == "adamw" else 0.25
        for a, b in zip(*runs):
            torch.testing.assert_close(a.float(), b.float(), rtol=0, atol=tol)


def test_finite_check_with_expanded_and_transposed_gradients():
    # the check's multi-tensor kernel writes in place; gradients it cannot write (expanded)
    # fall back to a read-only check, with the same verdict
    p = torch.nn.Parameter(torch.zeros(4, 3))
    q = torch.nn.Parameter(torch.zeros(3, 4))
    p.grad = torch.ones(1, 3).expand(4, 3)
    q.grad = torch.ones(4, 3).t()
    opt = O.DualOptSGD([p, q], lr=0.1)
    opt.step()
    assert opt.skipped_steps == 0 and (p != 0).all() and (q != 0).all()
    p.grad = torch.tensor([[float("nan"), 0.0, 0.0]]).expand(4, 3)
    before = [p.detach().clone(), q.detach().clone()]
    with pytest.warns(RuntimeWarning, match="skipped"):
        opt.step()
    assert opt.skipped_steps == 1
    assert torch.equal(p.detach(), before[0]) and torch.equal(q.detach(), before[1])


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
@pytest.mark.parametrize("key", ["lr", "weight_decay"])
def test_infinite_hyperparameters_are_rejected_naming_them(e, key):
    with pytest.raises(ValueError, match=f"Invalid {key}: inf"):
        e.cls([_p(3)], **{**e.typical, key: float("inf")})


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_a_rejected_param_group_is_not_kept(e):
    a, b = _p(3), _p(2, seed=1)
    opt = e.cls([a], **e.typical)
    groups = [dict(g) for g in opt.param_groups]
    with pytest.raises(ValueError, match="lr"):
        opt.add_param_group({"params": [b], "lr": -1.0})
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["params"] == [a]
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == \
        [{k: v for k, v in g.items() if k != "params"} for g in groups]
    opt.add_param_group({"params": [b]})  # b is free to be added properly afterwards
    assert len(opt.param_groups) == 2


@pytest.mark.parametrize("e", ANCHORED, ids=lambda e: e.name)
@pytest.mark.parametrize("name", ["bfloat16", "torch.bfloat16"])
def test_anchor_dtype_by_name_as_a_config_writes_it(e, name):
    a = _p(4)
    opt = e.cls([a], **{**e.typical, "anchor_dtype": name})
    assert opt.param_groups[0]["anchor_dtype"] is torch.bfloat16
    opt.capture_anchors()
    assert opt.state[a]["anchor"].dtype == torch.bfloat16
    with pytest.raises(ValueError, match="anchor_dtype: torch.int8"):
        e.cls([_p(2)], **{**e.typical, "anchor_dtype": "int8"})
    with pytest.raises(ValueError, match="anchor_dtype.*'floaty'"):
        e.cls([_p(2)], **{**e.typical, "anchor_dtype": "floaty"})


def _trained(e, *params, **kw):
    opt = e.cls(list(params), **{**e.typical, **kw})
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    return opt


@pytest.mark.parametrize("e", ANCHORED, ids=lambda e: e.name)
def test_loaded_bf16_anchors_keep_their_dtype_bit_exactly(e):
    a = _p(4, 3)
    opt = _trained(e, a, anchor_dtype=torch.bfloat16)
    sd = copy.deepcopy(opt.state_dict())
    fresh = e.cls([a], **{**e.typical, "anchor_dtype": torch.bfloat16})
    fresh.load_state_dict(sd)
    got = fresh.state[a]["anchor"]
    assert got.dtype == torch.bfloat16 and torch.equal(got, opt.state[a]["anchor"])


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_a_state_dict_that_does_not_fit_is_refused_and_changes_nothing(e):
    a, b = _p(4, 3), _p(5, seed=1)
    sd = _trained(e, a).state_dict()
    bad = copy.deepcopy(sd)
    bad["param_groups"][0]["lr"] = -1.0
    other = e.cls([b], **e.typical)
    before = _snapshot(other)
    with pytest.raises(ValueError, match="param group 0.*lr"):
        other.load_state_dict(bad)
    # a state from a model with other shapes
    with pytest.raises(ValueError, match=r"shape \(4, 3\), the parameter \(5,\)"):
        other.load_state_dict(copy.deepcopy(sd))
    after = _snapshot(other)
    _state_equal(before[0], after[0])
    assert before[1] == after[1]


@pytest.mark.parametrize("e", ANCHORED, ids=lambda e: e.name)
def test_a_loaded_state_without_anchors_warns(e):
    a = _p(4, 3)
    sd = _trained(e, a).state_dict()
    for st in sd["state"].values():
        st.pop("anchor", None)
    assert all(sd["state"].values())  # the rest of the state (step, moments) is still there
    fresh = e.cls([a], **e.typical)
    with pytest.warns(UserWarning, match="no anchor"):
        fresh.load_state_dict(sd)


@pytest.mark.parametrize("name", ["SPDSGD", "SPDAdamW"])
def test_spd_is_nan_safe_when_a_norm_overflows(name):
    e = O.get_optimizer_info(name)
    # elements of ~1e22 after the step: their squared norm overflows fp32 (inf / inf = nan)
    a = torch.zeros(100, requires_grad=True)
    opt = e.cls([a], lr=1.0, **({"momentum": 0.0} if name == "SPDSGD" else {}))
    a.grad = torch.full_like(a, 1e22)
    opt.step()                       # first step: c = 0, the gate is closed
    assert torch.isfinite(a).all()
    a.grad = torch.full_like(a, 1e22)
    opt.step()                       # deviation and gradient agree: the gate opens, ratio 1
    assert torch.isfinite(a).all()


@pytest.mark.parametrize("e", ALL, ids=lambda e: e.name)
def test_complex_parameters_are_refused_at_construction(e):
    z = torch.zeros(3, dtype=torch.complex64, requires_grad=True)
    with pytest.raises(ValueError, match="complex parameters"):
        e.cls([z], **e.typical)


FUSED = [e for e in ALL if e.supports_fused]


@pytest.mark.cpu_fused
@pytest.mark.parametrize("e", FUSED, ids=lambda e: e.name)
def test_fused_steps_on_channels_last_and_non_dense_params_equal_the_for_loop(e):
    """torch's fused kernels assume one contiguous layout: such tensors take the for-loop path."""
    def make():
        torch.manual_seed(0)
        conv = torch.randn(4, 3, 3, 3).to(memory_format=torch.channels_last).requires_grad_()
        base = torch.randn(6, 8)
        strided = base[:, ::2].clone().t().requires_grad_()  # a transposed (non-contiguous) tensor
        plain = torch.randn(5, requires_grad=True)
        return [conv, strided, plain]
    results = []
    for fused in (False, True):
        ps = make()
        opt = e.cls(ps, **{**e.typical, "fused": fused})
        for k in range(3):
            for j, p in enumerate(ps):
                g = torch.sin(torch.arange(p.numel(), dtype=p.dtype) * (k + 1 + j)).reshape(p.shape)
                p.grad = g.contiguous(memory_format=torch.channels_last) if p.dim() == 4 else g
            opt.step()
        results.append([p.detach().clone() for p in ps])
        assert ps[0].is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
