"""The executor: one optimizer class that runs a base (:mod:`._base`) and stages (:mod:`._stages`),
with the validation, lazy state, state dicts and non-finite guard every method shares. Each step
plans every group once (path, lr factor, the base's weight decay) and runs the stages' roles in
one fixed order (:class:`._stages.Stage`) on one of three paths: the for-loop (``foreach=False``,
the default on CPU; the readable reference), the list (torch's foreach or fused code over the
whole group), or torch's fused kernel tensor by tensor (``fused=True`` on CPU, so the stages'
extra passes find the tensor in cache, or anywhere when a stage has no list form). Per-tensor
temporaries go into reused work buffers (:meth:`ComposedOptimizer._scratch`).
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from . import _compat
from ._anchor import capture_anchor_, depth_map, group_depth
from ._base import apply_additive_, as_scalar, check_range

__all__ = ["ComposedOptimizer", "check_range", "NONFINITE_MODES", "statistics"]

NONFINITE_MODES = ("skip", "raise", "ignore")


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
    """Base class of every optimizer in :mod:`dualopt_mm.optim` (see module docstring); a named
    optimizer is a subclass declared by :func:`._info.declare` (a base and stages)."""

    _base = None  # a ._base.Base
    _stages: tuple = ()
    # derived from the stages by declare(); the instance may override _pipelined (tests do)
    _uses_anchors = False
    _needs_depth = False
    _supports_foreach = True  # False: a stage has no list form
    # fused path: run the stages and the base kernel tensor by tensor (cache locality on CPU; on
    # GPUs one multi-tensor launch per list is cheaper, unless a stage has no list form)
    _pipelined = False

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
        if defaults["differentiable"]:
            raise ValueError("differentiable=True is not supported")
        self.skipped_steps = 0
        super().__init__(params, defaults)

    # ------------------------------------------------------------------ validation
    def _check_hyperparameters(self, g: dict[str, Any]) -> None:
        """Validate one group (or the defaults): the base, then the common keys, then each stage."""
        self._base.validate(g)
        d = g.get("layer_depth")
        if d is not None:
            check_range("layer_depth", d, 0.0, 1.0)
        if not isinstance(g.get("pretrained", True), bool):
            raise ValueError(f"Invalid pretrained: {g['pretrained']!r} (expected a bool)")
        for s in self._stages:
            s.validate(g)

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
                _compat.check_fused(self._base.name, self.param_groups[-1]["params"])
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
        state_dict = dict(state_dict)
        saved = [s.take(self, state_dict) for s in self._stages]
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
        for s, x in zip(self._stages, saved):
            s.restore(self, x)
        for p, dtype in anchor_dtypes.items():
            st = self.state[p]
            if st["anchor"].dtype != dtype:
                st["anchor"] = st["anchor"].to(dtype)  # back from the cast: exact (it was widened)
        missing = 0
        for group in self.param_groups:
            if self._group_anchored(group):
                missing += sum(1 for p in group["params"] if self.state.get(p) and "anchor" not in self.state[p])
        if missing:
            warnings.warn(f"{type(self).__name__}.load_state_dict: {missing} anchored parameter(s) have "
                          "optimizer state but no anchor; their anchors will be captured from the current "
                          "(already trained) weights at the next step", stacklevel=2)

    def state_dict(self) -> dict[str, Any]:
        sd = super().state_dict()
        for s in self._stages:
            s.save(self, sd)
        return sd

    def __getstate__(self) -> dict[str, Any]:
        # torch keeps only defaults/state/param_groups; keep every public attribute too, so
        # deepcopy / pickle preserve e.g. nonfinite, skipped_steps, last_scale
        st = super().__getstate__()
        for k, v in self.__dict__.items():
            if not k.startswith("_") or any(k in s.carried for s in self._stages):
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

    def _group_anchored(self, group: dict) -> bool:
        """Whether this group's tensors carry anchors."""
        return (self._uses_anchors and bool(group.get("pretrained", True))
                and any(s.wants_anchor(group) for s in self._stages if s.anchors))

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
        self._base.init_state(state, p, group, fused)
        for s in self._r_init:
            s.init_state(self, group, p, state)

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
            return "fused" if all(s.fusable(group, self._base) for s in self._stages) else "single"
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

        for s in self._r_begin:
            s.begin_step(self)
        order_depth = None
        if self._needs_depth and any(g.get("layer_depth") is None for g in self.param_groups):
            order_depth = depth_map(self.param_groups)
        for group, params, grads in work:
            if not params:
                continue
            impl = self._impl(group, params)
            depths = ([group_depth(group, p, order_depth) for p in params]
                      if self._needs_depth else [0.0] * len(params))
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
        fused = impl == "fused"
        for p in params:
            self._init_state(group, p, fused)
        states = [self.state[p] for p in params]
        # the plan of this group for this step
        base = self._base
        lr = as_scalar(group["lr"])  # a CPU tensor lr becomes a float, as on torch's for-loop
        factor = 1.0
        for s in self._r_lr:
            factor = factor * s.lr_factor(self, group)
        lr_eff = lr * factor if factor != 1.0 else lr
        wd = group["weight_decay"]
        for s in self._r_wd:
            wd = s.base_weight_decay(group, wd)
        # the stages that act on this group at this step, in the roles' order
        on = [s for s in self._stages if s.active(group)]
        measures = [s for s in self._r_measure if s in on]
        pulls = [(s, measures.index(s) if s in measures else None) for s in self._r_pull if s in on]
        appl = [s for s in self._r_apply if s in on]
        maximize = group["maximize"]
        if impl == "single":
            rewrites = [s for s in self._r_rewrite if s in on]
            for p, grad, state, depth in zip(params, grads, states, depths):
                ctxs = [s.measure(self, group, p, grad, state) for s in measures]
                g, mx = grad, maximize
                for s in rewrites:
                    g, mx = s.rewrite(self, group, p, g, state, mx)
                direction = base.direction(p, g, state, group, lr=lr_eff, weight_decay=wd,
                                           maximize=mx)
                if appl:
                    appl[0].apply(self, group, p, direction)
                else:
                    apply_additive_(p, direction)
                for s, i in pulls:
                    s.pull(self, group, p, state, None if i is None else ctxs[i], depth)
        elif fused and self._pipelined and (not self._supports_foreach
                                            or params[0].device.type == "cpu"):
            # tensor by tensor: what the stages read before and after the kernel is in cache
            k_lr = lr_eff
            for s in appl:
                k_lr = s.kernel_lr(group, k_lr)
            folds = [s for s in self._r_fold if s in on]
            for p, grad, state, depth in zip(params, grads, states, depths):
                ctxs = [s.measure(self, group, p, grad, state) for s in measures]
                args = (grad, wd, maximize, True)
                for s in folds:
                    args = s.fold(self, group, p, args[0], state, *args[1:])
                base.step_fused(p, args[0], state, group, lr=k_lr, weight_decay=args[1],
                                maximize=args[2], decoupled=args[3])
                for s in appl:
                    s.after_kernel(self, group, p, state, lr_eff)
                for s, i in pulls:
                    s.pull(self, group, p, state, None if i is None else ctxs[i], depth)
        else:
            ctxs = [[s.measure(self, group, p, g, st) for s in measures]
                    for p, g, st in zip(params, grads, states)]
            args = (grads, wd, maximize, True)
            for s in (s for s in self._r_fold_list if s in on):
                args = s.fold_list(self, group, params, args[0], states, *args[1:])
            base.step_list(params, args[0], states, group, lr=lr_eff, weight_decay=args[1],
                           maximize=args[2], fused=fused, decoupled=args[3])
            for p, state, c, depth in zip(params, states, ctxs, depths):
                for s, i in pulls:
                    s.pull(self, group, p, state, None if i is None else c[i], depth)


def statistics(optimizer) -> dict[str, float]:
    """What the stages of ``optimizer`` report (empty for any other optimizer)."""
    out: dict[str, float] = {}
    for s in getattr(optimizer, "_stages", ()):
        out.update(s.stats(optimizer))
    return out
