"""Listing of the optimizers with their capability flags (drives the generic test suite)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from .dualopt import DualOptAdamW, DualOptSGD
from .hybrid import HybridAdamW, HybridSGD
from .l2sp import L2SPAdamW, L2SPSGD
from .random_scaled import RandomScaledAdamW, RandomScaledSGD
from .spd import SPDAdamW, SPDSGD

__all__ = ["OptimizerEntry", "OPTIMIZERS_INFO", "get_optimizer_info"]


@dataclass(frozen=True)
class OptimizerEntry:
    """Capability flags of one optimizer.

    ``neutral`` (kwargs) makes the optimizer equal ``torch_equivalent`` (a torch.optim class,
    built with the same base kwargs); ``extra_neutral`` lists further (kwargs, torch class)
    pairs. ``typical`` are non-neutral kwargs for property tests.
    """

    name: str
    cls: type
    base: str  # 'sgd' | 'adamw'
    anchored: bool
    supports_foreach: bool
    supports_fused: bool
    neutral: dict[str, Any]
    torch_equivalent: type
    typical: dict[str, Any] = field(default_factory=dict)
    extra_neutral: tuple = ()
    random: bool = False


OPTIMIZERS_INFO: dict[str, OptimizerEntry] = {
    e.name: e
    for e in [
        OptimizerEntry("DualOptAdamW", DualOptAdamW, "adamw", True, True, True,
                       dict(rollback=0.0, rollback_min=0.0), torch.optim.AdamW,
                       typical=dict(rollback=0.2, rollback_min=0.05),
                       extra_neutral=((dict(mode="scratch", weight_decay=0.0), torch.optim.Adam),)),
        OptimizerEntry("DualOptSGD", DualOptSGD, "sgd", True, True, True,
                       dict(rollback=0.0, rollback_min=0.0), torch.optim.SGD,
                       typical=dict(rollback=0.2, rollback_min=0.05),
                       extra_neutral=((dict(mode="scratch", weight_decay=0.0), torch.optim.SGD),)),
        OptimizerEntry("SPDAdamW", SPDAdamW, "adamw", True, True, True,
                       dict(projection_decay=0.0), torch.optim.AdamW,
                       typical=dict(projection_decay=0.7)),
        OptimizerEntry("SPDSGD", SPDSGD, "sgd", True, True, True,
                       dict(projection_decay=0.0), torch.optim.SGD,
                       typical=dict(projection_decay=0.7)),
        OptimizerEntry("RandomScaledSGD", RandomScaledSGD, "sgd", False, True, True,
                       dict(random_scaling=False), torch.optim.SGD,
                       typical=dict(random_scaling=True, seed=3), random=True),
        OptimizerEntry("RandomScaledAdamW", RandomScaledAdamW, "adamw", False, True, True,
                       dict(random_scaling=False), torch.optim.AdamW,
                       typical=dict(random_scaling=True, seed=3), random=True),
        OptimizerEntry("HybridSGD", HybridSGD, "sgd", False, False, True,
                       dict(gamma=0.0), torch.optim.SGD,
                       typical=dict(gamma=0.5, lr_out=0.05)),
        OptimizerEntry("HybridAdamW", HybridAdamW, "adamw", False, False, True,
                       dict(gamma=0.0), torch.optim.AdamW,
                       typical=dict(gamma=0.5, lr_out=0.05)),
        OptimizerEntry("L2SPAdamW", L2SPAdamW, "adamw", True, True, True,
                       dict(sp_alpha=0.0), torch.optim.AdamW,
                       typical=dict(sp_alpha=0.5)),
        OptimizerEntry("L2SPSGD", L2SPSGD, "sgd", True, True, True,
                       dict(sp_alpha=0.0), torch.optim.SGD,
                       typical=dict(sp_alpha=0.5)),
    ]
}


def get_optimizer_info(name: str | None = None):
    """The entry of ``name``, or the list of all entries."""
    return OPTIMIZERS_INFO[name] if name is not None else list(OPTIMIZERS_INFO.values())
