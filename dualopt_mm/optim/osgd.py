r"""Orthogonalized SGD (OSGD): Gram--Schmidt of per-task gradients before any optimizer step.

For a network with :math:`K` outputs trained jointly (early exits, auxiliary heads) in priority
order (earliest exit first):

.. math::
   \begin{aligned}
     &g_k = \partial L_k / \partial\theta \quad (k = 1..K;\ 0 \text{ where } L_k
        \text{ does not reach } \theta) \\
     &v_1 = g_1,\qquad v_k = g_k - \sum_{l<k} \frac{\langle g_k, v_l\rangle}
        {\lVert v_l\rVert^2}\, v_l \quad (\text{terms with } \lVert v_l\rVert^2 < \varepsilon
        \text{ skipped}) \\
     &G = \sum_k v_k \ \text{ is written to } \texttt{.grad}
   \end{aligned}

per tensor (``granularity='tensor'``, default) or over the whole flattened model
(``granularity='global'``). Any optimizer then steps on :math:`G`; with :math:`K = 1` it is the
plain optimizer. The projection coefficients are computed on the device (``torch.where``), with
no host synchronisation.

Under DDP, each :math:`g_k` must be averaged across ranks *before* the projection:
``torch.autograd.grad`` does not trigger DDP's all-reduce (the mmengine ``OSGDOptimWrapper``
does this).

Example:
    >>> osgd_backward([loss_exit1, loss_exit2, loss_final], model.parameters())
    >>> optimizer.step(); optimizer.zero_grad()

Reference: Wan, Hoffmann, Lu & Maire, *Orthogonalized SGD and Nested Architectures for Anytime
Neural Networks*, ICML 2020, arXiv 2008.06635.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

__all__ = ["orthogonalize_gradients", "osgd_backward"]

_GRANULARITIES = ("tensor", "global")


def _rdtype(t: Tensor) -> torch.dtype:
    return torch.promote_types(t.dtype, torch.float32)


def _dot(a: Tensor, b: Tensor) -> Tensor:
    rd = _rdtype(a)
    return torch.dot(a.reshape(-1).to(rd), b.reshape(-1).to(rd))


def _sum(terms: list[Tensor]) -> Tensor:
    if not terms:
        return torch.zeros(())
    dev = terms[0].device
    return torch.stack([t.to(dev) for t in terms]).sum()


def _coef(dot: Tensor, nsq: Tensor, eps: float) -> Tensor:
    ok = nsq >= eps
    return torch.where(ok, dot / torch.where(ok, nsq, torch.ones_like(nsq)), torch.zeros_like(dot))


def _gram_schmidt_tensor(gs: list[Tensor], eps: float) -> Tensor:
    """Per-tensor Gram--Schmidt of the present task gradients; returns the sum of the v_k."""
    vs: list[Tensor] = []
    nsqs: list[Tensor] = []
    for g in gs:
        v = g.clone()
        for vl, nsq in zip(vs, nsqs):
            c = _coef(_dot(g, vl), nsq, eps)
            v.sub_(vl * c.to(v.dtype))
        vs.append(v)
        nsqs.append(_dot(v, v))
    total = vs[0]
    for v in vs[1:]:
        total.add_(v)
    return total


def orthogonalize_gradients(task_grads: Sequence[Sequence[Tensor | None]],
                            granularity: str = "tensor", eps: float = 1e-20) -> list[Tensor | None]:
    r"""Combine per-task gradients by Gram--Schmidt in priority order (see module docstring).

    Args:
        task_grads: list over tasks (priority order, highest first) of lists over parameters of
            ``Tensor`` or ``None`` (``None`` = the task does not reach that parameter).
        granularity: ``'tensor'`` (one projection per parameter tensor) or ``'global'`` (inner
            products over all parameters together).
        eps: squared norms below ``eps`` are treated as zero (that :math:`v_l` is skipped).

    Returns:
        For every parameter, :math:`G = \sum_k v_k`, or ``None`` when no task reaches it.
        The inputs are not modified.
    """
    if granularity not in _GRANULARITIES:
        raise ValueError(f"Invalid granularity: {granularity!r} (expected one of {_GRANULARITIES})")
    if eps < 0:
        raise ValueError(f"Invalid eps: {eps} (expected >= 0)")
    task_grads = [list(tg) for tg in task_grads]
    if not task_grads:
        raise ValueError("task_grads: expected at least one task")
    n = len(task_grads[0])
    if any(len(tg) != n for tg in task_grads):
        raise ValueError("task_grads: every task must list the same number of parameters")
    for tg in task_grads:
        for g in tg:
            if g is not None and g.is_sparse:
                raise RuntimeError("orthogonalize_gradients does not support sparse gradients")

    if granularity == "tensor":
        out: list[Tensor | None] = []
        for i in range(n):
            gs = [tg[i] for tg in task_grads if tg[i] is not None]
            out.append(_gram_schmidt_tensor(gs, eps) if gs else None)
        return out

    # global: the whole model is one vector; missing task gradients are zeros
    present = [any(tg[i] is not None for tg in task_grads) for i in range(n)]
    like = [next((tg[i] for tg in task_grads if tg[i] is not None), None) for i in range(n)]
    vs: list[list[Tensor | None]] = []
    nsqs: list[Tensor] = []
    for tg in task_grads:
        v = [None if tg[i] is None else tg[i].clone() for i in range(n)]
        for vl, nsq in zip(vs, nsqs):
            dot = _sum([_dot(tg[i], vl[i]) for i in range(n)
                        if tg[i] is not None and vl[i] is not None])
            c = _coef(dot, nsq, eps)
            for i in range(n):
                if vl[i] is None:
                    continue
                if v[i] is None:
                    v[i] = torch.zeros_like(like[i])
                v[i].sub_(vl[i] * c.to(device=vl[i].device, dtype=vl[i].dtype))
        vs.append(v)
        nsqs.append(_sum([_dot(x, x) for x in v if x is not None]))
    out = []
    for i in range(n):
        if not present[i]:
            out.append(None)
            continue
        total = None
        for v in vs:
            if v[i] is not None:
                total = v[i] if total is None else total.add_(v[i])
        out.append(total)
    return out


def osgd_backward(losses: Sequence[Tensor], params: Iterable[Tensor],
                  granularity: str = "tensor") -> None:
    r"""Per-task backward passes, orthogonalization, and the combined gradient into ``.grad``.

    Args:
        losses: scalar losses in priority order (earliest exit / most important first).
        params: the parameters (those with ``requires_grad=False`` are ignored).
        granularity: ``'tensor'`` or ``'global'`` (see :func:`orthogonalize_gradients`).

    Like ``loss.backward()``, the result is accumulated into an existing ``.grad`` (call
    ``zero_grad()`` first for a fresh gradient); parameters no loss reaches are left alone.
    """
    losses = list(losses)
    if not losses:
        raise ValueError("losses: expected at least one loss")
    params = [p for p in params if p.requires_grad]
    task_grads = []
    for k, loss in enumerate(losses):
        grads = torch.autograd.grad(loss, params, retain_graph=k < len(losses) - 1,
                                    allow_unused=True)
        task_grads.append(list(grads))
    combined = orthogonalize_gradients(task_grads, granularity=granularity)
    with torch.no_grad():
        for p, g in zip(params, combined):
            if g is None:
                continue
            if p.grad is None:
                p.grad = g.detach()
            else:
                p.grad.add_(g)
