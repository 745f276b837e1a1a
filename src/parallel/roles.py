"""Who does what in a job: rank 0 (the root) runs the entry point with an executor, the
other MPI ranks serve it. One function for the search, the report and anything else."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .executor import Executor
from .launch import launch_problem, run_main, world  # noqa: F401 (run_main: for callers)
from .mpi_executor import MPIExecutor, serve
from .serial import SerialExecutor

if TYPE_CHECKING:  # argparse only where a command line is parsed: not on a worker rank
    import argparse


def make_executor(workers: int = 0) -> Executor:
    """The root's executor: MPI with more than one rank, else a pool of ``workers`` local
    processes when ``workers > 0``, else serial.

    Raises:
        ValueError: ``workers > 0`` under an MPI launch of more than one rank (choose one).
    """
    _, size = world()
    if size > 1:
        if workers > 0:
            raise ValueError(
                f"--workers {workers} with {size} MPI ranks: use one or the other "
                "(the MPI ranks are the workers)"
            )
        return MPIExecutor()
    if workers > 0:
        from .pool import PoolExecutor  # multiprocessing: only when asked for

        return PoolExecutor(workers)
    return SerialExecutor()


def run_roles(
    run_root: Callable[[Executor], int], fail: Callable[[str], int], workers: int = 0
) -> int:
    """Every rank: check the launch, then rank 0 calls ``run_root(executor)``, others serve.

    ``fail(message)`` reports a bad launch (or ``workers`` under MPI) and gives the exit
    code. The executor is closed whatever ``run_root`` does, so the workers always stop.
    """
    rank, size = world()
    problem = launch_problem(size)
    if problem:
        return fail(problem)
    if rank != 0:
        serve()
        return 0
    try:
        executor = make_executor(workers)
    except ValueError as exc:
        # the other ranks serve until told to stop
        MPIExecutor().close()
        return fail(str(exc))
    try:
        return run_root(executor)
    finally:
        executor.close()


def serve_main() -> int:
    """A worker rank's whole life (rank > 0): check the launch, serve, return the exit code.

    What :func:`run_roles` does on such a rank, for entry points that start their workers
    before importing the root's modules: the work items' functions are pickled by name, so
    a worker imports only the modules they live in, when the first one arrives.
    """

    def fail(message: str) -> int:
        print(f"error: {message}", file=sys.stderr, flush=True)
        return 2

    return run_roles(lambda executor: 0, fail)


def add_workers_argument(parser: argparse.ArgumentParser) -> None:
    """``--workers N``: the local process pool, shared by every command line."""
    parser.add_argument(
        "--workers",
        type=_workers,
        default=0,
        metavar="N",
        help="evaluate in N local worker processes (no MPI needed; default 0: in this "
        "process, or on the other MPI ranks under mpiexec/srun)",
    )


def workers_from(argv: Sequence[str] | None) -> int:
    """``--workers`` of a command line, read before the executor exists (0 if absent or bad:
    the full parse on the root then reports a bad value)."""
    import argparse

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--workers", default="0")
    known, _ = pre.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    try:
        return _workers(known.workers)
    except argparse.ArgumentTypeError:
        return 0


def _workers(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value
