"""Multiplicative / hybrid updates (GOFAU) over SGD-momentum or AdamW."""

from __future__ import annotations

from . import _docs
from ._core import ComposedOptimizer, check_range
from ._multiplicative import hybrid_apply_

__all__ = ["HybridSGD", "HybridAdamW"]

_VARIANTS = ("abs", "pow")


class _HybridMixin:
    # the apply needs the direction d itself, which torch's fused/foreach code does not expose
    _supports_fused = False
    _supports_foreach = False

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
    (``gamma=0``) for zero-initialised biases and norm shifts. Runs the for-loop path only
    (``fused=True`` is rejected; ``foreach`` is accepted and ignored).
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
