"""What a benchmark suite is: tasks x methods x lr grid x seeds, and how it expands into cells.

A *cell* is one training run: (task, regime, method, lr, seed). Every (task, regime, method) gets
the same search budget: its lr grid is run at the first seed, the setting with the best
in-distribution validation metric wins, and the remaining seeds are run at the winner. So the
matrix is only known in full once the grid cells have finished: :func:`expand` returns every cell
that can be determined from the results so far, :func:`planned_count` how many there will be.
"""
from __future__ import annotations

import hashlib
import json
import math
import os.path as osp
from dataclasses import asdict, dataclass, field

__all__ = ['Method', 'Task', 'Suite', 'Cell', 'expand', 'planned_count', 'select_lr',
           'group_key', 'leaf_config', 'cell_id']


@dataclass(frozen=True)
class Method:
    """An optimizer setting: a base in ``configs/_base_/optimizers`` (``name``), or an explicit
    ``config`` for methods that are not a leaf (OSGD changes the optim wrapper type)."""
    name: str
    lrs: tuple
    config: str | None = None

    def __post_init__(self):
        if not self.lrs or any(not (isinstance(lr, (int, float)) and lr > 0) for lr in self.lrs):
            raise ValueError(f'method {self.name!r}: lrs must be a non-empty tuple of positive numbers, '
                             f'got {self.lrs!r}')


@dataclass(frozen=True)
class Task:
    """One task family in one regime, with the methods compared on it.

    ``config`` is the task config relative to ``configs/``; ``length`` overrides its schedule
    (epochs or iterations, whichever the config counts); ``metric`` is the headline metric (higher
    is better) and ``baseline`` the method every other one is compared with."""
    name: str
    regime: str
    config: str
    metric: str
    methods: tuple
    baseline: str
    length: int | None = None
    extra_metrics: tuple = ()
    ood: bool = True
    forgetting: bool = False
    cfg_options: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        if self.regime not in ('finetune', 'scratch'):
            raise ValueError(f'task {self.name!r}: regime must be "finetune" or "scratch", got {self.regime!r}')
        names = [m.name for m in self.methods]
        if len(set(names)) != len(names):
            raise ValueError(f'task {self.name!r}: duplicate methods in {names}')
        if self.baseline not in names:
            raise ValueError(f'task {self.name!r}: baseline {self.baseline!r} is not one of its methods {names}')
        if self.forgetting and self.regime != 'finetune':
            raise ValueError(f'task {self.name!r}: forgetting is only defined for fine-tuning')

    @property
    def key(self) -> str:
        return f'{self.name}-{self.regime}'

    def method(self, name: str) -> Method:
        for m in self.methods:
            if m.name == name:
                return m
        raise KeyError(f'task {self.key!r} has no method {name!r}')


@dataclass(frozen=True)
class Suite:
    """``upstream``: (config, checkpoint) of the pre-trained classifier the fine-tuning cells start
    from; forgetting puts its head back on their backbones and evaluates it on the config's val
    split (``upstream_options`` overrides that config, e.g. its data root)."""
    name: str
    tasks: tuple
    seeds: tuple = (0, 1, 2)
    upstream: tuple | None = None
    upstream_options: dict = field(default_factory=dict)
    description: str = ''

    def __post_init__(self):
        keys = [t.key for t in self.tasks]
        if len(set(keys)) != len(keys):
            raise ValueError(f'suite {self.name!r}: duplicate tasks in {keys}')
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f'suite {self.name!r}: seeds must be distinct and non-empty, got {self.seeds!r}')
        if any(t.regime == 'finetune' for t in self.tasks) and not self.upstream:
            raise ValueError(f'suite {self.name!r} has fine-tuning tasks but no upstream checkpoint')

    def task(self, key: str) -> Task:
        for t in self.tasks:
            if t.key == key:
                return t
        raise KeyError(f'suite {self.name!r} has no task {key!r}')


def leaf_config(task: Task, method: Method) -> str:
    """The config a cell trains, relative to ``configs/``: the method's own, or the generated leaf
    ``<family>/optimizers/<task stem>_<method>.py`` (tools/make_optimizer_configs.py)."""
    if method.config:
        return method.config
    family, name = task.config.split('/')
    return osp.join(family, 'optimizers', f'{osp.splitext(name)[0]}_{method.name.replace("_", "-")}.py')


def cell_id(task_key: str, method: str, lr: float, seed: int) -> str:
    return f'{task_key}__{method}__lr{float(lr):g}__s{seed}'


@dataclass(frozen=True)
class Cell:
    suite: str
    task: str
    method: str
    lr: float
    seed: int
    config: str
    length: int | None
    regime: str

    @property
    def id(self) -> str:
        return cell_id(self.task, self.method, self.lr, self.seed)

    @property
    def group(self) -> tuple:
        return (self.task, self.method)

    def spec(self) -> dict:
        return asdict(self)

    def spec_hash(self, *cfg_options: dict) -> str:
        blob = json.dumps([self.spec(), *cfg_options], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def group_key(task: Task, method: Method) -> tuple:
    return (task.key, method.name)


def _cell(suite: Suite, task: Task, method: Method, lr: float, seed: int) -> Cell:
    return Cell(suite=suite.name, task=task.key, method=method.name, lr=float(lr), seed=seed,
                config=leaf_config(task, method), length=task.length, regime=task.regime)


def select_lr(task: Task, method: Method, results: dict, seed: int):
    """The grid's winner: the lr whose cell at ``seed`` scored best on the in-distribution metric
    (ties: the first in the grid). ``None`` while a grid cell is unfinished. A cell whose metric is
    missing or not finite (a diverged run) loses to any finite one."""
    scores = []
    for lr in method.lrs:
        r = results.get(cell_id(task.key, method.name, lr, seed))
        if r is None:
            return None
        v = r.get('val', {}).get(task.metric)
        scores.append(v if isinstance(v, (int, float)) and math.isfinite(v) else -math.inf)
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    return float(method.lrs[best])


def expand(suite: Suite, results: dict | None = None) -> list:
    """Every cell determinable now: the lr grid at the first seed, then the other seeds at the
    winning lr of each finished grid (``results`` maps cell id -> result)."""
    results = results or {}
    first, rest = suite.seeds[0], suite.seeds[1:]
    cells = []
    for task in suite.tasks:
        for method in task.methods:
            cells += [_cell(suite, task, method, lr, first) for lr in method.lrs]
            # a one-point grid needs no selection
            lr = float(method.lrs[0]) if len(method.lrs) == 1 else select_lr(task, method, results, first)
            if lr is not None:
                cells += [_cell(suite, task, method, lr, s) for s in rest]
    return cells


def planned_count(suite: Suite) -> int:
    return sum(len(m.lrs) + len(suite.seeds) - 1 for t in suite.tasks for m in t.methods)
