"""A tanh that numba vectorises: the swing-up lane kernel's ``swingup_math = 'fast'``.

glibc's ``tanh`` (through ``expm1``) is one scalar call per value, ~7 ns here, and with the
sigmoid (``(tanh(x / 2) + 1) / 2``) it was ~40 % of the swing-up lane kernel's time on late
search populations (perf). :func:`tanh` is plain float arithmetic with no call and no
branch, so LLVM vectorises a loop of it over the lanes (AVX2: ~2.5 ns a value, ~3x).

Accuracy: at most 2 ulp from glibc's ``tanh`` (tested over [-25, 25] and normal draws;
~80 % of values equal). Not the same bits, so a search with it is a different (equally
seed-determined) search. Deterministic: only +, -, *, / , ``floor``, comparisons and a
bit-built power of two, each rounded by IEEE 754 (numba compiles without fast-math, so LLVM
fuses nothing into FMAs), so a value is the same scalar or vectorised, on any x86-64 CPU,
ahead-of-time or JIT.

Method (Cephes' ``tanh``, S. L. Moshier, http://www.netlib.org/cephes/): for
``|x| < 0.625`` the rational ``x + x^3 P(x^2) / Q(x^2)``; above, ``(e - 1) / (e + 1)`` with
``e = exp(2|x|)`` from ``2^k exp(r)`` (``r = 2|x| - k ln 2`` with ln 2 in two parts,
``exp(r)`` a degree-13 Taylor polynomial, ``|r| <= ln(2) / 2``), the sign put back; ``2|x|``
is capped at 40 (``tanh`` is 1 in float64 from ``|x| ~ 19.1`` on). Both are computed and one
is chosen, so there is one division per value. NaN gives NaN, +-inf give +-1.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 bits: k * _LN2_HI is exact for k < 2^20
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
# Cephes tanh.c, |x| < 0.625: tanh(x) = x + x^3 P(x^2) / Q(x^2), Q monic
_P0, _P1, _P2 = -9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3
_Q0, _Q1, _Q2 = 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3


@intrinsic
def _pow2(typingctx, k):
    """``2.0 ** k`` for an int64 ``k`` in [-1022, 1023]: the float built from its bits."""

    def codegen(context, builder, signature, args):
        biased = builder.add(args[0], ir.Constant(ir.IntType(64), 1023))
        bits = builder.shl(biased, ir.Constant(ir.IntType(64), 52))
        return builder.bitcast(bits, ir.DoubleType())

    return types.float64(types.int64), codegen


@numba.njit(inline="always", error_model="numpy")
def tanh(x):
    """tanh(x), within 2 ulp of glibc's; vectorisable (see the module)."""
    a = abs(x)
    z = x * x
    # small |x|: the rational's quotient
    num_small = (_P0 * z + _P1) * z + _P2
    den_small = ((z + _Q0) * z + _Q1) * z + _Q2
    # large |x|: e = exp(2|x|) = 2^k exp(r)
    y = min(2.0 * a, 40.0)
    k = np.floor(y * _INV_LN2 + 0.5)
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    e = p * _pow2(np.int64(k))
    small = a < 0.625
    q = (num_small if small else e - 1.0) / (den_small if small else e + 1.0)
    if small:
        return x + x * z * q
    return q if x >= 0.0 else -q
