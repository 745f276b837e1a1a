"""Task speed: biped network overhead, MNIST evaluation, CarRacing steps and generations.

Reference figures (measured on this kind of machine; the reference is the authors' code,
https://github.com/google/brain-tokyo-workshop/tree/master/WANNRelease): BipedalWalker 203 us
an env step and 3 ms a reset (about 3.8 k steps/s in all); CarRacing-v3 15-20 ms a step; the
reference evaluated an MNIST genome of ~50 hidden nodes on 1000 images x 6 weights in about
23 ms.

* biped: the same rollouts (24 = 6 weights x 4 reps, one env each, in lockstep) timed three
  times, alternating in one process: ours (network + loop + the task's env, FastWalker), and
  bare replays of the very actions our networks chose, with the same resets, on FastWalker
  and on gymnasium's env (FreshWorldWalker, which gives the same episodes). Resets are timed
  on their own too, for gymnasium's env with its world reused, FreshWorldWalker and
  FastWalker.
* mnist256: one genome's fitness (1000 training images x 6 weights, one forward pass).
* carracing: gymnasium's env against ours (same frames) on the same actions, then full
  rollouts (12 = 6 weights x 2 reps, encoder + network) and the cost of a generation at the
  paper's settings (pop 64, 1000 steps) extrapolated from them.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from ..config import build
from ..core import activations
from ..core.genome import Genome, Innovations, initial_genome
from ..core.network import compile_genome, forward
from ..core.variation import mutate
from ..evaluation import rollout_seeds
from ..tasks import biped, carracing, make_task

WEIGHTS = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])
REF_BIPED_STEP_US = 203.0
REF_BIPED_RESET_MS = 3.0
REF_MNIST_MS = 23.0
REF_CARRACING_STEP_MS = (15.0, 20.0)
#: wall seconds of the paper-budget MNIST search in docs/results/mnist256 (mpiexec -n 2 here)
MNIST_RUN_S = 1730.0
ROOT = Path(__file__).resolve().parents[2]


def grown(
    n_in: int, n_out: int, n_nodes: int, pool: tuple[int, ...], seed: int = 0, p_init=0.25
) -> Genome:
    """A genome grown by random add-node / add-connection / activation mutations."""
    rng = np.random.default_rng(seed)
    inn = Innovations.start(n_in, n_out)
    g = initial_genome(n_in, n_out, p_init, rng)
    while g.n_nodes < n_nodes:
        g, _ = mutate(g, rng, inn, (0.35, 0.45, 0.0, 0.2), pool)
    return g


def _best_of(fn, repeats: int, clock=time.perf_counter) -> float:
    """Shortest of ``repeats`` timings of ``fn()`` (seconds of ``clock``)."""
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


# ----- biped ----------------------------------------------------------------------------------


def biped_overhead(
    genome: Genome, episode_steps: int, repeats: int, name: str = "biped"
) -> dict[str, float]:
    """Time our rollouts and bare replays of the same episodes (best of ``repeats``).

    The replays reset each env with its rollout's seed and step it with the very actions our
    networks chose: once on gymnasium's env (:class:`~src.tasks.biped.FreshWorldWalker`) and
    once on the task's (:class:`~src.tasks.biped.FastWalker`), in the same process,
    alternating. Resets are included in every figure.
    """
    task = biped.Biped(name, episode_steps)
    plan = compile_genome(genome)
    w = np.repeat(WEIGHTS, 4)
    seeds = np.tile(rollout_seeds(0, 0, 4), len(WEIGHTS))
    task.warmup()
    # Record the actions each env received, in the order they were stepped.
    envs = task.envs(len(w))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gym_envs = [biped.FreshWorldWalker(hardcore=task.hardcore) for _ in envs]
    index = {id(e): i for i, e in enumerate(envs)}
    schedule: list[tuple[int, np.ndarray]] = []
    original = biped.step_without_fall_penalty

    def recording(env, action):
        schedule.append((index[id(env)], action.copy()))
        return original(env, action)

    biped.step_without_fall_penalty = recording
    try:
        _, steps = task.rollouts(plan, w, seeds)
    finally:
        biped.step_without_fall_penalty = original

    def ours() -> None:
        task.rollouts(plan, w, seeds)

    def replay(on) -> None:
        for e, s in zip(on, seeds.tolist()):
            e.reset(seed=s)
        for i, a in schedule:
            on[i].step(a)

    # CPU time of this process, alternating, best of each: on a shared machine wall time
    # also counts waiting for a core.
    t_ours = t_fast = t_gym = float("inf")
    for _ in range(repeats):
        t_ours = min(t_ours, _best_of(ours, 1, time.process_time))
        t_fast = min(t_fast, _best_of(lambda: replay(envs), 1, time.process_time))
        t_gym = min(t_gym, _best_of(lambda: replay(gym_envs), 1, time.process_time))
    return {
        "steps": steps,
        "ours": t_ours,
        "bare": t_fast,
        "gymnasium": t_gym,
        "episode": steps / len(w),
    }


class _NoOpWalker:
    """Stands in for the env: returns a fixed observation at once (to time our own code)."""

    def __init__(self) -> None:
        self.obs = np.random.default_rng(0).uniform(-1, 1, 24).astype(np.float32)
        self.prev_shaping = 0.0

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict]:
        return self.obs, {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        return self.obs, 0.1, False, False, {}


def biped_own_cost_us(genome: Genome, n_rollouts: int, steps: int = 400) -> float:
    """CPU us per env step of our rollout code (network + loop) with no-op envs."""
    task = biped.Biped("biped", steps)
    task._envs = [_NoOpWalker() for _ in range(n_rollouts)]
    plan = compile_genome(genome)
    w = np.resize(WEIGHTS, n_rollouts)
    seeds = np.arange(n_rollouts)
    task.rollouts(plan, w, seeds)
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        _, n = task.rollouts(plan, w, seeds)
        best = min(best, (time.process_time() - start) / n * 1e6)
    return best


def biped_reset_ms(hardcore: bool = False, n: int = 40) -> tuple[float, float, float]:
    """Mean reset CPU time (ms) of gymnasium's env (world reused), FreshWorldWalker (fresh
    world) and FastWalker (the task's), the same seeds, alternating, best of 3 rounds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        envs = (
            biped.bw.BipedalWalker(hardcore=hardcore),
            biped.FreshWorldWalker(hardcore=hardcore),
            biped.FastWalker(hardcore=hardcore),
        )
    best = [float("inf")] * 3
    for env in envs:
        env.reset(seed=0)
    for _ in range(3):
        for k, env in enumerate(envs):
            start = time.process_time()
            for s in range(n):
                env.reset(seed=s)
            best[k] = min(best[k], (time.process_time() - start) / n * 1e3)
    return best[0], best[1], best[2]


def run_biped(quick: bool) -> None:
    reps = 2 if quick else 6
    for name in ("biped", "biped-hardcore"):
        plain, fresh, fast = biped_reset_ms(name == "biped-hardcore", 10 if quick else 40)
        print(
            f"{name} reset: gymnasium (world reused) {plain:.2f} ms, FreshWorldWalker (fresh "
            f"world) {fresh:.2f} ms, FastWalker (ours, same episodes) {fast:.2f} ms = "
            f"{fast / fresh:.2f} x (reference {REF_BIPED_RESET_MS:.0f} ms)"
        )
    print(
        "task | network (nodes/conns) | rollouts x mean steps | CPU us per env step, resets "
        "included: gymnasium env | FastWalker (ratio) | ours: network + loop + FastWalker "
        "(overhead on FastWalker; ratio to gymnasium's env)"
    )
    for name, n_nodes in (("biped", 40), ("biped", 103), ("biped-hardcore", 103)):
        g = grown(24, 4, n_nodes, activations.CONTROL_POOL, seed=1)
        r = biped_overhead(g, 400 if quick else 1600, reps, name)
        gym_us, fast_us, ours_us = (1e6 * r[k] / r["steps"] for k in ("gymnasium", "bare", "ours"))
        print(
            f"{name:14s} | {g.n_nodes:4d} / {g.n_connections:4d} | 24 x {r['episode']:6.0f} |"
            f" {gym_us:5.0f} | {fast_us:5.0f} ({fast_us / gym_us:.2f} x) |"
            f" {ours_us:5.0f} ({100 * (ours_us / fast_us - 1):+5.1f} %; {ours_us / gym_us:.2f} x)"
        )
        if name == "biped":
            own24, own1 = biped_own_cost_us(g, 24), biped_own_cost_us(g, 1)
            print(
                f"    our code alone (no-op envs): {own24:.1f} us per env step with 24 "
                f"rollouts live, {own1:.1f} us with 1 live = {100 * own24 / fast_us:.1f} - "
                f"{100 * own1 / fast_us:.1f} % of a FastWalker step"
            )
    print(
        f"(reference: {REF_BIPED_STEP_US:.0f} us an env step + 242 us a 103-node forward pass; "
        "about 3.8 k steps/s)"
    )


# ----- mnist ----------------------------------------------------------------------------------


def run_mnist(quick: bool) -> None:
    from ..tasks import mnist

    start = time.perf_counter()
    task = make_task(build("mnist256"))
    task.warmup()
    load_s = time.perf_counter() - start
    g = grown(256, 10, 1 + 256 + 10 + 50, activations.CLASSIFICATION_POOL, 2, 0.05)
    plan = compile_genome(g)
    seeds = np.full(6, 1234)
    task.rollouts(plan, WEIGHTS, seeds)  # the batch is drawn once per seed, then cached
    n = 10 if quick else 40
    cpu = time.process_time
    t_ours = _best_of(lambda: task.rollouts(plan, WEIGHTS, seeds), n, cpu)
    x, _ = task.batch(1234)
    t_numpy = _best_of(lambda: forward(plan, x[None], WEIGHTS[:, None]), max(3, n // 4), cpu)
    data = task.data
    t_acc = _best_of(lambda: mnist.accuracy(plan, data.test_x, data.test_y, WEIGHTS), 2, cpu)
    print(
        f"mnist256: data ready in {load_s:.2f} s (preprocessed cache, memory-mapped); "
        f"genome of {g.n_hidden} hidden nodes / {g.n_connections} connections, "
        f"1000 images x 6 weights: {t_ours * 1e3:.1f} CPU-ms per fitness evaluation "
        f"({np.dtype(task.dtype).name}, the default) "
        f"(reference ~{REF_MNIST_MS:.0f} ms: {REF_MNIST_MS / (t_ours * 1e3):.1f}x; "
        f"generic numpy forward {t_numpy * 1e3:.1f} ms); "
        f"test accuracy, 10,000 images x 6 weights + ensemble: {t_acc:.2f} s"
    )
    print(
        f"  a paper generation (pop 960, distinct genomes only): about "
        f"{960 * t_ours:.1f} core-s; 4096 generations about {4096 * 960 * t_ours / 3600:.1f} "
        "core-hours"
    )


def _mnist_population(generations: int):
    """An MNIST search state at the paper's pop 960, bred ``generations`` times on made-up
    objectives (a seeded generator; reward falls with size, as under the paper's ranking)."""
    from ..search import loop

    state = loop.initial_state(build("mnist256"))
    scores = np.random.default_rng(0)
    for g in range(generations + 1):
        conns = np.array([x.n_connections for x in state.population], dtype=np.float64)
        mean = scores.normal(size=len(conns)) - 0.01 * conns
        state.objectives = np.stack([mean, mean + np.abs(scores.normal(size=len(conns))), conns], 1)
        if g < generations:
            state.population = loop.next_population(state)
            state.generation += 1
    return state


def mnist_root_ms(state, repeats: int) -> dict[str, float]:
    """CPU ms of the root's work on one generation of ``state`` (best of ``repeats``, the
    previous and current breeding alternated): ranking, breeding (ranking included), keys
    and packing of the population into work items."""
    from ..core.genome import pack
    from ..core.ranking import rank_population
    from ..search import loop
    from . import legacy

    config = state.config
    out = {"ranking": np.inf, "ranking_prev": np.inf, "breed": np.inf, "breed_prev": np.inf}
    out["keys_pack"] = np.inf
    cpu = time.process_time
    objs = loop.rankable(state.objectives)
    for k in range(repeats):
        for name, rank in (("ranking", rank_population), ("ranking_prev", legacy.rank_population)):
            t = cpu()
            for prob_moo in (1.0, 0.0):  # both of the paper's pairs: a ranking is their mean
                rank(objs, config.ranking, np.random.default_rng(k), prob_moo, config.crowding)
            out[name] = min(out[name], (cpu() - t) / 2)
        for name, fn in (("breed", loop.next_population), ("breed_prev", legacy.next_population)):
            probe = loop.snapshot(state)
            t = cpu()
            fn(probe)
            out[name] = min(out[name], cpu() - t)
        fresh = [g.replace() for g in state.population]  # keys not yet computed
        t = cpu()
        keys = [g.key() for g in fresh]
        pack(fresh[: len(set(keys))])
        out["keys_pack"] = min(out["keys_pack"], cpu() - t)
    return {k: v * 1e3 for k, v in out.items()}


def worker_child_ms(repeats: int, n: int = 300, edit: bool = True) -> float:
    """CPU ms a worker spends on one child with ``breeding = "workers"`` besides evaluating
    it: the mutation (:func:`src.evaluation.breed_child`), its edit for the root
    (:func:`src.core.genome.edit_of`; ``edit = False``: none, as in the resident loop,
    where the child stays on the rank that bred it) and its key; best of ``repeats`` over
    ``n`` children of the late MNIST population (:func:`_late_mnist_state`)."""
    from ..core.genome import edit_of
    from ..evaluation import breed_child

    state = _late_mnist_state("workers", n)
    best = np.inf
    for _ in range(repeats):
        t = time.process_time()
        for i, parent in enumerate(state.population):
            child = breed_child(state.config, 1, i, parent, (10**6, 10**7))
            if edit:
                edit_of(parent, child)
            child.key()
        best = min(best, time.process_time() - t)
    return best / n * 1e3


def mnist_genome_ms(task, genome: Genome, repeats: int, task32) -> dict[str, float]:
    """CPU ms of one genome's fitness (1000 images x 6 weights: compiling included), now
    and with the previous code (:func:`src.bench.legacy.compile_genome_numpy`, then
    :func:`src.bench.legacy.mnist_rollouts_per_node`: one compiled call and numpy
    activations per node), alternated; the activation floor: numpy's activations
    (``activations.apply``) of the computed nodes on 6 x 1000 values each, which any numpy
    float64 evaluation must pay; and now without the pairing of opposite weights
    (``unpaired``: every activation computed for all six weights); and ``f32``, the fitness
    with ``task32`` (the task built with ``mnist_dtype = 'float32'``)."""
    from ..tasks import mnist
    from . import legacy

    seeds = np.full(6, 1234)
    task.rollouts(compile_genome(genome), WEIGHTS, seeds)  # batch drawn and cached
    legacy.mnist_rollouts_per_node(task, compile_genome(genome), WEIGHTS, seeds)
    z = np.random.default_rng(0).normal(size=(6, 1000))
    acts = compile_genome(genome).act.tolist()

    def now() -> None:
        task.rollouts(compile_genome(genome), WEIGHTS, seeds)

    def before() -> None:
        legacy.mnist_rollouts_per_node(task, legacy.compile_genome_numpy(genome), WEIGHTS, seeds)

    def unpaired() -> None:
        with mnist.weight_pairing(False):
            now()

    def floor() -> None:
        for a in acts:
            if a != activations.LINEAR:
                activations.apply(a, z)

    def f32() -> None:
        task32.rollouts(compile_genome(genome), WEIGHTS, seeds)

    z32 = z.astype(np.float32)

    def floor32() -> None:  # the same in float32 (mnist_dtype = 'float32')
        for a in acts:
            if a != activations.LINEAR:
                activations.apply(a, z32)

    cpu = time.process_time
    f32()  # its batch drawn and cached, its kernels compiled
    cases = (
        ("now", now), ("before", before), ("floor", floor), ("unpaired", unpaired), ("f32", f32),
        ("floor32", floor32),
    )  # fmt: skip
    best = {name: np.inf for name, _ in cases}
    for _ in range(repeats):
        for name, fn in cases:
            best[name] = min(best[name], _best_of(fn, 3, cpu))
    return {k: v * 1e3 for k, v in best.items()}


def run_mnist_search(quick: bool) -> None:
    """The paper's MNIST search (pop 960, 4096 generations): evaluation, root, projections."""
    task = make_task(build("mnist256", sets=["mnist_dtype='float64'"]))
    task32 = make_task(build("mnist256", sets=["mnist_dtype='float32'"]))
    repeats = 3 if quick else 8
    early = initial_genome(256, 10, 0.05, np.random.default_rng(0))
    late = grown(256, 10, 1 + 256 + 10 + 50, activations.CLASSIFICATION_POOL, 2, 0.05)
    # the size of the paper's MNIST champion: about 100 hidden nodes, 1800 connections
    big = grown(256, 10, 1 + 256 + 10 + 100, activations.CLASSIFICATION_POOL, 2, 0.65)
    genomes = {"early": early, "late": late, "late, champion-sized": big}
    committed = ROOT / "docs" / "results" / "mnist256" / "best_genome.json"
    if committed.exists():  # a real late network (the paper-budget run's champion)
        from ..api import load_genome

        genomes["the committed champion"] = load_genome(committed)
    ev = {name: mnist_genome_ms(task, g, repeats, task32) for name, g in genomes.items()}
    print(
        "### MNIST-256 at the paper's budget (pop 960, 4096 generations); CPU ms, best of "
        f"{repeats}, previous code (src/bench/legacy.py) timed alternately in this process; "
        "float64 unless said (the default since 2026-12-01: float32)"
    )
    print("| figure | previous | now | ratio |")
    print("|---|---|---|---|")
    for name, g in genomes.items():
        e = ev[name]
        print(
            f"| genome fitness, {name} ({g.n_hidden} hidden, {g.n_connections} conns) | "
            f"{e['before']:.2f} | {e['now']:.2f} | {e['before'] / e['now']:.2f}x |"
        )
    for name in genomes:
        e = ev[name]
        print(
            f"| genome fitness, {name}: float64 now / `mnist_dtype = 'float32'` | "
            f"{e['now']:.2f} | {e['f32']:.2f} | {e['now'] / e['f32']:.2f}x |"
        )
    for name in [k for k in genomes if k != "early"]:
        f = ev[name]
        print(
            f"| {name} genome / activation floor ({f['floor']:.2f} ms; target <= 1.3; "
            f"now without pairing opposite weights: {f['unpaired'] / f['floor']:.2f}) | "
            f"{f['before'] / f['floor']:.2f} | {f['now'] / f['floor']:.2f} | |"
        )
        print(
            f"| {name}, `mnist_dtype = 'float32'` (the default): / the float64 floor; / the "
            f"float32 floor ({f['floor32']:.2f} ms) | | {f['f32'] / f['floor']:.2f}; "
            f"{f['f32'] / f['floor32']:.2f} | |"
        )
    state = _mnist_population(2 if quick else 8)
    r = mnist_root_ms(state, repeats)
    hidden = np.mean([g.n_hidden for g in state.population])
    print(
        f"| root: breeding pop 960 (ranking {r['ranking']:.1f} ms included; mean "
        f"{hidden:.1f} hidden) | {r['breed_prev']:.0f} | {r['breed']:.0f} | "
        f"{r['breed_prev'] / r['breed']:.2f}x |"
    )
    print(f"| root: genome keys + packing, pop 960 | | {r['keys_pack']:.0f} | |")
    print(
        "| a ranking at pop 960, the paper's (mean of its two pairs; numpy stages -> compiled "
        f"`rank_two`) | {r['ranking_prev']:.2f} | {r['ranking']:.2f} | "
        f"{r['ranking_prev'] / r['ranking']:.1f}x |"
    )
    # 64 ranks: 63 workers. The root's work measured on the search loop itself, run as the
    # root of 64 ranks on late genomes (root_critical_path): what the workers wait for
    # between generations (crit), and all of it (total, the deferred checkpoint included).
    # The rest of the root's work overlaps the evaluations, and the generation takes the
    # longer of the two; with breeding = "workers" each worker also mutates its children.
    workers, n_gen = 63, 2 if quick else 3
    per_child = (r["breed"] - r["ranking"]) / 768  # one mutation, on whichever rank
    modes = {mode: root_critical_path(mode, n_gen) for mode in ("root", "workers")}
    print(
        f"| 64-rank projection, late genomes (median of {n_gen} generations) | breeding = "
        "root | breeding = workers | |"
    )
    print("|---|---|---|---|")
    row = " | ".join(
        f"{m['crit']:.0f} ({m['crit'] - m['files']:.0f} without files)" for m in modes.values()
    )
    print(f"| root ms from last result to first item (stats/best files included) | {row} | |")
    row = " | ".join(f"{m['fill']:.0f}" for m in modes.values())
    print(f"| root ms from last result to all {workers} workers busy | {row} | |")
    every = build("mnist256").checkpoint_every
    row = " | ".join(f"{m['total']:.0f} + {m['deferred']:.0f} / {every}" for m in modes.values())
    print(f"| root CPU ms per generation + a checkpoint's / checkpoint_every | {row} | |")
    root_cells: dict[str, list[str]] = {}
    for name in [k for k in genomes if k != "late, champion-sized"]:
        for dtype, cost in (("float32, the default", "f32"), ("float64", "now")):
            cells = []
            for mode, m in modes.items():
                evaluation = 960 * ev[name][cost] / workers
                worker = evaluation + (768 * per_child / workers if mode == "workers" else 0.0)
                # one generation in checkpoint_every carries the checkpoint
                plain = m["crit"] + max(worker, m["total"] - m["crit"])
                saving = m["crit"] + max(worker, m["total"] + m["deferred"] - m["crit"])
                gen = ((every - 1) * plain + saving) / every
                cells.append(f"{evaluation / gen:.2f}")
            root_cells.setdefault(name, []).append(cells[-1])  # breeding = workers
            print(
                f"| {name} genomes, {dtype}: efficiency (target >= 0.8; critical path "
                f"target <= 30 ms) | {' | '.join(cells)} | |"
            )
    # What no root can win back: with a root that did nothing but rank (its work free),
    # each worker still mutates its children (and sends their edits and keys) besides
    # evaluating them, 768 children in a generation of 960.
    child = worker_child_ms(repeats)  # late parents: the rows of late networks only
    for name in [k for k in genomes if k not in ("early", "late, champion-sized")]:
        costs = [ev[name][cost] for cost in ("f32", "now")]
        cells = [f"{c / (c + 768 / 960 * child):.2f}" for c in costs]
        print(
            f"| {name} genomes: efficiency bound with a free root (a worker's {child:.2f} ms "
            f"per child bred besides its evaluation), float32 / float64 | {' | '.join(cells)} | |"
        )
    # replicated = true (src.parallel.replicated): no root; every rank ranks, cuts the items,
    # evaluates and breeds its share, and exchanges results once. Rank 0 (it also writes
    # stats.csv) and rank 1 timed on the loop itself at 64 ranks; their own items' breeding
    # and compiling taken out and put back as measured on real genomes (their fitness,
    # compiling included, and a worker's per-child breeding), scaled by the split's
    # imbalance. Rank 0's extra work (the files) is given back by its head in the split
    # (RankZero: it evaluates less, the 63 others a little more) up to its mean share.
    # Previous: the work items cut for the dynamic schedule; now: split genome by genome.
    runs = {
        split: (
            replicated_rank_ms(n_gen + 1, ranks=workers + 1, split=split),
            replicated_rank_ms(n_gen + 1, ranks=workers + 1, rank=1, split=split),
        )
        for split in (False, True)
    }
    fixed = {s: (r0["cpu"] - r0["own"], r1["cpu"] - r1["own"]) for s, (r0, r1) in runs.items()}
    columns_of: dict[str, str] = {}
    cells = [f"{f[0]:.1f} / {f[1]:.1f}; {runs[s][0]['imbalance']:.3f}" for s, f in fixed.items()]
    print(
        f"| replicated loop (`replicated = true`), rank 0 / rank 1 of 64: CPU ms per generation "
        f"besides its own items (ranking, cutting, the exchange, pending children; stats.csv "
        f"on rank 0); the split's imbalance (largest / mean share); previous: the items cut "
        f"for the dynamic schedule, now: split genome by genome | {cells[0]} | {cells[1]} | |"
    )
    for name in [k for k in genomes if k not in ("early", "late, champion-sized")]:
        columns = []
        for split, (rank0, rank1) in fixed.items():
            imbalance = runs[split][0]["imbalance"]
            cells = [
                f"{_spmd_efficiency(ev[name][c], child, rank0, rank1, imbalance, workers + 1):.2f}"
                for c in ("f32", "now")
            ]
            columns.append(" / ".join(cells))
        columns_of[name] = columns[1]
        print(
            f"| {name} genomes, replicated loop: 64-rank efficiency, float32 / float64 "
            f"(target >= 0.8; the root's loop above: "
            f"{' / '.join(c for c in root_cells[name])}) | {columns[0]} | {columns[1]} | |"
        )
    # resident = true (src.search.resident): a rank keeps its own genomes and the population
    # as arrays; every rank of 64 simulated in this process, ranks 0 and 1 timed. The same
    # projection as the replicated loop's: rank 1's own work plus its share (evaluation and
    # breeding, as measured on real genomes) scaled by the split's imbalance; rank 0's extra
    # (stats.csv) given back by its head in the split.
    res = resident_rank_ms(n_gen + 2, ranks=workers + 1)
    own_child = worker_child_ms(repeats, edit=False)  # no edit: the child stays where bred
    print(
        f"| resident loop (`resident = true`), rank 0 / rank 1 of 64: CPU ms per generation "
        f"besides breeding and evaluating its share (ranking, the split, parents sent and "
        f"received, the exchange; stats.csv on rank 0); the split's imbalance (largest / mean "
        f"share, parents' ranks preferred); a child's breeding and key (no edit) | | "
        f"{res['fixed0']:.1f} / {res['fixed1']:.1f}; {res['imbalance']:.3f}; {own_child:.2f} ms | |"
    )
    for name in [k for k in genomes if k not in ("early", "late, champion-sized")]:
        split = (res["fixed0"], res["fixed1"], res["imbalance"], workers + 1)
        cells = [f"{_spmd_efficiency(ev[name][c], own_child, *split):.2f}" for c in ("f32", "now")]
        print(
            f"| {name} genomes, resident loop: 64-rank efficiency, float32 / float64 (target "
            f">= 0.8; the replicated loop: {columns_of[name]}) | | {' / '.join(cells)} | |"
        )
    # 2 ranks on 2 cores: the root breeds and evaluates (src.parallel.schedule.root_evaluates)
    cells = []
    for breed, ms in (("breed_prev", "before"), ("breed", "now"), ("breed", "f32")):
        per_gen = (960 * (ev["early"][ms] + ev["late"][ms]) / 2 + r[breed] + r["keys_pack"]) / 2
        cells.append(4096 * per_gen / 1e3 / 60)
    print(
        f"| full run on 2 cores, minutes (mean of early and late; target <= 90) | "
        f"{cells[0]:.0f} | {cells[1]:.0f} | |"
    )
    print(f"| the same, `mnist_dtype = 'float32'` | {cells[1]:.0f} | {cells[2]:.0f} | |")
    print(
        "| measured: the paper-budget run of docs/results/mnist256 (today's defaults: float32, "
        f"champion re-scored; 1 December 2026), minutes | | {MNIST_RUN_S / 60:.0f} | |"
    )


# ----- the root's critical path, measured on the search loop itself -----------------------


class _TimedExecutor:
    """Runs the search loop in this process and times the root's side only (CPU seconds).

    Behaves like the MPI root of a job with ``n_workers`` evaluating workers: each work item
    is pickled as the root sends it, evaluated (the worker's time, not counted), its result
    pickled by the "worker" and unpickled by the root (counted). Deferred calls (the
    checkpoint) run at once and count as root CPU, but not on the critical path (under MPI
    they run in a background thread while the workers evaluate). Per search generation it
    records ``crit``: root CPU from the last result of the previous generation to the first
    item of this one sent; ``fill``: to the ``n_workers``-th item sent (every worker busy);
    ``total``: root CPU since the previous generation's first item, deferred calls apart;
    ``deferred``: their CPU (the checkpoint).
    """

    def __init__(self, n_workers: int) -> None:
        self.n_workers, self.n_ranks = n_workers, n_workers + 1
        self.root = 0.0  # root CPU so far (critical-path kind)
        self.background = 0.0  # deferred calls
        self.last_result: float | None = None
        self.last_first: float | None = None
        self.rows: list[dict[str, float]] = []
        self._mark = time.process_time()

    def _tick(self) -> None:
        now = time.process_time()
        self.root += now - self._mark
        self._mark = now

    def _skip(self) -> float:
        """Stop counting (the worker's share); returns the moment to resume from."""
        self._tick()
        return self._mark

    def describe(self) -> str:
        return f"{self.n_ranks} ranks (timed in one process)"

    def call_on_workers(self, fn, *args) -> None:
        pass

    def wait_for_workers(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def defer(self, fn, *args) -> None:
        self._tick()
        fn(*args)
        now = time.process_time()
        self.background += now - self._mark
        self._mark = now

    def map(self, fn, items, on_result=None) -> list:
        import pickle

        self._tick()
        search = bool(self.last_result is not None or not self.rows)
        results, row = [], {}
        for sent, item in enumerate(items, start=1):
            i = sent - 1
            data = pickle.dumps((i, fn, item), protocol=pickle.HIGHEST_PROTOCOL)
            self._tick()
            if sent == 1 and self.last_result is not None:
                row = {"crit": self.root - self.last_result}
                if self.last_first is not None:
                    row["total"] = self.root - self.last_first
                    row["deferred"] = self.background
                self.last_first, self.background = self.root, 0.0
            if sent == self.n_workers and "crit" in row:
                row["fill"] = self.root - self.last_result
            self._skip()
            _, f, it = pickle.loads(data)
            out = pickle.dumps((i, f(it)), protocol=pickle.HIGHEST_PROTOCOL)
            self._mark = time.process_time()  # the worker's time is not the root's
            results.append(pickle.loads(out)[1])
            if on_result is not None:
                on_result(i, results[-1])
            self._tick()
        if search and results and hasattr(results[0], "returns"):
            if row:
                row.setdefault("fill", self.root - (self.last_result or 0.0))
                self.rows.append(row)
            elif not self.rows:
                self.rows.append({})
            self.last_result = self.root
        return results


class _ReplicaTimedExecutor:
    """Runs the search loop in this process as one rank of a replicated loop of ``ranks``
    (:mod:`src.parallel.replicated`) and times that rank's side only (CPU seconds).

    Every item is evaluated here (the other ranks' results are needed to go on), but only
    this rank's share, by the same static split (:func:`src.parallel.replicated.assign`),
    counts; so does pickling its results and unpickling every rank's, as the exchange
    does. Per generation (each map of search results) it records ``cpu``: this rank's CPU
    from the end of the previous generation's exchange to the end of this one's, and
    ``own``: of which its own items (breeding their children, compiling their networks;
    their evaluation costs nothing here), and ``imbalance``: the largest rank's share over
    the mean share of the same split made on the cost guesses (connections + 8 a genome,
    what MNIST's costs follow), untimed: the loop splits on measured costs, which here, of
    evaluations that cost nothing, are noise.
    """

    def __init__(self, ranks: int, rank: int = 0, split: bool = True) -> None:
        self.n_workers = self.n_ranks = ranks
        self.rank = rank
        self.split = split  # False: the work items as cut for the dynamic schedule
        self._last_imbalance = 1.0
        self.counted = 0.0
        self.rows: list[dict[str, float]] = []
        self._mark = time.process_time()

    def describe(self) -> str:
        return f"{self.n_ranks} ranks (replicated, timed in one process)"

    def defer(self, fn, *args) -> None:
        fn(*args)

    def flush(self) -> None:
        pass

    def plans(self, n_genomes: int) -> bool:
        from ..parallel.replicated import splits_by_genome

        return self.split and splits_by_genome(n_genomes, self.n_ranks)

    def plan(self, networks, rollouts: int, stream: int) -> list[list[int]]:
        """As :meth:`src.parallel.replicated.ReplicatedExecutor.plan` (rank 0's head left out)."""
        from ..parallel.replicated import MeasuredCosts, split_genomes

        costs, _ = self._measured().genome_costs(networks, rollouts)
        ranks, shares = split_genomes(costs, self.n_ranks)
        self._planned = ranks
        self._untimed(lambda: self._imbalance(MeasuredCosts().genome_costs(networks, rollouts)[0]))
        return shares

    def _untimed(self, fn) -> None:
        t0 = time.process_time()
        fn()
        self._mark += time.process_time() - t0  # not the loop's work

    def _imbalance(self, guesses: list[float], owner: list[int] | None = None) -> None:
        """The largest share over the mean of the split of ``guesses`` (one a genome, or an
        item and its ``owner``)."""
        from ..parallel.replicated import assign

        loads = np.zeros(self.n_ranks)
        np.add.at(loads, assign(guesses, self.n_ranks) if owner is None else owner, guesses)
        self._last_imbalance = float(loads.max() / max(loads.mean(), 1e-12))

    def _measured(self):
        from ..parallel.replicated import MeasuredCosts

        if not hasattr(self, "_rates"):
            self._rates = MeasuredCosts()
        return self._rates

    def map(self, fn, items, on_result=None) -> list:
        import pickle

        from ..parallel.replicated import _decode, _encode, assign

        self._measured()
        items = list(items)
        planned, self._planned = getattr(self, "_planned", None), None
        if planned is not None and len(planned) == len(items):
            owner = planned
        else:
            costs, _ = self._rates.costs(items)
            owner = assign(costs, self.n_ranks)
            self._untimed(
                lambda: self._imbalance([float(getattr(it, "cost", 1.0)) for it in items])
            )
        results, parts = [None] * len(items), [[] for _ in range(self.n_ranks)]
        own = 0.0
        for i, item in enumerate(items):
            if owner[i] != self.rank:  # another rank's: not this one's time
                self.counted += time.process_time() - self._mark
                result = fn(item)
                self._mark = time.process_time()
            else:
                t0 = time.process_time()
                result = fn(item)
                own += time.process_time() - t0
            parts[owner[i]].append((i, result))
        blobs = []
        for r, part in enumerate(parts):
            if r != self.rank:
                self.counted += time.process_time() - self._mark
            blobs.append(pickle.dumps(_encode(part), protocol=pickle.HIGHEST_PROTOCOL))
            if r != self.rank:
                self._mark = time.process_time()
        for blob in blobs:
            for i, result in _decode(pickle.loads(blob)):
                results[i] = result
        self._rates.learn(items, results)
        if on_result is not None:
            for i, result in enumerate(results):
                on_result(i, result)
        if results and hasattr(results[0], "returns"):
            now = time.process_time()
            self.rows.append(
                {
                    "cpu": self.counted + now - self._mark,
                    "own": own,
                    "imbalance": self._last_imbalance,
                }
            )
            self.counted, self._mark = 0.0, now
        return results


def replicated_rank_ms(
    generations: int, pop: int = 960, ranks: int = 64, rank: int = 0, split: bool = True
) -> dict[str, float]:
    """A rank's CPU ms per generation in a replicated loop of ``ranks`` at ``pop`` on late
    MNIST genomes (:func:`_late_mnist_state`, ``breeding = 'workers'``), evaluation itself
    free: ranking, tournaments, cutting the items, breeding and packing its share, the
    exchange's pickling, the pending children and, on rank 0, stats.csv. No
    checkpoint (at this scale: ``checkpoint_minutes``). Median over ``generations`` after a
    warm-up of ``cpu``, ``own`` (its items' breeding and compiling, part of ``cpu``) and
    ``imbalance`` (the largest share of the split's costs over the mean)."""
    import tempfile

    from ..search import loop
    from ..search.reporters import StatsFiles

    first = 3
    state = _late_mnist_state("workers", pop, replicated=True, generations=first + generations)
    ex = _ReplicaTimedExecutor(ranks, rank, split)
    with tempfile.TemporaryDirectory() as tmp:
        loop.run(state, ex, [StatsFiles(Path(tmp))] if rank == 0 else [])
    rows = ex.rows[-generations:]
    return {
        "cpu": 1e3 * float(np.median([r["cpu"] for r in rows])),
        "own": 1e3 * float(np.median([r["own"] for r in rows])),
        "imbalance": float(np.median([r["imbalance"] for r in rows])),
    }


def _spmd_efficiency(
    genome_ms: float, child_ms: float, rank0: float, rank1: float, imbalance: float, ranks: int
) -> float:
    """Projected efficiency of a loop with no root (replicated or resident) at MNIST's pop
    960 on ``ranks``: a rank's share of the evaluation over its generation, which is its
    own per-generation work (``rank1`` ms) plus its share of evaluating (``genome_ms`` a
    genome) and breeding (``child_ms`` a child, 768 children) scaled by the split's
    ``imbalance``. Rank 0's extra work (``rank0 - rank1``: the files) is given back by its
    head in the split while its share can absorb it, else the others share its part too."""
    share = 960 * genome_ms / ranks
    work = (960 * genome_ms + 768 * child_ms) / ranks
    extra = max(0.0, rank0 - rank1)
    if extra <= work:  # rank 0's files shared out by its head
        gen = rank1 + (work + extra / ranks) * imbalance
    else:  # rank 0 gets nothing: the others share its part too
        gen = max(rank0, rank1 + work * ranks / (ranks - 1) * imbalance)
    return share / gen


def resident_rank_ms(generations: int, pop: int = 960, ranks: int = 64) -> dict[str, float]:
    """Ranks 0 and 1 of a resident loop of ``ranks`` (:mod:`src.search.resident`) at ``pop``
    on late MNIST genomes (:func:`_late_mnist_state`, evaluation free), every rank simulated
    in this process (:func:`src.parallel.resident.simulate`, each rank's CPU its own): CPU ms
    per generation besides breeding and evaluating its share (``fixed0``, ``fixed1``; rank 0
    also writes stats.csv), the share's breeding (``own1``) and the split's imbalance (its
    largest share over the mean, on the cost guesses). Median over ``generations`` after a
    warm-up."""
    import tempfile

    from ..parallel.resident import simulate
    from ..search import loop, resident
    from ..search.reporters import StatsFiles

    first = 3
    state = _late_mnist_state("workers", pop, generations=first + generations)
    times = [resident.RankTimes() for _ in range(ranks)]
    cpu: list[list[float]] = [[] for _ in range(ranks)]
    with tempfile.TemporaryDirectory() as tmp:
        stats = [StatsFiles(Path(tmp))]
        for reporter in stats:
            reporter.start(state, f"{ranks} ranks (resident, simulated)")
        loops = [
            resident.run(loop.snapshot(state), r, ranks, stats if r == 0 else (), times=times[r])
            for r in range(ranks)
        ]
        simulate(loops, cpu)
        for reporter in stats:
            reporter.end(state)

    def fixed(r: int) -> float:
        t = times[r]
        rows = [c - o - u for c, o, u in zip(cpu[r], t.own, t.untimed)][first:]
        return 1e3 * float(np.median(rows))

    return {
        "fixed0": fixed(0),
        "fixed1": fixed(1),
        "own1": 1e3 * float(np.median(times[1].own[first:])),
        "imbalance": float(np.median(times[1].imbalance[first:])),
    }


def _late_mnist_state(breeding: str, pop: int = 960, **changes):
    """Generation 0 of an MNIST-shaped search whose genomes are late ones (50 hidden nodes),
    on the cost-model task scaled to nothing (``src.bench.costmodel:mnist``, 256 -> 10
    inputs like mnist256, returns from a CRC that grow with the network), so only the
    root's work costs time."""
    import os

    from ..search import loop
    from . import costmodel

    saved = os.environ.get("WANN_COSTMODEL_SCALE")
    os.environ["WANN_COSTMODEL_SCALE"] = "0"
    try:
        pool_names = [activations.NAMES[a] for a in activations.CLASSIFICATION_POOL]
        config = build("mnist256").replace(
            task="src.bench.costmodel:mnist",
            pop_size=pop,
            breeding=breeding,
            champion_reps=0,
            activations=tuple(pool_names),
            **changes,
        )
        make_task(config)  # built (and cached) with the scale of 0
        assert make_task(config).scale == 0 and isinstance(make_task(config), costmodel.CostModel)
    finally:
        if saved is None:
            os.environ.pop("WANN_COSTMODEL_SCALE")
        else:
            os.environ["WANN_COSTMODEL_SCALE"] = saved
    rng = np.random.default_rng(2)
    inn = Innovations.start(256, 10)
    late = initial_genome(256, 10, 0.05, rng)
    while late.n_nodes < 1 + 256 + 10 + 50:
        late, _ = mutate(late, rng, inn, (0.35, 0.45, 0.0, 0.2), activations.CLASSIFICATION_POOL)
    population = [mutate(late, rng, inn, config.mutation_probs, activations.CLASSIFICATION_POOL)[0]]
    while len(population) < pop:  # a family of late genomes, a few mutations apart
        parent = population[int(rng.integers(len(population)))]
        population.append(
            mutate(parent, rng, inn, config.mutation_probs, activations.CLASSIFICATION_POOL)[0]
        )
    return loop.SearchState(
        config=config,
        generation=0,
        population=population,
        objectives=None,
        rng=np.random.default_rng(config.seed),
        innovations=inn,
    )


def root_critical_path(breeding: str, generations: int, pop: int = 960, workers: int = 63):
    """The root's CPU ms per generation of an MNIST-shaped search at ``pop`` on late genomes
    (:func:`_late_mnist_state`), the loop run as the root of ``workers + 1`` ranks
    (:class:`_TimedExecutor`), stats.csv written and a checkpoint deferred each generation
    (timed each time; src.master writes one after every ``checkpoint_every``-th). The
    champion is the best single-generation mean (``champion_reps = 0``): re-scoring is a
    separate step, not modelled. Returns the median over ``generations`` (after one warm-up)
    of ``crit``, ``fill``, ``total`` (without deferred calls) and ``deferred`` (the
    checkpoint) (see :class:`_TimedExecutor`)."""
    import tempfile

    from ..search import checkpoint, loop
    from ..search.reporters import StatsFiles

    first = 5  # generations 0-4 warm up, and write history/ files (0, 1, 2, 4)
    # its config as evaluated, so the task is built (and cached) with the scale of 0
    state = _late_mnist_state(breeding, pop, generations=first + generations)
    ex = _TimedExecutor(workers)
    reporting: dict[int, float] = {}

    class Timed(StatsFiles):
        """stats.csv, best_genome.json (when the champion is new), history/: timed."""

        def generation(self, state, row) -> None:
            start = time.process_time()
            super().generation(state, row)
            reporting[state.generation + 1] = time.process_time() - start

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)

        def save(s) -> None:  # each generation, to time one (src.master: every k-th)
            ex.defer(checkpoint.save, loop.snapshot(s), run_dir, "bench")

        loop.run(state, ex, [Timed(run_dir)], save)
    rows = [r for r in ex.rows if "total" in r][-generations:]
    for g, r in zip(range(first, first + generations), rows):
        r["files"] = reporting[g]
    keys = ("crit", "fill", "total", "deferred", "files")
    return {k: 1e3 * float(np.median([r[k] for r in rows])) for k in keys}


# ----- carracing ------------------------------------------------------------------------------


def carracing_env_ms(steps: int) -> tuple[float, float]:
    """CPU ms per step of gymnasium's CarRacing and of ours, same seed and actions."""
    rng = np.random.default_rng(0)
    actions = np.stack([rng.uniform(-1, 1, steps), rng.uniform(0, 1, steps), np.zeros(steps)], 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        envs = (carracing.cr.CarRacing(), carracing.FastCarRacing())
    out = []
    for env in envs:
        env.reset(seed=5)
        start = time.process_time()
        for a in actions:
            env.step(a)
        out.append((time.process_time() - start) / steps * 1e3)
    return out[0], out[1]


def run_carracing(quick: bool) -> None:
    steps = 150 if quick else 1000
    gym_ms, fast_ms = carracing_env_ms(200 if quick else 600)
    print(
        f"carracing env step (random actions, first {200 if quick else 600} steps of an "
        f"episode): gymnasium {gym_ms:.1f} ms, ours (same frames) {fast_ms:.1f} ms "
        f"(reference {REF_CARRACING_STEP_MS[0]:.0f}-{REF_CARRACING_STEP_MS[1]:.0f} ms)"
    )
    task = carracing.CarRacingTask(steps)
    task.warmup()
    g = grown(16, 3, 60, activations.CONTROL_POOL, seed=3)
    plan = compile_genome(g)
    w = np.repeat(WEIGHTS, 2)
    seeds = np.tile(rollout_seeds(0, 0, 2), len(WEIGHTS))
    start, wall = time.process_time(), time.perf_counter()
    _, n_steps = task.rollouts(plan, w, seeds)
    secs, wall = time.process_time() - start, time.perf_counter() - wall
    ms_step = secs / n_steps * 1e3
    per_genome = 12 * 1000 * ms_step / 1e3
    gen = 64 * per_genome
    print(
        f"carracing rollouts (encoder + {g.n_nodes}-node network, 12 rollouts of up to {steps} "
        f"steps, {n_steps} steps): {ms_step:.1f} CPU-ms a step, resets included "
        f"({wall / n_steps * 1e3:.1f} ms wall)"
    )
    print(
        f"  a paper generation (pop 64, 6 weights x 2 reps, 1000 steps, no early ends): "
        f"{per_genome:.0f} core-s a genome, {gen / 3600:.2f} core-hours a generation "
        f"({gen / 2 / 60:.0f} min on 2 cores); 1024 generations: "
        f"{1024 * gen / 3600:.0f} core-hours, i.e. {1024 * gen / 3600 / 64:.0f} h on 64 cores"
    )


def run(quick: bool = False) -> None:
    run_biped(quick)
    run_mnist(quick)
    run_mnist_search(quick)
    run_carracing(quick)
