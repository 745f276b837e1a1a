"""Shared fixtures: small genomes built by mutation, the repository root."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from harness import PYTHON, ROOT  # noqa: F401 - the paths, for the tests that import them here


def grown_genome(n_in: int, n_out: int, n_mutations: int, seed: int, pool=None):
    """A genome after ``n_mutations`` random structural mutations."""
    from src.core import activations
    from src.core.genome import Innovations, initial_genome
    from src.core.variation import mutate

    rng = np.random.default_rng(seed)
    inn = Innovations.start(n_in, n_out)
    g = initial_genome(n_in, n_out, 0.5, rng)
    for _ in range(n_mutations):
        g, _ = mutate(g, rng, inn, (0.2, 0.25, 0.05, 0.5), pool or activations.CONTROL_POOL)
    return g


@pytest.fixture
def root() -> Path:
    return ROOT
