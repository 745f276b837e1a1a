"""The previous implementations of the hot spots that were made faster, kept verbatim.

``make bench`` times them beside the current ones in the same process (ratios on a shared,
noisy machine), and the tests check that the current ones give the very same results
(same plans, same floats, same random draws). Not used by the search.
"""

from __future__ import annotations

import heapq

import numpy as np

from ..core import activations
from ..core.genome import HIDDEN, INPUT, OUTPUT, Genome, Innovations
from ..core.network import Plan
from ..core.variation import _with_connection


def topological_order(n_nodes: int, src_pos: np.ndarray, dst_pos: np.ndarray) -> np.ndarray | None:
    """The previous :func:`src.core.genome.topological_order` (numpy slices per node)."""
    indeg = np.bincount(dst_pos, minlength=n_nodes)
    order_src = np.argsort(src_pos, kind="stable")
    starts = np.searchsorted(src_pos[order_src], np.arange(n_nodes + 1))
    succ = dst_pos[order_src]
    ready = np.flatnonzero(indeg == 0).tolist()
    heapq.heapify(ready)
    order = []
    indeg = indeg.copy()
    while ready:
        u = heapq.heappop(ready)
        order.append(u)
        for v in succ[starts[u] : starts[u + 1]].tolist():
            indeg[v] -= 1
            if indeg[v] == 0:
                heapq.heappush(ready, v)
    if len(order) != n_nodes:
        return None
    return np.asarray(order, dtype=np.int64)


def compile_genome(genome: Genome) -> Plan:
    """The previous :func:`src.core.network.compile_genome` (walks every node)."""
    en = np.flatnonzero(genome.conn_enabled)
    src = genome.positions(genome.conn_src[en])
    dst = genome.positions(genome.conn_dst[en])
    n = genome.n_nodes
    topo = topological_order(n, src, dst)
    if topo is None:
        raise ValueError("genome has a cycle among its enabled connections")
    kinds = genome.node_kind
    useful = kinds == OUTPUT
    for v in topo[::-1]:
        if useful[v]:
            continue
        out_edges = dst[src == v]
        if out_edges.size and useful[out_edges].any():
            useful[v] = True
    compute = [int(v) for v in topo if useful[v] and kinds[v] in (HIDDEN, OUTPUT)]
    edge_order = np.lexsort((en, dst))
    dst_sorted = dst[edge_order]
    indptr = [0]
    indices: list[np.ndarray] = []
    edge_conn: list[np.ndarray] = []
    for v in compute:
        lo, hi = np.searchsorted(dst_sorted, [v, v + 1])
        sel = edge_order[lo:hi]
        indices.append(src[sel])
        edge_conn.append(en[sel])
        indptr.append(indptr[-1] + len(sel))
    return Plan(
        n_nodes=n,
        n_inputs=genome.n_inputs,
        n_outputs=genome.n_outputs,
        order=np.asarray(compute, dtype=np.int64),
        act=genome.node_act[compute].astype(np.int64) if compute else np.zeros(0, np.int64),
        indptr=np.asarray(indptr, dtype=np.int64),
        indices=np.concatenate(indices).astype(np.int64) if indices else np.zeros(0, np.int64),
        edge_conn=np.concatenate(edge_conn).astype(np.int64)
        if edge_conn
        else np.zeros(0, np.int64),
        output_slots=np.flatnonzero(kinds == OUTPUT).astype(np.int64),
    )


def forward_shared(
    plan: Plan, x: np.ndarray, weights: np.ndarray, edge_coef: np.ndarray | None = None
) -> np.ndarray:
    """The previous :func:`src.tasks.mnist.forward_shared` (numpy calls per node)."""
    xt = np.ascontiguousarray(np.asarray(x, dtype=np.float64).T)
    w = np.asarray(weights, dtype=np.float64)[:, None]
    n_in, n_comp = plan.n_inputs, len(plan.order)
    coef = None if edge_coef is None else np.asarray(edge_coef, np.float64)
    row_of = np.full(plan.n_nodes, -1, dtype=np.int64)
    row_of[plan.order] = np.arange(n_comp)
    values = np.empty((n_comp, len(w), xt.shape[1]))
    for i in range(n_comp):
        lo, hi = plan.indptr[i], plan.indptr[i + 1]
        src = plan.indices[lo:hi]
        c = np.ones(hi - lo) if coef is None else coef[lo:hi]
        inputs = src > 0
        internal = src > n_in
        inputs &= ~internal
        s = c[src == 0].sum()
        if inputs.any():
            rows = xt[src[inputs] - 1]
            s = s + (rows.sum(axis=0) if coef is None else (c[inputs, None] * rows).sum(axis=0))
        if internal.any():
            rows = values[row_of[src[internal]]]
            s = s + (rows.sum(axis=0) if coef is None else (c[internal, None, None] * rows).sum(0))
        values[i] = activations.apply(int(plan.act[i]), w * s)
    return np.moveaxis(values[row_of[plan.output_slots]], 0, -1)


def _descendants(start: int, succ: list[list[int]]) -> set[int]:
    seen = {start}
    stack = [start]
    while stack:
        for v in succ[stack.pop()]:
            if v not in seen:
                seen.add(v)
                stack.append(v)
    return seen


def add_connection(
    genome: Genome,
    rng: np.random.Generator,
    innovations: Innovations,
    pool,
    connect_outputs: bool = False,
) -> Genome | None:
    """The previous :func:`src.core.variation.add_connection` (Python sets per node)."""
    n = genome.n_nodes
    kinds = genome.node_kind
    src = genome.positions(genome.conn_src)
    dst = genome.positions(genome.conn_dst)
    succ: list[list[int]] = [[] for _ in range(n)]
    pred: list[set[int]] = [set() for _ in range(n)]
    for s, d in zip(src.tolist(), dst.tolist()):
        succ[s].append(d)
        pred[d].add(s)
    can_source = kinds != OUTPUT if not connect_outputs else np.ones(n, dtype=bool)
    dests = [v for v in range(n) if kinds[v] > INPUT]
    for idx in rng.permutation(len(dests)).tolist():
        d = dests[idx]
        banned = _descendants(d, succ) | pred[d]
        sources = [s for s in np.flatnonzero(can_source).tolist() if s not in banned]
        if not sources:
            continue
        s = sources[int(rng.integers(len(sources)))]
        return _with_connection(genome, s, d, innovations)
    return None
