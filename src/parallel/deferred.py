"""Root-only work run in a background thread while the workers evaluate (``Executor.defer``).

The pool and MPI executors queue deferred calls (a checkpoint of the previous generation)
and start them once the next map's first work items are out, so the root keeps feeding the
workers meanwhile. A checkpoint takes tens of milliseconds, longer than a worker's queued
items last when the root shares a core.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

#: While a deferred call runs, the thread that polls for results gets the GIL back within
#: this many seconds (Python's default switch interval is 5 ms).
SWITCH_INTERVAL = 0.0005


class DeferredCalls:
    """An ordered queue of calls, run in one background thread at a time.

    Attributes:
        seconds: total time spent in deferred calls.
    """

    def __init__(self) -> None:
        self._queue: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._saved_interval: float | None = None
        self.seconds = 0.0

    def add(self, fn: Callable[..., Any], *args: Any) -> None:
        self._queue.append((fn, args))

    def start(self) -> None:
        """Wait for the calls that run, then start the queued ones in a new thread."""
        self.join()
        if not self._queue:
            return
        calls, self._queue = self._queue, []
        if self._saved_interval is None:
            self._saved_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._saved_interval, SWITCH_INTERVAL))
        self._thread = threading.Thread(
            target=self._run, args=(calls,), name="wann-deferred", daemon=True
        )
        self._thread.start()

    def _run(self, calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> None:
        t0 = time.perf_counter()
        try:
            for fn, args in calls:
                fn(*args)
        except BaseException as exc:  # re-raised in the calling thread by join()
            self._error = exc
        self.seconds += time.perf_counter() - t0

    def join(self) -> None:
        """Wait for the running calls; restore the switch interval; raise their exception."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._saved_interval is not None:
            sys.setswitchinterval(self._saved_interval)
            self._saved_interval = None
        if self._error is not None:
            exc, self._error = self._error, None
            # calls queued after the failed one are dropped: the run is ending with this
            # error (a checkpoint that found the disk full), and close() must not repeat it
            self._queue = []
            raise exc

    def flush(self) -> None:
        """Run every queued call (if not yet started) and wait until all are done."""
        self.start()
        self.join()
