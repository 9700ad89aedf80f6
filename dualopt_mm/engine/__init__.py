"""mmengine glue: everything here registers into mmengine's root registries on import."""
from .constructor import LayerwiseOptimWrapperConstructor
from .hooks import AnchorHook, OptimizerStatsHook
from .optimizers import REGISTERED as REGISTERED_OPTIMIZERS

__all__ = ['LayerwiseOptimWrapperConstructor', 'AnchorHook', 'OptimizerStatsHook',
           'REGISTERED_OPTIMIZERS']
