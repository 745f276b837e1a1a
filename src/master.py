"""Entry point: ``[mpirun -n N] python -m src.master --task swingup --out DIR [...]``.

Rank 0 (the root) runs the search; with more ranks the others serve evaluations. The root
holds the run folder's lock (``src.search.runlock``) from before it reads or writes anything
there until it exits: one folder, one run.
Exit codes: 0 done, 1 an unexpected error, 2 bad input (nothing written) or a folder in use,
74 a run file could not be written (disk full; the last checkpoint is intact),
99 stopped by SIGTERM/SIGUSR1 after writing a checkpoint ("requeue me": ``--resume DIR`` goes on),
130 stopped by Ctrl-C after writing a checkpoint.
"""

from __future__ import annotations

if __name__ == "__main__":
    # First of all, on every rank: a SIGTERM or SIGUSR1 that reaches a rank while it imports
    # (numpy, numba, h5py: a second or more) is recorded instead of killing it (issue 11).
    from .search import stopping as _stopping

    _stopping.install()
    # A worker rank needs none of the root's modules (argument parsing, checkpoints, h5py,
    # reporters): it serves at once, and what its work items need is imported when they
    # arrive (the evaluation code and the run's task only). Half the start-up CPU of a rank.
    from .parallel import roles as _roles

    if _roles.world()[0] != 0:
        _code = _roles.run_main(_roles.serve_main)
        _stopping.ignore_from_now()  # the exit code is decided (see main)
        raise SystemExit(_code)

import argparse
import contextlib
import dataclasses
import errno
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from . import config as cfg
from . import parallel
from .core.genome import initial_genome
from .evaluation import warm_up
from .search import (
    checkpoint,
    files,
    loop,
    provenance,
    reporters,
    resume,
    runfolder,
    runlock,
    stopping,
    tensorboard,
)
from .tasks import make_task, registry

EXIT_BAD_INPUT = 2

EPILOG = f"""\
tasks (--task; the built-in ones start from src/configs/<task>.toml, the others from the
defaults; writing your own: docs/tasks.md):
{registry.describe()}

config keys (set any with --set key=value; values are TOML: 3, 0.5, true, "paper", [1, 2]);
the default, then in parentheses each task file's value (what --task applies over it):
{cfg.describe()}

Layering, later wins: defaults < src/configs/<task>.toml < --config FILE < flags < --set.

outputs in --out DIR:
  stats.csv          one row per generation: {", ".join(loop.STATS_COLUMNS)}
  best_genome.json   best genome so far (nodes, activations by name, connections, scores)
  config.toml        the full config, its run_id, activation pool, software version and
                     platform (--config ignores those four; --resume refuses a pool or
                     version change unless --force-config)
  run.lock           while the run lives: host, pid and start of the process holding DIR

one folder, one run: --out refuses a folder holding run files; a second launch or --resume of
  a running folder exits 2 naming the holder; a dead holder's lock is taken over (same host:
  at once; another host: after WANN_LOCK_STALE_S, default 300 s, without heartbeat).
checkpoints: DIR/checkpoints/gen_NNNNNN.h5 after every checkpoint_every generations (default
  1), checkpoint_minutes after the previous one (0 = off), and the last (newest
  keep_checkpoints kept). --resume DIR goes on from the newest usable
  one of this run (recomputing the generations after it), bit-identical to a run that was
  never stopped. SIGTERM/SIGUSR1: checkpoint after the current generation, exit 99
  ("requeue me"); Ctrl-C: the same, exit 130; a second Ctrl-C stops at once.

exit codes: 0 done, 1 unexpected error, 2 bad input (nothing written) or folder in use,
  74 write failed (disk full), 99 stopped by a signal, 130 stopped by Ctrl-C.

examples:
  python -m src.master --task swingup --out runs/s1 --generations 50
  python -m src.master --resume runs/s1 --generations 100
  python -m src.master --task swingup --out runs/s2 --workers 4    # a local process pool
  mpiexec -n 8 python -m src.master --task swingup --out runs/s3 --set n_reps=3
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m src.master",
        description="Weight Agnostic Neural Network search (Gaier & Ha 2019), serial or MPI.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--task", help="task to solve (see tasks below)")
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
        "--tensorboard",
        metavar="DIR",
        help="also write TensorBoard event files (scalars per generation) to DIR; needs the "
        "tensorboard extra (tensorboardX)",
    )
    parallel.add_workers_argument(p)
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run in DIR from its newest usable checkpoint (config from it; "
        "--generations N may extend the run); with none yet, start DIR's run (its "
        "config.toml) from generation 0",
    )
    p.add_argument(
        "--force-config",
        action="store_true",
        help="with --resume: accept config changes that alter results (the run then no longer "
        "equals any uninterrupted run of one config)",
    )
    return p.parse_args(argv)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return code


def warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


#: Copies of the population alive at once, at worst: the population, the next one being
#: bred, the packed copies sent for evaluation and the checkpoint's encoding of a snapshot.
POPULATION_COPIES = 4
#: Python's overhead per numpy array and per genome object, bytes (measured: ~110 and ~200).
ARRAY_OVERHEAD, GENOME_OVERHEAD = 112, 200


def memory_limit() -> int | None:
    """Bytes this process may use: physical memory, or a smaller cgroup (container) limit."""
    limits = []
    with contextlib.suppress(OSError, ValueError):
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):  # "max": no limit
            limits.append(int(Path(path).read_text().strip()))
    return min(limits) if limits else None


def check_memory(config: cfg.WannConfig) -> None:
    """Refuse a population that cannot fit in memory even at its start (ConfigError).

    Genomes only grow during a search, so this is a lower bound: it catches a mistyped
    ``--pop-size 100000000`` before anything is written, instead of a machine swapping.
    """
    task = make_task(config)
    genome = initial_genome(task.n_inputs, task.n_outputs, 0.5, np.random.default_rng(0))
    arrays = [getattr(genome, f.name) for f in dataclasses.fields(genome)]
    per_genome = sum(a.nbytes + ARRAY_OVERHEAD for a in arrays) + GENOME_OVERHEAD
    need = per_genome * config.pop_size * POPULATION_COPIES
    limit = memory_limit()
    if limit is not None and need > limit:
        raise cfg.ConfigError(
            f"pop_size {config.pop_size} needs at least {need / 1e9:.1f} GB at the start "
            f"({per_genome} bytes a {config.task} genome, {POPULATION_COPIES} copies alive at "
            f"once), more than the {limit / 1e9:.1f} GB of memory here; choose a smaller pop_size"
        )


def prepare_out(out: str) -> Path:
    """Create the run folder; refuse one that holds run files of any kind or is unwritable.

    Nothing is written when the folder is refused. The lock taken next makes two launches
    racing for one new folder safe; the check is repeated under it (:func:`claim_new`).
    """
    path = Path(out)
    try:
        refuse_run_folder(path)
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cfg.ConfigError(f"--out {out!r} is not writable: {exc.strerror}") from None
    return path


def refuse_run_folder(path: Path, ignore: tuple[str, ...] = ()) -> None:
    """ConfigError if ``path`` holds run files (other than ``ignore``): one folder, one run."""
    found = [name for name in runfolder.run_files(path) if name not in ignore]
    if not found:
        return
    holder = runlock.holder_of(path) if runlock.LOCK_NAME not in ignore else None
    if holder is not None:
        raise cfg.ConfigError(
            f"--out {str(path)!r} is in use by another run: {holder.describe()} "
            f"(lock {path / runlock.LOCK_NAME})"
        )
    raise cfg.ConfigError(
        f"--out {str(path)!r} already holds a run ({', '.join(found)}); use --resume "
        f"{path} to continue it, or choose another folder"
    )


def claim_new(path: Path, run_id: str) -> runlock.RunLock:
    """Lock a new run folder, then check again under the lock that it holds no run."""
    lock = runlock.acquire(path, run_id, warn=warn, interrupted=stopping.requested)
    try:
        refuse_run_folder(path, ignore=(runlock.LOCK_NAME,))
    except BaseException:
        lock.release()
        raise
    return lock


def main(argv: list[str] | None = None) -> int:
    """Every rank: check the launch; then rank 0 searches and the other ranks serve."""
    stopping.install()  # every rank: stop signals are recorded, only the root acts on them
    code = parallel.run_roles(
        lambda executor: run_root(argv, executor), fail, parallel.workers_from(argv)
    )
    # The exit code is decided: a signal during the shutdown (MPI_Finalize, interpreter
    # teardown) must not turn it into a death by signal.
    stopping.ignore_from_now()
    return code


def run_root(argv: list[str] | None, executor: parallel.Executor) -> int:
    """The root's work: parse, validate, lock the run folder, search, report.

    The workers serve meanwhile. The run folder's lock is taken before anything in the
    folder is read for a resume or written for a new run, and released on every way out.
    """
    args = parse_args(argv)
    log = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))
    try:
        if args.tensorboard:
            tensorboard.writer_class()  # installed? (exit 2 before anything is written)
        if args.resume:
            out = resume.check_folder(args)
            if args.tensorboard:  # made and checked only once the rest of the input is good
                tensorboard.check_logdir(args.tensorboard)
            lock = runlock.acquire(
                out, resume.folder_run_id(out), warn=warn, interrupted=stopping.requested
            )
            config, run_id = None, ""
        else:
            if args.force_config:  # it changes nothing in a new run: say so, do nothing
                return fail("--force-config only applies with --resume DIR")
            if not args.task:
                return fail(f"--task is required; accepted: {registry.accepted()}")
            if not args.out:
                return fail("--out DIR is required")
            config = cfg.build(
                args.task,
                args.config,
                {"generations": args.generations, "pop_size": args.pop_size, "seed": args.seed},
                args.set,
            )
            make_task(config)  # a task that cannot be built (e.g. no MNIST data) fails here
            check_memory(config)
            if args.tensorboard:
                tensorboard.check_logdir(args.tensorboard)
            out = prepare_out(args.out)
            run_id = runfolder.new_run_id()
            lock = claim_new(out, run_id)
    except (cfg.ConfigError, checkpoint.CheckpointError, runlock.RunLockError) as exc:
        return fail(str(exc))
    except OSError as exc:  # creating the lock file
        folder = Path(args.resume or args.out)
        if exc.errno in files.DISK_ERRORS:
            return fail(write_failed(folder, exc), files.EXIT_WRITE_FAILED)
        flag = "--resume" if args.resume else "--out"
        return fail(f"{flag} {str(folder)!r} is not writable: {exc.strerror}")
    try:
        return _run_locked(args, config, run_id, out, lock, executor, log)
    except runlock.RunLockError as exc:
        return fail(str(exc))
    except files.WriteFailed as exc:
        return fail(write_failed(out, exc), files.EXIT_WRITE_FAILED)
    finally:
        lock.release()


def write_failed(out: Path, exc: OSError) -> str:
    """One line for a failed write: the folder, the cause, what is intact, what to do."""
    cause = errno.errorcode.get(exc.errno or 0, "error")
    name = Path(exc.filename).name if exc.filename else "a file"
    found = checkpoint.list_checkpoints(out)
    last = f"the last checkpoint, {found[-1][1].name}, is intact" if found else "no checkpoint yet"
    return (
        f"cannot write to run folder {out}: {exc.strerror} ({cause}) while writing {name}; "
        f"{last}: free space (or lower keep_checkpoints with --set) and --resume {out}"
    )


def warm_up_everywhere(config: cfg.WannConfig, executor: parallel.Executor) -> float:
    """JIT compile or load the task's kernels on every process; returns the seconds taken.

    Done before generation 0 so that its timings are the search's. The workers warm up
    while this process does.
    """
    start = time.perf_counter()
    executor.call_on_workers(warm_up, config)
    make_task(config).warmup()
    executor.wait_for_workers()  # every rank started (imports) before generation 0
    mixed = provenance.mixed_ranks(executor.worker_platforms(), provenance.platform())
    if mixed is not None:
        warn(mixed)
    return time.perf_counter() - start


def search_in_folder(
    state: loop.SearchState,
    executor: parallel.Executor,
    out: Path,
    run_id: str,
    lock: runlock.RunLock,
    more: Sequence[loop.Reporter] = (),
    should_stop: Callable[[], bool] = lambda: False,
) -> loop.SearchState:
    """:func:`src.search.loop.run` with the run folder's files: stats.csv, best_genome.json
    and history/ (rewritten from ``state`` first, so a resume drops what was written after its
    checkpoint), the reporters ``more``, and a checkpoint after generation g when
    ``(g + 1) % checkpoint_every == 0`` or ``checkpoint_minutes`` after the previous one,
    after the last generation and after the one a stop
    signal ends the run on (under MPI written while the workers evaluate the next one; the
    last one is flushed here, also when the search raises: a root that fails in generation g
    leaves g - 1's checkpoint). A generation not checkpointed costs the root nothing here (no
    snapshot, no write); a kill before the next checkpoint means the resumed run recomputes
    it, identically.

    Raises:
        src.search.files.WriteFailed: a run file could not be written (disk full ...).
        src.search.runlock.RunLockError: the folder is no longer this run's.
    """
    # with replicated = true every rank runs the loop from here (src.parallel.replicated)
    replicated = parallel.replicated.start(executor, state)
    executor = replicated or executor
    # the generation of the newest checkpoint (a resumed state is one) and when it was taken
    saved = [state.generation if state.objectives is not None else None]
    since = [time.monotonic()]

    def save(s: loop.SearchState) -> None:
        executor.defer(checkpoint.save, loop.snapshot(s), out, run_id, lock.verify)
        saved[0], since[0] = s.generation, time.monotonic()

    def due(s: loop.SearchState) -> bool:
        done, config = s.generation + 1, s.config
        # which generations the clock picks never changes a result: any checkpoint resumes
        minutes = config.checkpoint_minutes
        late = minutes > 0 and time.monotonic() - since[0] >= 60 * minutes
        return bool(
            done % config.checkpoint_every == 0
            or done >= config.generations
            or late
            or should_stop()
        )

    def on_generation(s: loop.SearchState) -> None:
        if due(s):
            save(s)

    def stop() -> bool:  # the loop's poll after each generation; rank 0 decides for all
        if replicated is None:
            return should_stop()
        return replicated.agree(should_stop(), loop.done(state))

    files = [reporters.StatsFiles(out, guard=lock.verify), *more]
    try:
        try:
            if replicated is not None and state.config.resident:
                state = parallel.resident.run_rank0(
                    state, replicated, files, due, save, should_stop
                )
            else:
                state = loop.run(state, executor, files, on_generation, stop)
        except Exception:
            if replicated is not None:
                replicated.abandon()  # the other ranks wait in the next exchange
            raise
    except runlock.RunLockError:
        raise  # the folder is no longer this run's: nothing more is written to it
    except Exception as exc:
        # A checkpoint still queued (MPIExecutor.defer) is of a whole generation: write it
        # now, while the folder is this run's (the lock goes when this returns), not later
        # in executor.close(), where it could only fail for want of the lock.
        try:
            executor.flush()
        except Exception as late:
            exc.add_note(f"the queued checkpoint could not be written either: {late}")
        raise
    if state.objectives is not None and saved[0] != state.generation:
        save(state)  # a stop signal that came between on_generation and the loop's poll
    executor.flush()  # the last checkpoint
    return state


def _run_locked(
    args: argparse.Namespace,
    config: cfg.WannConfig | None,
    run_id: str,
    out: Path,
    lock: runlock.RunLock,
    executor: parallel.Executor,
    log: Callable[[str], None],
) -> int:
    if config is None:  # --resume
        try:
            state, out, run_id = resume.from_args(args, warn=warn)
        except (cfg.ConfigError, checkpoint.CheckpointError) as exc:
            return fail(str(exc))
        config = state.config
        try:
            check_memory(config)  # --pop-size with --force-config
        except cfg.ConfigError as exc:
            return fail(str(exc))
        if state.objectives is None:  # no checkpoint yet: the run starts over from generation 0
            (out / "best_genome.json").unlink(missing_ok=True)  # generation 0 writes it again
    else:
        state = loop.initial_state(config)
    cfg.write_config(config, out / "config.toml", run_id)
    start = time.perf_counter()
    warm = warm_up_everywhere(config, executor)
    log(
        f"WANN {config.task}: pop {config.pop_size}, {config.generations} generations, "
        f"{len(config.weights)} {'stratified ' * (config.weight_sampling == 'stratified')}"
        f"weights x {config.n_reps} reps, seed {config.seed}, "
        f"{executor.describe()}, out {out} (pid {os.getpid()}); "
        f"kernels ready in {warm:.1f} s (JIT compile on a machine's first run, then cached)"
    )
    state = search_in_folder(
        state,
        executor,
        out,
        run_id,
        lock,
        [
            reporters.ProgressLine(
                log, f" (after {warm:.1f} s start-up: ranks, JIT compile or cache)"
            ),
            *([tensorboard.TensorBoard(args.tensorboard)] if args.tensorboard else []),
        ],
        should_stop=stopping.requested,
    )
    if state.generation + 1 < config.generations:
        code = stopping.exit_code()
        print(
            f"stopped by {stopping.signal_name()} after generation {state.generation}: "
            f"checkpoint written, exit {code}; go on with --resume {out}",
            file=sys.stderr,
            flush=True,
        )
        return code
    info = state.best_info
    rescored = (
        f", {info['champion_score']:.2f} on {info['champion_rollouts']} fresh rollouts"
        if "champion_score" in info
        else ""
    )
    log(
        f"done: {state.generation + 1} generations in {time.perf_counter() - start:.1f} s; "
        f"champion: mean reward {info['mean_reward']:.2f} in generation {info['generation']}"
        f"{rescored} -> {out / 'best_genome.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(parallel.run_main(main))
