"""What a rank of a replicated loop sends and how items are split (src.parallel.replicated):
results survive the flat encoding bit for bit, and the split is a pure, balanced function."""

from __future__ import annotations

import pickle

import numpy as np

from src.config import build
from src.evaluation import EvalRequest, EvalResult, decode_results, encode_results, evaluate
from src.parallel import SerialExecutor
from src.parallel.replicated import _decode, _encode, assign
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
