"""Pure-PyTorch optimizers of dualopt_mm (no OpenMMLab import).

DualOpt (weight rollback / real-time decay), SPD, random-scaled SGD/AdamW, hybrid
multiplicative updates (GOFAU), L2-SP, and functional orthogonalized SGD (OSGD). Every optimizer
is a declaration (:mod:`.methods`): a base (``_base``: SGD or AdamW, bit-compatible with torch)
and stages (``_stages``: anchor capture, rollback, layer-wise decay, selective projection, L2-SP,
random scaling, hybrid apply), run by one executor (``_core``) on three paths.
"""

from . import _stages, methods
from ._base import ADAMW as ADAMW_BASE, SGD as SGD_BASE, Arg
from ._core import ComposedOptimizer
from ._info import OPTIMIZERS_INFO, OptimizerEntry, declare, get_optimizer_info
from ._stages import *  # noqa: F401,F403 (the stages, to declare new combinations)
from .methods import *  # noqa: F401,F403 (the declared optimizers)
from .osgd import orthogonalize_gradients, osgd_backward

__all__ = ["ComposedOptimizer", *methods.__all__, "orthogonalize_gradients", "osgd_backward",
           "OPTIMIZERS_INFO", "OptimizerEntry", "get_optimizer_info", "declare", "Arg", "SGD_BASE",
           "ADAMW_BASE", *_stages.__all__]
