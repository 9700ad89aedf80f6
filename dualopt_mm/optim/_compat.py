"""What the installed torch can do, detected once at import (the package supports torch >= 2.1).

Every difference between torch releases that the optimizers meet is a flag or a small function
here, found by looking at torch itself (a signature, an attribute, one tiny kernel call on CPU),
not by comparing version strings (the one exception: the floor), so a backport or a custom build
gets what it actually has.
Where torch lacks a fast path the callers take another one with the same numbers; where the
user asked for it explicitly (``fused=True``) :func:`check_fused` raises an error naming the
torch release that has it.
"""

from __future__ import annotations

import inspect

import torch
from torch import Tensor
from torch.optim import adam as _adam_mod
from torch.optim import adamw as _adamw_mod
from torch.optim import optimizer as _optimizer_mod
from torch.optim import sgd as _sgd_mod

__all__ = ["TORCH_VERSION", "FUSED_DEVICES", "FUSED_SGD", "CPU_NONFINITE_KERNEL", "NAMED_PARAMS",
           "scalar_dtype", "check_fused", "functional_adam", "functional_sgd", "addcmul_",
           "split_named_params"]

TORCH_VERSION = torch.__version__
# the one version comparison: the floor, below which nothing is tested and no fallback is written
if torch.torch_version.TorchVersion(TORCH_VERSION) < (2, 1):
    raise ImportError(f"dualopt_mm needs torch >= 2.1, this is torch {TORCH_VERSION}")


def _probe(fn) -> bool:
    try:
        fn()
    except (RuntimeError, NotImplementedError, TypeError):
        return False
    return True


# devices torch's fused Adam(W) kernels run on (CPU from torch 2.4); torch's own list
try:
    from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
    FUSED_DEVICES = frozenset(_get_fused_kernels_supported_devices())
except ImportError:  # a torch that moved the helper: CUDA has had fused Adam(W) since 2.0
    FUSED_DEVICES = frozenset({"cuda"})

# fused SGD: the kernel and the functional's ``fused=`` argument (torch 2.3)
_SGD_FUSED_KWARG = "fused" in inspect.signature(_sgd_mod.sgd).parameters
FUSED_SGD = _SGD_FUSED_KWARG and hasattr(torch, "_fused_sgd_")

# the exact multi-tensor non-finite check GradScaler uses, on CPU (torch 2.3)
CPU_NONFINITE_KERNEL = _probe(lambda: torch._amp_foreach_non_finite_check_and_unscale_(
    [torch.ones(1)], torch.zeros(1), torch.ones(1)))

# ``Optimizer(model.named_parameters())`` (torch 2.6)
NAMED_PARAMS = _probe(lambda: torch.optim.SGD([("w", torch.nn.Parameter(torch.zeros(1)))], lr=0.1))

# ``adam(decoupled_weight_decay=)`` (torch 2.7); before it, decoupled decay is ``adamw()``
_ADAM_DECOUPLED_KWARG = "decoupled_weight_decay" in inspect.signature(_adam_mod.adam).parameters

# an in-place addcmul_ of a bf16 tensor with an fp32 operand on CPU (an internal assert before 2.3)
_MIXED_ADDCMUL = _probe(lambda: torch.zeros(1, dtype=torch.bfloat16).addcmul_(
    torch.ones(1), torch.ones(1, dtype=torch.bfloat16)))

_get_scalar_dtype = getattr(_optimizer_mod, "_get_scalar_dtype", None)


def scalar_dtype(is_fused: bool | None = None) -> torch.dtype:
    """The dtype torch's Adam uses for its ``step`` tensor (``_get_scalar_dtype``, torch 2.3+)."""
    if _get_scalar_dtype is not None:
        return _get_scalar_dtype(is_fused=is_fused)
    if is_fused:
        return torch.float32
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def check_fused(base: str, params: list[Tensor]) -> None:
    """Raise ``RuntimeError`` if torch has no fused kernel for ``base`` on these tensors' devices."""
    if base == "sgd" and not FUSED_SGD:
        raise RuntimeError(f"fused=True for an SGD-based optimizer needs torch >= 2.3 (this is "
                           f"torch {TORCH_VERSION}); use the default path (same numbers)")
    for p in params:
        kind = p.device.type
        if kind not in FUSED_DEVICES:
            need = "torch >= 2.4" if kind == "cpu" else "a torch with fused kernels for it"
            raise RuntimeError(f"fused=True on {kind} tensors needs {need} (this is torch "
                               f"{TORCH_VERSION}); use the default path (same numbers)")


def functional_sgd(*args, fused: bool, **kwargs) -> None:
    """``torch.optim.sgd.sgd``, passing ``fused`` only to a torch that knows it."""
    if _SGD_FUSED_KWARG:
        kwargs["fused"] = fused
    elif fused:  # unreachable after check_fused; kept so no path silently drops fused=True
        raise RuntimeError(f"torch {TORCH_VERSION} has no fused SGD")
    _sgd_mod.sgd(*args, **kwargs)


def functional_adam(*args, decoupled_weight_decay: bool, **kwargs) -> None:
    """Adam's functional form with coupled or decoupled (AdamW) weight decay."""
    if _ADAM_DECOUPLED_KWARG:
        _adam_mod.adam(*args, decoupled_weight_decay=decoupled_weight_decay, **kwargs)
    elif decoupled_weight_decay:
        _adamw_mod.adamw(*args, **kwargs)
    else:
        _adam_mod.adam(*args, **kwargs)


def addcmul_(t: Tensor, a: Tensor, b: Tensor, value: float) -> Tensor:
    """``t.addcmul_(a, b, value=value)``; on a torch whose CPU kernel cannot mix dtypes in place,
    computed in the promoted dtype and rounded once into ``t`` (what the kernel does)."""
    if _MIXED_ADDCMUL or t.device.type != "cpu" or a.dtype == b.dtype == t.dtype:
        return t.addcmul_(a, b, value=value)
    return t.copy_(torch.addcmul(t, a, b, value=value))


def split_named_params(param_group: dict) -> None:
    """On a torch without named-parameter groups, turn ``[(name, tensor), ...]`` into tensors
    plus ``param_names``, as torch 2.6+ does (a no-op for plain tensors)."""
    params = param_group["params"]
    if NAMED_PARAMS or isinstance(params, (Tensor, set)):
        return
    params = list(params)
    named = [isinstance(p, tuple) for p in params]
    if any(named):
        if not all(named):
            raise ValueError("all optimizer params should be with/without names. Some param names "
                             "are missing")
        param_group["param_names"] = [name for name, _ in params]
        params = [p for _, p in params]
    param_group["params"] = params
