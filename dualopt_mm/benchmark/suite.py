"""What a benchmark suite is (protocol v2), read from a suite file, and how it becomes cells.

A suite file is an mmengine-style Python config (``configs/benchmark/*.py``) with these keys:

``name``, ``description``
``upstream``      ``dict(config=..., checkpoint=...)``: the pre-trained classifier fine-tuning starts from
``seeds``         ``dict(tuning=[...], reporting=[...])``: disjoint; tuning seeds choose, reporting seeds report
``search``        ``dict(budget=K, sampler='grid' | 'halton', defaults=True)``: every tuned method of
                  a task gets exactly K configurations of its own search space (plus its untuned
                  ``defaults`` as a one-shot column, unless ``defaults=False``)
``margins``       smallest effect of interest per metric: a number (metric units) or
                  ``dict(relative=0.1)`` (a fraction of the baseline's tuning-seed mean)
``methods``       name -> ``dict(optimizer=dict(type=..., ...), optim_wrapper=dict(...)?,
                  paramwise_cfg=dict(...)?, custom_hooks=[...]?, space=dict(knob=...), defaults=dict(knob=...),
                  copy_setting_from='other method'?)``. ``optimizer.type`` is anything registered in
                  mmengine's OPTIMIZERS (ours, torch's, a third-party package's, a user's module
                  through ``custom_imports``). A knob is an optimizer argument (``lr``, ``rollback``)
                  or, with a dot, a path inside the optim wrapper (``paramwise_cfg.layer_decay_rate``).
                  A space entry is a list of values (grid) or ``dict(low=, high=, log=True)`` (halton).
``tasks``         name -> ``dict(config=..., regime='finetune'|'scratch', metric=..., methods=[...],
                  baseline=..., length=..., extra_metrics=[...], ood=True, forgetting=False,
                  admission=dict(reference=..., trivial=...), cfg_options=dict(...))``
``claims``        list of ``dict(paper=, claim=, method=, baseline=, tasks=[...], column=, kind='better'|'on_par',
                  primary=False)``; one primary claim per paper
``custom_imports`` optional: modules to import before the optimizer types are checked
``executor``      optional: how the cells are run when nothing is said on the command line, e.g.
                  ``dict(workers=4, retries=2, slurm=dict(partition='gpu', time_min=120, mem_gb=32))``
                  (keys: ``executors.EXECUTOR_KEYS`` / ``SLURM_KEYS``; never part of a cell's spec)

Cells: the *tuning* phase trains every tuned method's K configurations and its ``defaults`` on
the tuning seeds (val split); the winners are frozen in ``tuning.json``; the *reporting* phase
trains every method at its frozen setting on the reporting seeds (test split, OOD, forgetting).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import os.path as osp
from dataclasses import dataclass, field

from ..resources import configs_root as _configs_root

__all__ = ['Method', 'Task', 'Claim', 'Suite', 'Cell', 'load_suite', 'suite_from_dict', 'configurations',
           'tuning_cells', 'reporting_cells', 'SuiteError', 'COLUMNS', 'SUITES_DIR', 'resolve_suite_path']

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SUITES_DIR = osp.join(_configs_root(), 'benchmark')

SUITE_KEYS = {'name', 'description', 'upstream', 'seeds', 'search', 'margins', 'methods', 'tasks', 'claims',
              'custom_imports', 'executor'}
METHOD_KEYS = {'optimizer', 'optim_wrapper', 'paramwise_cfg', 'custom_hooks', 'space', 'defaults',
               'copy_setting_from', 'description'}
TASK_KEYS = {'config', 'regime', 'metric', 'methods', 'baseline', 'length', 'extra_metrics', 'ood',
             'forgetting', 'admission', 'cfg_options', 'description', 'floor'}
CLAIM_KEYS = {'paper', 'claim', 'method', 'baseline', 'tasks', 'column', 'kind', 'primary'}
# what a claim can compare: the reported metric on the test split, out of distribution, the OOD
# minus test gap, forgetting after BatchNorm re-estimation (and raw), iterations / seconds to the
# frozen loss target, the mean over a multi-exit net's exits, or any other test metric ('test:<key>')
COLUMNS = ('metric', 'ood', 'ood_gap', 'forgetting', 'forgetting_raw', 'iters_to_target', 'seconds_to_target',
           'exit_mean')


class SuiteError(ValueError):
    """A suite file that cannot be run as written; the message names the key."""


def _check_keys(where: str, given, allowed):
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise SuiteError(f'{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}')


@dataclass(frozen=True)
class Method:
    name: str
    optimizer: dict
    optim_wrapper: dict = field(default_factory=dict)
    paramwise_cfg: dict | None = None
    custom_hooks: tuple = ()
    space: dict = field(default_factory=dict)
    defaults: dict = field(default_factory=dict)
    copy_setting_from: str | None = None
    description: str = ''

    @property
    def tuned(self) -> bool:
        return self.copy_setting_from is None

    def spec(self) -> dict:
        return {'optimizer': self.optimizer, 'optim_wrapper': self.optim_wrapper,
                'paramwise_cfg': self.paramwise_cfg, 'custom_hooks': list(self.custom_hooks),
                'copy_setting_from': self.copy_setting_from}


@dataclass(frozen=True)
class Task:
    name: str
    config: str
    regime: str
    metric: str
    methods: tuple
    baseline: str
    length: int | None = None
    extra_metrics: tuple = ()
    ood: bool = True
    forgetting: bool = False
    admission: dict | None = None
    cfg_options: dict = field(default_factory=dict)
    description: str = ''
    floor: float | None = None

    @property
    def key(self) -> str:
        return self.name

    def spec(self) -> dict:
        return {'config': self.config, 'regime': self.regime, 'metric': self.metric, 'length': self.length,
                'ood': self.ood, 'forgetting': self.forgetting, 'cfg_options': self.cfg_options}

    @property
    def metric_floor(self) -> float:
        """What a diverged run scores: the stated floor, else the trivial level of the admission
        rule, else 0."""
        if self.floor is not None:
            return float(self.floor)
        if self.admission and 'trivial' in self.admission:
            return float(self.admission['trivial'])
        return 0.0


@dataclass(frozen=True)
class Claim:
    paper: str
    claim: str
    method: str
    baseline: str
    tasks: tuple
    column: str
    kind: str = 'better'
    primary: bool = False


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: tuple
    methods: dict
    tuning_seeds: tuple
    reporting_seeds: tuple
    budget: int
    sampler: str = 'grid'
    margins: dict = field(default_factory=dict)
    claims: tuple = ()
    upstream: tuple | None = None
    upstream_options: dict = field(default_factory=dict)
    description: str = ''
    source: str | None = None
    run_defaults: bool = True
    executor: dict = field(default_factory=dict)

    def task(self, key: str) -> Task:
        for t in self.tasks:
            if t.key == key:
                return t
        raise KeyError(f'suite {self.name!r} has no task {key!r}; tasks: {[t.key for t in self.tasks]}')

    def method(self, name: str) -> Method:
        if name not in self.methods:
            raise KeyError(f'suite {self.name!r} has no method {name!r}; methods: {sorted(self.methods)}')
        return self.methods[name]

    @property
    def seeds(self) -> tuple:
        return self.reporting_seeds


# ----------------------------------------------------------------------------- search spaces

def _halton(dims: int, n: int, seed: int = 0):
    from scipy.stats import qmc
    return qmc.Halton(d=dims, scramble=True, seed=seed).random(n)


def configurations(method: Method, budget: int, sampler: str = 'grid') -> list:
    """The method's ``budget`` settings (knob -> value dicts), deterministic.

    ``grid``: every space entry is a list; the cartesian product (in the order written) must
    have exactly ``budget`` points. ``halton``: every entry is ``dict(low=, high=, log=)`` or a
    list (a categorical knob); ``budget`` scrambled Halton points (scipy.stats.qmc, seed 0).
    """
    import itertools
    space = method.space
    if not space:
        raise SuiteError(f'method {method.name!r}: empty search space (give at least its lr)')
    names = list(space)
    if sampler == 'grid':
        axes = []
        for k in names:
            v = space[k]
            if not isinstance(v, (list, tuple)) or not v:
                raise SuiteError(f'method {method.name!r}: space[{k!r}] must be a non-empty list for a grid, got {v!r}')
            axes.append(list(v))
        points = [dict(zip(names, combo)) for combo in itertools.product(*axes)]
        if len(points) != budget:
            raise SuiteError(f'method {method.name!r}: its grid has {len(points)} points '
                             f'({" x ".join(str(len(a)) for a in axes)}) but the suite budget is {budget}: '
                             'every method of a task gets the same number of configurations')
        return points
    if sampler == 'halton':
        u = _halton(len(names), budget)
        points = []
        for row in u:
            p = {}
            for k, x in zip(names, row):
                v = space[k]
                if isinstance(v, (list, tuple)):
                    p[k] = v[min(int(x * len(v)), len(v) - 1)]
                else:
                    lo, hi = float(v['low']), float(v['high'])
                    if v.get('log', True):
                        p[k] = float(math.exp(math.log(lo) + x * (math.log(hi) - math.log(lo))))
                    else:
                        p[k] = float(lo + x * (hi - lo))
                    p[k] = float(f'{p[k]:.3g}')
            points.append(p)
        return points
    raise SuiteError(f"search.sampler must be 'grid' or 'halton', got {sampler!r}")


# ----------------------------------------------------------------------------- cells

def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Cell:
    """One training run. ``tag``: ``c<k>`` (tuning configuration k), ``default`` (the method's
    untuned defaults) or ``tuned`` (the frozen winner, reporting phase)."""
    suite: str
    phase: str
    task: str
    method: str
    tag: str
    setting: tuple     # sorted (knob, value) pairs
    seed: int
    spec_blob: str = field(compare=False, repr=False, default='')

    @property
    def id(self) -> str:
        return f'{self.task}__{self.method}__{self.tag}__s{self.seed}'

    @property
    def settings(self) -> dict:
        return dict(self.setting)

    @property
    def split(self) -> str:
        return 'val' if self.phase == 'tuning' else 'test'

    def spec(self) -> dict:
        return {'suite': self.suite, 'phase': self.phase, 'task': self.task, 'method': self.method,
                'tag': self.tag, 'setting': self.settings, 'seed': self.seed}

    @property
    def spec_hash(self) -> str:
        return _hash([self.spec(), self.spec_blob])


def _setting(d: dict) -> tuple:
    return tuple(sorted((k, v) for k, v in d.items()))


def _cell(suite: Suite, phase: str, task: Task, method: Method, tag: str, setting: dict, seed: int) -> Cell:
    blob = json.dumps({'task': task.spec(), 'method': method.spec(),
                       'upstream': list(suite.upstream) if suite.upstream else None}, sort_keys=True, default=str)
    return Cell(suite.name, phase, task.key, method.name, tag, _setting(setting), seed, blob)


def tuning_cells(suite: Suite) -> list:
    cells = []
    for task in suite.tasks:
        for name in task.methods:
            m = suite.methods[name]
            if not m.tuned:
                continue
            points = configurations(m, suite.budget, suite.sampler)
            for seed in suite.tuning_seeds:
                for k, p in enumerate(points):
                    cells.append(_cell(suite, 'tuning', task, m, f'c{k}', p, seed))
                if m.defaults and suite.run_defaults:
                    cells.append(_cell(suite, 'tuning', task, m, 'default', m.defaults, seed))
    return cells


def reporting_cells(suite: Suite, tuning: dict) -> list:
    """Every method at its frozen setting (``tuning`` = the content of tuning.json) on every
    reporting seed; a method with ``copy_setting_from`` takes that method's winner, then its own
    ``defaults`` on top (the A/A control: L2-SP at alpha = 0 with AdamW's winning lr)."""
    cells = []
    for task in suite.tasks:
        frozen = tuning['tasks'][task.key]['methods']
        for name in task.methods:
            m = suite.methods[name]
            if m.tuned:
                setting = dict(frozen[name]['winner']['setting'])
            else:
                setting = {**frozen[m.copy_setting_from]['winner']['setting'], **m.defaults}
            for seed in suite.reporting_seeds:
                cells.append(_cell(suite, 'reporting', task, m, 'tuned', setting, seed))
    return cells


# ----------------------------------------------------------------------------- loading

def resolve_suite_path(name_or_path: str) -> str:
    """``mini`` -> ``configs/benchmark/mini.py``; a path is taken as it is."""
    if osp.isfile(name_or_path) and name_or_path.endswith('.py'):
        return name_or_path
    candidate = osp.join(SUITES_DIR, f'{name_or_path}.py')
    if osp.exists(candidate):
        return candidate
    import glob
    known = sorted(osp.splitext(osp.basename(p))[0] for p in glob.glob(osp.join(SUITES_DIR, '*.py'))
                   if not osp.basename(p).startswith('_'))
    raise SuiteError(f'no suite file {name_or_path!r} (neither a path nor one of {known} in configs/benchmark/)')


def load_suite(name_or_path: str, check_optimizers: bool = True, overrides: dict | None = None) -> Suite:
    """Read and validate a suite file (see the module docstring); ``overrides`` are merged into it
    first (e.g. data paths of the full suite)."""
    from mmengine.config import Config
    path = resolve_suite_path(name_or_path)
    cfg = Config.fromfile(path)
    if overrides:
        cfg.merge_from_dict(overrides)
    d = {k: v for k, v in cfg.to_dict().items() if not k.startswith('_')}
    return suite_from_dict(d, source=osp.relpath(path, REPO_ROOT) if path.startswith(REPO_ROOT) else path,
                           check_optimizers=check_optimizers)


def _plain(x):
    """mmengine ConfigDicts / tuples -> plain dicts / lists (hashable specs, json)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _optimizer_arguments(type_name: str, where: str):
    """The argument names an optimizer type accepts (None: it takes **kwargs)."""
    from mmengine.registry import OPTIMIZERS
    cls = OPTIMIZERS.get(type_name)
    if cls is None:
        raise SuiteError(f'{where}: optimizer type {type_name!r} is not registered in mmengine\'s OPTIMIZERS '
                         '(a typo, or a module missing from custom_imports?)')
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return None
    return set(params) - {'self'}


def suite_from_dict(d: dict, source: str | None = None, check_optimizers: bool = True) -> Suite:
    d = _plain(d)
    _check_keys('suite', d, SUITE_KEYS)
    for key in ('name', 'methods', 'tasks', 'seeds', 'search'):
        if key not in d:
            raise SuiteError(f'suite: missing required key {key!r}')
    name = d['name']
    from .executors import ExecutorError, check_executor_section
    try:
        executor = check_executor_section(d.get('executor') or {})
    except ExecutorError as e:
        raise SuiteError(f'suite {name!r}: {e}') from None
    if check_optimizers:
        for mod in (d.get('custom_imports') or {}).get('imports', []):
            import importlib
            try:
                importlib.import_module(mod)
            except ImportError as e:
                raise SuiteError(f'suite {name!r}: custom_imports could not import {mod!r}: {e}') from None
    seeds = d['seeds']
    _check_keys(f'suite {name!r}: seeds', seeds, {'tuning', 'reporting'})
    tuning_seeds, reporting_seeds = tuple(seeds.get('tuning', ())), tuple(seeds.get('reporting', ()))
    if not tuning_seeds or not reporting_seeds:
        raise SuiteError(f'suite {name!r}: seeds needs non-empty `tuning` and `reporting` lists')
    if set(tuning_seeds) & set(reporting_seeds):
        raise SuiteError(f'suite {name!r}: tuning and reporting seeds overlap ({sorted(set(tuning_seeds) & set(reporting_seeds))}): '
                         'reported numbers must come from held-out seeds')
    for s, label in ((tuning_seeds, 'tuning'), (reporting_seeds, 'reporting')):
        if len(set(s)) != len(s) or not all(isinstance(x, int) for x in s):
            raise SuiteError(f'suite {name!r}: {label} seeds must be distinct integers, got {list(s)}')
    search = d['search']
    _check_keys(f'suite {name!r}: search', search, {'budget', 'sampler', 'defaults'})
    budget = search.get('budget')
    if not isinstance(budget, int) or budget < 1:
        raise SuiteError(f'suite {name!r}: search.budget must be a positive integer, got {budget!r}')
    sampler = search.get('sampler', 'grid')
    run_defaults = bool(search.get('defaults', True))

    methods = {}
    for mname, m in d['methods'].items():
        where = f'suite {name!r}: method {mname!r}'
        _check_keys(where, m, METHOD_KEYS)
        opt = m.get('optimizer')
        if not isinstance(opt, dict) or 'type' not in opt:
            raise SuiteError(f'{where}: needs optimizer=dict(type=...)')
        wrapper = dict(m.get('optim_wrapper') or {})
        if 'optimizer' in wrapper:
            raise SuiteError(f'{where}: give the optimizer as the method\'s `optimizer`, not inside optim_wrapper')
        method = Method(mname, opt, wrapper, m.get('paramwise_cfg'), tuple(m.get('custom_hooks') or ()),
                        dict(m.get('space') or {}), dict(m.get('defaults') or {}), m.get('copy_setting_from'),
                        m.get('description', ''))
        methods[mname] = method
    for method in methods.values():
        if method.copy_setting_from is not None and method.copy_setting_from not in methods:
            raise SuiteError(f'suite {name!r}: method {method.name!r} copies the setting of unknown method '
                             f'{method.copy_setting_from!r}')

    tasks = []
    for tname, t in d['tasks'].items():
        where = f'suite {name!r}: task {tname!r}'
        _check_keys(where, t, TASK_KEYS)
        for key in ('config', 'regime', 'metric', 'methods', 'baseline'):
            if key not in t:
                raise SuiteError(f'{where}: missing required key {key!r}')
        if t['regime'] not in ('finetune', 'scratch'):
            raise SuiteError(f'{where}: regime must be "finetune" or "scratch", got {t["regime"]!r}')
        mnames = tuple(t['methods'])
        if len(set(mnames)) != len(mnames):
            raise SuiteError(f'{where}: duplicate methods in {list(mnames)}')
        for mn in mnames:
            if mn not in methods:
                raise SuiteError(f'{where}: method {mn!r} is not defined in `methods` ({sorted(methods)})')
            src = methods[mn].copy_setting_from
            if src is not None and src not in mnames:
                raise SuiteError(f'{where}: method {mn!r} copies {src!r}, which this task does not run')
        if t['baseline'] not in mnames:
            raise SuiteError(f'{where}: baseline {t["baseline"]!r} is not one of its methods {list(mnames)}')
        if t.get('forgetting') and t['regime'] != 'finetune':
            raise SuiteError(f'{where}: forgetting is only defined for fine-tuning')
        adm = t.get('admission')
        if adm is not None:
            _check_keys(f'{where}: admission', adm, {'reference', 'trivial', 'source'})
            if not {'reference', 'trivial'} <= set(adm) or not adm['reference'] > adm['trivial']:
                raise SuiteError(f'{where}: admission needs reference > trivial, got {adm}')
        length = t.get('length')
        if length is not None and (not isinstance(length, int) or length < 1):
            raise SuiteError(f'{where}: length must be a positive integer, got {length!r}')
        if not osp.exists(osp.join(_configs_root(), t['config'])):
            raise SuiteError(f'{where}: config {t["config"]!r} does not exist under configs/')
        tasks.append(Task(tname, t['config'], t['regime'], t['metric'], mnames, t['baseline'], length,
                          tuple(t.get('extra_metrics') or ()), bool(t.get('ood', True)), bool(t.get('forgetting', False)),
                          adm, dict(t.get('cfg_options') or {}), t.get('description', ''), t.get('floor')))
    tasks = tuple(tasks)
    # only the methods some task runs are checked and kept (a shared methods file may define more)
    used = {mn for t in tasks for mn in t.methods}
    methods = {k: v for k, v in methods.items() if k in used}
    for method in methods.values():
        where = f'suite {name!r}: method {method.name!r}'
        opt = method.optimizer
        if method.tuned:
            if not method.space:
                raise SuiteError(f'{where}: needs a search `space` (at least its lr), or copy_setting_from')
            configurations(method, budget, sampler)  # validates the space against the budget
        if check_optimizers:
            args = _optimizer_arguments(opt['type'], where)
            knobs = set(opt) - {'type'} | {k for k in list(method.space) + list(method.defaults) if '.' not in k}
            if args is not None:
                unknown = sorted(knobs - args)
                if unknown:
                    raise SuiteError(f'{where}: {opt["type"]} has no argument(s) {unknown} '
                                     f'(it takes {sorted(args - {"params"})})')
    if any(t.regime == 'finetune' for t in tasks):
        up = d.get('upstream')
        if not up or not {'config', 'checkpoint'} <= set(up):
            raise SuiteError(f'suite {name!r} has fine-tuning tasks but no upstream=dict(config=, checkpoint=)')
        _check_keys(f'suite {name!r}: upstream', up, {'config', 'checkpoint', 'cfg_options'})
        upstream = (up['config'], up['checkpoint'])
        upstream_options = dict(up.get('cfg_options') or {})
    else:
        upstream, upstream_options = None, {}

    margins = dict(d.get('margins') or {})
    for k, v in margins.items():
        ok = (isinstance(v, (int, float)) and v > 0) or (isinstance(v, dict) and set(v) == {'relative'}
                                                            and v['relative'] > 0)
        if not ok:
            raise SuiteError(f'suite {name!r}: margins[{k!r}] must be a positive number or dict(relative=...), got {v!r}')

    claims, primaries = [], {}
    task_keys = {t.key: t for t in tasks}
    for i, c in enumerate(d.get('claims') or []):
        where = f'suite {name!r}: claims[{i}]'
        _check_keys(where, c, CLAIM_KEYS)
        for key in ('paper', 'claim', 'method', 'baseline', 'tasks', 'column'):
            if key not in c:
                raise SuiteError(f'{where}: missing required key {key!r}')
        kind = c.get('kind', 'better')
        if kind not in ('better', 'on_par'):
            raise SuiteError(f'{where}: kind must be "better" or "on_par", got {kind!r}')
        col = c['column']
        if col not in COLUMNS and not col.startswith('test:'):
            raise SuiteError(f'{where}: column {col!r} is not one of {list(COLUMNS)} or "test:<metric>"')
        for tk in c['tasks']:
            if tk not in task_keys:
                raise SuiteError(f'{where}: unknown task {tk!r}')
            for mn in (c['method'], c['baseline']):
                if mn not in task_keys[tk].methods:
                    raise SuiteError(f'{where}: task {tk!r} does not run method {mn!r}')
            if col.startswith('forgetting') and not task_keys[tk].forgetting:
                raise SuiteError(f'{where}: task {tk!r} does not measure forgetting')
            if col.startswith('ood') and not task_keys[tk].ood:
                raise SuiteError(f'{where}: task {tk!r} has no OOD split')
        from .analysis import column_meta
        for tk in c['tasks']:
            key = column_meta(col, task_keys[tk])['margin']
            if key not in margins:
                raise SuiteError(f'{where}: no margin for {key!r} (column {col!r} of task {tk!r}) in `margins`: '
                                 'state the smallest effect of interest before the run')
        claim = Claim(c['paper'], c['claim'], c['method'], c['baseline'], tuple(c['tasks']), col, kind,
                      bool(c.get('primary', False)))
        if claim.primary:
            if len(claim.tasks) != 1:
                raise SuiteError(f'{where}: a primary claim names exactly one task, got {list(claim.tasks)}')
            if claim.paper in primaries:
                raise SuiteError(f'{where}: paper {claim.paper!r} already has a primary claim '
                                 f'({primaries[claim.paper]!r}): one per paper')
            primaries[claim.paper] = claim.claim
        claims.append(claim)
    return Suite(name, tasks, methods, tuning_seeds, reporting_seeds, budget, sampler, margins, tuple(claims),
                 upstream, upstream_options, d.get('description', ''), source, run_defaults, executor)
