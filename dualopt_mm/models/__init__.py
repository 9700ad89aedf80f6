"""OpenMMLab models of the project, registered into mmengine's root registries on import
(mmpretrain itself is imported only when a model is built)."""
from .multi_exit import MultiExitAccuracy, MultiExitImageClassifier

__all__ = ['MultiExitImageClassifier', 'MultiExitAccuracy']
