"""The fallbacks of ``dualopt_mm.optim._compat`` for older torch (the package supports >= 2.1).

Each fallback runs natively in the compatibility leg (torch 2.1); here it is also forced on the
installed torch by switching its capability flag off, and must give what the native path gives.
"""
import re
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

import dualopt_mm.optim as O
from dualopt_mm.optim import _compat

ALL = O.get_optimizer_info()
FUSED = [e for e in ALL if e.supports_fused]


def _params(seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=dtype).requires_grad_() for s in [(3, 4), (4,), (2, 2)]]


def _train(opt, params, steps=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=g, dtype=p.dtype)
        opt.step()
    return [p.detach().clone() for p in params]


def test_detected_fused_devices_say_what_torch_itself_does():
    # the flag comes from torch's device list; torch's own AdamW must agree about CPU
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.ones(2)
    try:
        torch.optim.AdamW([p], lr=0.1, fused=True).step()
        torch_has_it = True
    except RuntimeError:
        torch_has_it = False
    assert ("cpu" in _compat.FUSED_DEVICES) == torch_has_it


@pytest.mark.parametrize("e", FUSED, ids=lambda e: e.name)
def test_fused_without_a_cpu_kernel_is_refused_naming_the_torch_needed(e, monkeypatch):
    # natively on torch < 2.4; forced on a newer one
    monkeypatch.setattr(_compat, "FUSED_DEVICES", _compat.FUSED_DEVICES - {"cpu"})
    need = r"torch >= 2\.3" if e.base == "sgd" and not _compat.FUSED_SGD else r"torch >= 2\.4"
    this = re.escape(torch.__version__)
    with pytest.raises(RuntimeError, match=rf"fused=True .* needs {need} \(this is torch {this}\)"):
        e.cls(_params(), **e.typical, fused=True)
    # a group added later is refused and not kept; the default path still trains
    opt = e.cls(_params(), **e.typical)
    with pytest.raises(RuntimeError, match=need):
        opt.add_param_group(dict(params=[torch.zeros(3, requires_grad=True)], fused=True))
    assert len(opt.param_groups) == 1
    params = opt.param_groups[0]["params"]
    before = [p.detach().clone() for p in params]
    assert any(not torch.equal(a, b) for a, b in zip(before, _train(opt, params)))


@pytest.mark.parametrize("e", [e for e in FUSED if e.base == "sgd"], ids=lambda e: e.name)
def test_fused_sgd_needs_torch_2_3(e, monkeypatch):
    monkeypatch.setattr(_compat, "FUSED_SGD", False)
    with pytest.raises(RuntimeError, match=r"SGD-based optimizer needs torch >= 2\.3"):
        e.cls(_params(), **e.typical, fused=True)


@pytest.mark.parametrize("e", [e for e in ALL if e.base == "sgd" and e.supports_foreach],
                         ids=lambda e: e.name)
def test_sgd_foreach_path_without_the_fused_argument(e, monkeypatch):
    # torch < 2.3's functional sgd() has no fused= argument: the foreach path must not pass it
    want = _train(e.cls(ps := _params(), **e.typical, foreach=False), ps)
    monkeypatch.setattr(_compat, "_SGD_FUSED_KWARG", False)
    got = _train(e.cls(ps := _params(), **e.typical, foreach=True), ps)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("e", [e for e in ALL if e.base == "adamw" and e.supports_foreach],
                         ids=lambda e: e.name)
@pytest.mark.parametrize("native", [True, False], ids=["native-dispatch", "adam-or-adamw"])
def test_adamw_family_foreach_path_with_either_functional_form(e, native, monkeypatch):
    # torch < 2.7 has no adam(decoupled_weight_decay=): decoupled decay goes through adamw()
    # (on torch 2.6 the keyword was a TypeError at the first foreach step)
    want = _train(e.cls(ps := _params(), **e.typical, foreach=False), ps)
    if not native:
        monkeypatch.setattr(_compat, "_ADAM_DECOUPLED_KWARG", False)
    got = _train(e.cls(ps := _params(), **e.typical, foreach=True), ps)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_l2sp_adamw_coupled_decay_through_plain_adam(monkeypatch):
    # L2-SP folds its pull into a coupled decay: the fallback must pick adam(), not adamw()
    e = O.OPTIMIZERS_INFO["L2SPAdamW"]
    want = _train(e.cls(ps := _params(), **e.typical, foreach=False), ps)
    monkeypatch.setattr(_compat, "_ADAM_DECOUPLED_KWARG", False)
    got = _train(e.cls(ps := _params(), **e.typical, foreach=True), ps)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_addcmul_fallback_rounds_once_like_the_kernel(monkeypatch):
    g = torch.Generator().manual_seed(0)
    t = torch.randn(1000, generator=g).to(torch.bfloat16)
    a = torch.randn(1000, generator=g)
    b = torch.rand(1000, generator=g).to(torch.bfloat16)
    want = (t.float() + (-0.37) * a * b.float()).to(torch.bfloat16)
    monkeypatch.setattr(_compat, "_MIXED_ADDCMUL", False)
    got = _compat.addcmul_(t.clone(), a, b, value=-0.37)
    assert got.dtype == torch.bfloat16 and torch.equal(got, want)
    monkeypatch.undo()
    if _compat._MIXED_ADDCMUL:  # the torch kernel itself, where it can mix dtypes in place
        assert torch.equal(t.clone().addcmul_(a, b, value=-0.37), want)


@pytest.mark.parametrize("name", ["SPDAdamW", "SPDSGD"])
def test_bf16_spd_pull_with_fp32_anchors_either_way(name, monkeypatch):
    # the SPD pull is the in-place bf16 addcmul_ with an fp32 operand that torch < 2.3 asserts on
    e = O.OPTIMIZERS_INFO[name]
    runs = []
    for mixed in (_compat._MIXED_ADDCMUL, False):
        monkeypatch.setattr(_compat, "_MIXED_ADDCMUL", mixed)
        ps = _params(dtype=torch.bfloat16)
        opt = e.cls(ps, lr=0.05, **e.typical)
        runs.append(_train(opt, ps, steps=5))
        assert opt.state[ps[0]]["anchor"].dtype == torch.float32
    for a, b in zip(*runs):
        assert a.dtype == torch.bfloat16 and torch.equal(a, b)


@pytest.mark.parametrize("native", [True, False], ids=["native", "fallback"])
def test_named_parameters_on_any_torch(native, monkeypatch):
    if not native:
        monkeypatch.setattr(_compat, "NAMED_PARAMS", False)
    m = nn.Linear(2, 2)
    opt = O.DualOptAdamW(m.named_parameters(), lr=0.1, rollback=0.1)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.param_groups[0]["params"] == [m.weight, m.bias]
    opt.add_param_group(dict(params=[("extra", torch.zeros(3, requires_grad=True))], pretrained=False))
    assert opt.param_groups[1]["param_names"] == ["extra"]
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group(dict(params=[("a", torch.zeros(1, requires_grad=True)),
                                         torch.zeros(1, requires_grad=True)]))
    assert len(opt.param_groups) == 2
    m(torch.randn(3, 2)).sum().backward()
    opt.step()


@pytest.mark.parametrize("native", [True, False], ids=["native", "fallback"])
def test_nonfinite_check_without_the_cpu_kernel(native, monkeypatch):
    if not native:
        monkeypatch.setattr(_compat, "CPU_NONFINITE_KERNEL", False)
    ps = _params()
    opt = O.DualOptSGD(ps, lr=0.1)
    _train(opt, ps, steps=1)
    before = [p.detach().clone() for p in ps]
    ps[1].grad = torch.tensor([0.0, float("nan"), 0.0, 0.0], dtype=ps[1].dtype)
    with pytest.warns(RuntimeWarning, match="skipped"):
        opt.step()
    assert opt.skipped_steps == 1 and all(torch.equal(a, b) for a, b in zip(ps, before))
    ps[1].grad = torch.full((4,), 1e308, dtype=ps[1].dtype)  # sums overflow, values are finite
    opt.step()
    assert opt.skipped_steps == 1


@pytest.mark.parametrize("default", [torch.float32, torch.float64])
def test_step_dtype_without_torchs_helper(default, monkeypatch):
    native = [_compat.scalar_dtype(is_fused=f) for f in (None, False, True)]
    monkeypatch.setattr(_compat, "_get_scalar_dtype", None)
    old = torch.get_default_dtype()
    torch.set_default_dtype(default)
    try:
        got = [_compat.scalar_dtype(is_fused=f) for f in (None, False, True)]
        monkeypatch.undo()
        assert got == [_compat.scalar_dtype(is_fused=f) for f in (None, False, True)]
    finally:
        torch.set_default_dtype(old)
    assert native[2] == got[2] == torch.float32
    assert got[0] == default


def test_a_torch_below_the_floor_is_refused_at_import():
    code = ("import torch\ntorch.__version__ = torch.torch_version.TorchVersion('2.0.1')\n"
            "import dualopt_mm.optim\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert "ImportError: dualopt_mm needs torch >= 2.1, this is torch 2.0.1" in out.stderr
