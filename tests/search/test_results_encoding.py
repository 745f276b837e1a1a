"""What a rank of a replicated loop sends and how items are split (src.parallel.replicated):
results survive the flat encoding bit for bit, and the split is a pure, balanced function."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from src.config import build
from src.evaluation import EvalRequest, EvalResult, decode_results, encode_results, evaluate
from src.parallel import SerialExecutor, rollout_pieces
from src.parallel.replicated import (
    MeasuredCosts,
    RankZero,
    _decode,
    _encode,
    assign,
    split_genomes,
)
from src.search import loop


def _same(a: EvalResult, b: EvalResult) -> None:
    assert a.returns.dtype == b.returns.dtype and a.returns.shape == b.returns.shape
    assert a.returns.tobytes() == b.returns.tobytes()
    assert (a.env_steps, a.busy_seconds, a.rollouts) == (b.env_steps, b.busy_seconds, b.rollouts)
    assert (a.children is None) == (b.children is None)
    for x, y in zip(a.children or (), b.children or ()):
        assert (x is None) == (y is None)
        if x is not None:
            assert x[0].tolist() == y[0].tolist() and x[1:] == y[1:]
    assert (a.genome_seconds is None) == (b.genome_seconds is None)
    if a.genome_seconds is not None:
        assert a.genome_seconds.tobytes() == b.genome_seconds.tobytes()


def test_search_results_survive_the_flat_encoding():
    config = build("swingup", sets=["pop_size=6", "n_reps=1", "breeding='workers'"])
    state = loop.initial_state(config)
    state.objectives = loop.evaluate_population(state, SerialExecutor())[0]
    offspring = [g for g in loop.breed(state) if isinstance(g, loop.Offspring)]
    parents = [o.parent for o in offspring]
    genomes = state.population[:3]
    results = [
        evaluate(EvalRequest.of(config, 1, genomes)),  # no children
        evaluate(  # children, one of them not bred (-1: evaluated as sent)
            EvalRequest.of(
                config,
                1,
                [*parents[:2], genomes[0]],
                children=(offspring[0].index, offspring[1].index, -1),
                innovations=offspring[0].base,
            )
        ),
        evaluate(EvalRequest.of(config, 1, genomes[:1], rollouts=(2, 5))),  # a slice
    ]
    pairs = list(zip([7, 2, 40], results))
    back = decode_results(encode_results(pairs))
    assert [i for i, _ in back] == [7, 2, 40]
    for (_, a), (_, b) in zip(pairs, back):
        _same(a, b)
    assert back[1][1].children[2] is None
    # each whole genome's seconds (breeding included) come back; a slice has none
    assert [len(r.genome_seconds) for _, r in back[:2]] == [3, 3]
    assert back[2][1].genome_seconds is None
    assert (back[1][1].genome_seconds > 0).all()
    assert back[1][1].genome_seconds.sum() <= back[1][1].busy_seconds
    assert _encode(pairs)[0] == "results"  # search results go as arrays, not pickled
    assert _decode(_encode(pairs))[0][0] == 7
    other = [(3, "not a search result")]
    assert _decode(_encode(other)) == other  # anything else goes as it is
    assert _decode(None) == []


def test_the_split_is_pure_and_balanced():
    rng = np.random.default_rng(0)
    costs = rng.lognormal(0, 1, 300).tolist()
    owner = assign(costs, 16)
    assert owner == assign(list(costs), 16)  # every rank computes the same
    loads = np.bincount(owner, weights=costs, minlength=16)
    assert loads.max() <= loads.mean() + max(costs)  # greedy: within one item of the mean
    assert loads.max() / loads.mean() < 1.05
    assert assign([1.0, 1.0], 4) == [0, 1]  # ties go to the lowest rank
    assert assign([], 3) == []


def test_a_requests_cost_is_the_same_packed_or_not():
    """The split's cost guess: the same whether a request still holds its genomes or was
    packed and sent (whole parents to breed from, or enabled connections only)."""
    config = build("swingup", sets=["pop_size=6", "n_reps=2", "breeding='workers'"])
    state = loop.initial_state(config)
    genomes = state.population[:4]
    for children in (None, (6, 7, 8, 9)):
        request = EvalRequest.of(config, 1, genomes, children=children, innovations=(50, 90))
        sent = pickle.loads(pickle.dumps(request))
        assert "_source" not in sent.__dict__ and sent.packed is not None
        assert sent.cost == request.cost > 0
        assert sent.n_genomes == request.n_genomes == 4
    half = EvalRequest.of(config, 1, genomes[:1], rollouts=(0, 6))
    assert half.cost * 2 == EvalRequest.of(config, 1, genomes[:1]).cost


def test_the_split_learns_what_each_network_cost():
    """After a map, a network's measured seconds per rollout set its items' cost in the
    next one (as an elite, and as the parent of a child to breed); unknown ones are guessed
    at the last map's seconds per guess unit."""
    config = build("swingup", sets=["pop_size=6", "n_reps=2", "breeding='workers'"])
    a, b, c = loop.initial_state(config).population[:3]
    items = [EvalRequest.of(config, 1, [a]), EvalRequest.of(config, 1, [b])]
    n = 12  # rollouts of a genome
    results = [
        EvalResult(np.zeros((1, 6, 2)), 0, 0.9),  # a: slow (its episodes run long)
        EvalResult(np.zeros((1, 6, 2)), 0, 0.1),
    ]
    rates = MeasuredCosts()
    guesses, seconds = rates.costs(items)
    assert guesses == [i.cost for i in items] and not seconds  # nothing measured yet
    rates.learn(items, results)
    assert rates.rates[a.key()] == pytest.approx(0.9 / n)
    assert rates.rates[b.key()] == pytest.approx(0.1 / n)
    later = [
        EvalRequest.of(config, 2, [b, a]),  # elites, measured
        EvalRequest.of(config, 2, [a], children=(5,), innovations=(50, 90)),  # a's child
        EvalRequest.of(config, 2, [c]),  # never measured: its guess, in seconds
    ]
    costs, seconds = rates.costs(later)
    assert seconds  # all in seconds: rank 0's head may apply
    assert costs[0] == pytest.approx(0.1 + 0.9) and costs[1] == pytest.approx(0.9)
    assert costs[2] == pytest.approx(later[2].cost * 1.0 / sum(i.cost for i in items))
    assert assign(costs, 2) == [0, 1, 1]  # the two slow genomes on different ranks
    # items that are not search requests (the start probe's) cost one unit each: no head
    _, seconds = rates.costs([*later, "a probe's request"])
    assert not seconds


def test_genomes_timed_one_by_one_teach_their_own_costs():
    """An item of several genomes whose result timed each (``genome_seconds``) teaches each
    network its own seconds, not the item's shared by the guesses; :meth:`genome_costs`
    prices single genomes from them (a child's from its parent) for the genome-by-genome
    split."""
    config = build("swingup", sets=["pop_size=6", "n_reps=2", "breeding='workers'"])
    a, b, c = loop.initial_state(config).population[:3]
    item = EvalRequest.of(config, 1, [a, b])
    rates = MeasuredCosts()
    rates.learn([item], [EvalResult(np.zeros((2, 6, 2)), 0, 1.0, None, None, np.array([0.9, 0.1]))])
    assert rates.rates[a.key()] == pytest.approx(0.9 / 12)
    assert rates.rates[b.key()] == pytest.approx(0.1 / 12)
    costs, seconds = rates.genome_costs([(a.key(), 8), (b.key(), 8), (c.key(), 8 + 3)], 12)
    assert seconds and costs[:2] == [pytest.approx(0.9), pytest.approx(0.1)]
    assert costs[2] == pytest.approx(12 * 11 * rates.per_unit)  # never measured: its guess
    fresh, seconds = MeasuredCosts().genome_costs([(a.key(), 8), (c.key(), 11)], 12)
    assert fresh == [96.0, 132.0] and not seconds  # nothing measured: guess units


def test_the_genome_split_gives_each_rank_its_genomes_in_order():
    ranks, shares = split_genomes([5.0, 1.0, 1.0, 1.0, 1.0, 1.0, 4.0], 3)
    # costliest first to the least loaded: 0 alone (5), 6 and then 5 (4 + 1), 1-4 (4 x 1)
    assert ranks == [0, 1, 2]
    assert shares == [[0], [5, 6], [1, 2, 3, 4]]  # each share in member order
    ranks, shares = split_genomes([1.0, 1.0], 4)
    assert ranks == [0, 1] and shares == [[0], [1]]  # ranks with nothing are left out


class _Planner(SerialExecutor):
    """A serial executor that splits as a replicated loop does: genome by genome, into
    shares of interleaved members (not contiguous runs)."""

    def __init__(self, parts: int, least: int = 0) -> None:
        super().__init__()
        self.parts = parts
        self.least = least or 2 * parts  # distinct genomes it splits one by one from
        self.maps: list[int] = []
        self.n_workers = parts

    def plans(self, n_genomes: int) -> bool:
        return n_genomes >= self.least

    def plan(self, networks, rollouts, stream):
        assert rollouts == 12 and stream == 0 and all(size >= 8 for _, size in networks)
        return [list(range(k, len(networks), self.parts)) for k in range(self.parts)]

    def map(self, fn, items, on_result=None):
        items = list(items)
        self.maps.append(len(items))
        return super().map(fn, items, on_result)


def test_a_generation_split_genome_by_genome_scores_as_cut_in_runs():
    """The search's plan path (an executor with ``plans``/``plan``): each share becomes one
    work item of members that are not contiguous, and every objective, the population and
    the duplicates come out as from the serial loop's contiguous items."""
    config = build("swingup", sets=["pop_size=16", "n_reps=2", "breeding='workers'"])
    runs = []
    for executor in (SerialExecutor(), _Planner(3)):
        state = loop.initial_state(config)
        state.objectives = loop.evaluate_population(state, executor)[0]
        for _ in range(2):
            population = loop.next_generation(state)
            state.generation += 1
            state.objectives, distinct, steps, _ = loop.evaluate_population(
                state, executor, population
            )
        runs.append((state, distinct, steps, executor))
    (a, da, sa, _), (b, db, sb, planner) = runs
    assert planner.maps == [3, 3, 3]  # one item per share, every generation
    assert a.objectives.tobytes() == b.objectives.tobytes()
    assert [g.key() for g in a.population] == [g.key() for g in b.population]
    assert (da, sa) == (db, sb)


def test_too_few_distinct_genomes_to_split_go_as_single_and_sliced_items():
    """Enough members but too few distinct networks among them (generation 0 of a sparse
    start: 6 in 16) for the split genome by genome: one item a genome, the last ones
    slices of rollouts, and the same objectives as the serial loop's."""
    config = build(
        "swingup", sets=["pop_size=16", "n_reps=2", "breeding='workers'", "prob_init_enable=0.1"]
    )
    a, b = loop.initial_state(config), loop.initial_state(config)
    assert len({g.key() for g in b.population}) == 6
    planner = _Planner(8, least=16)  # 16 members: asked; 6 distinct: too few
    a.objectives = loop.evaluate_population(a, SerialExecutor())[0]
    b.objectives, distinct, _, _ = loop.evaluate_population(b, planner)
    # a genome an item, cut into slices as the dynamic schedule's items would be
    assert distinct == 6 and planner.maps == [sum(rollout_pieces(6 - k, 12, 8) for k in range(6))]
    assert planner.maps[0] > 6
    assert a.objectives.tobytes() == b.objectives.tobytes()


def test_rank_zero_starts_behind_by_what_it_was_late():
    """Rank 0 writes the files: the split gives it a head start measured by feedback, in
    seconds, per kind of map, never below 0, the same on every rank (exchanged numbers)."""
    ms = 1_000_000
    headers = np.zeros((3, 4), dtype=np.int64)  # kind, bytes, flag, arrival (ns)
    headers[:, 3] = [90 * ms, 60 * ms, 70 * ms]  # arrivals: rank 0 25 ms after the others
    zero = RankZero()
    zero.learn(0, headers, share=1.0)
    assert zero.split(0) == pytest.approx(0.0125) and zero.split(1) == 0.0
    headers[:, 3] = [40 * ms, 60 * ms, 70 * ms]  # now 25 ms early: back to 0, not below
    zero.learn(0, headers, share=1.0)
    assert zero.split(0) == 0.0
    headers[:, 3] = [2000 * ms, 60 * ms, 70 * ms]  # a spike: no more than a mean share
    zero.learn(0, headers, share=0.05)
    assert zero.split(0) == 0.05
    costs = [1.0] * 6
    assert assign(costs, 3) == [0, 1, 2, 0, 1, 2]
    assert assign(costs, 3, head=1.5) == [1, 2, 1, 2, 0, 1]  # rank 0: one item, not two


def test_replicated_without_workers_breeding_is_one_line_and_may_change_on_resume():
    from src.config import ConfigError
    from src.search.resume import NEUTRAL_KEYS

    with pytest.raises(ConfigError) as exc:
        build("mnist256", sets=["replicated=true"])
    assert "replicated = true needs breeding = 'workers'" in str(exc.value)
    assert "\n" not in str(exc.value)
    assert build("mnist256", sets=["replicated=true", "breeding='workers'"]).replicated
    assert "replicated" in NEUTRAL_KEYS  # where genomes are evaluated, never what they score
