"""Checkpoint cost at population 960 (MNIST-256, the paper's population-960 task) against the
time of one generation.

The issue's target: writing a checkpoint costs well under 1 % of a generation. Measured here:
the synchronous ``checkpoint.save`` (encode, HDF5 write, fsync, rename, prune), its file size
and load time, for a population grown by random mutations to hidden nodes and extra
connections, and one generation of MNIST-256 evaluated serially on this machine. Under MPI the
root writes the checkpoint while the workers already evaluate the next generation
(``executor.defer``), so there it is hidden entirely; the serial ratio is the worst case.
The authors' code had no checkpoints at all: its ``wann_train.py`` (WANNRelease,
https://github.com/google/brain-tokyo-workshop/tree/master/WANNRelease) saves the population
only when the run ends, and cannot resume.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from ..config import build
from ..core.variation import mutate
from ..parallel import SerialExecutor
from ..search import checkpoint, loop
from ..tasks import activation_pool, make_task

POP = 960


def grown_state(task: str, max_mutations: int, seed: int = 0) -> loop.SearchState:
    """An evaluated-looking state of ``POP`` genomes, each 0..max_mutations mutations old."""
    config = build(task, overrides={"pop_size": POP, "generations": 2, "seed": seed})
    state = loop.initial_state(config)
    rng = np.random.default_rng(seed)
    pool = activation_pool(config, make_task(config))
    grown = []
    for g in state.population:
        for _ in range(int(rng.integers(0, max_mutations + 1))):
            g, _ = mutate(g, rng, state.innovations, config.mutation_probs, pool, False)
        grown.append(g)
    state.population = grown
    conns = np.array([g.n_connections for g in grown], dtype=np.float64)
    state.objectives = np.stack([rng.normal(size=POP), rng.normal(size=POP), conns], axis=1)
    row = dict.fromkeys(loop.STATS_COLUMNS, 0.5) | {"busy": 1.0}
    state.history = [dict(row, generation=i) for i in range(200)]
    state.generation = 199
    state.best, state.best_info = grown[0], {"generation": 0, "mean_reward": 1.0}
    return state


def time_save(state: loop.SearchState, repeats: int) -> dict[str, float]:
    """Fastest of ``repeats`` saves (wall and CPU seconds), encode time, load time, bytes."""
    out = {"save": np.inf, "save_cpu": np.inf, "encode": np.inf}
    with tempfile.TemporaryDirectory(prefix="wann-bench-") as tmp:
        for _ in range(repeats):
            t0 = time.perf_counter()
            checkpoint.encode_population(state.population)
            out["encode"] = min(out["encode"], time.perf_counter() - t0)
            t0, c0 = time.perf_counter(), time.process_time()
            path = checkpoint.save(state, Path(tmp))
            out["save"] = min(out["save"], time.perf_counter() - t0)
            out["save_cpu"] = min(out["save_cpu"], time.process_time() - c0)
        t0 = time.perf_counter()
        back = checkpoint.load(path)
        out["load"] = time.perf_counter() - t0
        out["bytes"] = path.stat().st_size
        assert back.population == state.population
    return out


def generation_seconds(state: loop.SearchState, quick: bool) -> tuple[float, float, str]:
    """Wall and CPU seconds of evaluating one generation serially (quick: a tenth, scaled)."""
    make_task(state.config).warmup()
    part, factor = state, 1.0
    if quick:
        part = loop.SearchState(**{**state.__dict__, "population": state.population[: POP // 10]})
        factor = 10.0
    t0, c0 = time.perf_counter(), time.process_time()
    loop.evaluate_population(part, SerialExecutor())
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall * factor, cpu * factor, "96 genomes timed, x10" if quick else "960 genomes"


def run(quick: bool) -> None:
    print(
        f"population {POP}; save = encode + HDF5 write + fsync + rename (fastest of several); "
        "generation = one serial evaluation on this machine. Wall times depend on the load; "
        "CPU times (this process) much less."
    )
    print(
        "| task | conns/genome | file | encode | save wall / CPU | load | generation wall / CPU "
        "| save/generation wall / CPU |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for task, mutations in (("mnist256", 60), ("swingup", 60)):
        state = grown_state(task, mutations)
        t = time_save(state, 3 if quick else 7)
        gen, gen_cpu, how = generation_seconds(state, quick)
        conns = np.mean([len(g.conn_src) for g in state.population])
        print(
            f"| {task} | {conns:.0f} | {t['bytes'] / 1e6:.1f} MB | {t['encode'] * 1e3:.0f} ms "
            f"| {t['save'] * 1e3:.0f} / {t['save_cpu'] * 1e3:.0f} ms | {t['load'] * 1e3:.0f} ms "
            f"| {gen:.2f} / {gen_cpu:.2f} s ({how}) "
            f"| {100 * t['save'] / gen:.2f} % / {100 * t['save_cpu'] / gen_cpu:.2f} % |"
        )
    print(
        "Under MPI the save runs on the root while the workers evaluate (executor.defer): "
        "the generation does not wait for it. Reference code: no checkpoints."
    )
