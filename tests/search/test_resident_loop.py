"""The resident loop (src.search.resident), every rank simulated in this process
(src.parallel.resident.simulate): the serial loop's run bit for bit at any rank count, more
ranks than genomes included; its genome codec and its split; the configs it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from src.config import ConfigError, build
from src.parallel.resident import simulate
from src.parallel.serial import SerialExecutor
from src.search import loop, resident


def config(task: str, **changes):
    base = {"breeding": "workers", "starts": 1}
    if task == "swingup":
        base.update(episode_steps=200, n_reps=2, pop_size=24, generations=7, seed=5)
    else:
        base.update(batch_size=100, pop_size=16, generations=4, seed=2)
    return build(task).replace(**{**base, **changes})


def simulated(cfg, ranks: int) -> loop.SearchState:
    state = loop.initial_state(cfg)
    runs = [resident.run(loop.snapshot(state), r, ranks) for r in range(ranks)]
    results = simulate(runs)
    assert all(result is None for result in results[1:])
    return results[0]


def assert_same(a: loop.SearchState, b: loop.SearchState) -> None:
    def rows(state):
        return [{k: v for k, v in r.items() if k not in ("seconds", "busy")} for r in state.history]

    assert rows(a) == rows(b)
    assert a.generation == b.generation
    assert [g.key() for g in a.population] == [g.key() for g in b.population]
    for ga, gb in zip(a.population, b.population):  # disabled genes and innovations too
        assert np.array_equal(ga.conn_innov, gb.conn_innov)
        assert np.array_equal(ga.conn_enabled, gb.conn_enabled)
    assert a.objectives.tobytes() == b.objectives.tobytes()
    assert a.best.key() == b.best.key() and a.best_info == b.best_info
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert vars(a.innovations) == vars(b.innovations)


@pytest.mark.parametrize(
    "task, changes",
    [("swingup", {}), ("swingup", {"champion_reps": 0}), ("mnist256", {})],
    ids=["swingup, champion re-scored", "swingup, best mean", "mnist256"],
)
def test_resident_loop_equals_the_serial_loop_at_any_rank_count(task, changes):
    """1, 2 and 5 ranks, and 30 ranks for 24 genomes (some ranks hold none)."""
    cfg = config(task, **changes)
    serial = loop.run(loop.initial_state(cfg), SerialExecutor())
    for ranks in (1, 2, 5, 30) if task == "swingup" else (3,):
        assert_same(simulated(cfg, ranks), serial)


def test_copies_of_one_network_keep_their_own_genes():
    """Members computing the same network (equal keys) are evaluated once, but each keeps
    its own genes: here every member is one network whose last gene carries another
    innovation number, so an elite replaced by its first copy's genome (the same key, other
    genes) would show in every generation's innovations and in the children bred from it."""
    cfg = config("swingup", generations=4, elite_ratio=0.5)
    state = loop.initial_state(cfg)
    first = state.population[0]
    late = state.innovations.next_innovation
    state.innovations.next_innovation += len(state.population)
    for i in range(1, len(state.population)):
        innov = first.conn_innov.copy()
        innov[-1] = late + i  # the same connection under another number
        state.population[i] = first.replace(conn_innov=innov)
    assert len({g.key() for g in state.population}) == 1
    serial = loop.run(loop.snapshot(state), SerialExecutor())
    for ranks in (1, 3, 7):
        results = simulate([resident.run(loop.snapshot(state), r, ranks) for r in range(ranks)])
        assert_same(results[0], serial)


STARTS = {"starts": 3, "start_generations": 2, "generations": 9}


@pytest.mark.parametrize("ranks", [1, 2, 5])
def test_starts_as_the_serial_loop(ranks):
    """Three starts of two generations, then the search on from the best start's last
    generation: every start's fresh genomes drawn alike on every rank, the reserve held
    where its genomes are, the same run as the serial loop's (reserve included)."""
    cfg = config("swingup", **STARTS)
    serial = loop.run(loop.initial_state(cfg), SerialExecutor())
    assert serial.reserve is None and len(serial.history) == 9
    assert_same(simulated(cfg, ranks), serial)


def test_starts_picked_by_max_reward_as_the_serial_loop():
    """``start_pick = 'max'`` (seed 3: the max rewards pick the first start, the means the
    third): every rank scores the starts on the rows it keeps, as the serial loop does."""
    cfg = config("swingup", **STARTS, seed=3, start_pick="max")
    serial = loop.run(loop.initial_state(cfg), SerialExecutor())
    scores = [loop.start_scores(serial.history, cfg.replace(start_pick=p)) for p in ("max", "mean")]
    assert [s.index(max(s)) for s in scores] == [0, 2]
    assert_same(simulated(cfg, 3), serial)


@pytest.mark.parametrize("stop_after", [1, 2, 3, 5])
def test_starts_stopped_and_resumed(stop_after):
    """Stopped after generation 1 (the end of the first start: no reserve yet), 2, 3 or 5
    (a start's genomes in reserve), its state (the reserve gathered on rank 0) is the
    serial loop's stopped there, and resumed on another rank count it is the
    uninterrupted run."""
    cfg = config("swingup", **STARTS)
    serial = loop.run(loop.initial_state(cfg), SerialExecutor())

    def stopper():
        polls = iter(range(1, 100))
        return lambda: next(polls) > stop_after

    state = loop.initial_state(cfg)
    there = loop.run(loop.snapshot(state), SerialExecutor(), should_stop=stopper())
    stop = stopper()
    runs = [resident.run(loop.snapshot(state), r, 3, should_stop=stop) for r in range(3)]
    stopped = simulate(runs)[0]
    assert stopped.generation == there.generation == stop_after
    assert (stopped.reserve is None) == (there.reserve is None) == (stop_after == 1)
    if there.reserve is not None:
        assert [g.key() for g in stopped.reserve] == [g.key() for g in there.reserve]
        for ga, gb in zip(stopped.reserve, there.reserve):
            assert np.array_equal(ga.conn_innov, gb.conn_innov)
    states = [loop.snapshot(stopped) for _ in range(2)]
    resumed = simulate([resident.run(s, r, 2) for r, s in enumerate(states)])[0]
    assert_same(resumed, serial)


def test_a_finished_run_resumed_returns_its_population_and_evaluates_nothing():
    cfg = config("swingup", generations=3)
    done = simulated(cfg, 3)
    states = [loop.snapshot(done) for _ in range(3)]
    results = simulate([resident.run(s, r, 3) for r, s in enumerate(states)])
    assert [g.key() for g in results[0].population] == [g.key() for g in done.population]
    assert results[0].history == done.history  # no generation added


def test_genome_codec_gives_the_same_arrays_read_only():
    state = loop.initial_state(config("mnist256", pop_size=6))
    pairs = list(enumerate(state.population))
    back = resident._decode_genomes(b"".join(resident._encode_genome(i, g) for i, g in pairs))
    assert sorted(back) == [i for i, _ in pairs]
    for i, g in pairs:
        for name in ("node_id", "node_kind", "node_act", "conn_src", "conn_dst"):
            a, b = getattr(g, name), getattr(back[i], name)
            assert a.dtype == b.dtype and np.array_equal(a, b) and not b.flags.writeable
        assert np.array_equal(g.conn_enabled, back[i].conn_enabled)
        assert np.array_equal(g.conn_innov, back[i].conn_innov)
        assert back[i].key() == g.key()
    assert resident._decode_genomes(b"") == {}


def test_split_near_balances_and_keeps_many_genomes_with_their_parents():
    """Three of eight ranks hold every parent: the split stays within 1 % of the mean share
    while far more of the work stays with its parents than a split blind to them would
    keep (an eighth); rank 0 started 30 behind gets about 30 less. JIT and ahead of time
    alike (every rank must compute the same split)."""
    from src.tasks import kernels

    rng = np.random.default_rng(3)
    cost = rng.uniform(1, 3, 400)
    pref = rng.integers(0, 3, 400)
    splits = [
        split(cost, pref, 8, h)
        for split in (kernels.jit().split_near, kernels.load().split_near)
        for h in (0.0, 30.0)
    ]
    assert np.array_equal(splits[0], splits[2]) and np.array_equal(splits[1], splits[3])
    loads = np.bincount(splits[0], cost, minlength=8)
    assert loads.max() / loads.mean() < 1.01
    assert cost[splits[0] == pref].sum() > 2 * cost.sum() / 8
    ahead = np.bincount(splits[1], cost, minlength=8)
    assert 25 < loads.mean() - ahead[0] < 35


def test_first_copies_point_at_each_rows_first_equal_row():
    """Rows of two words, few distinct (copies everywhere), words of any sign: each row's
    first equal row, as a loop over the rows finds it."""
    rng = np.random.default_rng(8)
    assert resident._first_copies(np.zeros((0, 2), dtype=np.int64)).tolist() == []
    for trial in range(100):
        n = int(rng.integers(1, 200))
        keys = rng.integers(-2, 2, (n, 2)) * (1 << 62 if trial % 2 else 1)
        seen: dict[tuple[int, int], int] = {}
        want = [seen.setdefault((int(a), int(b)), i) for i, (a, b) in enumerate(keys)]
        assert resident._first_copies(keys).tolist() == want


def test_split_near_is_the_scans_split():
    """The tournament tree over the ranks gives the split the scan over every rank gave
    (src.bench.legacy.split_near_scan): costs with many ties (the order and the least loaded
    rank both break ties by index), 0 to 1000 genomes, 1 to 100 ranks, rank 0 behind or
    not, parents anywhere. JIT and ahead of time alike."""
    from src.bench.legacy import split_near_scan
    from src.tasks import kernels

    rng = np.random.default_rng(5)
    splits = (kernels.jit().split_near, kernels.load().split_near)
    for trial in range(150):
        n, ranks = int(rng.integers(0, 1000)), int(rng.integers(1, 100))
        cost = (8.0 + rng.integers(0, 300, n)) * (rng.uniform(0.5, 2, n) if trial % 3 else 1)
        if trial % 4 == 0:
            cost = np.round(cost / 40) * 40  # many equal costs
        pref = rng.integers(0, ranks, n)
        head = float(rng.uniform(0, 300)) if trial % 2 else 0.0
        want = split_near_scan(cost, pref, ranks, head)
        for split in splits:
            assert np.array_equal(split(cost, pref, ranks, head), want), trial


@pytest.mark.parametrize(
    "sets, message",
    [
        (["resident=true"], "needs replicated = true"),
        (
            ["resident=true", "replicated=true", "breeding='workers'", "start_pick='tuned'"],
            "needs start_pick = 'mean'",
        ),
        (
            ["resident=true", "replicated=true", "breeding='workers'", "duplicates='last'"],
            "needs duplicates = 'keep'",
        ),
    ],
)
def test_configs_the_resident_loop_cannot_run_are_refused(sets, message):
    with pytest.raises(ConfigError, match=message):
        build("swingup", sets=sets)
