"""Multiplicative / hybrid updates (GOFAU) over SGD-momentum or AdamW."""

from __future__ import annotations

from . import _docs
from ._core import ComposedOptimizer, check_range
import torch

from ._base import Direction, as_scalar
from ._multiplicative import hybrid_apply_, tanh_into_

__all__ = ["HybridSGD", "HybridAdamW"]

_VARIANTS = ("abs", "pow")


class _HybridMixin:
    # torch's foreach code does not expose the direction d: foreach=True runs the for-loop.
    # fused=True runs torch's fused kernel for the additive part (lr (1 - gamma)) tensor by
    # tensor and rebuilds d from the state it leaves (SGD: the momentum buffer; AdamW: the
    # moments); groups whose d the state does not hold (nesterov, no momentum) or using
    # variant='pow' run the for-loop.
    _supports_foreach = False
    _pipelined = True
    _pipeline_any_device = True  # its fused path exists only tensor by tensor

    def _check_extra(self, g):
        check_range("gamma", g["gamma"], 0.0, 1.0)
        check_range("lr_in", g["lr_in"], 0.0)
        check_range("lr_out", g["lr_out"], 0.0)
        if g["variant"] not in _VARIANTS:
            raise ValueError(f"Invalid variant: {g['variant']!r} (expected one of {_VARIANTS})")

    def _apply(self, group, p, direction):
        gamma = group["gamma"]
        work = work2 = None
        if gamma != 0:
            work, work2 = self._scratch(p), self._scratch(p, slot=1)
        hybrid_apply_(p, direction, gamma=gamma, lr_in=group["lr_in"], lr_out=group["lr_out"],
                      variant=group["variant"], work=work, work2=work2)

    # ---- fused path
    def _fusable(self, group) -> bool:
        if group["gamma"] == 0:
            return True
        if group["variant"] != "abs":
            return False
        if self._base == "sgd":
            return group["momentum"] != 0 and not group["nesterov"]
        # gamma = 1 leaves the kernel lr 0, which would also drop AdamW's decoupled decay
        return group["gamma"] != 1 or group["weight_decay"] == 0

    def _impl(self, group, params):
        impl = super()._impl(group, params)
        return "single" if impl == "fused" and not self._fusable(group) else impl

    def _fused_lr(self, group, lr):
        gamma = group["gamma"]
        return lr if gamma == 0 else lr * (1 - gamma)

    def _fused_grad(self, group, p, grad, state, weight_decay, maximize):
        gamma = group["gamma"]
        if gamma == 0:
            return grad, weight_decay, maximize, True
        torch.abs(p, out=self._scratch(p, slot=1))  # |theta_{t-1}|, before the kernel moves it
        if self._base == "adamw" and weight_decay != 0:
            weight_decay = weight_decay / (1 - gamma)  # kernel lr (1 - gamma) lr: keep lr * wd
        return grad, weight_decay, maximize, True

    def _fused_post(self, group, p, state, ctx, depth):
        gamma = group["gamma"]
        if gamma == 0:
            return
        work, mag = self._scratch(p), self._scratch(p, slot=1)
        lr_in, scale = group["lr_in"], 1.0
        if self._base == "sgd":
            direction = Direction(state["momentum_buffer"], None, 1.0, 0.0)
        else:
            beta1, beta2 = (as_scalar(b) for b in group["betas"])
            step = as_scalar(state["step"])
            bc1, bc2 = 1 - beta1**step, 1 - beta2**step
            v = state["max_exp_avg_sq"] if group.get("amsgrad", False) else state["exp_avg_sq"]
            den = torch.sqrt(v, out=work).div_(bc2**0.5).add_(group["eps"])
            direction = Direction(state["exp_avg"], den, 1.0 / bc1, 0.0)
            # |theta'| = |1 - lr wd| |theta_{t-1}| (AdamW's decoupled decay)
            scale = abs(1 - float(group["lr"]) * group["weight_decay"])
        half_t = tanh_into_(work, direction, lr_in)
        p.addcmul_(mag, half_t, value=-2.0 * gamma * group["lr_out"] * scale)


_H_MATH = r"""
    Keeps ``torch.optim.%(base)s``'s state and direction :math:`d` (%(d)s) and replaces only its
    final :math:`\theta \leftarrow \theta' - \eta d`:

    .. math::
       \begin{aligned}
         &\theta' \leftarrow %(theta_prime)s \\
         &\Delta \leftarrow \eta_{out}\, |\theta'| \odot \tanh(\eta_{in} d)
            \quad\text{(variant 'abs')} \\
         &\Delta \leftarrow \theta' - \theta' \odot 2^{-\mathrm{sign}(\theta')\,\eta_{out}
            \tanh(\eta_{in} d)} \quad\text{(variant 'pow', sign-exact)} \\
         &\theta_t \leftarrow \theta' - \gamma\,\Delta - (1-\gamma)\,\eta\, d
       \end{aligned}

    :math:`\eta` = ``lr``, :math:`\eta_{in}` = ``lr_in``, :math:`\eta_{out}` = ``lr_out``,
    :math:`\gamma` = ``gamma`` in [0, 1] (1 = multiplicative, 0 = additive; schedule it through
    the group key ``gamma``). Pitfall: weights that are exactly zero never move under the pure
    multiplicative rule (:math:`\gamma = 1`); use :math:`\gamma < 1` or an additive group
    (``gamma=0``) for zero-initialised biases and norm shifts. ``fused=True`` runs torch's
    fused kernel for the additive part and rebuilds :math:`d` from the state (groups with
    Nesterov, no momentum or ``variant='pow'`` fall back to the for-loop); ``foreach`` is
    accepted and runs the for-loop.
"""

_H_ARGS = r"""
        lr_in (float): :math:`\eta_{in}` >= 0 (default: 1).
        lr_out (float): :math:`\eta_{out}` >= 0 (default: 1e-3).
        gamma (float): :math:`\gamma` in [0, 1] (default: 0.5).
        variant (str): ``'abs'`` or ``'pow'`` (default: 'abs')."""

_REF = r"""
    Reference: Kirtas, Passalis & Tefas, *Multiplicative update rules for accelerating deep
    learning training and increasing robustness* (GOFAU), arXiv 2307.07189.
    """


class HybridSGD(_HybridMixin, ComposedOptimizer):
    _base = "sgd"

    def __init__(self, params, lr=1e-2, momentum=0.9, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, lr_in=1.0, lr_out=1e-3, gamma=0.5, variant="abs",
                 maximize=False, foreach=None, fused=None, nonfinite="skip"):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, lr_in=lr_in,
                        lr_out=lr_out, gamma=gamma, variant=variant, maximize=maximize,
                        foreach=foreach, fused=fused, nonfinite=nonfinite)
        super().__init__(params, defaults)


class HybridAdamW(_HybridMixin, ComposedOptimizer):
    _base = "adamw"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, *,
                 lr_in=1.0, lr_out=1e-3, gamma=0.5, variant="abs", amsgrad=False,
                 maximize=False, foreach=None, fused=None, nonfinite="skip"):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        lr_in=lr_in, lr_out=lr_out, gamma=gamma, variant=variant,
                        maximize=maximize, foreach=foreach, fused=fused, nonfinite=nonfinite)
        super().__init__(params, defaults)


HybridSGD.__doc__ = (
    "Hybrid multiplicative/additive update over SGD with momentum (GOFAU).\n"
    + _H_MATH % {"base": "SGD", "d": "the momentum buffer, or the Nesterov gradient, coupled "
                 "decay and dampening included", "theta_prime": r"\theta_{t-1}"}
    + "\n    ``gamma=0`` equals ``torch.optim.SGD``.\n\n    Args:"
    + _docs.SGD_ARGS + _H_ARGS + _docs.COMMON_ARGS
    + r"""

    Example:
        >>> opt = HybridSGD(model.parameters(), lr=0.01, lr_out=1e-3, gamma=0.5)
        >>> loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()
""" + _REF)

HybridAdamW.__doc__ = (
    "Hybrid multiplicative/additive update over AdamW (GOFAU).\n"
    + _H_MATH % {"base": "AdamW", "d": r"$\hat m_t/(\sqrt{\hat v_t}+\epsilon)$, bias-corrected",
                 "theta_prime": r"(1 - \eta\lambda)\,\theta_{t-1}\ \text{(AdamW's decoupled decay)}"}
    + "\n    ``gamma=0`` equals ``torch.optim.AdamW``.\n\n    Args:"
    + _docs.ADAMW_ARGS + " (default: 1e-2)" + _H_ARGS
    + "\n        amsgrad (bool): AMSGrad variant of the base (default: False)."
    + _docs.COMMON_ARGS
    + r"""

    Example:
        >>> opt = HybridAdamW(model.parameters(), lr=1e-3, lr_out=1e-3, gamma=1.0)
        >>> loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()
""" + _REF)
