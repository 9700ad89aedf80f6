r"""Anchor store and layer depth.

An *anchor* :math:`\theta_0` is the pre-trained value of a parameter. It is captured lazily, at
the first ``step()`` that updates the tensor (before the update), or on demand by
``capture_anchors()``; never at construction, because mmengine builds the optimizer before it
loads the pre-trained weights. It lives in ``optimizer.state[p]['anchor']`` so checkpoints carry
it and a resumed run never re-captures it.

Depth :math:`d\in[0,1]` (0 = nearest the input) comes from the group key ``layer_depth`` when
present (not ``None``); otherwise all tensors of the optimizer are numbered in order across all
groups, :math:`j = 0..N-1`, and :math:`d = j/(N-1)` (:math:`d = 0` when :math:`N = 1`).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["anchor_dtype_for", "capture_anchor_", "depth_map", "group_depth"]


def anchor_dtype_for(param: Tensor, anchor_dtype: torch.dtype | None) -> torch.dtype:
    """The storage dtype of an anchor.

    ``None`` means fp32, promoted to the parameter's dtype when that is wider (a float64
    parameter keeps a float64 anchor, so nothing is lost); ``torch.bfloat16`` halves the memory.
    """
    if anchor_dtype is not None:
        return anchor_dtype
    return torch.promote_types(param.dtype, torch.float32)


def capture_anchor_(state: dict, param: Tensor, anchor_dtype: torch.dtype | None) -> bool:
    """Store ``param``'s current value as its anchor unless one exists; return True if stored."""
    if "anchor" in state:
        return False
    state["anchor"] = param.detach().to(dtype=anchor_dtype_for(param, anchor_dtype), copy=True)
    return True


def depth_map(param_groups: list[dict]) -> dict[int, float]:
    """Tensor-order depth ``j/(N-1)`` of every parameter, keyed by ``id(param)``."""
    order = [p for g in param_groups for p in g["params"]]
    n = len(order)
    if n <= 1:
        return {id(p): 0.0 for p in order}
    return {id(p): j / (n - 1) for j, p in enumerate(order)}


def group_depth(group: dict, param: Tensor, order_depth: dict[int, float] | None) -> float:
    """Depth of ``param``: the group's ``layer_depth`` if set, else its tensor-order depth."""
    d = group.get("layer_depth")
    if d is not None:
        return float(d)
    if order_depth is None:
        return 0.0
    return order_depth[id(param)]
