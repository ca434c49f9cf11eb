# Two commands do all the set-up on a fresh machine:
#   make train   - create/refresh .venv, then train on the embedded synth dataset
#   make test    - create/refresh .venv, then run the whole test suite (make test-fast: no slow tests)
# TORCH_SPEC picks the torch build installed first (CPU build by default).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=
# pytest-xdist workers (one per core; each runs torch on one thread, see tests/conftest.py)
PYTEST_WORKERS ?= auto
ARGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.rvqvae-installed

.PHONY: install train test test-fast lint bench bench-gpu clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(BIN)/python -m rvqvae.train $(ARGS)

# Debian's chromium + chromium-driver for the studio's browser test: installed when missing (as
# root, like scripts/slurm_local.sh); where that fails the test skips and says why
browser:
	-@scripts/chromium_local.sh

test: $(STAMP) browser
	WANDB_MODE=disabled $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

test-fast: $(STAMP) browser
	WANDB_MODE=disabled $(BIN)/python -m pytest -m "not slow" -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check rvqvae tests benchmarks
	$(BIN)/ruff format --check rvqvae tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# on a GPU host: the GPU rows (pipeline, compiled step, default run, shared sweep), own file
bench-gpu: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --only gpu,gpu_sweep --out benchmarks/results_gpu.json

clean:
	rm -rf $(VENV) .pytest_cache
