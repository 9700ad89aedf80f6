"""Pure-PyTorch optimizers of dualopt_mm (no OpenMMLab import).

DualOpt (weight rollback / real-time decay), SPD, random-scaled SGD/AdamW, hybrid
multiplicative updates (GOFAU), L2-SP, and functional orthogonalized SGD (OSGD). All subclass
``torch.optim.Optimizer`` and are built from the shared pieces in ``_base`` (SGD/AdamW base
direction, bit-compatible with torch), ``_anchor``, ``_pull``, ``_random_scale``,
``_multiplicative`` and ``osgd``.
"""

from ._core import ComposedOptimizer
from ._info import OPTIMIZERS_INFO, OptimizerEntry, get_optimizer_info
from .dualopt import DualOptAdamW, DualOptSGD
from .hybrid import HybridAdamW, HybridSGD
from .l2sp import L2SPAdamW, L2SPSGD
from .osgd import orthogonalize_gradients, osgd_backward
from .random_scaled import RandomScaledAdamW, RandomScaledSGD
from .spd import SPDAdamW, SPDSGD

__all__ = [
    "ComposedOptimizer",
    "DualOptAdamW",
    "DualOptSGD",
    "SPDAdamW",
    "SPDSGD",
    "RandomScaledSGD",
    "RandomScaledAdamW",
    "HybridSGD",
    "HybridAdamW",
    "L2SPAdamW",
    "L2SPSGD",
    "orthogonalize_gradients",
    "osgd_backward",
    "OPTIMIZERS_INFO",
    "OptimizerEntry",
    "get_optimizer_info",
]
