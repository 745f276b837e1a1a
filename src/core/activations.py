"""The activation functions of WANN (Gaier & Ha 2019, https://arxiv.org/abs/1906.04358):
linear, step, sin, cosine, Gaussian, tanh, sigmoid, absolute value, inverse (negative linear)
and ReLU, one registry row each.

:data:`ROWS` is the registry: each :class:`Activation` row holds everything the code knows
about one activation, and every other table is derived from it:

- ``id``: the integer stored in genome arrays, checkpoints and compiled kernels. Never
  reuse or renumber one: checkpoints and published genomes store ids.
- ``name``: the public vocabulary (``activations = [...]`` in configs, JSON genomes, plots).
- ``array``: the function on numpy arrays (:func:`apply`, the numpy forward pass).
- ``scalar``: the same function on one float, numba-compilable (``math``, not ``numpy``);
  the rollout kernels call it through :func:`apply_scalar`. It must give the same floats
  as ``array`` (tested for every row).
- ``colour``, ``label``: the node's face colour and the short text written on it in the
  report's network pictures (:mod:`src.report.netdraw`).

To add an activation, append one row to :data:`ROWS` with the next unused id; nothing else
needs editing to search with it. (Exporting a genome that uses it, :mod:`src.export`, needs
its ONNX form in ``src.export.onnx.ONNX_ACTIVATIONS`` and, for the authors' ``.out``, an id
in their table, ``src.export.reference.REFERENCE_ACTIVATIONS``; until then the export says
so in one line.) The tests iterate the registry, so the new row is checked (array against
scalar, the swing-up lane kernel against its reference, a colour in the pictures) without
touching them. A new row joins both default pools below (:data:`CONTROL_POOL`,
:data:`CLASSIFICATION_POOL`), so a config that does not list ``activations`` searches over it;
the resolved pool is recorded in each run's ``config.toml`` and checkpoints, and ``--resume``
refuses a run whose recorded pool differs from the one the code now resolves.

Compiled kernels: :func:`apply_scalar` is generated from :data:`ROWS` at import, as the
if-chain ``if act_id == <id>: return <scalar>(x)`` (one branch per row, unknown ids give NaN);
kernels compile it as :func:`numba_scalar` returns it (each ``scalar`` registered with
``numba.extending.register_jitable``). Kernels that compile it (``src.tasks.swingup``,
``src.tasks.jitkernels``, ``src.tasks.carracing``) bake that chain into their machine code when
they are compiled, and their disk cache is keyed on the text of this file
(:mod:`src.core.jitcache`), so a row added here recompiles them. A row added at run time with
:func:`registered` reaches the tables looked up per call (names, ids, :func:`apply`, genome
validation, the pictures) but neither :func:`apply_scalar` nor any compiled kernel nor the
default pools: permanent rows belong in :data:`ROWS`.

The swing-up lane kernel (:func:`src.tasks.swingup._activate_lanes`) additionally has a
hand-written branch per known id so that each runs as a tight (vectorised where exact) loop;
an id it does not list takes its generic branch, which calls :func:`apply_scalar` and gives
the same floats, only slower.
"""

from __future__ import annotations

import contextlib
import math
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Activation:
    """One activation: its id, name, array and scalar forms, and how pictures show it."""

    id: int
    name: str
    array: Callable[[np.ndarray], np.ndarray]
    scalar: Callable[[float], float]
    colour: str
    label: str


#: The registry, one row per activation (see the module docstring for how to add one).
ROWS: tuple[Activation, ...] = (
    Activation(1, "linear", lambda x: x, lambda x: x, "#9e9e9e", "lin"),
    Activation(
        2,
        "step",
        lambda x: (x > 0.0).astype(x.dtype),
        lambda x: 1.0 if x > 0.0 else 0.0,
        "#8c564b",
        "step",
    ),
    Activation(
        3,
        "sin",
        lambda x: np.sin(np.pi * x),
        lambda x: math.sin(math.pi * x),
        "#1f77b4",
        "sin",
    ),
    Activation(
        4,
        "gaussian",
        lambda x: np.exp(-0.5 * x * x),
        lambda x: math.exp(-0.5 * x * x),
        "#2ca02c",
        "gaus",
    ),
    Activation(5, "tanh", np.tanh, lambda x: math.tanh(x), "#ff7f0e", "tanh"),
    Activation(
        6,
        "sigmoid",
        lambda x: (np.tanh(0.5 * x) + 1.0) * 0.5,
        lambda x: (math.tanh(0.5 * x) + 1.0) * 0.5,
        "#bcbd22",
        "sig",
    ),
    Activation(7, "inverse", lambda x: -x, lambda x: -x, "#e377c2", "inv"),
    Activation(8, "abs", np.abs, lambda x: abs(x), "#9467bd", "abs"),
    Activation(
        9,
        "relu",
        lambda x: np.maximum(0.0, x),
        lambda x: 0.0 if x < 0.0 else x,  # NaN passes through, as in np.maximum
        "#d62728",
        "relu",
    ),
    Activation(
        10,
        "cos",
        lambda x: np.cos(np.pi * x),
        lambda x: math.cos(math.pi * x),
        "#17becf",
        "cos",
    ),
)

#: Every registered row by id: :data:`ROWS` plus any added with :func:`registered`.
BY_ID: dict[int, Activation] = {}
#: Name of each registered id.
NAMES: dict[int, str] = {}
#: Id of each registered name.
IDS: dict[str, int] = {}


def _index(rows: tuple[Activation, ...]) -> None:
    """Rebuild :data:`BY_ID`, :data:`NAMES`, :data:`IDS` in place (holders see the change)."""
    by_id: dict[int, Activation] = {}
    for row in rows:
        if not isinstance(row.id, int) or not 0 < row.id < 128:
            raise ValueError(f"activation {row.name!r}: id {row.id!r} must be in 1..127 (int8)")
        if row.id in by_id or row.name in {r.name for r in by_id.values()}:
            raise ValueError(f"activation {row.name!r} (id {row.id}): id or name taken")
        by_id[row.id] = row
    for table in (BY_ID, NAMES, IDS):
        table.clear()
    BY_ID.update(sorted(by_id.items()))
    NAMES.update((i, row.name) for i, row in BY_ID.items())
    IDS.update((row.name, i) for i, row in BY_ID.items())


_index(ROWS)

# The ids other modules refer to by name; a new row needs no constant.
LINEAR = IDS["linear"]
STEP = IDS["step"]
SIN = IDS["sin"]
GAUSSIAN = IDS["gaussian"]
TANH = IDS["tanh"]
SIGMOID = IDS["sigmoid"]
INVERSE = IDS["inverse"]
ABS = IDS["abs"]
RELU = IDS["relu"]
COS = IDS["cos"]

#: Hidden-node pool for control tasks: every row.
CONTROL_POOL: tuple[int, ...] = tuple(row.id for row in ROWS)
#: Hidden-node pool for classification: all but ``step`` (its gradient-free plateaus).
CLASSIFICATION_POOL: tuple[int, ...] = tuple(i for i in CONTROL_POOL if i != STEP)


@contextlib.contextmanager
def registered(*rows: Activation) -> Iterator[None]:
    """Add ``rows`` to the registry for the duration of the block (tests, experiments).

    They reach what is looked up per call (:data:`NAMES`, :data:`IDS`, :data:`BY_ID`,
    :func:`apply`, :func:`ids_from_names`, genome validation, the pictures), not
    :func:`apply_scalar`, the compiled kernels or the default pools, which are built from
    :data:`ROWS` at import (see the module docstring).
    """
    before = tuple(BY_ID.values())
    _index(before + rows)
    try:
        yield
    finally:
        _index(before)


def ids_from_names(names: list[str] | tuple[str, ...]) -> tuple[int, ...]:
    """Activation ids for names, raising ``ValueError`` naming the accepted ones."""
    out = []
    for name in names:
        if name not in IDS:
            raise ValueError(f"unknown activation {name!r}; accepted: {', '.join(IDS)}")
        out.append(IDS[name])
    return tuple(out)


def apply(act_id: int, x: np.ndarray) -> np.ndarray:
    """Apply activation ``act_id`` elementwise to an array of any shape."""
    row = BY_ID.get(int(act_id))
    if row is None:
        raise ValueError(f"unknown activation id {act_id}")
    return row.array(x)


def scalar_dispatch(rows: tuple[Activation, ...]) -> Callable[[int, float], float]:
    """The scalar ``f(act_id, x)`` over ``rows``: one ``if`` per row, else NaN.

    Generated source (numba compiles Python bytecode, and a chain of comparisons with
    constant ids is what lets LLVM fold a constant id to its one branch), calling each row's
    ``scalar``. Plain Python as returned; numba compiles it once :func:`numba_scalar` has
    registered the rows' functions.
    """
    namespace: dict[str, object] = {"math": math}
    lines = ["def apply_scalar(act_id, x):"]
    for row in rows:
        if not isinstance(row.scalar, types.FunctionType):
            # numba could not compile a builtin as a row function (register_jitable(math.tanh)
            # would even re-register numba's own math.tanh)
            raise TypeError(f"activation {row.name!r}: scalar must be a Python function or lambda")
        fn = f"_scalar_{row.id}"
        namespace[fn] = row.scalar
        lines += [f"    if act_id == {row.id}:", f"        return {fn}(x)"]
    lines.append("    return math.nan")
    # Compiled under this file's name: numba's disk cache locates a function by its file.
    exec(compile("\n".join(lines) + "\n", __file__, "exec"), namespace)
    fn = namespace["apply_scalar"]
    fn.__doc__ = "Scalar form of :func:`apply` over :data:`ROWS`; unknown ids give NaN."
    fn.__module__ = __name__
    return fn


_JITABLE: set[Callable] = set()


def numba_scalar(rows: tuple[Activation, ...] | None = None) -> Callable[[int, float], float]:
    """:func:`apply_scalar` (or :func:`scalar_dispatch` over ``rows``), ready for
    ``numba.njit``: each row's ``scalar`` is registered with ``register_jitable``, once.

    numba is imported here, not with this module: configs, genomes and the report use the
    registry without it (and the CLI starts faster).
    """
    import numba.extending

    for row in ROWS if rows is None else rows:
        if row.scalar not in _JITABLE:
            numba.extending.register_jitable(row.scalar)
            _JITABLE.add(row.scalar)
    return apply_scalar if rows is None else scalar_dispatch(rows)


#: Scalar form of :func:`apply` for the rows of :data:`ROWS`; compiles under ``numba.njit``.
#: Unknown ids give NaN.
apply_scalar = scalar_dispatch(ROWS)
