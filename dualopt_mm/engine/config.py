"""Loading configs the way the command-line tools and the benchmark need them."""
from __future__ import annotations

import argparse
import os.path as osp


def parse_cfg_options(items):
    """``['a.b=1', 'c=[1,2]']`` -> nested dict, with mmengine's own ``--cfg-options`` parser."""
    from mmengine.config import DictAction
    ns = argparse.Namespace()
    DictAction(option_strings=['--cfg-options'], dest='opts')(None, ns, list(items))
    return ns.opts


def isolate_run(cfg, tag: str | None = None):
    """Give the run its own experiment and visualizer names. mmengine keeps one global
    Visualizer per name, and its default runtimes all say ``name='visualizer'``: a second Runner
    in the same process would otherwise log into the first one's folder."""
    import uuid
    tag = tag or uuid.uuid4().hex[:10]
    cfg.experiment_name = f'{osp.splitext(osp.basename(cfg.filename or "run"))[0]}_{tag}'
    if cfg.get('visualizer'):
        cfg.visualizer.name = f'visualizer_{tag}'
    return cfg


def load_config(path: str, cfg_options=None, work_dir: str | None = None, launcher: str = 'none'):
    """``Config.fromfile`` + overrides + a default work dir (``work_dirs/<config name>``).

    Configs reading the project's synthetic data (``data/synthetic``) get it generated first.
    """
    from mmengine.config import Config

    from ..datasets import ensure_synthetic_data
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(parse_cfg_options(cfg_options) if isinstance(cfg_options, (list, tuple))
                            else cfg_options)
    cfg.launcher = launcher
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(path))[0])
    if 'data/synthetic' in cfg.pretty_text:
        ensure_synthetic_data()
    return cfg
