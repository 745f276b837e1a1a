"""The authors' network format (``.out``): a genome as their code writes and reads it.

The reference code of Gaier & Ha (2019), https://github.com/google/brain-tokyo-workshop
(``WANNRelease/WANN``, Apache License 2.0), saves a network with ``exportNet`` and loads it
with ``importNet`` (``wann_src/ind.py``) as an N x (N+1) comma-separated matrix:

- row i, column j < N: the connection from node i to node j; ``0`` = none, ``NaN`` = a
  disabled connection, any other value = an enabled one (a weight agnostic evaluation
  replaces the value by the shared weight: ``Task.setWeights`` in ``wann_src/task.py``);
- column N: each node's activation id in the reference's numbering (``applyAct``);
- rows in evaluation order: the bias, the inputs, the hidden nodes (each after every node
  feeding it: ``act`` computes the nodes in row order), the outputs last.

Node ids, innovation numbers, scores and the task are not stored; the numbers of inputs and
outputs come from the task. :func:`from_matrix` reads such a matrix into a :class:`Genome`
(node ids = row numbers, innovation numbers = row-major order of the connections);
:func:`to_matrix` writes a genome so that the reference's ``act`` computes the same function
as :func:`src.core.network.forward` (tested against a copy of their code, to 1e-12).

This project's outputs are linear and are never sources in the matrix (outputs come last in
it). A genome whose outputs feed other nodes (``connect_outputs = true``) is written with a
linear hidden copy of each such output, taking the output's connections in and its
connections out: the copy's value is the output's, so the function is unchanged, with one
more node and as many more connections as the output has inputs.
"""

from __future__ import annotations

import heapq
import io
import math

import numpy as np

from ..core import activations
from ..core.genome import BIAS, HIDDEN, INPUT, OUTPUT, Genome

#: The reference's activation ids (``applyAct`` in ``wann_src/ind.py``) -> this project's
#: activation names. Same functions: sin and cos of pi x, the sigmoid as (tanh(x/2) + 1)/2,
#: the gaussian exp(-x^2/2), the step 1 for x > 0. The reference's 11 (x^2) has none here.
REFERENCE_ACTIVATIONS: dict[int, str] = {
    1: "linear",
    2: "step",
    3: "sin",
    4: "gaussian",
    5: "tanh",
    6: "sigmoid",
    7: "inverse",
    8: "abs",
    9: "relu",
    10: "cos",
}
#: The reference's ids it has no counterpart for here, with what they compute.
UNSUPPORTED_REFERENCE: dict[int, str] = {11: "x^2"}
#: What the reference writes for an enabled connection of a WANN (``log/*_best.out``).
ENABLED_VALUE = 1.0
#: ``exportNet``'s number format.
FMT = "%1.2e"


class FormatError(ValueError):
    """A matrix that is not a network in the reference's format, or a genome it cannot hold."""


def reference_id(act_id: int) -> int:
    """The reference's id of this project's activation ``act_id``."""
    name = activations.NAMES.get(int(act_id))
    for ref, ref_name in REFERENCE_ACTIVATIONS.items():
        if ref_name == name:
            return ref
    raise FormatError(
        f"activation {name or act_id!r} has no id in the reference's table "
        f"({', '.join(REFERENCE_ACTIVATIONS.values())})"
    )


def project_id(ref_id: float, row: int) -> int:
    """This project's activation id of the reference's ``ref_id`` (in the file's ``row``)."""
    if not (math.isfinite(ref_id) and ref_id == int(ref_id)):
        raise FormatError(f"row {row}: activation id {float(ref_id):g} is not an integer")
    ref = int(ref_id)
    if ref in UNSUPPORTED_REFERENCE:
        raise FormatError(
            f"row {row}: activation id {ref} ({UNSUPPORTED_REFERENCE[ref]}) has no counterpart "
            "in this project"
        )
    if ref not in REFERENCE_ACTIVATIONS:
        raise FormatError(
            f"row {row}: unknown activation id {ref}; the reference's are 1-"
            f"{max(REFERENCE_ACTIVATIONS)} and {', '.join(map(str, UNSUPPORTED_REFERENCE))}"
        )
    return activations.IDS[REFERENCE_ACTIVATIONS[ref]]


# ----- genome -> matrix ------------------------------------------------------------------------


def outputs_as_sinks(genome: Genome) -> Genome:
    """The same network with no connection leaving an output (see the module docstring).

    Each output that is a source gets a linear hidden copy with the output's connections in
    (copied, enabled flags kept) and its connections out (moved). Returns ``genome`` itself
    when no output is a source.
    """
    kinds = genome.node_kind
    src_kind = kinds[genome.positions(genome.conn_src)]
    feeding = set(genome.conn_src[src_kind == OUTPUT].tolist())
    sources = [int(i) for i in genome.node_id[kinds == OUTPUT] if int(i) in feeding]
    if not sources:
        return genome
    next_id = int(genome.node_id.max()) + 1
    copy_of = {o: next_id + k for k, o in enumerate(sources)}
    src = np.array([copy_of.get(int(s), int(s)) for s in genome.conn_src], dtype=np.int64)
    dst, enabled = genome.conn_dst, genome.conn_enabled
    innov = genome.conn_innov
    next_innov = int(innov.max()) + 1 if len(innov) else 0
    add_src, add_dst, add_en = [], [], []
    for o, h in copy_of.items():
        into = np.flatnonzero(dst == o)
        add_src += src[into].tolist()
        add_dst += [h] * len(into)
        add_en += enabled[into].tolist()
    n_copies, n_added = len(copy_of), len(add_src)
    return genome.replace(
        node_id=np.concatenate([genome.node_id, list(copy_of.values())]),
        node_kind=np.concatenate([kinds, np.full(n_copies, HIDDEN)]),
        node_act=np.concatenate([genome.node_act, np.full(n_copies, activations.LINEAR)]),
        conn_src=np.concatenate([src, add_src]).astype(np.int64),
        conn_dst=np.concatenate([dst, add_dst]).astype(np.int64),
        conn_enabled=np.concatenate([enabled, np.asarray(add_en, dtype=bool)]),
        conn_innov=np.concatenate([innov, np.arange(next_innov, next_innov + n_added)]),
    )


def row_order(genome: Genome) -> np.ndarray:
    """Positions of the genome's nodes in file-row order: bias, inputs, hidden, outputs.

    Hidden nodes in topological order of all connections (enabled or not: a re-enabled one
    then still points forward), ties broken by the smaller node id, so a matrix read by
    :func:`from_matrix` (node id = row) is written back in its own row order. Needs no
    output to be a source (:func:`outputs_as_sinks`).
    """
    kinds = genome.node_kind
    pos_src = genome.positions(genome.conn_src)
    pos_dst = genome.positions(genome.conn_dst)
    hidden = np.flatnonzero(kinds == HIDDEN)
    indeg = np.bincount(pos_dst[kinds[pos_src] == HIDDEN], minlength=genome.n_nodes)
    succ: dict[int, list[int]] = {}
    for s, d in zip(pos_src.tolist(), pos_dst.tolist()):
        if kinds[s] == HIDDEN and kinds[d] == HIDDEN:
            succ.setdefault(s, []).append(d)
    ids = genome.node_id
    ready = sorted((int(ids[v]), int(v)) for v in hidden if indeg[v] == 0)
    order: list[int] = []
    heapq.heapify(ready)
    while ready:
        _, v = heapq.heappop(ready)
        order.append(v)
        for d in succ.get(v, []):
            indeg[d] -= 1
            if indeg[d] == 0:
                heapq.heappush(ready, (int(ids[d]), d))
    if len(order) != len(hidden):
        raise FormatError("the genome's connections form a cycle")
    return np.concatenate(
        [
            np.flatnonzero(kinds == BIAS),
            np.flatnonzero(kinds == INPUT),
            np.asarray(order, dtype=np.int64),
            np.flatnonzero(kinds == OUTPUT),
        ]
    ).astype(np.int64)


def to_matrix(genome: Genome) -> np.ndarray:
    """The genome as the reference's N x (N+1) matrix (see the module docstring)."""
    genome.validate()
    genome = outputs_as_sinks(genome)
    order = row_order(genome)
    row_of = np.empty(genome.n_nodes, dtype=np.int64)
    row_of[order] = np.arange(genome.n_nodes)
    n = genome.n_nodes
    matrix = np.zeros((n, n + 1))
    rows = row_of[genome.positions(genome.conn_src)]
    cols = row_of[genome.positions(genome.conn_dst)]
    matrix[rows, cols] = np.where(genome.conn_enabled, ENABLED_VALUE, np.nan)
    matrix[:, n] = [reference_id(a) for a in genome.node_act[order]]
    return matrix


def format_matrix(matrix: np.ndarray) -> str:
    """The text ``exportNet`` writes for ``matrix`` (``np.savetxt``, ``%1.2e``, commas)."""
    buf = io.StringIO()
    np.savetxt(buf, matrix, delimiter=",", fmt=FMT)
    return buf.getvalue()


# ----- matrix -> genome ------------------------------------------------------------------------


def parse_matrix(text: str) -> np.ndarray:
    """The matrix of a ``.out`` file's text, as ``importNet`` reads it (``np.loadtxt``)."""
    if not text.strip():  # numpy would warn on stderr before the error line
        raise FormatError("an empty file, not a matrix")
    try:
        matrix = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)
    except ValueError as exc:
        raise FormatError(f"not a comma-separated matrix of numbers ({exc})") from None
    n = matrix.shape[0]
    if matrix.shape != (n, n + 1):
        raise FormatError(
            f"a {matrix.shape[0]} x {matrix.shape[1]} matrix; the format is N x (N+1)"
        )
    return matrix


def from_matrix(matrix: np.ndarray, n_inputs: int, n_outputs: int) -> Genome:
    """The genome of a reference matrix, for a task with ``n_inputs`` and ``n_outputs``.

    Node ids are the row numbers; connections are numbered in row-major order (source row,
    then destination row) as their innovation numbers. The stored weight values are dropped
    (only none / enabled / disabled matters to a weight agnostic network).

    Raises:
        FormatError: the matrix does not fit the task or holds what the reference's ``act``
            would not compute as a connection (one into the bias or an input, or from a node
            to itself or to an earlier row), or an activation this project does not have.
    """
    n = matrix.shape[0]
    n_fixed = 1 + n_inputs + n_outputs
    if n < n_fixed:
        raise FormatError(
            f"{n} nodes; a network with {n_inputs} inputs and {n_outputs} outputs has at "
            f"least {n_fixed} (bias, inputs, outputs)"
        )
    weights = matrix[:, :n]
    present = weights != 0  # NaN != 0: disabled connections are present
    if np.any(present[:, : 1 + n_inputs]):
        i, j = np.argwhere(present[:, : 1 + n_inputs])[0]
        raise FormatError(f"row {i}, column {j}: a connection into the bias or an input")
    if np.any(np.tril(present)):
        i, j = np.argwhere(np.tril(present))[0]
        raise FormatError(
            f"row {i}, column {j}: a connection to the same or an earlier row (the reference "
            "computes nodes in row order)"
        )
    first_out = n - n_outputs
    out_rows = np.arange(first_out, n)
    for row in out_rows:
        if project_id(matrix[row, n], row) != activations.LINEAR:
            raise FormatError(
                f"row {row} (an output) has activation id {matrix[row, n]:g}; outputs here are "
                "linear (id 1)"
            )
    hidden_rows = np.arange(1 + n_inputs, first_out)
    acts = [project_id(matrix[row, n], row) for row in hidden_rows]
    node_rows = np.concatenate([np.arange(1 + n_inputs), out_rows, hidden_rows])
    kinds = np.concatenate(
        [[BIAS], np.full(n_inputs, INPUT), np.full(n_outputs, OUTPUT), np.full(len(acts), HIDDEN)]
    )
    src, dst = np.nonzero(present)  # row-major
    genome = Genome(
        node_id=node_rows,
        node_kind=kinds,
        node_act=np.concatenate(
            [np.full(n_fixed, activations.LINEAR), np.asarray(acts, dtype=np.int64)]
        ),
        conn_src=src,
        conn_dst=dst,
        conn_enabled=~np.isnan(weights[src, dst]),
        conn_innov=np.arange(len(src)),
    )
    genome.validate()
    return genome


def read(text: str, n_inputs: int, n_outputs: int) -> Genome:
    """The genome of a ``.out`` file's text (:func:`parse_matrix`, :func:`from_matrix`)."""
    return from_matrix(parse_matrix(text), n_inputs, n_outputs)


def write(genome: Genome) -> str:
    """A ``.out`` file's text for the genome (:func:`to_matrix`, :func:`format_matrix`)."""
    return format_matrix(to_matrix(genome))
