"""src.core.fastmath: within 2 ulp of glibc's, the same bits scalar and vectorised."""

from __future__ import annotations

import math
import platform
import re

import numba
import numpy as np
import pytest

from src.core import fastmath

FUNCTIONS = {"tanh": math.tanh, "sin": math.sin, "cos": math.cos, "exp": math.exp}


def _loop(name: str):
    """A compiled loop of ``fastmath.<name>`` over an array (what the lane kernel runs)."""
    fn = getattr(fastmath, name)

    @numba.njit(error_model="numpy")
    def loop(x):
        out = np.empty_like(x)
        for j in range(x.shape[0]):
            out[j] = fn(x[j])
        return out

    return loop


LOOPS = {name: _loop(name) for name in FUNCTIONS}


def _scalar(name: str, x: np.ndarray) -> np.ndarray:
    """One compiled call per value (no loop to vectorise)."""
    fn = getattr(fastmath, name)
    one = numba.njit(error_model="numpy")(lambda v: fn(v))
    return np.array([one(float(v)) for v in x])


def _inputs(name: str) -> np.ndarray:
    """Grids, draws at several scales, the branch edges, tiny and huge values (for sin and
    cos up to TRIG_EXACT_BELOW; for exp down to where it underflows and up to overflow)."""
    rng = np.random.default_rng(0)
    edges = np.array([0.625, 0.625 - 1e-16, 19.0, 19.1, 20.0, 22.0, 1e-8, 1e-300, 5e-324])
    parts = [
        np.linspace(-25.0, 25.0, 200_001),
        rng.normal(0.0, 1.0, 100_000),
        rng.normal(0.0, 0.3, 100_000),
        edges,
        -edges,
    ]
    if name in ("sin", "cos"):
        top = fastmath.TRIG_EXACT_BELOW * (1 - 1e-9)
        parts += [rng.uniform(-top, top, 100_000), np.pi / 2 * np.arange(-50, 51)]
    elif name == "exp":
        parts += [np.linspace(-760.0, 709.78, 200_001), -0.5 * rng.normal(0.0, 20.0, 100_000) ** 2]
    else:
        parts.append(np.exp(rng.uniform(-700.0, 6.0, 50_000)) * rng.choice([-1.0, 1.0], 50_000))
    return np.concatenate(parts)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_within_two_ulp_of_libm(name):
    x = _inputs(name)
    fast = LOOPS[name](x)
    libm = np.array([FUNCTIONS[name](v) for v in x])
    ulp = np.abs(fast - libm) / np.spacing(np.abs(libm))
    assert ulp.max() <= 2.0, x[np.argmax(ulp)]
    assert (fast == libm).mean() > 0.7  # most values are glibc's own


def test_special_values():
    x = np.array([np.inf, -np.inf, np.nan, 1e308, -1e308, 0.0])
    t = LOOPS["tanh"](x)
    assert t[0] == 1.0 and t[1] == -1.0 and np.isnan(t[2])
    assert t[3] == 1.0 and t[4] == -1.0 and t[5] == 0.0
    e = LOOPS["exp"](np.array([np.inf, -np.inf, np.nan, 710.0, -746.0, 0.0]))
    assert e[0] == np.inf and e[1] == 0.0 and np.isnan(e[2]) and e[3] == np.inf
    assert e[4] == 0.0 and e[5] == 1.0
    edge = 709.782712893384  # the largest x whose exp is finite, and the next doubles
    top = LOOPS["exp"](np.array([edge, np.nextafter(edge, 800.0), 709.79]))
    assert top[0] == math.exp(edge) < np.inf and (top[1:] == np.inf).all()
    zeros = np.array([0.0, -0.0])
    for name in ("tanh", "sin"):  # odd: the sign of zero kept, as glibc's
        assert np.signbit(LOOPS[name](zeros)).tolist() == [False, True]
    for name in ("sin", "cos"):
        out = LOOPS[name](np.array([np.inf, -np.inf, np.nan, 1e300, -3e7, 123456789.0]))
        assert np.isnan(out[:3]).all()
        assert (np.abs(out[3:]) <= 1.0).all()  # beyond TRIG_EXACT_BELOW: bounded


@pytest.mark.parametrize("name", FUNCTIONS)
def test_scalar_equals_vectorised(name):
    """A value is the same whether its loop was vectorised or not (the lane kernel vectorises,
    the one-by-one reference kernel does not): plain IEEE operations, nothing fused."""
    x = _inputs(name)[::50]
    assert _scalar(name, x).tobytes() == LOOPS[name](x).tobytes()


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 assembly")
@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_loop_of_it_vectorises(name):
    """The point of the functions: LLVM turns a loop of one into packed arithmetic (packed
    multiplies, no call), which glibc's functions do not allow."""
    loop = LOOPS[name]
    loop(np.zeros(8))
    asm = next(iter(loop.inspect_asm().values()))
    assert re.search(r"\bv?mulpd\b", asm), "no packed multiply: the loop was not vectorised"
    assert not re.search(r"call.*(sin|cos|tanh|exp)", asm), "a libm call in the loop"
