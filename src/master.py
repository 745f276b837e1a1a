"""Entry point: ``[mpirun -n N] python -m src.master --task swingup --out DIR [...]``.

Rank 0 (the root) runs the search; with more ranks the others serve evaluations.
Exit codes: 0 done, 2 bad input (nothing written), 1 an unexpected error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import config as cfg
from .parallel import SerialExecutor
from .search import loop
from .tasks import make_task

EXIT_BAD_INPUT = 2

EPILOG = f"""\
config keys (set any with --set key=value; values are TOML: 3, 0.5, true, "paper", [1, 2]):
{cfg.describe()}

Layering, later wins: defaults < src/configs/<task>.toml < --config FILE < flags < --set.

outputs in --out DIR:
  stats.csv          one row per generation: {", ".join(loop.STATS_COLUMNS)}
  best_genome.json   best genome so far (nodes, activations by name, connections, scores)
  config.toml        the full config of the run

examples:
  python -m src.master --task swingup --out runs/s1 --generations 50
  mpiexec -n 8 python -m src.master --task swingup --out runs/s2 --set n_reps=3
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m src.master",
        description="Weight Agnostic Neural Network search (Gaier & Ha 2019), serial or MPI.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--task", help=f"task to solve: {', '.join(cfg.TASK_NAMES)}")
    p.add_argument("--out", help="run folder (created; must not already hold a run)")
    p.add_argument("--generations", type=int, help="generations to run (config: generations)")
    p.add_argument("--pop-size", type=int, help="population size (config: pop_size)")
    p.add_argument("--seed", type=int, help="run seed (config: seed)")
    p.add_argument("--config", help="TOML file of config keys, applied over the task's file")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override one config key"
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p.parse_args(argv)


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def prepare_out(out: str) -> Path:
    """Create the run folder; refuse one that holds a run or cannot be written."""
    path = Path(out)
    if (path / "stats.csv").exists():
        raise cfg.ConfigError(f"--out {out!r} already holds a run; choose another folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise cfg.ConfigError(f"--out {out!r} is not writable: {exc.strerror}") from None
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.task:
        return fail(f"--task is required; accepted: {', '.join(cfg.TASK_NAMES)}")
    if not args.out:
        return fail("--out DIR is required")
    try:
        config = cfg.build(
            args.task,
            args.config,
            {"generations": args.generations, "pop_size": args.pop_size, "seed": args.seed},
            args.set,
        )
        out = prepare_out(args.out)
    except cfg.ConfigError as exc:
        return fail(str(exc))
    log = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))
    loop.write_config(config, out / "config.toml")
    executor = SerialExecutor()
    state = loop.initial_state(config)
    start = time.perf_counter()
    make_task(config).warmup()  # JIT compile or cache load, outside the generation timings
    warm = time.perf_counter() - start
    log(
        f"WANN {config.task}: pop {config.pop_size}, {config.generations} generations, "
        f"{len(config.weights)} weights x {config.n_reps} reps, seed {config.seed}, "
        f"{executor.n_ranks} rank(s), out {out} (pid {os.getpid()}); "
        f"kernels ready in {warm:.1f} s (JIT compile on a machine's first run, then cached)"
    )
    state = loop.run(state, executor, loop.Reporter(out, log))
    log(
        f"done: {state.generation + 1} generations in {time.perf_counter() - start:.1f} s; "
        f"best mean reward {state.best_info['mean_reward']:.2f} "
        f"(generation {state.best_info['generation']}) -> {out / 'best_genome.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
