"""The shared optimizer engine: validation, lazy state, the step loop and the three paths.

Every named optimizer is a thin subclass of :class:`ComposedOptimizer` that picks a base
(``'sgd'`` or ``'adamw'``) and overrides a few small hooks, each implemented once in its own
module:

* ``_lr_factor``  -- a multiplier on the step's learning rate (random scaling);
* ``_grad_for_base`` / ``_multi_grads`` -- rewrite the gradient the base sees (L2-SP);
* ``_pre`` -- measurements taken before the base step (SPD's inner product and norm);
* ``_apply`` -- the final apply (additive by default; multiplicative/hybrid for GOFAU);
* ``_post`` -- the anchor pull after the base step (DualOpt rollback / decay, SPD).

Paths: ``foreach=False`` (default on CPU) is the readable for-loop reference; ``fused=True``
runs the base step through torch's fused kernels and ``foreach=True`` through torch's
multi-tensor code. Classes with per-tensor work (``_pipelined``) run the fused path on CPU
tensor by tensor -- ``_pre``, ``_fused_grad``, torch's fused kernel on that tensor
(:func:`fused_step_one_`), ``_fused_post`` -- so the extra passes find the tensor in cache;
elsewhere the kernel takes the whole list. Per-tensor temporaries go into reused work buffers
(:meth:`ComposedOptimizer._scratch`); only the list form of L2-SP's gradient build allocates
(one kernel launch needs every tensor's gradient at once).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from . import _compat
from ._anchor import capture_anchor_, depth_map, group_depth
from ._base import (
    adam_direction_,
    apply_additive_,
    as_scalar,
    base_step_multi_,
    fused_step_one_,
    init_adam_state,
    sgd_direction_,
)

__all__ = ["ComposedOptimizer", "check_range", "NONFINITE_MODES"]

NONFINITE_MODES = ("skip", "raise", "ignore")


def _fmt(v: Any) -> str:
    return repr(v.item()) if isinstance(v, Tensor) and v.numel() == 1 else repr(v)


def check_range(name: str, value: Any, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False, hi_open: bool = False) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``lo <=/< value <=/< hi``."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name}: a tensor value must have one element, got shape "
                             f"{tuple(value.shape)}")
        v = float(value.detach().cpu())
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    else:
        v = float(value)
    if math.isinf(v):
        # no hyper-parameter of these optimizers means anything at infinity (lr=inf destroys the
        # weights at the first step); "no clipping" etc. is spelt None where it exists
        raise ValueError(f"Invalid {name}: {_fmt(value)} (expected a finite number)")
    ok = not math.isnan(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        lb = "(" if lo_open else "["
        hb = ")" if hi_open else "]"
        lo_s = "-inf" if lo is None else lo
        hi_s = "inf" if hi is None else hi
        raise ValueError(f"Invalid {name}: {_fmt(value)} (expected {name} in {lb}{lo_s}, {hi_s}{hb})")


def _sum_check(ts: list[Tensor]) -> bool:
    # read-only fallback: per-tensor sums, exact re-check where a finite sum overflowed
    sums = torch.stack([t.sum(dtype=torch.promote_types(t.dtype, torch.float32)) for t in ts])
    if bool(torch.isfinite(sums).all()):
        return True
    bad = (~torch.isfinite(sums)).nonzero().flatten().tolist()
    return all(bool(torch.isfinite(ts[i]).all()) for i in bad)


def _all_finite(tensors: list[Tensor]) -> bool:
    """Are all tensors finite? One multi-tensor kernel and one host sync per device.

    Uses the kernel ``torch.amp.GradScaler`` uses (``_amp_foreach_non_finite_check_and_unscale_``
    with scale 1: an exact per-element check that leaves the values as they are). Gradients that
    are themselves part of a graph (``create_graph=True``), and CPU tensors on a torch without the
    kernel's CPU version (before 2.3), are checked read-only instead (the same verdict).
    """
    by_device: dict[torch.device, list[Tensor]] = {}
    for t in tensors:
        by_device.setdefault(t.device, []).append(t)
    for device, ts in by_device.items():
        if (any(t.requires_grad or not t.is_floating_point() for t in ts)
                or (device.type == "cpu" and not _compat.CPU_NONFINITE_KERNEL)):
            if not _sum_check(ts):
                return False
            continue
        found = torch.zeros(1, dtype=torch.float32, device=device)
        try:
            torch._amp_foreach_non_finite_check_and_unscale_(
                ts, found, torch.ones(1, dtype=torch.float32, device=device))
        except RuntimeError:  # e.g. an expanded (overlapping) gradient cannot be written
            if not _sum_check(ts):
                return False
            continue
        if bool(found):
            return False
    return True


class ComposedOptimizer(Optimizer):
    """Base class of every optimizer in :mod:`dualopt_mm.optim` (see module docstring)."""

    _base: str = "sgd"  # 'sgd' | 'adamw'
    _uses_anchors: bool = False
    _supports_fused: bool = True
    _supports_foreach: bool = True
    # fused path: run pre-measure, base kernel and post-pull tensor by tensor (cache locality
    # on CPU; on GPUs one multi-tensor launch per list is cheaper, unless the class needs it)
    _pipelined: bool = False
    _pipeline_any_device: bool = False

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        defaults.setdefault("pretrained", True)
        defaults.setdefault("layer_depth", None)
        defaults.setdefault("maximize", False)
        defaults.setdefault("foreach", None)
        defaults.setdefault("fused", None)
        defaults.setdefault("differentiable", False)
        nonfinite = defaults.pop("nonfinite", "skip")
        if nonfinite not in NONFINITE_MODES:
            raise ValueError(f"Invalid nonfinite: {nonfinite!r} (expected one of {NONFINITE_MODES})")
        self.nonfinite = nonfinite
        self._check_hyperparameters(defaults)
        if defaults["fused"] and defaults["foreach"]:
            raise ValueError("fused and foreach cannot both be True")
        if defaults["fused"] and not self._supports_fused:
            raise ValueError(f"fused=True is not supported by {type(self).__name__}")
        if defaults["differentiable"]:
            raise ValueError("differentiable=True is not supported")
        self.skipped_steps = 0
        super().__init__(params, defaults)

    # ------------------------------------------------------------------ validation
    def _check_hyperparameters(self, g: dict[str, Any]) -> None:
        """Validate one group (or the defaults); subclasses extend ``_check_extra``."""
        lr = g["lr"]
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("lr: Tensor lr must be 1-element (a tensor lr must have one element)")
        check_range("lr", lr, 0.0)
        check_range("weight_decay", g["weight_decay"], 0.0)
        if self._base == "sgd":
            check_range("momentum", g["momentum"], 0.0, 1.0)
            check_range("dampening", g["dampening"], 0.0, 1.0)
            if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
                raise ValueError("nesterov: Nesterov momentum requires a momentum > 0 and "
                                 "zero dampening")
        else:
            check_range("eps", g["eps"], 0.0)
            betas = g["betas"]
            if not isinstance(betas, (tuple, list)) or len(betas) != 2:
                raise ValueError(f"Invalid betas: {betas!r} (expected a pair)")
            check_range("betas[0]", betas[0], 0.0, 1.0, hi_open=True)
            check_range("betas[1]", betas[1], 0.0, 1.0, hi_open=True)
        d = g.get("layer_depth")
        if d is not None:
            check_range("layer_depth", d, 0.0, 1.0)
        if not isinstance(g.get("pretrained", True), bool):
            raise ValueError(f"Invalid pretrained: {g['pretrained']!r} (expected a bool)")
        self._check_extra(g)

    def _check_extra(self, g: dict[str, Any]) -> None:  # pragma: no cover - overridden
        pass

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        _compat.split_named_params(param_group)
        super().add_param_group(param_group)
        try:
            if any(p.is_complex() for p in self.param_groups[-1]["params"]):
                raise ValueError(f"{type(self).__name__} does not support complex parameters (the anchored "
                                 "pulls, gates and multiplicative updates are defined for real tensors); "
                                 "optimize torch.view_as_real(p) instead")
            self._check_hyperparameters(self.param_groups[-1])
            if self.param_groups[-1]["fused"]:
                _compat.check_fused(self._base, self.param_groups[-1]["params"])
        except (ValueError, RuntimeError):
            self.param_groups.pop()  # a rejected group is not kept: a failed call changes nothing
            raise

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's ``load_state_dict``, after checking that the state fits: every loaded group's
        hyper-parameters valid, every per-parameter tensor of the parameter's shape (otherwise
        ``ValueError`` naming the group / parameter, and nothing changes). Anchors keep the dtype
        they were saved in (torch casts every state tensor to the parameter's dtype: bf16 anchors
        would double in memory and lose bit-exact resume). An anchored parameter whose loaded
        state shows training but has no anchor gets a warning: its anchor would be captured from
        the already trained weights."""
        import itertools
        import warnings
        groups = state_dict.get("param_groups", [])
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(groups)} parameter groups, this optimizer "
                             f"{len(self.param_groups)}")
        for i, g in enumerate(groups):
            merged = {**self.defaults, **{k: v for k, v in g.items() if k != "params"}}
            try:
                self._check_hyperparameters(merged)
            except ValueError as e:
                raise ValueError(f"loaded state dict, param group {i}: {e}") from None
        index = dict(zip(itertools.chain.from_iterable(g["params"] for g in groups),
                         itertools.chain.from_iterable(g["params"] for g in self.param_groups)))
        anchor_dtypes = {}
        for k, st in state_dict.get("state", {}).items():
            p = index.get(k)
            if p is None or not isinstance(st, dict):
                continue
            for name, v in st.items():
                if isinstance(v, Tensor) and name != "step" and v.dim() > 0 and v.shape != p.shape:
                    raise ValueError(f"loaded state dict: state {name!r} of parameter {k} has shape "
                                     f"{tuple(v.shape)}, the parameter {tuple(p.shape)} (a state from "
                                     "another model?)")
            if isinstance(st.get("anchor"), Tensor):
                anchor_dtypes[p] = st["anchor"].dtype
        super().load_state_dict(state_dict)
        for p, dtype in anchor_dtypes.items():
            st = self.state[p]
            if st["anchor"].dtype != dtype:
                st["anchor"] = st["anchor"].to(dtype)  # back from the cast: exact (it was widened)
        missing = 0
        for group in self.param_groups:
            if self._uses_anchors and self._group_anchored(group):
                missing += sum(1 for p in group["params"] if self.state.get(p) and "anchor" not in self.state[p])
        if missing:
            warnings.warn(f"{type(self).__name__}.load_state_dict: {missing} anchored parameter(s) have "
                          "optimizer state but no anchor; their anchors will be captured from the current "
                          "(already trained) weights at the next step", stacklevel=2)

    def __getstate__(self) -> dict[str, Any]:
        # torch keeps only defaults/state/param_groups; keep every public attribute too, so
        # deepcopy / pickle preserve e.g. nonfinite, skipped_steps, last_scale
        st = super().__getstate__()
        for k, v in self.__dict__.items():
            if not k.startswith("_"):
                st.setdefault(k, v)
        return st

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # back-fill keys that did not exist when an older state dict was saved
        for group in self.param_groups:
            for k, v in self.defaults.items():
                group.setdefault(k, v)
        self.__dict__.setdefault("nonfinite", "skip")
        self.__dict__.setdefault("skipped_steps", 0)

    # ------------------------------------------------------------------ hooks
    def _group_anchored(self, group: dict) -> bool:
        """Whether this group's tensors carry anchors."""
        return self._uses_anchors and bool(group.get("pretrained", True))

    def _needs_depth(self, group: dict) -> bool:
        return False

    def _begin_step(self) -> None:
        """Called once per non-skipped step, before any group is updated."""

    def _lr_factor(self, group: dict) -> float:
        return 1.0

    def _base_weight_decay(self, group: dict) -> float:
        return group["weight_decay"]

    def _grad_for_base(self, group, p, grad, state, maximize):
        return grad, maximize

    def _multi_grads(self, group, params, grads, states, weight_decay, maximize):
        """Fast-path counterpart of ``_grad_for_base``: (grads, weight_decay, maximize, decoupled)."""
        return grads, weight_decay, maximize, True

    def _fused_grad(self, group, p, grad, state, weight_decay, maximize):
        """Per-tensor counterpart of ``_multi_grads`` for the pipelined fused path."""
        return grad, weight_decay, maximize, True

    def _fused_lr(self, group, lr):
        """The lr the pipelined fused path hands to torch's kernel (hybrid: (1 - gamma) lr)."""
        return lr

    def _fused_post(self, group, p, state, ctx, depth) -> None:
        """After the kernel on the pipelined fused path (default: the common ``_post``)."""
        self._post(group, p, state, ctx, depth)

    def _pre(self, group, p, grad, state):
        return None

    def _apply(self, group, p, direction) -> None:
        apply_additive_(p, direction)

    def _post(self, group, p, state, ctx, depth) -> None:
        pass

    # ------------------------------------------------------------------ state
    def _scratch(self, p: Tensor, slot: int = 0) -> Tensor:
        """A reusable work buffer shaped like ``p`` (not optimizer state; never saved).

        One flat buffer per (device, dtype, slot), grown to the largest tensor seen:
        temporaries of the per-tensor pieces reuse it instead of allocating fresh memory for
        every tensor. The shaped views are cached per parameter (Python overhead matters at
        161 tensors per step).
        """
        ws = self.__dict__.setdefault("_workspace", {})
        key = (p.device, p.dtype, slot)
        entry = ws.get(key)
        if entry is None or entry[0].numel() < p.numel():
            entry = (torch.empty(p.numel(), dtype=p.dtype, device=p.device), {})
            ws[key] = entry
        views = entry[1]
        v = views.get(id(p))
        if v is None or v.shape != p.shape:
            v = entry[0][: p.numel()].view(p.shape)
            views[id(p)] = v
        return v

    def _init_state(self, group: dict, p: Tensor, fused: bool) -> None:
        state = self.state[p]
        if self._base == "adamw":
            init_adam_state(state, p, group.get("amsgrad", False), fused)
        if self._group_anchored(group):
            capture_anchor_(state, p, group.get("anchor_dtype"))

    @torch.no_grad()
    def capture_anchors(self) -> int:
        """Capture every missing anchor now (what the lazy first-step capture does).

        Returns the number of anchors captured. Groups with ``pretrained=False`` are skipped.
        """
        n = 0
        for group in self.param_groups:
            if not self._group_anchored(group):
                continue
            for p in group["params"]:
                n += capture_anchor_(self.state[p], p, group.get("anchor_dtype"))
        return n

    def _impl(self, group: dict, params: list[Tensor]) -> str:
        if group["fused"]:
            return "fused"
        foreach = group["foreach"]
        if foreach is None:
            foreach = bool(params) and all(p.device.type == "cuda" for p in params)
        return "foreach" if foreach and self._supports_foreach else "single"

    # ------------------------------------------------------------------ step
    @torch.no_grad()
    def step(self, closure=None):
        """Perform a single optimization step.

        Args:
            closure (Callable, optional): a closure that re-evaluates the model and returns the
                loss.

        Parameters without a gradient are left untouched (value and state). If any gradient is
        non-finite the behaviour follows ``nonfinite``: ``'skip'`` (default) changes nothing
        (parameters, moments, anchors, step counts, random draws), warns and counts the step in
        ``skipped_steps``; ``'raise'`` raises ``FloatingPointError``; ``'ignore'`` lets the
        values through as torch.optim does.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        work = []
        all_grads: list[Tensor] = []
        for group in self.param_groups:
            params, grads = [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                params.append(p)
                grads.append(p.grad)
            work.append((group, params, grads))
            all_grads.extend(grads)
        if not all_grads:
            return loss
        if self.nonfinite != "ignore" and not _all_finite(all_grads):
            if self.nonfinite == "raise":
                raise FloatingPointError(
                    f"{type(self).__name__}.step(): non-finite gradient (nonfinite='raise')")
            self.skipped_steps += 1
            warnings.warn(f"{type(self).__name__}.step(): non-finite gradient, step skipped "
                          "(nothing changed)", RuntimeWarning, stacklevel=2)
            return loss

        self._begin_step()
        order_depth = None
        if any(self._needs_depth(g) and g.get("layer_depth") is None for g in self.param_groups):
            order_depth = depth_map(self.param_groups)
        for group, params, grads in work:
            if not params:
                continue
            impl = self._impl(group, params)
            depths = ([group_depth(group, p, order_depth) for p in params]
                      if self._needs_depth(group) else [0.0] * len(params))
            odd = []
            if impl == "fused":
                # torch's fused kernels assume one dense, contiguous layout for a parameter, its
                # gradient and the work buffers: channels_last or non-dense tensors take the
                # for-loop path (same numbers), tensor by tensor
                odd = [i for i, (p, g) in enumerate(zip(params, grads))
                       if not (p.is_contiguous() and g.is_contiguous())]
            if odd:
                keep = [i for i in range(len(params)) if i not in set(odd)]
                for idx, sub_impl in ((odd, "single"), (keep, "fused")):
                    if idx:
                        self._run_group(group, [params[i] for i in idx], [grads[i] for i in idx],
                                        [depths[i] for i in idx], sub_impl)
            else:
                self._run_group(group, params, grads, depths, impl)
        return loss

    def _run_group(self, group, params, grads, depths, impl: str) -> None:
        for p in params:
            self._init_state(group, p, impl == "fused")
        states = [self.state[p] for p in params]
        if impl == "single":
            self._single_tensor_group(group, params, grads, states, depths)
        else:
            self._multi_tensor_group(group, params, grads, states, depths, impl == "fused")

    def _single_tensor_group(self, group, params, grads, states, depths) -> None:
        lr = as_scalar(group["lr"])
        factor = self._lr_factor(group)
        lr_eff = lr * factor if factor != 1.0 else lr
        wd = self._base_weight_decay(group)
        for p, grad, state, depth in zip(params, grads, states, depths):
            g, maximize = self._grad_for_base(group, p, grad, state, group["maximize"])
            ctx = self._pre(group, p, grad, state)
            if self._base == "sgd":
                direction = sgd_direction_(
                    p, g, state, lr=lr_eff, weight_decay=wd, momentum=group["momentum"],
                    dampening=group["dampening"], nesterov=group["nesterov"], maximize=maximize)
            else:
                beta1, beta2 = group["betas"]
                direction = adam_direction_(
                    p, g, state, lr=lr_eff, beta1=as_scalar(beta1), beta2=as_scalar(beta2),
                    eps=group["eps"], weight_decay=wd, amsgrad=group.get("amsgrad", False),
                    maximize=maximize)
            self._apply(group, p, direction)
            self._post(group, p, state, ctx, depth)

    def _multi_tensor_group(self, group, params, grads, states, depths, fused: bool) -> None:
        lr = as_scalar(group["lr"])  # a CPU tensor lr becomes a float, as on the for-loop path
        factor = self._lr_factor(group)
        lr_eff = lr * factor if factor != 1.0 else lr
        if fused and self._pipelined and (self._pipeline_any_device
                                          or params[0].device.type == "cpu"):
            # tensor by tensor: what _pre reads and what _post reads are still in the cache
            wd0, maximize0 = self._base_weight_decay(group), group["maximize"]
            for p, g, s, depth in zip(params, grads, states, depths):
                ctx = self._pre(group, p, g, s)
                g2, wd, maximize, decoupled = self._fused_grad(group, p, g, s, wd0, maximize0)
                fused_step_one_(self._base, p, g2, s, group, lr=self._fused_lr(group, lr_eff),
                                weight_decay=wd, maximize=maximize, decoupled=decoupled)
                self._fused_post(group, p, s, ctx, depth)
            return
        ctxs = [self._pre(group, p, g, s) for p, g, s in zip(params, grads, states)]
        g_list, wd, maximize, decoupled = self._multi_grads(
            group, params, grads, states, self._base_weight_decay(group), group["maximize"])
        base_step_multi_(self._base, params, g_list, states, group, lr=lr_eff,
                         weight_decay=wd, maximize=maximize, fused=fused, decoupled=decoupled)
        for p, s, ctx, depth in zip(params, states, ctxs, depths):
            self._post(group, p, s, ctx, depth)
