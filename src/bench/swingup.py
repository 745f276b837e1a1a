"""Swing-up speed: env steps/s per core, forward-pass cost, lanes vs one-by-one, a laptop search.

Reference figures (the authors' code, WANNRelease,
https://github.com/google/brain-tokyo-workshop/tree/master/WANNRelease, measured on this kind
of machine): a Python loop
over nodes at ~3 us per node (68 us a forward pass for the 29-node champion, 242 us for a
103-node network), one env step 11 us, a champion episode 85 ms (84 us a step), and an early
search at ~36 k env steps per CPU-second.

The lane kernel (all rollouts of a genome stepped together, the search's kernel) is also
timed against the one-by-one kernel it replaced (``_swingup_rollouts_reference``) on the same
genomes and seeds in this process, alternating call by call so both see the same machine
load, in CPU time per env step; the two must return identical results, and the line says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np

from ..config import build
from ..core import activations, jitcache
from ..core.genome import Genome, Innovations, initial_genome
from ..core.network import Plan, compile_genome
from ..core.variation import mutate
from ..evaluation import rollout_seeds
from ..search import loop
from ..tasks import make_task, swingup
from ..tasks.swingup import network_step

REF_FORWARD_US = {7: 3.0 * 7, 29: 68.0, 103: 242.0}  # ~3 us per node; measured for 29 and 103
REF_STEP_US = 84.0  # champion episode: 85 ms / 1000 steps (network + env)
REF_EARLY_STEPS_PER_CPU_S = 36e3
WEIGHTS = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])


def network_of(n_nodes: int, seed: int = 0) -> Genome:
    """A swing-up genome grown by random add-node/add-connection mutations to ``n_nodes``."""
    rng = np.random.default_rng(seed)
    inn = Innovations.start(5, 1)
    g = initial_genome(5, 1, 1.0, rng)
    while g.n_nodes < n_nodes:
        g, _ = mutate(g, rng, inn, (0.45, 0.55, 0.0, 0.0), activations.CONTROL_POOL)
    return g


@numba.njit(cache=True)
def _forward_loop(values, order, act, indptr, indices, coef, n):
    acc = 0.0
    for i in range(n):
        values[1] = i * 1e-6
        network_step(values, order, act, indptr, indices, coef, 0.5, False)
        acc += values[order[-1]]
    return acc


jitcache.key_on_sources([_forward_loop], (*swingup.KERNEL_SOURCES, Path(__file__)))


def forward_us(plan: Plan, n: int = 200_000) -> float:
    """Microseconds per forward pass of the compiled network (one input vector)."""
    values = np.zeros(plan.n_nodes)
    values[0] = 1.0
    coef = np.ones(plan.n_edges)
    args = (values, plan.order, plan.act, plan.indptr, plan.indices, coef)
    _forward_loop(*args, 10)
    start = time.perf_counter()
    _forward_loop(*args, n)
    return (time.perf_counter() - start) / n * 1e6


def steps_per_second(plan: Plan, seconds: float) -> float:
    """Env steps per second of full rollouts (6 weights x 3 reps per call), one core."""
    task = make_task(build("swingup", sets=["swingup_math='libm'"]))
    w = np.repeat(WEIGHTS, 3)
    total_steps, total_time, rep = 0, 0.0, 0
    while total_time < seconds:
        seeds = np.tile(rollout_seeds(0, rep, 3), len(WEIGHTS))
        start = time.perf_counter()
        _, steps = task.rollouts(plan, w, seeds)
        total_time += time.perf_counter() - start
        total_steps += steps
        rep += 1
    return total_steps / total_time


def alternate(
    pairs: list[tuple[swingup.SwingUp, Callable]],
    plans: list[Plan],
    seconds: float,
    reps: int = 3,
    stream: int = 1,
) -> tuple[float, float, float, bool]:
    """CPU ns per env step of two (task, rollout kernel) pairs on the same rollouts.

    Each plan gets 6 weights x ``reps`` rollouts on a new generation's seeds (of run seed
    ``stream``) each round; the kernel gets its task's ``kernel_args`` (built untimed), and
    the two pairs alternate call by call (which goes first alternates too) until each has
    run ``seconds`` of CPU time.

    Returns:
        (first ns/step, second ns/step, env steps per rollout of the first, whether the two
        returned the same results bit for bit).
    """
    w = np.repeat(WEIGHTS, reps)
    for task, kernel in pairs:  # compile or load from the cache before timing
        kernel(*task.kernel_args(plans[0], w[:1], np.zeros(1, dtype=np.int64)))
    cpu = [0.0, 0.0]
    steps = [0, 0]
    identical = True
    calls = 0
    while min(cpu) < seconds:
        seeds = np.tile(rollout_seeds(stream, calls, reps), len(WEIGHTS))
        for plan in plans:
            out: list[tuple[np.ndarray, int]] = [(np.zeros(0), 0), (np.zeros(0), 0)]
            for k in (0, 1) if calls % 2 == 0 else (1, 0):
                task, kernel = pairs[k]
                args = task.kernel_args(plan, w, seeds)
                start = time.process_time()
                out[k] = kernel(*args)
                cpu[k] += time.process_time() - start
                steps[k] += out[k][1]
            identical &= out[0][1] == out[1][1] and out[0][0].tobytes() == out[1][0].tobytes()
            calls += 1
    per_rollout = steps[0] / (calls * len(w))
    return cpu[0] / steps[0] * 1e9, cpu[1] / steps[1] * 1e9, per_rollout, identical


def kernels_ns_per_step(
    task: swingup.SwingUp, plans: list[Plan], seconds: float, reps: int = 3
) -> tuple[float, float, float, bool]:
    """CPU ns per env step of the one-by-one and the lane kernel on the same rollouts
    (:func:`alternate`).

    Returns:
        (one-by-one ns/step, lanes ns/step, env steps per rollout, results identical).
    """
    pairs = [(task, swingup._swingup_rollouts_reference), (task, swingup._swingup_rollouts)]
    return alternate(pairs, plans, seconds, reps)


def committed_champions() -> list[Plan]:
    """The committed paper-budget swing-up champions (docs/results/swingup/**/seed_*/), as
    plans: networks as a late search has them, unlike the bench's randomly grown ones."""
    root = Path(__file__).resolve().parents[2] / "docs" / "results" / "swingup"
    files = sorted(root.glob("*seed_*/best_genome.json")) + sorted(
        root.glob("*/seed_*/best_genome.json")
    )
    return [compile_genome(Genome.from_dict(json.loads(f.read_text()))) for f in files]


def math_ns_per_step(plans: list[Plan], seconds: float, reps: int = 3) -> tuple[float, float]:
    """CPU ns per env step of the lane kernel with ``swingup_math`` 'libm' and 'fast' on the
    same plans and seeds (:func:`alternate`).

    Returns:
        (libm ns/step, fast ns/step).
    """
    lanes = swingup._swingup_rollouts
    pairs = [(swingup.SwingUp(math="libm"), lanes), (swingup.SwingUp(math="fast"), lanes)]
    libm_ns, fast_ns, _, _ = alternate(pairs, plans, seconds, reps, stream=2)
    return libm_ns, fast_ns


def _kernel_line(label: str, figures: tuple[float, float, float, bool]) -> str:
    ref_ns, ns, per_rollout, identical = figures
    return (
        f"{label} | {per_rollout:6.0f} | {ns:6.0f} ({ref_ns:6.0f}) | {ref_ns / ns:5.2f}x |"
        f" {'yes' if identical else 'NO'}"
    )


def laptop_generation(generations: int) -> tuple[list[tuple[int, float, int]], list[Genome]]:
    """(generation, seconds, env steps) of each generation of a serial laptop swing-up search,
    and its last population."""
    config = build(
        "swingup",
        "src/configs/swingup_laptop.toml",
        {"generations": generations},
        ["swingup_math='libm'"],  # the figures before swing-up's default became 'fast'
    )
    from ..parallel import SerialExecutor

    state = loop.initial_state(config)
    make_task(config).warmup()
    out = []
    ex = SerialExecutor()
    for g in range(generations):
        if g:
            state.population = loop.next_population(state)
            state.generation += 1
        start = time.perf_counter()
        state.objectives, _, steps, _ = loop.evaluate_population(state, ex)
        out.append((g, time.perf_counter() - start, steps))
    return out, list(state.population)


def run(quick: bool = False) -> None:
    budget = 0.5 if quick else 2.0
    task = make_task(build("swingup", sets=["swingup_math='libm'"]))
    task.warmup()
    print("network (nodes/conns) | forward us (ref) | ratio | env steps/s/core (ref) | ratio")
    for n in (7, 29, 103):
        g = network_of(n)
        plan = compile_genome(g)
        fw = forward_us(plan)
        sps = steps_per_second(plan, budget)
        ref_sps = 1e6 / (REF_FORWARD_US[n] + 11.0)
        print(
            f"{g.n_nodes:4d} / {g.n_connections:4d}"
            f"           | {fw:6.3f} ({REF_FORWARD_US[n]:5.0f}) |"
            f" {REF_FORWARD_US[n] / fw:6.0f}x | {sps / 1e6:6.2f} M ({ref_sps / 1e3:5.1f} k) |"
            f" {sps / ref_sps:5.0f}x"
        )
    print(
        "lane kernel vs the one-by-one kernel it replaced (same rollouts: 6 weights x 3 reps;"
        " CPU ns per env step)"
    )
    print("network (nodes/conns) | steps/rollout | ns/step lanes (one-by-one) | ratio | identical")
    for n in (7, 29, 60, 103):
        g = network_of(n)
        figures = kernels_ns_per_step(task, [compile_genome(g)], budget)
        print(_kernel_line(f"{g.n_nodes:4d} / {g.n_connections:4d}          ", figures))
    gens, population = laptop_generation(5 if quick else 30)
    first = gens[0]
    last = gens[-1]
    print(
        f"laptop swing-up generation (pop 64, 6 weights x 3 reps, 1 core): "
        f"gen 0 {first[1]:.3f} s ({first[2] / first[1] / 1e6:.2f} M steps/s), "
        f"gen {last[0]} {last[1]:.3f} s ({last[2] / last[1] / 1e6:.2f} M steps/s); "
        f"reference at {REF_EARLY_STEPS_PER_CPU_S / 1e3:.0f} k steps/CPU-s: "
        f"{first[2] / REF_EARLY_STEPS_PER_CPU_S:.1f} s for gen 0 "
        f"({first[2] / REF_EARLY_STEPS_PER_CPU_S / first[1]:.0f}x)"
    )
    distinct = list({g.key(): g for g in population}.values())
    plans = [compile_genome(g) for g in distinct]
    figures = kernels_ns_per_step(task, plans, budget)
    nodes = int(np.median([g.n_nodes for g in distinct]))
    print(
        "lanes vs one-by-one on that search's last population: "
        + _kernel_line(f"{len(plans)} genomes, median {nodes} nodes", figures)
    )
    print(
        "swingup_math 'fast' (tanh, sigmoid, sin, cos, Gaussian vectorised) vs 'libm', lane"
        " kernel, same rollouts (CPU ns per env step)"
    )
    print("networks | ns/step fast (libm) | ratio")
    rows = [
        (f"{g.n_nodes:4d} / {g.n_connections:4d}", [compile_genome(g)])
        for g in (network_of(n) for n in (29, 60, 103))
    ]
    rows.append((f"laptop search's last population ({len(plans)} genomes)", plans))
    champions = committed_champions()
    rows.append((f"the {len(champions)} paper-budget champions of docs/results/swingup", champions))
    for label, row_plans in rows:
        libm_ns, fast_ns = math_ns_per_step(row_plans, budget)
        print(f"{label} | {fast_ns:6.0f} ({libm_ns:6.0f}) | {libm_ns / fast_ns:5.2f}x")
