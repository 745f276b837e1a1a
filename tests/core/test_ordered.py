"""src/core/ordered.py: sums in a fixed order of operations."""

import numpy as np
import pytest

from src.core.ordered import weighted_sum


@pytest.mark.parametrize("shape", [(32, 41), (3, 16, 28)])
def test_weighted_sum_adds_the_terms_in_index_order(shape):
    rng = np.random.default_rng(5)
    coef, rows = rng.standard_normal(shape[0]), rng.standard_normal(shape)
    expected = [0.0] * rows[0].size
    for c, row in zip(coef.tolist(), rows.reshape(len(rows), -1).tolist()):
        expected = [e + c * r for e, r in zip(expected, row)]
    total = weighted_sum(coef, rows)
    assert total.shape == shape[1:]
    np.testing.assert_array_equal(total.ravel(), expected)
