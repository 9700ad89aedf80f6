# The two documented entry points are `make demo` and `make test`; each builds or reuses the
# project's virtual environment first (tools/setup_env.sh: a stamp keyed on the pinned
# requirements makes the second run a no-op).
#
# `make test` runs two legs: the main one (Python 3.11, torch 2.13, the full OpenMMLab stack in
# .venv) and the compatibility one (pyenv's Python 3.10, torch 2.1.2, mmengine 0.10.7, no mmcv, in
# .venv-compat: tools/setup_compat_env.sh), then prints how many tests each ran.
VENV ?= .venv
PY := $(VENV)/bin/python
COMPAT_VENV ?= .venv-compat
COMPAT_PY := $(COMPAT_VENV)/bin/python
export VENV COMPAT_VENV
# each leg's pytest writes its counts here (tests/conftest.py)
LEGS := build/test-legs
# what the compatibility leg lacks, by the markers in pyproject.toml (the main leg runs them all):
# the mmcv / mmdet / mmseg / mmpretrain tests, fused=True on CPU (torch 2.4; there the clear error
# is tested instead), GradScaler('cpu') (torch 2.3); and torch's OptimizerInfo battery, which
# torch 2.1 does not ship (torch.testing._internal.common_optimizers)
COMPAT_SELECT := not openmmlab and not cpu_fused and not cpu_gradscaler
COMPAT_IGNORE := --ignore=tests/optim/test_torch_battery.py

.PHONY: demo test test-main test-compat env env-compat data upstream mini clean-env

env:
	@bash tools/setup_env.sh

env-compat:
	@bash tools/setup_compat_env.sh

data: env
	@$(PY) tools/make_synthetic_data.py

upstream: data
	@$(PY) tools/pretrain_upstream.py

demo: env
	@$(PY) tools/benchmark.py demo

mini: env
	@$(PY) tools/benchmark.py mini

test: test-main test-compat
	@echo "[test] main leg:          $$(cat $(LEGS)/main.txt)"
	@echo "[test] compatibility leg: $$(cat $(LEGS)/compat.txt)"

test-main: env
	@rm -f $(LEGS)/main.txt
	@DUALOPT_TEST_LEG=$(LEGS)/main.txt $(PY) -m pytest -q

# The package is not installed in .venv-compat: the tests import it from this tree, and
# PYTHONPATH gives the same to the processes some tests start (DDP workers).
test-compat: env-compat
	@rm -f $(LEGS)/compat.txt
	@DUALOPT_TEST_LEG=$(LEGS)/compat.txt PYTHONPATH=$(CURDIR) $(COMPAT_PY) -m pytest -q \
		-m "$(COMPAT_SELECT)" $(COMPAT_IGNORE)

clean-env:
	rm -rf $(VENV) $(COMPAT_VENV)
