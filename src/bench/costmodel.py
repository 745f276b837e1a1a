"""Cost-model tasks: rollouts that sleep as long as real ones compute, to emulate a cluster.

A sleeping rank costs no CPU, so ``mpiexec -n 128`` on a 2-core machine runs the real root
(breeding, ranking, dispatch, the MPI executor) against 127 workers that take as long as
biped or MNIST workers would (``src.bench.scale`` measures it; method and figures in
docs/mpi.md). Two tasks, named in ``module:factory`` form:

* ``src.bench.costmodel:biped``: 24 inputs -> 4 outputs like ``biped``. A rollout lasts
  ``RESET_S + steps * STEP_S``, its ``steps`` one of :data:`BIPED_STEPS`: episode lengths
  measured on this machine (10 initial genomes of the paper's biped config, 6 weights, one
  seed each; most fall within 150 steps, a few stand for all 1600). The genome picks one of
  the 10 measured genomes (so a genome's rollouts are alike, as in the real task), the
  (weight, seed) one of its 6 episodes.
* ``src.bench.costmodel:mnist``: 256 inputs -> 10 outputs like ``mnist256``; a rollout (one
  weight on a batch) lasts one of :data:`MNIST_ROLLOUT_S`, measured per genome the same way
  (20 initial genomes; an evaluation of 6 weights divided by 6).

Everything is a pure function of (network, weight, seed): the choice of episode and the
return come from a CRC of the compiled network and the rollout's weight and seed, never
from Python's per-process ``hash``. So results are identical at any number of ranks and a
run is reproducible, like a real task's. The "environment steps" a rollout reports are the
microseconds it slept, so a generation's ``env_steps`` in stats.csv is its total emulated
work, and ideal time / measured time is the executor's efficiency.

``WANN_COSTMODEL_SCALE`` (default 1) multiplies every duration (a faster emulation of the
same shape; shorter items are the harder case for the root).
"""

from __future__ import annotations

import os
import struct
import time
import zlib

import numpy as np

from ..core.network import Plan
from ..tasks import Task

#: Seconds per BipedalWalker-v3 step and per reset (issue 13's profile: ~160 CPU-us a step,
#: 3.6-4.5 ms a reset).
STEP_S, RESET_S = 160e-6, 4e-3
#: Episode lengths of 10 initial biped genomes (rows) x 6 weights (paper config, seed 1).
BIPED_STEPS = (
    (80, 94, 74, 147, 129, 129),
    (71, 103, 69, 111, 129, 129),
    (84, 106, 86, 129, 129, 129),
    (98, 82, 86, 72, 97, 114),
    (69, 69, 70, 114, 127, 126),
    (86, 1600, 69, 129, 129, 129),
    (74, 162, 87, 37, 128, 128),
    (56, 54, 87, 147, 40, 129),
    (1600, 1600, 68, 39, 146, 141),
    (1600, 69, 1600, 82, 130, 130),
)
#: Seconds per MNIST rollout (one weight, one batch of 1000 images) of 19 initial genomes:
#: their evaluation time (6 weights) over 6, measured with process time on this machine.
MNIST_ROLLOUT_S = tuple(
    ms / 6e3
    for ms in (4.07, 4.09, 3.88, 3.68, 4.15, 4.01, 4.18, 3.82, 3.81, 3.89)
    + (4.15, 4.22, 4.19, 4.03, 4.29, 4.19, 4.11, 3.91, 3.83)
)


def _crc(*parts: bytes) -> int:
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    return crc


def _network_crc(plan: Plan) -> int:
    return _crc(
        plan.order.tobytes(), plan.act.tobytes(), plan.indptr.tobytes(), plan.indices.tobytes()
    )


#: A rollout's key: (weight as float64, seed as int64, network CRC as uint32), little-endian,
#: the bytes ``np.float64(weight).tobytes() + np.int64(seed).tobytes() +
#: network.to_bytes(4, "little")``.
_KEY = struct.Struct("<dqI")


class CostModel(Task):
    """Rollouts that sleep for a measured episode's duration (see the module docstring)."""

    def __init__(self, name: str, n_inputs: int, n_outputs: int, profile: str) -> None:
        self.name, self.n_inputs, self.n_outputs, self.profile = name, n_inputs, n_outputs, profile
        self.scale = float(os.environ.get("WANN_COSTMODEL_SCALE", "1"))

    def duration_us(self, network: int, weight: float, seed: int) -> int:
        """Whole microseconds the rollout (network CRC, weight, seed) lasts."""
        return self._duration_us(network, zlib.crc32(_KEY.pack(weight, seed, network)))

    def _duration_us(self, network: int, pick: int) -> int:
        """:meth:`duration_us` from the CRC of the rollout's key (:data:`_KEY`)."""
        if self.profile == "biped":
            steps = BIPED_STEPS[network % len(BIPED_STEPS)][pick % 6]
            seconds = RESET_S + steps * STEP_S
        else:
            seconds = MNIST_ROLLOUT_S[network % len(MNIST_ROLLOUT_S)]
        return round(self.scale * seconds * 1e6)

    def rollouts(
        self,
        plan: Plan,
        weights: np.ndarray,
        seeds: np.ndarray,
        edge_coef: np.ndarray | None = None,
    ) -> tuple[np.ndarray, int]:
        # Cheap, so that a sleeping worker costs no CPU: one CRC of the rollout's key picks
        # the duration, and continuing it over b"r" gives the return (the CRC of key + b"r").
        network = _network_crc(plan)
        bonus = 0.01 * len(plan.indices)  # bigger networks score higher: the search goes on
        micros = 0
        returns = np.empty(len(weights))
        for i, (w, s) in enumerate(zip(np.asarray(weights).tolist(), np.asarray(seeds).tolist())):
            pick = zlib.crc32(_KEY.pack(w, s, network))
            micros += self._duration_us(network, pick)
            returns[i] = zlib.crc32(b"r", pick) / 2**32 + bonus
        if micros:  # sleep(0) still gives the core away (ms on a busy machine)
            time.sleep(micros / 1e6)
        return returns, micros

    def warmup(self) -> None:
        """Nothing to compile."""


def biped(config: object) -> CostModel:
    """``--task src.bench.costmodel:biped``."""
    return CostModel("costmodel-biped", 24, 4, "biped")


def mnist(config: object) -> CostModel:
    """``--task src.bench.costmodel:mnist``."""
    return CostModel("costmodel-mnist", 256, 10, "mnist")
