"""A probe of a network's tunability: how well it does once its connection weights are trained.

A WANN is searched with one shared weight; the paper's table also reports each champion with
its weights trained by PEPG ("tuned weights"). On swing-up the two disagree: of ten
champions with similar shared-weight returns, some hold the pole up once trained (~900),
others keep swinging it (~700-790; docs/search-quality.md, "Balancers and swingers"). The
search's objectives (shared-weight returns, connections) do not see the difference.

:func:`tuned_score` measures it for one genome, cheaply: a sweep of shared weights picks
``w*``, then PEPG (:mod:`src.core.pepg`, the report's optimiser) trains every used
connection from ``w*`` for a few generations, and the score is the trained weights' mean
return on fresh episodes. With ``starts > 1`` and ``start_pick = 'tuned'`` the search goes on
from the start whose probe scored highest (:func:`src.search.loop.start_scores`);
``python -m src.search.probe RUN`` probes a run's champion, its history's best genomes and
its last population's best (:func:`main`).

Its episodes come from their own seed stream (the run's seed, :data:`PROBE_TAG`, the
generation), never the report's (whose table seeds derive from the report seed and its own
tag), so a probe cannot select for the episodes that later score the champion. The probe
runs its episodes through the search's executor in rows whose returns do not depend on how
they are cut, so its score is the same at any rank count and on resume.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import WannConfig
from ..core import pepg
from ..core.genome import Genome
from ..parallel import Executor

#: Second word of every probe seed sequence, after the run's seed (the report uses its own tag).
PROBE_TAG = 0x9B0E
#: shared weights of the probe's sweep (:func:`src.report.control.sweep_weights`)
SWEEP_POINTS = 17
#: episodes per sweep weight, per PEPG candidate, and of the final score
SWEEP_EPISODES = 8
TUNE_EPISODES = 4
SCORE_EPISODES = 32
#: PEPG candidates per generation (the report's: 64)
POPSIZE = 32


def _seeds(config: WannConfig, generation: int, part: int, n: int, *key: int) -> np.ndarray:
    seq = np.random.SeedSequence([config.seed, PROBE_TAG, generation, part, *key])
    return seq.generate_state(n, dtype=np.uint32).astype(np.int64)


def tuned_score(
    config: WannConfig, genome: Genome, generation: int, executor: Executor
) -> tuple[float, int]:
    """(score, env steps): ``genome``'s mean return with its connection weights trained by
    ``config.start_probe_generations`` PEPG generations from the best shared weight of a
    sweep; -inf if it never gives a finite return. A pure function of (config, genome,
    generation)."""
    from ..report.control import sweep_weights  # the report imports the search: no cycle
    from ..report.episodes import Net, Runner

    runner = Runner(config, executor)
    net = Net.of(genome)
    ws = sweep_weights(SWEEP_POINTS)
    seeds = _seeds(config, generation, 0, SWEEP_EPISODES)
    sweep = runner.returns(genome, ws, np.tile(seeds, (len(ws), 1)))
    means = np.where(np.isfinite(sweep).all(axis=1), sweep.mean(axis=1), -np.inf)
    base = float(ws[int(np.argmax(means))])
    final = _seeds(config, generation, 3, SCORE_EPISODES)
    if net.n_params == 0:  # nothing to train: the best shared weight on the final episodes
        r = runner.returns(genome, [base], final[None])
        return (float(r.mean()) if np.isfinite(r).all() else -np.inf), runner.env_steps

    def fitness(g: int, offsets: np.ndarray) -> np.ndarray:
        tune_seeds = _seeds(config, generation, 1, TUNE_EPISODES, g)
        r = runner.returns(
            genome, np.ones(len(offsets)), np.tile(tune_seeds, (len(offsets), 1)), base + offsets
        )
        return np.where(np.isfinite(r).all(axis=1), r.mean(axis=1), -np.inf)

    cfg = pepg.PEPGConfig(popsize=POPSIZE, sigma_init=0.1, learning_rate=0.1)
    state = pepg.init(np.zeros(net.n_params), cfg)
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, PROBE_TAG, generation, 2]))
    for g in range(config.start_probe_generations):
        solutions = pepg.ask(state, cfg, rng)
        state = pepg.tell(state, cfg, solutions, fitness(g, solutions))
    r = runner.returns(genome, np.ones(1), final[None], (base + state.mu)[None])
    score = float(r.mean()) if np.isfinite(r).all() else -np.inf
    return score, runner.env_steps


def candidates(run: Path, state, top: int) -> list[tuple[str, Genome, float | None]]:
    """(name, genome, mean-reward objective or None) of a run folder's networks worth
    probing: the champion (``best_genome.json``), the generations' best kept in ``history/``
    from generation 128 on, and the ``top`` best genomes by mean reward of ``state``'s
    population (the newest checkpoint's), each network once.

    Raises:
        ValueError: a network that is not of the run's task (its inputs and outputs).
    """
    from ..export import read_genome
    from ..tasks import make_task

    out: list[tuple[str, Genome, float | None]] = []
    seen: set[bytes] = set()  # each network once (the champion is often in history/ too)

    def add(name: str, genome: Genome, mean: float | None = None) -> bool:
        if genome.key() in seen:
            return False
        seen.add(genome.key())
        out.append((name, genome, mean))
        return True

    if (run / "best_genome.json").exists():
        add("champion", read_genome(run / "best_genome.json").genome)
    for path in sorted((run / "history").glob("best_gen_*.json")):
        if int(path.stem.rsplit("_", 1)[1]) >= 128:
            add(path.stem, read_genome(path).genome)
    if top > 0 and state.objectives is not None:
        listed = 0
        for i in np.argsort(-state.objectives[:, 0], kind="stable"):
            name = f"gen {state.generation} #{i}"
            listed += add(name, state.population[i], float(state.objectives[i, 0]))
            if listed == top:
                break
    task = make_task(state.config)
    for name, genome, _ in out:
        if (genome.n_inputs, genome.n_outputs) != (task.n_inputs, task.n_outputs):
            raise ValueError(
                f"{name}: a network of {genome.n_inputs} inputs and {genome.n_outputs} "
                f"outputs, not the run's task's {task.n_inputs} and {task.n_outputs}"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m src.search.probe RUN``: the probe's score of a run's champion, its
    history's best genomes and the last population's best: whether a more tunable network
    than the champion is in reach."""
    import argparse
    import sys

    from ..config import ConfigError
    from ..export import GenomeFileError
    from ..parallel.serial import SerialExecutor
    from . import checkpoint

    p = argparse.ArgumentParser(
        prog="python -m src.search.probe",
        description="the probe's score of a run's champion, its history's best genomes and "
        "the last population's best: whether a more tunable network than the champion is in "
        "reach",
        epilog="example:\n  python -m src.search.probe runs/swingup_s1 --top 8",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", help="a run folder (config.toml, best_genome.json, checkpoints/)")
    p.add_argument("--top", type=int, default=8, help="genomes of the last population (8)")
    p.add_argument(
        "--generations", type=int, help="PEPG generations (the run's start_probe_generations)"
    )
    args = p.parse_args(argv)
    run = Path(args.run)
    try:
        if args.top < 0 or (args.generations is not None and args.generations < 1):
            raise ValueError("--top must be at least 0 and --generations at least 1")
        loaded = checkpoint.load_latest(run)
        for path, why, _ in loaded.skipped:  # read only: nothing renamed, unlike a resume
            print(f"warning: skipped checkpoint {path}: {why}", file=sys.stderr)
        state = loaded.state
        config = state.config
        if args.generations is not None:
            config = config.replace(start_probe_generations=args.generations)
        found = candidates(run, state, args.top)
    except (OSError, ValueError, GenomeFileError, ConfigError, checkpoint.CheckpointError) as exc:
        print(f"error: {run}: {exc}", file=sys.stderr)
        return 2
    executor = SerialExecutor()
    generations = config.start_probe_generations
    print(f"| genome | connections | mean reward (search) | probe ({generations} PEPG gen.) |")
    print("|---|---|---|---|")
    for name, genome, mean in found:
        score, _ = tuned_score(config, genome, PROBE_GENERATION, executor)
        shown = "" if mean is None else f"{mean:.0f}"
        print(f"| {name} | {genome.n_connections} | {shown} | {score:.0f} |")
    return 0


#: The generation word of the command line's probe seeds: every genome meets the same episodes.
PROBE_GENERATION = 1 << 20


if __name__ == "__main__":
    raise SystemExit(main())
