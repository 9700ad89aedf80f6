r"""Multiplicative and hybrid final apply (GOFAU, Kirtas, Passalis & Tefas, arXiv 2307.07189).

Keeps the base optimizer's state and direction :math:`d` and replaces only the final
:math:`\theta \leftarrow \theta - \eta d`:

.. math::
    \theta_t = \theta' - \gamma\, \Delta_{mul} - (1 - \gamma)\, \eta\, d,

with :math:`\theta'` the parameter after the base optimizer's own parameter-side work (AdamW's
decoupled decay :math:`\theta(1-\eta\lambda)`; SGD's coupled decay is already inside :math:`d`),
and

* ``variant='abs'``: :math:`\Delta_{mul} = \eta_{out}\, |\theta'| \odot \tanh(\eta_{in} d)`;
* ``variant='pow'``: :math:`\Delta_{mul} = \theta' - \theta' \odot 2^{-\mathrm{sign}(\theta')\,
  \eta_{out} \tanh(\eta_{in} d)}` (sign-exact; at :math:`\gamma = 1` the product is applied
  directly).

:math:`\gamma = 0` runs exactly the base optimizer's additive apply.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._base import Direction, apply_additive_

__all__ = ["hybrid_apply_"]


def tanh_into_(out: Tensor, direction: Direction, scale: float) -> Tensor:
    r"""``out`` <- :math:`\tanh(\mathrm{scale}\cdot d)/2`, written into a work buffer.

    Computed as :math:`\sigma(2x) - 1/2` (equal to :math:`\tanh(x)/2`): torch's vectorised
    CPU ``sigmoid`` is ~6x faster than its ``tanh`` (which evaluates an accurate polynomial per
    element), and the form keeps the sign of :math:`x` (:math:`\sigma(2x) \ge 1/2` iff
    :math:`x \ge 0`) and :math:`|\tanh| \le 1`. The absolute error is a few ulps of 1/2.
    """
    s = 2.0 * scale * direction.d_scale
    if direction.den is None:
        torch.mul(direction.num, s, out=out)
    else:
        torch.div(direction.num, direction.den, out=out)
        if s != 1.0:
            out.mul_(s)
    return out.sigmoid_().sub_(0.5)


def hybrid_apply_(param: Tensor, direction: Direction, *, gamma: float, lr_in: float,
                  lr_out: float, variant: str, work: Tensor | None = None,
                  work2: Tensor | None = None) -> None:
    """Apply the hybrid update in place (``gamma`` in [0, 1]).

    ``work`` / ``work2`` are optional buffers shaped like ``param`` (reused across tensors so no
    memory is allocated per tensor); fresh ones are made when omitted.
    """
    if gamma == 0:
        apply_additive_(param, direction)
        return
    if work is None:
        work = torch.empty_like(param)
    if work2 is None:
        work2 = torch.empty_like(param)
    half_t = tanh_into_(work, direction, lr_in)  # tanh(lr_in d) / 2
    if variant == "abs":
        mag = torch.abs(param, out=work2)  # |theta'|, before the additive part moves theta
        if gamma != 1:
            apply_additive_(param, direction, factor=1 - gamma)
        param.addcmul_(mag, half_t, value=-2.0 * gamma * lr_out)
        return
    # 'pow': theta' * 2^(-sign(theta') lr_out tanh(lr_in d))
    sgn = torch.sign(param, out=work2)
    factor = torch.exp2(half_t.mul_(sgn).mul_(-2.0 * lr_out), out=half_t)
    if gamma == 1:
        param.mul_(factor)
        return
    # delta = theta' - theta' * factor = theta' * (1 - factor)
    delta = torch.mul(param, factor.neg_().add_(1.0), out=work2)
    apply_additive_(param, direction, factor=1 - gamma)
    param.sub_(delta, alpha=gamma)
