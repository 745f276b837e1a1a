"""The executor interface: the one seam between the search (or report) and where it runs.

Everything that evaluates genomes or episodes (the search loop, the report, the benchmarks)
is written against :class:`Executor` and never asks which one it has. Three implement it:

* :class:`src.parallel.serial.SerialExecutor`: in the calling process, in order;
* :class:`src.parallel.pool.PoolExecutor`: N local worker processes (``--workers N``), for
  laptops, notebooks and machines without MPI;
* :class:`src.parallel.mpi_executor.MPIExecutor`: the other ranks of an MPI job (``mpiexec -n N``).

It follows :class:`concurrent.futures.Executor` (and ``mpi4py.futures.MPIPoolExecutor``)
where the search's needs allow: ``map`` maps a module-level function over items and returns
the results in item order; the executor is a context manager whose exit shuts it down. It
differs where the search needs more: ``map`` returns a list (the search needs every result
before it ranks), ``items`` may be a lazy iterator (the root breeds the rest of a population
while the first chunks are evaluated), and root-only work can be :meth:`~Executor.defer`-ed
to run while the workers evaluate (the checkpoint of the previous generation).

Results never depend on the executor: every work item carries its own seeds, so serial,
pool and MPI runs of one config are bit-identical (tests/mpi).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["Executor"]


class Executor(abc.ABC):
    """Where work items run. Subclasses implement :meth:`map`; the rest has serial defaults.

    Attributes:
        n_workers: processes that evaluate at once; the search cuts its chunks for this many
            (:func:`src.parallel.schedule.chunk_size`).
        n_ranks: processes in the job, the root included (1 for a serial run); printed in
            progress lines and reports.
    """

    n_workers: int = 1
    n_ranks: int = 1

    @abc.abstractmethod
    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        """``[fn(item) for item in items]``, wherever the executor runs them, in item order.

        ``fn`` must be a module-level function (pickled by reference) and, like the items,
        mean the same in every process. ``items`` may be a lazy iterator. ``on_result(i,
        result)``, if given, is called in this process as each result arrives (in any
        order), so the caller can digest results while the workers still evaluate (the
        search rebuilds children bred on the workers).
        """

    def describe(self) -> str:
        """Where the work runs, for progress lines: ``"3 ranks"``, ``"2 worker processes"``."""
        return f"{self.n_ranks} ranks"

    def call_on_workers(self, fn: Callable[..., Any], *args: Any) -> None:  # noqa: B027
        """Have every worker process run ``fn(*args)`` before later work (JIT warm-up).

        Returns at once. Without worker processes there is nothing to do: the caller
        prepares its own process.
        """

    def wait_for_workers(self) -> None:  # noqa: B027
        """Return once every worker has handled everything sent to it so far (started up)."""

    def worker_platforms(self) -> dict[int, str]:
        """Worker rank -> its :func:`src.search.provenance.platform`, where workers run on
        other machines (MPI); empty where they share this process's."""
        return {}

    def defer(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in this process while the workers evaluate the next :meth:`map`.

        For root-only work whose result nobody waits for (writing a checkpoint of a
        snapshot). Calls run in order; :meth:`flush` waits for them and raises the first
        exception. Without workers there is no waiting to hide it in: it runs now.
        """
        fn(*args)

    def flush(self) -> None:  # noqa: B027
        """Wait until every deferred call has run; raise the first one's exception."""

    def close(self) -> None:  # noqa: B027
        """Flush, then stop the workers; idempotent. Later calls raise ``RuntimeError``."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
