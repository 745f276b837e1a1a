"""The compiled core of :func:`src.core.network.compile_genome` (numba).

Kept out of :mod:`src.core.network` so that importing it (configs, genomes, the report) does
not import numba; ``compile_genome`` imports this module on its first call. One call does
what took about thirty numpy calls and a Python heap loop: 10-20 us instead of ~150 us for
a grown MNIST genome, paid once per genome per generation. The plans are the same, array for
array (tested against the previous implementations, kept in :mod:`src.bench.legacy`).
"""

from __future__ import annotations

import numba
import numpy as np

from .genome import INPUT, OUTPUT


@numba.njit(cache=True)
def _push(heap, size, v):
    """Push ``v`` onto the min-heap ``heap[:size]``; returns the new size."""
    i = size
    heap[i] = v
    while i > 0:
        parent = (i - 1) // 2
        if heap[parent] <= heap[i]:
            break
        heap[parent], heap[i] = heap[i], heap[parent]
        i = parent
    return size + 1


@numba.njit(cache=True)
def _pop(heap, size):
    """Pop the smallest of the min-heap ``heap[:size]``; returns it and the new size."""
    top = heap[0]
    size -= 1
    heap[0] = heap[size]
    i = 0
    while True:
        low, left, right = i, 2 * i + 1, 2 * i + 2
        if left < size and heap[left] < heap[low]:
            low = left
        if right < size and heap[right] < heap[low]:
            low = right
        if low == i:
            break
        heap[low], heap[i] = heap[i], heap[low]
        i = low
    return top, size


@numba.njit(cache=True)
def group_by(n_groups, labels, values):
    """``values`` grouped by their ``labels`` (0 .. n_groups - 1), each group in the order
    they come (a stable counting sort): ``(start, grouped)``, group ``g`` being
    ``grouped[start[g]:start[g + 1]]``. The compressed rows of a graph's edges by source
    (labels: sources, values: destinations), and the like."""
    start = np.zeros(n_groups + 1, np.int64)
    for k in range(labels.size):
        start[labels[k] + 1] += 1
    for g in range(n_groups):
        start[g + 1] += start[g]
    grouped = np.empty(labels.size, np.int64)
    at = start[:-1].copy()
    for k in range(labels.size):
        grouped[at[labels[k]]] = values[k]
        at[labels[k]] += 1
    return start, grouped


@numba.njit(cache=True)
def reach(start, adjacent, seeds):
    """Which of the graph's nodes (``len(start) - 1``; the rows of :func:`group_by`:
    ``adjacent[start[v]:start[v + 1]]`` follow ``v``) the nodes ``seeds`` lead to, seeds
    included: a depth-first walk."""
    n = start.size - 1
    seen = np.zeros(n, np.bool_)
    stack = np.empty(n, np.int64)
    depth = 0
    for v in seeds:
        if not seen[v]:
            seen[v] = True
            stack[depth] = v
            depth += 1
    while depth > 0:
        depth -= 1
        v = stack[depth]
        for q in range(start[v], start[v + 1]):
            u = adjacent[q]
            if not seen[u]:
                seen[u] = True
                stack[depth] = u
                depth += 1
    return seen


@numba.njit(cache=True)
def plan_arrays(n, first, kinds, src, dst, en):
    """The arrays of a :class:`~src.core.network.Plan` from a genome's enabled edges.

    Args:
        n: number of nodes.
        first: positions below it (the bias and inputs) are never a destination and come
            first in topological order (0: order every node).
        kinds: (n,) node kinds.
        src, dst: (n_enabled,) int64 positions of the enabled edges' ends, in connection
            order.
        en: (n_enabled,) int64 connection index of each.

    Returns:
        ``(ok, compute, indptr, indices, edge_conn)``; ``ok`` False: the edges form a cycle.
        ``compute``: the positions at ``first`` and above, minus bias and inputs, in the
        order of Kahn's algorithm with ties broken by the smallest position (as
        :func:`src.core.genome.topological_order`), that have a path to an output; the
        in-edges of ``compute[i]`` are ``indptr[i]:indptr[i + 1]``, in connection order.
    """
    m = n - first
    n_e = src.size
    # successors of each ordered node (edge order), and in-degrees from ordered nodes only
    indeg = np.zeros(m, np.int64)
    starts = np.zeros(m + 1, np.int64)
    for e in range(n_e):
        if src[e] >= first:
            indeg[dst[e] - first] += 1
            starts[src[e] - first + 1] += 1
    for u in range(m):
        starts[u + 1] += starts[u]
    succ = np.empty(starts[m], np.int64)
    at = starts[:-1].copy()
    for e in range(n_e):
        if src[e] >= first:
            u = src[e] - first
            succ[at[u]] = dst[e] - first
            at[u] += 1
    heap = np.empty(m, np.int64)
    size = 0
    for u in range(m):
        if indeg[u] == 0:
            size = _push(heap, size, u)
    topo = np.empty(m, np.int64)
    t = 0
    while size > 0:
        u, size = _pop(heap, size)
        topo[t] = u + first
        t += 1
        for q in range(starts[u], starts[u + 1]):
            v = succ[q]
            indeg[v] -= 1
            if indeg[v] == 0:
                size = _push(heap, size, v)
    empty = np.zeros(0, np.int64)
    if t != m:
        return False, empty, empty, empty, empty
    # nodes with a path to an output: walk edges backwards from the outputs
    pstart, pred = group_by(n, dst, src)
    useful = reach(pstart, pred, np.flatnonzero(kinds == OUTPUT))
    n_comp = 0
    for i in range(m):
        if kinds[topo[i]] > INPUT and useful[topo[i]]:
            n_comp += 1
    compute = np.empty(n_comp, np.int64)
    row_of = np.full(n, -1, np.int64)
    c = 0
    for i in range(m):
        v = topo[i]
        if kinds[v] > INPUT and useful[v]:
            compute[c] = v
            row_of[v] = c
            c += 1
    # in-edges grouped by destination in computing order, in connection order within one
    indptr = np.zeros(n_comp + 1, np.int64)
    for e in range(n_e):
        r = row_of[dst[e]]
        if r >= 0:
            indptr[r + 1] += 1
    for r in range(n_comp):
        indptr[r + 1] += indptr[r]
    indices = np.empty(indptr[n_comp], np.int64)
    edge_conn = np.empty(indptr[n_comp], np.int64)
    at = indptr[:-1].copy()
    for e in range(n_e):
        r = row_of[dst[e]]
        if r >= 0:
            indices[at[r]] = src[e]
            edge_conn[at[r]] = en[e]
            at[r] += 1
    return True, compute, indptr, indices, edge_conn
