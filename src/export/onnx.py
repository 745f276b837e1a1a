"""A genome as an ONNX model whose inputs are the observations and the shared weight.

Needs the ``export`` extra (``pip install -e ".[export]"``: onnx; onnxruntime to run it).

The model (float64 throughout, opset :data:`OPSET`):

- input ``inputs``: (N, n_inputs), a batch of observations;
- input ``weight``: (M,) with M = 1 (one shared weight for the batch) or M = N (one per row);
- output ``outputs``: (N, n_outputs), what :func:`src.core.network.forward` gives (within
  1e-6 at several weights, tested with onnxruntime; in practice to a few ulp).

Each node that reaches an output is one value ``node<id>`` of shape (N, 1): ``Sum`` of its
enabled sources, ``Mul`` by the weight, then its activation from standard operators
(:data:`ONNX_ACTIVATIONS`). Nodes that reach no output, disabled connections and innovation
numbers are not in the model; node ids survive in the value names.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .. import __version__
from ..core import activations
from ..core.genome import Genome
from ..core.network import compile_genome

#: The ONNX opset the models are written for.
OPSET = 17


class _Graph:
    """Node and initializer lists being built, with fresh value names."""

    def __init__(self) -> None:
        import onnx.helper

        self.helper = onnx.helper
        self.nodes: list = []
        self.inits: list = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, value: float | list[int], stem: str = "c") -> str:
        import onnx.numpy_helper

        arr = np.asarray(value, dtype=np.int64 if isinstance(value, list) else np.float64)
        name = self.name(stem)
        self.inits.append(onnx.numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, inputs: list[str], out: str | None = None, **attrs) -> str:
        out = out or self.name(op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], **attrs))
        return out


def _scaled(g: _Graph, x: str, factor: float) -> str:
    return g.op("Mul", [x, g.const(factor)])


#: This project's activation name -> builder ``f(graph, z, out_name) -> out_name`` from
#: standard ONNX operators, the same formulas as :data:`src.core.activations.ROWS`.
ONNX_ACTIVATIONS: dict[str, Callable[[_Graph, str, str], str]] = {
    "linear": lambda g, z, out: g.op("Identity", [z], out),
    "step": lambda g, z, out: g.op(
        "Cast", [g.op("Greater", [z, g.const(0.0)])], out, to=11
    ),  # 11 = DOUBLE
    "sin": lambda g, z, out: g.op("Sin", [_scaled(g, z, math.pi)], out),
    "gaussian": lambda g, z, out: g.op("Exp", [_scaled(g, g.op("Mul", [z, z]), -0.5)], out),
    "tanh": lambda g, z, out: g.op("Tanh", [z], out),
    "sigmoid": lambda g, z, out: g.op(
        "Mul", [g.op("Add", [g.op("Tanh", [_scaled(g, z, 0.5)]), g.const(1.0)]), g.const(0.5)], out
    ),
    "inverse": lambda g, z, out: g.op("Neg", [z], out),
    "abs": lambda g, z, out: g.op("Abs", [z], out),
    "relu": lambda g, z, out: g.op("Relu", [z], out),
    "cos": lambda g, z, out: g.op("Cos", [_scaled(g, z, math.pi)], out),
}


class OnnxExportError(ValueError):
    """A genome the ONNX export cannot write (an activation without an ONNX form)."""


def to_onnx(genome: Genome, task: str | None = None):
    """The genome as an ``onnx.ModelProto`` (see the module docstring); checked by onnx."""
    import onnx
    import onnx.checker
    from onnx import TensorProto

    plan = compile_genome(genome)
    missing = sorted(
        {activations.NAMES.get(int(a), str(a)) for a in plan.act} - set(ONNX_ACTIVATIONS)
    )
    if missing:
        raise OnnxExportError(
            f"activation {', '.join(missing)} has no ONNX form; known: "
            f"{', '.join(ONNX_ACTIVATIONS)}"
        )
    g = _Graph()
    h = g.helper
    w = g.op("Reshape", ["weight", g.const([-1, 1])], "shared_weight")
    n_rows = g.op("Slice", [g.op("Shape", ["inputs"]), g.const([0]), g.const([1])])
    column = g.op("Concat", [n_rows, g.const([1])], axis=0)  # (N, 1)
    slot_value: dict[int, str] = {}
    ids = genome.node_id

    def value_of(slot: int) -> str:
        if slot not in slot_value:  # bias and inputs, made on first use
            name = f"node{int(ids[slot])}"
            if slot == 0:
                g.op("Expand", [g.const(1.0), column], name)
            else:
                g.op("Slice", ["inputs", g.const([slot - 1]), g.const([slot]), g.const([1])], name)
            slot_value[slot] = name
        return slot_value[slot]

    for i, slot in enumerate(plan.order.tolist()):
        sources = [value_of(int(s)) for s in plan.indices[plan.indptr[i] : plan.indptr[i + 1]]]
        if not sources:
            total = g.op("Expand", [g.const(0.0), column])
        elif len(sources) == 1:
            total = sources[0]
        else:
            total = g.op("Sum", sources)
        z = g.op("Mul", [w, total])
        name = f"node{int(ids[slot])}"
        ONNX_ACTIVATIONS[activations.NAMES[int(plan.act[i])]](g, z, name)
        slot_value[slot] = name
    outs = [slot_value[int(s)] for s in plan.output_slots]
    g.op("Concat", outs, "outputs", axis=1)
    graph = h.make_graph(
        g.nodes,
        "wann",
        [
            h.make_tensor_value_info("inputs", TensorProto.DOUBLE, ["N", plan.n_inputs]),
            h.make_tensor_value_info("weight", TensorProto.DOUBLE, ["M"]),
        ],
        [h.make_tensor_value_info("outputs", TensorProto.DOUBLE, ["N", plan.n_outputs])],
        initializer=g.inits,
    )
    model = h.make_model(
        graph,
        producer_name="wann-at-scale",
        producer_version=__version__,
        opset_imports=[h.make_opsetid("", OPSET)],
        doc_string=(
            "Weight agnostic neural network (Gaier & Ha 2019). inputs: (N, n_inputs) "
            "observations; weight: (1,) the shared weight of every connection, or (N,) one "
            "per row; outputs: (N, n_outputs)."
        ),
    )
    meta = {
        "task": task or "",
        "n_inputs": str(plan.n_inputs),
        "n_outputs": str(plan.n_outputs),
        "hidden_nodes": str(genome.n_hidden),
        "enabled_connections": str(genome.n_connections),
    }
    onnx.helper.set_model_props(model, meta)
    model.ir_version = min(model.ir_version, 8)  # opset 17's IR; readable by older runtimes
    onnx.checker.check_model(model, full_check=True)
    return model


def to_bytes(genome: Genome, task: str | None = None) -> bytes:
    """The serialised model of :func:`to_onnx`."""
    return to_onnx(genome, task).SerializeToString()
