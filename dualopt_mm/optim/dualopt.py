"""DualOpt: weight rollback (fine-tuning) and real-time layer-wise decay (from scratch)."""

from __future__ import annotations

import torch

from . import _docs
from ._base import as_scalar
from ._core import ComposedOptimizer, check_range
from ._pull import decay_level, pull_, rollback_level, shrink_

__all__ = ["DualOptAdamW", "DualOptSGD"]

_MODES = ("finetune", "scratch")


def check_anchor_dtype(anchor_dtype):
    """The anchor storage dtype as a ``torch.dtype`` (None: the parameter's, fp32 at least); a
    name (``'bfloat16'``, ``'torch.float16'``) is accepted so configs can set it."""
    if isinstance(anchor_dtype, str):
        name = anchor_dtype[len("torch."):] if anchor_dtype.startswith("torch.") else anchor_dtype
        resolved = getattr(torch, name, None)
        anchor_dtype = resolved if isinstance(resolved, torch.dtype) else anchor_dtype
    if anchor_dtype is not None and not (isinstance(anchor_dtype, torch.dtype)
                                         and anchor_dtype.is_floating_point):
        raise ValueError(f"Invalid anchor_dtype: {anchor_dtype!r} (expected None, a floating "
                         "torch.dtype or its name, e.g. 'bfloat16')")
    return anchor_dtype


class _DualOptMixin:
    """The DualOpt pieces on top of a base (mode, rollback level, decay level)."""

    _uses_anchors = True
    _pipelined = True

    def _check_extra(self, g):
        if g["mode"] not in _MODES:
            raise ValueError(f"Invalid mode: {g['mode']!r} (expected one of {_MODES})")
        check_range("rollback", g["rollback"], 0.0, 1.0)
        check_range("rollback_min", g["rollback_min"], 0.0, 1.0)
        if g["rollback_min"] > g["rollback"]:
            raise ValueError(f"Invalid rollback_min: {g['rollback_min']} (must be <= rollback "
                             f"= {g['rollback']})")
        check_range("rollback_power", g["rollback_power"], 0.0)
        check_range("decay_min", g["decay_min"], 0.0, 1.0)
        check_range("decay_power", g["decay_power"], 0.0)
        g["anchor_dtype"] = check_anchor_dtype(g["anchor_dtype"])

    def _group_anchored(self, group):
        return group["mode"] == "finetune" and bool(group["pretrained"])

    def _needs_depth(self, group):
        return True

    def _base_weight_decay(self, group):
        return 0.0 if group["mode"] == "scratch" else group["weight_decay"]

    def _post(self, group, p, state, ctx, depth):
        lr = as_scalar(group["lr"])
        if group["mode"] == "finetune":
            if not group["pretrained"]:
                return
            r = rollback_level(depth, group["rollback"], group["rollback_min"],
                               group["rollback_power"])
            if r == 0:
                return
            lam = r
            if "initial_lr" in group:  # eta_t / eta_0 (set by lr schedulers)
                lr0 = as_scalar(group["initial_lr"])
                if not _is_zero(lr0):
                    lam = r * (lr / lr0)
            pull_(p, state["anchor"], lam)
        else:
            wd = group["weight_decay"]
            if wd == 0:
                return
            shrink_(p, lr * wd * decay_level(depth, group["decay_min"], group["decay_power"]))


def _is_zero(x) -> bool:
    return isinstance(x, (int, float)) and x == 0


_DUALOPT_MATH = r"""
    Per parameter tensor :math:`\theta` with normalized depth :math:`d\in[0,1]`
    (0 = nearest the input; the group's ``layer_depth`` or the tensor order :math:`j/(N-1)`):

    .. math::
       \begin{aligned}
         &\hat\theta_t \leftarrow \text{base step of } \theta_{t-1}
            \text{ (exactly \texttt{torch.optim.%(base)s}, with weight decay } \lambda_b\text{)} \\
         &\textbf{if}\ \textit{mode} = \text{finetune and the group is pretrained:} \\
         &\hspace{5mm} \lambda_b = \lambda,\quad
            r(d) = r_{min} + (r_{max} - r_{min})(1-d)^p,\quad
            \rho = (\eta_t/\eta_0)\, r(d) \\
         &\hspace{5mm} \theta_t \leftarrow \hat\theta_t - \rho\,(\hat\theta_t - \theta_0) \\
         &\textbf{if}\ \textit{mode} = \text{scratch:} \\
         &\hspace{5mm} \lambda_b = 0,\quad s(d) = s_{min} + (1-s_{min})\, d^{q},\quad
            \theta_t \leftarrow (1 - \eta_t\, \lambda\, s(d))\, \hat\theta_t \\
         &\textbf{else (finetune, group with \texttt{pretrained=False}):}\
            \theta_t \leftarrow \hat\theta_t
       \end{aligned}

    :math:`\theta_0` is the anchor (the tensor's value when first stepped, or at
    ``capture_anchors()``), :math:`\eta_t` the group's current lr, :math:`\eta_0` its
    ``initial_lr`` (set by lr schedulers; without one :math:`\eta_t/\eta_0 = 1`),
    :math:`r_{max}` = ``rollback``, :math:`r_{min}` = ``rollback_min``, :math:`p` =
    ``rollback_power``, :math:`\lambda` = ``weight_decay``, :math:`s_{min}` = ``decay_min``,
    :math:`q` = ``decay_power``. Fine-tuning pulls shallow layers back hardest and follows the
    lr schedule; from-scratch decay shrinks the post-update weight, so it never pushes a weight
    across zero, and decays deeper layers more.
"""

_DUALOPT_ARGS = r"""
        mode (str): ``'finetune'`` (weight rollback toward the anchors) or ``'scratch'``
            (real-time layer-wise decay, no anchors) (default: 'finetune').
        rollback (float): :math:`r_{max}`, fraction pulled back per step at the peak lr for the
            shallowest layer, in [0, 1] (default: 0.01).
        rollback_min (float): :math:`r_{min}` for the deepest layer, in [0, rollback]
            (default: 0).
        rollback_power (float): :math:`p` (default: 1).
        decay_min (float): :math:`s_{min}`, in [0, 1] (default: 0).
        decay_power (float): :math:`q` (default: 1)."""


class DualOptAdamW(_DualOptMixin, ComposedOptimizer):
    _base = "adamw"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 mode="finetune", rollback=0.01, rollback_min=0.0, rollback_power=1.0,
                 decay_min=0.0, decay_power=1.0, anchor_dtype=None, amsgrad=False,
                 maximize=False, foreach=None, fused=None, nonfinite="skip"):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        mode=mode, rollback=rollback, rollback_min=rollback_min,
                        rollback_power=rollback_power, decay_min=decay_min,
                        decay_power=decay_power, anchor_dtype=anchor_dtype, maximize=maximize,
                        foreach=foreach, fused=fused, nonfinite=nonfinite)
        super().__init__(params, defaults)


class DualOptSGD(_DualOptMixin, ComposedOptimizer):
    _base = "sgd"

    def __init__(self, params, lr=1e-2, momentum=0.9, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, mode="finetune", rollback=0.01, rollback_min=0.0,
                 rollback_power=1.0, decay_min=0.0, decay_power=1.0, anchor_dtype=None,
                 maximize=False, foreach=None, fused=None, nonfinite="skip"):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, mode=mode,
                        rollback=rollback, rollback_min=rollback_min,
                        rollback_power=rollback_power, decay_min=decay_min,
                        decay_power=decay_power, anchor_dtype=anchor_dtype, maximize=maximize,
                        foreach=foreach, fused=fused, nonfinite=nonfinite)
        super().__init__(params, defaults)


DualOptAdamW.__doc__ = (
    r"""DualOpt over an AdamW base: weight rollback (fine-tuning) or real-time decay (scratch).
"""
    + _DUALOPT_MATH % {"base": "AdamW"}
    + r"""
    With ``rollback = rollback_min = 0`` it equals ``torch.optim.AdamW``; with
    ``mode='scratch', weight_decay=0`` it equals ``torch.optim.Adam``.

    Args:"""
    + _docs.ADAMW_ARGS + " (default: 0)"
    + _DUALOPT_ARGS + _docs.ANCHOR_ARGS
    + r"""
        amsgrad (bool): AMSGrad variant of the base (default: False)."""
    + _docs.COMMON_ARGS
    + r"""

    Example:
        >>> opt = DualOptAdamW([
        ...     {'params': backbone.parameters()},
        ...     {'params': head.parameters(), 'pretrained': False}], lr=1e-4, rollback=0.01)
        >>> loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()

    Reference: Ning, Li, et al., *DualOpt*, arXiv 2604.22838 (2026); fine-tuning half: OLOR,
    "One-step Learning, One-step Review", AAAI 2024.
    """
)

DualOptSGD.__doc__ = (
    r"""DualOpt over an SGD-momentum base: weight rollback (fine-tuning) or real-time decay.
"""
    + _DUALOPT_MATH % {"base": "SGD"}
    + r"""
    The rollback multiplies the post-step weight for SGD as for AdamW (OLOR's SGD code differs
    from its paper; this follows the equation). With ``rollback = rollback_min = 0`` it equals
    ``torch.optim.SGD``; with ``mode='scratch', weight_decay=0`` it also equals it.

    Args:"""
    + _docs.SGD_ARGS
    + _DUALOPT_ARGS + _docs.ANCHOR_ARGS
    + _docs.COMMON_ARGS
    + r"""

    Example:
        >>> opt = DualOptSGD(model.parameters(), lr=0.01, momentum=0.9, mode='scratch',
        ...                  weight_decay=5e-4)
        >>> loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()

    Reference: Ning, Li, et al., *DualOpt*, arXiv 2604.22838 (2026).
    """
)
