"""A tour of the Python API (``src/api.py``): search, read the run back, evaluate, draw.

    .venv/bin/python examples/api_tour.py --out runs/tour            # about a minute
    .venv/bin/python examples/api_tour.py --out runs/tour --workers 2 --generations 30

The same lines work in a notebook (started in the repository root). The search here is
short (swing-up, a small population, short episodes); drop the overrides for the paper's.
"""

from __future__ import annotations

import argparse

import numpy as np

from src import api


class BestSoFar(api.Reporter):
    """A reporter of our own: remembers the champion's score after every generation."""

    def __init__(self) -> None:
        self.scores: list[float] = []

    def generation(self, state, row):
        info = state.best_info
        self.scores.append(info.get("champion_score", info["mean_reward"]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="a new run folder")
    p.add_argument("--generations", type=int, default=12)
    p.add_argument("--pop-size", type=int, default=48)
    p.add_argument("--episode-steps", type=int, default=300)
    p.add_argument("--workers", type=int, default=0, help="local worker processes")
    args = p.parse_args()

    # 1. Search: a task name and config keys as keyword arguments; `out` makes it a run
    #    folder like `python -m src.master --out` writes (resumable with --resume).
    best_so_far = BestSoFar()
    result = api.search(
        "swingup",
        out=args.out,
        workers=args.workers,
        reporters=[best_so_far],
        generations=args.generations,
        pop_size=args.pop_size,
        episode_steps=args.episode_steps,
        seed=1,
    )
    print(f"best mean reward per generation: {np.round(result.stats['best_mean'], 1)}")
    print(f"best so far (our reporter):      {np.round(best_so_far.scores, 1)}")

    # 2. Read the run folder back: stats.csv, best_genome.json, config.toml, checkpoints.
    run = api.open_run(args.out)
    last = run.state()  # the newest checkpoint: the last generation's population
    print(
        f"{run.folder}: {len(run.stats['generation'])} generations, checkpoints "
        f"{run.checkpoints}, champion from generation {run.best_info['generation']} with "
        f"{run.best.n_connections} connections; last population: {len(last.population)} "
        f"genomes, mean rewards up to {last.objectives[:, 0].max():.1f}"
    )
    assert run.best == result.best

    # 3. Evaluate the champion: rows are shared weights, columns episode seeds.
    weights = [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0]
    returns = api.evaluate(run.best, run.config, weights=weights, seeds=range(4))
    for w, r in zip(weights, returns):
        print(f"  weight {w:+.1f}: mean return {r.mean():7.1f} over {len(r)} episodes")

    # 4. Draw it.
    print(f"drawn: {api.draw(run.best, run.folder / 'champion.png', title='swing-up champion')}")


if __name__ == "__main__":  # needed with --workers: worker processes start with spawn
    main()
