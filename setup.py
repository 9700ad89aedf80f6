"""Packaging is declared in pyproject.toml; this file only adds the configs to the wheel.

The repository's ``configs/`` goes into the built package as ``dualopt_mm/.mim/configs`` (where
OpenMMLab packages ship theirs; ``dualopt_mm.resources`` looks there first), copied as the tree it
is so the configs' relative ``_base_`` paths resolve, without moving the folder results refer to.
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithConfigs(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads configs/ from the tree
            return
        dst = os.path.join(self.build_lib, 'dualopt_mm', '.mim', 'configs')
        # a reused build folder must not keep configs since deleted from the tree
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(os.path.join(ROOT, 'configs'), dst,
                        ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


setup(cmdclass={'build_py': BuildPyWithConfigs})
