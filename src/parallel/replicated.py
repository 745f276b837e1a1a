"""A replicated generation loop (SPMD, ``replicated = true``): no root on the critical path.

With :class:`src.parallel.mpi_executor.MPIExecutor` the root ranks, breeds (or sends parents
to be bred), packs, pickles and sends every genome and rebuilds every child: per-genome
Python on one core, 110-230 ms a generation at MNIST's pop 960, while 63 workers evaluate
late genomes in 7-15 ms (docs/mpi.md). Here every rank runs the same search loop
(:func:`src.search.loop.run`) on the same state instead:

* every rank ranks the population, runs the tournaments (the search's RNG is replicated:
  all draw the same) and cuts the same work items;
* :meth:`ReplicatedExecutor.map` gives each item to one rank by a static split balanced on
  :attr:`src.evaluation.EvalRequest.cost` (the same numbers on every rank); a rank
  evaluates its own items from the genomes they were made of, and no request is packed
  (a request packs on first use, for a worker of :class:`MPIExecutor`);
* one exchange (``Iallgather`` of a small header, ``Iallgatherv`` of the pickled results)
  gives every rank every result, in item order; children bred by other ranks become
  :class:`src.core.genome.PendingChild` (their key and size came with the edit), built only
  where one is bred from or written.

So every rank holds the same state after every generation, bit for bit, and the run is the
one a serial or :class:`MPIExecutor` run of the same config gives (tested). Rank 0 also
writes the run's files (stats.csv, best_genome.json, checkpoints in a background thread
while it evaluates its share) and decides alone when to stop: a stop signal reaches the
others through a flag in the exchange after each generation (:meth:`agree`). If rank 0
leaves the loop on an error (a full disk while writing stats.csv or a checkpoint, a lost
lock), it tells the others in their next exchange (:meth:`abandon`), which go back to
serving and stop with it.

Requires ``breeding = 'workers'`` (with 'root' every rank would breed every child). Costs are
guessed, not measured, so tasks whose episodes differ a lot in length (biped) are better
served by the dynamic schedule of :class:`MPIExecutor`; MNIST's costs follow network size.
Waits poll without spinning (:mod:`src.parallel.waiting`).
"""

from __future__ import annotations

import contextlib
import heapq
import pickle
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .deferred import DeferredCalls
from .executor import Executor, R, T
from .launch import mpi
from .waiting import waiting_backoff

#: Header kinds of an exchange.
KIND_DATA, KIND_ABANDON = 0, 1


class Abandoned(Exception):
    """Rank 0 left the replicated loop (an error it reports itself): the others stop too."""


def assign(costs: Sequence[float], ranks: int) -> list[int]:
    """The rank of each item: the costliest first, each to the rank with the least assigned
    so far (ties: the lowest rank). A pure function of its arguments."""
    order = sorted(range(len(costs)), key=lambda i: (-costs[i], i))
    heap = [(0.0, r) for r in range(ranks)]
    owner = [0] * len(costs)
    for i in order:
        load, r = heapq.heappop(heap)
        owner[i] = r
        heapq.heappush(heap, (load + costs[i], r))
    return owner


class ReplicatedExecutor(Executor):
    """One rank's side of a replicated loop: every rank of ``comm`` calls :meth:`map` with the
    same items, in the same order, and gets every result.

    Attributes:
        stats: running totals: ``exchanges``, ``bytes_in`` (all ranks' results received),
            ``items`` (this rank's), ``eval_seconds`` (this rank's evaluation), ``wait_seconds``
            (waiting in exchanges: for the slowest rank, and the transfer), ``unpickle_seconds``.
    """

    def __init__(self, comm: Any = None) -> None:
        MPI = mpi()
        if MPI is None:
            raise RuntimeError("ReplicatedExecutor needs mpi4py")
        self._MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.n_ranks = self.n_workers = self.comm.Get_size()
        self._deferred = DeferredCalls()
        self._in_exchange = False
        self._finished = False  # the loop has ended on every rank (agree)
        self.stats = dict.fromkeys(
            ("exchanges", "bytes_in", "items", "eval_seconds", "wait_seconds", "unpickle_seconds"),
            0,
        )

    def describe(self) -> str:
        return f"{self.n_ranks} ranks (replicated loop)"

    def defer(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in a background thread while this rank evaluates its next share."""
        self._deferred.add(fn, *args)

    def flush(self) -> None:
        self._deferred.flush()

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        """Every rank: ``[fn(item) for item in items]``, each item run by one rank."""
        self._deferred.join()  # the previous map's: a checkpoint lags one generation at most
        items = list(items)
        owner = assign([float(getattr(item, "cost", 1.0)) for item in items], self.n_ranks)
        self._deferred.start()
        t0 = time.perf_counter()
        mine = [(i, fn(item)) for i, item in enumerate(items) if owner[i] == self.rank]
        self.stats["eval_seconds"] += time.perf_counter() - t0
        self.stats["items"] += len(mine)
        results: list[Any] = [None] * len(items)
        for part in self._exchange(_encode(mine))[1]:
            for i, result in _decode(part):
                results[i] = result
        if on_result is not None:
            for i, result in enumerate(results):
                on_result(i, result)
        return results

    def agree(self, stop: bool, last: bool = False) -> bool:
        """Every rank, once per generation: rank 0's ``stop`` (the others' is ignored).
        ``last``: the generation is the loop's last anyway. When the loop ends here every
        rank leaves it, and :meth:`abandon` has nobody left to tell."""
        headers, _ = self._exchange(None, int(bool(stop)))
        stopped = bool(headers[0, 2])
        self._finished = stopped or last
        return stopped

    def abandon(self) -> None:
        """Rank 0, leaving the loop on an error between exchanges: the others, waiting in
        their next exchange (an agreement or a map's), raise :class:`Abandoned`. Nothing if it
        failed inside an exchange (then the job aborts) or after the loop ended."""
        if self.rank == 0 and not self._in_exchange and not self._finished:
            self._exchange(None, 0, KIND_ABANDON)
            self._finished = True

    def _wait(self, request: Any) -> None:
        backoff = waiting_backoff(self.n_ranks, root=True)
        while not request.Test():
            backoff.sleep()

    def _exchange(
        self, obj: Any, flag: int = 0, kind: int = KIND_DATA
    ) -> tuple[np.ndarray, list[Any]]:
        """Every rank's ``obj`` (``None``: nothing) and header (kind, bytes, flag)."""
        self._in_exchange = True
        try:
            return self._exchange_now(obj, flag, kind)
        finally:
            self._in_exchange = False

    def _exchange_now(self, obj: Any, flag: int, kind: int) -> tuple[np.ndarray, list[Any]]:
        MPI = self._MPI
        t0 = time.perf_counter()
        data = b"" if obj is None else pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        header = np.array([kind, len(data), flag], dtype=np.int64)
        headers = np.empty((self.n_ranks, 3), dtype=np.int64)
        self._wait(self.comm.Iallgather([header, MPI.INT64_T], [headers, MPI.INT64_T]))
        if (headers[:, 0] == KIND_ABANDON).any():  # nobody goes on to the data phase
            if kind == KIND_ABANDON:
                return headers, [None] * self.n_ranks
            raise Abandoned("rank 0 left the replicated loop")
        counts = headers[:, 1]
        parts: list[Any] = [None] * self.n_ranks
        if counts.sum():
            buf = np.empty(int(counts.sum()), dtype=np.uint8)
            displs = np.zeros(self.n_ranks, dtype=np.int64)
            np.cumsum(counts[:-1], out=displs[1:])
            send = np.frombuffer(data, dtype=np.uint8)
            self._wait(
                self.comm.Iallgatherv(
                    [send, MPI.BYTE], [buf, (counts.tolist(), displs.tolist()), MPI.BYTE]
                )
            )
            t1 = time.perf_counter()
            self.stats["wait_seconds"] += t1 - t0
            parts = [
                pickle.loads(buf[d : d + c]) if c else None
                for d, c in zip(displs.tolist(), counts.tolist())
            ]
            self.stats["unpickle_seconds"] += time.perf_counter() - t1
            self.stats["bytes_in"] += int(counts.sum())
        else:
            self.stats["wait_seconds"] += time.perf_counter() - t0
        self.stats["exchanges"] += 1
        return headers, parts


def _encode(pairs: list[tuple[int, Any]]) -> tuple[str, Any]:
    """A rank's (index, result) pairs for the exchange: search results as a few arrays
    (:func:`src.evaluation.encode_results`), anything else as they are."""
    from ..evaluation import EvalResult, encode_results  # here: this package is imported first

    if pairs and all(isinstance(r, EvalResult) and r.returns.dtype == np.float64 for _, r in pairs):
        return ("results", encode_results(pairs))
    return ("pairs", pairs)


def _decode(part: tuple[str, Any] | None) -> list[tuple[int, Any]]:
    if part is None:
        return []
    kind, data = part
    if kind == "results":
        from ..evaluation import decode_results

        return decode_results(data)
    return data


def replica(blob: bytes) -> None:
    """A worker rank's part of a replicated loop (sent by :func:`start` as a call): run the
    search loop on the root's state until it ends, stops or is abandoned, then serve again."""
    from ..search import loop  # here: src.search imports this package

    state = pickle.loads(blob)
    executor = ReplicatedExecutor()
    with contextlib.suppress(Abandoned):  # rank 0 failed on its own: it says why
        loop.run(state, executor, (), None, lambda: executor.agree(False, loop.done(state)))


def start(executor: Executor, state: Any) -> ReplicatedExecutor | None:
    """On rank 0, before the loop: with ``state.config.replicated`` under MPI with more than
    one rank, have every other rank start :func:`replica` on a copy of ``state`` and return
    rank 0's :class:`ReplicatedExecutor`; else ``None`` (the loop runs on ``executor``)."""
    from .mpi_executor import MPIExecutor

    if not state.config.replicated or not isinstance(executor, MPIExecutor):
        return None
    if executor.n_ranks < 2:
        return None
    executor.flush()
    executor.call_on_workers(replica, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
    return ReplicatedExecutor()  # COMM_WORLD, as the replicas' (and the MPIExecutor's)
