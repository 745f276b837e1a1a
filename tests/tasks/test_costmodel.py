"""The cost-model tasks of the scale benchmark (src.bench.costmodel): rollouts that sleep for
measured episode durations, as pure functions of (network, weight, seed)."""

from __future__ import annotations

import time
import zlib

import numpy as np
import pytest

from src.bench import costmodel
from src.config import WannConfig
from src.core.genome import initial_genome
from src.core.network import compile_genome
from src.tasks import make_task


@pytest.mark.parametrize("profile", ["biped", "mnist"])
def test_costmodel_rollouts_are_pure_and_take_the_time_they_report(profile, monkeypatch):
    monkeypatch.setenv("WANN_COSTMODEL_SCALE", "0.05")  # 1/20 of the measured durations
    task = getattr(costmodel, profile)(None)
    rng = np.random.default_rng(0)
    plans = [
        compile_genome(initial_genome(task.n_inputs, task.n_outputs, 0.5, rng)) for _ in range(3)
    ]
    weights = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])
    seeds = np.arange(6, dtype=np.int64) * 7919
    for plan in plans:
        start = time.perf_counter()
        returns, micros = task.rollouts(plan, weights, seeds)
        elapsed = time.perf_counter() - start
        assert elapsed >= micros / 1e6  # it slept at least what it reports
        assert micros > 0 and np.isfinite(returns).all()
        again, micros_again = task.rollouts(plan, weights, seeds)
        assert np.array_equal(returns, again) and micros == micros_again
        # a rollout's return and cost do not depend on the rollouts beside it
        parts = [task.rollouts(plan, weights[i : i + 1], seeds[i : i + 1]) for i in range(6)]
        assert np.array_equal(np.concatenate([r for r, _ in parts]), returns)
        assert sum(m for _, m in parts) == micros


def test_costmodel_is_a_task_by_module_factory_name():
    task = make_task(WannConfig(task="src.bench.costmodel:biped"))
    assert (task.n_inputs, task.n_outputs) == (24, 4)
    biped = [costmodel.RESET_S + s * costmodel.STEP_S for row in costmodel.BIPED_STEPS for s in row]
    assert min(biped) > 0.005 and max(biped) < 0.3  # 37 .. 1600 steps


@pytest.mark.parametrize("profile", ["biped", "mnist"])
def test_costmodel_draws_are_the_crcs_of_weight_seed_and_network(profile, monkeypatch):
    """Durations and returns are the CRCs defined in src.bench.costmodel, byte for byte: the
    cheap form (one struct-packed key per rollout) keeps every emulated run's results."""
    monkeypatch.setenv("WANN_COSTMODEL_SCALE", "0")  # no sleeping
    task = getattr(costmodel, profile)(None)
    rng = np.random.default_rng(1)
    plan = compile_genome(initial_genome(task.n_inputs, task.n_outputs, 0.5, rng))
    weights = rng.uniform(-2, 2, 50)
    seeds = rng.integers(0, 2**32, 50, dtype=np.int64)
    network = zlib.crc32(
        plan.indices.tobytes(),
        zlib.crc32(
            plan.indptr.tobytes(),
            zlib.crc32(plan.act.tobytes(), zlib.crc32(plan.order.tobytes())),
        ),
    )
    keys = [
        np.float64(w).tobytes() + np.int64(s).tobytes() + network.to_bytes(4, "little")
        for w, s in zip(weights, seeds)
    ]
    expected = np.array([zlib.crc32(k + b"r") / 2**32 + 0.01 * len(plan.indices) for k in keys])
    returns, micros = task.rollouts(plan, weights, seeds)
    assert np.array_equal(returns, expected)
    assert micros == 0
    unscaled = costmodel.CostModel(task.name, task.n_inputs, task.n_outputs, profile)
    unscaled.scale = 1.0
    _, micros = unscaled.rollouts(plan, weights[:3], seeds[:3])
    picks = [zlib.crc32(k) for k in keys[:3]]
    if profile == "biped":
        steps = [costmodel.BIPED_STEPS[network % 10][p % 6] for p in picks]
        want = [round((costmodel.RESET_S + n * costmodel.STEP_S) * 1e6) for n in steps]
    else:
        want = [round(costmodel.MNIST_ROLLOUT_S[network % 19] * 1e6)] * 3
    assert micros == sum(want)
    assert [task.duration_us(network, w, s) for w, s in zip(weights[:3], seeds[:3])] == [0] * 3
