"""Executors: where evaluations run, behind one interface (:class:`Executor`).

Modules, one concern each:

* :mod:`.executor`  the interface: ``map``, ``call_on_workers``, ``wait_for_workers``,
  ``defer``, ``flush``, ``close``, ``describe``; a context manager.
* :mod:`.serial`    :class:`SerialExecutor`, in the calling process.
* :mod:`.pool`      :class:`PoolExecutor`, N local worker processes (``--workers N``).
* :mod:`.mpi_executor`:class:`MPIExecutor` (the root) and :func:`serve` (the other ranks).
* :mod:`.roles`     :func:`run_roles`: rank 0 runs the entry point, the others serve.
* :mod:`.launch`    the MPI handle, the launch check, abort on an uncaught exception.
* :mod:`.schedule`  chunk sizes, rollout slices and who evaluates (pure functions of counts).
* :mod:`.waiting`   back-off sleeps between non-blocking polls (nobody spins).
* :mod:`.deferred`  root-only calls run in a background thread during the next map.
* :mod:`.replicated` every rank runs the search loop (``replicated = true``): static shares,
  one exchange of results a generation, no root on the critical path.
* :mod:`.resident`  the drivers of the resident loop (``resident = true``,
  :mod:`src.search.resident`): on MPI, and every rank simulated in one process.

Only :mod:`.launch` imports ``mpi4py`` (lazily: without it everything runs serially or in
a pool). Results never depend on the executor: serial, pool and MPI runs of one config are
bit-identical.
"""

from . import replicated, resident
from .executor import Executor
from .launch import launch_problem, mpi, run_main, world
from .mpi_executor import MPIExecutor, serve
from .roles import add_workers_argument, make_executor, run_roles, workers_from
from .schedule import (
    DEPTH,
    QUEUE_WHILE_LEFT,
    chunk_bounds,
    chunk_size,
    item_rollouts,
    rollout_pieces,
    root_evaluates,
    whole_from,
)
from .serial import SerialExecutor
from .waiting import Backoff, oversubscribed, waiting_backoff


def __getattr__(name: str) -> object:
    """The pool (``multiprocessing``) is imported on first use: a worker rank never needs it."""
    if name in ("PoolExecutor", "WorkerError"):
        from . import pool

        return getattr(pool, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEPTH",
    "QUEUE_WHILE_LEFT",
    "Backoff",
    "Executor",
    "MPIExecutor",
    "PoolExecutor",
    "SerialExecutor",
    "WorkerError",
    "add_workers_argument",
    "chunk_bounds",
    "chunk_size",
    "item_rollouts",
    "launch_problem",
    "make_executor",
    "mpi",
    "replicated",
    "resident",
    "oversubscribed",
    "rollout_pieces",
    "root_evaluates",
    "run_main",
    "run_roles",
    "serve",
    "waiting_backoff",
    "whole_from",
    "workers_from",
    "world",
]
