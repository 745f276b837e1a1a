"""Waiting without spinning: back-off sleeps between non-blocking polls.

Under MPICH a rank blocked in ``recv``/``bcast`` busy-polls its core (with 64 ranks on 2
cores the root ran 39x slower, docs/mpi.md). So every wait is a non-blocking probe or
``Request.Test`` followed by a short sleep that backs off (:func:`waiting_backoff`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping


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


def oversubscribed(size: int, environ: Mapping[str, str] | None = None) -> bool:
    """Whether this node runs more ranks than it has cores.

    Ranks on this node: ``MPI_LOCALNRANKS`` (MPICH's hydra) or ``OMPI_COMM_WORLD_LOCAL_SIZE``
    (Open MPI), else the whole communicator; cores: ``os.cpu_count()``, the real ones even
    when ``WANN_CORES_PER_NODE`` says more (an emulation of a larger node whose ranks sleep
    instead of computing: they still share the real cores, so idle ones back off far).
    """
    env = os.environ if environ is None else environ
    local = env.get("MPI_LOCALNRANKS") or env.get("OMPI_COMM_WORLD_LOCAL_SIZE") or ""
    ranks_here = int(local) if local.isdigit() else size
    return ranks_here > (os.cpu_count() or 1)


def waiting_backoff(size: int, root: bool) -> Backoff:
    """How a rank waits for its next message.

    With a core to itself a rank backs off to 0.25 ms between polls (a few % of that idle
    core: it notices new work at once). On an oversubscribed node idle polls would take CPU
    from ranks with work (a poll that wakes a sleeping rank costs ~40 us of CPU there, more
    than the probe): workers back off to 50 ms (only the few holding work poll fast, since
    each message resets the back-off), the root (whose answers everyone waits for) to
    0.5 ms. There a worker's first sleep is 0.5 ms, not 50 us: a worker holding a queued item
    finds it at its first probe and never sleeps, and one waiting for the root's answer
    waits a round trip of the root's (itself polling at up to 0.5 ms) or longer, so the
    early short sleeps only cost CPU: 5 polls cover a 3 ms wait instead of 13, 15 cover
    50 ms instead of 25 (32 emulated ranks on 2 cores: 9.7 empty polls per item -> 3.7-5.7).
    """
    if not oversubscribed(size):
        return Backoff(cap=0.00025)
    return Backoff(cap=0.0005) if root else Backoff(first=0.0005, cap=0.05)
