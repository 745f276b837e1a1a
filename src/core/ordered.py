"""Sums in a fixed order of operations, so that a result is the same on every CPU.

A BLAS product is not: OpenBLAS picks its kernels by CPU at run time (``OPENBLAS_CORETYPE``
forces one), and its Haswell, Sandybridge and Nehalem kernels order the sums of one
matrix-vector product differently, so the last bits differ. PEPG's update (the report's
tuned weights, amplified over its generations into other weights) and MNIST's area resize
(a search's inputs) sum with :func:`weighted_sum` instead.
"""

from __future__ import annotations

import numpy as np


def weighted_sum(coef: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``sum_i coef[i] * rows[i]`` (``coef @ rows`` for 2-D ``rows``), the terms added one by
    one in index order to a float64 zero of ``rows[0]``'s shape."""
    total = np.zeros(rows.shape[1:])
    for c, row in zip(coef, rows):
        total += c * row
    return total
