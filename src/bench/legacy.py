"""The previous implementations of the hot spots that were made faster, kept verbatim.

``make bench`` times them beside the current ones in the same process (ratios on a shared,
noisy machine), and the tests check that the current ones give the very same results
(same plans, same floats, same random draws). Not used by the search.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from pathlib import Path

import numba
import numpy as np

from ..core import activations, jitcache, rank_jit
from ..core.genome import HIDDEN, INPUT, OUTPUT, Genome, Innovations
from ..core.genome import topological_order as genome_topological_order
from ..core.network import Plan
from ..core.rank_jit import NEAR, _merge_sort
from ..core.variation import ADD_CONNECTION_RULES, NO_OP_RULES, add_connection_layered


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


def compile_genome_numpy(genome: Genome) -> Plan:
    """The previous :func:`src.core.network.compile_genome` (numpy calls and a Python heap).

    O(enabled connections), not O(nodes): the bias and inputs (positions ``0 ..
    n_inputs``, never a destination) come first in :func:`topological_order`'s order, so
    only the outputs and hidden nodes are ordered (with the same tie-break, hence the same
    order); the nodes that reach an output are found by walking edges backwards from the
    outputs, one numpy step per level.
    """
    en = np.flatnonzero(genome.conn_enabled)
    src = genome.positions(genome.conn_src[en])
    dst = genome.positions(genome.conn_dst[en])
    n = genome.n_nodes
    kinds = genome.node_kind
    first = 1 + genome.n_inputs  # positions below are the bias and the inputs
    if np.any(kinds[:first] > INPUT) or np.any(dst < first):
        first = 0  # not a valid genome's layout: order every node
    # Kahn's algorithm with a min-heap over the outputs and hidden nodes only (positions
    # shifted by ``first``); edges from the bias and inputs never hold a node back.
    inner = src >= first
    topo = genome_topological_order(n - first, src[inner] - first, dst[inner] - first)
    if topo is None:
        raise ValueError("genome has a cycle among its enabled connections")
    topo += first
    topo = topo[kinds[topo] > INPUT]
    # Nodes that reach an output: grow the set backwards along edges until it stops growing.
    useful = kinds == OUTPUT
    while True:
        grow = src[useful[dst] & ~useful[src]]
        if grow.size == 0:
            break
        useful[grow] = True
    compute = topo[useful[topo]]
    row_of = np.full(n, -1, dtype=np.int64)
    row_of[compute] = np.arange(len(compute))
    keep = np.flatnonzero(row_of[dst] >= 0)
    # In-edges grouped by destination in computing order, by connection index within one.
    sel = keep[np.lexsort((en[keep], row_of[dst[keep]]))]
    counts = np.bincount(row_of[dst[sel]], minlength=len(compute))
    indptr = np.zeros(len(compute) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return Plan(
        n_nodes=n,
        n_inputs=genome.n_inputs,
        n_outputs=genome.n_outputs,
        order=compute.astype(np.int64),
        act=genome.node_act[compute].astype(np.int64),
        indptr=indptr,
        indices=src[sel].astype(np.int64),
        edge_conn=en[sel].astype(np.int64),
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


def _replace(genome: Genome, **changes: np.ndarray) -> Genome:
    """The previous ``Genome.replace`` (every array converted again)."""
    fields = {name: getattr(genome, name) for name in genome.__dataclass_fields__}
    fields.update(changes)
    return Genome(**fields)


def add_node(
    genome: Genome,
    rng: np.random.Generator,
    innovations: Innovations,
    pool: Sequence[int],
    connect_outputs: bool = False,
) -> Genome | None:
    """Split a random enabled connection; ``None`` if no connection is enabled."""
    enabled = np.flatnonzero(genome.conn_enabled)
    if enabled.size == 0:
        return None
    c = int(enabled[rng.integers(enabled.size)])
    act = int(pool[rng.integers(len(pool))])
    node = innovations.new_node_id()
    inn1, inn2 = innovations.new_innovation(), innovations.new_innovation()
    conn_enabled = genome.conn_enabled.copy()
    conn_enabled[c] = False
    return _replace(
        genome,
        node_id=np.append(genome.node_id, node),
        node_kind=np.append(genome.node_kind, HIDDEN),
        node_act=np.append(genome.node_act, act),
        conn_src=np.append(genome.conn_src, [genome.conn_src[c], node]),
        conn_dst=np.append(genome.conn_dst, [node, genome.conn_dst[c]]),
        conn_enabled=np.append(conn_enabled, [True, True]),
        conn_innov=np.append(genome.conn_innov, [inn1, inn2]),
    )


def _with_connection(genome: Genome, s: int, d: int, innovations: Innovations) -> Genome:
    """``genome`` plus an enabled connection from node position ``s`` to ``d``."""
    return _replace(
        genome,
        conn_src=np.append(genome.conn_src, genome.node_id[s]),
        conn_dst=np.append(genome.conn_dst, genome.node_id[d]),
        conn_enabled=np.append(genome.conn_enabled, True),
        conn_innov=np.append(genome.conn_innov, innovations.new_innovation()),
    )


def enable_connection(
    genome: Genome,
    rng: np.random.Generator,
    innovations: Innovations,
    pool: Sequence[int],
    connect_outputs: bool = False,
) -> Genome | None:
    """Re-enable a random disabled connection; ``None`` if all are enabled."""
    disabled = np.flatnonzero(~genome.conn_enabled)
    if disabled.size == 0:
        return None
    enabled = genome.conn_enabled.copy()
    enabled[disabled[rng.integers(disabled.size)]] = True
    return _replace(genome, conn_enabled=enabled)


def change_activation(
    genome: Genome,
    rng: np.random.Generator,
    innovations: Innovations,
    pool: Sequence[int],
    connect_outputs: bool = False,
) -> Genome | None:
    """Give a random hidden node another activation; ``None`` without hidden nodes."""
    hidden = np.flatnonzero(genome.node_kind == HIDDEN)
    if hidden.size == 0 or len(pool) < 2:
        return None
    v = int(hidden[rng.integers(hidden.size)])
    choices = [a for a in pool if a != genome.node_act[v]]
    acts = genome.node_act.copy()
    acts[v] = choices[int(rng.integers(len(choices)))]
    return _replace(genome, node_act=acts)


def mutate(
    genome: Genome,
    rng: np.random.Generator,
    innovations: Innovations,
    probs: Sequence[float],
    pool: Sequence[int],
    connect_outputs: bool = False,
    add_connection_rule: str = "acyclic",
    no_op: str = "redraw",
) -> tuple[Genome, str]:
    """Apply exactly one structural mutation chosen by roulette.

    Args:
        genome: the parent (unchanged).
        rng: the only source of randomness.
        innovations: run-wide counters, advanced when nodes or connections are created.
        probs: roulette weights in :data:`OPERATORS` order (need not sum to one).
        pool: activation ids for new or changed hidden nodes.
        connect_outputs: allow output -> output connections.
        add_connection_rule: ``"acyclic"`` (:func:`add_connection`) or ``"layered"``
            (:func:`add_connection_layered`, the reference's rule).
        no_op: what happens when the operator drawn cannot act: ``"redraw"`` among the
            operators that can, or ``"clone"`` (the reference: the child is the parent).

    Returns:
        (child, name of the operator applied); ``"clone"`` if no operator acted.
    """
    if add_connection_rule not in ADD_CONNECTION_RULES:
        raise ValueError(f"add_connection_rule must be one of {ADD_CONNECTION_RULES}")
    if no_op not in NO_OP_RULES:
        raise ValueError(f"no_op must be one of {NO_OP_RULES}")
    names = ["add_connection", "add_node", "enable", "change_activation"]
    ops = {
        "add_connection": add_connection,
        "add_node": add_node,
        "enable": enable_connection,
        "change_activation": change_activation,
    }
    if add_connection_rule == "layered":
        ops["add_connection"] = add_connection_layered
    weights = np.asarray(probs, dtype=np.float64).copy()
    while weights.sum() > 0:
        i = int(rng.choice(len(names), p=weights / weights.sum()))
        child = ops[names[i]](genome, rng, innovations, pool, connect_outputs)
        if child is not None:
            return child, names[i]
        if no_op == "clone":
            break
        weights[i] = 0.0
    return genome, "clone"


def rank_population(
    objectives: np.ndarray,
    method: str,
    rng: np.random.Generator,
    prob_moo: float = 0.8,
    crowding: str = "range",
    complexity: str = "inverse",
) -> np.ndarray:
    """The previous :func:`src.core.ranking.rank_population`: every scheme by the numpy
    stages (fronts, crowding, order: ``ranking._nsga_rank_numpy``), before the paper's
    two objectives went to the compiled :func:`src.core.rank_jit.rank_two`. One draw."""
    from ..core import ranking

    obj = np.asarray(objectives, dtype=np.float64)
    mean, best, conns = obj[:, 0], obj[:, 1], obj[:, 2]
    u = rng.random()
    tiebreak = np.column_stack([mean, best, -conns])
    if method != "paper":
        moo = tiebreak
    elif u < prob_moo:
        moo = np.column_stack([mean, ranking.COMPLEXITY_RULES[complexity](conns)])
    else:
        moo = np.column_stack([mean, best])
    return ranking._nsga_rank_numpy(moo, tiebreak, crowding)


def next_population(state) -> list[Genome]:
    """The next population as :func:`src.search.loop.next_population` bred it before (the
    previous operators above); consumes ``state.rng`` and ``state.innovations`` the same."""
    import math

    from ..core.ranking import rank_population, tournament
    from ..search.loop import rankable
    from ..tasks import activation_pool, make_task

    config, pop, rng = state.config, list(state.population), state.rng
    ranks = rank_population(
        rankable(state.objectives), config.ranking, rng, config.prob_moo, config.crowding
    )
    order = np.argsort(ranks, kind="stable")
    n = config.pop_size
    n_parents = max(1, len(pop) - int(math.floor(config.cull_ratio * len(pop))))
    n_elite = min(int(math.floor(config.elite_ratio * n)), n)
    winners = tournament(ranks, order[:n_parents], n - n_elite, config.tourn_size, rng)
    out = [pop[i] for i in order[:n_elite]]
    pool = activation_pool(config, make_task(config))
    for i in winners.tolist():
        child, _ = mutate(
            pop[i],
            rng,
            state.innovations,
            config.mutation_probs,
            pool,
            config.connect_outputs,
            config.add_connection,
            config.mutation_no_op,
        )
        out.append(child)
    return out


def mean_cross_entropy(outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The previous :func:`src.tasks.mnist.mean_cross_entropy` (the full log-softmax)."""
    from ..tasks.mnist import log_softmax

    lsm = log_softmax(outputs)
    picked = lsm[..., np.arange(len(labels)), np.asarray(labels, dtype=np.int64)]
    return -np.ascontiguousarray(picked).mean(axis=-1)


def mnist_rollouts(task, plan: Plan, weights: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The previous ``Mnist256.rollouts`` (the batch transposed per genome)."""
    returns = np.empty(len(weights))
    for seed in np.unique(seeds).tolist():
        sel = np.flatnonzero(seeds == seed)
        x, y = task.batch(int(seed))
        with np.errstate(all="ignore"):
            out = forward_shared(plan, x, weights[sel])
            finite = np.isfinite(out).all(axis=(1, 2))
            ce = mean_cross_entropy(np.where(finite[:, None, None], out, 0.0), y)
        returns[sel] = np.where(finite, -ce, -np.inf)
    return returns


# ----- MNIST: one compiled call and numpy activations per node (before the levels) ---------


@numba.njit(cache=True)
def _preactivation(i, indptr, indices, coef, n_in, row_of, xt, values, w, tmp):
    """The previous ``src.tasks.mnist._preactivation``: ``values[i] = w * s`` for one node."""
    lo, hi = indptr[i], indptr[i + 1]
    use_coef = coef.size > 0
    b = xt.shape[1]
    m = w.size
    bias = 0.0
    n_inputs = 0
    n_internal = 0
    out = values[i]
    for e in range(lo, hi):
        src = indices[e]
        c = coef[e] if use_coef else 1.0
        if src == 0:
            bias += c
        elif src <= n_in:
            row = xt[src - 1]
            if n_inputs == 0:
                for k in range(b):
                    tmp[k] = c * row[k] if use_coef else row[k]
            else:
                for k in range(b):
                    tmp[k] += c * row[k] if use_coef else row[k]
            n_inputs += 1
        else:
            rows = values[row_of[src]]
            for j in range(m):
                if n_internal == 0:
                    for k in range(b):
                        out[j, k] = c * rows[j, k] if use_coef else rows[j, k]
                else:
                    for k in range(b):
                        out[j, k] += c * rows[j, k] if use_coef else rows[j, k]
            n_internal += 1
    if n_inputs > 0:
        for k in range(b):
            tmp[k] = bias + tmp[k]
    for j in range(m):
        for k in range(b):
            base = tmp[k] if n_inputs > 0 else bias
            s = base + out[j, k] if n_internal > 0 else base
            out[j, k] = w[j] * s


def _gaussian(v: np.ndarray, scratch: np.ndarray) -> None:
    np.multiply(-0.5, v, out=scratch)
    np.multiply(scratch, v, out=v)
    np.exp(v, out=v)


def _sigmoid(v: np.ndarray, scratch: np.ndarray) -> None:
    np.multiply(0.5, v, out=v)
    np.tanh(v, out=v)
    np.add(v, 1.0, out=v)
    np.multiply(v, 0.5, out=v)


#: The previous ``src.tasks.mnist.IN_PLACE``: in-place forms of the registry's activations.
IN_PLACE = {
    activations.SIN: lambda v, _: np.sin(np.multiply(np.pi, v, out=v), out=v),
    activations.COS: lambda v, _: np.cos(np.multiply(np.pi, v, out=v), out=v),
    activations.GAUSSIAN: _gaussian,
    activations.TANH: lambda v, _: np.tanh(v, out=v),
    activations.SIGMOID: _sigmoid,
    activations.INVERSE: lambda v, _: np.negative(v, out=v),
    activations.ABS: lambda v, _: np.abs(v, out=v),
    activations.RELU: lambda v, _: np.maximum(0.0, v, out=v),
}

_NO_COEF = np.zeros(0)


def forward_shared_per_node(
    plan: Plan,
    x: np.ndarray,
    weights: np.ndarray,
    edge_coef: np.ndarray | None = None,
    xt: np.ndarray | None = None,
) -> np.ndarray:
    """The previous :func:`src.tasks.mnist.forward_shared`: per node, one compiled call for
    its sums and one to four numpy calls for its activation."""
    if xt is None:
        xt = np.ascontiguousarray(np.asarray(x, dtype=np.float64).T)  # (n_inputs, b)
    w = np.ascontiguousarray(weights, dtype=np.float64).reshape(-1)
    n_comp = len(plan.order)
    coef = _NO_COEF if edge_coef is None else np.ascontiguousarray(edge_coef, np.float64)
    row_of = np.full(plan.n_nodes, -1, dtype=np.int64)
    row_of[plan.order] = np.arange(n_comp)
    values = np.empty((n_comp, len(w), xt.shape[1]))
    tmp = np.empty(xt.shape[1])
    scratch = np.empty((len(w), xt.shape[1]))
    indptr, indices = plan.indptr, plan.indices
    for i, act in enumerate(plan.act.tolist()):
        _preactivation(i, indptr, indices, coef, plan.n_inputs, row_of, xt, values, w, tmp)
        if act == activations.LINEAR:
            continue
        in_place = IN_PLACE.get(act)
        if in_place is None:
            values[i] = activations.apply(act, values[i])
        else:
            in_place(values[i], scratch)
    return np.moveaxis(values[row_of[plan.output_slots]], 0, -1)


def mnist_rollouts_per_node(
    task,
    plan: Plan,
    weights: np.ndarray,
    seeds: np.ndarray,
    edge_coef: np.ndarray | None = None,
):
    """The previous ``Mnist256.rollouts`` (:func:`forward_shared_per_node`, then
    :func:`src.tasks.mnist.mean_cross_entropy` on the finite outputs)."""
    from ..tasks.mnist import mean_cross_entropy as mean_ce

    weights = np.asarray(weights, dtype=np.float64)
    seeds = np.asarray(seeds)
    returns = np.empty(len(weights))
    for seed in np.unique(seeds).tolist():
        sel = np.flatnonzero(seeds == seed)
        x, y = task.batch(int(seed))
        with np.errstate(all="ignore"):
            xt = task.batch_transposed(int(seed))
            out = forward_shared_per_node(plan, x, weights[sel], edge_coef, xt=xt)
            finite = np.isfinite(out).all(axis=(1, 2))
            ce = mean_ce(np.where(finite[:, None, None], out, 0.0), y)
        returns[sel] = np.where(finite, -ce, -np.inf)
    return returns, len(weights) * task.batch_size


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(lo[i], hi[i])`` over i (empty ranges allowed)."""
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    offsets = np.repeat(lo - (ends - counts), counts)
    return np.arange(total) + offsets


def add_connection_sweep(
    genome: Genome,
    rng: np.random.Generator,
    innovations: Innovations,
    pool: Sequence[int],
    connect_outputs: bool = False,
) -> Genome | None:
    """The previous :func:`src.core.variation.add_connection`: the destination's
    descendants by a numpy sweep per level over the connection genes (before the compiled
    walk, :func:`src.core.rank_jit.banned_sources`). The same draws, the same child."""
    from ..core.variation import _with_connection

    n = genome.n_nodes
    kinds = genome.node_kind
    src = genome.positions(genome.conn_src)
    dst = genome.positions(genome.conn_dst)
    by_src = np.argsort(src, kind="stable")
    starts = np.searchsorted(src[by_src], np.arange(n + 1))
    succ = dst[by_src]
    can_source = kinds != OUTPUT if not connect_outputs else np.ones(n, dtype=bool)
    dests = np.flatnonzero(kinds > INPUT)
    for idx in rng.permutation(len(dests)).tolist():
        d = int(dests[idx])
        banned = np.zeros(n, dtype=bool)
        banned[d] = True
        frontier = np.array([d])
        while frontier.size:  # descendants of d, one level per step
            lo, hi = starts[frontier], starts[frontier + 1]
            nxt = succ[_ranges(lo, hi)]
            frontier = np.unique(nxt[~banned[nxt]])
            banned[frontier] = True
        banned[src[dst == d]] = True
        sources = np.flatnonzero(can_source & ~banned)
        if sources.size == 0:
            continue
        s = int(sources[int(rng.integers(sources.size))])
        return _with_connection(genome, s, d, innovations)
    return None


@numba.njit(cache=True)
def split_near_scan(cost, pref, n_ranks, head):
    """:func:`src.core.rank_jit.split_near` before its tournament tree: the least loaded
    rank found by a scan over the ranks for every genome, the order by the merge sort of
    :mod:`src.core.rank_jit`. The same split (tested); ~0.2 ms at 960 genomes, 64 ranks."""
    n = cost.shape[0]
    owner = np.empty(n, dtype=np.int64)
    load = np.zeros(n_ranks)
    load[0] = head
    keys = np.empty((1, n))
    keys[0] = -cost
    order = np.arange(n)
    _merge_sort(keys, order, 0, n, np.empty(n, dtype=np.int64))
    for k in range(n):
        u = order[k]
        r = 0
        for q in range(1, n_ranks):
            if load[q] < load[r]:
                r = q
        p = pref[u]
        if load[p] <= load[r] + NEAR * cost[u]:
            r = p
        owner[u] = r
        load[r] += cost[u]
    return owner


# split_near_scan compiles rank_jit's _merge_sort in: an edit there must recompile it
jitcache.key_on_sources((split_near_scan,), (Path(__file__), Path(rank_jit.__file__)))
