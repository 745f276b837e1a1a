"""The paper's four columns for a control task (swing-up, biped, car racing).

For a network, each over the same ``episodes`` fresh episodes (common random numbers across
the columns, mean +- sd of the episode return):

1. random weights: every connection its own weight ~ U(-2, 2), drawn anew per episode
   (per-connection coefficients, shared weight 1);
2. random shared weight: one ``w ~ U(-2, 2)`` per episode on every connection;
3. tuned shared weight: the best ``w*`` of a sweep of ``sweep`` points over [-2, 2] (0 left
   out: it cuts every connection; each point scored on ``episodes`` sweep episodes of its own),
   then evaluated on the table's episodes;
4. tuned weights: per-connection offsets added to ``w*``, trained by PEPG
   (:mod:`src.report.tuning`), evaluated on the table's episodes.

:func:`fixed_topology` builds the paper's contrast: a small fully connected network (bias and
inputs -> one layer of tanh nodes -> outputs, plus bias -> outputs), analysed the same way
except that its weights are trained from 0 (``tune_from=0``), as one trains an ordinary
network: from its ``w*`` (-1.3 on our swing-up) every tanh node is saturated and PEPG does not
move (11 +- 2 after 150 generations, against 801 +- 9 from 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from ..core import activations, pepg
from ..core.genome import BIAS, HIDDEN, INPUT, OUTPUT, Genome
from ..core.weights import WEIGHT_RANGE  # random and swept shared weights (the paper's)
from . import tuning
from .episodes import Net, Runner, episode_seeds, generator
from .progress import Progress

CONDITIONS = ("random_weights", "random_shared", "tuned_shared", "tuned_weights")
TITLES = {
    "random_weights": "random weights",
    "random_shared": "random shared weight",
    "tuned_shared": "tuned shared weight",
    "tuned_weights": "tuned weights",
}


@dataclass(frozen=True)
class Budget:
    """How much the report may spend.

    Attributes:
        episodes: episodes per table cell, and per point of the sweep.
        sweep: points of the shared-weight sweep over [-2, 2].
        tune_generations: PEPG generations for the tuned weights.
        tune_popsize: PEPG candidates per generation (even).
        tune_episodes: episodes per candidate per generation.
        seed: the report seed (episode seeds, random weights, PEPG draws).
        sigma_init: PEPG's initial spread of the offsets.
        learning_rate: PEPG's Adam step size for the offsets.
    """

    episodes: int = 100
    sweep: int = 81
    tune_generations: int = 150
    tune_popsize: int = 64
    tune_episodes: int = 8
    seed: int = 0
    sigma_init: float = 0.1
    learning_rate: float = 0.1

    def pepg_config(self) -> pepg.PEPGConfig:
        return pepg.PEPGConfig(
            popsize=self.tune_popsize,
            sigma_init=self.sigma_init,
            learning_rate=self.learning_rate,
        )


@dataclass(frozen=True)
class Stat:
    """Mean and standard deviation of values; ``failed`` counts -inf/NaN ones (excluded)."""

    mean: float
    sd: float
    n: int
    failed: int = 0

    @classmethod
    def of(cls, values: np.ndarray) -> Stat:
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        ok = values[np.isfinite(values)]
        if not ok.size:
            return cls(float("nan"), float("nan"), len(values), len(values))
        return cls(float(ok.mean()), float(ok.std()), len(values), len(values) - len(ok))


@dataclass(frozen=True)
class NetworkResult:
    """Everything the report shows about one network.

    Attributes:
        key: short name ("wann", "fixed"), used in file names.
        label: name in tables and plots.
        net: the compiled network.
        sweep_weights: (s,) shared weights of the sweep.
        sweep: (s,) statistics of the sweep's episodes per weight.
        w_tuned: the best weight of the sweep.
        stats: statistics per condition (:data:`CONDITIONS`).
        tuned: (n_params,) trained weight per used connection (``tune_from + offset``).
        tune_from: where the trained weights started (``w_tuned``, or 0 for the fixed topology).
        tune: the PEPG run.
    """

    key: str
    label: str
    net: Net
    sweep_weights: np.ndarray
    sweep: list[Stat]
    w_tuned: float
    stats: dict[str, Stat]
    tuned: np.ndarray
    tune: tuning.TuneResult
    tune_from: float


def fixed_topology(n_inputs: int, n_outputs: int, n_hidden: int) -> Genome:
    """Bias and inputs fully connected to ``n_hidden`` tanh nodes, those and the bias to the
    outputs: ``(1 + n_inputs) * n_hidden + (n_hidden + 1) * n_outputs`` connections."""
    n_io = 1 + n_inputs + n_outputs
    hidden = np.arange(n_io, n_io + n_hidden)
    outputs = np.arange(1 + n_inputs, n_io)
    src = np.concatenate(
        [np.repeat(np.arange(1 + n_inputs), n_hidden), np.repeat(hidden, n_outputs)]
    )
    dst = np.concatenate([np.tile(hidden, 1 + n_inputs), np.tile(outputs, n_hidden)])
    src = np.concatenate([src, np.zeros(n_outputs, dtype=np.int64)])
    dst = np.concatenate([dst, outputs])
    kinds = np.concatenate(
        [[BIAS], np.full(n_inputs, INPUT), np.full(n_outputs, OUTPUT), np.full(n_hidden, HIDDEN)]
    )
    acts = np.where(kinds == HIDDEN, activations.TANH, activations.LINEAR)
    genome = Genome(
        node_id=np.arange(n_io + n_hidden),
        node_kind=kinds,
        node_act=acts,
        conn_src=src,
        conn_dst=dst,
        conn_enabled=np.ones(len(src), dtype=bool),
        conn_innov=np.arange(len(src)),
    )
    genome.validate()
    return genome


def sweep_weights(n_points: int) -> np.ndarray:
    """Shared weights of the sweep: ``n_points`` evenly spaced over [-2, 2], 0 left out.

    A shared weight of 0 silences every connection (each node computes ``act(0)``), so it
    says nothing about the topology; an odd ``n_points`` therefore gives ``n_points - 1``
    weights (81: steps of 0.05 without 0). One point: 1.0.
    """
    if n_points <= 1:
        return np.ones(1)
    ws = np.linspace(*WEIGHT_RANGE, n_points)
    return ws[np.abs(ws) > 1e-12]


#: The sweep runs in about this many blocks, each the executor's ranks kept busy, so its
#: progress can be told (results do not depend on the blocks: seeds are per episode).
SWEEP_BLOCKS = 10


def sweep_in_blocks(
    runner: Runner,
    genome: Genome,
    ws: np.ndarray,
    seeds: np.ndarray,
    stage: str,
    stream: TextIO | None,
) -> np.ndarray:
    """(len(ws), len(seeds)) returns: every weight on the same episode seeds, in blocks of
    weights with a progress line (:class:`~src.report.progress.Progress`) after each."""
    block = max(runner.executor.n_workers, -(-len(ws) // SWEEP_BLOCKS))
    progress = Progress(stage, len(ws), stream)
    parts = []
    for a in range(0, len(ws), block):
        part = ws[a : a + block]
        parts.append(runner.returns(genome, part, np.tile(seeds, (len(part), 1))))
        progress.step(len(part))
    return np.concatenate(parts) if parts else np.zeros((0, len(seeds)))


def analyse(
    net: Net,
    key: str,
    label: str,
    index: int,
    runner: Runner,
    budget: Budget,
    out_dir: Path,
    log: Callable[[str], None] = print,
    tune_from: float | None = None,
    progress: TextIO | None = None,
) -> NetworkResult:
    """The four columns for one network.

    Args:
        net: the network.
        key: short name, used for the tuning checkpoint ``out_dir/tune_<key>.npz``.
        label: name in progress lines.
        index: distinguishes the random draws of networks in one report.
        runner: evaluates episodes (through the executor).
        budget: episodes, sweep points, PEPG budget, seed.
        out_dir: the report folder.
        log: progress lines.
        tune_from: the weight every connection starts from in training (default ``w*``).
        progress: where the sweep's progress lines go (``None``: nowhere).
    """
    genome, e, seed = net.genome, budget.episodes, budget.seed
    ones = np.ones(e)

    ws = sweep_weights(budget.sweep)
    sweep_seeds = episode_seeds(seed, "sweep", e)
    sweep_returns = sweep_in_blocks(runner, genome, ws, sweep_seeds, f"sweep {key}", progress)
    sweep = [Stat.of(r) for r in sweep_returns]
    score = np.array([s.mean if s.failed == 0 else -np.inf for s in sweep])
    w_tuned = float(ws[int(np.argmax(np.nan_to_num(score, nan=-np.inf)))])
    log(f"{label}: sweep of {len(ws)} shared weights x {e} episodes: best w = {w_tuned:+.2f}")

    table_seeds = episode_seeds(seed, "table", e)
    random_coefs = generator(seed, "random_weights", index).uniform(
        *WEIGHT_RANGE, (e, net.n_params)
    )
    random_w = generator(seed, "random_shared", index).uniform(*WEIGHT_RANGE, e)
    stats = {
        "random_weights": Stat.of(runner.returns(genome, ones, table_seeds[:, None], random_coefs)),
        "random_shared": Stat.of(runner.returns(genome, random_w, table_seeds[:, None])),
        "tuned_shared": Stat.of(runner.returns(genome, [w_tuned], table_seeds[None])),
    }

    base = w_tuned if tune_from is None else float(tune_from)

    def fitness(generation: int, offsets: np.ndarray) -> np.ndarray:
        seeds = episode_seeds(seed, "tune", budget.tune_episodes, generation)
        returns = runner.returns(
            genome, np.ones(len(offsets)), np.tile(seeds, (len(offsets), 1)), base + offsets
        )
        return returns.mean(axis=1)

    config = budget.pepg_config()
    run_key = tuning.fingerprint(
        genome=genome.key().hex(),
        base=base,
        tune_episodes=budget.tune_episodes,
        seed=seed,
        index=index,
        config=runner.config.to_dict(),
    )
    log(
        f"{label}: training {net.n_params} connection weights from {base:+.2f} with PEPG "
        f"({config.popsize} candidates x {budget.tune_episodes} episodes, "
        f"{budget.tune_generations} generations)"
    )
    tune = tuning.optimise(
        fitness,
        np.zeros(net.n_params),
        config,
        budget.tune_generations,
        generator(seed, "pepg", index),
        checkpoint=out_dir / f"tune_{key}.npz",
        key=run_key,
        log=log,
        label=f"{label} PEPG",
    )
    tuned = base + tune.x
    stats["tuned_weights"] = Stat.of(runner.returns(genome, [1.0], table_seeds[None], tuned[None]))
    for c in CONDITIONS:
        s = stats[c]
        log(f"{label}: {TITLES[c]:22s} {s.mean:9.1f} +- {s.sd:7.1f} ({s.n} episodes)")
    return NetworkResult(key, label, net, ws, sweep, w_tuned, stats, tuned, tune, base)
