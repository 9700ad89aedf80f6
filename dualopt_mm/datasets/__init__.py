"""Synthetic datasets in the real OpenMMLab formats (COCO, ADE20K, mmpretrain CustomDataset)."""
from .shapes import WORLDS, render_scene, scene_rng
from .synthetic import (ADE_SPLITS, CLS_SPLITS, COCO_SPLITS, SyntheticSpec, default_data_root,
                        ensure_synthetic_data, generate_world, seg_classes)

__all__ = ['WORLDS', 'render_scene', 'scene_rng', 'SyntheticSpec', 'generate_world',
           'ensure_synthetic_data', 'default_data_root', 'seg_classes', 'COCO_SPLITS', 'ADE_SPLITS',
           'CLS_SPLITS']
