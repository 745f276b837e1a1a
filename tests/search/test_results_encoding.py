"""What a rank of a replicated loop sends and how items are split (src.parallel.replicated):
results survive the flat encoding bit for bit, and the split is a pure, balanced function."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from src.config import build
from src.evaluation import EvalRequest, EvalResult, decode_results, encode_results, evaluate
from src.parallel import SerialExecutor
from src.parallel.replicated import MeasuredCosts, RankZero, _decode, _encode, assign
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
