"""Compiled helpers of a genome's bookkeeping and of breeding a child (numba).

Breeding is, after evaluation, the largest cost a rank of the resident loop
(:mod:`src.search.resident`) has: ~0.16 ms a child on a late MNIST genome (~2,700
connection genes, ~600 of them enabled), of which numpy's call overheads were most. Each
function here computes exactly what the numpy code it serves computed, so no child or draw
changes (tested against that code):

* :func:`node_positions`: where :meth:`src.core.genome.Genome.positions` finds node ids.
  Inputs, bias and outputs have the ids 0, 1, ... at the same positions (every genome
  starts so, and nodes are only appended), so most connection ends are found by one
  comparison; the others by the binary search ``searchsorted`` does. ~45 -> ~4 us for the
  ~2,700 sources of a late MNIST genome.
* :func:`seed_words`: the four 64-bit words ``np.random.SeedSequence(entropy)`` gives
  PCG64 (``generate_state(4, np.uint64)``), by the same hash (numpy's
  ``bit_generator.pyx``, after M. O'Neill's ``seed_seq_fe``), for
  :func:`src.evaluation.child_rng`: ~12 us in numpy (most of it its ``np.errstate``
  wrapper), well under 1 us here.

Built ahead of time with the task kernels (:mod:`src.tasks.kernels`), so no rank imports
numba for them.
"""

from __future__ import annotations

import numba
import numpy as np

# numpy's SeedSequence constants (numpy/random/bit_generator.pyx)
_INIT_A = np.uint64(0x43B0D7E5)
_MULT_A = np.uint64(0x931E8875)
_INIT_B = np.uint64(0x8B51F9DD)
_MULT_B = np.uint64(0x58F38DED)
_MIX_MULT_L = np.uint64(0xCA01F9DD)
_MIX_MULT_R = np.uint64(0x4973F715)
_MASK = np.uint64(0xFFFFFFFF)
_XSHIFT = np.uint64(16)
_POOL = 4


@numba.njit(cache=True, inline="always")
def _hashmix(value, hash_const):
    """numpy's ``hashmix`` on 32-bit words held in uint64: (mixed value, next constant)."""
    value = value ^ hash_const
    hash_const = (hash_const * _MULT_A) & _MASK
    value = (value * hash_const) & _MASK
    value = value ^ (value >> _XSHIFT)
    return value, hash_const


@numba.njit(cache=True, inline="always")
def _mix(x, y):
    result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _MASK
    return result ^ (result >> _XSHIFT)


@numba.njit(cache=True)
def seed_words(entropy):
    """``np.random.SeedSequence(e).generate_state(4, np.uint64)`` for the entropy whose
    32-bit words (as SeedSequence cuts its integers: each little end first, 0 as one word)
    are ``entropy`` (int64 values in [0, 2**32)), no spawn key, the default pool of 4."""
    n = entropy.shape[0]
    mixer = np.zeros(_POOL, dtype=np.uint64)
    h = _INIT_A
    for i in range(_POOL):
        v = np.uint64(entropy[i]) if i < n else np.uint64(0)
        mixer[i], h = _hashmix(v, h)
    for i_src in range(_POOL):
        for i_dst in range(_POOL):
            if i_src != i_dst:
                v, h = _hashmix(mixer[i_src], h)
                mixer[i_dst] = _mix(mixer[i_dst], v)
    for i_src in range(_POOL, n):
        for i_dst in range(_POOL):
            v, h = _hashmix(np.uint64(entropy[i_src]), h)
            mixer[i_dst] = _mix(mixer[i_dst], v)
    # generate_state: 8 words of 32 bits cycling over the pool, paired little end first
    half = np.zeros(8, dtype=np.uint64)
    h = _INIT_B
    for i in range(8):
        v = mixer[i % _POOL] ^ h
        h = (h * _MULT_B) & _MASK
        v = (v * h) & _MASK
        half[i] = v ^ (v >> _XSHIFT)
    out = np.empty(4, dtype=np.uint64)
    for k in range(4):
        out[k] = half[2 * k] | (half[2 * k + 1] << np.uint64(32))
    return out


@numba.njit(cache=True)
def node_positions(node_id, ids):
    """(found, positions): the position in ``node_id`` of each of ``ids`` when ``node_id``
    is ascending and holds every one of them (``found``), as ``node_id.searchsorted(ids)``
    gives it; ``found`` is False otherwise (the caller then takes numpy's way, and its
    error)."""
    n, m = node_id.shape[0], ids.shape[0]
    pos = np.empty(m, dtype=np.int64)
    for i in range(1, n):
        if not node_id[i - 1] < node_id[i]:
            return False, pos
    for k in range(m):
        v = ids[k]
        if 0 <= v < n and node_id[v] == v:  # bias, inputs, outputs: id = position
            pos[k] = v
            continue
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) >> 1
            if node_id[mid] < v:
                lo = mid + 1
            else:
                hi = mid
        if lo >= n or node_id[lo] != v:
            return False, pos
        pos[k] = lo
    return True, pos
