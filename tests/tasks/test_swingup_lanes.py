"""The lane kernel against the one-by-one reference, bit for bit, and its never-stale cache.

``_swingup_rollouts`` (all rollouts of a genome as lanes, the search's kernel) must return
exactly what ``_swingup_rollouts_reference`` (one rollout after the other, the kernel it
replaced) returns: every return, -inf included, bit for bit, and the same step count, on
genomes grown by mutation with every activation, up to 100+ nodes, with the search's weights
and with per-edge coefficients as the report's weight tuning uses them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest
from conftest import ROOT

from src.core import activations, jitcache
from src.core.genome import Genome, Innovations, initial_genome
from src.core.network import compile_genome
from src.core.variation import mutate
from src.evaluation import rollout_seeds
from src.tasks import swingup

WEIGHTS = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])
SIZES = (7, 15, 30, 60, 110)


def grow(n_nodes: int, seed: int, pool: tuple[int, ...], extra_connections: int = 0) -> Genome:
    """A genome grown from ``initial_genome`` by ``mutate`` to ``n_nodes`` nodes."""
    rng = np.random.default_rng(seed)
    inn = Innovations.start(5, 1)
    g = initial_genome(5, 1, 0.5, rng)
    while g.n_nodes < n_nodes:
        g, _ = mutate(g, rng, inn, (0.3, 0.4, 0.05, 0.25), pool)
    for _ in range(extra_connections):
        g, _ = mutate(g, rng, inn, (1.0, 0.0, 0.0, 0.0), pool)
    return g


def both(task: swingup.SwingUp, genome: Genome, weights, seeds, coef=None):
    """(reference, lanes) results of one call, after checking they are bit-identical."""
    args = task.kernel_args(compile_genome(genome), weights, seeds, coef)
    ref = swingup._swingup_rollouts_reference(*args)
    lanes = swingup._swingup_rollouts(*args)
    assert lanes[1] == ref[1], "step counts differ"
    assert lanes[0].tobytes() == ref[0].tobytes(), f"returns differ:\n{ref[0]}\n{lanes[0]}"
    return ref, lanes


def search_weights(reps: int) -> np.ndarray:
    return np.repeat(WEIGHTS, reps)


def search_seeds(seed: int, reps: int) -> np.ndarray:
    return np.tile(rollout_seeds(seed, 0, reps), len(WEIGHTS))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", swingup.MATH)
def test_lanes_equal_reference_on_search_rollouts(size, seed, kind):
    task = swingup.SwingUp(math=kind)
    g = grow(size, seed, activations.CONTROL_POOL, extra_connections=size // 3)
    (returns, steps), _ = both(task, g, search_weights(3), search_seeds(seed, 3))
    assert steps > 0 and np.isfinite(returns).any()


@pytest.mark.parametrize("act", sorted(activations.NAMES))
@pytest.mark.parametrize("kind", swingup.MATH)
def test_lanes_equal_reference_for_each_activation(act, kind):
    """Networks of one hidden activation each, so every branch of the lane dispatch runs."""
    task = swingup.SwingUp(math=kind)
    for size, seed in ((12, act), (40, 100 + act)):
        g = grow(size, seed, (act,), extra_connections=size // 2)
        assert act in g.node_act
        both(task, g, search_weights(3), search_seeds(seed, 3))


@pytest.mark.parametrize("kind", swingup.MATH)
def test_lanes_equal_reference_with_edge_coefficients(kind):
    """Per-edge coefficients (the report's random and tuned weights), also with many lanes of
    one weight as the report runs them, and huge ones that overflow to -inf."""
    task = swingup.SwingUp(math=kind)
    rng = np.random.default_rng(7)
    outcomes = []
    for i, size in enumerate((7, 15, 30, 60, 110) * 2):
        g = grow(size, 200 + i, activations.CONTROL_POOL, extra_connections=size // 3)
        n_edges = compile_genome(g).n_edges
        for coef in (rng.normal(0.0, 2.0, n_edges), 10.0 ** rng.uniform(0, 300, n_edges)):
            (returns, _), _ = both(task, g, search_weights(2), search_seeds(i, 2), coef)
            outcomes.append(returns)
        coef = rng.uniform(-2.0, 2.0, n_edges)
        both(task, g, np.full(25, 1.0), np.arange(25) + 1000 * i, coef)
    outcomes = np.concatenate(outcomes)
    assert np.isneginf(outcomes).any() and np.isfinite(outcomes).any()


@pytest.mark.parametrize("episode_steps", [1, 2, 150, 1000])
def test_lanes_equal_reference_at_the_step_limit(episode_steps):
    """Lanes still live at the step limit, and lanes that end before it, in one call."""
    task = swingup.SwingUp(episode_steps)
    ended_early = reached_limit = False
    for seed in range(6):
        g = grow(20, 300 + seed, activations.CONTROL_POOL, extra_connections=6)
        for i in range(len(WEIGHTS) * 3):
            # per rollout, to know how each one ended
            (_, s), _ = both(
                task, g, search_weights(3)[i : i + 1], search_seeds(seed, 3)[i : i + 1]
            )
            reached_limit |= s == episode_steps
            ended_early |= s < episode_steps
        both(task, g, search_weights(3), search_seeds(seed, 3))
    assert reached_limit and (ended_early or episode_steps < 100)


@pytest.mark.parametrize("kind", swingup.MATH)
def test_nonfinite_outputs_and_odd_lane_counts(kind):
    task = swingup.SwingUp(math=kind)
    g = grow(30, 5, activations.CONTROL_POOL, extra_connections=10)
    weights = np.array([1.0, np.nan, -2.0, np.inf, 0.5, np.nan, 2.0])
    (returns, _), _ = both(task, g, weights, np.arange(7))
    assert np.isneginf(returns[[1, 3, 5]]).all()
    for n in (0, 1, 2, 3, 5, 9, 33):
        both(task, g, np.resize(WEIGHTS, n), np.arange(n))


def test_task_rollouts_run_the_lane_kernel(monkeypatch):
    calls = []
    lanes = swingup._swingup_rollouts

    def spy(*args):
        calls.append(args)
        return lanes(*args)

    monkeypatch.setattr(swingup, "_swingup_rollouts", spy)
    task = swingup.SwingUp()
    plan = compile_genome(grow(15, 0, activations.CONTROL_POOL))
    returns, steps = task.rollouts(plan, search_weights(1), search_seeds(0, 1))
    assert len(calls) == 1
    ref = swingup._swingup_rollouts_reference(*calls[0])
    assert steps == ref[1] and returns.tobytes() == ref[0].tobytes()


def test_no_vectorised_libm_in_the_lane_kernel():
    """libm calls stay scalar in the compiled lane kernel, so a vector maths library (Intel
    SVML, where numba has one) cannot change any lane's result. Without the barrier LLVM
    vectorises the initial inputs' cos and sin into ``llvm.cos.v4f64`` even here."""
    fresh = numba.njit(error_model="numpy")(swingup._swingup_rollouts.py_func)  # not cached
    task = swingup.SwingUp(5)
    fresh(*task.kernel_args(compile_genome(grow(7, 0, (1,))), np.ones(2), np.arange(2)))
    llvm_ir = next(iter(fresh.inspect_llvm().values()))
    vector_calls = set(re.findall(r"call [^@\n]*<\d+ x double> @([\w.$]+)", llvm_ir))
    libm = re.compile(r"sin|cos|tan|exp|log|pow|svml|_ZGV")
    assert not {name for name in vector_calls if libm.search(name)}, vector_calls
    assert re.search(r"call [^@\n]*double @(llvm\.)?tanh|@tanh", llvm_ir)  # compiled in


def test_kernel_sources_cover_every_compiled_file():
    """The cache key covers the file of every numba function the module compiles."""
    sources = {p.resolve() for p in swingup.KERNEL_SOURCES}
    compiled = {
        Path(obj.py_func.__code__.co_filename).resolve()
        for obj in vars(swingup).values()
        if isinstance(obj, numba.core.registry.CPUDispatcher)
    }
    assert compiled <= sources
    inlined = (activations.__file__, swingup.env.__file__, swingup.fastmath.__file__)
    assert {Path(f).resolve() for f in inlined} <= sources


def test_unknown_cache_layout_turns_the_disk_cache_off(tmp_path):
    class Odd:
        _cache = object()

    source = tmp_path / "k.py"
    source.write_text("x = 1\n")
    odd = Odd()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        digest = jitcache.key_on_sources([odd], [source])
    assert isinstance(odd._cache, numba.core.caching.NullCache)
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)
    assert digest == jitcache.source_digest([source])
    source.write_text("x = 2\n")
    assert jitcache.source_digest([source]) != digest


PROGRAM = """
import json, numpy as np, src
from src.core.genome import initial_genome
from src.core.network import compile_genome
from src.tasks import swingup
plan = compile_genome(initial_genome(5, 1, 1.0, np.random.default_rng(3)))
returns, steps = swingup.SwingUp(200).rollouts(plan, np.array([-1.0, 0.5, 2.0]), np.arange(3))
stats = swingup._swingup_rollouts.stats
print(json.dumps({"src": src.__file__, "returns": returns.tolist(), "steps": steps,
                  "hits": sum(stats.cache_hits.values())}))
"""


def test_kernel_cache_follows_an_edit_to_activations(tmp_path):
    """A real edit to activations.py in a copy of the tree changes the next process's results;
    without one, the next process loads the kernel from the cache. numba alone keys a cached
    kernel on its own file only, and returned the old results. (envs/swingup.py is keyed the
    same way, :func:`test_kernel_sources_cover_every_compiled_file`; one edit is enough here:
    each costs a compile of the lane kernel, ~10 CPU-seconds.)"""
    tree = tmp_path / "tree"
    for package in ("src", "envs"):
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
    env["PYTHONPATH"] = str(tree)

    def run() -> dict:
        out = subprocess.run(
            [sys.executable, "-c", PROGRAM],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert Path(result["src"]).resolve().is_relative_to(tree.resolve())
        return result

    def edit(path: Path, old: str, new: str) -> None:
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))  # a different size: .pyc cannot go stale

    first = run()
    again = run()
    assert again["hits"] == 1 and again["returns"] == first["returns"]
    act = tree / "src" / "core" / "activations.py"
    edit(
        act,
        'Activation(1, "linear", lambda x: x, lambda x: x,',
        'Activation(1, "linear", lambda x: x, lambda x: 0.5 * x,',
    )
    edited = run()
    assert edited["hits"] == 0 and edited["returns"] != first["returns"]
