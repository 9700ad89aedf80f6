"""The optimizer tables of docs/optimizers.md are the listing's (tools/make_docs_table.py)."""
import os.path as osp
import subprocess
import sys

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..')


def test_the_docs_tables_are_generated_from_the_listing_and_up_to_date():
    out = subprocess.run([sys.executable, 'tools/make_docs_table.py', '--check'], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    text = open(osp.join(ROOT, 'docs', 'optimizers.md'), encoding='utf-8').read()
    import dualopt_mm.optim as O
    assert all(f'| `{name}` |' in text for name in O.OPTIMIZERS_INFO)
