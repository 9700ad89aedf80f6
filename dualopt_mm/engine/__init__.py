"""mmengine glue: everything here registers into mmengine's root registries on import."""
from .constructor import LayerwiseOptimWrapperConstructor
from .hooks import AnchorHook, OptimizerStatsHook
from .optimizers import REGISTERED as REGISTERED_OPTIMIZERS
from .osgd_wrapper import OSGDOptimWrapper

__all__ = ['LayerwiseOptimWrapperConstructor', 'AnchorHook', 'OptimizerStatsHook',
           'OSGDOptimWrapper', 'REGISTERED_OPTIMIZERS']
