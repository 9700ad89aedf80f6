"""Compare two runs of tools/bench_optim.py row by row (the ratio to torch's fused optimizer of
the same base), e.g. the code before and after a change, measured on the same machine in the same
session: ratios from different machines are not comparable (torch's own for-loop / foreach rows
move by 10-30 % between two CPUs of this project's VMs).

    python tools/compare_optim_perf.py BEFORE.json AFTER.json [--limit 3]

Prints every row's change of the median and of the minimum ratio, worst first, and how many rows
got slower than ``--limit`` percent; exits 1 if any did.
"""
import argparse
import json
import sys


def _key(row):
    return (row['optimizer'], row['path'], json.dumps(row.get('default_settings'), sort_keys=True), row.get('target'))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('before')
    p.add_argument('after')
    p.add_argument('--limit', type=float, default=3.0, help='allowed slow-down of the median ratio, percent')
    args = p.parse_args(argv)
    with open(args.before) as f:
        before = {_key(r): r for r in json.load(f)['rows']}
    with open(args.after) as f:
        after = {_key(r): r for r in json.load(f)['rows']}
    if set(before) != set(after):
        missing = sorted(k[:2] for k in set(before) ^ set(after))
        print(f'error: the two runs measured different rows, e.g. {missing[:3]}', file=sys.stderr)
        return 2
    rows = sorted(((after[k]['ratio'] / before[k]['ratio'] - 1) * 100,
                   (after[k]['ratio_min'] / before[k]['ratio_min'] - 1) * 100, k) for k in before)
    rows.reverse()
    print('| optimizer | path | median ratio before -> after | change | change of the min ratio |')
    print('|---|---|---|---:|---:|')
    for med, low, k in rows:
        print(f'| {k[0]} | {k[1]} | {before[k]["ratio"]:.3f} -> {after[k]["ratio"]:.3f} | {med:+.1f} % | {low:+.1f} % |')
    slower = [r for r in rows if r[0] > args.limit]
    print(f'\n{len(slower)} of {len(rows)} rows slower than +{args.limit:g} % (median ratio)')
    return 1 if slower else 0


if __name__ == '__main__':
    sys.exit(main())
