"""The cell manifest: what a worker process needs to train one cell as the driver meant it.

``results/<suite>/manifest.json`` holds, per phase, the cells the driver dispatched (id -> spec
hash), how to load the suite again (the suite as named on the command line and its
``--cfg-options``), the work root, and for the reporting phase the pre-trained classifier's
reference accuracy. The reporting phase's entry is written only after ``tuning.json`` is frozen
(the barrier between the phases).

A worker (``run-cell SUITE CELL``) loads the suite again, rebuilds its phase's cells and refuses
to start when its cell is not in the manifest or when its spec hash differs from the one the
driver wrote (the suite file or the code changed between the two): a stale manifest must never
train a cell the driver did not mean.
"""
from __future__ import annotations

import json
import os
import os.path as osp

__all__ = ['ManifestError', 'read_manifest', 'write_phase', 'phase_cells', 'manifest_cell', 'MANIFEST']

MANIFEST = 'manifest.json'
VERSION = 1


class ManifestError(RuntimeError):
    """No manifest, a cell that is not in it, or a manifest stale against the suite."""


def _path(out_dir: str) -> str:
    return osp.join(out_dir, MANIFEST)


def read_manifest(out_dir: str) -> dict:
    path = _path(out_dir)
    if not osp.exists(path):
        raise ManifestError(f'{path} does not exist: a worker runs only cells a driver dispatched '
                            '(run the suite with --executor local|slurm first)')
    try:
        with open(path) as f:
            m = json.load(f)
    except ValueError as e:
        raise ManifestError(f'{path} is not a manifest this tool wrote ({e})') from None
    if m.get('version') != VERSION or not isinstance(m.get('phases'), dict):
        raise ManifestError(f'{path}: unknown manifest version {m.get("version")!r} (this tool writes {VERSION})')
    return m


def write_phase(out_dir: str, suite_ref: str, cfg_options: list, work_root: str, phase: str, cells: list,
                upstream_ref: dict | None = None, configs_root: str | None = None) -> dict:
    """Record ``cells`` as ``phase``'s entry (atomically; the other phase's entry is kept if it
    was written for the same suite arguments, dropped otherwise)."""
    from .driver import _write_json_atomic
    try:
        m = read_manifest(out_dir)
    except ManifestError:
        m = {}
    same = m.get('suite') == suite_ref and m.get('cfg_options') == list(cfg_options)
    phases = dict(m.get('phases') or {}) if same else {}
    phases[phase] = {'cells': {c.id: c.spec_hash for c in cells}, 'upstream_ref': upstream_ref}
    if phase == 'tuning':
        phases.pop('reporting', None)  # a new tuning round: the reporting cells follow its winners
    m = {'version': VERSION, 'suite': suite_ref, 'cfg_options': list(cfg_options), 'work_root': work_root,
         'configs_root': configs_root, 'phases': phases}
    os.makedirs(out_dir, exist_ok=True)
    _write_json_atomic(_path(out_dir), m)
    return m


def phase_cells(suite, phase: str, out_dir: str) -> list:
    """The suite's cells of ``phase`` as the suite defines them now."""
    from .driver import load_tuning
    from .suite import reporting_cells, tuning_cells
    if phase == 'tuning':
        return tuning_cells(suite)
    tuning = load_tuning(suite, out_dir)
    if tuning is None:
        raise ManifestError(f'{out_dir}/tuning.json does not exist: reporting cells are defined by the frozen '
                            'tuning winners')
    return reporting_cells(suite, tuning)


def manifest_cell(manifest: dict, suite, cell_id: str, out_dir: str):
    """(phase, cell, phase entry) of ``cell_id``, checked against the suite as it is now."""
    for phase, entry in manifest['phases'].items():
        if cell_id in entry['cells']:
            break
    else:
        known = sorted(c for e in manifest['phases'].values() for c in e['cells'])
        raise ManifestError(f'cell {cell_id!r} is not in {_path(out_dir)} ({len(known)} cells, e.g. {known[:3]}; '
                            f'see --list)')
    cells = {c.id: c for c in phase_cells(suite, phase, out_dir)}
    c = cells.get(cell_id)
    if c is None:
        raise ManifestError(f'{_path(out_dir)} is stale: cell {cell_id!r} is in it, but the suite {suite.name!r} '
                            f'no longer defines it; run the driver again')
    if c.spec_hash != entry['cells'][cell_id]:
        raise ManifestError(f'{_path(out_dir)} is stale: cell {cell_id!r} was dispatched with spec hash '
                            f'{entry["cells"][cell_id]}, the suite now gives {c.spec_hash} (the suite file, its '
                            '--cfg-options or the code changed since); run the driver again')
    return phase, c, entry
