"""The ten activation functions of WANN (Gaier & Ha 2019, table in SPEC section 1).

Names are the public vocabulary (configs, JSON genomes, plots); integer ids are used only
inside arrays and compiled kernels. ``apply`` works on numpy arrays, ``apply_scalar`` is the
numba-compilable scalar form used by the rollout kernels. Both compute the same function.
"""

from __future__ import annotations

import math

import numpy as np

LINEAR = 1
STEP = 2
SIN = 3
GAUSSIAN = 4
TANH = 5
SIGMOID = 6
INVERSE = 7
ABS = 8
RELU = 9
COS = 10

NAMES: dict[int, str] = {
    LINEAR: "linear",
    STEP: "step",
    SIN: "sin",
    GAUSSIAN: "gaussian",
    TANH: "tanh",
    SIGMOID: "sigmoid",
    INVERSE: "inverse",
    ABS: "abs",
    RELU: "relu",
    COS: "cos",
}
IDS: dict[str, int] = {name: i for i, name in NAMES.items()}

#: Hidden-node pool for control tasks: all ten.
CONTROL_POOL: tuple[int, ...] = tuple(sorted(NAMES))
#: Hidden-node pool for classification: all but ``step`` (its gradient-free plateaus).
CLASSIFICATION_POOL: tuple[int, ...] = tuple(i for i in sorted(NAMES) if i != STEP)


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
    if act_id == LINEAR:
        return x
    if act_id == STEP:
        return (x > 0.0).astype(x.dtype)
    if act_id == SIN:
        return np.sin(np.pi * x)
    if act_id == GAUSSIAN:
        return np.exp(-0.5 * x * x)
    if act_id == TANH:
        return np.tanh(x)
    if act_id == SIGMOID:
        return (np.tanh(0.5 * x) + 1.0) * 0.5
    if act_id == INVERSE:
        return -x
    if act_id == ABS:
        return np.abs(x)
    if act_id == RELU:
        return np.maximum(0.0, x)
    if act_id == COS:
        return np.cos(np.pi * x)
    raise ValueError(f"unknown activation id {act_id}")


def apply_scalar(act_id: int, x: float) -> float:
    """Scalar form of :func:`apply`; compiles under ``numba.njit``. Unknown ids give NaN."""
    if act_id == LINEAR:
        return x
    if act_id == STEP:
        return 1.0 if x > 0.0 else 0.0
    if act_id == SIN:
        return math.sin(math.pi * x)
    if act_id == GAUSSIAN:
        return math.exp(-0.5 * x * x)
    if act_id == TANH:
        return math.tanh(x)
    if act_id == SIGMOID:
        return (math.tanh(0.5 * x) + 1.0) * 0.5
    if act_id == INVERSE:
        return -x
    if act_id == ABS:
        return abs(x)
    if act_id == RELU:
        return 0.0 if x < 0.0 else x  # NaN passes through, as in np.maximum
    if act_id == COS:
        return math.cos(math.pi * x)
    return math.nan
