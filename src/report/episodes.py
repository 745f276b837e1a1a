"""Episodes of the report: seeds, per-connection coefficients, and batched, distributed rollouts.

Every number of the report comes from :func:`run_rollouts` on a :class:`RolloutRequest`: a
small frozen dataclass (the run config, one packed genome, a shared weight and an optional
coefficient vector per row, the episode seeds of each row), so the requests travel through
``executor.map`` to MPI workers exactly like the search's ``EvalRequest``.

Seeds: the report draws its own episode seeds and random weights from
``SeedSequence([report_seed, REPORT_TAG, stream, *key])``. The search derives its rollout seeds
from ``SeedSequence([seed, generation])`` (two words), so the report never replays the
episodes the champion was selected on, and each stream (sweep, table, tuning, random draws)
has episodes of its own.

Per-connection parameters: the random and tuned weights are one value per *connection* of the
genome that the compiled plan uses (enabled and on a path to an output), in the order of the
genome's connection arrays; :class:`Net` maps them onto the plan's edges via
``plan.edge_conn``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..config import WannConfig
from ..core.genome import Genome, pack, unpack
from ..core.network import Plan, compile_genome
from ..parallel import Executor, chunk_bounds
from ..tasks import make_task

#: Second entropy word of every report seed (the search uses two-word seeds only).
REPORT_TAG = 0x52455054  # "REPT"
#: Seed streams of the report, so that no two purposes share episodes.
STREAMS = {
    "sweep": 1,
    "table": 2,
    "tune": 3,
    "random_weights": 4,
    "random_shared": 5,
    "pepg": 6,
    "video": 7,
    "balance": 8,
}


def seed_sequence(report_seed: int, stream: str, *key: int) -> np.random.SeedSequence:
    """The seed sequence of one stream of the report (``key`` refines it, e.g. a generation)."""
    return np.random.SeedSequence([report_seed, REPORT_TAG, STREAMS[stream], *key])


def episode_seeds(report_seed: int, stream: str, n: int, *key: int) -> np.ndarray:
    """(n,) int64 episode seeds of a stream, a pure function of the arguments."""
    words = seed_sequence(report_seed, stream, *key).generate_state(n, dtype=np.uint32)
    return words.astype(np.int64)


def generator(report_seed: int, stream: str, *key: int) -> np.random.Generator:
    """A generator for the random draws of a stream (random weights, PEPG perturbations)."""
    return np.random.default_rng(seed_sequence(report_seed, stream, *key))


@dataclass(frozen=True)
class Net:
    """A genome compiled, with the map from its used connections to the plan's edges.

    Attributes:
        genome: the topology.
        plan: ``compile_genome(genome)``.
        conns: (n_params,) indices (into the genome's connection arrays) of the connections the
            plan uses, ascending: the per-connection parameters follow this order.
        edge_param: (plan.n_edges,) parameter index of each plan edge.
    """

    genome: Genome
    plan: Plan
    conns: np.ndarray
    edge_param: np.ndarray

    @classmethod
    def of(cls, genome: Genome) -> Net:
        plan = compile_genome(genome)
        conns = np.unique(plan.edge_conn)
        return cls(genome, plan, conns, np.searchsorted(conns, plan.edge_conn))

    @property
    def n_params(self) -> int:
        return len(self.conns)

    def edge_coef(self, per_connection: np.ndarray) -> np.ndarray:
        """(n_edges,) plan edge coefficients from (n_params,) per-connection values."""
        return np.asarray(per_connection, dtype=np.float64)[self.edge_param]


@dataclass(frozen=True)
class RolloutRequest:
    """Episodes of one genome, row by row.

    Row ``i`` runs one episode per seed in ``seeds[i]`` with shared weight ``weights[i]`` and,
    if ``coefs`` is given, connection ``j`` (of :attr:`Net.conns`) scaled by ``coefs[i, j]``.

    Attributes:
        config: the run config (task and its settings, e.g. ``episode_steps``).
        genome: ``pack([genome])``.
        weights: (k,) shared weight per row.
        coefs: (k, n_params) per-connection coefficients, or ``None`` for all ones.
        seeds: (k, m) episode seeds.
    """

    config: WannConfig
    genome: dict[str, np.ndarray]
    weights: np.ndarray
    coefs: np.ndarray | None
    seeds: np.ndarray


@dataclass(frozen=True)
class RolloutResult:
    """Returns of a request: ``returns`` (k, m) (-inf where the network gave NaN/inf),
    environment steps simulated, seconds the evaluating rank spent."""

    returns: np.ndarray
    env_steps: int
    busy_seconds: float


def run_rollouts(request: RolloutRequest) -> RolloutResult:
    """Run every episode of a request (on any rank). Without coefficients, one kernel call."""
    start = time.perf_counter()
    task = make_task(request.config)
    net = Net.of(unpack(request.genome)[0])
    weights = np.asarray(request.weights, dtype=np.float64)
    seeds = np.asarray(request.seeds, dtype=np.int64)
    k, m = seeds.shape
    if request.coefs is None:
        flat, steps = task.rollouts(net.plan, np.repeat(weights, m), seeds.reshape(-1))
        returns = flat.reshape(k, m)
    else:
        returns = np.empty((k, m))
        steps = 0
        for i in range(k):
            returns[i], n = task.rollouts(
                net.plan, np.full(m, weights[i]), seeds[i], net.edge_coef(request.coefs[i])
            )
            steps += n
    return RolloutResult(returns, int(steps), time.perf_counter() - start)


class Runner:
    """Cuts rows of episodes into requests and maps them over an executor.

    Args:
        config: the run config.
        executor: where the episodes run (serial, a local pool or MPI).

    Attributes:
        env_steps: environment steps simulated so far.
        episodes: episodes run so far.
    """

    def __init__(self, config: WannConfig, executor: Executor) -> None:
        self.config = config
        self.executor = executor
        self.env_steps = 0
        self.episodes = 0

    def returns(
        self,
        genome: Genome,
        weights: np.ndarray,
        seeds: np.ndarray,
        coefs: np.ndarray | None = None,
    ) -> np.ndarray:
        """(k, m) episode returns of rows (see :class:`RolloutRequest`)."""
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        seeds = np.asarray(seeds, dtype=np.int64).reshape(len(weights), -1)
        packed = pack([genome])
        n_workers = self.executor.n_workers
        requests = [
            RolloutRequest(
                self.config,
                packed,
                weights[a:b],
                None if coefs is None else np.asarray(coefs[a:b], dtype=np.float64),
                seeds[a:b],
            )
            for a, b in chunk_bounds(len(weights), n_workers)
        ]
        results: list[RolloutResult] = self.executor.map(run_rollouts, requests)
        self.env_steps += sum(r.env_steps for r in results)
        self.episodes += seeds.size
        if not results:
            return np.zeros(seeds.shape)
        return np.concatenate([r.returns for r in results])
