"""Rollout-level work items: a genome's rollouts cut into slices give the same search.

The MPI side (slices evaluated on different ranks) is in tests/mpi/test_mpi.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from src import parallel
from src.bench import costmodel
from src.config import WannConfig
from src.core.network import compile_genome
from src.evaluation import (
    CHAMPION_STREAM,
    EvalRequest,
    _rollout_inputs,
    evaluate,
    gather_returns,
    rollout_seeds,
    rollout_slices,
    rollout_weights,
)
from src.search import loop
from src.tasks import make_task


@pytest.mark.parametrize(("n", "pieces"), [(24, 1), (24, 5), (24, 24), (24, 99), (7, 3)])
def test_slices_cover_the_rollouts_in_order_evenly(n, pieces):
    parts = rollout_slices(n, pieces)
    assert len(parts) == min(n, pieces)
    assert [i for a, b in parts for i in range(a, b)] == list(range(n))
    sizes = [b - a for a, b in parts]
    assert max(sizes) - min(sizes) <= 1


def test_pieces_follow_guided_self_scheduling_below_one_genome():
    k = parallel.schedule.ITEMS_PER_WORKER
    # items of ceil(remaining rollouts / (k P)): whole genomes while that is >= 24
    assert parallel.rollout_pieces(k * 10, 24, 10) == 1  # 24 rollouts an item
    assert parallel.rollout_pieces(k * 10 * 23 // 24, 24, 10) == 2  # 23 rollouts an item
    # pop 480 on 1024 ranks: every genome cut, into items of ceil(11520 / (k 1023)) rollouts
    assert parallel.rollout_pieces(480, 24, 1023) == 24 // -(-11520 // (k * 1023)) > 1
    assert parallel.rollout_pieces(1, 24, 3) == 24  # the last genome: single rollouts
    # no item shorter than MIN_ITEM_SECONDS once a rollout's cost is known
    cheap = parallel.schedule.MIN_ITEM_SECONDS / 6  # 6 rollouts fill an item
    assert parallel.rollout_pieces(480, 24, 1023, rollout_seconds=cheap) == 4
    assert parallel.rollout_pieces(480, 24, 1023, rollout_seconds=1e-6) == 1
    assert parallel.item_rollouts(10, 1000) == 1
    assert parallel.rollout_pieces(10, 24, 1) == 1  # one worker: nothing to balance
    assert parallel.rollout_pieces(10, 24, 1, split=6) == 6  # forced
    assert parallel.rollout_pieces(10, 4, 1, split=6) == 4
    assert parallel.rollout_pieces(480, 24, 1023, split=1) == 1  # never


@pytest.mark.parametrize("n_rollouts", [1, 6, 24])
@pytest.mark.parametrize("workers", [1, 3, 64, 1024])
@pytest.mark.parametrize("split", [0, 1, 3])
@pytest.mark.parametrize("seconds", [0.0, 1e-4, 1e-2])
def test_whole_from_is_where_genomes_stop_being_cut(n_rollouts, workers, split, seconds):
    """The search asks once a generation from how many genomes left it keeps them whole:
    exactly where rollout_pieces says 1, and above."""
    for most in (1, 5, 960):
        w = parallel.whole_from(n_rollouts, workers, split, seconds, most)
        for here in range(1, most + 1):
            whole = parallel.rollout_pieces(here, n_rollouts, workers, split, seconds) == 1
            assert whole == (here >= w)


def test_the_floor_is_judged_by_the_costliest_items():
    def result(busy, n):
        return loop.EvalResult(returns=np.zeros((1, n)), env_steps=0, busy_seconds=busy)

    # biped-like: 30 items of 12 rollouts at 20 ms, 10 walker slices of 6 at 260 ms a rollout
    biped = [result(0.24, 12)] * 30 + [result(1.56, 6)] * 10 + [result(0.0, 0)]
    assert loop.costly_rollout_seconds(biped) == pytest.approx(0.26)
    # even costs with one item slowed (a first call, the machine): about the mean
    even = [result(0.1, 100)] * 40 + [result(2.0, 100)]
    assert loop.costly_rollout_seconds(even) == pytest.approx(0.001)
    assert loop.costly_rollout_seconds([]) == 0.0
    # so the last genomes of a skewed generation go out as single rollouts ...
    assert parallel.rollout_pieces(3, 24, 127, rollout_seconds=0.26) == 24
    # ... where the mean (39 ms) would have kept items of 3 walker rollouts (0.8 s)
    assert parallel.rollout_pieces(3, 24, 127, rollout_seconds=0.039) == 8


def _makespan(items, workers):
    """Greedy list scheduling: each item to the first worker free (what the executor does
    when workers always hold their next item)."""
    free = [0.0] * workers
    for cost in items:
        i = min(range(workers), key=free.__getitem__)
        free[i] += cost
    return max(free)


def test_skewed_costs_leave_a_short_tail_with_the_costliest_floor():
    # the cost model's biped episodes (src.bench.costmodel: measured lengths of 10 initial
    # genomes x 6 weights, 3 of the 10 with 1600-step walkers): pop 480 x 24 rollouts on
    # 127 workers
    rng = np.random.default_rng(1)
    rows = rng.integers(10, size=(480, 1))
    steps = np.array(costmodel.BIPED_STEPS)[rows, rng.integers(6, size=(480, 24))]
    costs = costmodel.RESET_S + steps * costmodel.STEP_S

    def efficiency(per_rollout):
        items = []
        for g in range(480):
            pieces = parallel.rollout_pieces(480 - g, 24, 127, rollout_seconds=per_rollout)
            items += [costs[g, a:b].sum() for a, b in rollout_slices(24, pieces)]
        return costs.sum() / 127 / _makespan(items, 127)

    # the floor at the mean cost left a tail of items of several walker rollouts
    assert efficiency(costs.max()) > max(0.93, efficiency(costs.mean()) + 0.03)


def _config(**kw):
    return WannConfig(
        task="swingup", pop_size=12, seed=3, episode_steps=60, n_reps=2, generations=3, **kw
    )


def test_a_sliced_genome_has_the_returns_and_steps_of_the_whole():
    config = _config()
    state = loop.initial_state(config)
    whole = evaluate(EvalRequest.of(config, 1, state.population[:2]))
    parts = [
        evaluate(EvalRequest.of(config, 1, [g], rollouts=s))
        for g in state.population[:2]
        for s in rollout_slices(12, 5)
    ]
    joined = gather_returns(parts, 6, 2)
    assert np.array_equal(joined, whole.returns)
    assert sum(p.env_steps for p in parts) == whole.env_steps


def test_gather_refuses_incomplete_slices():
    config = _config()
    g = loop.initial_state(config).population[0]
    part = evaluate(EvalRequest.of(config, 0, [g], rollouts=(0, 5)))
    with pytest.raises(ValueError, match="incomplete"):
        gather_returns([part], 6, 2)
    with pytest.raises(ValueError, match="one genome"):
        EvalRequest.of(config, 0, [g, g], rollouts=(0, 5))


def _search(config):
    state = loop.initial_state(config)
    return loop.run(state, parallel.SerialExecutor())


def test_a_search_with_sliced_genomes_equals_the_unsliced_one():
    # champion re-evaluations (champion_reps) are sliced too
    whole = _search(_config(split_rollouts=1, champion_reps=3))
    sliced = _search(_config(split_rollouts=5, champion_reps=3))
    assert np.array_equal(whole.objectives, sliced.objectives)
    assert [g.key() for g in whole.population] == [g.key() for g in sliced.population]
    for a, b in zip(whole.history, sliced.history):
        assert {k: v for k, v in a.items() if k not in ("seconds", "busy")} == {
            k: v for k, v in b.items() if k not in ("seconds", "busy")
        }
    assert whole.best_info == sliced.best_info


class _ManyWorkers(parallel.SerialExecutor):
    """Serial, but the search cuts its items for ``n_workers``; records the items' slices."""

    def __init__(self, n_workers: int) -> None:
        super().__init__()
        self.n_workers = n_workers
        self.slices: list[tuple[int, int] | None] = []

    def map(self, fn, items):
        items = list(items)
        self.slices += [item.rollouts for item in items]
        return super().map(fn, items)


def test_automatic_slices_for_many_workers_equal_whole_genomes():
    config = _config(champion_reps=2)
    whole = loop.run(loop.initial_state(config), parallel.SerialExecutor())
    many = _ManyWorkers(40)
    sliced = loop.run(loop.initial_state(config), many)
    assert any(s is not None for s in many.slices)
    assert (0, 1) in many.slices  # down to single rollouts
    assert np.array_equal(whole.objectives, sliced.objectives)
    assert [g.key() for g in whole.population] == [g.key() for g in sliced.population]
    assert whole.best_info == sliced.best_info
    assert [h["env_steps"] for h in whole.history] == [h["env_steps"] for h in sliced.history]


@pytest.mark.parametrize("sets", [{}, {"weight_jitter": 0.3}, {"weight_sampling": "stratified"}])
def test_evaluate_reuses_a_generations_rollout_inputs_with_the_same_returns(sets):
    """A worker computes a generation's rollout weights and seeds once (a cache, read-only)
    and hands each task fresh copies: interleaved generations and streams, slices and whole
    genomes give the returns of rollouts on freshly computed weights and seeds."""
    config = _config(**sets)
    genome = loop.initial_state(config).population[0]
    task = make_task(config)

    def fresh(generation, stream):
        w = rollout_weights(config, generation, stream)
        s = np.tile(rollout_seeds(config.seed, generation, config.n_reps, stream), 6)
        return task.rollouts(compile_genome(genome), w, s)[0]

    for generation, stream in [(1, 0), (2, 0), (0, CHAMPION_STREAM), (1, 0), (2, 0)]:
        want = fresh(generation, stream)
        whole = evaluate(EvalRequest.of(config, generation, [genome], stream))
        assert np.array_equal(whole.returns.ravel(), want)
        part = evaluate(EvalRequest.of(config, generation, [genome], stream, rollouts=(3, 9)))
        assert np.array_equal(part.returns.ravel(), want[3:9])
    assert not np.array_equal(fresh(1, 0), fresh(2, 0))  # a stale entry would show
    w_flat, s_flat = _rollout_inputs(config, 1, 0)
    assert not w_flat.flags.writeable and not s_flat.flags.writeable
