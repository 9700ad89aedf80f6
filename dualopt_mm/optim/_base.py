r"""Base directions of SGD (momentum) and Adam(W), bit-compatible with ``torch.optim``.

Every optimizer of this package is a plain SGD or AdamW step plus small, separately written
pieces (anchor pull, random scaling, multiplicative apply, ...). This module holds the base step,
split in two halves so the final apply can be replaced:

* ``*_direction_`` updates the base state (momentum buffer / moments / step count, and AdamW's
  decoupled decay, which touches the parameter) and returns a :class:`Direction`;
* :func:`apply_additive_` performs the final :math:`\theta \leftarrow \theta - \eta d`.

The single-tensor functions follow the operation order of torch's own for-loop implementation
(``torch/optim/sgd.py`` and ``adam.py``, torch 2.13), so the result equals ``torch.optim.SGD`` /
``torch.optim.AdamW`` bit for bit. The list-level function :func:`base_step_multi_` runs the
whole additive base step through torch's functional interface (``torch.optim.sgd.sgd`` /
``torch.optim.adam.adam``; :mod:`._compat` picks the form the installed torch has) with
``foreach=True`` or ``fused=True``: the fast paths.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ._compat import functional_adam, functional_sgd, scalar_dtype

__all__ = [
    "Direction",
    "init_adam_state",
    "sgd_direction_",
    "adam_direction_",
    "apply_additive_",
    "base_step_multi_",
    "fused_step_one_",
    "as_scalar",
]


def as_scalar(x):
    """Return a Python number for a CPU tensor hyper-parameter, else ``x`` unchanged.

    torch's for-loop paths do the same (a CPU ``.item()`` is no device sync). Device tensors are
    kept as tensors, so no host sync happens for them.
    """
    if isinstance(x, Tensor) and x.device.type == "cpu":
        return x.item()
    return x


class Direction(NamedTuple):
    r"""A base direction :math:`d` in the factored form torch applies it.

    ``num / den`` (``den=None``: just ``num``) times ``d_scale`` is the direction :math:`d`;
    the additive update is :math:`\theta \leftarrow \theta - \mathrm{step\_size}\cdot
    \mathrm{num}/\mathrm{den}`, with ``step_size = lr * d_scale``.
    SGD: ``num`` = momentum buffer (or the Nesterov/plain gradient), ``d_scale = 1``.
    Adam: ``num`` = :math:`m_t`, ``den`` = :math:`\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon`,
    ``d_scale`` = :math:`1/(1-\beta_1^t)`.
    """

    num: Tensor
    den: Tensor | None
    d_scale: float
    step_size: float | Tensor

    def materialize(self) -> Tensor:
        """Return :math:`d` as a new tensor."""
        d = self.num.clone() if self.den is None else torch.div(self.num, self.den)
        if self.d_scale != 1.0:
            d.mul_(self.d_scale)
        return d


def init_adam_state(state: dict, p: Tensor, amsgrad: bool, fused: bool) -> None:
    """Lazily create Adam's state exactly as ``torch.optim.Adam`` does."""
    if "step" not in state:
        state["step"] = (
            torch.zeros((), dtype=scalar_dtype(is_fused=True), device=p.device)
            if fused
            else torch.tensor(0.0, dtype=scalar_dtype())
        )
    if "exp_avg" not in state:
        state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
    if amsgrad and "max_exp_avg_sq" not in state:
        state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)


def sgd_direction_(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float,
    weight_decay: float,
    momentum: float,
    dampening: float,
    nesterov: bool,
    maximize: bool,
) -> Direction:
    r"""SGD's direction; updates ``state['momentum_buffer']`` (created at the first step).

    .. math::
        g \leftarrow \pm g + \lambda\theta,\quad b \leftarrow \mu b + (1-\tau) g
        \ (b_1 = g),\quad d = g + \mu b \text{ (nesterov) else } b
    """
    d_p = grad if not maximize else -grad
    if weight_decay != 0:
        d_p = d_p.add(param, alpha=weight_decay)
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = d_p.detach().clone()
            state["momentum_buffer"] = buf
        else:
            buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
        d_p = d_p.add(buf, alpha=momentum) if nesterov else buf
    return Direction(d_p, None, 1.0, lr)


def adam_direction_(
    param: Tensor,
    grad: Tensor,
    state: dict,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled: bool = True,
) -> Direction:
    r"""AdamW's direction; updates the moments and step, applies decoupled decay to ``param``.

    .. math::
        \theta \leftarrow \theta(1-\eta\lambda),\ m \leftarrow \beta_1 m + (1-\beta_1) g,\
        v \leftarrow \beta_2 v + (1-\beta_2) g^2,\
        d = \frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)} + \epsilon}
    """
    g = grad if not maximize else -grad
    exp_avg, exp_avg_sq, step_t = state["exp_avg"], state["exp_avg_sq"], state["step"]
    step_t += 1
    if weight_decay != 0:
        if decoupled:
            param.mul_(1 - lr * weight_decay)
        else:
            g = g.add(param, alpha=weight_decay)
    exp_avg.lerp_(g, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
    step = step_t.item()
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5
    if amsgrad:
        max_sq = state["max_exp_avg_sq"]
        torch.maximum(max_sq, exp_avg_sq, out=max_sq)
        denom = (max_sq.sqrt() / bias_correction2_sqrt).add_(eps)
    else:
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
    return Direction(exp_avg, denom, 1.0 / bias_correction1, step_size)


def apply_additive_(param: Tensor, direction: Direction, factor: float = 1.0) -> None:
    r""":math:`\theta \leftarrow \theta - \mathrm{factor}\cdot\eta d` (torch's last line)."""
    step_size = direction.step_size if factor == 1.0 else direction.step_size * factor
    if direction.den is None:
        param.add_(direction.num, alpha=-step_size)
    else:
        param.addcdiv_(direction.num, direction.den, value=-step_size)


def base_step_multi_(
    base: str,
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict],
    group: dict,
    *,
    lr,
    weight_decay: float,
    maximize: bool,
    fused: bool,
    decoupled: bool = True,
) -> None:
    """Whole additive base step over a list, through torch's functional foreach/fused code.

    ``lr``, ``weight_decay`` and ``maximize`` are passed explicitly because the composing
    optimizers change them (random scaling multiplies ``lr``; L2-SP folds its pull into a
    coupled decay). The state layout is torch's, so the same state works on every path.
    """
    if not params:
        return
    foreach = not fused
    if base == "sgd":
        momentum = group["momentum"]
        if momentum == 0:
            bufs: list = [None] * len(params)
            functional_sgd(params, grads, bufs, foreach=foreach, fused=fused,
                       weight_decay=weight_decay, momentum=0.0, lr=lr,
                       dampening=group["dampening"], nesterov=group["nesterov"],
                       maximize=maximize)
            return
        bufs = [s.get("momentum_buffer") for s in states]
        if fused:
            # torch's fused SGD treats a group as all-first-step or none: split mixed lists.
            parts = [[i for i, b in enumerate(bufs) if b is None],
                     [i for i, b in enumerate(bufs) if b is not None]]
        else:
            parts = [list(range(len(params)))]
        for idx in parts:
            if not idx:
                continue
            sub_bufs = [bufs[i] for i in idx]
            functional_sgd([params[i] for i in idx], [grads[i] for i in idx], sub_bufs,
                       foreach=foreach, fused=fused, weight_decay=weight_decay,
                       momentum=momentum, lr=lr, dampening=group["dampening"],
                       nesterov=group["nesterov"], maximize=maximize)
            for i, b in zip(idx, sub_bufs):
                states[i]["momentum_buffer"] = b
        return
    beta1, beta2 = group["betas"]
    amsgrad = group.get("amsgrad", False)
    functional_adam(
        params,
        grads,
        [s["exp_avg"] for s in states],
        [s["exp_avg_sq"] for s in states],
        [s["max_exp_avg_sq"] for s in states] if amsgrad else [],
        [s["step"] for s in states],
        foreach=foreach,
        fused=fused,
        decoupled_weight_decay=decoupled,
        amsgrad=amsgrad,
        beta1=beta1,
        beta2=beta2,
        lr=lr,
        weight_decay=weight_decay,
        eps=group["eps"],
        maximize=maximize,
    )


def _device_lr(lr, device: torch.device):
    if isinstance(lr, Tensor) and lr.device != device and lr.device.type != "cpu":
        return lr.to(device)
    return lr


def fused_step_one_(
    base: str,
    param: Tensor,
    grad: Tensor,
    state: dict,
    group: dict,
    *,
    lr,
    weight_decay: float,
    maximize: bool,
    decoupled: bool = True,
) -> None:
    """Whole additive base step of one tensor through torch's fused kernel, called directly.

    The same kernel and state layout as :func:`base_step_multi_` with ``fused=True`` (so the
    result is identical), without the functional wrapper's per-call grouping overhead. Called
    tensor by tensor, it lets the pieces before and after the base step run while the tensor
    is still in the CPU cache.
    """
    lr = _device_lr(lr, param.device)
    if base == "sgd":
        momentum = group["momentum"]
        if momentum == 0:
            bufs: list[Tensor] = []
            first = False
        else:
            buf = state.get("momentum_buffer")
            first = buf is None
            if first:
                buf = torch.empty_like(grad)
                state["momentum_buffer"] = buf
            bufs = [buf]
        torch._fused_sgd_([param], [grad], bufs, weight_decay=weight_decay, momentum=momentum,
                          lr=lr, dampening=group["dampening"], nesterov=group["nesterov"],
                          maximize=maximize, is_first_step=first)
        return
    beta1, beta2 = group["betas"]
    amsgrad = group.get("amsgrad", False)
    step = state["step"]
    step += 1
    kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
    kernel([param], [grad], [state["exp_avg"]], [state["exp_avg_sq"]],
           [state["max_exp_avg_sq"]] if amsgrad else [], [step], amsgrad=amsgrad, lr=lr,
           beta1=as_scalar(beta1), beta2=as_scalar(beta2), weight_decay=weight_decay,
           eps=group["eps"], maximize=maximize)
