"""The MPI executor: rank 0 (the root) hands out work items; the other ranks run :func:`serve`.

:class:`MPIExecutor` hands out work items to the other ranks ("workers") *dynamically*: a
worker that returns a result gets the next item, so one long episode or one large network
does not idle everyone. Results come back in item order, whoever computed them. Details of
the schedule:

- Slots: a worker says hello (node name, cores, its platform: what its floats depend on,
  :func:`src.search.provenance.platform`) when it starts serving and only then gets work;
  per node at most as many workers hold work as the node has cores (one less on the root's
  node while the root evaluates). Extra ranks (``-n 64`` on 2 cores) sleep instead
  of evicting each other from the caches. A free slot goes to the worker that finished last
  (it is awake).
- Depth: a worker holds at most :data:`~src.parallel.schedule.DEPTH` items (one running,
  one queued, so it does not wait for the root between items), the queued one only while
  plenty is unsent (:data:`~src.parallel.schedule.QUEUE_WHILE_LEFT`), so nobody waits for a
  queued item at the end.
- With few ranks (:func:`~src.parallel.schedule.root_evaluates`) the root also evaluates
  items between polls, so ``mpiexec -n 2`` on 2 cores uses both.
- ``items`` may be lazy (the search breeds children while the first chunks are out), and
  root-only work can be deferred into the next map (:meth:`MPIExecutor.defer`: the
  checkpoint is written in a background thread while the workers evaluate).

Wire format: a work item travels as ``pickle((index, fn, item))`` and comes back as
``pickle((index, result))``; ``fn`` is a module-level function (pickled by name), the item an
:class:`src.evaluation.EvalRequest` (flat genome arrays plus the config, about 1.3 kB plus
0.4 kB per small swing-up genome, 14 kB per biped-sized one). Tags: :data:`TAG_WORK`,
:data:`TAG_RESULT`, :data:`TAG_CALL` (run ``fn(*args)``, no reply: warm-up), :data:`TAG_PING` /
:data:`TAG_PONG` (all earlier messages handled), :data:`TAG_HELLO`, :data:`TAG_STOP`.

Nobody spins (:mod:`src.parallel.waiting`), and there are no collective calls at all.
Signals (SIGTERM, SIGUSR1) are recorded on every rank by ``src.search.stopping``; only the
root acts on them, and the workers serve until it sends :data:`TAG_STOP`.
"""

from __future__ import annotations

import math
import os
import pickle
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from .deferred import DeferredCalls
from .executor import Executor, R, T
from .launch import mpi
from .schedule import QUEUE_WHILE_LEFT, root_evaluates
from .waiting import Backoff, waiting_backoff

#: Message tags.
TAG_WORK, TAG_RESULT, TAG_CALL, TAG_STOP, TAG_HELLO, TAG_PING, TAG_PONG = 1, 2, 3, 4, 5, 6, 7


#: Environment variable: the cores a node offers to workers (default ``os.cpu_count()``).
#: Set above the real count only to emulate a larger machine with tasks that sleep instead
#: of computing (``src.bench.scale``): then that many ranks per node hold work at once.
CORES_ENV = "WANN_CORES_PER_NODE"


def node_cores() -> int:
    """Cores this node offers to workers: ``$WANN_CORES_PER_NODE`` or ``os.cpu_count()``."""
    value = os.environ.get(CORES_ENV, "")
    return int(value) if value.isdigit() and int(value) > 0 else (os.cpu_count() or 1)


def _probe(comm: Any, source: int, tag: int, status: Any) -> Any:
    """A matched non-blocking probe that sees what has already arrived.

    MPICH's ``improbe`` looks at the queue of received messages *before* it polls the
    transport: a message that came in while this rank computed is found by the second call
    only (seen with MPICH 5: always two calls). A root that moved on after one empty probe
    would leave a worker without its next item for a whole root chunk.
    """
    msg = comm.improbe(source, tag, status)
    return msg if msg is not None else comm.improbe(source, tag, status)


def _wait_all(requests: list[Any], backoff: Backoff | None = None) -> None:
    """Complete MPI requests by polling (``Request.Test`` + sleep), never by blocking."""
    backoff = backoff or Backoff()
    for req in requests:
        while not req.Test():
            backoff.sleep()


class MPIExecutor(Executor):
    """The root's side of the MPI protocol; the workers run :func:`serve`.

    Scheduling: a worker says hello (its node, that node's cores, its platform) when it starts
    serving, and only then gets work. On each node at most as many workers hold work at a
    time as the node has cores (one less on the root's node while the root evaluates), so
    ``mpiexec -n 64`` on 2 cores runs 2 evaluations at a time, not 64 that evict each other
    from the caches; the others sleep. A free slot goes to the worker that finished last
    (it is awake). A worker holds at most :data:`~src.parallel.schedule.DEPTH` items (one
    running, one queued).

    Args:
        comm: the communicator (default ``COMM_WORLD``); this process must be its rank 0.
        evaluate_on_root: whether the root evaluates too (default :func:`root_evaluates`).

    Attributes:
        n_ranks: ranks in the communicator.
        n_workers: processes that evaluate at once: the root when it evaluates, plus the
            workers the nodes' cores allow (estimated from this node until every worker has
            said hello).
        stats: running totals: ``messages`` (work items sent), ``bytes_out`` / ``bytes_in``
            (pickled work items / results), ``max_item_bytes``, ``comm_seconds`` (root time
            pickling, sending, receiving, unpickling), ``root_items`` (items the root ran),
            ``deferred_seconds`` (deferred calls, e.g. checkpoints).
    """

    def __init__(self, comm: Any = None, evaluate_on_root: bool | None = None) -> None:
        MPI = mpi()
        if MPI is None:
            raise RuntimeError("MPIExecutor needs mpi4py")
        self._MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        if self.comm.Get_rank() != 0:
            raise RuntimeError("MPIExecutor runs on rank 0; the other ranks call serve()")
        self.n_ranks = self.comm.Get_size()
        self.evaluate_on_root = (
            root_evaluates(self.n_ranks) if evaluate_on_root is None else evaluate_on_root
        )
        self.workers = list(range(1, self.n_ranks))
        self._node = socket.gethostname()
        self._node_of: dict[int, str] = {}  # workers that said hello -> their node
        self._platform_of: dict[int, str] = {}  # and their provenance.platform()
        self._slots: dict[str, int] = {}  # node -> workers that may hold work at once
        self._idle: dict[str, list[int]] = {}  # node -> ready idle workers, last active last
        self._busy: dict[str, int] = {}  # node -> workers holding work
        self.n_workers = self._estimate_workers()
        self._sends: list[Any] = []
        self._deferred = DeferredCalls()
        self._closed = False
        self.stats = dict.fromkeys(
            (
                "messages",
                "bytes_out",
                "bytes_in",
                "max_item_bytes",
                "comm_seconds",
                "root_items",
                "deferred_seconds",
            ),
            0,
        )

    def _estimate_workers(self) -> int:
        """n_workers before the hellos: nodes like this one, ranks packed node by node."""
        local = os.environ.get("MPI_LOCALNRANKS") or os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE")
        per_node = int(local) if local and local.isdigit() else self.n_ranks
        cores = node_cores()
        root = 1 if self.evaluate_on_root else 0
        here = min(per_node - 1, max(1, cores - root)) if self.workers else 0
        others = self.n_ranks - per_node
        there = min(others, math.ceil(others / per_node) * min(per_node, cores))
        return max(1, root + here + there)

    def _hello(self, worker: int, node: str, cores: int, platform: str = "") -> None:
        self._node_of[worker] = node
        self._platform_of[worker] = platform
        if node not in self._slots:
            root_core = 1 if node == self._node and self.evaluate_on_root else 0
            self._slots[node] = max(1, cores - root_core)
            self._idle[node] = []
            self._busy[node] = 0
        self._idle[node].insert(0, worker)  # fresh workers after the ones known active
        if len(self._node_of) == len(self.workers):
            per_node: dict[str, int] = {}
            for n in self._node_of.values():
                per_node[n] = per_node.get(n, 0) + 1
            self.n_workers = (1 if self.evaluate_on_root else 0) + sum(
                min(count, self._slots[n]) for n, count in per_node.items()
            )

    # -- sending and receiving --

    def _send(self, dest: int, tag: int, obj: Any) -> int:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self._sends.append(self.comm.Isend([data, self._MPI.BYTE], dest=dest, tag=tag))
        if len(self._sends) > 64:
            self._sends = [r for r in self._sends if not r.Test()]
        return len(data)

    def _receive(self, msg: Any, status: Any) -> Any:
        buf = bytearray(status.Get_count(self._MPI.BYTE))
        msg.Recv([buf, self._MPI.BYTE])
        self.stats["bytes_in"] += len(buf)
        return pickle.loads(buf)

    def _poll_hellos(self) -> None:
        status = self._MPI.Status()
        while (msg := _probe(self.comm, self._MPI.ANY_SOURCE, TAG_HELLO, status)) is not None:
            self._hello(status.Get_source(), *self._receive(msg, status))

    def call_on_workers(self, fn: Callable[..., Any], *args: Any) -> None:
        """Have every worker run ``fn(*args)`` before any later work (e.g. JIT warm-up).

        Returns at once; workers run it concurrently with whatever the root does next.
        """
        self._check_open()
        for w in self.workers:
            self._send(w, TAG_CALL, (fn, args))

    def wait_for_workers(self) -> None:
        """Return once every worker has handled all messages sent to it so far (warm-up).

        Polls, without spinning. Ranks start at the same time, but 64 ranks importing numpy
        and numba and loading JIT caches on 2 cores take half a minute: generations started
        meanwhile would crawl (and be mis-timed).
        """
        self._check_open()
        for w in self.workers:
            self._send(w, TAG_PING, None)
        waiting = set(self.workers)
        backoff = waiting_backoff(self.n_ranks, root=True)
        status = self._MPI.Status()
        while waiting:
            self._poll_hellos()
            msg = _probe(self.comm, self._MPI.ANY_SOURCE, TAG_PONG, status)
            if msg is None:
                backoff.sleep()
                continue
            self._receive(msg, status)
            waiting.discard(status.Get_source())
        self._poll_hellos()  # each worker's hello came before its pong

    def worker_platforms(self) -> dict[int, str]:
        """Rank -> :func:`src.search.provenance.platform` of each worker that said hello (all
        of them after :meth:`wait_for_workers`)."""
        return dict(self._platform_of)

    def defer(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the root while the workers evaluate the next generation.

        For root-only work whose result nobody waits for: writing a checkpoint of a snapshot.
        The calls run in order, in a background thread started by the next :meth:`map` once
        the first work items are out (:class:`src.parallel.deferred.DeferredCalls`).
        :meth:`flush` (and :meth:`close`) waits for them; an exception in one is raised
        there, or by the next map.
        """
        self._deferred.add(fn, *args)

    def _join_deferred(self) -> None:
        try:
            self._deferred.join()
        finally:
            self.stats["deferred_seconds"] = self._deferred.seconds

    def flush(self) -> None:
        """Run the deferred calls (if not yet started) and wait until they are done."""
        self._deferred.start()
        self._join_deferred()

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        """``[fn(item) for item in items]``, evaluated across the ranks, in item order.

        ``fn`` must be picklable by reference (a module-level function) and, like the
        items, mean the same on every rank. ``items`` may be a lazy iterator: the first
        items go out to the workers as soon as they exist, and the root produces the rest
        (breeds the rest of a population) while the workers evaluate those.
        """
        self._check_open()
        if not self.workers:
            self.flush()
            from .serial import SerialExecutor

            return SerialExecutor().map(fn, items, on_result)
        self._join_deferred()  # the previous map's: a checkpoint lags one generation at most
        return _MapRun(self, fn, items, on_result).run()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("MPIExecutor is closed")

    def close(self) -> None:
        """Tell every worker to stop (they return from :func:`serve`); idempotent."""
        if self._closed:
            return
        self._closed = True
        self.flush()
        for w in self.workers:
            self._send(w, TAG_STOP, None)
        _wait_all(self._sends)
        self._sends = []


#: This process's totals as a worker (:func:`serve`), for benchmarks (``src.bench.scale``):
#: ``items`` (work items run), ``empty_polls`` (probes that found no message, each followed
#: by a back-off sleep), ``cpu`` (CPU seconds from receiving the first work item to the
#: stop: start-up and warm-up excluded) and ``item_cpu`` (of which running the items' ``fn``).
served: dict[str, float] = {"items": 0, "empty_polls": 0, "cpu": 0.0, "item_cpu": 0.0}


def serve(comm: Any = None) -> None:
    """A worker's life: run what the root sends until it sends :data:`TAG_STOP`.

    Waits for each message with a non-blocking probe and a backed-off sleep (no spinning).
    An exception from a work item propagates (wrap the caller in :func:`run_main`, which
    aborts the job with the traceback). Counts what it does in :data:`served`.
    """
    MPI = mpi()
    comm = comm if comm is not None else MPI.COMM_WORLD
    status = MPI.Status()
    backoff = waiting_backoff(comm.Get_size(), root=False)
    from ..search.provenance import platform  # here: src.search imports this package

    hello = pickle.dumps((socket.gethostname(), node_cores(), platform()))
    sends = [comm.Isend([hello, MPI.BYTE], dest=0, tag=TAG_HELLO)]
    first_item_cpu = None
    while True:
        msg = _probe(comm, 0, MPI.ANY_TAG, status)
        if msg is None:
            served["empty_polls"] += 1
            backoff.sleep()
            continue
        backoff.reset()
        tag = status.Get_tag()
        buf = bytearray(status.Get_count(MPI.BYTE))
        msg.Recv([buf, MPI.BYTE])
        payload = pickle.loads(buf)
        if tag == TAG_STOP:
            break
        if tag == TAG_CALL:
            fn, args = payload
            fn(*args)
        elif tag == TAG_PING:
            sends.append(comm.Isend([pickle.dumps(None), MPI.BYTE], dest=0, tag=TAG_PONG))
        elif tag == TAG_WORK:
            index, fn, item = payload
            started = time.process_time()
            if first_item_cpu is None:
                first_item_cpu = started
            result = fn(item)
            served["item_cpu"] += time.process_time() - started
            served["items"] += 1
            data = pickle.dumps((index, result), protocol=pickle.HIGHEST_PROTOCOL)
            sends = [r for r in sends if not r.Test()]
            sends.append(comm.Isend([data, MPI.BYTE], dest=0, tag=TAG_RESULT))
        else:
            raise RuntimeError(f"worker {comm.Get_rank()}: unknown message tag {tag}")
    if first_item_cpu is not None:
        served["cpu"] = time.process_time() - first_item_cpu
    _wait_all(sends)


class _MapRun:
    """One :meth:`MPIExecutor.map`: the items fetched so far, who holds what, the results.

    A worker gets a first item when it is idle on a node with a free slot
    (:meth:`start_idle`), and a second, queued one only while plenty is left
    (:meth:`queue_more`): near the end of a map a queued item would keep the others (the
    root included) waiting for it.
    """

    def __init__(
        self,
        ex: MPIExecutor,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        on_result: Callable[[int, Any], None] | None = None,
    ) -> None:
        self.ex, self.fn, self.on_result = ex, fn, on_result
        self.arrived: list[int] = []  # results not yet given to on_result
        self.source = iter(items)
        self.fetched: list[Any] = []
        self.results: dict[int, Any] = {}
        self.held: dict[int, int] = {}  # worker -> items it holds (running + queued)
        self.next_item = 0
        self.exhausted = False
        self.plenty = QUEUE_WHILE_LEFT * ex.n_workers

    def available(self) -> bool:
        """Whether item ``next_item`` exists (advancing the source when needed)."""
        if self.next_item < len(self.fetched):
            return True
        if not self.exhausted:
            try:
                self.fetched.append(next(self.source))
                return True
            except StopIteration:
                self.exhausted = True
        return False

    def give(self, worker: int) -> None:
        stats, i = self.ex.stats, self.next_item
        size = self.ex._send(worker, TAG_WORK, (i, self.fn, self.fetched[i]))
        self.fetched[i] = None  # sent: the root need not keep it
        stats["messages"] += 1
        stats["bytes_out"] += size
        stats["max_item_bytes"] = max(stats["max_item_bytes"], size)
        self.held[worker] = self.held.get(worker, 0) + 1
        self.next_item += 1

    def start_idle(self) -> None:
        """Give a first item to idle workers on nodes with a free slot."""
        ex = self.ex
        for node, idle in ex._idle.items():
            while idle and ex._busy[node] < ex._slots[node] and self.available():
                worker = idle.pop()
                ex._busy[node] += 1
                self.give(worker)

    def queue_more(self, worker: int) -> None:
        if (self.held.get(worker) == 1 and self.available()) and (
            not self.exhausted or len(self.fetched) - self.next_item >= self.plenty
        ):
            self.give(worker)

    def dispatch(self) -> None:
        self.start_idle()
        for w in list(self.held):
            self.queue_more(w)

    def collect(self, status: Any) -> int:
        """Handle every message that has arrived; returns how many."""
        ex, MPI = self.ex, self.ex._MPI
        got = 0
        while (msg := _probe(ex.comm, MPI.ANY_SOURCE, MPI.ANY_TAG, status)) is not None:
            worker, tag = status.Get_source(), status.Get_tag()
            payload = ex._receive(msg, status)
            got += 1
            if tag == TAG_HELLO:
                ex._hello(worker, *payload)
                continue
            if tag != TAG_RESULT:
                raise RuntimeError(f"root: unexpected message tag {tag} from rank {worker}")
            index, result = payload
            self.results[index] = result
            self.arrived.append(index)
            self.held[worker] -= 1
            if self.held[worker] == 0:
                del self.held[worker]
                node = ex._node_of[worker]
                ex._busy[node] -= 1
                ex._idle[node].append(worker)
        return got

    def digest(self) -> None:
        """Give the results that arrived to ``on_result``."""
        arrived, self.arrived = self.arrived, []
        if self.on_result is not None:
            for index in arrived:
                self.on_result(index, self.results[index])

    def run(self) -> list[Any]:
        ex, stats = self.ex, self.ex.stats
        t0 = time.perf_counter()
        ex._poll_hellos()
        self.dispatch()
        stats["comm_seconds"] += time.perf_counter() - t0
        # The workers are busy now: start the deferred calls (checkpoint) in the background,
        # and produce the other items (breed the rest of the population). A root that
        # evaluates does it at once, so the number left is known and the end-game below is
        # exact; one that only dispatches produces an item at a time between polls, so no
        # worker waits for its next item meanwhile.
        ex._deferred.start()
        if ex.evaluate_on_root:
            self.fetched.extend(self.source)
            self.exhausted = True
        status = ex._MPI.Status()
        backoff = waiting_backoff(ex.n_ranks, root=True)
        while True:
            t0 = time.perf_counter()
            got = self.collect(status)
            if got:
                self.dispatch()
            stats["comm_seconds"] += time.perf_counter() - t0
            self.digest()  # after the dispatch: no worker waits for it
            if ex.evaluate_on_root and self.available():
                index = self.next_item
                self.next_item += 1
                item, self.fetched[index] = self.fetched[index], None
                self.results[index] = self.fn(item)
                if self.on_result is not None:
                    self.on_result(index, self.results[index])
                stats["root_items"] += 1
                backoff.reset()
            elif not self.exhausted:
                try:
                    self.fetched.append(next(self.source))
                except StopIteration:
                    self.exhausted = True
                self.dispatch()
            elif len(self.results) == len(self.fetched):
                return [self.results[i] for i in range(len(self.fetched))]
            elif got:
                backoff.reset()
            else:
                backoff.sleep()
