"""Entry point: ``[mpirun -n N] python -m src.master --task swingup --out DIR [...]``.

Rank 0 (the root) runs the search; with more ranks the others serve evaluations.
Exit codes: 0 done, 2 bad input (nothing written), 1 an unexpected error,
99 stopped by SIGTERM/SIGUSR1 after writing a checkpoint ("requeue me": ``--resume DIR`` goes on).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import config as cfg
from . import parallel
from .evaluation import warm_up
from .search import checkpoint, loop, resume, stopping
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

checkpoints: DIR/checkpoints/gen_NNNNNN.h5 after every generation (newest keep_checkpoints
  kept). --resume DIR goes on from the newest usable one, bit-identical to a run that was never
  stopped. SIGTERM/SIGUSR1: checkpoint after the current generation, exit 99 ("requeue me").

exit codes: 0 done, 1 unexpected error, 2 bad input (nothing written), 99 stopped by a signal.

examples:
  python -m src.master --task swingup --out runs/s1 --generations 50
  python -m src.master --resume runs/s1 --generations 100
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
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run in DIR from its newest usable checkpoint (config from it; "
        "--generations N may extend the run)",
    )
    p.add_argument(
        "--force-config",
        action="store_true",
        help="with --resume: accept config changes that alter results (the run then no longer "
        "equals any uninterrupted run of one config)",
    )
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
    """Every rank: check the launch; then rank 0 searches and the other ranks serve."""
    stopping.install()  # every rank: SIGTERM/SIGUSR1 are recorded, only the root acts on them
    return parallel.run_roles(lambda executor: run_root(argv, executor), fail)


def run_root(
    argv: list[str] | None, executor: parallel.SerialExecutor | parallel.MPIExecutor
) -> int:
    """The root's work: parse, validate, search, report (workers serve meanwhile)."""
    args = parse_args(argv)
    log = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))
    if args.resume:
        try:
            state, out = resume.from_args(args, warn=lambda s: print(s, file=sys.stderr))
        except (cfg.ConfigError, checkpoint.CheckpointError) as exc:
            return fail(str(exc))
        config = state.config
        loop.Reporter(out, log).restart(state)  # drop rows written after the checkpoint
    else:
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
            make_task(config)  # a task that cannot be built (e.g. no MNIST data) fails here
            out = prepare_out(args.out)
        except cfg.ConfigError as exc:
            return fail(str(exc))
        state = loop.initial_state(config)
    loop.write_config(config, out / "config.toml")
    start = time.perf_counter()
    executor.call_on_workers(warm_up, config)  # workers warm up meanwhile
    make_task(config).warmup()  # JIT compile or cache load, outside the generation timings
    executor.wait_for_workers()  # every rank started (imports) before generation 0
    warm = time.perf_counter() - start
    log(
        f"WANN {config.task}: pop {config.pop_size}, {config.generations} generations, "
        f"{len(config.weights)} weights x {config.n_reps} reps, seed {config.seed}, "
        f"{executor.n_ranks} rank(s), out {out} (pid {os.getpid()}); "
        f"kernels ready in {warm:.1f} s (JIT compile on a machine's first run, then cached)"
    )
    state = loop.run(
        state,
        executor,
        loop.Reporter(out, log, f" (after {warm:.1f} s start-up: ranks, JIT compile or cache)"),
        # MPI: the root writes each checkpoint while the workers evaluate the next generation
        on_generation=lambda s: executor.defer(checkpoint.save, loop.snapshot(s), out),
        should_stop=stopping.requested,
    )
    executor.flush()  # the last checkpoint
    if state.generation + 1 < config.generations:
        print(
            f"stopped by {stopping.signal_name()} after generation {state.generation}: "
            f"checkpoint written, exit {stopping.EXIT_REQUEUE}; go on with --resume {out}",
            file=sys.stderr,
        )
        return stopping.EXIT_REQUEUE
    log(
        f"done: {state.generation + 1} generations in {time.perf_counter() - start:.1f} s; "
        f"best mean reward {state.best_info['mean_reward']:.2f} "
        f"(generation {state.best_info['generation']}) -> {out / 'best_genome.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(parallel.run_main(main))
