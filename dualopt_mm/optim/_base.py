r"""The two base optimizers, SGD (momentum) and AdamW: each an object with its arguments, their
validation, its lazy state and its step in the forms the executor's paths run, all equal to
``torch.optim`` (same state layout, so one state serves every path):

* :meth:`~_SGD.direction` -- the for-loop step of one tensor in torch's own operation order
  (``torch/optim/sgd.py``, ``adam.py``: bit for bit), split so the final apply can be replaced:
  it updates the state (and applies AdamW's decoupled decay) and returns a :class:`Direction`,
  which :func:`apply_additive_` applies as :math:`\theta \leftarrow \theta - \eta d`;
* ``step_list`` -- the whole step over a list through torch's functional foreach / fused code;
* ``step_fused`` -- the whole step of one tensor through torch's fused kernel, called directly;
* ``direction_from_state`` -- :math:`d` rebuilt from the state a fused kernel left.

``lr``, ``weight_decay``, ``maximize`` and ``decoupled`` are explicit arguments: stages change
them (random scaling multiplies ``lr``; L2-SP folds its pull into a coupled decay).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from . import _compat

__all__ = ["Arg", "Direction", "apply_additive_", "as_scalar", "check_range", "SGD", "ADAMW"]


def _fmt(v: Any) -> str:
    return repr(v.item()) if isinstance(v, Tensor) and v.numel() == 1 else repr(v)


def check_range(name: str, value: Any, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False, hi_open: bool = False) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``lo <=/< value <=/< hi``."""
    import math
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name}: a tensor value must have one element, got shape "
                             f"{tuple(value.shape)}")
        v = float(value.detach().cpu())
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    else:
        v = float(value)
    if math.isinf(v):
        # no hyper-parameter of these optimizers means anything at infinity (lr=inf destroys the
        # weights at the first step); "no clipping" etc. is spelt None where it exists
        raise ValueError(f"Invalid {name}: {_fmt(value)} (expected a finite number)")
    ok = not math.isnan(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        lb = "(" if lo_open else "["
        hb = ")" if hi_open else "]"
        lo_s = "-inf" if lo is None else lo
        hi_s = "inf" if hi is None else hi
        raise ValueError(f"Invalid {name}: {_fmt(value)} (expected {name} in {lb}{lo_s}, {hi_s}{hb})")


class Arg(NamedTuple):
    """One constructor argument: its name, default, docstring line (``%(default)s`` is filled
    in from the declaration's default) and whether it is a group key (``False``: it configures
    the optimizer object only, e.g. a seed)."""

    name: str
    default: Any
    doc: str
    group_key: bool = True


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


def apply_additive_(param: Tensor, direction: Direction, factor: float = 1.0) -> None:
    r""":math:`\theta \leftarrow \theta - \mathrm{factor}\cdot\eta d` (torch's last line)."""
    step_size = direction.step_size if factor == 1.0 else direction.step_size * factor
    if direction.den is None:
        param.add_(direction.num, alpha=-step_size)
    else:
        param.addcdiv_(direction.num, direction.den, value=-step_size)


def _device_lr(lr, device: torch.device):
    if isinstance(lr, Tensor) and lr.device != device and lr.device.type != "cpu":
        return lr.to(device)
    return lr


_LR = r"lr (float or Tensor): learning rate :math:`\eta` (default: %(default)s)."


class Base:
    """What the executor needs of a base optimizer (see module docstring)."""

    name: str  # 'sgd' | 'adamw': OPTIMIZERS_INFO's ``base``
    title: str  # the torch.optim class the base equals
    torch_class: type
    plain_class: type  # the torch class with coupled decay (DualOpt's scratch mode at wd=0)
    args: tuple[Arg, ...]  # positional, after ``params``
    kwargs: tuple[Arg, ...] = ()  # keyword-only, after the stages' arguments
    decoupled_decay: bool  # does the step scale the parameter itself (AdamW's decay)?

    def validate(self, g: dict) -> None:
        lr = g["lr"]
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("lr: Tensor lr must be 1-element (a tensor lr must have one element)")
        check_range("lr", lr, 0.0)
        check_range("weight_decay", g["weight_decay"], 0.0)

    def init_state(self, state: dict, p: Tensor, group: dict, fused: bool) -> None:
        pass

    def holds_direction(self, group: dict) -> bool:
        """Whether the state a step leaves holds its direction :math:`d`."""
        return True

    def param_scale(self, group: dict, lr) -> float:
        r""":math:`|\theta'|/|\theta_{t-1}|` after the base's own parameter-side work."""
        return 1.0


class _SGD(Base):
    name, title = "sgd", "SGD"
    torch_class = plain_class = torch.optim.SGD
    decoupled_decay = False
    args = (
        Arg("lr", 1e-2, _LR),
        Arg("momentum", 0.9, r"momentum (float): momentum factor :math:`\mu` (default: %(default)s)."),
        Arg("dampening", 0.0, r"dampening (float): dampening :math:`\tau` (default: %(default)s)."),
        Arg("weight_decay", 0.0,
            r"weight_decay (float): coupled weight decay :math:`\lambda` (default: %(default)s)."),
        Arg("nesterov", False, "nesterov (bool): Nesterov momentum (default: %(default)s)."),
    )

    def validate(self, g):
        super().validate(g)
        check_range("momentum", g["momentum"], 0.0, 1.0)
        check_range("dampening", g["dampening"], 0.0, 1.0)
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError("nesterov: Nesterov momentum requires a momentum > 0 and "
                             "zero dampening")

    def direction(self, param: Tensor, grad: Tensor, state: dict, group: dict, *, lr,
                  weight_decay: float, maximize: bool) -> Direction:
        r"""SGD's direction; updates ``state['momentum_buffer']`` (created at the first step).

        .. math::
            g \leftarrow \pm g + \lambda\theta,\quad b \leftarrow \mu b + (1-\tau) g
            \ (b_1 = g),\quad d = g + \mu b \text{ (nesterov) else } b
        """
        momentum, dampening = group["momentum"], group["dampening"]
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
            d_p = d_p.add(buf, alpha=momentum) if group["nesterov"] else buf
        return Direction(d_p, None, 1.0, lr)

    def step_list(self, params, grads, states, group, *, lr, weight_decay, maximize, fused,
                  decoupled=True) -> None:
        momentum = group["momentum"]
        kw = dict(foreach=not fused, fused=fused, weight_decay=weight_decay, momentum=momentum,
                  lr=lr, dampening=group["dampening"], nesterov=group["nesterov"],
                  maximize=maximize)
        if momentum == 0:
            _compat.functional_sgd(params, grads, [None] * len(params), **dict(kw, momentum=0.0))
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
            _compat.functional_sgd([params[i] for i in idx], [grads[i] for i in idx], sub_bufs,
                                   **kw)
            for i, b in zip(idx, sub_bufs):
                states[i]["momentum_buffer"] = b

    def step_fused(self, param, grad, state, group, *, lr, weight_decay, maximize,
                   decoupled=True) -> None:
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
                          lr=_device_lr(lr, param.device), dampening=group["dampening"],
                          nesterov=group["nesterov"], maximize=maximize, is_first_step=first)

    def holds_direction(self, group):
        return group["momentum"] != 0 and not group["nesterov"]

    def direction_from_state(self, group, state, work) -> Direction:
        return Direction(state["momentum_buffer"], None, 1.0, 0.0)


class _AdamW(Base):
    name, title = "adamw", "AdamW"
    torch_class, plain_class = torch.optim.AdamW, torch.optim.Adam
    decoupled_decay = True
    args = (
        Arg("lr", 1e-3, _LR),
        Arg("betas", (0.9, 0.999), r"betas (tuple[float, float]): :math:`(\beta_1, \beta_2)` "
            "(default: %(default)s)."),
        Arg("eps", 1e-8, r"eps (float): :math:`\epsilon` added to the denominator "
            "(default: %(default)s)."),
        Arg("weight_decay", 1e-2, r"weight_decay (float): decoupled weight decay "
            r":math:`\lambda` (default: %(default)s)."),
    )
    kwargs = (Arg("amsgrad", False, "amsgrad (bool): AMSGrad variant of the base "
                  "(default: %(default)s)."),)

    def validate(self, g):
        super().validate(g)
        check_range("eps", g["eps"], 0.0)
        betas = g["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Invalid betas: {betas!r} (expected a pair)")
        check_range("betas[0]", betas[0], 0.0, 1.0, hi_open=True)
        check_range("betas[1]", betas[1], 0.0, 1.0, hi_open=True)

    def init_state(self, state, p, group, fused):
        """Lazily create Adam's state exactly as ``torch.optim.Adam`` does."""
        if "step" not in state:
            state["step"] = (
                torch.zeros((), dtype=_compat.scalar_dtype(is_fused=True), device=p.device)
                if fused
                else torch.tensor(0.0, dtype=_compat.scalar_dtype())
            )
        if "exp_avg" not in state:
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        if group.get("amsgrad", False) and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def direction(self, param, grad, state, group, *, lr, weight_decay, maximize,
                  decoupled=True) -> Direction:
        r"""AdamW's direction; updates the moments and step, applies decoupled decay to ``param``.

        .. math::
            \theta \leftarrow \theta(1-\eta\lambda),\ m \leftarrow \beta_1 m + (1-\beta_1) g,\
            v \leftarrow \beta_2 v + (1-\beta_2) g^2,\
            d = \frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)} + \epsilon}
        """
        beta1, beta2 = (as_scalar(b) for b in group["betas"])
        eps = group["eps"]
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
        if group.get("amsgrad", False):
            max_sq = state["max_exp_avg_sq"]
            torch.maximum(max_sq, exp_avg_sq, out=max_sq)
            denom = (max_sq.sqrt() / bias_correction2_sqrt).add_(eps)
        else:
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
        return Direction(exp_avg, denom, 1.0 / bias_correction1, step_size)

    def step_list(self, params, grads, states, group, *, lr, weight_decay, maximize, fused,
                  decoupled=True) -> None:
        beta1, beta2 = group["betas"]
        amsgrad = group.get("amsgrad", False)
        _compat.functional_adam(
            params, grads, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
            [s["max_exp_avg_sq"] for s in states] if amsgrad else [], [s["step"] for s in states],
            foreach=not fused, fused=fused, decoupled_weight_decay=decoupled, amsgrad=amsgrad,
            beta1=beta1, beta2=beta2, lr=lr, weight_decay=weight_decay, eps=group["eps"],
            maximize=maximize)

    def step_fused(self, param, grad, state, group, *, lr, weight_decay, maximize,
                   decoupled=True) -> None:
        beta1, beta2 = group["betas"]
        amsgrad = group.get("amsgrad", False)
        step = state["step"]
        step += 1
        kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
        kernel([param], [grad], [state["exp_avg"]], [state["exp_avg_sq"]],
               [state["max_exp_avg_sq"]] if amsgrad else [], [step], amsgrad=amsgrad,
               lr=_device_lr(lr, param.device), beta1=as_scalar(beta1), beta2=as_scalar(beta2),
               weight_decay=weight_decay, eps=group["eps"], maximize=maximize)

    def direction_from_state(self, group, state, work) -> Direction:
        beta1, beta2 = (as_scalar(b) for b in group["betas"])
        step = as_scalar(state["step"])
        bc1, bc2 = 1 - beta1**step, 1 - beta2**step
        v = state["max_exp_avg_sq"] if group.get("amsgrad", False) else state["exp_avg_sq"]
        den = torch.sqrt(v, out=work).div_(bc2**0.5).add_(group["eps"])
        return Direction(state["exp_avg"], den, 1.0 / bc1, 0.0)

    def param_scale(self, group, lr):
        return abs(1 - float(lr) * group["weight_decay"])  # theta' = (1 - lr wd) theta


SGD = _SGD()
ADAMW = _AdamW()
