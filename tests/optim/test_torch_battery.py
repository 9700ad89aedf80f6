"""Property suite on torch's own optimizer test battery (``common_optimizers``).

Each optimizer of ``dualopt_mm.optim`` is described by a torch ``OptimizerInfo`` whose
``optim_inputs_func`` yields several ``OptimizerInput`` configurations (default, non-default and
tensor lr, weight decay with ``maximize``, the method's typical setting, base-specific flags,
and param groups with different settings, ``layer_depth`` and ``pretrained=False``). The tests
are instantiated for CPU through ``instantiate_device_type_tests(..., only_for='cpu')`` and the
``@optims`` parametrizer, as torch's ``test/test_optim.py`` does (that file is not shipped in
the wheel; the properties are re-implemented here).

Convention for ``OptimizerInput.params``: ``None`` (one group of all test tensors) or a list of
group-option dicts *without* tensors; the tests distribute the tensors over those groups.

``torch.testing._internal`` is private: these tests pin the torch version they were written
against (2.13) only through the API they use, and are skipped if it is missing.
"""

import copy
import io
import unittest

import pytest
import torch

common_optimizers = pytest.importorskip("torch.testing._internal.common_optimizers")
common_device_type = pytest.importorskip("torch.testing._internal.common_device_type")
common_utils = pytest.importorskip("torch.testing._internal.common_utils")

import dualopt_mm.optim as O  # noqa: E402

OptimizerInfo = common_optimizers.OptimizerInfo
OptimizerInput = common_optimizers.OptimizerInput
ErrorOptimizerInput = common_optimizers.ErrorOptimizerInput
optims = common_optimizers.optims
F64 = torch.float64


# ---------------------------------------------------------------------------------- inputs
def _inputs_func(entry):
    sgd = entry.base == "sgd"
    lr = 0.05 if sgd else 0.02
    typical = dict(entry.typical)
    seed = dict(seed=typical.pop("seed")) if "seed" in typical else {}

    def func(device, dtype=None):
        inputs = [
            OptimizerInput(params=None, kwargs=dict(seed), desc="default"),
            OptimizerInput(params=None, kwargs=dict(lr=lr, **typical, **seed), desc="typical"),
            OptimizerInput(params=None, kwargs=dict(lr=torch.tensor(lr), **typical, **seed),
                           desc="tensor lr"),
            OptimizerInput(params=None, kwargs=dict(lr=lr, weight_decay=0.1, maximize=True,
                                                    **typical, **seed),
                           desc="maximize with weight_decay"),
            OptimizerInput(params=None, kwargs=dict(lr=lr, **entry.neutral, **seed),
                           desc="neutral setting"),
            OptimizerInput(
                params=[dict(layer_depth=0.0, **typical),
                        dict(layer_depth=0.5, lr=lr / 2),  # class defaults for the method keys
                        dict(pretrained=False, lr=lr * 2, weight_decay=0.05)],
                kwargs=dict(lr=lr, **seed), desc="groups: layer_depth, pretrained=False"),
        ]
        if sgd:
            inputs += [
                OptimizerInput(params=None, kwargs=dict(lr=lr, momentum=0.9, nesterov=True,
                                                        weight_decay=0.01, **typical, **seed),
                               desc="nesterov"),
                OptimizerInput(params=None, kwargs=dict(lr=lr, momentum=0.5, dampening=0.3,
                                                        **typical, **seed), desc="dampening"),
                OptimizerInput(params=None, kwargs=dict(lr=lr, momentum=0.0, **typical, **seed),
                               desc="no momentum"),
            ]
        else:
            inputs += [
                OptimizerInput(params=None, kwargs=dict(lr=lr, amsgrad=True, betas=(0.8, 0.99),
                                                        **typical, **seed), desc="amsgrad"),
            ]
        return inputs

    return func


def _error_inputs_func(entry):
    def func(device, dtype):
        errs = common_optimizers.get_error_inputs_for_all_optims(device, dtype)
        p = torch.nn.Parameter(torch.randn(2, device=device, dtype=dtype))
        errs += [
            ErrorOptimizerInput(OptimizerInput(params=[p], kwargs=dict(lr=-0.1), desc="lr < 0"),
                                error_type=ValueError, error_regex="lr"),
            ErrorOptimizerInput(OptimizerInput(params=[p], kwargs=dict(weight_decay=-1.0),
                                               desc="weight_decay < 0"),
                                error_type=ValueError, error_regex="weight_decay"),
            ErrorOptimizerInput(OptimizerInput(params=[{"params": [p], "layer_depth": 1.5}],
                                               kwargs={}, desc="layer_depth > 1"),
                                error_type=ValueError, error_regex="layer_depth"),
            ErrorOptimizerInput(OptimizerInput(params=[p], kwargs=dict(foreach=True, fused=True),
                                               desc="fused and foreach"),
                                error_type=ValueError, error_regex="fused"),
        ]
        for key in entry.neutral:  # the method's own hyper-parameter, out of range
            bad = -1.0 if not isinstance(entry.neutral[key], bool) else "yes"
            errs.append(ErrorOptimizerInput(
                OptimizerInput(params=[p], kwargs={key: bad}, desc=f"invalid {key}"),
                error_type=ValueError, error_regex=key))
        if entry.base == "sgd":
            errs.append(ErrorOptimizerInput(
                OptimizerInput(params=[p], kwargs=dict(momentum=-0.5), desc="momentum < 0"),
                error_type=ValueError, error_regex="momentum"))
        else:
            errs.append(ErrorOptimizerInput(
                OptimizerInput(params=[p], kwargs=dict(betas=(1.0, 0.999)), desc="beta1 = 1"),
                error_type=ValueError, error_regex="betas"))
        return errs

    return func


def _optim_info(entry):
    impls = tuple(i for i, ok in (("foreach", entry.supports_foreach),
                                  ("fused", entry.supports_fused)) if ok)
    return OptimizerInfo(
        entry.cls,
        optim_inputs_func=_inputs_func(entry),
        optim_error_inputs_func=_error_inputs_func(entry),
        supported_impls=impls,
        supports_fused_on=("cpu",) if entry.supports_fused else (),
        supports_complex=False,
        supports_sparse=False,
    )


OPTIM_DB = [_optim_info(e) for e in O.get_optimizer_info()]
ENTRY = {e.cls: e for e in O.get_optimizer_info()}


# ---------------------------------------------------------------------------------- helpers
_SHAPES = [(4, 3), (3,), (0,), (2, 2, 2), (5,), (3, 2)]


def _tensors(device, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=dtype).to(device).requires_grad_()
            for s in _SHAPES]


def _build(optim_info, optim_input, device, dtype, seed=0, **impl):
    """Fresh tensors and an optimizer for ``optim_input`` (group specs get tensors in turn)."""
    ts = _tensors(device, dtype, seed)
    kwargs = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in optim_input.kwargs.items()}
    kwargs.update(impl)
    if optim_input.params is None:
        params = ts
    else:
        specs = optim_input.params
        chunks = [ts[i::len(specs)] for i in range(len(specs))]
        params = [dict(spec, params=chunk) for spec, chunk in zip(specs, chunks)]
    return ts, optim_info.optim_cls(params, **kwargs)


def _grads(ts, step, frozen=(), none=False):
    g = torch.Generator().manual_seed(1000 + step)
    for i, p in enumerate(ts):
        noise = torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device)
        p.grad = None if (none or i in frozen) else noise


def _state_tensors(opt):
    out = {}
    for gi, group in enumerate(opt.param_groups):
        for pi, p in enumerate(group["params"]):
            for k, v in opt.state.get(p, {}).items():
                out[(gi, pi, k)] = v
    return out


def _assert_same(test, ts_a, opt_a, ts_b, opt_b, atol):
    for a, b in zip(ts_a, ts_b):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=0, atol=atol)
    sa, sb = _state_tensors(opt_a), _state_tensors(opt_b)
    test.assertEqual(set(sa), set(sb))
    for k in sa:
        va, vb = sa[k], sb[k]
        if torch.is_tensor(va):
            torch.testing.assert_close(va.to(vb.dtype).cpu(), vb.cpu(), rtol=0, atol=atol,
                                       msg=str(k))
        else:
            test.assertEqual(va, vb)


def _fast_impls(optim_info):
    return [dict(foreach=True) if i == "foreach" else dict(fused=True)
            for i in optim_info.supported_impls]


# ---------------------------------------------------------------------------------- tests
class TestDualoptOptimBattery(common_utils.TestCase):
    """torch's optimizer properties, over every OptimizerInput of every optimizer."""

    @optims(OPTIM_DB, dtypes=[F64])
    def test_goes_right_direction(self, device, dtype, optim_info):
        for oi in optim_info.optim_inputs_func(device, dtype):
            # minimise sum p^2, or maximise -sum p^2 with maximize=True: both shrink |p|
            ts, opt = _build(optim_info, oi, device, dtype)
            maximize = oi.kwargs.get("maximize", False)
            sign = -1.0 if maximize else 1.0
            live = [p for p in ts if p.numel()]

            def loss():
                return sign * sum((p ** 2).sum() for p in live)

            with torch.no_grad():
                start = loss().item()
            for _ in range(8):
                opt.zero_grad()
                loss().backward()
                opt.step()
            with torch.no_grad():
                end = loss().item()
            if maximize:
                self.assertGreater(end, start, msg=f"{oi.desc}: {start} -> {end}")
            else:
                self.assertLess(end, start, msg=f"{oi.desc}: {start} -> {end}")

    @optims(OPTIM_DB, dtypes=[F64])
    def test_tensor_lr_equals_float_lr(self, device, dtype, optim_info):
        for oi in optim_info.optim_inputs_func(device, dtype):
            lr = oi.kwargs.get("lr")
            if lr is None or torch.is_tensor(lr):
                continue
            t_input = OptimizerInput(oi.params, dict(oi.kwargs, lr=torch.tensor(lr, dtype=F64)), oi.desc)
            for impl in [dict(foreach=False)] + _fast_impls(optim_info):
                ta, oa = _build(optim_info, oi, device, dtype, **impl)
                tb, ob = _build(optim_info, t_input, device, dtype, **impl)
                for step in range(5):
                    _grads(ta, step)
                    _grads(tb, step)
                    oa.step()
                    ob.step()
                _assert_same(self, ta, oa, tb, ob, atol=1e-12)

    @optims(OPTIM_DB, dtypes=[F64])
    def test_fast_paths_equal_forloop(self, device, dtype, optim_info):
        # float64, 7 steps, a zero-size tensor, a step with every grad None, a tensor frozen for
        # two steps; parameters and every state tensor compared
        impls = _fast_impls(optim_info)
        if not impls:
            self.skipTest("for-loop only")
        for oi in optim_info.optim_inputs_func(device, dtype):
            ref_ts, ref = _build(optim_info, oi, device, dtype, foreach=False)
            runs = [_build(optim_info, oi, device, dtype, **impl) for impl in impls]
            for step in range(7):
                for ts, opt in [(ref_ts, ref)] + runs:
                    _grads(ts, step, frozen=(1,) if step in (2, 3) else (), none=step == 4)
                    opt.step()
            for ts, opt in runs:
                _assert_same(self, ref_ts, ref, ts, opt, atol=1e-12)

    @optims(OPTIM_DB, dtypes=[F64])
    def test_state_dict_deterministic(self, device, dtype, optim_info):
        for oi in optim_info.optim_inputs_func(device, dtype):
            ta, oa = _build(optim_info, oi, device, dtype)
            for step in range(3):
                _grads(ta, step)
                oa.step()
            tb = [p.detach().clone().requires_grad_() for p in ta]
            _, ob = _build(optim_info, oi, device, dtype)
            # rebind the clone's groups to the copied tensors, then load
            twin = {id(a): b for a, b in zip(ta, tb)}
            for group, ga in zip(ob.param_groups, oa.param_groups):
                group["params"] = [twin[id(p)] for p in ga["params"]]
            ob.state.clear()
            ob.load_state_dict(copy.deepcopy(oa.state_dict()))
            for step in range(3, 13):
                _grads(ta, step)
                for a, b in zip(ta, tb):
                    b.grad = None if a.grad is None else a.grad.clone()
                oa.step()
                ob.step()
            order_a = [p for g in oa.param_groups for p in g["params"]]
            order_b = [p for g in ob.param_groups for p in g["params"]]
            _assert_same(self, order_a, oa, order_b, ob, atol=0)

    @optims(OPTIM_DB, dtypes=[F64])
    def test_save_load_weights_only(self, device, dtype, optim_info):
        for oi in optim_info.optim_inputs_func(device, dtype):
            ts, opt = _build(optim_info, oi, device, dtype)
            for step in range(2):
                _grads(ts, step)
                opt.step()
            buf = io.BytesIO()
            torch.save(opt.state_dict(), buf)
            buf.seek(0)
            sd = torch.load(buf, weights_only=True)
            ts2, opt2 = _build(optim_info, oi, device, dtype)
            with torch.no_grad():
                for a, b in zip(ts2, ts):
                    a.copy_(b)
            opt2.load_state_dict(sd)
            _grads(ts, 9)
            _grads(ts2, 9)
            opt.step()
            opt2.step()
            _assert_same(self, ts, opt, ts2, opt2, atol=0)

    @optims(OPTIM_DB, dtypes=[F64])
    def test_load_state_dict_without_new_group_keys(self, device, dtype, optim_info):
        entry = ENTRY[optim_info.optim_cls]
        newer = {"pretrained", "layer_depth", "maximize", "foreach", "fused", *entry.neutral}
        for oi in optim_info.optim_inputs_func(device, dtype):
            ts, opt = _build(optim_info, oi, device, dtype)
            _grads(ts, 0)
            opt.step()
            sd = opt.state_dict()
            old = dict(sd, param_groups=[{k: v for k, v in g.items() if k not in newer}
                                         for g in sd["param_groups"]])
            ts2, opt2 = _build(optim_info, oi, device, dtype)
            opt2.load_state_dict(old)
            for g in opt2.param_groups:
                self.assertTrue(newer <= set(g))  # back-filled from the defaults
            _grads(ts2, 1)
            opt2.step()

    @optims(OPTIM_DB, dtypes=[F64])
    def test_step_without_grads_is_noop(self, device, dtype, optim_info):
        for oi in optim_info.optim_inputs_func(device, dtype):
            ts, opt = _build(optim_info, oi, device, dtype)
            before = [p.detach().clone() for p in ts]
            opt.step()
            for a, b in zip(ts, before):
                self.assertTrue(torch.equal(a, b))
            self.assertEqual(len(opt.state), 0)

    @optims(OPTIM_DB, dtypes=[F64])
    def test_repr_deepcopy_hooks(self, device, dtype, optim_info):
        oi = optim_info.optim_inputs_func(device, dtype)[-1]
        ts, opt = _build(optim_info, oi, device, dtype)
        self.assertIn(optim_info.name, repr(opt))
        calls = []
        h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
        h2 = opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
        h3 = opt.register_state_dict_post_hook(lambda o, sd: sd.setdefault("marker", 1) and sd)
        _grads(ts, 0)
        opt.step()
        self.assertEqual(calls, ["pre", "post"])
        self.assertEqual(opt.state_dict()["marker"], 1)
        for h in (h1, h2, h3):
            h.remove()
        clone = copy.deepcopy(opt)
        for k, v in vars(opt).items():
            if not k.startswith("_") and k not in ("state", "param_groups"):
                self.assertTrue(hasattr(clone, k), k)

    @optims(OPTIM_DB, dtypes=[torch.float32])
    def test_errors(self, device, dtype, optim_info):
        for ei in optim_info.optim_error_inputs_func(device, dtype):
            oi = ei.optimizer_error_input
            params = oi.params
            if params is None:
                params = [torch.nn.Parameter(torch.randn(2, device=device, dtype=dtype))]
            if issubclass(ei.error_type, Warning):
                with self.assertWarnsRegex(ei.error_type, ei.error_regex):
                    optim_info.optim_cls(params, **oi.kwargs)
            else:
                with self.assertRaisesRegex(ei.error_type, ei.error_regex, msg=oi.desc):
                    optim_info.optim_cls(params, **oi.kwargs)


common_device_type.instantiate_device_type_tests(TestDualoptOptimBattery, globals(),
                                                 only_for="cpu")

if __name__ == "__main__":  # pragma: no cover
    unittest.main()
