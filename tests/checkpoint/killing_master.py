"""``python -m src.master`` that SIGKILLs itself half-way through writing one checkpoint.

Usage (test helper, not collected by pytest)::

    [mpiexec -n N] python tests/checkpoint/killing_master.py GENERATION [src.master arguments]

``src.search.checkpoint.save`` writes ``checkpoints/gen_<GENERATION>.h5`` through
``write_atomically``: a temporary file in the same folder, written, fsynced, renamed. That call
is wrapped here, before the entry point runs: while it writes that one file, the first
``os.write`` of the thread doing it writes half of the bytes, and the process then kills
itself with SIGKILL. Left behind: a half-written temporary file, no rename, no clean-up, as
after ``kill -9``, a crash or a dead node at that moment. Nothing in ``src`` knows about it:
the real entry point (``parallel.run_main(master.main)``) runs a real search. Under
``mpiexec`` only the root writes checkpoints, so the root is the rank that dies.
"""

import os
import signal
import sys
import threading
from pathlib import Path

from src import master, parallel
from src.search import checkpoint


def kill_while_writing(generation: int) -> None:
    """Wrap ``checkpoint.write_atomically``: die half-way through ``generation``'s file."""
    name = checkpoint.checkpoint_path(Path(), generation).name
    real_write_atomically, real_write = checkpoint.write_atomically, os.write

    def write_atomically(final, data, *args, **kwargs):
        if Path(final).name == name:
            writer = threading.get_ident()  # under MPI: the thread that writes checkpoints

            def write(fd, buffer):
                if threading.get_ident() != writer:
                    return real_write(fd, buffer)
                real_write(fd, buffer[: len(buffer) // 2])
                os.kill(os.getpid(), signal.SIGKILL)

            os.write = write  # the process dies inside the write below
        return real_write_atomically(final, data, *args, **kwargs)

    checkpoint.write_atomically = write_atomically


if __name__ == "__main__":
    kill_while_writing(int(sys.argv.pop(1)))
    sys.exit(parallel.run_main(master.main))
