"""Executors: where evaluations run. The search loop only ever calls ``executor.map``.

This is the only module that imports ``mpi4py`` (lazily: without it everything runs serially).

* :class:`SerialExecutor` evaluates in the calling process, in order.
* :class:`MPIExecutor` (rank 0, "the root") hands out work items to the other ranks
  ("workers", which run :func:`serve`) *dynamically*: a worker that returns a result gets
  the next item, so one long episode or one large network does not idle everyone. Results
  come back in item order, whoever computed them. Details of the schedule:

  - Slots: a worker says hello (node name, cores) when it starts serving and only then
    gets work; per node at most as many workers hold work as the node has cores (one less
    on the root's node while the root evaluates). Extra ranks (``-n 64`` on 2 cores) sleep
    instead of evicting each other from the caches. A free slot goes to the worker that
    finished last (it is awake).
  - Depth: a worker holds at most :data:`DEPTH` items (one running, one queued, so it does
    not wait for the root between items), the queued one only while plenty is unsent
    (:data:`QUEUE_WHILE_LEFT`), so nobody waits for a queued item at the end.
  - With few ranks (:func:`root_evaluates`) the root also evaluates items between polls, so
    ``mpiexec -n 2`` on 2 cores uses both.
  - ``items`` may be lazy (the search breeds children while the first chunks are out), and
    root-only work can be deferred into the next map (:meth:`MPIExecutor.defer`: the
    checkpoint is written in a background thread while the workers evaluate).

Wire format: a work item travels as ``pickle((index, fn, item))`` and comes back as
``pickle((index, result))``; ``fn`` is a module-level function (pickled by name), the item an
:class:`src.evaluation.EvalRequest` (flat genome arrays plus the config, about 1.3 kB plus
0.4 kB per small swing-up genome, 14 kB per biped-sized one). Tags: :data:`TAG_WORK`,
:data:`TAG_RESULT`, :data:`TAG_CALL` (run ``fn(*args)``, no reply: warm-up), :data:`TAG_PING` /
:data:`TAG_PONG` (all earlier messages handled), :data:`TAG_HELLO`, :data:`TAG_STOP`.

Nobody spins: under MPICH a rank blocked in ``recv``/``bcast`` busy-polls its core (with 64
ranks on 2 cores the root ran 39x slower, FACTS.md). So every wait here is a non-blocking
probe (``improbe``) or ``Request.Test`` followed by a short sleep that backs off
(:func:`waiting_backoff`), and there are no collective calls at all.

Failure: :func:`run_main` wraps an entry point so an uncaught exception on any rank prints
its traceback and aborts the whole communicator (``MPI_Abort``), like ``python -m mpi4py``;
a rank killed outright ends the job through the launcher (MPICH's hydra does so in about a
second). :func:`launch_problem` catches the silent failure of an MPI launch without PMI
(``srun`` without ``--mpi``): N copies that each believe they are rank 0 of 1.
Signals (SIGTERM, SIGUSR1) are recorded on every rank by ``src.search.stopping``; only the
root acts on them, and the workers serve until it sends :data:`TAG_STOP`.
"""

from __future__ import annotations

import math
import os
import pickle
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any

#: Message tags.
TAG_WORK, TAG_RESULT, TAG_CALL, TAG_STOP, TAG_HELLO, TAG_PING, TAG_PONG = 1, 2, 3, 4, 5, 6, 7
#: Work items a worker may hold at once (one running, one queued): it never waits for the
#: root between items, however late the root answers (when it evaluates itself, say).
DEPTH = 2
#: ... but the second only while at least this many items per evaluating rank are unsent.
QUEUE_WHILE_LEFT = 3
#: The root also evaluates when the communicator has at most this many ranks (see
#: :func:`root_evaluates`).
ROOT_EVALUATES_UP_TO = 4

_MPI: Any = None


def mpi() -> Any:
    """The ``mpi4py.MPI`` module (initialising MPI on first use), or ``None`` without mpi4py."""
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI
        except ImportError:
            _MPI = False
        else:
            _MPI = MPI
    return _MPI or None


def world() -> tuple[int, int]:
    """(rank, size) in ``COMM_WORLD``; (0, 1) without mpi4py."""
    MPI = mpi()
    if MPI is None:
        return 0, 1
    return MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()


# ----- launch checks and failure handling ---------------------------------------------------

#: Variables an MPI process manager sets in each rank's environment (MPICH hydra and Slurm's
#: pmi2 plugin: PMI_*; PMIx, Slurm's pmix plugin included: PMIX_*; Open MPI: OMPI_*).
_PM_VARIABLES = ("PMI_SIZE", "PMI_RANK", "PMIX_RANK", "PMIX_NAMESPACE", "OMPI_COMM_WORLD_SIZE")


def launch_problem(size: int, environ: Mapping[str, str] | None = None) -> str | None:
    """Why this MPI launch looks broken, or ``None`` when it looks right.

    The failure caught: ``srun python -m src.master`` with a Slurm whose default MPI plugin
    is ``none`` (or an MPI library built without Slurm's PMI) starts ``SLURM_NTASKS`` copies
    that each see a communicator of size 1, and each would run the whole search, writing the
    same files. Rule, checked with Slurm 22.05 and MPICH 5 (docs/mpi.md):

    * ``PMI_SIZE`` set (hydra's ``mpiexec``, ``srun --mpi=pmi2``): it must equal ``size``.
    * else, inside an ``srun`` step (``SLURM_STEP_NUM_TASKS`` set) with no PMIx or Open MPI
      variable (:data:`_PM_VARIABLES`) or a communicator of 1: ``SLURM_STEP_NUM_TASKS`` must
      equal ``size``.

    ``mpiexec -n K`` inside a batch script is never refused for K differing from the
    allocation's ``SLURM_NTASKS``: hydra sets ``PMI_SIZE`` = K, and oversubscribing is legal.
    A plain ``python -m src.master`` in a batch script (no srun) runs serially, as asked.
    """
    env = os.environ if environ is None else environ
    hint = (
        "launch with `srun --mpi=pmi2` (MPICH) or `srun --mpi=pmix` (Open MPI, site MPI), "
        "or with `mpiexec -n N`"
    )
    pmi_size = env.get("PMI_SIZE")
    if pmi_size is not None:
        if pmi_size.isdigit() and int(pmi_size) != size:
            return (
                f"the MPI launch did not give the expected ranks: PMI_SIZE={pmi_size} but "
                f"the communicator has {size} rank(s); {hint}"
            )
        return None
    step_tasks = env.get("SLURM_STEP_NUM_TASKS")
    if step_tasks and step_tasks.isdigit() and int(step_tasks) != size:
        if any(v in env for v in _PM_VARIABLES) and size > 1:
            return None
        return (
            f"the MPI launch did not give the expected ranks: srun started "
            f"SLURM_STEP_NUM_TASKS={step_tasks} tasks (SLURM_NTASKS="
            f"{env.get('SLURM_NTASKS', '?')}) but this one sees a communicator of {size} "
            f"rank(s), so each would run its own search; {hint}"
        )
    return None


def run_main(main: Callable[[], int]) -> int:
    """Run an entry point; on an uncaught exception print it and abort every rank.

    Without this, one rank raising leaves the others waiting for it forever (FACTS.md). With
    more than one rank the traceback goes to stderr and ``MPI_Abort(COMM_WORLD, 1)`` ends the
    whole job (the launcher's exit code is then non-zero); serially it returns 1.
    ``SystemExit`` (argparse, ``sys.exit``) passes through unchanged.
    """
    try:
        return main()
    except SystemExit:
        raise
    except BaseException:
        rank, size = world() if _MPI else (0, 1)
        print(f"rank {rank} of {size}: uncaught exception, aborting the job", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        if size > 1:
            mpi().COMM_WORLD.Abort(1)
        return 1


# ----- waiting without spinning ---------------------------------------------------------------


class Backoff:
    """Sleeps between non-blocking polls: ``first`` seconds, growing by ``factor`` up to ``cap``.

    A rank idle for t seconds has overslept by at most ~t/4 (factor 1.25: it notices new
    work within 25 % of its idle time, or within ``cap``); each poll costs a few
    microseconds of CPU. See :func:`waiting_backoff` for the caps in use.
    """

    def __init__(self, first: float = 50e-6, factor: float = 1.25, cap: float = 0.01) -> None:
        self.first, self.factor, self.cap = first, factor, cap
        self.delay = first

    def reset(self) -> None:
        self.delay = self.first

    def sleep(self) -> None:
        time.sleep(self.delay)
        self.delay = min(self.cap, self.delay * self.factor)


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


# ----- scheduling -------------------------------------------------------------------------------


def chunk_bounds(n_items: int, n_workers: int, chunk: int = 0) -> list[tuple[int, int]]:
    """Cut ``range(n_items)`` into work chunks: ``[(start, stop), ...]`` in order.

    ``chunk > 0``: fixed chunks of that size. Otherwise guided self-scheduling: each chunk
    takes ``ceil(remaining / (2 * n_workers))`` items, so chunks shrink from about
    ``n / (2 P)`` to one item. Early chunks are large (few messages), the last ones small, so
    the evaluating ranks finish within about one genome of each other. One worker: one chunk.
    """
    bounds = []
    start = 0
    while start < n_items:
        size = chunk_size(n_items - start, n_workers, chunk)
        bounds.append((start, min(n_items, start + size)))
        start += size
    return bounds


def chunk_size(remaining: int, n_workers: int, chunk: int = 0) -> int:
    """Size of the next chunk when ``remaining`` items are left (see :func:`chunk_bounds`)."""
    if chunk > 0:
        return chunk
    if n_workers <= 1:
        return max(1, remaining)
    return max(1, math.ceil(remaining / (2 * n_workers)))


def oversubscribed(size: int, environ: Mapping[str, str] | None = None) -> bool:
    """Whether this node runs more ranks than it has cores.

    Ranks on this node: ``MPI_LOCALNRANKS`` (MPICH's hydra) or ``OMPI_COMM_WORLD_LOCAL_SIZE``
    (Open MPI), else the whole communicator; cores: ``os.cpu_count()``.
    """
    env = os.environ if environ is None else environ
    local = env.get("MPI_LOCALNRANKS") or env.get("OMPI_COMM_WORLD_LOCAL_SIZE") or ""
    ranks_here = int(local) if local.isdigit() else size
    return ranks_here > (os.cpu_count() or 1)


def waiting_backoff(size: int, root: bool) -> Backoff:
    """How a rank waits for its next message.

    With a core to itself a rank backs off to 0.25 ms between polls (a few % of that idle
    core: it notices new work at once). On an oversubscribed node idle polls would take CPU
    from ranks with work: workers back off to 50 ms (only the few holding work poll fast,
    since each message resets the back-off), the root (whose answers everyone waits for) to
    0.5 ms.
    """
    if not oversubscribed(size):
        return Backoff(cap=0.00025)
    return Backoff(cap=0.0005 if root else 0.05)


def root_evaluates(size: int) -> bool:
    """Whether the root evaluates work items itself between polls.

    Yes with at most :data:`ROOT_EVALUATES_UP_TO` ranks: then the root's core is a large
    share (1/2 at ``-n 2``) and, with :data:`DEPTH` items per worker, its slower answers cost
    the workers little. With more ranks its core adds at most 1/size, prompt dispatch
    matters more, and the root has its own work (breeding, checkpoints) to overlap with the
    workers' evaluations, so it only dispatches.
    """
    return size <= ROOT_EVALUATES_UP_TO


# ----- executors --------------------------------------------------------------------------------


class SerialExecutor:
    """Evaluate in the calling process, in order."""

    n_workers = 1
    n_ranks = 1

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        return [fn(item) for item in items]

    def call_on_workers(self, fn: Callable[..., Any], *args: Any) -> None:
        """No workers: nothing to do (the caller prepares its own process)."""

    def wait_for_workers(self) -> None:
        pass

    def defer(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` now: serially there is no waiting to hide it in."""
        fn(*args)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class MPIExecutor:
    """The root's side of the MPI protocol; the workers run :func:`serve`.

    Scheduling: a worker says hello (its node and that node's cores) when it starts
    serving, and only then gets work. On each node at most as many workers hold work at a
    time as the node has cores (one less on the root's node while the root evaluates), so
    ``mpiexec -n 64`` on 2 cores runs 2 evaluations at a time, not 64 that evict each other
    from the caches; the others sleep. A free slot goes to the worker that finished last
    (it is awake). A worker holds at most :data:`DEPTH` items (one running, one queued).

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
        self._slots: dict[str, int] = {}  # node -> workers that may hold work at once
        self._idle: dict[str, list[int]] = {}  # node -> ready idle workers, last active last
        self._busy: dict[str, int] = {}  # node -> workers holding work
        self.n_workers = self._estimate_workers()
        self._sends: list[Any] = []
        self._deferred: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._thread: threading.Thread | None = None
        self._deferred_error: BaseException | None = None
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
        cores = os.cpu_count() or 1
        root = 1 if self.evaluate_on_root else 0
        here = min(per_node - 1, max(1, cores - root)) if self.workers else 0
        others = self.n_ranks - per_node
        there = min(others, math.ceil(others / per_node) * min(per_node, cores))
        return max(1, root + here + there)

    def _hello(self, worker: int, node: str, cores: int) -> None:
        self._node_of[worker] = node
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

    def defer(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the root while the workers evaluate the next generation.

        For root-only work whose result nobody waits for: writing a checkpoint of a snapshot.
        The calls run in order, in a background thread started by the next :meth:`map` once
        the first work items are out, so the map keeps feeding the workers meanwhile (a
        checkpoint takes tens of milliseconds, longer than a worker's queued items last when
        the root shares a core). :meth:`flush` (and :meth:`close`) waits for them; an
        exception in one is raised there, or by the next map.
        """
        self._deferred.append((fn, args))

    def _start_deferred(self) -> None:
        self._join_deferred()
        if self._deferred:
            calls, self._deferred = self._deferred, []
            # the main thread, polling, gets the GIL back within 0.5 ms (default 5 ms)
            sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
            self._thread = threading.Thread(
                target=self._run_deferred, args=(calls,), name="wann-deferred", daemon=True
            )
            self._thread.start()

    def _run_deferred(self, calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> None:
        t0 = time.perf_counter()
        try:
            for fn, args in calls:
                fn(*args)
        except BaseException as exc:  # re-raised in the main thread by _join_deferred
            self._deferred_error = exc
        self.stats["deferred_seconds"] += time.perf_counter() - t0

    def _join_deferred(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._deferred_error is not None:
            exc, self._deferred_error = self._deferred_error, None
            # calls queued after the failed one are dropped: the run is ending with this
            # error (a checkpoint that found the disk full), and close() must not repeat it
            self._deferred = []
            raise exc

    def flush(self) -> None:
        """Run the deferred calls (if not yet started) and wait until they are done."""
        self._start_deferred()
        self._join_deferred()

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """``[fn(item) for item in items]``, evaluated across the ranks, in item order.

        ``fn`` must be picklable by reference (a module-level function) and, like the
        items, mean the same on every rank. ``items`` may be a lazy iterator: the first
        items go out to the workers as soon as they exist, and the root produces the rest
        (breeds the rest of a population) while the workers evaluate those.
        """
        self._check_open()
        if not self.workers:
            self.flush()
            return [fn(item) for item in items]
        self._join_deferred()  # the previous map's: a checkpoint lags one generation at most
        MPI, stats = self._MPI, self.stats
        source = iter(items)
        fetched: list[Any] = []
        results: dict[int, Any] = {}
        held: dict[int, int] = {}  # worker -> items it holds (running + queued)
        next_item = 0
        exhausted = False
        # A worker gets a second, queued item only while plenty is left: near the end of a
        # map a queued item would keep the others (the root included) waiting for it.
        plenty = QUEUE_WHILE_LEFT * self.n_workers

        def available() -> bool:
            """Whether item ``next_item`` exists (advancing the source when needed)."""
            nonlocal exhausted
            if next_item < len(fetched):
                return True
            if not exhausted:
                try:
                    fetched.append(next(source))
                    return True
                except StopIteration:
                    exhausted = True
            return False

        def give(worker: int) -> None:
            nonlocal next_item
            size = self._send(worker, TAG_WORK, (next_item, fn, fetched[next_item]))
            fetched[next_item] = None  # sent: the root need not keep it
            stats["messages"] += 1
            stats["bytes_out"] += size
            stats["max_item_bytes"] = max(stats["max_item_bytes"], size)
            held[worker] = held.get(worker, 0) + 1
            next_item += 1

        def start_idle() -> None:
            """Give a first item to idle workers on nodes with a free slot."""
            for node, idle in self._idle.items():
                while idle and self._busy[node] < self._slots[node] and available():
                    worker = idle.pop()
                    self._busy[node] += 1
                    give(worker)

        def queue_more(worker: int) -> None:
            if (held.get(worker) == 1 and available()) and (
                not exhausted or len(fetched) - next_item >= plenty
            ):
                give(worker)

        t0 = time.perf_counter()
        self._poll_hellos()
        start_idle()
        for w in list(held):
            queue_more(w)
        stats["comm_seconds"] += time.perf_counter() - t0
        # The workers are busy now: start the deferred calls (checkpoint) in the background,
        # and produce the other items (breed the rest of the population). A root that
        # evaluates does it at once, so the number left is known and the end-game below is
        # exact; one that only dispatches produces an item at a time between polls, so no
        # worker waits for its next item meanwhile.
        self._start_deferred()
        if self.evaluate_on_root:
            fetched.extend(source)
            exhausted = True
        status = MPI.Status()
        backoff = waiting_backoff(self.n_ranks, root=True)
        while True:
            t0 = time.perf_counter()
            got = 0
            while (msg := _probe(self.comm, MPI.ANY_SOURCE, MPI.ANY_TAG, status)) is not None:
                worker, tag = status.Get_source(), status.Get_tag()
                payload = self._receive(msg, status)
                got += 1
                if tag == TAG_HELLO:
                    self._hello(worker, *payload)
                    continue
                if tag != TAG_RESULT:
                    raise RuntimeError(f"root: unexpected message tag {tag} from rank {worker}")
                index, result = payload
                results[index] = result
                held[worker] -= 1
                if held[worker] == 0:
                    del held[worker]
                    node = self._node_of[worker]
                    self._busy[node] -= 1
                    self._idle[node].append(worker)
            if got:
                start_idle()
                for w in list(held):
                    queue_more(w)
            stats["comm_seconds"] += time.perf_counter() - t0
            if self.evaluate_on_root and available():
                index = next_item
                next_item += 1
                item, fetched[index] = fetched[index], None
                results[index] = fn(item)
                stats["root_items"] += 1
                backoff.reset()
            elif not exhausted:
                try:
                    fetched.append(next(source))
                except StopIteration:
                    exhausted = True
                start_idle()
                for w in list(held):
                    queue_more(w)
            elif len(results) == len(fetched):
                return [results[i] for i in range(len(fetched))]
            elif got:
                backoff.reset()
            else:
                backoff.sleep()

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


def serve(comm: Any = None) -> None:
    """A worker's life: run what the root sends until it sends :data:`TAG_STOP`.

    Waits for each message with a non-blocking probe and a backed-off sleep (no spinning).
    An exception from a work item propagates (wrap the caller in :func:`run_main`, which
    aborts the job with the traceback).
    """
    MPI = mpi()
    comm = comm if comm is not None else MPI.COMM_WORLD
    status = MPI.Status()
    backoff = waiting_backoff(comm.Get_size(), root=False)
    hello = pickle.dumps((socket.gethostname(), os.cpu_count() or 1))
    sends = [comm.Isend([hello, MPI.BYTE], dest=0, tag=TAG_HELLO)]
    while True:
        msg = _probe(comm, 0, MPI.ANY_TAG, status)
        if msg is None:
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
            data = pickle.dumps((index, fn(item)), protocol=pickle.HIGHEST_PROTOCOL)
            sends = [r for r in sends if not r.Test()]
            sends.append(comm.Isend([data, MPI.BYTE], dest=0, tag=TAG_RESULT))
        else:
            raise RuntimeError(f"worker {comm.Get_rank()}: unknown message tag {tag}")
    _wait_all(sends)


def make_executor() -> SerialExecutor | MPIExecutor:
    """The executor for the root: serial on one rank (or without mpi4py), else MPI."""
    _, size = world()
    return MPIExecutor() if size > 1 else SerialExecutor()


def run_roles(
    run_root: Callable[[SerialExecutor | MPIExecutor], int], fail: Callable[[str], int]
) -> int:
    """Every rank: check the launch, then rank 0 calls ``run_root(executor)``, others serve.

    ``fail(message)`` reports a bad launch and gives the exit code. The executor is closed
    whatever ``run_root`` does, so the workers always return from :func:`serve`.
    """
    rank, size = world()
    problem = launch_problem(size)
    if problem:
        return fail(problem)
    if rank != 0:
        serve()
        return 0
    executor = make_executor()
    try:
        return run_root(executor)
    finally:
        executor.close()
