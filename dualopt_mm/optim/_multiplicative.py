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


def hybrid_apply_(param: Tensor, direction: Direction, *, gamma: float, lr_in: float,
                  lr_out: float, variant: str) -> None:
    """Apply the hybrid update in place (``gamma`` in [0, 1])."""
    if gamma == 0:
        apply_additive_(param, direction)
        return
    t = direction.materialize()  # d, a fresh tensor we may overwrite
    t.mul_(lr_in).tanh_()
    if variant == "abs":
        t.mul_(param.abs())  # |theta'| tanh(lr_in d)
        if gamma != 1:
            apply_additive_(param, direction, factor=1 - gamma)
        param.add_(t, alpha=-gamma * lr_out)
        return
    # 'pow': theta' * 2^(-sign(theta') lr_out tanh(lr_in d))
    factor = torch.exp2(t.mul_(torch.sign(param)).mul_(-lr_out))
    if gamma == 1:
        param.mul_(factor)
        return
    delta = param - param * factor  # theta' - theta' * 2^(...)
    apply_additive_(param, direction, factor=1 - gamma)
    param.sub_(delta, alpha=gamma)
