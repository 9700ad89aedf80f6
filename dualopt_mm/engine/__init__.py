"""mmengine glue: everything here registers into mmengine's root registries on import."""
from .optimizers import REGISTERED as REGISTERED_OPTIMIZERS

__all__ = ['REGISTERED_OPTIMIZERS']
from .osgd_wrapper import OSGDOptimWrapper  # noqa: E402  (registers into OPTIM_WRAPPERS)

__all__ += ['OSGDOptimWrapper']
