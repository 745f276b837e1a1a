"""``python -m src.master`` whose run files cannot be written from one generation on.

Usage (test helper, not collected by pytest)::

    mpiexec -n N python tests/mpi/disk_full_master.py WHAT GENERATION [src.master arguments]

On rank 0, from generation ``GENERATION`` on, writing ``WHAT`` raises
``src.search.files.WriteFailed`` with ENOSPC, as a full disk would: ``stats`` (the row
appended to stats.csv, between generations) or ``checkpoint`` (``checkpoint.save``, which
runs in a background thread while the next generation is evaluated, and whose error
surfaces at the start of the next map). The real entry point meets it in the middle of a
real run: an error the root reports itself (one line, exit 74), not a crash.
"""

import errno
import sys

from mpi4py import MPI

from src import master, parallel
from src.search import checkpoint, files, reporters


def _full(name: str) -> files.WriteFailed:
    return files.WriteFailed(errno.ENOSPC, "No space left on device", name)


if __name__ == "__main__":
    what, fail_generation = sys.argv.pop(1), int(sys.argv.pop(1))
    if MPI.COMM_WORLD.Get_rank() == 0:
        if what == "stats":
            real_row = reporters.StatsFiles.generation

            def failing_row(self, state, row):
                if state.generation >= fail_generation:
                    raise _full("stats.csv")
                real_row(self, state, row)

            reporters.StatsFiles.generation = failing_row
        else:
            real_save = checkpoint.save

            def failing_save(snap, *args, **kwargs):
                if snap.generation >= fail_generation:
                    raise _full(f"gen_{snap.generation:06d}.h5")
                return real_save(snap, *args, **kwargs)

            checkpoint.save = failing_save
    sys.exit(parallel.run_main(master.main))
