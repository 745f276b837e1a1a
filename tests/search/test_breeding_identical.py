"""Breeding is a pure function of the population, its objectives and the RNG, and the faster
implementation breeds exactly what the previous one did.

The digests below were recorded with the previous implementation (before breeding was made
faster, commit 7f3f1e8): any change to the populations bred, the innovation numbers or the
random draws consumed changes them.
"""

import hashlib

import numpy as np
import pytest

from src import config as cfg
from src.bench import legacy
from src.search import loop

#: (task, settings) -> digest of 30 generations of breeding, recorded before the speed-up.
RECORDED = {
    ("mnist256", ()): "894fbcba44caa2b3e81e1b6060a1aa4eacfce3730f5db1408caba130245b9322",
    (
        "mnist256",
        ("connect_outputs=true",),
    ): "3520519c3cc4f83b90df80943d86181ba875b95974f0999ad92df923a2f32a66",
    (
        "mnist256",
        ("mutation_no_op='clone'",),
    ): "ffee56b46306604177f421956089879b83380dda8e6a3edf7c81947e6b5b0702",
    (
        "swingup",
        # the rules of the recording
        ("add_connection='layered'", "duplicates='keep'", "complexity='inverse'"),
    ): "dbf858ad48419c2fa65664c8bee13f2fd1dbcc1c04a6f678c04017c8986d3fa4",
}


def breeding_digest(
    task: str, settings: tuple[str, ...], generations: int = 30, breed=loop.next_population
) -> str:
    """Digest of every population bred over ``generations`` with made-up objectives (a
    separate seeded generator, so selection pressure varies as in a search), and of the
    search RNG's state and the innovation counters at the end."""
    config = cfg.build(task, None, {"seed": 3, "pop_size": 120}, list(settings))
    state = loop.initial_state(config)
    scores = np.random.default_rng(11)
    h = hashlib.sha256()
    for _ in range(generations):
        conns = np.array([g.n_connections for g in state.population], dtype=np.float64)
        mean = scores.normal(size=len(conns)) - 0.01 * conns
        state.objectives = np.stack([mean, mean + np.abs(scores.normal(size=len(conns))), conns], 1)
        state.population = breed(state)
        state.generation += 1
        for g in state.population:
            for name in g.__dataclass_fields__:
                h.update(getattr(g, name).tobytes())
    h.update(repr(state.rng.bit_generator.state).encode())
    h.update(repr(state.innovations).encode())
    return h.hexdigest()


@pytest.mark.parametrize("task,settings", list(RECORDED))
def test_breeding_is_unchanged(task, settings):
    assert breeding_digest(task, settings) == RECORDED[(task, settings)]


def test_the_previous_breeding_kept_for_the_benchmark_is_the_recorded_one():
    """make bench times src.bench.legacy's breeding as the previous figure: it must be it."""
    digest = breeding_digest("mnist256", (), breed=legacy.next_population)
    assert digest == RECORDED[("mnist256", ())]
