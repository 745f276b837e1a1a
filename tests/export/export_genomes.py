"""Genomes for the export tests: grown by mutation with every activation, and the champions."""

from __future__ import annotations

import numpy as np
from harness import ROOT

from src.core import activations
from src.core.genome import Genome, Innovations, initial_genome
from src.core.variation import mutate

#: The authors' published champions, copied into the repository (their README says whence).
CHAMPIONS = ROOT / "docs" / "champions"
#: champion file -> task
CHAMPION_TASKS = {"swing.out": "swingup", "biped.out": "biped", "racer.out": "carracing"}
#: shared weights the forward passes are compared at: the search's series and two others
WEIGHTS = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 1.37, -0.03)


def grown(
    n_in: int, n_out: int, n_mutations: int, seed: int, connect_outputs: bool = False
) -> Genome:
    """A genome after ``n_mutations`` mutations (mostly new nodes and connections), hidden
    activations from every registered one, some connections disabled."""
    rng = np.random.default_rng(seed)
    inn = Innovations.start(n_in, n_out)
    g = initial_genome(n_in, n_out, 0.5, rng)
    pool = activations.CONTROL_POOL
    for _ in range(n_mutations):
        g, _ = mutate(g, rng, inn, (0.35, 0.35, 0.1, 0.2), pool, connect_outputs)
    return g


def grown_set() -> list[tuple[str, Genome]]:
    """(label, genome): 15 to 100 nodes, with and without outputs as sources. Their outputs
    agree with the reference's to 1e-12 at every weight of :data:`WEIGHTS`."""
    cases = [(0, 3, 1, 20, False), (1, 5, 2, 60, False), (2, 8, 3, 120, False)]
    cases += [(5, 24, 4, 200, False), (3, 4, 3, 80, True), (6, 6, 2, 150, True)]
    return [_labelled(*case) for case in cases]


def ill_conditioned_set() -> list[tuple[str, Genome]]:
    """(label, genome): genomes whose chains of sin and cos (times pi, times |w| = 2) grow a
    rounding difference of 1e-16 (the order of a sum) to 1e-10: two correct forward passes
    agree to ~1e-10 only. Found among seeds like the ones above."""
    return [_labelled(4, 6, 2, 70, True), _labelled(3, 24, 4, 200, False)]


def _labelled(seed: int, n_in: int, n_out: int, n_mut: int, co: bool) -> tuple[str, Genome]:
    """(label, genome) of :func:`grown` with these arguments."""
    label = f"grown{seed}-{n_in}x{n_out}" + ("-outputs-as-sources" if co else "")
    return label, grown(n_in, n_out, n_mut, seed, co)


def observations(n_in: int, seed: int = 0, n: int = 64) -> np.ndarray:
    """A batch of inputs: normal draws of a few scales, and some exact zeros."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_in)) * rng.choice([0.1, 1.0, 3.0], size=(n, 1))
    x[:4] = 0.0
    return x
