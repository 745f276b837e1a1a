"""A replicated generation loop (SPMD, ``replicated = true``): no root on the critical path.

With :class:`src.parallel.mpi_executor.MPIExecutor` the root ranks, breeds (or sends parents
to be bred), packs, pickles and sends every genome and rebuilds every child: per-genome
Python on one core, 110-230 ms a generation at MNIST's pop 960, while 63 workers evaluate
late genomes in 7-15 ms (docs/mpi.md). Here every rank runs the same search loop
(:func:`src.search.loop.run`) on the same state instead:

* every rank ranks the population, runs the tournaments (the search's RNG is replicated:
  all draw the same) and splits the generation's genomes alike, one by one, balanced on
  costs every rank knows alike (:meth:`ReplicatedExecutor.plan`, :class:`MeasuredCosts`,
  :class:`RankZero`): one work item a rank. With fewer than :data:`PLAN_PER_RANK` genomes
  a rank the search cuts its usual work items (the last ones slices of a genome's
  rollouts) and :meth:`ReplicatedExecutor.map` splits those, as it does every other map;
* a rank evaluates its own items from the genomes they were made of, and no request is
  packed (a request packs on first use, for a worker of :class:`MPIExecutor`);
* one exchange (``Iallgather`` of a small header, ``Iallgatherv`` of the results, as a few
  flat arrays: :func:`src.evaluation.encode_results`) gives every rank every result, in
  item order; children bred by other ranks become
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

Requires ``breeding = 'workers'`` (with 'root' every rank would breed every child). The
split is static, on what each network cost last time (:class:`MeasuredCosts`) and on how
late rank 0 was (:class:`RankZero`): tasks whose costs swing between generations for the
same network (biped) are better served by the dynamic schedule of :class:`MPIExecutor`.
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
from .mpi_executor import MPIExecutor, _wait_all
from .waiting import waiting_backoff

#: Header kinds of an exchange.
KIND_DATA, KIND_ABANDON = 0, 1
#: A generation's genomes are split one by one (:meth:`ReplicatedExecutor.plan`) from this
#: many distinct genomes per rank; below, as work items (a genome each, or when there are
#: fewer members than that, as cut for the dynamic schedule), the last ones slices of a
#: genome's rollouts, which a few genomes per rank need.
PLAN_PER_RANK = 4


def splits_by_genome(n_genomes: int, ranks: int) -> bool:
    """Whether a generation of ``n_genomes`` on ``ranks`` is split genome by genome."""
    return n_genomes >= PLAN_PER_RANK * ranks


class Abandoned(Exception):
    """Rank 0 left the replicated loop (an error it reports itself): the others stop too."""


def assign(costs: Sequence[float], ranks: int, head: float = 0.0) -> list[int]:
    """The rank of each item: the costliest first, each to the rank with the least assigned
    so far (ties: the lowest rank); rank 0 starts ``head`` behind (it also writes the run's
    files: :class:`RankZero`). A pure function of its arguments."""
    order = sorted(range(len(costs)), key=lambda i: (-costs[i], i))
    heap = [(head if r == 0 else 0.0, r) for r in range(ranks)]
    heapq.heapify(heap)
    owner = [0] * len(costs)
    for i in order:
        load, r = heapq.heappop(heap)
        owner[i] = r
        heapq.heappush(heap, (load + costs[i], r))
    return owner


def split_genomes(
    costs: Sequence[float], ranks: int, head: float = 0.0
) -> tuple[list[int], list[list[int]]]:
    """:func:`assign` of single genomes, as shares: the ranks that get any, and the
    positions of each one's genomes, in order."""
    groups: list[list[int]] = [[] for _ in range(ranks)]
    for i, r in enumerate(assign(costs, ranks, head)):
        groups[r].append(i)
    busy = [r for r in range(ranks) if groups[r]]
    return busy, [groups[r] for r in busy]


class RankZero:
    """How far behind rank 0 starts in the split, per kind of map (a generation's search, or
    its champion's re-scoring), in seconds, set by feedback on when the ranks reached the
    last exchange.

    Rank 0 writes stats.csv and best_genome.json between maps and checkpoints in a
    background thread while it evaluates (swing-up checkpoints every generation): measured
    at ``-n 2`` with an even split, its share took a third longer and the other rank waited.
    Each rank reports, per map, the seconds from the end of its previous map to its arrival
    at this map's exchange; every rank then moves rank 0's head by half the difference
    between its arrival and the others' mean (in integer nanoseconds until one division:
    the same float on every rank), which halves the gap each map, never below 0 and never
    above the mean share of the map (then rank 0 has no item left to give up: a larger head
    would only linger after a spike). All from exchanged numbers, so every rank splits alike.
    The head is in seconds, as the costs are once measured (:class:`MeasuredCosts`); a map
    split on anything else neither uses nor teaches it.
    """

    def __init__(self) -> None:
        self.head: dict[int, float] = {}

    def split(self, kind: int) -> float:
        return self.head.get(kind, 0.0)

    def learn(self, kind: int, headers: np.ndarray, share: float) -> None:
        """``headers[:, 3]``: each rank's arrival, in nanoseconds; ``share``: the map's
        total cost over the ranks, in seconds."""
        arrival = [int(v) for v in headers[:, 3]]
        if len(arrival) < 2:
            return
        late_ns = arrival[0] * (len(arrival) - 1) - sum(arrival[1:])
        late = late_ns / ((len(arrival) - 1) * 1e9)
        head = self.head.get(kind, 0.0) + 0.5 * late
        self.head[kind] = min(max(0.0, head), share)


class MeasuredCosts:
    """What the split guesses an item costs: the seconds its genomes' rollouts took last
    time, where known.

    After each map, each item's busy seconds (exchanged, so the same numbers on every rank)
    are shared among its genomes: each genome's own seconds where the result timed them
    (:attr:`src.evaluation.EvalResult.genome_seconds`), else in proportion to their cost
    guesses (:attr:`src.evaluation.EvalRequest.cost`); kept per network key, per rollout: the
    key of the genome evaluated (for a child bred in the item, the child's, which came back
    with its edit). An item of the next map costs, per genome, its rollouts times the
    rate of the genome it holds (an elite: itself; a child to breed: its parent), else its
    cost guess times the seconds per guess unit of the last map. So swing-up's balancers,
    whose episodes run 1000 steps where others fall early, weigh what they cost. The rates
    of the last two maps are kept (a generation's search, then its champion's re-scoring).
    Items that are not search requests keep their ``cost`` (or 1).
    """

    def __init__(self) -> None:
        self.rates: dict[bytes, float] = {}  # network key -> seconds per rollout
        self._last: dict[bytes, float] = {}
        self.per_unit = 0.0  # seconds per unit of cost guess, last map

    def costs(self, items: list[Any]) -> tuple[list[float], bool]:
        """Each item's cost, and whether all are in seconds (else some are guesses or
        units: items that are not search requests, or nothing measured yet)."""
        out = []
        seconds = bool(self.per_unit)
        for item in items:
            found = item.networks() if hasattr(item, "networks") else None
            if found is None or not self.per_unit:
                out.append(float(getattr(item, "cost", 1.0)))
                seconds = False
                continue
            rollouts, keys, sizes = found
            out.append(rollouts * sum(self._per_rollout(zip(keys, sizes))))
        return out, seconds

    def _per_rollout(self, networks: Iterable[tuple[bytes, int]]) -> list[float]:
        """Seconds a rollout of each network (key, cost guess per rollout): measured, else
        its guess at the last map's seconds per unit (``per_unit`` must be set)."""
        get, per_unit = self.rates.get, self.per_unit
        return [size * per_unit if (rate := get(key)) is None else rate for key, size in networks]

    def genome_costs(
        self, networks: list[tuple[bytes, int]], rollouts: int
    ) -> tuple[list[float], bool]:
        """Each genome's cost (``networks``: each one's key and cost guess per rollout, as
        :meth:`src.evaluation.EvalRequest.networks` gives them) for :meth:`ReplicatedExecutor.plan`,
        and whether all are in seconds."""
        if not self.per_unit:
            return [float(rollouts * size) for _, size in networks], False
        return [rollouts * rate for rate in self._per_rollout(networks)], True

    def learn(self, items: list[Any], results: list[Any]) -> None:
        seconds: dict[bytes, float] = {}
        counts: dict[bytes, int] = {}
        busy = guessed = 0.0
        for item, result in zip(items, results):
            found = item.networks() if hasattr(item, "networks") else None
            if found is None or not hasattr(result, "busy_seconds"):
                continue
            rollouts, keys, sizes = found
            spent = float(result.busy_seconds)
            busy, guessed = busy + spent, guessed + rollouts * sum(sizes)
            if result.children is not None:  # a child bred in the item: its key and size
                made = list(zip(keys, sizes, result.children))
                keys = [k if c is None else c[1] for k, _, c in made]
                sizes = [z if c is None else 8 + c[2] for _, z, c in made]
            timed = getattr(result, "genome_seconds", None)
            if timed is not None and len(timed) == len(keys):  # each genome's own seconds
                shares = np.asarray(timed, dtype=np.float64).tolist()
            else:  # the item's, shared by the guesses
                share = spent / sum(sizes)
                shares = [share * size for size in sizes]
            for key, part in zip(keys, shares):
                seconds[key] = seconds.get(key, 0.0) + part
                counts[key] = counts.get(key, 0) + rollouts
        if not guessed:
            return
        self.per_unit = busy / guessed
        new = {k: seconds[k] / counts[k] for k in seconds}
        self.rates = {**self._last, **new}
        self._last = new


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
        self._rates = MeasuredCosts()
        self._rank0 = RankZero()
        self._plan: tuple[list[int], bool, float] | None = None  # the next map's (plan)
        self._since = time.perf_counter()  # the end of this rank's last map
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

    def plans(self, n_genomes: int) -> bool:
        """Whether a generation of ``n_genomes`` is split genome by genome (:meth:`plan`)."""
        return splits_by_genome(n_genomes, self.n_ranks)

    def plan(
        self, networks: list[tuple[bytes, int]], rollouts: int, stream: int
    ) -> list[list[int]]:
        """Every rank: the generation's distinct genomes (``networks``: each one's key and
        cost guess per rollout, in member order) split among the ranks, costliest first to
        the least loaded (:func:`assign`, :class:`MeasuredCosts`, :class:`RankZero`): the
        positions of each rank's genomes, in order, for the ranks that get any. The search
        makes one work item of each, and the next :meth:`map` gives the i-th to the i-th of
        those ranks. Cutting items for the dynamic schedule made ~340 at pop 960 and 64
        ranks, each of which every rank costs, exchanges, decodes and learns from; this
        makes one a rank and balances on each genome's own cost."""
        costs, in_seconds = self._rates.genome_costs(networks, rollouts)
        head = self._rank0.split(stream) if in_seconds else 0.0
        ranks, shares = split_genomes(costs, self.n_ranks, head)
        self._plan = (ranks, in_seconds, sum(costs))
        return shares

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        """Every rank: ``[fn(item) for item in items]``, each item run by one rank."""
        self._deferred.join()  # the previous map's: a checkpoint lags one generation at most
        items = list(items)
        kind = int(getattr(items[0], "stream", -1)) if items else -1
        planned, self._plan = self._plan, None
        if planned is not None and len(planned[0]) == len(items):  # made by plan: one a rank
            owner, in_seconds, total = planned
        else:
            costs, in_seconds = self._rates.costs(items)  # a head in seconds only on seconds
            owner = assign(costs, self.n_ranks, self._rank0.split(kind) if in_seconds else 0.0)
            total = sum(costs)
        self._deferred.start()
        t0 = time.perf_counter()
        mine = [(i, fn(item)) for i, item in enumerate(items) if owner[i] == self.rank]
        t1 = time.perf_counter()
        self.stats["eval_seconds"] += t1 - t0
        self.stats["items"] += len(mine)
        results: list[Any] = [None] * len(items)
        headers, parts = self._exchange(_encode(mine), arrival=t1 - self._since)
        for part in parts:
            for i, result in _decode(part):
                results[i] = result
        self._since = time.perf_counter()
        if in_seconds:
            self._rank0.learn(kind, headers, total / self.n_ranks)
        self._rates.learn(items, results)
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

    def _exchange(
        self,
        obj: Any,
        flag: int = 0,
        kind: int = KIND_DATA,
        arrival: float = 0.0,
    ) -> tuple[np.ndarray, list[Any]]:
        """Every rank's ``obj`` (``None``: nothing) and header (kind, bytes, flag, and for a
        map the seconds from the end of the previous one, in ns: :class:`RankZero`)."""
        self._in_exchange = True
        try:
            return self._exchange_now(obj, flag, kind, arrival)
        finally:
            self._in_exchange = False

    def _exchange_now(
        self, obj: Any, flag: int, kind: int, arrival: float
    ) -> tuple[np.ndarray, list[Any]]:
        MPI = self._MPI
        t0 = time.perf_counter()
        data = b"" if obj is None else pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        header = np.array([kind, len(data), flag, round(arrival * 1e9)], dtype=np.int64)
        headers = np.empty((self.n_ranks, 4), dtype=np.int64)
        gather = self.comm.Iallgather([header, MPI.INT64_T], [headers, MPI.INT64_T])
        _wait_all([gather], waiting_backoff(self.n_ranks, root=True))
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
            gather = self.comm.Iallgatherv(
                [send, MPI.BYTE], [buf, (counts.tolist(), displs.tolist()), MPI.BYTE]
            )
            _wait_all([gather], waiting_backoff(self.n_ranks, root=True))
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
        if state.config.resident:  # each rank keeps its own genomes (src.search.resident)
            from ..search import resident
            from .resident import drive

            drive(resident.run(state, executor.rank, executor.n_ranks), executor)
            return
        loop.run(state, executor, (), None, lambda: executor.agree(False, loop.done(state)))


def start(executor: Executor, state: Any) -> ReplicatedExecutor | None:
    """On rank 0, before the loop: with ``state.config.replicated`` under MPI with more than
    one rank, have every other rank start :func:`replica` on a copy of ``state`` and return
    rank 0's :class:`ReplicatedExecutor`; else ``None`` (the loop runs on ``executor``)."""
    if not state.config.replicated or not isinstance(executor, MPIExecutor):
        return None
    if executor.n_ranks < 2:
        return None
    executor.flush()
    executor.call_on_workers(replica, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
    return ReplicatedExecutor()  # COMM_WORLD, as the replicas' (and the MPIExecutor's)
