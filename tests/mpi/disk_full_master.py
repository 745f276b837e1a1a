"""``python -m src.master`` whose run files cannot be written from one generation on.

Usage (test helper, not collected by pytest)::

    mpiexec -n N python tests/mpi/disk_full_master.py GENERATION [src.master arguments]

On rank 0, ``src.search.reporters.StatsFiles.generation`` is wrapped so that, from generation
``GENERATION`` on, it raises ``src.search.files.WriteFailed`` with ENOSPC, as a full disk
would while stats.csv is appended. The real entry point meets it in the middle of a real
run: an error the root reports itself (one line, exit 74), not a crash that aborts the job.
"""

import errno
import sys

from mpi4py import MPI

from src import master, parallel
from src.search import files, reporters

if __name__ == "__main__":
    fail_generation = int(sys.argv.pop(1))
    if MPI.COMM_WORLD.Get_rank() == 0:
        real = reporters.StatsFiles.generation

        def failing(self, state, row):
            if state.generation >= fail_generation:
                raise files.WriteFailed(errno.ENOSPC, "No space left on device", "stats.csv")
            real(self, state, row)

        reporters.StatsFiles.generation = failing
    sys.exit(parallel.run_main(master.main))
