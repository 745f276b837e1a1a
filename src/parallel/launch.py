"""The MPI handle, the launch check and failure handling: what every rank runs first.

This is the only module that imports ``mpi4py`` (lazily: without it everything runs
serially).

Failure: :func:`run_main` wraps an entry point so an uncaught exception on any rank prints
its traceback and aborts the whole communicator (``MPI_Abort``), like ``python -m mpi4py``;
a rank killed outright ends the job through the launcher (MPICH's hydra does so in about a
second). :func:`launch_problem` catches the silent failure of an MPI launch without PMI
(``srun`` without ``--mpi``): N copies that each believe they are rank 0 of 1.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import stat
import sys
import termios
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_MPI: Any = None

#: MPICH's cells for small messages between the ranks of a node (ch4's POSIX shared memory):
#: each rank sends from its own pool, ``MPIR_CVAR_CH4_SHM_POSIX_IQUEUE_NUM_CELLS`` cells (64
#: by default) of ``MPIR_CVAR_CH4_SHM_POSIX_IQUEUE_CELL_SIZE`` bytes (8 kB in the MPICH 5
#: wheel, other releases 16-68 kB), and a cell comes back only when its receiver has taken
#: the message. Every rank of a node gets the same pool, in the node's shared memory.
IQUEUE_CELLS = "MPIR_CVAR_CH4_SHM_POSIX_IQUEUE_NUM_CELLS"
IQUEUE_CELL_SIZE = "MPIR_CVAR_CH4_SHM_POSIX_IQUEUE_CELL_SIZE"
#: MPICH's own default and the most this module asks for.
IQUEUE_DEFAULT, IQUEUE_MAX = 64, 1024
#: The most shared memory per node the pools may take (the cell size assumed 16 kB when the
#: environment does not say): 128 ranks get 512 cells each.
IQUEUE_NODE_BYTES = 1 << 30


def iqueue_cells(environ: Mapping[str, str] | None = None, cpus: int | None = None) -> int | None:
    """Cells a rank's pool needs so the root never waits for one, or ``None`` for the default.

    The root keeps a queued work item at every worker (one running, one queued), and a queued
    item sits in one of the root's cells until its worker, busy with the running one, takes
    it. With more local workers than cells the root's further sends wait inside MPICH until
    a cell comes back, and reach their workers tens of milliseconds late: with 128 ranks on
    one node (emulated, docs/mpi.md) 40 % of the queued items arrived 6 ms or more after
    their worker was ready, and a tenth over 60 ms, costing ~10 % of the workers' time. So:
    two cells per rank on this node plus a margin, as a power of two, at least MPICH's 64 and
    at most :data:`IQUEUE_MAX`, and no more than :data:`IQUEUE_NODE_BYTES` for the node.
    Ranks on the node: ``MPI_LOCALNRANKS`` (hydra's mpiexec), else ``SLURM_STEP_NUM_TASKS``
    or ``PMI_SIZE`` (the whole job) but at most this node's ``cpus``. The value depends on the
    node only, the same for all its ranks (MPICH wants it equal on every rank; the pools of
    different nodes never meet).
    """
    env = os.environ if environ is None else environ
    cpus = (os.cpu_count() or 1) if cpus is None else cpus
    local = None
    for name in ("MPI_LOCALNRANKS", "SLURM_STEP_NUM_TASKS", "PMI_SIZE"):
        value = env.get(name, "")
        if value.isdecimal():
            local = int(value) if name == "MPI_LOCALNRANKS" else min(int(value), cpus)
            break
    need = 0 if local is None else 2 * local + 16
    if need <= IQUEUE_DEFAULT:
        return None
    cells = min(IQUEUE_MAX, 1 << (need - 1).bit_length())
    size = env.get(IQUEUE_CELL_SIZE, "")
    cell_bytes = int(size) if size.isdecimal() and int(size) > 0 else 16 << 10
    while cells > IQUEUE_DEFAULT and cells * cell_bytes * local > IQUEUE_NODE_BYTES:
        cells //= 2
    return cells if cells > IQUEUE_DEFAULT else None


def mpi() -> Any:
    """The ``mpi4py.MPI`` module (initialising MPI on first use), or ``None`` without mpi4py.

    Before MPI starts, MPICH's pool of shared-memory cells is sized for this node's ranks
    (:func:`iqueue_cells`) unless ``MPIR_CVAR_CH4_SHM_POSIX_IQUEUE_NUM_CELLS`` is set.
    """
    global _MPI
    if _MPI is None:
        cells = iqueue_cells()
        if cells is not None:
            os.environ.setdefault(IQUEUE_CELLS, str(cells))
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

    Without this, one rank raising leaves the others waiting for it forever (a rank blocked
    in a receive never returns). With more than one rank the traceback goes to stderr and
    ``MPI_Abort(COMM_WORLD, 1)`` ends the whole job (the launcher's exit code is then
    non-zero); serially it returns 1.
    ``SystemExit`` (argparse, ``sys.exit``) passes through unchanged.
    """
    try:
        return main()
    except SystemExit:
        raise
    except BaseException:
        rank, size = world() if _MPI else (0, 1)
        try:
            # one write: the launcher forwards what reached the pipe before MPI_Abort tears
            # the job down; a traceback written line by line was seen cut after its first line
            with contextlib.suppress(Exception):  # no stderr (closed, broken pipe): abort still
                sys.stderr.write(
                    f"rank {rank} of {size}: uncaught exception, aborting the job\n"
                    + traceback.format_exc()
                )
                sys.stderr.flush()
            with contextlib.suppress(Exception):
                sys.stdout.flush()
            # MPI_Abort tears the job down at once, and a launcher may go before it has read
            # our pipes: the traceback was seen lost whole (exit 1, empty stderr)
            if size > 1:
                read_by_launcher()
        finally:
            if size > 1:
                mpi().COMM_WORLD.Abort(1)
        return 1


def read_by_launcher(fds: Sequence[int] = (1, 2), timeout: float = 2.0) -> bool:
    """Wait until what this process wrote to ``fds`` has been read, at most ``timeout`` s.

    Under ``mpiexec`` (and Slurm's step daemon) a rank's stdout and stderr are pipes that
    the launcher reads and forwards; bytes still in a pipe when the job is killed are lost.
    Only pipes are waited for (``FIONREAD`` counts the unread bytes on Linux, from either
    end); anything else counts as read. True when nothing is left unread.
    """
    pipes = []
    for fd in fds:
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                pipes.append(fd)
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    count = array.array("i", [0])
    while True:
        unread = 0
        for fd in pipes:
            try:
                fcntl.ioctl(fd, termios.FIONREAD, count)
                unread += count[0]
            except OSError:
                pass
        if not unread:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)  # polling the launcher's progress, not waiting in its place
