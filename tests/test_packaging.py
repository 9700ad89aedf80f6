"""The distribution: what the wheel holds, what pip would do with it, and the wheel at work.

The wheel is built the way a release is (``python -m build``: the sdist, then the wheel from the
unpacked sdist, so MANIFEST.in is tested too), without build isolation (no download). In the
compatibility leg (Python 3.10, torch 2.1.2) the dry run is the check that installing the package
into a typical OpenMMLab 2.x environment plans to install nothing but the package itself.
"""
from __future__ import annotations

import email
import json
import os
import os.path as osp
import re
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile

import pytest

import dualopt_mm

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def dists(tmp_path_factory):
    out = tmp_path_factory.mktemp('dist')
    proc = subprocess.run([sys.executable, '-m', 'build', '--no-isolation', '--outdir', str(out), REPO],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    wheels = sorted(out.glob('*.whl'))
    sdists = sorted(out.glob('*.tar.gz'))
    assert len(wheels) == 1 and len(sdists) == 1, os.listdir(out)
    return dict(wheel=str(wheels[0]), sdist=str(sdists[0]), log=proc.stdout + proc.stderr)


def _repo_configs():
    out = set()
    for d, _, files in os.walk(osp.join(REPO, 'configs')):
        out.update(osp.relpath(osp.join(d, f), osp.join(REPO, 'configs')) for f in files if f.endswith('.py'))
    return out


def test_the_build_is_quiet_about_the_projects_own_metadata(dists):
    # setuptools warns about deprecated pyproject.toml forms (a license table, license classifiers)
    for pattern in ('SetuptoolsDeprecationWarning', r'project\.license', 'License classifiers'):
        assert not re.search(pattern, dists['log']), dists['log'][-4000:]


def test_the_wheel_carries_the_configs_license_and_metadata(dists):
    version = dualopt_mm.__version__
    assert osp.basename(dists['wheel']) == f'dualopt_mm-{version}-py3-none-any.whl'
    with zipfile.ZipFile(dists['wheel']) as z:
        names = set(z.namelist())
        meta = email.message_from_bytes(z.read(f'dualopt_mm-{version}.dist-info/METADATA'))
    shipped = {n[len('dualopt_mm/.mim/configs/'):] for n in names if n.startswith('dualopt_mm/.mim/configs/')}
    assert shipped == _repo_configs()
    assert f'dualopt_mm-{version}.dist-info/licenses/LICENSE' in names
    assert not any('__pycache__' in n or n.startswith(('tests/', 'tools/', 'configs/')) for n in names)
    assert 'dualopt_mm/benchmark/__main__.py' in names
    assert meta['Name'] == 'dualopt-mm' and meta['Version'] == version
    assert meta['License-Expression'] == 'Apache-2.0'
    assert meta['Requires-Python'] == '>=3.8'
    requires = meta.get_all('Requires-Dist')
    # torch has a floor only (pip keeps the torch a project has); everything else is an extra
    assert [r for r in requires if 'extra ==' not in r] == ['torch>=2.1']
    # the extras' mmengine floor is the one `import dualopt_mm` enforces
    mmengine = [r for r in requires if r.startswith('mmengine')]
    assert mmengine and all(f'>={dualopt_mm.MMENGINE_MIN}' in r.split(';')[0] for r in mmengine), mmengine
    assert not any(r.startswith('mmcv') for r in requires)  # mim install mmcv (README)


def test_the_sdist_carries_what_the_wheel_is_built_from(dists):
    with tarfile.open(dists['sdist']) as t:
        names = {n.split('/', 1)[1] for n in t.getnames() if '/' in n}
    assert {'LICENSE', 'CHANGELOG.md', 'README.md', 'setup.py', 'pyproject.toml'} <= names
    assert {n[len('configs/'):] for n in names if n.startswith('configs/') and n.endswith('.py')} == _repo_configs()


def test_the_version_has_one_source_and_a_changelog_entry():
    text = open(osp.join(REPO, 'pyproject.toml')).read()
    project = re.search(r'^\[project\]\n(.*?)^\[', text, flags=re.M | re.S).group(1)
    assert 'dynamic = ["version"]' in project and not re.search(r'^version\s*=', project, flags=re.M)
    assert 'version = {attr = "dualopt_mm.__version__"}' in text
    changelog = open(osp.join(REPO, 'CHANGELOG.md')).read()
    assert re.search(rf'^## {re.escape(dualopt_mm.__version__)}\b', changelog, flags=re.M)


def _installed_names(report):
    return sorted(item['metadata']['name'] for item in report['install'])


def test_pip_plans_to_install_nothing_but_the_package_into_this_environment(dists, tmp_path):
    """``pip install dualopt-mm`` next to the stack this leg runs (in the compatibility leg: torch
    2.1.2 + torchvision 0.16.2 + mmengine 0.10.7) must not replace or add anything."""
    # pip sees the environment as a user's shell does (make test-compat puts the tree on PYTHONPATH)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    report_path = tmp_path / 'report.json'
    # --no-index: nothing but what is installed can satisfy the dependencies, so a requirement
    # the environment does not meet fails the resolution instead of planning a download
    proc = subprocess.run([sys.executable, '-m', 'pip', 'install', '--dry-run', '--no-index',
                           '--report', str(report_path), dists['wheel']],
                          capture_output=True, text=True, timeout=300, cwd=str(tmp_path), env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # (an editable install of the project, as in the main leg, would be replaced by the wheel)
    assert _installed_names(json.loads(report_path.read_text())) == ['dualopt-mm'], proc.stdout[-3000:]


def _fresh_venv_next_to_this_stack(root, wheel):
    """A new venv holding only the installed wheel, which sees this environment's packages through
    a .pth file (appended after its own site-packages, so the wheel's dualopt_mm wins). The wheel
    goes in first: pip must not see the editable install of the main environment."""
    env = osp.join(root, 'venv')
    venv.create(env, with_pip=False)
    python = osp.join(env, 'bin', 'python')
    proc = subprocess.run([sys.executable, '-m', 'pip', '--python', python, 'install', '--no-deps', '--no-index',
                           '--quiet', wheel], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    site = subprocess.run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = sorted({sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']})
    with open(osp.join(site, 'the_existing_stack.pth'), 'w') as f:
        f.write('\n'.join(ours) + '\n')
    return python, site


RUN_OUTSIDE = r'''
import json, os, sys
import dualopt_mm
from mmengine.config import Config
from dualopt_mm.testing import config_path, make_fake_datasets, run_cfg, shorten_schedule

path = config_path('classification', 'optimizers', 'resnet18_shapes_dualopt-adamw.py')
make_fake_datasets(os.getcwd())
cfg = shorten_schedule(Config.fromfile(path), iters=2, batch_size=2)
runner, metrics = run_cfg(cfg, os.path.join(os.getcwd(), 'work'))
print(json.dumps(dict(package=dualopt_mm.__file__, config=path, iters=runner.iter,
                      optimizer=type(runner.optim_wrapper.optimizer).__name__, metrics=sorted(metrics))))
'''


@pytest.mark.openmmlab
@pytest.mark.slow
def test_the_installed_wheel_serves_its_configs_and_trains_outside_the_repository(dists, tmp_path):
    python, site = _fresh_venv_next_to_this_stack(str(tmp_path), dists['wheel'])
    outside = tmp_path / 'elsewhere'
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    script = outside / 'run.py'
    script.write_text(RUN_OUTSIDE)
    proc = subprocess.run([python, str(script)], cwd=str(outside), capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got['package'].startswith(site) and got['config'].startswith(osp.join(site, 'dualopt_mm', '.mim'))
    assert got['optimizer'] == 'DualOptAdamW' and got['iters'] == 2
    assert 'accuracy/top1' in got['metrics']
    # the benchmark's command line is reachable from the wheel
    cli = subprocess.run([python, '-m', 'dualopt_mm.benchmark', '--help'], cwd=str(outside), capture_output=True,
                         text=True, timeout=120, env=env)
    assert cli.returncode == 0 and 'usage: python -m dualopt_mm.benchmark' in cli.stdout, cli.stderr
    # ... and lists a shipped suite's cells from the package's own configs
    listed = subprocess.run([python, '-m', 'dualopt_mm.benchmark', 'demo', '--list'], cwd=str(outside),
                            capture_output=True, text=True, timeout=300, env=env)
    assert listed.returncode == 0, listed.stdout[-2000:] + listed.stderr[-2000:]
    assert 'classification_finetune__dualopt_adamw__c0__s100' in listed.stdout
    # ... and its worker entry point (what each cell process of --executor local / slurm runs)
    worker = subprocess.run([python, '-m', 'dualopt_mm.benchmark', 'run-cell', 'demo',
                             'classification_finetune__adamw__c0__s100'], cwd=str(outside), capture_output=True,
                            text=True, timeout=300, env=env)
    assert worker.returncode == 2 and 'manifest.json does not exist' in worker.stderr, worker.stderr[-2000:]
