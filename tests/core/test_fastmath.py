"""src.core.fastmath.tanh: within 2 ulp of glibc's, the same bits scalar and vectorised."""

from __future__ import annotations

import math
import platform
import re

import numba
import numpy as np
import pytest

from src.core import fastmath


@numba.njit(error_model="numpy")
def _vectorised(x):
    out = np.empty_like(x)
    for j in range(x.shape[0]):
        out[j] = fastmath.tanh(x[j])
    return out


def _scalar(x: np.ndarray) -> np.ndarray:
    """One compiled call per value (no loop to vectorise)."""
    one = numba.njit(error_model="numpy")(lambda v: fastmath.tanh(v))
    return np.array([one(float(v)) for v in x])


def _inputs() -> np.ndarray:
    rng = np.random.default_rng(0)
    edges = np.array([0.625, 0.625 - 1e-16, 19.0, 19.1, 20.0, 22.0, 1e-8, 1e-300, 5e-324])
    return np.concatenate(
        [
            np.linspace(-25.0, 25.0, 400_001),
            rng.normal(0.0, 1.0, 200_000),
            rng.normal(0.0, 0.3, 200_000),
            np.exp(rng.uniform(-700.0, 6.0, 100_000)) * rng.choice([-1.0, 1.0], 100_000),
            edges,
            -edges,
        ]
    )


def test_within_two_ulp_of_libm():
    x = _inputs()
    fast, libm = _vectorised(x), np.array([math.tanh(v) for v in x])
    ulp = np.abs(fast - libm) / np.spacing(np.abs(libm))
    assert ulp.max() <= 2.0, x[np.argmax(ulp)]
    assert (fast == libm).mean() > 0.7  # most values are glibc's own
    assert (np.abs(fast) <= 1.0).all()


def test_special_values():
    x = np.array([np.inf, -np.inf, np.nan, 1e308, -1e308, 0.0])
    out = _vectorised(x)
    assert out[0] == 1.0 and out[1] == -1.0 and np.isnan(out[2])
    assert out[3] == 1.0 and out[4] == -1.0 and out[5] == 0.0


def test_scalar_equals_vectorised():
    """A value is the same whether its loop was vectorised or not (the lane kernel vectorises,
    the one-by-one reference kernel does not): plain IEEE operations, nothing fused."""
    x = _inputs()[::50]
    assert _scalar(x).tobytes() == _vectorised(x).tobytes()


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 assembly")
def test_a_loop_of_it_vectorises():
    """The point of the function: LLVM turns a loop of it into packed arithmetic (a packed
    division, no call), which glibc's tanh does not allow."""
    _vectorised(np.zeros(8))
    asm = next(iter(_vectorised.inspect_asm().values()))
    assert re.search(r"\bv?divpd\b", asm), "no packed division: the loop was not vectorised"
