"""Structural mutation: the only variation in WANN (Gaier & Ha 2019, section 3).

Each child is a copy of one parent with exactly one structural change, chosen by roulette
over four operators. There is no crossover, no speciation and no weight mutation.

* :func:`add_node` splits a random enabled connection with a new hidden node whose activation
  is drawn from the pool; the old connection is disabled and two new ones replace it.
* :func:`add_connection` links two unconnected nodes so that the graph stays acyclic.
  The destination is drawn first, uniformly among the hidden and output nodes that still have
  a valid source, then the source uniformly among the valid ones. Valid sources: bias, inputs,
  hidden nodes that the destination does not reach, and - with ``connect_outputs`` - outputs
  (output -> output links, which the paper's appendix found to simplify biped networks).
  The reference code only links to a strictly later layer; any acyclic link is a superset.
  :func:`add_connection_layered` is the reference's rule instead (``add_connection =
  "layered"``): nodes sorted into layers, a source drawn first, then a destination in a
  strictly later layer.
* :func:`enable_connection` re-enables a random disabled connection.
* :func:`change_activation` gives a random hidden node a different activation from the pool.

Where the operator drawn has nothing to act on (no hidden node to change, no disabled
connection, ...), :func:`mutate` draws again among the operators that can act, with their
probabilities renormalised; the reference returned an unchanged clone instead (about half of
the children early in a run), which ``no_op = "clone"`` reproduces. Every operator returns a
new genome and uses only the ``numpy.random.Generator`` it is given.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from .genome import HIDDEN, INPUT, OUTPUT, Genome, Innovations

Operator = Callable[[Genome, np.random.Generator, Innovations, Sequence[int], bool], Genome | None]


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
    return genome.replace(
        node_id=_plus(genome.node_id, node),
        node_kind=_plus(genome.node_kind, HIDDEN),
        node_act=_plus(genome.node_act, act),
        conn_src=_plus(genome.conn_src, genome.conn_src[c], node),
        conn_dst=_plus(genome.conn_dst, node, genome.conn_dst[c]),
        conn_enabled=_plus(conn_enabled, True, True),
        conn_innov=_plus(genome.conn_innov, inn1, inn2),
    )


def _plus(arr: np.ndarray, *values: object) -> np.ndarray:
    """``arr`` with ``values`` appended, in ``arr``'s dtype (``np.append`` without its
    conversions: breeding appends to seven arrays per new node)."""
    out = np.empty(len(arr) + len(values), dtype=arr.dtype)
    out[: len(arr)] = arr
    out[len(arr) :] = values
    return out


def _with_connection(genome: Genome, s: int, d: int, innovations: Innovations) -> Genome:
    """``genome`` plus an enabled connection from node position ``s`` to ``d``."""
    return genome.replace(
        conn_src=_plus(genome.conn_src, genome.node_id[s]),
        conn_dst=_plus(genome.conn_dst, genome.node_id[d]),
        conn_enabled=_plus(genome.conn_enabled, True),
        conn_innov=_plus(genome.conn_innov, innovations.new_innovation()),
    )


def add_connection(
    genome: Genome,
    rng: np.random.Generator,
    innovations: Innovations,
    pool: Sequence[int],
    connect_outputs: bool = False,
) -> Genome | None:
    """Add a connection that keeps the graph acyclic; ``None`` if none is possible.

    The destination is drawn first (a permutation of the hidden and output nodes, in
    position order, tried in turn), then a source uniformly among the valid ones in position
    order: any node that may be a source, except the destination's descendants (itself
    included) and its present sources (by any connection gene). Those come from one
    compiled walk over the connection genes (:func:`src.core.rank_jit.banned_sources`,
    through the task kernels' loader): ~10 us where the numpy sweep per level it replaced
    (kept in :mod:`src.bench.legacy`, the same sources, tested) took ~300 us on a late
    MNIST genome.
    """
    from ..tasks.kernels import load  # core -> kernels, as compile_genome

    banned_sources = load().banned_sources
    n = genome.n_nodes
    kinds = genome.node_kind
    src = np.ascontiguousarray(genome.positions(genome.conn_src), dtype=np.int64)
    dst = np.ascontiguousarray(genome.positions(genome.conn_dst), dtype=np.int64)
    can_source = kinds != OUTPUT if not connect_outputs else np.ones(n, dtype=bool)
    dests = np.flatnonzero(kinds > INPUT)
    for idx in rng.permutation(len(dests)).tolist():
        d = int(dests[idx])
        banned = banned_sources(n, src, dst, d)
        sources = np.flatnonzero(can_source & ~banned)
        if sources.size == 0:
            continue
        s = int(sources[int(rng.integers(sources.size))])
        return _with_connection(genome, s, d, innovations)
    return None


def _layers(genome: Genome, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Layer of every node as the reference code assigns it (Gaier & Ha 2019, code release).

    Bias and inputs are layer 0; a hidden node is 1 + the length of the longest chain of
    hidden nodes feeding it; outputs sit one layer after the deepest hidden node. Unlike the
    reference, disabled connections count too: the graph of all connection genes stays
    acyclic, so re-enabling any of them can never make a cycle.
    """
    n = genome.n_nodes
    kinds = genome.node_kind
    hidden_edge = (kinds[src] == HIDDEN) & (kinds[dst] == HIDDEN)
    hs, hd = src[hidden_edge], dst[hidden_edge]
    layer = np.where(kinds == HIDDEN, 1, 0)
    for _ in range(n):  # longest path by relaxation; a DAG settles in <= n rounds
        new = layer.copy()
        np.maximum.at(new, hd, layer[hs] + 1)
        if np.array_equal(new, layer):
            break
        layer = new
    last = int(layer.max(initial=0)) + 1
    layer[kinds == OUTPUT] = last
    return layer


def add_connection_layered(
    genome: Genome,
    rng: np.random.Generator,
    innovations: Innovations,
    pool: Sequence[int],
    connect_outputs: bool = False,
) -> Genome | None:
    """Add a connection the reference code's way; ``None`` if none is possible.

    Nodes are sorted into layers (:func:`_layers`); sources are tried in a random order and
    the first one with a node in a strictly later layer that it does not already feed (by
    any connection gene, enabled or not) is linked to one of those, drawn uniformly. So
    hidden nodes of one layer are never linked to each other and outputs are never sources.
    """
    src = genome.positions(genome.conn_src)
    dst = genome.positions(genome.conn_dst)
    layer = _layers(genome, src, dst)
    for s in rng.permutation(genome.n_nodes).tolist():
        later = layer > layer[s]
        later[dst[src == s]] = False
        dests = np.flatnonzero(later)
        if dests.size == 0:
            continue
        d = int(dests[rng.integers(dests.size)])
        return _with_connection(genome, s, d, innovations)
    return None


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
    return genome.replace(conn_enabled=enabled)


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
    current = int(genome.node_act[v])
    choices = [a for a in pool if a != current]
    acts = genome.node_act.copy()
    acts[v] = choices[int(rng.integers(len(choices)))]
    return genome.replace(node_act=acts)


#: At most this many node ids and innovation numbers one :func:`mutate` call takes from its
#: :class:`~src.core.genome.Innovations` (add_node: one node, two connections); breeding on
#: the workers reserves that many per child (``src.evaluation.breed_child``).
NEW_NODES_PER_CHILD, NEW_INNOVATIONS_PER_CHILD = 1, 2

#: Values of ``add_connection_rule`` and ``no_op`` in :func:`mutate`.
ADD_CONNECTION_RULES = ("acyclic", "layered")
NO_OP_RULES = ("redraw", "clone")

#: The operators in roulette order; config field names are ``prob_<name>``.
OPERATORS: dict[str, Operator] = {
    "add_connection": add_connection,
    "add_node": add_node,
    "enable": enable_connection,
    "change_activation": change_activation,
}


@functools.lru_cache(maxsize=256)
def _roulette_cdf(weights: tuple[float, ...]) -> tuple[str, np.ndarray] | None:
    """How to draw from roulette ``weights``: ``None`` when they sum to 0 or less;
    ``("cdf", c)`` with ``c`` the cumulative distribution exactly as ``Generator.choice``
    computes it; ``("choice", p)`` for weights it must judge (negative, not finite)."""
    w = np.asarray(weights, dtype=np.float64)
    if not w.sum() > 0:
        return None
    p = w / w.sum()
    if not (np.isfinite(p).all() and (p >= 0).all()):
        return "choice", p
    cdf = p.cumsum()
    cdf /= cdf[-1]
    cdf.setflags(write=False)
    return "cdf", cdf


def _roulette(rng: np.random.Generator, how: tuple[str, np.ndarray]) -> int:
    """``int(rng.choice(len(p), p=p))``: the same draw and the same index, without its checks.

    ``Generator.choice`` with ``p`` draws one ``rng.random()`` and returns the first index
    whose normalised cumulative probability exceeds it; that is done here from the
    cumulative distribution it would compute (:func:`_roulette_cdf`, cached per set of
    weights: breeding draws once per child). Weights it must judge go to ``choice`` itself,
    for its error message.
    """
    kind, arr = how
    if kind == "choice":
        return int(rng.choice(len(arr), p=arr))
    return int(arr.searchsorted(rng.random(), side="right"))


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
    names = list(OPERATORS)
    ops = dict(OPERATORS)
    if add_connection_rule == "layered":
        ops["add_connection"] = add_connection_layered
    weights = tuple(np.asarray(probs, dtype=np.float64).tolist())
    while (how := _roulette_cdf(weights)) is not None:
        i = _roulette(rng, how)
        child = ops[names[i]](genome, rng, innovations, pool, connect_outputs)
        if child is not None:
            return child, names[i]
        if no_op == "clone":
            break
        weights = (*weights[:i], 0.0, *weights[i + 1 :])
    return genome, "clone"
