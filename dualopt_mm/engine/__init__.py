"""mmengine glue: everything here registers into mmengine's root registries on import."""
from .constructor import LayerwiseOptimWrapperConstructor
from .optimizers import REGISTERED as REGISTERED_OPTIMIZERS

__all__ = ['LayerwiseOptimWrapperConstructor', 'REGISTERED_OPTIMIZERS']
