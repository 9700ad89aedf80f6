"""mmengine glue: everything here registers into mmengine's root registries on import."""
from .optimizers import REGISTERED as REGISTERED_OPTIMIZERS

__all__ = ['REGISTERED_OPTIMIZERS']
