"""``[mpiexec -n N] python -m src.report RUN_DIR|GENOME [options]``: the report of a run.

Rank 0 analyses and writes; with more ranks the others serve the episodes (as in the search).
Exit codes: 0 done, 2 bad input (one line on stderr), 1 an unexpected error.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .. import config as cfg
from .. import parallel
from ..evaluation import warm_up
from .build import ReportError, load_target, write_report
from .control import Budget
from .video import VideoOptions

EXIT_BAD_INPUT = 2
DEFAULTS = {
    "episodes": 100,
    "sweep": 81,
    "tune_generations": 150,
    "tune_popsize": 64,
    "tune_episodes": 8,
    "sigma_init": 0.1,
    "learning_rate": 0.1,
}
QUICK = {
    **DEFAULTS,
    "episodes": 20,
    "sweep": 21,
    "tune_generations": 20,
    "tune_popsize": 16,
    "tune_episodes": 2,
}

EPILOG = """\
writes into --out (default RUN_DIR/report): report.md (the table next to the paper's numbers,
the pictures, the command), report.html (the same in one self-contained page, with a
shared-weight slider over the champion's episodes), table.csv, sweep.csv, tuned_weights.json,
curves.png, sweep.png, network.png and network_tuned.png (each also as .svg and .pdf; laid
out by Graphviz dot), episodes.gif and episodes.mp4 (the champion's episode at the search's
six weights and w*, side by side; swing-up, biped, carracing, gym tasks), and tune_<network>.npz
(PEPG state after every generation: running the same command again resumes from it, or
reuses a finished one). --no-video renders no episodes.

--quick sets --episodes 20 --sweep 21 --tune-generations 20 --tune-popsize 16
--tune-episodes 2 (flags given explicitly win).

examples:
  python -m src.report runs/s1
  python -m src.report runs/s1 --quick --out /tmp/look
  python -m src.report my_genome.json --task swingup --set episode_steps=500
  python -m src.report docs/champions/swing.out --task swingup --out /tmp/swing
  mpiexec -n 4 python -m src.report runs/s1
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m src.report",
        description="The paper's table (random / random shared / tuned shared / tuned weights; "
        "MNIST: accuracy per weight, ensemble, tuned, trained), a fixed-topology baseline and "
        "pictures, for the champion of a WANN run.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "target",
        help="run folder (best_genome.json, config.toml, stats.csv) or genome file (JSON, or "
        "the authors' .out with --task)",
    )
    p.add_argument("--task", help="task of a genome file that does not name it (a .out file)")
    p.add_argument("--out", help="report folder (default: RUN_DIR/report)")
    p.add_argument("--episodes", type=int, help="episodes per table cell and sweep point (100)")
    p.add_argument(
        "--sweep", type=int, help="points of the shared-weight sweep over [-2, 2], 0 left out (81)"
    )
    p.add_argument("--tune-generations", type=int, help="PEPG generations (150)")
    p.add_argument("--tune-popsize", type=int, help="PEPG candidates per generation, even (64)")
    p.add_argument("--tune-episodes", type=int, help="episodes per PEPG candidate (8)")
    p.add_argument(
        "--tune-sigma",
        type=float,
        dest="sigma_init",
        metavar="SIGMA",
        help="PEPG's initial spread of the per-connection offsets (0.1)",
    )
    p.add_argument(
        "--tune-lr",
        type=float,
        dest="learning_rate",
        metavar="LR",
        help="PEPG's Adam step size (0.1)",
    )
    p.add_argument(
        "--fixed-hidden",
        type=int,
        default=8,
        help="tanh nodes of the fixed-topology baseline; 0 = no baseline (8)",
    )
    p.add_argument("--quick", action="store_true", help="small budgets for a quick look")
    p.add_argument("--seed", type=int, default=0, help="report seed (episodes, draws, PEPG) (0)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key of the run's config, e.g. episode_steps=1000",
    )
    p.add_argument(
        "--no-video",
        action="store_true",
        help="render no episodes (no episodes.gif/.mp4, no slider in report.html): faster",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    parallel.add_workers_argument(p)
    return p.parse_args(argv)


def budget_from(args: argparse.Namespace) -> Budget:
    """The budget: explicit flags, else --quick's values, else the defaults; checked."""
    base = QUICK if args.quick else DEFAULTS
    values = {k: getattr(args, k) if getattr(args, k) is not None else v for k, v in base.items()}
    for key, low in (
        ("episodes", 1),
        ("sweep", 1),
        ("tune_generations", 0),
        ("tune_popsize", 2),
        ("tune_episodes", 1),
    ):
        if values[key] < low:
            raise ReportError(f"--{key.replace('_', '-')} must be >= {low}, got {values[key]}")
    for key, flag in (("sigma_init", "--tune-sigma"), ("learning_rate", "--tune-lr")):
        if not 0 < values[key] < float("inf"):
            raise ReportError(f"{flag} must be a finite number > 0, got {values[key]}")
    if values["tune_popsize"] % 2:
        raise ReportError(f"--tune-popsize must be even, got {values['tune_popsize']}")
    if not 0 <= args.seed < 2**63:
        raise ReportError(f"--seed must be >= 0 and fit a 64-bit integer, got {args.seed}")
    if args.fixed_hidden < 0:
        raise ReportError(f"--fixed-hidden must be >= 0, got {args.fixed_hidden}")
    return Budget(seed=args.seed, **values)


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def run_root(argv: list[str] | None, executor: parallel.Executor) -> int:
    """Parse, load, analyse, write (the workers serve meanwhile)."""
    args = parse_args(argv)
    log = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))
    try:
        budget = budget_from(args)
        target = load_target(args.target, args.task, args.set)
    except (ReportError, cfg.ConfigError) as exc:
        return fail(str(exc))
    if args.out:
        out = Path(args.out)
    elif target.run_dir is not None and Path(args.target).is_dir():
        out = target.run_dir / "report"
    else:
        out = target.genome_path.parent / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        return fail(f"--out {str(out)!r} is not writable: {exc.strerror}")
    executor.call_on_workers(warm_up, target.config)
    warm_up(target.config)
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "-m", "src.report", *given])
    log(
        f"report of {args.target} ({target.config.task}) into {out}: "
        f"{executor.describe()}, budget {budget}"
    )
    progress = None if args.quiet else sys.stderr
    movies = None if args.no_video else VideoOptions()
    write_report(target, out, budget, executor, args.fixed_hidden, command, log, progress, movies)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Every rank: check the launch; rank 0 writes the report, the others serve episodes."""
    return parallel.run_roles(
        lambda executor: run_root(argv, executor), fail, parallel.workers_from(argv)
    )


if __name__ == "__main__":
    sys.exit(parallel.run_main(main))
