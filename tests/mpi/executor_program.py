"""The executor alone under ``mpiexec -n N python tests/mpi/executor_program.py MODE``.

Test helper (not collected by pytest). Modes:

* ``map``: the root maps :func:`uneven` (a few slow items among fast ones) over 60 items with
  :class:`src.parallel.MPIExecutor`; prints ``ok`` if the results equal the serial ones, in
  order, then one line ``ranks r0 r1 ...`` (which rank computed each item); each worker
  prints ``served RANK ITEMS CPU ITEM_CPU`` (:data:`src.parallel.mpi_executor.served`).
* ``idle``: the root keeps every worker waiting for 1.5 s, then stops them; each worker
  prints ``idle-cpu RANK SECONDS``: the CPU time it used while waiting (polling must not spin).
"""

import sys
import time

from src import parallel


def uneven(i: int) -> tuple[int, int]:
    """(i squared, rank that computed it); items 0, 7, 14 ... take 20 ms, the rest 1 ms."""
    time.sleep(0.02 if i % 7 == 0 else 0.001)
    return i * i, parallel.world()[0]


def main() -> int:
    mode = sys.argv[1]
    rank, size = parallel.world()
    if rank != 0:
        start = time.process_time()
        parallel.serve()
        if mode == "map":
            from src.parallel.mpi_executor import served

            sys.stdout.write(
                f"served {rank} {served['items']} {served['cpu']:.6f} {served['item_cpu']:.6f}\n"
            )
            sys.stdout.flush()
        if mode == "idle":
            # one write per line: with PYTHONUNBUFFERED print() writes text and newline
            # separately, and the launcher may interleave ranks' writes
            sys.stdout.write(f"idle-cpu {rank} {time.process_time() - start:.4f}\n")
            sys.stdout.flush()
        return 0
    executor = parallel.MPIExecutor()
    try:
        if mode == "map":
            results = executor.map(uneven, range(60))
            assert [r[0] for r in results] == [i * i for i in range(60)], results
            print("ok")
            print("ranks", " ".join(str(r[1]) for r in results), flush=True)
        elif mode == "idle":
            time.sleep(1.5)
    finally:
        executor.close()
    return 0


if __name__ == "__main__":
    sys.exit(parallel.run_main(main))
