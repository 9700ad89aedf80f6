#!/usr/bin/env python
"""Generate the synthetic shapes data sets (COCO, ADE20K and CustomDataset layouts).

    python tools/make_synthetic_data.py                      # data/synthetic/{downstream,upstream}
    python tools/make_synthetic_data.py --out /tmp/shapes --num-train 50 --num-val 20 --force

Sizes are numbers of scenes; a size left unset takes the spec's default for each world (the
upstream world has a larger val split: forgetting is measured on its crops).
"""
import argparse
import json
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from dualopt_mm.datasets import SyntheticSpec, default_data_root, generate_world  # noqa: E402
from dualopt_mm.datasets.synthetic import WORLD_DEFAULTS, _manifest_matches  # noqa: E402


def main(argv=None):
    defaults = SyntheticSpec()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default=default_data_root(), help='root folder (default: %(default)s)')
    p.add_argument('--worlds', nargs='+', default=['downstream', 'upstream'])
    p.add_argument('--seed', type=int, default=defaults.seed)
    p.add_argument('--image-size', type=int, default=defaults.image_size)
    p.add_argument('--num-train', type=int, default=defaults.num_train)
    p.add_argument('--num-val', type=int, default=None,
                   help='val scenes (default: per world, ' +
                   ', '.join(f'{w} {d["num_val"]}' for w, d in WORLD_DEFAULTS.items()) + ')')
    p.add_argument('--num-val-ood', type=int, default=defaults.num_val_ood)
    p.add_argument('--num-test', type=int, default=defaults.num_test, help='COCO / ADE test scenes')
    p.add_argument('--num-test-cls', type=int, default=defaults.num_test_cls,
                   help='scenes of the classification test split (>= --num-test; the first '
                   '--num-test are the COCO / ADE test scenes)')
    p.add_argument('--cls-size', type=int, default=defaults.cls_size)
    p.add_argument('--force', action='store_true', help='regenerate even if a matching copy exists')
    args = p.parse_args(argv)
    for world in args.worlds:
        spec = SyntheticSpec(world=world, seed=args.seed, image_size=args.image_size,
                             num_train=args.num_train, num_val=args.num_val,
                             num_val_ood=args.num_val_ood, num_test=args.num_test,
                             num_test_cls=args.num_test_cls, cls_size=args.cls_size)
        folder = osp.join(args.out, world)
        if not args.force and _manifest_matches(folder, spec):
            print(f'{folder}: up to date')
            continue
        t0 = time.perf_counter()
        generate_world(args.out, spec)
        with open(osp.join(folder, 'manifest.json')) as f:
            stats = json.load(f)['stats']
        print(f'{folder}: generated in {time.perf_counter() - t0:.1f} s: {stats}')


if __name__ == '__main__':
    main()
