"""Drivers of the resident loop (:mod:`src.search.resident`): on MPI, and simulated.

The loop yields each collective step as ``(kind, payload)`` and takes the answer back.
:func:`drive` answers with MPI through a :class:`src.parallel.replicated.ReplicatedExecutor`
(its exchange starts every step, so an error rank 0 reports itself reaches the others, as
in the replicated loop; the bytes then move by ``Ialltoallv`` or ``Igatherv`` where not every
rank needs them). :func:`simulate` runs ``P`` ranks' loops in this process, in lockstep,
each one's CPU time its own: the tests compare it with the serial loop at any rank count,
and the benchmark times one rank of 64 with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np

from .mpi_executor import _wait_all
from .waiting import waiting_backoff

#: The steps the loop yields, ``(kind, payload) -> answer``: ``ALLGATHER``: bytes -> every
#: rank's bytes; ``ALLTOALL``: one bytes per rank -> one from each rank; ``GATHER0``: bytes
#: -> every rank's on rank 0, ``None`` elsewhere; ``BCAST0``: bytes (rank 0's counts) ->
#: rank 0's bytes.
ALLGATHER, ALLTOALL, GATHER0, BCAST0 = "allgather", "alltoall", "gather0", "bcast0"


def simulate(
    loops: list[Generator[Any, Any, Any]], cpu: list[list[float]] | None = None
) -> list[Any]:
    """Run the loops of ranks ``0 .. len(loops) - 1`` to their ends, answering their steps
    as MPI would; returns each one's return value. ``cpu``: one list per rank, to which each
    generation's CPU seconds of that rank are appended (``time.process_time`` around its
    own steps, from one broadcast to the next: the loop broadcasts once a generation)."""
    n = len(loops)
    spent = [0.0] * n
    answers: list[Any] = [None] * n
    results: list[Any] = [None] * n
    while True:
        requests: list[Any] = []
        finished = 0
        for r, loop in enumerate(loops):
            t0 = time.process_time()
            try:
                requests.append(loop.send(answers[r]))
            except StopIteration as stop:
                results[r] = stop.value
                requests.append(None)
                finished += 1
            spent[r] += time.process_time() - t0
        if finished == n:
            return results
        if finished or len({req[0] for req in requests}) != 1:
            raise RuntimeError(f"the ranks' loops diverged: {[req and req[0] for req in requests]}")
        kind = requests[0][0]
        payloads = [req[1] for req in requests]
        if kind == ALLGATHER:
            answers = [list(payloads) for _ in range(n)]
        elif kind == ALLTOALL:
            answers = [[payloads[s][r] for s in range(n)] for r in range(n)]
        elif kind == GATHER0:
            answers = [list(payloads)] + [None] * (n - 1)
        elif kind == BCAST0:
            answers = [payloads[0]] * n
            if cpu is not None:
                for r in range(n):
                    cpu[r].append(spent[r])
                spent = [0.0] * n
        else:
            raise ValueError(f"unknown step {kind!r}")


def drive(loop: Generator[Any, Any, Any], executor: Any) -> Any:
    """Run this rank's loop on MPI; ``executor``: this rank's
    :class:`src.parallel.replicated.ReplicatedExecutor`. Returns the loop's value. A
    checkpoint queued by the loop (``executor.defer``) starts in the background at the next
    generation's first step, while this rank evaluates."""
    MPI = executor._MPI
    comm = executor.comm
    rank = executor.rank
    answer: Any = None
    while True:
        try:
            kind, payload = loop.send(answer)
        except StopIteration as stop:
            executor._finished = True  # every rank has left the loop: nobody to tell
            return stop.value
        if kind == ALLGATHER:
            _, answer = executor._exchange(payload)
        elif kind == BCAST0:
            _, parts = executor._exchange(payload if rank == 0 else None)
            answer = parts[0]
        elif kind == ALLTOALL:
            executor._deferred.start()  # a checkpoint of the last generation, meanwhile
            sizes = np.array([len(b) for b in payload], dtype=np.int64)
            _, rows = executor._exchange(sizes)
            answer = _alltoallv(MPI, comm, payload, sizes, np.array([r[rank] for r in rows]))
        elif kind == GATHER0:
            _, sizes = executor._exchange(len(payload))
            answer = _gatherv(MPI, comm, payload, sizes, rank)
        else:
            raise ValueError(f"unknown step {kind!r}")


def _alltoallv(
    MPI: Any, comm: Any, blobs: list[Any], send: np.ndarray, recv: np.ndarray
) -> list[Any]:
    """Each rank's ``blobs[r]`` (bytes-like) to rank ``r`` (sizes known everywhere from the
    exchange); what each rank sent this one, as read-only views of one buffer."""
    n = len(blobs)
    sdispl = np.zeros(n, dtype=np.int64)
    np.cumsum(send[:-1], out=sdispl[1:])
    rdispl = np.zeros(n, dtype=np.int64)
    np.cumsum(recv[:-1], out=rdispl[1:])
    out = np.empty(int(recv.sum()), dtype=np.uint8)
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8) if send.sum() else np.empty(0, np.uint8)
    request = comm.Ialltoallv(
        [data, (send.tolist(), sdispl.tolist()), MPI.BYTE],
        [out, (recv.tolist(), rdispl.tolist()), MPI.BYTE],
    )
    _wait_all([request], waiting_backoff(n, root=True))
    out.flags.writeable = False  # the parcels' genomes are views of it
    return [out[d : d + c] for d, c in zip(rdispl.tolist(), recv.tolist())]


def _gatherv(MPI: Any, comm: Any, blob: bytes, sizes: list[int], rank: int) -> list[bytes] | None:
    """Every rank's ``blob`` on rank 0 (``None`` elsewhere)."""
    n = len(sizes)
    counts = np.array(sizes, dtype=np.int64)
    displ = np.zeros(n, dtype=np.int64)
    np.cumsum(counts[:-1], out=displ[1:])
    data = np.frombuffer(blob, dtype=np.uint8)
    out = np.empty(int(counts.sum()), dtype=np.uint8) if rank == 0 else None
    recv = [out, (counts.tolist(), displ.tolist()), MPI.BYTE] if rank == 0 else None
    request = comm.Igatherv([data, MPI.BYTE], recv, root=0)
    _wait_all([request], waiting_backoff(n, root=True))
    if rank != 0:
        return None
    assert out is not None
    return [out[d : d + c].tobytes() for d, c in zip(displ.tolist(), counts.tolist())]


def run_rank0(
    state: Any,
    executor: Any,
    reporters: Sequence[Any],
    due: Callable[[Any], bool],
    save: Callable[[Any], None],
    should_stop: Callable[[], bool],
) -> Any:
    """Rank 0's resident loop on MPI, as :func:`src.search.loop.run` is called: the
    reporters started and ended around it; ``due``/``save``: the checkpoint's decision and
    writer, ``should_stop`` polled after each generation. Returns the final state, its
    population gathered."""
    from ..search import resident  # here: src.search imports this package

    for reporter in reporters:
        reporter.start(state, f"{executor.n_ranks} ranks (resident loop)")
    try:
        loop = resident.run(state, 0, executor.n_ranks, reporters, due, save, should_stop)
        return drive(loop, executor)
    finally:
        for reporter in reporters:
            reporter.end(state)
