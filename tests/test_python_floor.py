"""The static gate of the Python floor that ``requires-python`` declares.

The compatibility leg runs Python 3.10, so nothing executes the code on the floor itself; two
tools read every source file instead: vermin (standard-library APIs, keyword arguments and syntax
newer than the floor) and ruff's FA102 (PEP 585 / 604 annotations in a module without
``from __future__ import annotations``, which the floor would evaluate at definition time and fail
on). vermin runs without evaluating annotations, which FA102 is what makes true.
"""
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SOURCES = ['dualopt_mm', 'tools', 'tests', 'setup.py']


def _floor():
    text = open(osp.join(REPO, 'pyproject.toml')).read()
    m = re.search(r'^requires-python = ">=(3\.\d+)"$', text, flags=re.M)
    assert m, 'pyproject.toml must declare requires-python = ">=3.X"'
    return m.group(1)


def _tool(name):
    exe = shutil.which(name, path=osp.dirname(sys.executable))
    assert exe, f'{name} is not installed next to {sys.executable} (requirements/tests.txt)'
    return exe


def _vermin(paths, floor):
    return subprocess.run([_tool('vermin'), '--no-config-file', f'-t={floor}-', '--violations',
                           '--no-tips', '--no-eval-annotations', *paths],
                          cwd=REPO, capture_output=True, text=True)


def _ruff(paths, floor):
    return subprocess.run([_tool('ruff'), 'check', '--no-cache', '--isolated', '--select', 'FA102',
                           '--target-version', 'py' + floor.replace('.', ''), *paths],
                          cwd=REPO, capture_output=True, text=True)


@pytest.mark.parametrize('check', [_vermin, _ruff], ids=['vermin', 'ruff-FA102'])
def test_every_source_file_runs_on_the_declared_floor(check):
    out = check(SOURCES, _floor())
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_gate_rejects_what_the_floor_cannot_run(tmp_path):
    # newer than 3.8: math.lcm and str.removeprefix (3.9), zip(strict=) (3.10); and a PEP 604
    # annotation that 3.8 evaluates when the function is defined
    (tmp_path / 'newer_api.py').write_text(
        'import math\n\n\ndef f(a, b):\n'
        '    return math.lcm(a, b), "ab".removeprefix("a"), list(zip(a, b, strict=True))\n')
    (tmp_path / 'eager_annotation.py').write_text('def f(x: int | None = None):\n    return x\n')
    v = _vermin([str(tmp_path / 'newer_api.py')], '3.8')
    assert v.returncode != 0
    for feature in ('math.lcm', 'str.removeprefix', 'strict'):
        assert feature in v.stdout, v.stdout
    r = _ruff([str(tmp_path / 'eager_annotation.py')], '3.8')
    assert r.returncode != 0 and 'FA102' in r.stdout, r.stdout + r.stderr
    # with the future import the same annotation is a string on 3.8: accepted
    (tmp_path / 'eager_annotation.py').write_text(
        'from __future__ import annotations\n\n\ndef f(x: int | None = None):\n    return x\n')
    assert _ruff([str(tmp_path / 'eager_annotation.py')], '3.8').returncode == 0
