"""Genomes: the topology of a weight agnostic network as flat numpy arrays.

A genome has nodes (bias, inputs, outputs, hidden; each with an activation) and connections
(source, destination, enabled flag, innovation number). There are no per-connection weights:
every enabled connection carries the one shared weight of a rollout (Gaier & Ha 2019).

Node order inside a genome is fixed: the bias at position 0, the inputs at 1..n_inputs, then the
outputs, then hidden nodes in the order they were created. Node ids are unique within a run
(hidden nodes take ids from :class:`Innovations`); connections refer to node ids.
Invariant: the graph of *all* connections, enabled or not, is acyclic, so re-enabling a
connection can never create a cycle.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import activations

BIAS, INPUT, OUTPUT, HIDDEN = 0, 1, 2, 3
KIND_NAMES = {BIAS: "bias", INPUT: "input", OUTPUT: "output", HIDDEN: "hidden"}
KIND_IDS = {name: k for k, name in KIND_NAMES.items()}


@dataclass
class Innovations:
    """Run-wide counters for new hidden-node ids and connection innovation numbers.

    Lives on the root rank, advanced by the variation operators in a fixed order, and saved in
    checkpoints so a resumed run numbers its mutations exactly as an uninterrupted one.
    """

    next_node_id: int
    next_innovation: int

    @classmethod
    def start(cls, n_inputs: int, n_outputs: int) -> Innovations:
        """Counters just past the ids used by :func:`initial_genome`."""
        return cls(1 + n_inputs + n_outputs, (1 + n_inputs) * n_outputs)

    def new_node_id(self) -> int:
        self.next_node_id += 1
        return self.next_node_id - 1

    def new_innovation(self) -> int:
        self.next_innovation += 1
        return self.next_innovation - 1


#: The arrays of a :class:`Genome` and their dtypes, in field order.
_DTYPES = {
    "node_id": np.int64,
    "node_kind": np.int8,
    "node_act": np.int8,
    "conn_src": np.int64,
    "conn_dst": np.int64,
    "conn_enabled": np.bool_,
    "conn_innov": np.int64,
}


@dataclass(frozen=True, eq=False)
class Genome:
    """A network topology. Arrays are never modified in place: operators build new genomes.

    Attributes:
        node_id: (n_nodes,) int64, unique ids.
        node_kind: (n_nodes,) int8, BIAS/INPUT/OUTPUT/HIDDEN.
        node_act: (n_nodes,) int8 activation id (:mod:`activations`); linear for non-hidden.
        conn_src: (n_conns,) int64 source node id.
        conn_dst: (n_conns,) int64 destination node id.
        conn_enabled: (n_conns,) bool.
        conn_innov: (n_conns,) int64 innovation number.
    """

    node_id: np.ndarray
    node_kind: np.ndarray
    node_act: np.ndarray
    conn_src: np.ndarray
    conn_dst: np.ndarray
    conn_enabled: np.ndarray
    conn_innov: np.ndarray

    def __post_init__(self) -> None:
        for name, dtype in _DTYPES.items():
            arr = np.ascontiguousarray(getattr(self, name), dtype=dtype)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def n_inputs(self) -> int:
        return int(np.count_nonzero(self.node_kind == INPUT))

    @property
    def n_outputs(self) -> int:
        return int(np.count_nonzero(self.node_kind == OUTPUT))

    @property
    def n_nodes(self) -> int:
        return len(self.node_id)

    @property
    def n_hidden(self) -> int:
        return int(np.count_nonzero(self.node_kind == HIDDEN))

    @property
    def n_connections(self) -> int:
        """Complexity: the number of enabled connections. Counted once per genome (its
        arrays never change), as :meth:`key`: a replicated loop asks for every member's
        count a few times a generation (half a millisecond a time at pop 960)."""
        cached = self.__dict__.get("_n_connections")
        if cached is None:
            cached = int(np.count_nonzero(self.conn_enabled))
            object.__setattr__(self, "_n_connections", cached)
        return cached

    def replace(self, **changes: np.ndarray) -> Genome:
        """A copy with some arrays replaced (the others shared: they are read-only).

        Only the replaced arrays are converted (breeding makes one genome per child, and
        the unchanged arrays of a genome are already converted and read-only).
        """
        new = object.__new__(Genome)
        for name in _DTYPES:
            object.__setattr__(new, name, getattr(self, name))
        for name, value in changes.items():
            arr = np.ascontiguousarray(value, dtype=_DTYPES[name])
            arr.setflags(write=False)
            object.__setattr__(new, name, arr)
        return new

    def key(self) -> bytes:
        """Digest identifying the network this genome computes.

        Equal keys mean equal node ids, kinds, activations and enabled connections, hence the
        same function of (inputs, shared weight): evaluations of such genomes under the same
        seeds are interchangeable. Disabled connections and innovation numbers are ignored.
        Computed once per genome (its arrays never change): the search asks for the keys
        of every genome of a generation twice, and elites live on for generations.
        """
        cached = self.__dict__.get("_key")
        if cached is not None:
            return cached
        en = self.conn_enabled
        src, dst = self.conn_src[en], self.conn_dst[en]
        order = np.lexsort((dst, src))  # by source, then destination
        pairs = np.empty((len(src), 2), dtype=src.dtype)  # (source, destination) rows
        pairs[:, 0], pairs[:, 1] = src[order], dst[order]
        h = hashlib.blake2b(digest_size=16)
        for arr in (self.node_id, self.node_kind, self.node_act, pairs):
            h.update(np.ascontiguousarray(arr).tobytes())
            h.update(b"|")
        digest = h.digest()
        object.__setattr__(self, "_key", digest)
        return digest

    def validate(self) -> None:
        """Raise ``ValueError`` if any invariant of the genome does not hold."""
        kinds = self.node_kind
        n_in = self.n_inputs
        n_out = self.n_outputs
        expected = np.concatenate(
            [[BIAS], np.full(n_in, INPUT), np.full(n_out, OUTPUT), np.full(self.n_hidden, HIDDEN)]
        )
        if len(kinds) != len(expected) or np.any(kinds != expected):
            raise ValueError("nodes must be ordered bias, inputs, outputs, hidden")
        if len(np.unique(self.node_id)) != self.n_nodes:
            raise ValueError("node ids are not unique")
        if len(np.unique(self.conn_innov)) != len(self.conn_innov):
            raise ValueError("innovation numbers are not unique")
        pos = self.positions(self.conn_src), self.positions(self.conn_dst)
        if np.any(kinds[pos[1]] <= INPUT):
            raise ValueError("a connection ends in a bias or input node")
        if len(set(zip(self.conn_src.tolist(), self.conn_dst.tolist()))) != len(self.conn_src):
            raise ValueError("duplicate connection")
        if not set(np.unique(self.node_act).tolist()) <= set(activations.NAMES):
            raise ValueError("unknown activation id")
        if np.any(self.node_act[kinds != HIDDEN] != activations.LINEAR):
            raise ValueError("bias, input and output nodes must be linear")
        if topological_order(self.n_nodes, pos[0], pos[1]) is None:
            raise ValueError("connections form a cycle")

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Positions in the node arrays of the given node ids (all must exist).

        Ids ascending (as bred here): one compiled pass
        (:func:`src.core.genome_jit.node_positions`, through the task kernels' loader), the
        same positions as ``searchsorted``; otherwise, or for a missing id, numpy's way."""
        from ..tasks.kernels import load  # core -> kernels, as compile_genome

        nid = self.node_id
        if isinstance(ids, np.ndarray) and ids.ndim == 1 and ids.dtype == np.int64:
            found, pos = load().node_positions(nid, np.ascontiguousarray(ids))
            if found:
                return pos
        if len(nid) and (nid[1:] > nid[:-1]).all():  # ids ascending: no sort
            pos = np.minimum(nid.searchsorted(ids), len(nid) - 1)
        else:
            sorter = np.argsort(nid, kind="stable")
            idx = np.searchsorted(nid, ids, sorter=sorter)
            idx = np.clip(idx, 0, max(self.n_nodes - 1, 0))
            pos = sorter[idx]
        if np.any(self.node_id[pos] != ids):
            raise ValueError("a connection refers to a node that does not exist")
        return pos

    # ----- readable and flat forms -------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Readable form: nodes with activation names, connections by node id."""
        kinds = [KIND_NAMES[k] for k in self.node_kind.tolist()]
        acts = [activations.NAMES[a] for a in self.node_act.tolist()]
        return {
            "n_inputs": self.n_inputs,
            "n_outputs": self.n_outputs,
            "nodes": [
                {"id": i, "kind": k, "activation": a}
                for i, k, a in zip(self.node_id.tolist(), kinds, acts)
            ],
            "connections": [
                {"source": s, "destination": d, "enabled": e, "innovation": n}
                for s, d, e, n in zip(
                    self.conn_src.tolist(),
                    self.conn_dst.tolist(),
                    self.conn_enabled.tolist(),
                    self.conn_innov.tolist(),
                )
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Genome:
        """Inverse of :meth:`to_dict`; validates the result."""
        nodes = data["nodes"]
        conns = data["connections"]
        genome = cls(
            node_id=np.array([n["id"] for n in nodes], dtype=np.int64),
            node_kind=np.array([KIND_IDS[n["kind"]] for n in nodes], dtype=np.int8),
            node_act=np.array(
                activations.ids_from_names([n["activation"] for n in nodes]), dtype=np.int8
            ),
            conn_src=np.array([c["source"] for c in conns], dtype=np.int64),
            conn_dst=np.array([c["destination"] for c in conns], dtype=np.int64),
            conn_enabled=np.array([c["enabled"] for c in conns], dtype=bool),
            conn_innov=np.array([c["innovation"] for c in conns], dtype=np.int64),
        )
        genome.validate()
        return genome

    def to_json(self, **extra: Any) -> str:
        """:meth:`to_dict` with ``extra`` fields first, as compact JSON (best_genome.json).

        The nodes and connections are formatted from templates (names and numbers only, so
        nothing needs escaping): a champion of 300 nodes and 2,700 connections takes about
        1.3 ms, against 4-5 ms through ``json.dumps`` without ``indent`` (its C encoder) and
        20-35 ms with ``indent=1`` (its pure-Python encoder, the format before). It is written
        on the search's critical path whenever the champion changes. ``python -m json.tool``
        indents it.
        """
        head = json.dumps(
            {**extra, "n_inputs": self.n_inputs, "n_outputs": self.n_outputs},
            separators=(",", ":"),
        )
        nodes = ",".join(
            f'{{"id":{i},"kind":"{KIND_NAMES[k]}","activation":"{activations.NAMES[a]}"}}'
            for i, k, a in zip(
                self.node_id.tolist(), self.node_kind.tolist(), self.node_act.tolist()
            )
        )
        flag = ("false", "true")
        conns = ",".join(
            f'{{"source":{s},"destination":{d},"enabled":{flag[e]},"innovation":{n}}}'
            for s, d, e, n in zip(
                self.conn_src.tolist(),
                self.conn_dst.tolist(),
                self.conn_enabled.tolist(),
                self.conn_innov.tolist(),
            )
        )
        return f'{head[:-1]},"nodes":[{nodes}],"connections":[{conns}]}}'

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Genome):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, f), getattr(other, f)) for f in self.__dataclass_fields__
        )

    __hash__ = None  # type: ignore[assignment]


def initial_genome(
    n_inputs: int, n_outputs: int, prob_enable: float, rng: np.random.Generator
) -> Genome:
    """Bias and inputs wired to every output once; each connection enabled with ``prob_enable``.

    Connection innovation numbers are the index of the (source, output) pair, the same in every
    initial genome; no hidden nodes.
    """
    n_src = 1 + n_inputs
    src = np.repeat(np.arange(n_src), n_outputs)
    dst = np.tile(np.arange(n_src, n_src + n_outputs), n_src)
    return Genome(
        node_id=np.arange(n_src + n_outputs),
        node_kind=np.concatenate([[BIAS], np.full(n_inputs, INPUT), np.full(n_outputs, OUTPUT)]),
        node_act=np.full(n_src + n_outputs, activations.LINEAR),
        conn_src=src,
        conn_dst=dst,
        conn_enabled=rng.random(len(src)) < prob_enable,
        conn_innov=np.arange(len(src)),
    )


def topological_order(n_nodes: int, src_pos: np.ndarray, dst_pos: np.ndarray) -> np.ndarray | None:
    """Kahn's algorithm over node positions; ``None`` if the edges contain a cycle.

    Ties are broken by position, so the order is a pure function of the graph.
    """
    indeg_arr = np.bincount(dst_pos, minlength=n_nodes)
    order_src = np.argsort(src_pos, kind="stable")
    starts = np.searchsorted(src_pos[order_src], np.arange(n_nodes + 1)).tolist()
    succ = dst_pos[order_src].tolist()
    ready = np.flatnonzero(indeg_arr == 0).tolist()
    indeg = indeg_arr.tolist()  # Python lists: this loop runs once per node
    heapq.heapify(ready)
    order = []
    while ready:
        u = heapq.heappop(ready)
        order.append(u)
        for v in succ[starts[u] : starts[u + 1]]:
            indeg[v] -= 1
            if indeg[v] == 0:
                heapq.heappush(ready, v)
    if len(order) != n_nodes:
        return None
    return np.asarray(order, dtype=np.int64)


# ----- populations as flat arrays (HDF5 datasets, MPI messages) ------------------------------


def pack(genomes: list[Genome], enabled_only: bool = False) -> dict[str, np.ndarray]:
    """Flatten genomes into four arrays plus offsets.

    ``enabled_only``: each genome's enabled connections only, in their order: all that its
    network is (:func:`src.core.network.compile_genome` reads nothing else), so what an
    evaluation needs. An MNIST genome carries the 2,560 input-output genes of its first
    generation, about 5 % of them enabled: such a pack is several times smaller.

    Returns:
        ``nodes``: (total_nodes, 3) int64 columns id, kind, activation id;
        ``node_offsets``: (n_genomes + 1,) int64, genome g's nodes are
        ``nodes[node_offsets[g]:node_offsets[g+1]]``;
        ``conns``: (total_conns, 4) int64 columns source id, destination id, enabled, innovation;
        ``conn_offsets``: (n_genomes + 1,) int64.
    """
    n = len(genomes)
    picks = [np.flatnonzero(g.conn_enabled) if enabled_only else slice(None) for g in genomes]
    node_counts = np.fromiter((len(g.node_id) for g in genomes), np.int64, n)
    counts = (len(p) if enabled_only else len(g.conn_src) for g, p in zip(genomes, picks))
    conn_counts = np.fromiter(counts, np.int64, n)
    node_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(node_counts, out=node_offsets[1:])
    conn_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(conn_counts, out=conn_offsets[1:])
    nodes = np.empty((node_offsets[-1], 3), dtype=np.int64)
    conns = np.empty((conn_offsets[-1], 4), dtype=np.int64)
    for g, p, a, b, c, d in zip(
        genomes, picks, node_offsets, node_offsets[1:], conn_offsets, conn_offsets[1:]
    ):
        nodes[a:b, 0], nodes[a:b, 1], nodes[a:b, 2] = g.node_id, g.node_kind, g.node_act
        conns[c:d, 0], conns[c:d, 1] = g.conn_src[p], g.conn_dst[p]
        conns[c:d, 2], conns[c:d, 3] = g.conn_enabled[p], g.conn_innov[p]
    return {
        "nodes": nodes,
        "node_offsets": node_offsets,
        "conns": conns,
        "conn_offsets": conn_offsets,
    }


def unpack(arrays: dict[str, np.ndarray]) -> list[Genome]:
    """Inverse of :func:`pack`."""
    nodes, conns = np.asarray(arrays["nodes"]), np.asarray(arrays["conns"])
    no, co = np.asarray(arrays["node_offsets"]), np.asarray(arrays["conn_offsets"])
    if len(no) != len(co) or no[-1] != len(nodes) or co[-1] != len(conns):
        raise ValueError("packed population: offsets do not match the arrays")
    out = []
    for a, b, c, d in zip(no, no[1:], co, co[1:]):
        out.append(
            Genome(
                node_id=nodes[a:b, 0],
                node_kind=nodes[a:b, 1],
                node_act=nodes[a:b, 2],
                conn_src=conns[c:d, 0],
                conn_dst=conns[c:d, 1],
                conn_enabled=conns[c:d, 2].astype(bool),
                conn_innov=conns[c:d, 3],
            )
        )
    return out


# ----- a child as an edit of its parent (breeding = "workers": what comes back to the root) ----


def edit_of(parent: Genome, child: Genome) -> np.ndarray:
    """The few numbers that turn ``parent`` into ``child``, as one int64 array.

    ``child`` must be ``parent`` with nodes and connections appended and some activations
    and enabled flags changed (what every mutation does). Layout: ``[k, m, a, f]``, then
    ``k`` appended nodes (id, kind, activation), ``m`` appended connections (source,
    destination, enabled, innovation), ``a`` node positions and ``a`` new activations,
    ``f`` connection positions whose enabled flag flips. A one-mutation MNIST child is
    about 16 numbers where the packed genome is ~10,000. Inverse: :func:`apply_edit`.
    """
    n, m = parent.n_nodes, len(parent.conn_src)

    def prefix(name: str, length: int) -> bool:  # a mutation shares what it leaves alone
        mine, theirs = getattr(child, name), getattr(parent, name)
        return mine is theirs or np.array_equal(mine[:length], theirs)

    if (
        child.n_nodes < n
        or len(child.conn_src) < m
        or not prefix("node_id", n)
        or not prefix("node_kind", n)
        or not prefix("conn_src", m)
        or not prefix("conn_dst", m)
        or not prefix("conn_innov", m)
    ):
        raise ValueError("the child is not its parent with nodes and connections appended")
    acts = np.flatnonzero(child.node_act[:n] != parent.node_act)
    flips = np.flatnonzero(child.conn_enabled[:m] != parent.conn_enabled)
    k, c = child.n_nodes - n, len(child.conn_src) - m
    parts = [np.array([k, c, len(acts), len(flips)], dtype=np.int64)]
    if k:  # appended nodes: (id, kind, activation) rows
        rows = (child.node_id[n:], child.node_kind[n:], child.node_act[n:])
        parts.append(np.stack([np.asarray(r, dtype=np.int64) for r in rows], axis=1).ravel())
    if c:  # appended connections: (source, destination, enabled, innovation) rows
        rows = (
            child.conn_src[m:],
            child.conn_dst[m:],
            child.conn_enabled[m:],
            child.conn_innov[m:],
        )
        parts.append(np.stack([np.asarray(r, dtype=np.int64) for r in rows], axis=1).ravel())
    parts += [acts, child.node_act[acts], flips]
    return np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])


def apply_edit(parent: Genome, edit: np.ndarray, key: bytes | None = None) -> Genome:
    """The child that :func:`edit_of` described; ``key``: its :meth:`Genome.key`, if known
    (computed where the child was made, so the root need not hash it again)."""
    k, m, a, f = (int(v) for v in edit[:4])
    at = 4
    nodes = edit[at : at + 3 * k].reshape(k, 3)
    at += 3 * k
    conns = edit[at : at + 4 * m].reshape(m, 4)
    at += 4 * m
    act_pos, act_val = edit[at : at + a], edit[at + a : at + 2 * a]
    flips = edit[at + 2 * a : at + 2 * a + f]
    if at + 2 * a + f != len(edit):
        raise ValueError("a genome edit of the wrong length")
    changes: dict[str, np.ndarray] = {}
    node_act = parent.node_act
    if k:
        changes["node_id"] = np.concatenate([parent.node_id, nodes[:, 0]])
        changes["node_kind"] = np.concatenate([parent.node_kind, nodes[:, 1].astype(np.int8)])
        node_act = np.concatenate([node_act, nodes[:, 2].astype(np.int8)])
    if a:
        node_act = node_act.copy() if not k else node_act
        node_act[act_pos] = act_val
    if k or a:
        changes["node_act"] = node_act
    if m or f:
        enabled = np.concatenate([parent.conn_enabled, conns[:, 2].astype(bool)])
        enabled[flips] = ~enabled[flips]
        changes["conn_enabled"] = enabled
    if m:
        changes["conn_src"] = np.concatenate([parent.conn_src, conns[:, 0]])
        changes["conn_dst"] = np.concatenate([parent.conn_dst, conns[:, 1]])
        changes["conn_innov"] = np.concatenate([parent.conn_innov, conns[:, 3]])
    child = parent.replace(**changes)
    if key is not None:
        object.__setattr__(child, "_key", key)
    return child


class PendingChild(Genome):
    """A child known by its parent and edit (:func:`edit_of`), built on first use.

    What a rank keeps of a child bred elsewhere (``breeding = "workers"``): its key and
    connection count come with the edit, so ranking, duplicate detection and statistics never
    build it; its arrays are built by :func:`apply_edit` the first time any is read (to breed
    from it, pack it for a worker, write it), then kept. Two threads may build it at once
    (a checkpoint written in the background): both build the same arrays. Pickles as the
    plain :class:`Genome` it stands for.
    """

    def __init__(self, parent: Genome, edit: np.ndarray, key: bytes, n_connections: int) -> None:
        # one dict update, not four frozen-dataclass assignments: every rank of a
        # replicated loop makes one for each child bred elsewhere (768 at pop 960)
        self.__dict__.update(
            _parent=parent, _edit=edit, _key=key, _n_connections=int(n_connections)
        )

    def __getattr__(self, name: str) -> Any:
        if name not in _DTYPES:
            raise AttributeError(name)
        # Unbuilt ancestors are built oldest first, in a loop: on a rank of a replicated
        # loop of many ranks a chain of children none of which it evaluated can be long.
        chain = [self]
        while isinstance(parent := chain[-1].__dict__.get("_parent"), PendingChild):
            if parent.built:
                break
            chain.append(parent)
        for child in reversed(chain):
            child._build()
        return self.__dict__[name]

    def _build(self) -> None:
        parent, edit = self.__dict__.get("_parent"), self.__dict__.get("_edit")
        if parent is None or edit is None:
            return  # built (perhaps by another thread meanwhile)
        built = apply_edit(parent, edit)
        for field_name in _DTYPES:
            object.__setattr__(self, field_name, getattr(built, field_name))
        # the arrays first, then the links: a thread that read them still has them
        self.__dict__.pop("_parent", None)
        self.__dict__.pop("_edit", None)

    @property
    def n_connections(self) -> int:
        return self.__dict__["_n_connections"]

    @property
    def built(self) -> bool:
        """Whether its arrays exist yet (for tests and benchmarks)."""
        return "_parent" not in self.__dict__

    def __reduce__(self) -> tuple[Any, ...]:
        return (Genome, tuple(getattr(self, name) for name in _DTYPES))
