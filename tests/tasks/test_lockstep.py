"""The lockstep loop shared by biped, carracing and gym tasks: its network kernel, and the
returns of the loops it replaced."""

from pathlib import Path

import numpy as np
import pytest
from conftest import grown_genome

from src.core import activations, jitcache
from src.core.network import compile_genome, forward
from src.tasks import jitkernels
from src.tasks.biped import Biped
from src.tasks.carracing import CarRacingTask
from src.tasks.jitkernels import forward_rows


def test_forward_rows_equals_numpy_forward():
    plan = compile_genome(grown_genome(24, 4, 40, seed=3))
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(7, 24))
    weights = rng.uniform(-2, 2, 7)
    coef = rng.uniform(-2, 2, plan.n_edges)
    rows = np.array([5, 0, 3])
    out = np.empty((3, 4))
    values = np.zeros((7, plan.n_nodes))
    args = (plan.order, plan.act, plan.indptr, plan.indices, coef, plan.output_slots, out)
    finite = forward_rows(values, inputs, rows, weights, *args, False)
    expected = forward(plan, inputs[rows], weights[rows], coef)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert finite.tolist() == [True, True, True]
    weights[0] = np.nan
    assert forward_rows(values, inputs, rows, weights, *args, True).tolist() == [True, False, True]
    np.testing.assert_allclose(out[[0, 2]], np.clip(expected[[0, 2]], -1, 1), rtol=1e-12)


def test_forward_rows_cache_is_keyed_on_the_activations_source():
    """forward_rows inlines activations.apply_scalar: its numba cache stamp carries the digest
    of both files, so an edit to activations.py recompiles it instead of loading stale code."""
    stamp = forward_rows._cache._cache_file._source_stamp
    digest = jitcache.source_digest((Path(jitkernels.__file__), Path(activations.__file__)))
    assert isinstance(stamp, tuple) and stamp[1] == digest


def returns_hex(task, plan, weights, seeds, coef=None):
    returns, steps = task.rollouts(plan, np.array(weights), np.array(seeds), coef)
    return [float(r).hex() for r in returns], steps


@pytest.mark.parametrize("which", ["biped", "biped-hardcore", "carracing"])
def test_returns_are_those_of_the_per_task_loops_it_replaced(which):
    """Returns and step counts of a fixed genome and seeds, computed by the separate biped
    and carracing loops before they were moved onto src.tasks.lockstep (commit 678dac1),
    bit for bit: falls, a NaN weight, per-edge coefficients and early ends included.
    A new gymnasium or Box2D may legitimately change them (then recompute at that commit)."""
    if which == "biped":
        plan = compile_genome(grown_genome(24, 4, 30, seed=5))
        got = returns_hex(Biped("biped", 120), plan, [-1.5, 0.5, np.nan, 2.0], [3, 4, 5, 3])
        expected = (
            ["-0x1.c51152d19a5d4p-1", "-0x1.e5b1f0ea37470p+3", "-inf", "-0x1.e4eafec6bd03cp+3"],
            306,
        )
    elif which == "biped-hardcore":
        plan = compile_genome(grown_genome(24, 4, 30, seed=5))
        coef = np.linspace(-2, 2, plan.n_edges)
        got = returns_hex(Biped("biped-hardcore", 80), plan, [1.0, -0.5], [7, 8], coef)
        expected = (["-0x1.8592cdd5f68d6p+3", "-0x1.452eae76cc16ap-1"], 160)
    else:
        plan = compile_genome(grown_genome(16, 3, 30, seed=6))
        got = returns_hex(CarRacingTask(12), plan, [-2.0, 1.0, np.nan], [4, 9, 4])
        expected = (["0x1.84a7904a7904fp+2", "0x1.7452a37b0f457p+2", "-inf"], 24)
    assert got == expected
