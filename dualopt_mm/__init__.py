"""dualopt_mm: fine-tuning and from-scratch optimizers for PyTorch and OpenMMLab.

``dualopt_mm.optim`` is pure PyTorch. When mmengine is installed, importing this package also
applies the compatibility fixes in :mod:`dualopt_mm.compat` and registers the project's
OpenMMLab modules into mmengine's root registries, so a config only needs
``custom_imports = dict(imports=['dualopt_mm'], allow_failed_imports=False)``.
"""
__version__ = '0.1.0'


def _setup_openmmlab() -> bool:
    try:
        import mmengine  # noqa: F401
    except ImportError:
        return False
    from . import compat
    compat.apply_all()
    from . import engine  # noqa: F401  (registers into mmengine's root registries)
    from . import models  # noqa: F401  (MultiExitImageClassifier, MultiExitAccuracy)
    return True


OPENMMLAB_AVAILABLE = _setup_openmmlab()
