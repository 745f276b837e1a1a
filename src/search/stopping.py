"""Stop requests: SIGTERM or SIGUSR1 -> checkpoint at the next safe point, exit 99.

:func:`install` is called early on every rank (Python's default for SIGUSR1 is to terminate the
process, and ``kill -USR1`` on the ``mpiexec`` launcher, ``scancel --signal`` or a Slurm
``--signal`` reaches every rank). The handler only records the request; nothing is done inside
it, so a signal arriving in the middle of a checkpoint write cannot corrupt it, and a second
signal changes nothing.

Only the root acts on it: the search loop polls :func:`requested` right after each generation's
checkpoint is written, returns, and ``src.master`` exits with :data:`EXIT_REQUEUE`. Workers keep
serving until the root shuts them down.
"""

from __future__ import annotations

import signal
from types import FrameType

EXIT_REQUEUE = 99
"""Exit code of a run stopped by a signal after writing its checkpoint: "requeue me"."""

SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

_received: list[int] = []


def _handler(signum: int, frame: FrameType | None) -> None:
    # Only record: printing here could re-enter a stream the main code is writing to.
    _received.append(signum)


def install() -> None:
    """Record SIGTERM and SIGUSR1 instead of dying (call once per process, any rank)."""
    for sig in SIGNALS:
        signal.signal(sig, _handler)


def requested() -> bool:
    """Whether a stop signal has arrived in this process."""
    return bool(_received)


def signal_name() -> str | None:
    """Name of the first stop signal received, if any."""
    return signal.Signals(_received[0]).name if _received else None


def reset() -> None:
    """Forget received signals (tests)."""
    _received.clear()
