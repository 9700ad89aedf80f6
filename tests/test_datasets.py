"""The synthetic data generator: determinism, validity of every format, consistency between them."""
import filecmp
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from dualopt_mm.datasets import WORLDS, SyntheticSpec, generate_world, render_scene, scene_rng

SMALL = dict(num_train=6, num_val=3, num_val_ood=3, num_test=4, num_test_cls=6)


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
    for split, n in (('train2017', 6), ('val2017', 3), ('val_ood2017', 3), ('test2017', 4)):
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
    for split, n in (('training', 6), ('validation', 3), ('validation_ood', 3), ('test', 4)):
        imgs = sorted(os.listdir(osp.join(world_dir, 'ade', 'images', split)))
        anns = sorted(os.listdir(osp.join(world_dir, 'ade', 'annotations', split)))
        assert len(imgs) == n and [a.replace('.png', '.jpg') for a in anns] == imgs


def test_classification_crops(world_dir):
    manifest = json.load(open(osp.join(world_dir, 'manifest.json')))
    for split in ('train', 'val', 'val_ood', 'test'):
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


@pytest.mark.openmmlab
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


# ------------------------------------------------------------------------------------------------
# The test split (reported numbers), the split sizes, and train files that never change


def _images(folder):
    return {f: np.asarray(Image.open(osp.join(folder, f))) for f in sorted(os.listdir(folder))}


def _cls_files(world_dir, split):
    folder = osp.join(world_dir, 'cls', split)
    return sorted(osp.join(c, f) for c in os.listdir(folder) for f in os.listdir(osp.join(folder, c)))


def test_test_split_sizes_and_manifest(world_dir):
    manifest = json.load(open(osp.join(world_dir, 'manifest.json')))
    assert manifest['spec']['num_test'] == 4 and manifest['spec']['num_test_cls'] == 6
    stats = manifest['stats']
    assert set(stats) == {'train', 'val', 'val_ood', 'test'}
    assert stats['test']['images'] == 4 and stats['test']['cls_scenes'] == 6
    assert stats['test']['instances'] > 0
    # the cls test crops come from all num_test_cls scenes, the COCO / ADE test images from the first
    # num_test of them
    stems = {int(osp.basename(f).split('_')[0]) for f in _cls_files(world_dir, 'test')}
    assert stems <= set(range(6)) and stems & {4, 5}
    assert sorted(os.listdir(osp.join(world_dir, 'coco', 'test2017'))) == [f'{i:06d}.jpg' for i in range(4)]


def test_test_split_is_in_distribution_and_differs_from_val_and_train(world_dir):
    from pycocotools.coco import COCO
    test = COCO(osp.join(world_dir, 'coco', 'annotations', 'instances_test2017.json'))
    backgrounds = {b.__name__[4:] for b in WORLDS['downstream'].backgrounds}
    for img in test.loadImgs(test.getImgIds()):
        assert img['corruption'] == 'none' and img['background'] in backgrounds
    test_imgs = _images(osp.join(world_dir, 'coco', 'test2017'))
    others = [*_images(osp.join(world_dir, 'coco', 'val2017')).values(),
              *_images(osp.join(world_dir, 'coco', 'train2017')).values()]
    for a in test_imgs.values():
        assert not any(np.array_equal(a, b) for b in others)
    # same rendering as val: the test scenes are those of val's recipe under another split key
    val0 = render_scene(WORLDS['downstream'], scene_rng('downstream', 'val', 0, 0))
    test0 = render_scene(WORLDS['downstream'], scene_rng('downstream', 'test', 0, 0))
    assert val0.corruption == test0.corruption == 'none' and not np.array_equal(val0.image, test0.image)


def _same_files(a, b, files):
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert files and not mismatch and not errors and len(match) == len(files)


def test_sizes_do_not_change_other_splits(world_dir, tmp_path):
    """Train files do not depend on the sizes of val / val_ood / test; every split is a prefix of a
    larger one (per-image seeds)."""
    other = generate_world(str(tmp_path), SyntheticSpec(num_train=6, num_val=2, num_val_ood=5, num_test=2,
                                                        num_test_cls=3))
    train = [f for f in _tree(world_dir) if 'train' in f]
    assert train == [f for f in _tree(other) if 'train' in f]
    _same_files(world_dir, other, train)
    # the smaller val / test splits are prefixes of the larger ones, in every format
    for rel in ('coco/val2017', 'coco/test2017', 'ade/images/test', 'ade/annotations/test'):
        small = sorted(os.listdir(osp.join(other, rel)))
        assert small == [f'{i:06d}{osp.splitext(small[0])[1]}' for i in range(2)]
        _same_files(osp.join(world_dir, rel), osp.join(other, rel), small)
    small_cls = _cls_files(other, 'test')
    assert set(small_cls) <= set(_cls_files(world_dir, 'test'))
    _same_files(osp.join(world_dir, 'cls', 'test'), osp.join(other, 'cls', 'test'), small_cls)
    # val_ood grew from 3 to 5 scenes: its first 3 are unchanged
    _same_files(osp.join(world_dir, 'coco', 'val_ood2017'), osp.join(other, 'coco', 'val_ood2017'),
                [f'{i:06d}.jpg' for i in range(3)])


# sha256 of the raw pixels of train scene 0 (seed 0), as generated before the test split existed
# (FORMAT_VERSION 1): the train split must stay what the upstream checkpoint and results were
# trained on. (A numpy / Pillow upgrade that changed rasterisation would change these too.)
TRAIN0_SHA256 = {
    'downstream': '6b21d29547426640c7314f4cde79ce032ccbb5b2e53a8d34282b378a446ba4c8',
    'upstream': 'd8a4136d4555f0fca28e240cc6a626b7857ec3a222b8a33c4bb4416ef2f1158a',
}


@pytest.mark.parametrize('world', sorted(TRAIN0_SHA256))
def test_train_scenes_unchanged(world):
    import hashlib
    scene = render_scene(WORLDS[world], scene_rng(world, 'train', 0, 0), size=SyntheticSpec().image_size)
    assert hashlib.sha256(scene.image.tobytes()).hexdigest() == TRAIN0_SHA256[world]


def test_default_sizes_per_world():
    down, up = SyntheticSpec(), SyntheticSpec(world='upstream')
    assert (down.num_train, down.num_val, down.num_val_ood, down.num_test) == (300, 100, 300, 300)
    assert (up.num_train, up.num_val, up.num_val_ood, up.num_test) == (300, 300, 300, 300)
    assert down.num_test_cls == up.num_test_cls >= down.num_test
    assert SyntheticSpec(world='upstream', num_val=7).num_val == 7
    assert SyntheticSpec(world='upstream', num_val=None) == up  # None: the world's default


def _record_specs(monkeypatch, module):
    """Replace ``module.generate_world`` by one that records the spec and writes only a manifest."""
    from dataclasses import asdict
    specs = []

    def fake(root, spec):
        specs.append(spec)
        os.makedirs(osp.join(root, spec.world), exist_ok=True)
        with open(osp.join(root, spec.world, 'manifest.json'), 'w') as f:
            json.dump({'spec': asdict(spec), 'stats': {}}, f)
        return osp.join(root, spec.world)
    monkeypatch.setattr(module, 'generate_world', fake)
    return specs


def test_ensure_and_cli_use_per_world_defaults(tmp_path, monkeypatch):
    import importlib.util

    from dualopt_mm.datasets import synthetic
    specs = _record_specs(monkeypatch, synthetic)
    synthetic.ensure_synthetic_data(str(tmp_path / 'a'))
    assert specs == [SyntheticSpec(world='downstream'), SyntheticSpec(world='upstream')]
    specs.clear()
    synthetic.ensure_synthetic_data(str(tmp_path / 'a'))  # up to date: nothing regenerated
    assert specs == []

    tool = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools', 'make_synthetic_data.py')
    mod_spec = importlib.util.spec_from_file_location('make_synthetic_data', tool)
    cli = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(cli)
    specs = _record_specs(monkeypatch, cli)
    cli.main(['--out', str(tmp_path / 'b')])
    assert specs == [SyntheticSpec(world='downstream'), SyntheticSpec(world='upstream')]
    specs.clear()
    cli.main(['--out', str(tmp_path / 'c'), '--num-val', '5', '--num-test', '2', '--num-test-cls', '3'])
    assert [(s.num_val, s.num_test, s.num_test_cls) for s in specs] == [(5, 2, 3), (5, 2, 3)]


def test_bad_test_sizes_raise(tmp_path):
    with pytest.raises(ValueError, match='num_test_cls'):
        generate_world(str(tmp_path), SyntheticSpec(**{**SMALL, 'num_test': 5, 'num_test_cls': 4}))
    with pytest.raises(ValueError, match='num_test'):
        generate_world(str(tmp_path), SyntheticSpec(**{**SMALL, 'num_test': 0}))


@pytest.mark.openmmlab
def test_openmmlab_dataset_classes_read_the_test_split(world_dir):
    import dualopt_mm  # noqa: F401
    from mmdet.datasets import CocoDataset
    from mmengine.registry import DefaultScope
    from mmpretrain.datasets import CustomDataset
    from mmseg.datasets import BaseSegDataset

    from dualopt_mm.datasets import seg_classes
    classes = WORLDS['downstream'].classes
    with DefaultScope.overwrite_default_scope('mmdet'):
        det = CocoDataset(data_root=osp.join(world_dir, 'coco'), ann_file='annotations/instances_test2017.json',
                          data_prefix=dict(img='test2017/'), metainfo=dict(classes=classes), test_mode=True,
                          pipeline=[dict(type='LoadImageFromFile'),
                                    dict(type='LoadAnnotations', with_bbox=True, with_mask=True)])
    assert len(det) == 4 and len(det[0]['gt_bboxes']) == len(det[0]['gt_masks']) > 0
    with DefaultScope.overwrite_default_scope('mmseg'):
        seg = BaseSegDataset(
            data_root=osp.join(world_dir, 'ade'),
            data_prefix=dict(img_path='images/test', seg_map_path='annotations/test'),
            img_suffix='.jpg', seg_map_suffix='.png', reduce_zero_label=True,
            metainfo=dict(classes=seg_classes()),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])
    assert len(seg) == 4 and seg[0]['gt_seg_map'].shape == (128, 128)
    cls = CustomDataset(data_root=osp.join(world_dir, 'cls'), data_prefix='test', with_label=True)
    manifest = json.load(open(osp.join(world_dir, 'manifest.json')))
    assert len(cls) == manifest['stats']['test']['cls_samples'] > 0
    assert list(cls.metainfo['classes']) == sorted(classes)


CONFIGS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs')
TASK_CONFIGS = sorted(f'{d}/{f}' for d in ('classification', 'detection', 'instance_seg', 'semantic_seg')
                      for f in os.listdir(osp.join(CONFIGS, d)) if f.endswith('_shapes.py'))


def _split_of(loader):
    ds = loader.dataset
    return str(ds.get('ann_file')) + str(ds.get('data_prefix'))


@pytest.mark.openmmlab
@pytest.mark.parametrize('config', TASK_CONFIGS)
def test_task_configs_tune_on_val_and_report_on_test(config):
    """val loop: the val split (tuning, selection); test loop: the test split (reported numbers)."""
    import dualopt_mm  # noqa: F401
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    val, test = _split_of(cfg.val_dataloader), _split_of(cfg.test_dataloader)
    assert 'val' in val and 'test' not in val and 'ood' not in val
    assert 'test' in test and 'val' not in test
    assert cfg.test_dataloader.dataset.data_root == cfg.val_dataloader.dataset.data_root
    assert 'ood' in str(cfg.ood_split)
    for key in ('val_evaluator', 'test_evaluator'):
        if 'ann_file' in cfg[key]:
            assert ('test2017' if key == 'test_evaluator' else 'val2017') in cfg[key].ann_file
    if 'mask' in str(cfg.test_dataloader.dataset.pipeline):  # instance seg scores masks on test too
        assert cfg.test_evaluator.metric == cfg.val_evaluator.metric == ['bbox', 'segm']


@pytest.mark.openmmlab
def test_upstream_config_scores_forgetting_on_its_val_split():
    import dualopt_mm  # noqa: F401
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(CONFIGS, 'classification', 'resnet18_upstream.py'))
    assert cfg.val_dataloader.dataset.data_root.endswith('upstream/cls')
    assert cfg.val_dataloader.dataset.data_prefix == 'val'
    assert cfg.test_dataloader.dataset.data_root.endswith('upstream/cls')
