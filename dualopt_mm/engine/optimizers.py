"""Every optimizer of :mod:`dualopt_mm.optim` in mmengine's root OPTIMIZERS registry, under its
class name, so ``optim_wrapper.optimizer.type='DualOptAdamW'`` works under any default scope."""
from mmengine.registry import OPTIMIZERS

from .. import optim


def register_optimizers():
    names = []
    for entry in optim.OPTIMIZERS_INFO.values():
        cls = entry.cls
        if OPTIMIZERS.get(cls.__name__) is not cls:
            OPTIMIZERS.register_module(name=cls.__name__, module=cls)
        names.append(cls.__name__)
    return names


REGISTERED = register_optimizers()
