# The two documented entry points are `make demo` and `make test`; each builds or reuses the
# project's virtual environment first (tools/setup_env.sh: a stamp keyed on the pinned
# requirements makes the second run a no-op).
VENV ?= .venv
PY := $(VENV)/bin/python
export VENV

.PHONY: demo test env data upstream mini clean-env

env:
	@bash tools/setup_env.sh

data: env
	@$(PY) tools/make_synthetic_data.py

upstream: data
	@$(PY) tools/pretrain_upstream.py

demo: env
	@$(PY) tools/benchmark.py demo

mini: env
	@$(PY) tools/benchmark.py mini

test: env
	@$(PY) -m pytest -q

clean-env:
	rm -rf $(VENV)
