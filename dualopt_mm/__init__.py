"""dualopt_mm: fine-tuning and from-scratch optimizers for PyTorch and OpenMMLab.

``dualopt_mm.optim`` is pure PyTorch. When mmengine is installed, importing this package also
applies the compatibility fixes in :mod:`dualopt_mm.compat` and registers the project's
OpenMMLab modules into mmengine's root registries, so a config only needs
``custom_imports = dict(imports=['dualopt_mm'], allow_failed_imports=False)``.
"""
__version__ = '0.2.0'  # the one version source (pyproject.toml reads it)


MMENGINE_MIN = '0.10'


def _setup_openmmlab() -> bool:
    try:
        import mmengine
    except ImportError:
        return False
    from mmengine.utils import digit_version
    if digit_version(mmengine.__version__) < digit_version(MMENGINE_MIN):
        # the OpenMMLab glue is written and tested against mmengine 0.10 (the compatibility leg)
        raise ImportError(f'dualopt_mm needs mmengine >= {MMENGINE_MIN} for its OpenMMLab modules, this is '
                          f'mmengine {mmengine.__version__} (pip install "mmengine>={MMENGINE_MIN}")')
    from . import compat
    compat.apply_all()
    from . import engine  # noqa: F401  (registers into mmengine's root registries)
    from . import models  # noqa: F401  (MultiExitImageClassifier, MultiExitAccuracy)
    return True


OPENMMLAB_AVAILABLE = _setup_openmmlab()
