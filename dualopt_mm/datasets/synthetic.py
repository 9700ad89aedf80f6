"""Write the synthetic shapes scenes to disk in the formats the OpenMMLab datasets read.

For a world ``W`` (``downstream`` or ``upstream``) under ``root`` it writes::

    W/coco/annotations/instances_{train2017,val2017,val_ood2017,test2017}.json   (COCO: boxes, RLE masks)
    W/coco/{train2017,val2017,val_ood2017,test2017}/000000.jpg
    W/ade/images/{training,validation,validation_ood,test}/000000.jpg  (ADE20K layout)
    W/ade/annotations/{training,validation,validation_ood,test}/000000.png
                                                  (0 = unlabelled, 1 = background, 2.. = object classes)
    W/cls/{train,val,val_ood,test}/<class>/000000_0.jpg                (mmpretrain CustomDataset)
    W/manifest.json                                                    (the generation arguments)

The three formats describe the *same* scenes: the semantic label map is the union of the instance
masks, and classification samples are crops around the (mostly unoccluded) objects.

Splits: ``train``; ``val`` (tuning and model selection); ``test`` (reported numbers: fresh scenes,
larger, rendered like val); ``val_ood`` (unseen backgrounds + one corruption per image). Every
scene is seeded from ``(world, split, index, seed)`` alone, so a split's images do not depend on
the sizes of the other splits, and the splits are disjoint by construction. The classification
``test`` split is drawn from ``num_test_cls`` scenes, the first ``num_test`` of which are exactly
the COCO / ADE test scenes (the others only feed crops).
"""
from __future__ import annotations

import json
import os
import os.path as osp
import shutil
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from .shapes import WORLDS, render_scene, scene_rng

__all__ = ['SyntheticSpec', 'generate_world', 'ensure_synthetic_data', 'default_data_root',
           'COCO_SPLITS', 'ADE_SPLITS', 'CLS_SPLITS', 'WORLD_DEFAULTS', 'seg_classes']

COCO_SPLITS = {'train': 'train2017', 'val': 'val2017', 'val_ood': 'val_ood2017', 'test': 'test2017'}
ADE_SPLITS = {'train': 'training', 'val': 'validation', 'val_ood': 'validation_ood', 'test': 'test'}
CLS_SPLITS = {'train': 'train', 'val': 'val', 'val_ood': 'val_ood', 'test': 'test'}
# 2: the `test` split (and its manifest stats) was added; train / val / val_ood scenes are unchanged
FORMAT_VERSION = 2

# Sizes a world gets when the spec leaves them unset (None). The upstream world's cls val split is
# what forgetting is measured on, so it is larger: 300 scenes give >= 1,000 crops.
WORLD_DEFAULTS = {
    'downstream': {'num_val': 100},
    'upstream': {'num_val': 300},
}


@dataclass(frozen=True)
class SyntheticSpec:
    """Everything that determines the generated files (written to ``manifest.json``).

    Sizes are numbers of scenes (COCO / ADE images); each scene gives ~3.7 classification crops.
    ``num_val=None`` takes the world's default (:data:`WORLD_DEFAULTS`); the spec stores the
    resolved number. ``num_test_cls`` scenes feed the classification test split (>= 1,500 crops by
    default); the first ``num_test`` of them are the COCO / ADE test scenes, so it must be >=
    ``num_test``.
    """
    world: str = 'downstream'
    seed: int = 0
    image_size: int = 128
    num_train: int = 300
    num_val: int | None = None
    num_val_ood: int = 300
    cls_size: int = 64
    min_cls_visible: float = 0.75
    num_test: int = 300
    num_test_cls: int = 450
    version: int = FORMAT_VERSION

    def __post_init__(self):
        if self.num_val is None:
            object.__setattr__(self, 'num_val', WORLD_DEFAULTS.get(self.world, WORLD_DEFAULTS['downstream'])['num_val'])

    def split_sizes(self) -> dict:
        """``split -> (COCO / ADE scenes, classification scenes)``."""
        return {'train': (self.num_train, self.num_train), 'val': (self.num_val, self.num_val),
                'val_ood': (self.num_val_ood, self.num_val_ood), 'test': (self.num_test, self.num_test_cls)}


def default_data_root() -> str:
    """``$DUALOPT_DATA`` if set, else ``data/synthetic`` under the current directory."""
    return os.environ.get('DUALOPT_DATA', osp.join('data', 'synthetic'))


def seg_classes(world: str = 'downstream') -> tuple:
    return ('background',) + WORLDS[world].classes


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(s) for s in rle['size']], 'counts': rle['counts'].decode('ascii')}


def _bbox(mask: np.ndarray):
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    return [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1]


def _crop(image: np.ndarray, box, out_size: int) -> np.ndarray:
    x, y, w, h = box
    side = int(round(1.4 * max(w, h)))
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    pad = side
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode='edge')
    patch = padded[y0 + pad:y0 + pad + side, x0 + pad:x0 + pad + side]
    return np.asarray(Image.fromarray(patch).resize((out_size, out_size), Image.BILINEAR))


def _save_jpg(array: np.ndarray, path: str):
    Image.fromarray(array).save(path, quality=95, subsampling=0)


def generate_world(root: str, spec: SyntheticSpec = SyntheticSpec()) -> str:
    """Generate all splits and formats of one world under ``root/<world>``; returns that folder.

    Deterministic: the same ``spec`` gives byte-identical files.
    """
    if spec.world not in WORLDS:
        raise ValueError(f'unknown world {spec.world!r}; expected one of {sorted(WORLDS)}')
    for name in ('num_train', 'num_val', 'num_val_ood', 'num_test', 'num_test_cls'):
        if getattr(spec, name) < 1:
            raise ValueError(f'{name} must be >= 1, got {getattr(spec, name)}')
    if spec.num_test_cls < spec.num_test:
        raise ValueError(f'num_test_cls ({spec.num_test_cls}) must be >= num_test ({spec.num_test}): the '
                         'classification test split is cut from the COCO / ADE test scenes and more')
    if spec.image_size < 32:
        raise ValueError(f'image_size must be >= 32, got {spec.image_size}')
    world = WORLDS[spec.world]
    out = osp.join(root, spec.world)
    tmp = out + '.partial'
    shutil.rmtree(tmp, ignore_errors=True)

    categories = [{'id': i + 1, 'name': name, 'supercategory': 'shape'}
                  for i, name in enumerate(world.classes)]
    stats = {}
    for split, (n, n_cls) in spec.split_sizes().items():
        coco_dir = osp.join(tmp, 'coco', COCO_SPLITS[split])
        ade_img = osp.join(tmp, 'ade', 'images', ADE_SPLITS[split])
        ade_ann = osp.join(tmp, 'ade', 'annotations', ADE_SPLITS[split])
        cls_dir = osp.join(tmp, 'cls', CLS_SPLITS[split])
        for d in (coco_dir, ade_img, ade_ann, *(osp.join(cls_dir, c) for c in world.classes)):
            os.makedirs(d, exist_ok=True)
        images, annotations, n_crops = [], [], 0
        for index in range(max(n, n_cls)):
            rng = scene_rng(spec.world, split, index, spec.seed)
            scene = render_scene(world, rng, size=spec.image_size, ood=(split == 'val_ood'))
            stem = f'{index:06d}'
            if index < n:  # a COCO / ADE scene
                _save_jpg(scene.image, osp.join(coco_dir, stem + '.jpg'))
                shutil.copyfile(osp.join(coco_dir, stem + '.jpg'), osp.join(ade_img, stem + '.jpg'))
                images.append({'id': index + 1, 'file_name': stem + '.jpg', 'width': spec.image_size,
                               'height': spec.image_size, 'background': scene.background,
                               'corruption': scene.corruption})
                label_map = np.ones((spec.image_size, spec.image_size), dtype=np.uint8)
                for obj in scene.objects:
                    annotations.append({
                        'id': len(annotations) + 1, 'image_id': index + 1, 'category_id': obj.label + 1,
                        'bbox': _bbox(obj.mask), 'area': int(obj.mask.sum()),
                        'segmentation': _rle(obj.mask), 'iscrowd': 0})
                    label_map[obj.mask] = obj.label + 2
                Image.fromarray(label_map).save(osp.join(ade_ann, stem + '.png'))
            if index < n_cls:  # its classification crops
                for k, obj in enumerate(scene.objects):
                    if obj.mask.sum() >= spec.min_cls_visible * obj.full_area:
                        crop = _crop(scene.image, _bbox(obj.mask), spec.cls_size)
                        _save_jpg(crop, osp.join(cls_dir, world.classes[obj.label], f'{stem}_{k}.jpg'))
                        n_crops += 1
        os.makedirs(osp.join(tmp, 'coco', 'annotations'), exist_ok=True)
        with open(osp.join(tmp, 'coco', 'annotations', f'instances_{COCO_SPLITS[split]}.json'), 'w') as f:
            json.dump({'info': {'description': f'dualopt_mm synthetic shapes ({spec.world}/{split})',
                                'version': str(FORMAT_VERSION)},
                       'licenses': [], 'images': images, 'annotations': annotations,
                       'categories': categories}, f)
        stats[split] = {'images': n, 'instances': len(annotations), 'cls_scenes': n_cls,
                        'cls_samples': n_crops}

    with open(osp.join(tmp, 'manifest.json'), 'w') as f:
        json.dump({'spec': asdict(spec), 'classes': list(world.classes), 'stats': stats}, f, indent=1)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


def _manifest_matches(folder: str, spec: SyntheticSpec) -> bool:
    try:
        with open(osp.join(folder, 'manifest.json')) as f:
            return json.load(f)['spec'] == asdict(spec)
    except (OSError, ValueError, KeyError):
        return False


FAKE_MARKER = 'TINY_TEST_COPY'


def ensure_synthetic_data(root: str | None = None, worlds=('downstream', 'upstream'), **spec_kwargs) -> str:
    """Generate the synthetic data under ``root`` unless a matching copy is already there."""
    root = root or default_data_root()
    if osp.exists(osp.join(root, FAKE_MARKER)):
        return root  # a deliberately tiny copy (dualopt_mm.testing.make_fake_datasets): keep it
    for world in worlds:
        spec = SyntheticSpec(world=world, **spec_kwargs)
        if not _manifest_matches(osp.join(root, world), spec):
            generate_world(root, spec)
    return root
