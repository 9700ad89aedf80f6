"""The synthetic data generator: determinism, validity of every format, consistency between them."""
import filecmp
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from dualopt_mm.datasets import WORLDS, SyntheticSpec, generate_world, render_scene, scene_rng

SMALL = dict(num_train=6, num_val=3, num_val_ood=3)


@pytest.fixture(scope='module')
def world_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes')
    return generate_world(str(root), SyntheticSpec(**SMALL))


def _tree(folder):
    return sorted(osp.relpath(osp.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


def test_same_seed_gives_identical_files(world_dir, tmp_path):
    again = generate_world(str(tmp_path), SyntheticSpec(**SMALL))
    files = _tree(world_dir)
    assert files == _tree(again)
    match, mismatch, errors = filecmp.cmpfiles(world_dir, again, files, shallow=False)
    assert not mismatch and not errors and len(match) == len(files)


def test_other_seed_gives_other_scenes():
    a = render_scene(WORLDS['downstream'], scene_rng('downstream', 'train', 0, seed=0))
    b = render_scene(WORLDS['downstream'], scene_rng('downstream', 'train', 0, seed=1))
    assert not np.array_equal(a.image, b.image)


def test_images_do_not_depend_on_generation_order():
    world = WORLDS['downstream']
    first = render_scene(world, scene_rng('downstream', 'train', 5, 0)).image
    render_scene(world, scene_rng('downstream', 'train', 4, 0))
    assert np.array_equal(first, render_scene(world, scene_rng('downstream', 'train', 5, 0)).image)


def test_scene_variety():
    world = WORLDS['downstream']
    scenes = [render_scene(world, scene_rng('downstream', 'train', i, 0)) for i in range(40)]
    counts = [len(s.objects) for s in scenes]
    assert min(counts) >= 2 and max(counts) <= 6 and len(set(counts)) >= 3
    labels = {o.label for s in scenes for o in s.objects}
    assert labels == set(range(len(world.classes)))
    areas = [int(o.mask.sum()) for s in scenes for o in s.objects]
    assert min(areas) < 300 and max(areas) > 1500  # small and large objects
    assert len({s.background for s in scenes}) == len(world.backgrounds)
    occluded = [o for s in scenes for o in s.objects if o.mask.sum() < o.full_area]
    assert occluded, 'some objects must overlap'


def test_coco_annotations_load_with_pycocotools(world_dir):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    for split, n in (('train2017', 6), ('val2017', 3), ('val_ood2017', 3)):
        coco = COCO(osp.join(world_dir, 'coco', 'annotations', f'instances_{split}.json'))
        assert len(coco.getImgIds()) == n
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(WORLDS['downstream'].classes)
        for ann in coco.loadAnns(coco.getAnnIds()):
            assert ann['iscrowd'] == 0
            img = coco.loadImgs(ann['image_id'])[0]
            m = coco.annToMask(ann).astype(bool)
            assert m.shape == (img['height'], img['width'])
            # area, box and mask agree exactly
            assert int(m.sum()) == ann['area'] == int(mask_utils.area(ann['segmentation']))
            ys, xs = np.nonzero(m)
            x, y, w, h = ann['bbox']
            assert (x, y, x + w - 1, y + h - 1) == (xs.min(), ys.min(), xs.max(), ys.max())
            assert np.allclose(mask_utils.toBbox(ann['segmentation']), ann['bbox'])


def test_instance_masks_do_not_overlap_and_match_semantic_labels(world_dir):
    from pycocotools.coco import COCO
    coco = COCO(osp.join(world_dir, 'coco', 'annotations', 'instances_train2017.json'))
    for img in coco.loadImgs(coco.getImgIds()):
        label = np.asarray(Image.open(osp.join(world_dir, 'ade', 'annotations', 'training',
                                               img['file_name'].replace('.jpg', '.png'))))
        expected = np.ones_like(label)
        seen = np.zeros(label.shape, dtype=bool)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img['id'])):
            m = coco.annToMask(ann).astype(bool)
            assert not (m & seen).any(), 'visible masks of one image must be disjoint'
            seen |= m
            expected[m] = ann['category_id'] + 1
        assert np.array_equal(label, expected)
        assert set(np.unique(label)) <= set(range(1, 7))


def test_ade_layout(world_dir):
    for split, n in (('training', 6), ('validation', 3), ('validation_ood', 3)):
        imgs = sorted(os.listdir(osp.join(world_dir, 'ade', 'images', split)))
        anns = sorted(os.listdir(osp.join(world_dir, 'ade', 'annotations', split)))
        assert len(imgs) == n and [a.replace('.png', '.jpg') for a in anns] == imgs


def test_classification_crops(world_dir):
    manifest = json.load(open(osp.join(world_dir, 'manifest.json')))
    for split in ('train', 'val', 'val_ood'):
        folder = osp.join(world_dir, 'cls', split)
        assert sorted(os.listdir(folder)) == sorted(WORLDS['downstream'].classes)
        n = sum(len(os.listdir(osp.join(folder, c))) for c in os.listdir(folder))
        assert n == manifest['stats'][split]['cls_samples'] > 0
    sample = next(f for c in os.listdir(osp.join(world_dir, 'cls', 'train'))
                  for f in os.listdir(osp.join(world_dir, 'cls', 'train', c)))
    assert sample.endswith('.jpg')


def test_ood_split_is_shifted(world_dir):
    from pycocotools.coco import COCO
    ood = COCO(osp.join(world_dir, 'coco', 'annotations', 'instances_val_ood2017.json'))
    val = COCO(osp.join(world_dir, 'coco', 'annotations', 'instances_val2017.json'))
    seen_bgs = {i['background'] for i in val.loadImgs(val.getImgIds())}
    for img in ood.loadImgs(ood.getImgIds()):
        assert img['background'] not in seen_bgs | {b.__name__[4:] for b in WORLDS['downstream'].backgrounds}
        assert img['corruption'] in ('hue_shift', 'noise', 'blur')


def test_upstream_world_has_other_classes(tmp_path):
    up = generate_world(str(tmp_path), SyntheticSpec(world='upstream', **SMALL))
    classes = json.load(open(osp.join(up, 'manifest.json')))['classes']
    assert not set(classes) & set(WORLDS['downstream'].classes)


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match='world'):
        generate_world(str(tmp_path), SyntheticSpec(world='nope'))
    with pytest.raises(ValueError, match='num_train'):
        generate_world(str(tmp_path), SyntheticSpec(num_train=0))


def test_openmmlab_dataset_classes_read_the_files(world_dir):
    """mmdet's CocoDataset (with masks), mmseg's BaseSegDataset and mmpretrain's CustomDataset."""
    import dualopt_mm  # noqa: F401
    from mmdet.datasets import CocoDataset
    from mmengine.registry import DefaultScope
    from mmpretrain.datasets import CustomDataset
    from mmseg.datasets import BaseSegDataset

    from dualopt_mm.datasets import seg_classes
    classes = WORLDS['downstream'].classes
    with DefaultScope.overwrite_default_scope('mmdet'):
        det = CocoDataset(data_root=osp.join(world_dir, 'coco'),
                          ann_file='annotations/instances_train2017.json',
                          data_prefix=dict(img='train2017/'), metainfo=dict(classes=classes),
                          pipeline=[dict(type='LoadImageFromFile'),
                                    dict(type='LoadAnnotations', with_bbox=True, with_mask=True)])
    assert len(det) == 6
    item = det[0]
    assert item['img'].shape == (128, 128, 3)
    assert len(item['gt_bboxes']) == len(item['gt_masks']) > 0
    for box, m in zip(item['gt_bboxes'].tensor, item['gt_masks'].masks):
        ys, xs = np.nonzero(m)
        assert np.allclose(box.numpy(), [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])

    with DefaultScope.overwrite_default_scope('mmseg'):
        seg = BaseSegDataset(
            data_root=osp.join(world_dir, 'ade'),
            data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
            img_suffix='.jpg', seg_map_suffix='.png', reduce_zero_label=True,
            metainfo=dict(classes=seg_classes()),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])
    assert len(seg) == 6
    gt = seg[0]['gt_seg_map']
    assert set(np.unique(gt)) <= set(range(len(seg_classes())))  # 0 = background after reduction

    cls = CustomDataset(data_root=osp.join(world_dir, 'cls'), data_prefix='train', with_label=True)
    assert list(cls.metainfo['classes']) == sorted(classes)
    assert len(cls) > 0 and 0 <= cls.get_gt_labels().min() and cls.get_gt_labels().max() < 5
