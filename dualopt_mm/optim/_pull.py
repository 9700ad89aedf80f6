r"""The anchor pulls after the base step, :math:`\theta \leftarrow \tilde\theta - \rho(\tilde\theta - a)`:
DualOpt's rollback (:math:`a = \theta_0`) and decay (:math:`a = 0`), SPD's selective projection
(:math:`\rho` computed on the device, no host sync); the stages in :mod:`._stages` call them."""

from __future__ import annotations

import torch
from torch import Tensor

from ._compat import addcmul_

__all__ = ["rollback_level", "decay_level", "pull_", "shrink_", "spd_measure", "spd_pull_"]


def rollback_level(d: float, r_max: float, r_min: float, power: float) -> float:
    r""":math:`r(d) = r_{min} + (r_{max} - r_{min})(1 - d)^p`, non-increasing in depth."""
    return r_min + (r_max - r_min) * (1.0 - d) ** power


def decay_level(d: float, s_min: float, power: float) -> float:
    r""":math:`s(d) = s_{min} + (1 - s_{min})\, d^q`, non-decreasing in depth."""
    return s_min + (1.0 - s_min) * d**power


def pull_(param: Tensor, anchor: Tensor, rho) -> None:
    r""":math:`\theta \leftarrow \theta - \rho(\theta - a)` in place; ``rho`` float or 0-dim tensor.

    Uses ``lerp_`` (one pass; returns :math:`a` exactly when :math:`\rho = 1`) when the anchor
    has the parameter's dtype, else :math:`(1-\rho)\theta + \rho a` with dtype promotion.
    """
    if anchor.dtype == param.dtype:
        param.lerp_(anchor, rho)
    elif isinstance(rho, Tensor):
        param.lerp_(anchor.to(param.dtype), rho)
    else:
        param.mul_(1 - rho).add_(anchor, alpha=rho)


def shrink_(param: Tensor, rho) -> None:
    r""":math:`\theta \leftarrow (1 - \rho)\,\theta` (the pull toward :math:`a = 0`)."""
    param.mul_(1 - rho)


def _reduce_dtype(t: Tensor) -> torch.dtype:
    return torch.promote_types(t.dtype, torch.float32)


def _work(out: Tensor | None, param: Tensor, anchor: Tensor) -> Tensor | None:
    # the work buffer can take theta - theta_0 unless the anchor is wider than the parameter
    if out is not None and out.dtype != torch.promote_types(param.dtype, anchor.dtype):
        return None
    return out


def _flat(t: Tensor, dtype: torch.dtype) -> Tensor:
    t = t.reshape(-1)
    return t if t.dtype == dtype else t.to(dtype)


def spd_measure(param: Tensor, grad: Tensor, anchor: Tensor, maximize: bool,
                out: Tensor | None = None) -> tuple[Tensor, Tensor]:
    r"""Before the base step: the gate :math:`[c < 0]` (bool) and
    :math:`\lVert\theta_{t-1} - \theta_0\rVert` (0-dim tensors, no host sync).

    :math:`c = -\langle g, \theta_{t-1} - \theta_0\rangle` (``g`` negated when maximizing), so
    :math:`c < 0` iff :math:`\langle g, \theta_{t-1} - \theta_0\rangle > 0` (``< 0`` when
    maximizing). ``out`` is an optional work buffer shaped like ``param``.
    """
    rd = _reduce_dtype(param)
    out = _work(out, param, anchor)
    diff = torch.sub(param, anchor) if out is None else torch.sub(param, anchor, out=out)
    diff = _flat(diff, rd)
    ip = torch.dot(_flat(grad, rd), diff)
    gate = torch.lt(ip, 0) if maximize else torch.gt(ip, 0)
    return gate, torch.linalg.vector_norm(diff)


def spd_pull_(param: Tensor, anchor: Tensor, gate: Tensor, prev_norm: Tensor, lam: float,
              eps: float, out: Tensor | None = None) -> None:
    r"""After the base step :math:`\tilde\theta`: the selective projection.

    .. math::
        r = \mathrm{clip}\Big(\frac{\lVert\tilde\theta-\theta_0\rVert - \lVert\theta_{t-1}-\theta_0
        \rVert}{\lVert\tilde\theta-\theta_0\rVert + \epsilon}, 0, 1\Big),\quad
        \theta_t = \tilde\theta - \lambda\, r\, [c < 0]\,(\tilde\theta - \theta_0)

    ``gate`` is :math:`[c < 0]` from :func:`spd_measure`. The ratio is below 1 by construction
    (:math:`\lVert\theta_{t-1}-\theta_0\rVert \ge 0`, :math:`\epsilon > 0`); a norm that
    overflowed gives ratio 1, and a closed gate exactly 0 (no ``0 * nan``). Everything stays on the
    device: no host sync.
    """
    out = _work(out, param, anchor)
    diff = torch.sub(param, anchor) if out is None else torch.sub(param, anchor, out=out)
    new_norm = torch.linalg.vector_norm(diff, dtype=_reduce_dtype(param))
    ratio = torch.sub(new_norm, prev_norm).clamp_min_(0.0).div_(new_norm + eps)
    # a norm that overflowed (inf / inf) is a deviation far beyond the previous radius: ratio 1;
    # and a closed gate must give exactly 0, never 0 * nan
    ratio = ratio.nan_to_num_(nan=1.0).clamp_(0.0, 1.0)
    rho = torch.where(gate, ratio, torch.zeros_like(ratio))
    if rho.dtype != param.dtype:
        rho = rho.to(param.dtype)
    addcmul_(param, diff, rho, value=-lam)
