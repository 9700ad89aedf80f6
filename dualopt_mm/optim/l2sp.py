"""L2-SP: an L2 penalty toward the pre-trained weights (the classic fine-tuning baseline)."""

from __future__ import annotations

import torch

from . import _docs
from ._core import ComposedOptimizer, check_range
from .dualopt import check_anchor_dtype

__all__ = ["L2SPAdamW", "L2SPSGD"]


class _L2SPMixin:
    _uses_anchors = True
    _pipelined = True

    def _check_extra(self, g):
        check_range("sp_alpha", g["sp_alpha"], 0.0)
        g["anchor_dtype"] = check_anchor_dtype(g["anchor_dtype"])

    def _active(self, group) -> bool:
        return bool(group["pretrained"]) and group["sp_alpha"] != 0

    def _grad_for_base(self, group, p, grad, state, maximize):
        if not self._active(group):
            return grad, maximize
        # g <- (+-g) + alpha (theta - theta_0); the sign is folded in, the base sees maximize=False
        g = torch.sub(p, state["anchor"]).mul_(group["sp_alpha"])
        g = g.sub_(grad) if maximize else g.add_(grad)
        # a wider anchor (fp32 for a bf16 parameter) computes in its precision; the base sees
        # the gradient's dtype
        return (g if g.dtype == grad.dtype else g.to(grad.dtype)), False

    def _fused_grad(self, group, p, grad, state, weight_decay, maximize):
        if not self._active(group):
            return grad, weight_decay, maximize, True
        alpha, anchor = group["sp_alpha"], state["anchor"]
        work = self._scratch(p)  # reused: no allocation per tensor
        if self._base == "sgd" or weight_decay == 0:
            # g + alpha (theta - a) = (g - alpha a) + alpha theta: one pass builds g - alpha a
            # into the work buffer, the kernel adds the coupled alpha * theta
            torch.add(grad, anchor, alpha=(1.0 if maximize else -1.0) * alpha, out=work)
            return work, weight_decay + alpha, maximize, self._base == "sgd"
        # AdamW with decoupled decay: the base must see (+-g) + alpha (theta - a) itself
        torch.sub(p, anchor, out=work).mul_(alpha)
        if maximize:
            work.sub_(grad)
        else:
            work.add_(grad)
        return work, weight_decay, False, True

    def _multi_grads(self, group, params, grads, states, weight_decay, maximize):
        if not self._active(group):
            return grads, weight_decay, maximize, True
        alpha = group["sp_alpha"]
        if self._base == "sgd" or weight_decay == 0:
            # g + alpha (theta - a) = (g - alpha a) + alpha theta: one pass builds g - alpha a,
            # the base kernel adds the coupled alpha * theta (Adam: coupled, not decoupled, decay)
            sign = 1.0 if maximize else -1.0
            new = [torch.add(g, s["anchor"], alpha=sign * alpha).to(g.dtype)
                   for g, s in zip(grads, states)]
            return new, weight_decay + alpha, maximize, self._base == "sgd"
        new = [self._grad_for_base(group, p, g, s, maximize)[0]
               for p, g, s in zip(params, grads, states)]
        return new, weight_decay, False, True


_L2SP_MATH = r"""
    For tensors of pretrained groups, with anchor :math:`\theta_0`, the gradient the base step
    sees is

    .. math::
       g_t \leftarrow g_t + \alpha\,(\theta_{t-1} - \theta_0)

    (:math:`g_t` negated first when maximizing), then :math:`\theta_t` = the
    ``torch.optim.%(base)s`` step on it. :math:`\alpha` = ``sp_alpha``. Groups with
    ``pretrained=False`` get the plain base step (with its ``weight_decay``).
"""

_REF = r"""
    Reference: Li, Grandvalet & Davoine, *Explicit Inductive Bias for Transfer Learning with
    Convolutional Networks* (L2-SP), ICML 2018.
    """


class L2SPAdamW(_L2SPMixin, ComposedOptimizer):
    _base = "adamw"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 sp_alpha=0.01, anchor_dtype=None, amsgrad=False, maximize=False, foreach=None,
                 fused=None, nonfinite="skip"):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        sp_alpha=sp_alpha, anchor_dtype=anchor_dtype, maximize=maximize,
                        foreach=foreach, fused=fused, nonfinite=nonfinite)
        super().__init__(params, defaults)


class L2SPSGD(_L2SPMixin, ComposedOptimizer):
    _base = "sgd"

    def __init__(self, params, lr=1e-2, momentum=0.9, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, sp_alpha=0.01, anchor_dtype=None, maximize=False,
                 foreach=None, fused=None, nonfinite="skip"):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, sp_alpha=sp_alpha,
                        anchor_dtype=anchor_dtype, maximize=maximize, foreach=foreach,
                        fused=fused, nonfinite=nonfinite)
        super().__init__(params, defaults)


_ALPHA = "\n        sp_alpha (float): :math:`\\alpha` >= 0 (default: 0.01)."

L2SPAdamW.__doc__ = (
    "L2-SP over an AdamW base (coupled pull toward the anchors).\n"
    + _L2SP_MATH % {"base": "AdamW"}
    + "\n    ``sp_alpha=0`` equals ``torch.optim.AdamW``.\n\n    Args:"
    + _docs.ADAMW_ARGS + " (default: 0)" + _ALPHA
    + "\n        amsgrad (bool): AMSGrad variant of the base (default: False)."
    + _docs.ANCHOR_ARGS + _docs.COMMON_ARGS
    + r"""

    Example:
        >>> opt = L2SPAdamW([{'params': backbone.parameters()},
        ...                  {'params': head.parameters(), 'pretrained': False,
        ...                   'weight_decay': 1e-2}], lr=1e-4, sp_alpha=0.01)
        >>> loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()
""" + _REF)

L2SPSGD.__doc__ = (
    "L2-SP over an SGD-momentum base (coupled pull toward the anchors).\n"
    + _L2SP_MATH % {"base": "SGD"}
    + "\n    ``sp_alpha=0`` equals ``torch.optim.SGD``.\n\n    Args:"
    + _docs.SGD_ARGS + _ALPHA + _docs.ANCHOR_ARGS + _docs.COMMON_ARGS
    + r"""

    Example:
        >>> opt = L2SPSGD(model.parameters(), lr=1e-2, momentum=0.9, sp_alpha=0.01)
        >>> loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()
""" + _REF)
