"""Tests for src.core.ranking (NSGA-II fronts, crowding, WANN ranking, tournaments)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from src.config import ConfigError, WannConfig, validate
from src.core.ranking import (
    CROWDING_RULES,
    RANKING_METHODS,
    crowding_distance,
    nondominated_fronts,
    rank_copies_last,
    rank_order,
    rank_population,
    tournament,
)

SEEDS = [0, 1, 2, 3, 17]


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a >= b) and np.any(a > b))


def random_population(seed: int, n: int = 60) -> np.ndarray:
    """(n, 3) continuous (mean, max, connections) with distinct rows."""
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=n)
    best = mean + np.abs(rng.normal(size=n))
    conns = rng.integers(0, 40, size=n).astype(np.float64)
    return np.column_stack([mean, best, conns])


# ----------------------------------------------------------------------------- fronts


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [2, 3])
def test_front_properties(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    obj = rng.integers(0, 8, size=(80, k)).astype(np.float64)  # many ties and duplicates
    fronts = nondominated_fronts(obj)
    assert fronts.dtype == np.int64 and fronts.shape == (80,)
    assert set(np.unique(fronts)) == set(range(fronts.max() + 1))
    front0 = obj[fronts == 0]
    for a in obj:
        for b in front0:
            assert not dominates(a, b)
    for f in range(1, fronts.max() + 1):
        prev = obj[fronts == f - 1]
        for b in obj[fronts == f]:
            assert any(dominates(a, b) for a in prev)
        # nobody within a front dominates another member of it
        members = obj[fronts == f]
        for a in members:
            for b in members:
                assert not dominates(a, b)


def test_fronts_hand_example() -> None:
    obj = np.array(
        [
            [3.0, 1.0],  # A: front 0
            [2.0, 2.0],  # B: front 0
            [1.0, 3.0],  # C: front 0
            [2.0, 1.0],  # D: dominated by A, B -> front 1
            [1.0, 2.0],  # F: dominated by B, C -> front 1
            [1.0, 1.0],  # E: dominated by D, F -> front 2
            [3.0, 1.0],  # duplicate of A: identical rows do not dominate -> front 0
            [0.0, 0.0],  # front 3
        ]
    )
    np.testing.assert_array_equal(nondominated_fronts(obj), [0, 0, 0, 1, 1, 2, 0, 3])


def test_fronts_infinities_are_ordered() -> None:
    obj = np.array([[-np.inf, 0.0], [0.0, 0.0], [np.inf, np.inf], [-np.inf, -np.inf]])
    np.testing.assert_array_equal(nondominated_fronts(obj), [2, 1, 0, 3])


def test_fronts_reject_nan_and_handle_empty() -> None:
    with pytest.raises(ValueError):
        nondominated_fronts(np.array([[0.0, np.nan]]))
    assert nondominated_fronts(np.zeros((0, 3))).shape == (0,)


@pytest.mark.parametrize("seed", SEEDS)
def test_two_objective_sweep_equals_the_dominance_matrix(seed: int) -> None:
    """Two objectives take the O(n log n) sweep; the general (n, n) method agrees on ties,
    duplicates, -0.0 and infinities."""
    from src.core.ranking import _fronts_matrix

    rng = np.random.default_rng(seed)
    values = np.array([-np.inf, np.inf, 0.0, -0.0, 1.0, 2.0, -1.0, 0.5])
    for trial in range(200):
        n = int(rng.integers(1, 50))
        obj = (
            rng.choice(values, (n, 2))
            if trial % 3 == 0
            else rng.integers(0, 5, (n, 2)).astype(np.float64)
            if trial % 3 == 1
            else rng.normal(size=(n, 2))
        )
        obj = np.concatenate([obj, obj[rng.integers(0, n, n // 3)]])  # exact duplicates
        np.testing.assert_array_equal(nondominated_fronts(obj), _fronts_matrix(obj))


def test_fronts_fast_enough() -> None:
    obj = np.random.default_rng(0).normal(size=(960, 3))
    nondominated_fronts(obj)
    t0 = time.perf_counter()
    nondominated_fronts(obj)
    assert time.perf_counter() - t0 < 0.5  # a few ms in practice; generous for slow CI


# ----------------------------------------------------------------------------- crowding


def test_crowding_hand_example() -> None:
    obj = np.array(
        [
            [1.0, 6.0],  # front 0, inner
            [0.0, 10.0],  # front 0, edge
            [3.0, 2.0],  # front 0, inner
            [4.0, 0.0],  # front 0, edge
            [0.8, 3.0],  # front 1, inner
            [0.5, 5.0],  # front 1, edge
            [2.0, 1.0],  # front 1, edge
        ]
    )
    fronts = nondominated_fronts(obj)
    np.testing.assert_array_equal(fronts, [0, 0, 0, 0, 1, 1, 1])
    cd = crowding_distance(obj, fronts)
    # (1, 6): (3-0)/4 + (10-2)/10 ; (3, 2): (4-1)/4 + (6-0)/10 ; (0.8, 3): 1.5/1.5 + 4/4
    expected = [0.75 + 0.8, np.inf, 0.75 + 0.6, np.inf, 2.0, np.inf, np.inf]
    np.testing.assert_allclose(cd, expected)


def test_crowding_constant_objective_contributes_zero() -> None:
    obj = np.array([[1.0, 5.0, 3.0], [2.0, 5.0, 2.0], [3.0, 5.0, 1.0]])
    cd = crowding_distance(obj, np.zeros(3, dtype=np.int64))
    np.testing.assert_allclose(cd, [np.inf, 2.0, np.inf])


def test_crowding_small_fronts_are_inf() -> None:
    obj = np.array([[0.0, 1.0], [1.0, 0.0], [5.0, 5.0]])
    cd = crowding_distance(obj, np.array([1, 1, 0]))
    assert np.all(np.isinf(cd))


@pytest.mark.parametrize("seed", SEEDS)
def test_crowding_edges_inf_inner_finite(seed: int) -> None:
    rng = np.random.default_rng(seed)
    obj = rng.normal(size=(120, 2))
    fronts = nondominated_fronts(obj)
    cd = crowding_distance(obj, fronts)
    assert cd.dtype == np.float64 and np.all(cd >= 0)
    for f in np.unique(fronts):
        idx = np.flatnonzero(fronts == f)
        if idx.size <= 2:
            assert np.all(np.isinf(cd[idx]))
            continue
        # in 2-D a front is sorted oppositely in both objectives: edges = extremes of obj 0
        order = idx[np.argsort(obj[idx, 0])]
        assert np.isinf(cd[order[0]]) and np.isinf(cd[order[-1]])
        assert np.all(np.isfinite(cd[order[1:-1]]))


def test_crowding_infinite_values_never_nan() -> None:
    obj = np.array(
        [[-np.inf, 4.0], [-np.inf, 3.0], [0.0, 2.0], [1.0, 1.0], [np.inf, 0.0], [2.0, 0.5]]
    )
    cd = crowding_distance(obj, np.zeros(6, dtype=np.int64))
    assert not np.any(np.isnan(cd))


def test_crowding_duplicates_share_value() -> None:
    obj = np.array([[0.0, 3.0], [1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [3.0, 0.0], [0.0, 3.0]])
    fronts = nondominated_fronts(obj)
    cd = crowding_distance(obj, fronts)
    assert cd[1] == cd[2] and cd[0] == cd[5] == np.inf


# ----------------------------------------------------------------------------- order independence


@pytest.mark.parametrize("seed", SEEDS)
def test_fronts_and_crowding_permutation_invariant_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    obj = np.unique(rng.integers(0, 6, size=(150, 3)).astype(np.float64), axis=0)
    perm = rng.permutation(len(obj))
    fronts = nondominated_fronts(obj)
    cd = crowding_distance(obj, fronts)
    fronts_p = nondominated_fronts(obj[perm])
    cd_p = crowding_distance(obj[perm], fronts_p)
    np.testing.assert_array_equal(fronts_p, fronts[perm])
    np.testing.assert_array_equal(cd_p, cd[perm])
    ranks = rank_order(fronts, cd, obj)
    ranks_p = rank_order(fronts_p, cd_p, obj[perm])
    np.testing.assert_array_equal(ranks_p, ranks[perm])


@pytest.mark.parametrize("seed", SEEDS)
def test_crowding_permutation_invariant_with_duplicates(seed: int) -> None:
    rng = np.random.default_rng(seed)
    obj = rng.integers(0, 4, size=(100, 2)).astype(np.float64)
    perm = rng.permutation(len(obj))
    fronts = nondominated_fronts(obj)
    cd = crowding_distance(obj, fronts)
    np.testing.assert_array_equal(crowding_distance(obj[perm], fronts[perm]), cd[perm])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("method", RANKING_METHODS)
@pytest.mark.parametrize("prob_moo", [0.0, 0.8, 1.0])
def test_rank_population_permutation_invariant(seed: int, method: str, prob_moo: float) -> None:
    obj = random_population(seed)
    perm = np.random.default_rng(seed + 100).permutation(len(obj))
    ranks = rank_population(obj, method, np.random.default_rng(seed), prob_moo)
    ranks_p = rank_population(obj[perm], method, np.random.default_rng(seed), prob_moo)
    assert ranks.dtype == np.int64
    np.testing.assert_array_equal(np.sort(ranks), np.arange(len(obj)))
    np.testing.assert_array_equal(ranks_p, ranks[perm])


# ----------------------------------------------------------------------------- rank_order


def test_rank_order_keys_and_stability() -> None:
    fronts = np.array([1, 0, 0, 0, 0, 0])
    crowd = np.array([np.inf, 1.0, np.inf, 1.0, 1.0, 1.0])
    obj = np.array([[9.0, 9.0], [1.0, 0.0], [0.0, 0.0], [1.0, 2.0], [1.0, 0.0], [2.0, -5.0]])
    # front 0: idx2 (inf), then crowd 1.0: idx5 (2,-5), idx3 (1,2), idx1 (1,0), idx4 (1,0)
    np.testing.assert_array_equal(rank_order(fronts, crowd, obj), [5, 3, 0, 2, 4, 1])


# ----------------------------------------------------------------------------- rank_population


@pytest.mark.parametrize("method", RANKING_METHODS)
@pytest.mark.parametrize("seed", SEEDS)
def test_rank_population_draws_exactly_one_number(method: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rank_population(random_population(seed), method, rng)
    ref = np.random.default_rng(seed)
    ref.random()
    assert rng.bit_generator.state == ref.bit_generator.state


def manual_rank(obj: np.ndarray, moo: np.ndarray) -> np.ndarray:
    fronts = nondominated_fronts(moo)
    cd = crowding_distance(moo, fronts)
    tie = np.column_stack([obj[:, 0], obj[:, 1], -obj[:, 2]])
    return rank_order(fronts, cd, tie)


@pytest.mark.parametrize("seed", SEEDS)
def test_paper_extremes_of_prob_moo(seed: int) -> None:
    obj = random_population(seed)
    moo_conn = np.column_stack([obj[:, 0], 1.0 / np.maximum(obj[:, 2], 1.0)])
    moo_reward = obj[:, :2]
    r1 = rank_population(obj, "paper", np.random.default_rng(seed), prob_moo=1.0)
    np.testing.assert_array_equal(r1, manual_rank(obj, moo_conn))
    r0 = rank_population(obj, "paper", np.random.default_rng(seed), prob_moo=0.0)
    np.testing.assert_array_equal(r0, manual_rank(obj, moo_reward))
    assert not np.array_equal(r0, r1)


@pytest.mark.parametrize("seed", SEEDS)
def test_paper_branch_follows_the_draw(seed: int) -> None:
    obj = random_population(seed)
    u = np.random.default_rng(seed).random()
    ranks = rank_population(obj, "paper", np.random.default_rng(seed), prob_moo=0.5)
    forced = 1.0 if u < 0.5 else 0.0
    expected = rank_population(obj, "paper", np.random.default_rng(seed), prob_moo=forced)
    np.testing.assert_array_equal(ranks, expected)


def test_nsga3obj_matches_manual() -> None:
    obj = random_population(5)
    moo = np.column_stack([obj[:, 0], obj[:, 1], -obj[:, 2]])
    ranks = rank_population(obj, "nsga3obj", np.random.default_rng(0))
    np.testing.assert_array_equal(ranks, manual_rank(obj, moo))


@pytest.mark.parametrize("seed", SEEDS)
def test_nsga3_ranks_on_the_complexity_rule(seed: int) -> None:
    """``"nsga3"``: three-objective fronts with the connections objective of ``complexity``;
    the same fronts for every rule, each rule's own crowding; with the count (and no
    network below one connection) it is ``"nsga3obj"``."""
    from src.core.ranking import COMPLEXITY_RULES

    obj = random_population(seed)
    obj[:, 2] = np.maximum(obj[:, 2], 1.0)
    rankings = {}
    for rule, transform in COMPLEXITY_RULES.items():
        moo = np.column_stack([obj[:, 0], obj[:, 1], transform(obj[:, 2])])
        ranks = rank_population(obj, "nsga3", np.random.default_rng(seed), 0.8, "range", rule)
        np.testing.assert_array_equal(ranks, manual_rank(obj, moo))
        rankings[rule] = ranks
    nsga3obj = rank_population(obj, "nsga3obj", np.random.default_rng(seed))
    np.testing.assert_array_equal(rankings["count"], nsga3obj)
    assert not np.array_equal(rankings["log"], rankings["count"])  # the crowding differs
    rng = np.random.default_rng(seed)
    rank_population(obj, "nsga3", rng, 0.8, "range", "log")
    assert rng.random() == pytest.approx(np.random.default_rng(seed).random(2)[1])


@pytest.mark.parametrize("seed", SEEDS)
def test_complexity_rules_keep_the_fronts_and_move_the_crowding(seed: int) -> None:
    """Each ``complexity`` rule ranks on (mean, its transform of the count): the same fronts
    as the reference's 1 / connections, the crowding of its own spacing (0 counts as 1)."""
    from src.core.ranking import COMPLEXITY_RULES

    obj = random_population(seed)
    obj[:5, 2] = [0, 1, 2, 40, 41]
    conns = np.maximum(obj[:, 2], 1.0)
    transforms = {
        "inverse": 1.0 / conns,
        "count": -conns,
        "log": -np.log(conns),
        "inverse_sqrt": 1.0 / np.sqrt(conns),
        "sqrt": -np.sqrt(conns),
    }
    assert set(transforms) == set(COMPLEXITY_RULES)
    fronts = nondominated_fronts(np.column_stack([obj[:, 0], transforms["inverse"]]))
    rankings = []
    for rule, value in transforms.items():
        moo = np.column_stack([obj[:, 0], value])
        np.testing.assert_array_equal(nondominated_fronts(moo), fronts)
        ranks = rank_population(obj, "paper", np.random.default_rng(seed), 1.0, "range", rule)
        np.testing.assert_array_equal(ranks, manual_rank(obj, moo))
        rankings.append(ranks)
    assert not np.array_equal(rankings[0], rankings[1])  # the crowding differs
    default = rank_population(obj, "paper", np.random.default_rng(seed), 1.0)
    np.testing.assert_array_equal(default, rankings[0])  # 'inverse' is the default
    with pytest.raises(ValueError, match="unknown complexity 'square'"):
        rank_population(obj, "paper", np.random.default_rng(seed), 1.0, "range", "square")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("method", RANKING_METHODS)
@pytest.mark.parametrize("prob_moo", [0.0, 1.0])
@pytest.mark.parametrize("conns", [(5.0, 3.0), (1.0, 0.0), (9.0, 1.0)])
def test_fewer_connections_rank_better(
    seed: int, method: str, prob_moo: float, conns: tuple[float, float]
) -> None:
    obj = random_population(seed, n=30)
    pair = np.array([[0.1, 0.7, conns[0]], [0.1, 0.7, conns[1]]])
    full = np.vstack([obj, pair])
    ranks = rank_population(full, method, np.random.default_rng(seed), prob_moo)
    assert ranks[-1] < ranks[-2]
    # also in isolation
    ranks2 = rank_population(pair, method, np.random.default_rng(seed), prob_moo)
    np.testing.assert_array_equal(ranks2, [1, 0])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("method", RANKING_METHODS)
def test_copies_last_ranks_first_copies_as_rank_population_then_the_copies(seed, method):
    rng = np.random.default_rng(seed)
    obj = random_population(seed, n=30)
    first = np.arange(30)
    assert np.array_equal(  # no copies: rank_population itself
        rank_copies_last(obj, first, method, np.random.default_rng(seed), 1.0),
        rank_population(obj, method, np.random.default_rng(seed), 1.0),
    )
    # genomes 30.. copy genomes 0..9 (equal objectives), some twice, in shuffled places
    src = rng.integers(0, 10, size=14)
    full = np.vstack([obj, obj[src]])
    first = np.concatenate([np.arange(30), src])
    perm = rng.permutation(len(full))
    full, first = full[perm], np.argsort(perm)[first[perm]]
    # the first copy of each network is the lowest index holding it
    lowest = {}
    for i, f in enumerate(first.tolist()):
        lowest.setdefault(f, i)
    first = np.array([lowest[f] for f in first.tolist()])
    for prob_moo in (0.0, 1.0):
        ranks = rank_copies_last(full, first, method, np.random.default_rng(seed), prob_moo)
        assert sorted(ranks.tolist()) == list(range(len(full)))
        is_first = first == np.arange(len(full))
        want = rank_population(full[is_first], method, np.random.default_rng(seed), prob_moo)
        assert np.array_equal(ranks[is_first], want)
        copies = np.flatnonzero(~is_first)
        assert ranks[copies].min() == is_first.sum()  # after every first copy
        by_rank = copies[np.argsort(ranks[copies])]
        keys = list(zip(ranks[first[by_rank]].tolist(), by_rank.tolist()))
        assert keys == sorted(keys)  # in the order of their first copy's rank, then index


def test_copies_last_draws_one_number_and_rejects_bad_indices():
    obj = random_population(1, n=6)
    rng = np.random.default_rng(3)
    rank_copies_last(obj, np.array([0, 1, 1, 3, 0, 5]), "paper", rng)
    after = np.random.default_rng(3)
    after.random()
    assert rng.random() == after.random()
    bad_ones = ([0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 6], [0, 0, 1, 3, 4, 5], [0, -1, 2, 3, 4, 5])
    bad_ones += ([1, 1, 2, 3, 4, 5], [0.0, 1.0, 1.0, 3.0, 0.0, 5.0])
    for bad in bad_ones:
        with pytest.raises(ValueError, match="first_copy"):
            rank_copies_last(obj, np.array(bad), "paper", np.random.default_rng(0))


def test_unknown_method_raises() -> None:
    with pytest.raises(ValueError, match="paper") as info:
        rank_population(random_population(0), "nsga2", np.random.default_rng(0))
    assert all(repr(m) in str(info.value) for m in RANKING_METHODS)


@pytest.mark.parametrize("method", RANKING_METHODS)
@pytest.mark.parametrize("crowding", CROWDING_RULES)
def test_config_accepts_every_registered_scheme_and_rule(method: str, crowding: str) -> None:
    WannConfig(task="swingup", ranking=method, crowding=crowding)  # validated when made
    ranks = rank_population(random_population(1), method, np.random.default_rng(1), 0.8, crowding)
    np.testing.assert_array_equal(np.sort(ranks), np.arange(len(ranks)))


def test_a_new_scheme_and_rule_are_one_entry_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry added to each registry is accepted by the config and dispatched to; without
    it the config refuses the name."""
    calls = []

    def by_mean(mean, best, conns, on_connections, crowding, complexity):
        calls.append((on_connections, crowding, complexity))
        return np.argsort(np.argsort(-mean, kind="stable")).astype(np.int64)

    def half_range(gap, lo, hi):
        return 0.5 * CROWDING_RULES["range"](gap, lo, hi)

    with pytest.raises(ConfigError, match="ranking must be one of"):
        WannConfig(task="swingup", ranking="by_mean")  # validated when made
    with pytest.raises(ConfigError, match="crowding must be one of"):
        WannConfig(task="swingup", crowding="half")
    monkeypatch.setitem(RANKING_METHODS, "by_mean", by_mean)
    monkeypatch.setitem(CROWDING_RULES, "half", half_range)
    validate(WannConfig(task="swingup", ranking="by_mean", crowding="half"))
    obj = random_population(2)
    ranks = rank_population(obj, "by_mean", np.random.default_rng(0), prob_moo=1.0, crowding="half")
    assert calls == [(True, "half", "inverse")]
    assert ranks[np.argmax(obj[:, 0])] == 0
    fronts = nondominated_fronts(obj[:, :2])
    np.testing.assert_array_equal(
        crowding_distance(obj[:, :2], fronts, "half"), 0.5 * crowding_distance(obj[:, :2], fronts)
    )


def test_rank_population_rejects_bad_input() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        rank_population(np.zeros((4, 2)), "paper", rng)
    with pytest.raises(ValueError):
        rank_population(np.array([[0.0, 0.0, -1.0]]), "paper", rng)
    with pytest.raises(ValueError):
        rank_population(np.array([[np.nan, 0.0, 1.0]]), "paper", rng)


# ----------------------------------------------------------------------------- tournament


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("size", [1, 2, 4, 8])
def test_tournament_matches_brute_force(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    n_pop = 50
    ranks = rng.permutation(n_pop).astype(np.int64)
    candidates = np.sort(rng.choice(n_pop, size=20, replace=False))
    winners = tournament(ranks, candidates, 64, size, np.random.default_rng(seed + 1))
    assert winners.dtype == np.int64 and winners.shape == (64,)
    assert np.all(np.isin(winners, candidates))

    ref_rng = np.random.default_rng(seed + 1)
    draws = ref_rng.integers(0, len(candidates), size=(64, size))
    for t in range(64):
        entries = [int(candidates[j]) for j in draws[t]]
        assert winners[t] == min(entries, key=lambda i: ranks[i])


def test_tournament_with_tied_ranks_takes_the_first_drawn_compiled_or_not() -> None:
    """Integer ranks go to the compiled pass (src.core.rank_jit.tournament_winners), float
    ranks to numpy: the same winners, the first drawn among equal ranks."""
    rng = np.random.default_rng(4)
    for t in range(200):
        n_pop = int(rng.integers(1, 120))
        ranks = rng.integers(0, 6, n_pop)  # many ties
        candidates = rng.choice(n_pop, int(rng.integers(1, n_pop + 1)), replace=False)
        n, size = int(rng.integers(0, 40)), int(rng.integers(1, 12))
        got = tournament(ranks, candidates, n, size, np.random.default_rng(t))
        as_float = tournament(ranks * 1.0, candidates, n, size, np.random.default_rng(t))
        draws = np.random.default_rng(t).integers(0, len(candidates), size=(n, size))
        expected = [
            next(
                int(candidates[j])
                for j in row
                if ranks[candidates[j]] == ranks[candidates[row]].min()
            )
            for row in draws
        ]
        assert got.tolist() == expected == as_float.tolist()


def test_tournament_size_one_is_uniform_draw_and_errors() -> None:
    ranks = np.arange(10)
    cand = np.array([7, 3, 9])
    w = tournament(ranks, cand, 1000, 1, np.random.default_rng(0))
    assert set(w.tolist()) == {3, 7, 9}
    with pytest.raises(ValueError):
        tournament(ranks, np.array([], dtype=np.int64), 3, 2, np.random.default_rng(0))
    with pytest.raises(ValueError):
        tournament(ranks, cand, 3, 0, np.random.default_rng(0))


def test_reference_crowding_multiplies_gaps_by_the_reference_factor():
    """One front of five points on a line: inner members get gap * |1/max - min| per
    objective (the reference code's normalisation), boundaries inf."""
    from src.core.ranking import crowding_distance

    x = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    obj = np.column_stack([x, -x])  # a single front
    fronts = np.zeros(5, dtype=np.int64)
    ref = crowding_distance(obj, fronts, "reference")
    rng_ = crowding_distance(obj, fronts, "range")
    assert np.isinf(ref[[0, 4]]).all() and np.isinf(rng_[[0, 4]]).all()
    gaps = np.array([3.0, 5.0, 7.0])
    f1 = abs(1 / 11.0 - 1.0)  # objective x: max 11, min 1
    f2 = abs(1 / -1.0 - (-11.0))  # objective -x: max -1, min -11
    np.testing.assert_allclose(ref[1:4], gaps * f1 + gaps * f2)
    np.testing.assert_allclose(rng_[1:4], 2 * gaps / 10.0)
    with pytest.raises(ValueError, match="crowding rule"):
        crowding_distance(obj, fronts, "other")


# ----------------------------------------------------------------------------- compiled


def awkward_population(rng: np.random.Generator, kind: int, n: int) -> np.ndarray:
    """(n, 3) (mean, max, connections): continuous, few distinct values (ties and copies),
    infinities and signed zeros, or every row the same."""
    if kind == 0:
        mean, best = rng.normal(size=n), rng.normal(size=n)
    else:
        mean = rng.integers(0, 5, n).astype(np.float64)
        best = rng.integers(0, 5, n).astype(np.float64)
    if kind == 2:
        mean[rng.random(n) < 0.15] = np.inf
        mean[rng.random(n) < 0.15] = -np.inf
        best[rng.random(n) < 0.15] = -np.inf
        mean[rng.random(n) < 0.15] = -0.0
    conns = rng.integers(0, 6 if kind else 60, n).astype(np.float64)
    if kind == 3:
        mean[:], best[:], conns[:] = 1.5, 2.0, 7.0
    return np.column_stack([mean, best, conns])


@pytest.fixture(scope="module", params=["jit", "ahead of time"])
def rank_two(request):
    """The compiled ranking, from numba's JIT and from the built module."""
    from src.tasks import kernels

    if request.param == "jit":
        return kernels.jit().rank_two
    kernels.build()
    built = kernels.Kernels(kernels.import_built())
    assert built.ahead_of_time
    return built.rank_two


def test_the_compiled_ranking_gives_the_numpy_stages_ranks(rank_two) -> None:
    """Fronts, crowding ('range') and the order by numpy (`_nsga_rank_numpy`) against
    `rank_two`, on both of the paper's pairs and every complexity rule: the same ranks, on
    1-300 rows and MNIST's 960 (sorted by the radix sort from 64), with ties, copies,
    infinities, signed zeros and all rows equal."""
    from src.core.ranking import COMPLEXITY_RULES, _nsga_rank_numpy

    rng = np.random.default_rng(5)
    compared = 0
    for trial in range(160):
        n = int(rng.integers(1, 300)) if trial % 7 else 960
        obj = awkward_population(rng, trial % 4, n)
        mean, best, conns = obj.T
        tiebreak = np.column_stack([mean, best, -conns])
        pairs = [np.column_stack([mean, best])]
        pairs += [np.column_stack([mean, rule(conns)]) for rule in COMPLEXITY_RULES.values()]
        for moo in pairs:
            with np.errstate(invalid="ignore", divide="ignore"):
                expected = _nsga_rank_numpy(moo, tiebreak, "range")
            np.testing.assert_array_equal(rank_two(moo, tiebreak), expected)
            compared += 1
    assert compared == 160 * (1 + len(COMPLEXITY_RULES))


def test_rank_population_takes_the_compiled_ranking_for_the_paper_with_range(monkeypatch):
    """The paper's scheme with the 'range' rule never runs the numpy stages; the reference's
    crowding rule and three objectives still do (the compiled ranking has neither)."""
    from src.core import ranking

    calls = []
    numpy_stages = ranking._nsga_rank_numpy
    monkeypatch.setattr(
        ranking, "_nsga_rank_numpy", lambda *a: calls.append(a[2]) or numpy_stages(*a)
    )
    obj = random_population(3, 200)
    for prob_moo in (0.0, 1.0):
        rank_population(obj, "paper", np.random.default_rng(0), prob_moo, "range", "log")
    assert calls == []
    rank_population(obj, "paper", np.random.default_rng(0), 1.0, "reference")
    rank_population(obj, "nsga3obj", np.random.default_rng(0))
    assert calls == ["reference", "range"]
