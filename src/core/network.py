"""Compiling a genome into an evaluation plan, and the forward pass.

A :class:`Plan` lists the nodes that influence an output, in topological order, with their
enabled in-neighbours in CSR form. Every computed node takes the value

    act(w * sum_e(c_e * value[source_e]))

where ``w`` is the shared weight of the rollout and ``c_e`` an optional per-edge coefficient
(all ones in the search; the report uses it for random and tuned per-connection weights).
Bias (1) and inputs are copied in; output nodes are linear. Hidden nodes with no enabled
input still compute ``act(0)`` (for example gaussian and cos give 1): that is part of the
topology's function and kept.

Two forward passes share this plan: :func:`forward` here (numpy, any batch shape, used for
MNIST and as the reference implementation in tests) and the numba rollout kernels of the tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import activations
from .genome import INPUT, OUTPUT, Genome


@dataclass(frozen=True)
class Plan:
    """A compiled network.

    Attributes:
        n_nodes: number of value slots (= nodes of the genome).
        n_inputs: number of inputs (slots 1..n_inputs; slot 0 is the bias).
        n_outputs: number of outputs.
        order: (n_compute,) int64 slots computed, in topological order.
        act: (n_compute,) int64 activation id of each computed slot (linear for outputs).
        indptr: (n_compute + 1,) int64; in-edges of order[i] are indptr[i]:indptr[i+1].
        indices: (n_edges,) int64 source slot of each in-edge.
        edge_conn: (n_edges,) int64 index of each in-edge in the genome's connection arrays.
        output_slots: (n_outputs,) int64 slots of the outputs, in output order.
    """

    n_nodes: int
    n_inputs: int
    n_outputs: int
    order: np.ndarray
    act: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    edge_conn: np.ndarray
    output_slots: np.ndarray

    @property
    def n_edges(self) -> int:
        return len(self.indices)


def compile_genome(genome: Genome) -> Plan:
    """Compile a genome: keep nodes with a path to an output, order them topologically.

    O(enabled connections), not O(nodes): the bias and inputs (positions ``0 ..
    n_inputs``, never a destination) come first in the order of
    :func:`src.core.genome.topological_order`, so only the outputs and hidden nodes are
    ordered (Kahn's algorithm with the same tie-break, the smallest position first, hence
    the same order); the nodes that reach an output are found by walking edges backwards
    from the outputs. Compiled (:func:`src.core.plan_jit.plan_arrays`, through
    :func:`src.tasks.kernels.load`: built ahead of time with the lockstep kernels when
    there, else numba's JIT; imported here so that importing this module does not import
    numba).
    """
    from ..tasks.kernels import load

    plan_arrays = load().plan_arrays

    en = np.flatnonzero(genome.conn_enabled)
    ends = genome.positions(np.concatenate((genome.conn_src[en], genome.conn_dst[en])))
    src, dst = ends[: len(en)], ends[len(en) :]
    n = genome.n_nodes
    kinds = genome.node_kind
    n_inputs = genome.n_inputs
    first = 1 + n_inputs  # positions below are the bias and the inputs
    if np.any(kinds[:first] > INPUT) or np.any(dst < first):
        first = 0  # not a valid genome's layout: order every node
    ok, compute, indptr, indices, edge_conn = plan_arrays(n, first, kinds, src, dst, en)
    if not ok:
        raise ValueError("genome has a cycle among its enabled connections")
    output_slots = np.flatnonzero(kinds == OUTPUT)
    return Plan(
        n_nodes=n,
        n_inputs=n_inputs,
        n_outputs=len(output_slots),
        order=compute,
        act=genome.node_act[compute].astype(np.int64),
        indptr=indptr,
        indices=indices,
        edge_conn=edge_conn,
        output_slots=output_slots.astype(np.int64),
    )


def forward(
    plan: Plan,
    inputs: np.ndarray,
    shared_weight: np.ndarray | float,
    edge_coef: np.ndarray | None = None,
) -> np.ndarray:
    """Evaluate the network on a batch.

    Args:
        plan: from :func:`compile_genome`.
        inputs: (..., n_inputs) float.
        shared_weight: the shared weight, scalar or array; its shape and ``inputs.shape[:-1]``
            broadcast to the batch shape (e.g. inputs (1, n, k) and weights (6, 1): (6, n)).
        edge_coef: optional (n_edges,) per-edge coefficients (default: all ones).

    Returns:
        (*batch, n_outputs) float64 outputs.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    if inputs.shape[-1] != plan.n_inputs:
        raise ValueError(f"expected {plan.n_inputs} inputs, got {inputs.shape[-1]}")
    w = np.asarray(shared_weight, dtype=np.float64)
    batch = np.broadcast_shapes(inputs.shape[:-1], w.shape)
    values = np.zeros((plan.n_nodes, *batch))
    values[0] = 1.0
    values[1 : 1 + plan.n_inputs] = np.moveaxis(
        np.broadcast_to(inputs, (*batch, plan.n_inputs)), -1, 0
    )
    for i, v in enumerate(plan.order):
        lo, hi = plan.indptr[i], plan.indptr[i + 1]
        src = plan.indices[lo:hi]
        if edge_coef is None:
            s = values[src].sum(axis=0)
        else:
            coef = edge_coef[lo:hi].reshape((-1,) + (1,) * len(batch))
            s = (coef * values[src]).sum(axis=0)
        values[v] = activations.apply(int(plan.act[i]), w * s)
    return np.moveaxis(values[plan.output_slots], 0, -1)
