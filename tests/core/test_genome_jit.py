"""The compiled helpers of genomes and breeding (src.core.genome_jit) against the numpy code
they replace: the same positions, the same seed words, the same child RNG; JIT and ahead of
time alike."""

from __future__ import annotations

import numpy as np
import pytest

from src.core import activations
from src.core.genome import Genome, Innovations, initial_genome
from src.core.variation import mutate
from src.evaluation import BREED_TAG, child_rng
from src.tasks import kernels

KERNELS = {"jit": kernels.jit, "ahead_of_time": kernels.load}


def _words(values: list[int]) -> np.ndarray:
    """SeedSequence's 32-bit words of non-negative integers, little end first."""
    out = []
    for v in values:
        out.append(v & 0xFFFFFFFF)
        v >>= 32
        while v:
            out.append(v & 0xFFFFFFFF)
            v >>= 32
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("which", sorted(KERNELS))
def test_seed_words_are_seed_sequences_state(which):
    """Entropy of 1 to 7 integers, zeros, 32-bit edges and integers of up to ~100 bits (so
    fewer, as many and more words than the pool of 4): the four words of
    SeedSequence(entropy).generate_state(4, uint64), every bit."""
    seed_words = KERNELS[which]().seed_words
    rng = np.random.default_rng(11)
    cases = [[0], [0, 0, 0, 0], [2**32 - 1], [2**32], [2**64 - 1, 1], [1, 2, 3, 4, 5, 6, 7]]
    for _ in range(400):
        bits = int(rng.integers(1, 100))
        cases.append([int(rng.integers(0, 2**62)) >> (62 - min(bits, 62)) << max(0, bits - 62)
                      for _ in range(int(rng.integers(1, 8)))])  # fmt: skip
    for entropy in cases:
        want = np.random.SeedSequence(entropy).generate_state(4, np.uint64)
        got = seed_words(_words(entropy))
        assert got.dtype == np.uint64 and np.array_equal(got, want), entropy


def test_child_rng_is_the_seed_sequences_generator():
    """child_rng gives default_rng(SeedSequence([seed, generation, BREED_TAG, index])) in the
    same state, draws alike; a negative value is SeedSequence's own error."""
    for seed, generation, index in [(0, 0, 0), (1, 5, 3), (2**40 + 3, 4095, 959), (7, 2**33, 1)]:
        got = child_rng(seed, generation, index)
        want = np.random.default_rng(np.random.SeedSequence([seed, generation, BREED_TAG, index]))
        assert got.bit_generator.state == want.bit_generator.state
        assert np.array_equal(got.integers(0, 1000, 50), want.integers(0, 1000, 50))
        assert got.random() == want.random()
    with pytest.raises(ValueError):
        child_rng(-1, 0, 0)


def _numpy_positions(genome: Genome, ids: np.ndarray) -> np.ndarray:
    """Genome.positions as it was: numpy's searchsorted."""
    nid = genome.node_id
    pos = np.minimum(nid.searchsorted(ids), len(nid) - 1)
    assert np.array_equal(nid[pos], ids)
    return pos


def _grown(seed: int, n_in: int, n_out: int, steps: int) -> Genome:
    rng = np.random.default_rng(seed)
    inn = Innovations.start(n_in, n_out)
    g = initial_genome(n_in, n_out, 0.3, rng)
    for _ in range(steps):
        g, _ = mutate(g, rng, inn, (0.3, 0.4, 0.1, 0.2), activations.CLASSIFICATION_POOL)
    return g


@pytest.mark.parametrize("which", sorted(KERNELS))
def test_node_positions_are_searchsorteds(which):
    """Genomes of 0 to 300 mutations: every connection end at the position searchsorted
    finds; a missing id or ids out of order are refused (found = False), so the caller
    takes numpy's way and its error."""
    node_positions = KERNELS[which]().node_positions
    for seed, steps in [(0, 0), (1, 5), (2, 60), (3, 300)]:
        g = _grown(seed, 6, 3, steps)
        for ids in (g.conn_src, g.conn_dst, g.node_id, g.conn_src[g.conn_enabled]):
            ids = np.ascontiguousarray(ids)
            found, pos = node_positions(g.node_id, ids)
            assert found and np.array_equal(pos, _numpy_positions(g, ids))
            assert np.array_equal(g.positions(ids), pos)
        missing = np.array([0, int(g.node_id.max()) + 1], dtype=np.int64)
        assert not node_positions(g.node_id, missing)[0]
        assert not node_positions(g.node_id, np.array([-1], dtype=np.int64))[0]
        with pytest.raises(ValueError, match="does not exist"):
            g.positions(missing)
    shuffled = np.array([0, 5, 3], dtype=np.int64)
    assert not node_positions(shuffled, np.array([3], dtype=np.int64))[0]


def test_positions_of_a_genome_with_ids_out_of_order():
    """A genome whose node ids are not ascending (built by hand, or loaded) still finds its
    nodes, by numpy's sort."""
    g = _grown(4, 3, 2, 20)
    order = np.random.default_rng(0).permutation(g.n_nodes)
    shuffled = Genome(
        g.node_id[order], g.node_kind[order], g.node_act[order],
        g.conn_src, g.conn_dst, g.conn_enabled, g.conn_innov,
    )  # fmt: skip
    pos = shuffled.positions(g.conn_src)
    assert np.array_equal(shuffled.node_id[pos], g.conn_src)
