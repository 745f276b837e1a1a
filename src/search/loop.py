"""The WANN search loop (Gaier & Ha 2019, section 3).

One generation::

    population --evaluate--> objectives --report/checkpoint--> rank --vary--> next population

* evaluate: each distinct genome once (identical networks under the same seeds give identical
  returns; elites and clones are served from that), in chunks through ``executor.map``.
* rank: NSGA-II fronts and crowding on (mean, 1/connections) or (mean, max) (``ranking =
  "paper"``), or on all three objectives (``"nsga3obj"``). A genome whose network produced
  NaN/inf has mean reward -inf; for ranking it counts as just below the worst finite score.
* vary: cull the worst ``cull_ratio``, copy the best ``elite_ratio`` unchanged, fill the rest
  with one-mutation children of tournament winners.

All randomness of the search comes from ``state.rng`` on the root; rollouts use seeds derived
from (seed, generation, rep). So a run is a pure function of its config, whatever the number
of ranks, and a checkpointed state resumes bit for bit.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..config import WannConfig
from ..core.genome import Genome, Innovations, initial_genome
from ..core.ranking import rank_population, tournament
from ..core.variation import mutate
from ..evaluation import EvalRequest, EvalResult, evaluate, objectives
from ..parallel import chunk_size
from ..tasks import activation_pool, make_task

STATS_COLUMNS = (
    "generation",
    "evaluations",
    "distinct",
    "env_steps",
    "best_mean",
    "best_max",
    "median_mean",
    "median_connections",
    "seconds",
)


class Executor(Protocol):
    n_workers: int
    n_ranks: int

    def map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]: ...


@dataclass
class SearchState:
    """Everything a search needs to go on; what a checkpoint holds.

    Attributes:
        config: the run config.
        generation: index of ``population``'s generation.
        population: the genomes of that generation.
        objectives: (pop_size, 3) mean reward, max reward, connections; ``None`` until evaluated.
        rng: the search's only random generator (ranking draws, tournaments, mutations).
        innovations: run-wide node id / innovation counters.
        history: one dict per finished generation (the rows of stats.csv).
        best: best genome so far by mean reward, with its scores (``best_info``).
    """

    config: WannConfig
    generation: int
    population: list[Genome]
    objectives: np.ndarray | None
    rng: np.random.Generator
    innovations: Innovations
    history: list[dict[str, float]] = field(default_factory=list)
    best: Genome | None = None
    best_info: dict[str, Any] = field(default_factory=dict)


def snapshot(state: SearchState) -> SearchState:
    """A copy of ``state`` that later generations leave unchanged (to checkpoint it later).

    Genomes and objective arrays are never modified in place, so they are shared; the RNG,
    the innovation counters and the lists are copied.
    """
    return replace(
        state,
        population=list(state.population),
        rng=copy.deepcopy(state.rng),
        innovations=copy.copy(state.innovations),
        history=list(state.history),
        best_info=dict(state.best_info),
    )


def initial_state(config: WannConfig) -> SearchState:
    """Generation 0: ``pop_size`` initial genomes drawn from ``default_rng(config.seed)``."""
    task = make_task(config)
    rng = np.random.default_rng(config.seed)
    population = [
        initial_genome(task.n_inputs, task.n_outputs, config.prob_init_enable, rng)
        for _ in range(config.pop_size)
    ]
    return SearchState(
        config=config,
        generation=0,
        population=population,
        objectives=None,
        rng=rng,
        innovations=Innovations.start(task.n_inputs, task.n_outputs),
    )


def rankable(objs: np.ndarray) -> np.ndarray:
    """Objectives with non-finite rewards replaced by (worst finite value - 1) per column."""
    out = np.array(objs, dtype=np.float64, copy=True)
    for col in (0, 1):
        bad = ~np.isfinite(out[:, col])
        if bad.any():
            finite = out[~bad, col]
            out[bad, col] = (finite.min() if finite.size else 0.0) - 1.0
    return out


def next_population(state: SearchState) -> list[Genome]:
    """Rank the evaluated population and build the next one (consumes ``state.rng``)."""
    return list(breed(state))


def breed(state: SearchState) -> Iterator[Genome]:
    """The next population one genome at a time: the elites, then each child as it is made.

    Lazy, so the search can send the first genomes out for evaluation while it still breeds
    the rest (``evaluate_population(state, executor, breed(state))``). Ranking and
    tournaments happen at the first ``next()``; ``state.rng`` is drawn from exactly as by
    :func:`next_population`. The parents and objectives are taken now.
    """
    config, pop, rng, objs = state.config, list(state.population), state.rng, state.objectives
    assert objs is not None
    innovations = state.innovations

    def genomes() -> Iterator[Genome]:
        ranks = rank_population(rankable(objs), config.ranking, rng, config.prob_moo)
        order = np.argsort(ranks, kind="stable")
        n = config.pop_size
        n_parents = max(1, len(pop) - int(math.floor(config.cull_ratio * len(pop))))
        n_elite = min(int(math.floor(config.elite_ratio * n)), n)
        winners = tournament(ranks, order[:n_parents], n - n_elite, config.tourn_size, rng)
        yield from (pop[i] for i in order[:n_elite])
        pool = activation_pool(config, make_task(config))
        for i in winners.tolist():
            child, _ = mutate(
                pop[i], rng, innovations, config.mutation_probs, pool, config.connect_outputs
            )
            yield child

    return genomes()


def evaluate_population(
    state: SearchState, executor: Executor, population: Iterable[Genome] | None = None
) -> tuple[np.ndarray, int, int, float]:
    """Evaluate each distinct genome once; returns (objectives, distinct, env_steps, busy s).

    ``population``: the genomes, possibly lazy (:func:`breed`); they become
    ``state.population``. Chunks (:func:`src.parallel.chunk_size`) are cut as the genomes
    come, so the first ones are evaluated while the rest are still being bred. Default:
    ``state.population``. The chunking never changes a result: each genome's returns depend
    on the genome and the generation's seeds only.
    """
    config = state.config
    source = state.population if population is None else population
    expected = len(state.population) if population is None else config.pop_size
    members: list[Genome] = []
    keys: list[bytes] = []
    first: dict[bytes, int] = {}

    def requests() -> Iterator[EvalRequest]:
        chunk: list[Genome] = []
        want = chunk_size(expected, executor.n_workers, config.chunk_genomes)
        for genome in source:
            members.append(genome)
            keys.append(genome.key())
            if keys[-1] in first:
                continue
            first[keys[-1]] = len(members) - 1
            chunk.append(genome)
            if len(chunk) >= want:
                yield EvalRequest.of(config, state.generation, chunk)
                chunk = []
                # distinct genomes still to come, guessed from the share of duplicates so far
                left = max(1, round((expected - len(members)) * len(first) / len(members)))
                want = chunk_size(left, executor.n_workers, config.chunk_genomes)
        if chunk:
            yield EvalRequest.of(config, state.generation, chunk)

    results: list[EvalResult] = executor.map(evaluate, requests())
    state.population = members
    distinct = list(first.values())
    returns = np.concatenate([r.returns for r in results])
    by_key = {keys[i]: returns[j] for j, i in enumerate(distinct)}
    all_returns = np.stack([by_key[k] for k in keys])
    conns = np.array([g.n_connections for g in members])
    objs = objectives(all_returns, conns)
    return (
        objs,
        len(distinct),
        sum(r.env_steps for r in results),
        sum(r.busy_seconds for r in results),
    )


def _update_best(state: SearchState) -> None:
    objs = state.objectives
    assert objs is not None
    i = int(np.argmax(rankable(objs)[:, 0]))
    if state.best is None or objs[i, 0] > state.best_info["mean_reward"]:
        state.best = state.population[i]
        state.best_info = {
            "generation": state.generation,
            "mean_reward": float(objs[i, 0]),
            "max_reward": float(objs[i, 1]),
            "n_connections": int(objs[i, 2]),
        }


class Reporter:
    """Progress lines on stdout, ``stats.csv`` and ``best_genome.json`` in the run folder."""

    def __init__(
        self, out_dir: Path, log: Callable[[str], None] = print, first_note: str = ""
    ) -> None:
        self.out_dir = out_dir
        self.log = log
        #: appended to the first progress line of this process (e.g. the JIT warm-up time)
        self.first_note = first_note

    def restart(self, state: SearchState) -> None:
        """Rewrite stats.csv and best_genome.json from a resumed state, atomically.

        Rows a killed run appended after its last checkpoint are dropped, so the rows that the
        resumed run appends do not duplicate them.
        """
        tmp = self.out_dir / "stats.csv.tmp"
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=STATS_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in state.history:
                writer.writerow({k: _fmt(row[k]) for k in STATS_COLUMNS})
        tmp.replace(self.out_dir / "stats.csv")
        if state.best is not None:
            tmp = self.out_dir / "best_genome.json.tmp"
            tmp.write_text(state.best.to_json(task=state.config.task, **state.best_info))
            tmp.replace(self.out_dir / "best_genome.json")

    def generation(self, state: SearchState, row: dict[str, float], n_ranks: int) -> None:
        stats = self.out_dir / "stats.csv"
        new = not stats.exists()
        with open(stats, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=STATS_COLUMNS, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({k: _fmt(row[k]) for k in STATS_COLUMNS})
        if state.best is not None and state.best_info.get("generation") == state.generation:
            tmp = self.out_dir / "best_genome.json.tmp"
            tmp.write_text(state.best.to_json(task=state.config.task, **state.best_info))
            tmp.replace(self.out_dir / "best_genome.json")
        secs = row["seconds"]
        msteps = row["env_steps"] / secs / 1e6
        self.log(
            f"gen {int(row['generation']):5d} | best mean {row['best_mean']:9.2f} "
            f"max {row['best_max']:9.2f} | med conns {row['median_connections']:5.0f} | "
            f"{int(row['evaluations'])} evals ({int(row['distinct'])} run) "
            f"{row['evaluations'] / secs:8.0f}/s | {msteps:6.2f} M steps/s | "
            f"{n_ranks} ranks, busy {row['busy']:4.0%} | {secs:6.2f} s{self.first_note}"
        )
        self.first_note = ""


def _fmt(v: float) -> str:
    if isinstance(v, (int, np.integer)) or (
        isinstance(v, float) and v.is_integer() and abs(v) < 1e15
    ):
        return str(int(v))
    return repr(float(v))


def run(
    state: SearchState,
    executor: Executor,
    reporter: Reporter,
    on_generation: Callable[[SearchState], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> SearchState:
    """Run generations until ``config.generations`` are done or ``should_stop()`` says so.

    ``state`` is either unevaluated (a fresh start) or evaluated (from a checkpoint: the next
    population is bred first). ``on_generation`` (checkpointing) is called after each
    generation is evaluated and reported; ``should_stop`` is polled right after it.
    """
    config = state.config
    while True:
        if state.objectives is not None:
            if state.generation + 1 >= config.generations:
                return state
            population = breed(state)  # bred while the first chunks are evaluated
            state.generation += 1
            state.objectives = None
        else:
            population = None
        start = time.perf_counter()
        objs, distinct, steps, busy = evaluate_population(state, executor, population)
        state.objectives = objs
        _update_best(state)
        seconds = time.perf_counter() - start
        row = {
            "generation": state.generation,
            "evaluations": len(state.population),
            "distinct": distinct,
            "env_steps": steps,
            "best_mean": float(objs[:, 0].max()),
            "best_max": float(objs[:, 1].max()),
            "median_mean": float(np.median(rankable(objs)[:, 0])),
            "median_connections": float(np.median(objs[:, 2])),
            "seconds": seconds,
            "busy": min(1.0, busy / max(seconds * executor.n_workers, 1e-12)),
        }
        state.history.append(row)
        reporter.generation(state, row, executor.n_ranks)
        if on_generation is not None:
            on_generation(state)
        if should_stop():
            return state


def write_config(config: WannConfig, path: Path) -> None:
    """The full config as flat TOML (reusable with ``--config``)."""
    lines = ["# Full configuration of this run (usable with --config)."]
    for key, value in config.to_dict().items():
        lines.append(f"{key} = {json.dumps(list(value) if isinstance(value, tuple) else value)}")
    path.write_text("\n".join(lines) + "\n")
