"""Stop requests: SIGTERM or SIGUSR1 -> checkpoint at the next safe point, exit 99; Ctrl-C
(SIGINT) the same with exit 130, and a second Ctrl-C kills at once.

:func:`install` is called first on every rank, before the slow imports (Python's default for
SIGUSR1 is to terminate the
process, and ``kill -USR1`` on the ``mpiexec`` launcher, ``scancel --signal`` or a Slurm
``--signal`` reaches every rank). The handler only records the request; nothing is done inside
it, so a signal arriving in the middle of a checkpoint write cannot corrupt it, and a second
SIGTERM or SIGUSR1 changes nothing.

Only the root acts on it: the search loop polls :func:`requested` right after each generation
(and its checkpoint when ``checkpoint_every`` says so; a stop always checkpoints the generation
just finished), returns, and ``src.master`` exits with :func:`exit_code`. Workers keep
serving until the root shuts them down.
"""

from __future__ import annotations

import signal
from types import FrameType

EXIT_REQUEUE = 99
"""Exit code of a run stopped by a signal after writing its checkpoint: "requeue me"."""
EXIT_INTERRUPTED = 130
"""Exit code of a run stopped by Ctrl-C (SIGINT) after writing its checkpoint (128 + SIGINT,
what a shell reports for Ctrl-C): stopped by a person, not to be requeued."""

SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)

_received: list[int] = []


def _handler(signum: int, frame: FrameType | None) -> None:
    # Only record: printing here could re-enter a stream the main code is writing to.
    _received.append(signum)
    if signum == signal.SIGINT:
        # A second Ctrl-C stops at once: the default action kills the process in the kernel,
        # even in the middle of a compiled kernel that holds the interpreter. The previous
        # checkpoint is intact; the lock left behind is stale (dead pid) and taken over.
        signal.signal(signal.SIGINT, signal.SIG_DFL)


def install() -> None:
    """Record SIGTERM, SIGUSR1 and a first SIGINT instead of dying (any rank). Python's
    default for SIGINT, a KeyboardInterrupt raised wherever the main thread is, surfaced
    inside numba kernels as a SystemError and under MPI as a traceback per rank.

    ``python -m src.master`` calls it first thing, before its slow imports (numpy, numba,
    h5py, MPI_Init: a second or more on a loaded node), and ``main`` again: calling it twice
    is harmless, and a SIGINT already received keeps its default action (a second Ctrl-C
    still stops at once).
    """
    for sig in SIGNALS:
        if sig == signal.SIGINT and sig in _received:
            continue
        signal.signal(sig, _handler)


def ignore_from_now() -> None:
    """Ignore SIGTERM and SIGUSR1 from now on: the process has its exit code and is ending.

    Python's finalization resets every signal handled by a Python function to its default
    action, which for SIGUSR1 and SIGTERM ends the process; a signal that came while a
    finished rank was shutting down (MPI_Finalize, interpreter teardown) killed it, and
    ``mpiexec`` reported the finished run as failed. ``SIG_IGN`` survives finalization.
    SIGINT keeps its handler (or, after a first Ctrl-C, its default): a person can still
    stop a shutdown that hangs.
    """
    for sig in (signal.SIGTERM, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_IGN)


def requested() -> bool:
    """Whether a stop signal has arrived in this process."""
    return bool(_received)


def signal_name() -> str | None:
    """Name of the first stop signal received, if any."""
    return signal.Signals(_received[0]).name if _received else None


def exit_code() -> int:
    """:data:`EXIT_INTERRUPTED` if the first stop signal was SIGINT, else :data:`EXIT_REQUEUE`."""
    return EXIT_INTERRUPTED if _received and _received[0] == signal.SIGINT else EXIT_REQUEUE


def reset() -> None:
    """Forget received signals (tests)."""
    _received.clear()
