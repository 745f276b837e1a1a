"""``python -m src.master`` whose evaluations raise on one rank from one generation on.

Usage (test helper, not collected by pytest)::

    mpiexec -n N python tests/mpi/failing_master.py RANK GENERATION [src.master arguments]

On rank ``RANK`` only, ``src.evaluation.rollout_seeds`` is wrapped, before the entry point
runs, so that evaluating a request of generation ``GENERATION`` or later raises
``RuntimeError("injected failure on rank R in generation G")``. Nothing in ``src`` knows about
it: the real entry point (``parallel.run_main(master.main)``) meets a real exception in the
middle of a real run, on a worker or on the root (which evaluates too with up to 4 ranks).
"""

import sys

from mpi4py import MPI

import src.evaluation
from src import master, parallel

if __name__ == "__main__":
    fail_rank, fail_generation = int(sys.argv.pop(1)), int(sys.argv.pop(1))
    rank = MPI.COMM_WORLD.Get_rank()
    if rank == fail_rank:
        real = src.evaluation.rollout_seeds

        def failing(seed: int, generation: int, n_reps: int, stream: int = 0):
            if generation >= fail_generation:
                raise RuntimeError(f"injected failure on rank {rank} in generation {generation}")
            return real(seed, generation, n_reps, stream)

        src.evaluation.rollout_seeds = failing
    sys.exit(parallel.run_main(master.main))
