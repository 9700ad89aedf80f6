import os
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def repo_root():
    return REPO


@pytest.fixture(scope='session')
def fake_data_root(tmp_path_factory):
    """A folder holding ``data/`` with tiny copies of every data set the configs read."""
    from dualopt_mm.testing import make_fake_datasets
    root = str(tmp_path_factory.mktemp('fake_data'))
    make_fake_datasets(root)
    return root


@pytest.fixture
def in_fake_data(fake_data_root, monkeypatch):
    """Run the test with the fake data's folder as the working directory (configs use data/...)."""
    monkeypatch.chdir(fake_data_root)
    return fake_data_root


@pytest.fixture(autouse=True)
def _torch_backend_flags_mutable():
    """Importing torch.testing._internal.common_utils (the OptimizerInfo battery in tests/optim)
    freezes torch.backends flags for the rest of the process; mmengine's Runner then fails to set
    ``cudnn.benchmark`` from a config's env_cfg. Unfreeze them for every test."""
    import torch.backends
    # torch.backends is a module wrapper: the flag lives in the real module's globals
    torch.backends.flags_frozen.__globals__['__allow_nonbracketed_mutation_flag'] = True
    yield


def pytest_terminal_summary(terminalreporter):
    """Write this run's counts to the file ``DUALOPT_TEST_LEG`` names (``make test`` prints both
    legs' at the end)."""
    path = os.environ.get('DUALOPT_TEST_LEG')
    if not path:
        return
    import platform

    import torch
    stats = terminalreporter.stats
    counts = {k: len(stats.get(k, [])) for k in ('passed', 'failed', 'error', 'skipped', 'xfailed', 'xpassed',
                                                   'deselected')}
    ran = sum(counts[k] for k in ('passed', 'failed', 'xfailed', 'xpassed'))
    detail = ', '.join(f'{n} {k}' for k, n in counts.items() if n)
    line = f'{ran} tests run ({detail}) on Python {platform.python_version()}, torch {torch.__version__}'
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write(line + '\n')
    terminalreporter.write_line(f'[test] {line}')
