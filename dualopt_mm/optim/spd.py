"""Selective Projection Decay (SPD)."""

from __future__ import annotations

from . import _docs
from ._core import ComposedOptimizer, check_range
from ._pull import spd_measure, spd_pull_
from .dualopt import check_anchor_dtype

__all__ = ["SPDAdamW", "SPDSGD"]


class _SPDMixin:
    _uses_anchors = True
    _pipelined = True

    def _check_extra(self, g):
        check_range("projection_decay", g["projection_decay"], 0.0, 1.0)
        check_range("projection_eps", g["projection_eps"], 0.0, lo_open=True)
        g["anchor_dtype"] = check_anchor_dtype(g["anchor_dtype"])

    def _begin_step(self):
        super()._begin_step()
        # the gates [c < 0] of the last step, as 0-dim device tensors (no host sync here);
        # monitoring reads them (OptimizerStatsHook), they are not optimizer state
        self.last_gates = []

    def _pre(self, group, p, grad, state):
        if not group["pretrained"] or group["projection_decay"] == 0:
            return None
        ctx = spd_measure(p, grad, state["anchor"], group["maximize"], out=self._scratch(p))
        self.last_gates.append(ctx[0])
        return ctx

    def _post(self, group, p, state, ctx, depth):
        if ctx is None:
            return
        gate, prev_norm = ctx
        spd_pull_(p, state["anchor"], gate, prev_norm, group["projection_decay"],
                  group["projection_eps"], out=self._scratch(p))


_SPD_MATH = r"""
    Per tensor :math:`\theta` of a pretrained group, with anchor :math:`\theta_0`:

    .. math::
       \begin{aligned}
         &c \leftarrow -\langle g_t, \theta_{t-1} - \theta_0\rangle
            \quad (\text{whole-tensor inner product; } g_t \text{ negated when maximizing}) \\
         &\tilde\theta_t \leftarrow \text{base step of } \theta_{t-1}
            \text{ (exactly \texttt{torch.optim.%(base)s})} \\
         &r \leftarrow \mathrm{clip}\Big(\frac{\lVert\tilde\theta_t - \theta_0\rVert
            - \lVert\theta_{t-1} - \theta_0\rVert}{\lVert\tilde\theta_t - \theta_0\rVert
            + \varepsilon}, 0, 1\Big) \\
         &\theta_t \leftarrow \tilde\theta_t - \lambda\, r\, [c < 0]\,
            (\tilde\theta_t - \theta_0)
       \end{aligned}

    :math:`\lambda` = ``projection_decay`` (not multiplied by the lr), :math:`\varepsilon` =
    ``projection_eps``. :math:`c < 0` means the first-order estimate says the accumulated
    deviation has raised the loss; only then, and only by the part of the step that grows the
    deviation, is the tensor projected back. With :math:`\lambda = 1` the deviation's length
    returns to its previous radius. The gate is evaluated on the device (``torch.where``), with
    no host synchronisation. Groups with ``pretrained=False`` get the plain base step.
"""

_SPD_ARGS = r"""
        projection_decay (float): :math:`\lambda` in [0, 1] (default: 1).
        projection_eps (float): :math:`\varepsilon` > 0 (default: 1e-12)."""


class SPDAdamW(_SPDMixin, ComposedOptimizer):
    _base = "adamw"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 projection_decay=1.0, amsgrad=False, anchor_dtype=None, projection_eps=1e-12,
                 maximize=False, foreach=None, fused=None, nonfinite="skip"):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        projection_decay=projection_decay, projection_eps=projection_eps,
                        anchor_dtype=anchor_dtype, maximize=maximize, foreach=foreach,
                        fused=fused, nonfinite=nonfinite)
        super().__init__(params, defaults)


class SPDSGD(_SPDMixin, ComposedOptimizer):
    _base = "sgd"

    def __init__(self, params, lr=1e-2, momentum=0.9, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, projection_decay=1.0, anchor_dtype=None,
                 projection_eps=1e-12, maximize=False, foreach=None, fused=None,
                 nonfinite="skip"):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov,
                        projection_decay=projection_decay, projection_eps=projection_eps,
                        anchor_dtype=anchor_dtype, maximize=maximize, foreach=foreach,
                        fused=fused, nonfinite=nonfinite)
        super().__init__(params, defaults)


_REF = r"""
    Reference: Tian, Huang & Kira, *Rethinking Weight Decay for Robust Fine-Tuning of Foundation
    Models* (Selective Projection Decay), NeurIPS 2024, arXiv 2411.01713.
    """

SPDAdamW.__doc__ = (
    "Selective Projection Decay over an AdamW base.\n" + _SPD_MATH % {"base": "AdamW"}
    + "\n    ``projection_decay=0`` equals ``torch.optim.AdamW``.\n\n    Args:"
    + _docs.ADAMW_ARGS + " (default: 0)" + _SPD_ARGS
    + "\n        amsgrad (bool): AMSGrad variant of the base (default: False)."
    + _docs.ANCHOR_ARGS + _docs.COMMON_ARGS
    + r"""

    Example:
        >>> opt = SPDAdamW([{'params': model.backbone.parameters()},
        ...                 {'params': model.head.parameters(), 'pretrained': False}],
        ...                lr=1e-4, projection_decay=1.0)
        >>> loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()
""" + _REF)

SPDSGD.__doc__ = (
    "Selective Projection Decay over an SGD-momentum base.\n" + _SPD_MATH % {"base": "SGD"}
    + "\n    ``projection_decay=0`` equals ``torch.optim.SGD``.\n\n    Args:"
    + _docs.SGD_ARGS + _SPD_ARGS + _docs.ANCHOR_ARGS + _docs.COMMON_ARGS
    + r"""

    Example:
        >>> opt = SPDSGD(model.parameters(), lr=1e-2, momentum=0.9, projection_decay=0.5)
        >>> loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()
""" + _REF)
