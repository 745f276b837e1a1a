"""The ahead-of-time kernels (src.tasks.kernels): the same returns as numba's JIT ones, bit
for bit; any argument types they were not compiled for go to the JIT kernel; a build for
other sources is not loaded."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import grown_genome

from src.core.network import compile_genome
from src.tasks import kernels
from src.tasks.biped import Biped, FastWalker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built():
    """The ahead-of-time kernels, built where workers find them (a no-op when up to date)."""
    kernels.build()
    aot = kernels.Kernels(kernels.import_built())
    assert aot.ahead_of_time
    return aot


def episodes_hex(monkeypatch, chosen, name):
    monkeypatch.setattr(kernels, "load", lambda: chosen)
    task = Biped(name, 300)
    weights = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0] * 2)
    found = []
    for seed, mutations in [(1, 5), (2, 60), (3, 200)]:
        plan = compile_genome(grown_genome(24, 4, mutations, seed))
        returns, steps = task.rollouts(plan, weights, np.arange(12) + 10 * seed)
        found.append(([float(r).hex() for r in returns], steps))
    return found


@pytest.mark.parametrize("name", ["biped", "biped-hardcore"])
def test_ahead_of_time_returns_equal_jit_returns(monkeypatch, built, name):
    """Networks of 5 to 200 mutations (every activation), 12 episodes each, hardcore's
    stumps, stairs and pits included: the same floats and steps either way."""
    aot = episodes_hex(monkeypatch, built, name)
    jit = episodes_hex(monkeypatch, kernels.jit(), name)
    assert aot == jit
    assert sum(steps for _, steps in aot) > 3000


def test_fast_walker_binds_the_unchecked_ahead_of_time_lidar(monkeypatch, built):
    monkeypatch.setattr(kernels, "load", lambda: built)
    env = FastWalker()
    env.reset(seed=1)
    assert env._lidar is built._module.lidar


def test_other_argument_types_go_to_the_jit_kernel(built):
    """int32 rows, a strided weights view, a read-only output: what would crash the
    ahead-of-time function gives the JIT kernel's answer."""
    plan = compile_genome(grown_genome(24, 4, 40, seed=3))
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(6, 24))
    coef = np.ones(plan.n_edges)
    args = (plan.order, plan.act, plan.indptr, plan.indices, coef, plan.output_slots)

    def run(fn, rows, weights, out):
        values = np.zeros((6, plan.n_nodes))
        return fn(values, inputs, rows, weights, *args, out, True).tolist(), out.tolist()

    rows = np.array([4, 1, 2], dtype=np.int32)
    weights = rng.uniform(-2, 2, 12)[::2]
    expected = run(kernels.jit().forward_rows, rows, weights, np.zeros((3, 4)))
    assert run(built.forward_rows, rows, weights, np.zeros((3, 4))) == expected
    assert run(built.forward_rows, rows.astype(np.int64), weights.copy(), np.zeros((3, 4))) == (
        expected
    )
    frozen = np.zeros((3, 4))
    frozen.flags.writeable = False
    with pytest.raises(Exception, match="read-only|readonly"):
        run(built.forward_rows, rows.astype(np.int64), weights.copy(), frozen)


def test_a_build_for_other_sources_is_not_loaded(tmp_path, built):
    """The module's name carries the sources' digest: a file of another name (an older
    build) is ignored, and with none for the current sources the JIT kernels serve."""
    path = kernels.module_path(tmp_path)
    stale = tmp_path / path.name.replace(kernels.module_name(), "_aot_kernels_0123456789abcdef")
    stale.write_bytes(kernels.module_path().read_bytes())
    assert kernels.import_built(tmp_path) is None
    assert not kernels.Kernels(kernels.import_built(tmp_path)).ahead_of_time


def test_worker_style_import_loads_no_numba(built):
    """A fresh process that builds the biped task and runs a rollout imports neither numba
    nor llvmlite when the kernels are built."""
    code = (
        "import sys, numpy as np\n"
        "from src.config import build\n"
        "from src.tasks import make_task\n"
        "task = make_task(build('biped', overrides={'episode_steps': 5}))\n"
        "task.warmup()\n"
        "print(sorted(m for m in ('numba', 'llvmlite') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
