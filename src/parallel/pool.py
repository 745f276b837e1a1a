"""A local process pool: ``--workers N`` for laptops, notebooks and machines without MPI.

:class:`PoolExecutor` starts N worker processes (``spawn``: a fresh interpreter each, as on
macOS and Windows, so nothing of the parent's state, threads or JIT caches is inherited)
and talks to each over its own pipe. Scheduling is dynamic like the MPI executor's: an idle
worker gets the next item, and results come back in item order. The parent only dispatches;
while every worker is busy it produces the next items (breeds the rest of a population), and
otherwise it blocks in :func:`multiprocessing.connection.wait` (no spinning, the GIL
released for deferred calls such as the checkpoint).

A worker holds one item at a time: the parent sends only to an idle worker, so neither side
can block on a full pipe while the other does too. Work items are chunks of genomes, so the
round trip per item (tens of microseconds) is small beside its evaluation.

Signals: workers ignore SIGINT, SIGTERM and SIGUSR1 (Ctrl-C reaches the whole process group;
only the parent acts on a stop, finishes the generation, checkpoints and closes the pool). A
worker that dies (SIGKILL, out of memory) ends the map with ``RuntimeError``; an exception
in a work item is raised in the parent with the worker's traceback.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import traceback
from collections.abc import Callable, Iterable
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection, wait
from typing import Any

from .deferred import DeferredCalls
from .executor import Executor, R, T

__all__ = ["PoolExecutor", "WorkerError"]


class WorkerError(RuntimeError):
    """A work item raised in a worker process, or a worker died."""


#: Signals only the parent acts on (Ctrl-C reaches the whole process group, Slurm signals
#: every process of a step).
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGUSR1}


def _serve(conn: Connection) -> None:
    """A worker process: run what the parent sends until it says stop or goes away."""
    # Started with the stop signals blocked (see PoolExecutor.__init__): ignore them, then
    # unblock (a pending one is discarded).
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        kind = message[0]
        if kind == "stop":
            return
        try:
            if kind == "work":
                _, index, fn, item = message
                conn.send(("result", index, fn(item)))
            elif kind == "call":
                _, fn, args = message
                fn(*args)
            elif kind == "ping":
                conn.send(("pong", None, None))
        except BaseException:
            conn.send(("error", message[1] if kind == "work" else None, traceback.format_exc()))


class PoolExecutor(Executor):
    """N local worker processes behind :class:`~src.parallel.executor.Executor`.

    Args:
        workers: worker processes (>= 1).
        start_method: ``multiprocessing`` start method (default ``spawn``).

    Attributes:
        n_workers: ``workers``; n_ranks: ``workers + 1`` (the parent dispatches).
    """

    def __init__(self, workers: int, start_method: str = "spawn") -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        ctx = multiprocessing.get_context(start_method)
        self.n_workers = workers
        self.n_ranks = workers + 1
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        self._deferred = DeferredCalls()
        self._closed = False
        self._broken = False  # a worker died: close() only stops the others
        # The workers start with the stop signals blocked (a signal mask survives fork and
        # exec), so one that comes during their interpreter's start-up stays pending until
        # _serve ignores it (a pending signal set to SIG_IGN is discarded) and unblocks. The
        # parent's disposition is left alone: one that comes for the parent meanwhile is
        # recorded by its handler (at once, by another thread, or when the mask is restored).
        # Before, the parent set SIG_IGN for the while, and a SIGTERM then was lost (taken by
        # another of its threads, or discarded when pending): the run went on to its end.
        # multiprocessing's resource tracker is started first, with the signals blocked (it
        # ignores SIGINT and SIGTERM itself and keeps SIGUSR1 blocked, so no stop signal
        # kills it); starting it unblocks SIGINT and SIGTERM in this thread, so block again.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        if start_method != "fork":
            resource_tracker.ensure_running()
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            for i in range(workers):
                parent, child = ctx.Pipe()
                proc = ctx.Process(
                    target=_serve, args=(child,), name=f"wann-worker-{i}", daemon=True
                )
                proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def describe(self) -> str:
        return f"{self.n_workers} worker processes"

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("PoolExecutor is closed")
        if self._broken:
            raise RuntimeError("PoolExecutor is broken: a worker process died")

    def _recv(self, conn: Connection) -> tuple[str, Any, Any]:
        try:
            return conn.recv()
        except (EOFError, OSError):
            proc = self._procs[self._conns.index(conn)]
            proc.join(timeout=1)
            self._broken = True
            raise WorkerError(
                f"worker process {proc.name} (pid {proc.pid}) died, exit code {proc.exitcode}"
            ) from None

    def call_on_workers(self, fn: Callable[..., Any], *args: Any) -> None:
        self._check_open()
        for conn in self._conns:
            conn.send(("call", fn, args))

    def wait_for_workers(self) -> None:
        self._check_open()
        for conn in self._conns:
            conn.send(("ping", None, None))
        for conn in self._conns:
            while True:
                kind, _, payload = self._recv(conn)
                if kind == "pong":
                    break
                if kind == "error":
                    raise WorkerError(f"a call on a worker failed:\n{payload}")

    def defer(self, fn: Callable[..., Any], *args: Any) -> None:
        self._deferred.add(fn, *args)

    def flush(self) -> None:
        self._deferred.flush()

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        self._check_open()
        self._deferred.join()  # the previous map's deferred calls
        source = enumerate(items)
        ready: list[tuple[int, Any]] = []  # produced, not yet sent
        results: dict[int, Any] = {}
        idle = list(reversed(self._conns))
        busy: set[Connection] = set()
        exhausted = False
        started = False

        def produce() -> bool:
            """Move the next item from ``items`` to ``ready``; False once there is none."""
            nonlocal exhausted
            entry = next(source, None)
            if entry is None:
                exhausted = True
                return False
            ready.append(entry)
            return True

        while True:
            while idle and (ready or not exhausted):
                if not ready and not produce():
                    break
                index, item = ready.pop(0)
                conn = idle.pop()
                conn.send(("work", index, fn, item))
                busy.add(conn)
            if not started:  # the workers are busy: run the deferred calls meanwhile
                self._deferred.start()
                started = True
            if not busy:  # everything produced was sent and has come back
                return [results[i] for i in range(len(results))]
            # Every worker busy: produce the next items meanwhile, then wait for a result.
            if not exhausted and len(ready) < self.n_workers and not idle:
                produce()
                continue
            for conn in wait(list(busy)):
                kind, index, payload = self._recv(conn)
                busy.discard(conn)
                idle.append(conn)
                if kind == "result":
                    results[index] = payload
                    if on_result is not None:
                        on_result(index, payload)
                elif kind == "error":
                    # let the busy workers finish their items (their replies must not reach
                    # the next map), then raise with the worker's traceback
                    self._drain(busy)
                    what = "a work item raised" if index is not None else "a call failed"
                    raise WorkerError(f"{what} in a worker process:\n{payload}")

    def _drain(self, busy: set[Connection]) -> None:
        """Receive (and drop) the replies of the workers in ``busy``."""
        while busy:
            for conn in wait(list(busy)):
                self._recv(conn)
                busy.discard(conn)

    def close(self) -> None:
        """Flush the deferred calls, stop the workers and wait for them; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
        finally:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.send(("stop", None, None))
            for proc in self._procs:
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
            for conn in self._conns:
                conn.close()
