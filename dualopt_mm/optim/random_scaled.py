"""SGD-momentum / AdamW with exponential random scaling of each step."""

from __future__ import annotations

from typing import Any

from . import _docs
from ._core import ComposedOptimizer, check_range
from ._random_scale import ExpScaleSource

__all__ = ["RandomScaledSGD", "RandomScaledAdamW"]

_STATE_KEY = "random_scaling"


class _RandomScaleMixin:
    """One Exp(1) draw per step, applied as a multiplier of every group's lr."""

    def _init_source(self, seed):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Invalid seed: {seed!r} (expected None or an int)")
        self._scale_source = ExpScaleSource(seed)
        self.last_scale: float | None = None

    def _check_extra(self, g):
        if not isinstance(g["random_scaling"], bool):
            raise ValueError(f"Invalid random_scaling: {g['random_scaling']!r} (expected a bool)")
        if g["max_scale"] is not None:
            check_range("max_scale", g["max_scale"], 0.0, lo_open=True)

    def _begin_step(self):
        if any(g["random_scaling"] for g in self.param_groups):
            self.last_scale = self._scale_source.draw()

    def _lr_factor(self, group):
        if not group["random_scaling"]:
            return 1.0
        s = self.last_scale
        if group["max_scale"] is not None:
            s = min(s, group["max_scale"])
        return s

    # the draw counter is part of the optimizer state: state_dict / deepcopy / pickle carry it
    def state_dict(self) -> dict[str, Any]:
        sd = super().state_dict()
        sd[_STATE_KEY] = dict(self._scale_source.state_dict(), last_scale=self.last_scale)
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        rs = state_dict.pop(_STATE_KEY, None)
        super().load_state_dict(state_dict)
        if rs is not None:
            self._scale_source.load_state_dict(rs)
            self.last_scale = rs.get("last_scale")

    def __getstate__(self):
        st = super().__getstate__()
        st["_scale_source"] = self._scale_source
        return st


_RS_MATH = r"""
    One scalar per step, shared by every tensor of every group:

    .. math::
       \begin{aligned}
         &s_t \sim \mathrm{Exp}(1)\quad (\text{clipped to } \texttt{max\_scale} \text{ if set}) \\
         &\theta_t \leftarrow \theta_{t-1} + s_t\,\Delta_t,
       \end{aligned}

    where :math:`\Delta_t` is the whole displacement ``torch.optim.%(base)s`` would make
    (%(what)s). Both displacements are linear in the lr, so this is the base step with lr
    :math:`s_t\eta_t`; the base state (%(state)s) is not scaled. ``last_scale`` holds the last
    draw. The draw counter and seed are saved in ``state_dict()['random_scaling']``: a resumed
    run draws the same scalars, and ranks with the same seed draw the same :math:`s_t`.
"""

_RS_ARGS = r"""
        random_scaling (bool): draw and apply :math:`s_t` (default: True; False gives the plain
            base optimizer).
        max_scale (float, optional): clip :math:`s_t` (default: None; clipping departs from the
            theory).
        seed (int, optional): seed of the draws (default: ``torch.initial_seed()``, which
            consumes nothing from the global generator)."""

_REF = r"""
    Reference: Zhang & Cutkosky, *Random Scaling and Momentum for Non-smooth Non-convex
    Optimization*, ICML 2024, arXiv 2405.09742.
    """


class RandomScaledSGD(_RandomScaleMixin, ComposedOptimizer):
    _base = "sgd"

    def __init__(self, params, lr=1e-2, momentum=0.9, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, random_scaling=True, max_scale=None, seed=None,
                 maximize=False, foreach=None, fused=None, nonfinite="skip"):
        self._init_source(seed)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov,
                        random_scaling=random_scaling, max_scale=max_scale, maximize=maximize,
                        foreach=foreach, fused=fused, nonfinite=nonfinite)
        super().__init__(params, defaults)


class RandomScaledAdamW(_RandomScaleMixin, ComposedOptimizer):
    _base = "adamw"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, *,
                 random_scaling=True, max_scale=None, seed=None, amsgrad=False, maximize=False,
                 foreach=None, fused=None, nonfinite="skip"):
        self._init_source(seed)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        random_scaling=random_scaling, max_scale=max_scale, maximize=maximize,
                        foreach=foreach, fused=fused, nonfinite=nonfinite)
        super().__init__(params, defaults)


RandomScaledSGD.__doc__ = (
    "SGD with momentum and exponential random scaling of each step.\n"
    + _RS_MATH % {"base": "SGD", "what": r"$-\eta_t b_t$, $b_t$ the momentum/nesterov "
                  "direction with coupled decay and dampening", "state": "momentum buffer"}
    + "\n    ``random_scaling=False`` equals ``torch.optim.SGD``.\n\n    Args:"
    + _docs.SGD_ARGS + _RS_ARGS + _docs.COMMON_ARGS
    + r"""

    Example:
        >>> opt = RandomScaledSGD(model.parameters(), lr=0.1, momentum=0.9, seed=0)
        >>> loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad(); opt.last_scale
""" + _REF)

RandomScaledAdamW.__doc__ = (
    "AdamW with exponential random scaling of each step (a natural extension of the rule).\n"
    + _RS_MATH % {"base": "AdamW", "what": r"decoupled decay $-\eta_t\lambda\theta$ included",
                  "state": "moments, step count"}
    + "\n    ``random_scaling=False`` equals ``torch.optim.AdamW``.\n\n    Args:"
    + _docs.ADAMW_ARGS + " (default: 1e-2)" + _RS_ARGS
    + "\n        amsgrad (bool): AMSGrad variant of the base (default: False)."
    + _docs.COMMON_ARGS
    + r"""

    Example:
        >>> opt = RandomScaledAdamW(model.parameters(), lr=1e-3, seed=0)
        >>> loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()
""" + _REF)
