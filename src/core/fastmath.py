"""tanh, sin, cos and exp that numba vectorises: the swing-up lanes' ``swingup_math = 'fast'``.

glibc's ``tanh`` (through ``expm1``), ``sin``, ``cos`` and ``exp`` are one scalar call per
value (~4-7 ns here) and were ~75 % of the swing-up lane kernel's time on late search
populations (perf; tanh and the sigmoid built on it ~40 %). These are plain float arithmetic
with no call and no branch, so LLVM vectorises a loop of them over the lanes (AVX2: ~1.5-3 ns
a value); a late search population's lane kernel runs ~2x faster with them.

Accuracy: at most 2 ulp from glibc's (tested: tanh and exp everywhere, sin and cos for
``|x| <`` :data:`TRIG_EXACT_BELOW` ~ 8.2e5); 80-85 % of values are glibc's own. Not the same
bits, so a search with them is a different (equally seed-determined) search. Deterministic:
only +, -, *, /, ``floor``, comparisons and bit-built powers of two, each rounded by IEEE 754
(numba compiles without fast-math, so LLVM fuses nothing into FMAs): a value is the same
scalar or vectorised, on any x86-64 CPU, ahead-of-time or JIT (tested: scalar == vectorised).

Methods: tanh is Cephes' (S. L. Moshier, http://www.netlib.org/cephes/): for ``|x| < 0.625``
the rational ``x + x^3 P(x^2) / Q(x^2)``; above, ``(e - 1) / (e + 1)`` with ``e = exp(2|x|)``,
the sign put back; both are computed and one chosen, so one division per value. exp is
``2^k exp(r)``, ``r = x - k ln 2`` with ln 2 in two parts, ``exp(r)`` a degree-13 Taylor
polynomial (``|r| <= ln(2) / 2``), ``2^k`` built from its bits (in two halves, so subnormal
results round once). sin and cos reduce by pi/2 in three 33-bit parts and a tail with
compensated subtractions, then evaluate fdlibm's kernel polynomials
(http://www.netlib.org/fdlibm/, ``k_sin.c``, ``k_cos.c``), the quadrant chosen by selects;
beyond :data:`TRIG_EXACT_BELOW` they are those of its value with x's sign. NaN gives NaN;
tanh(+-inf) = +-1, exp(-inf) = 0, exp(inf) = inf, sin and cos of +-inf NaN.
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


# fdlibm (Sun Microsystems, http://www.netlib.org/fdlibm/): e_rem_pio2.c's pi/2 in three
# 33-bit parts (n * each is exact for |n| < 2^20) and a tail, k_sin.c / k_cos.c's polynomials.
_INV_PIO2 = 6.36619772367581382433e-01
_PIO2_1 = 1.57079632673412561417e00
_PIO2_2 = 6.07710050630396597660e-11
_PIO2_3 = 2.02226624871116645580e-21
_PIO2_3T = 8.47842766036889956997e-32
_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11
#: Below this |x| (~8.2e5) sin and cos are within 2 ulp of glibc's (tested); beyond, they are
#: those of +-this value (glibc's are no more meaningful to a network there), of +-inf NaN.
TRIG_EXACT_BELOW = 2.0**19 * 1.5707963267948966


@numba.njit(inline="always", error_model="numpy")
def _two_diff(a, b):
    """(a - b rounded, its rounding error): Knuth's TwoSum, exact for any a, b."""
    d = a - b
    bb = d - a
    return d, (a - (d - bb)) - (b + bb)


@numba.njit(inline="always", error_model="numpy")
def _reduce(x):
    """(r, rr, q): x = n pi/2 + r + rr with |r| <= ~pi/4 and rr its tail (pi/2 to ~150
    bits, the subtractions compensated), q = n mod 4 (as a float); x clamped to
    +-:data:`TRIG_EXACT_BELOW` first."""
    x = TRIG_EXACT_BELOW if x > TRIG_EXACT_BELOW else x  # NaN passes
    x = -TRIG_EXACT_BELOW if x < -TRIG_EXACT_BELOW else x
    n = np.floor(x * _INV_PIO2 + 0.5)
    t = x - n * _PIO2_1  # exact: n * _PIO2_1 is, and t is close to x
    a, e1 = _two_diff(t, n * _PIO2_2)  # n * _PIO2_2 and n * _PIO2_3 exact too
    b, e2 = _two_diff(a, n * _PIO2_3)
    lo = (e1 + e2) - n * _PIO2_3T
    r = b + lo
    rr = lo - (r - b)
    q = n - 4.0 * np.floor(0.25 * n)
    return r, rr, q


@numba.njit(inline="always", error_model="numpy")
def _kernels(r, rr):
    """(sin, cos) of r + rr for |r| <= pi/4 and rr its tail (fdlibm's __kernel_sin and
    __kernel_cos of r, then the tail's first-order term)."""
    z = r * r
    v = z * r
    ps = _S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))
    s = r + v * (_S1 + z * ps)
    pc = z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))
    hz = 0.5 * z
    w = 1.0 - hz
    c = w + (((1.0 - w) - hz) + z * pc)
    return s + rr * c, c - rr * s


@numba.njit(inline="always", error_model="numpy")
def sin(x):
    """sin(x), within 2 ulp of glibc's for |x| < :data:`TRIG_EXACT_BELOW`; vectorisable."""
    r, rr, q = _reduce(x)
    s, c = _kernels(r, rr)
    v = s if q == 0.0 or q == 2.0 else c
    v = -v if q >= 2.0 else v
    v = v if x != 0.0 else x  # +-0 keeps its sign, as glibc's
    return v if x - x == 0.0 else x - x  # +-inf, NaN: NaN


@numba.njit(inline="always", error_model="numpy")
def cos(x):
    """cos(x), within 2 ulp of glibc's for |x| < :data:`TRIG_EXACT_BELOW`; vectorisable."""
    r, rr, q = _reduce(x)
    s, c = _kernels(r, rr)
    v = c if q == 0.0 or q == 2.0 else s
    v = -v if q == 1.0 or q == 2.0 else v
    return v if x - x == 0.0 else x - x  # +-inf, NaN: NaN


@numba.njit(inline="always", error_model="numpy")
def exp(x):
    """exp(x), within 2 ulp of glibc's (subnormal results and 0 included); vectorisable.

    ``2^k exp(r)`` as in :func:`tanh`, the power of two applied in two halves so that
    results below 2^-1022 round once, as glibc's do."""
    y = min(max(x, -746.0), 710.0)
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
    k1 = np.floor(0.5 * k)
    v = (p * _pow2(np.int64(k1))) * _pow2(np.int64(k - k1))  # inf beyond ~709.78 by itself
    return v if x == x else x


@numba.njit(inline="always", error_model="numpy")
def tanh(x):
    """tanh(x), within 2 ulp of glibc's; vectorisable (see the module)."""
    a = abs(x)
    z = x * x
    # small |x|: the rational's quotient
    num_small = (_P0 * z + _P1) * z + _P2
    den_small = ((z + _Q0) * z + _Q1) * z + _Q2
    # large |x|: e = exp(2|x|) (2|x| capped: tanh is 1 in float64 from |x| ~ 19.1 on)
    e = exp(min(2.0 * a, 40.0))
    small = a < 0.625
    q = (num_small if small else e - 1.0) / (den_small if small else e + 1.0)
    if small:
        return x + x * z * q if x != 0.0 else x  # +-0 keeps its sign, as glibc's
    return q if x >= 0.0 else -q
