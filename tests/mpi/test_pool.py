"""The executor seam: every executor keeps the interface's promises, and the local process
pool (``--workers N``) gives results bit-identical to a serial run, stops and resumes like
one, and fails loudly."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from src import parallel
from src.config import build
from src.parallel import Executor, PoolExecutor, SerialExecutor, WorkerError
from src.search.loop import initial_state, run
from src.search.reporters import StatsFiles

sys.path.insert(0, str(Path(__file__).parents[1] / "checkpoint"))
from ckpt_helpers import TINY, checkpoints, master, start_master
from harness import ROOT, assert_same_run, descendants, wait_for


def square(i: int) -> tuple[int, int]:
    """(i squared, pid); items divisible by 5 take 20 ms, the rest 1 ms."""
    time.sleep(0.02 if i % 5 == 0 else 0.001)
    return i * i, os.getpid()


def explode(i: int) -> int:
    if i == 3:
        raise ValueError("item three is bad")
    return i


def record(path: str, text: str) -> None:
    with open(path, "a") as fh:
        fh.write(text)


def die(_: int) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture(scope="module")
def pool():
    with PoolExecutor(2) as ex:
        yield ex


def test_executors_implement_the_whole_interface():
    for cls in (SerialExecutor, PoolExecutor, parallel.MPIExecutor):
        assert issubclass(cls, Executor)
        assert not getattr(cls, "__abstractmethods__", None), cls
    with pytest.raises(TypeError):
        Executor()  # map is abstract


def test_pool_maps_lazily_in_order_on_every_worker(pool):
    produced = []

    def items():
        for i in range(40):
            produced.append(i)
            yield i

    results = pool.map(square, items())
    assert [r[0] for r in results] == [i * i for i in range(40)]
    assert produced == list(range(40))
    pids = {r[1] for r in results}
    assert len(pids) == 2 and os.getpid() not in pids  # the parent only dispatches
    assert (pool.n_workers, pool.n_ranks) == (2, 3)
    assert pool.map(square, []) == []


def test_pool_runs_calls_on_every_worker_and_defers_root_work(pool, tmp_path):
    log = tmp_path / "calls"
    pool.call_on_workers(record, str(log), "w")
    pool.wait_for_workers()
    assert log.read_text() == "ww"
    pool.defer(record, str(log), "d")
    assert log.read_text() == "ww"  # deferred: runs during the next map
    pool.map(square, range(4))
    pool.flush()
    assert log.read_text() == "wwd"


def test_a_failing_item_raises_in_the_parent_with_the_worker_traceback(pool):
    with pytest.raises(WorkerError, match="item three is bad"):
        pool.map(explode, range(8))


def test_a_worker_that_dies_ends_the_map_and_close_still_returns():
    ex = PoolExecutor(1)
    with pytest.raises(WorkerError, match="died"):
        ex.map(die, [0])
    ex.close()
    with pytest.raises(RuntimeError, match="closed"):
        ex.map(square, [1])


def test_a_deferred_exception_is_raised_by_flush_and_later_calls_dropped(pool, tmp_path):
    pool.defer(explode, 3)
    pool.defer(record, str(tmp_path / "never"), "x")
    with pytest.raises(ValueError, match="item three"):
        pool.flush()
    pool.flush()  # nothing left
    assert not (tmp_path / "never").exists()


def test_switch_interval_is_restored_after_deferred_calls(pool, tmp_path):
    before = sys.getswitchinterval()
    pool.defer(record, str(tmp_path / "x"), "x")
    pool.map(square, range(6))
    pool.flush()
    assert sys.getswitchinterval() == before


def test_search_in_a_pool_equals_the_serial_search(tmp_path, pool):
    config = build(
        "swingup",
        overrides={"pop_size": 24, "seed": 9, "generations": 4},
        sets=["episode_steps=150", "champion_reps=2"],
    )
    states = []
    for name, ex in (("serial", SerialExecutor()), ("pool", pool)):
        (tmp_path / name).mkdir()
        states.append(run(initial_state(config), ex, [StatsFiles(tmp_path / name)]))
    a, b = states
    assert a.history and [
        {k: v for k, v in row.items() if k not in ("seconds", "busy")} for row in a.history
    ] == [{k: v for k, v in row.items() if k not in ("seconds", "busy")} for row in b.history]
    assert a.population == b.population
    assert (a.objectives == b.objectives).all()
    assert a.best == b.best and a.best_info == b.best_info
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


@pytest.mark.checkpoint
def test_workers_cli_equals_serial_then_sigterm_and_resume_equal_a_straight_run(tmp_path):
    gens = ["--generations", "12", "--set", "champion_reps=2"]
    straight, pooled, stopped = tmp_path / "straight", tmp_path / "pool", tmp_path / "stopped"
    proc = master(*TINY, *gens, "--out", str(straight))
    assert proc.returncode == 0, proc.stderr
    proc = master(*TINY, *gens, "--out", str(pooled), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert_same_run(straight, pooled)
    # SIGTERM to every process of the job (as Slurm does): the workers ignore it, the
    # parent finishes its generation, checkpoints and exits 99; resumed, it equals the
    # straight run.
    log = tmp_path / "log"
    job = start_master(*TINY, *gens, "--out", str(stopped), "--workers", "2", log=log)
    try:
        # the workers exist while the parent still waits for them to start up (imports,
        # JIT caches: a second or more), long before the last generation
        wait_for(lambda: len(descendants(job.pid)) >= 2 or job.poll() is not None, 120, "workers")
        for pid in [job.pid, *descendants(job.pid)]:
            with contextlib.suppress(ProcessLookupError):  # a short-lived helper
                os.kill(pid, signal.SIGTERM)
        code = job.wait(timeout=120)
    finally:
        if job.poll() is None:
            job.kill()
    assert code == 99, (code, log.read_text())
    assert checkpoints(stopped) and len(checkpoints(stopped)) < 12
    proc = master("--resume", str(stopped), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert_same_run(straight, stopped)


@pytest.mark.mpi
def test_workers_under_mpiexec_is_refused_with_one_line():
    proc = master(*TINY, "--out", "/nonexistent/never", "--workers", "2", mpi=2, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --workers 2 with 2 MPI ranks"), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("bad", ["-1", "two"])
def test_bad_workers_value_is_one_line(bad, capsys):
    from src import master as cli

    with pytest.raises(SystemExit) as exc:
        cli.parse_args(["--workers", bad])
    assert exc.value.code == 2
    assert "--workers: must be an integer >= 0" in capsys.readouterr().err
    assert parallel.workers_from(["--workers", bad]) == 0


def test_stop_signal_reaches_workers_ignored(tmp_path):
    """A worker process ignores SIGINT/SIGTERM (Ctrl-C reaches the whole group)."""
    ex = PoolExecutor(1)
    try:
        pid = ex.map(square, [1])[0][1]
        os.kill(pid, signal.SIGINT)
        os.kill(pid, signal.SIGTERM)
        assert ex.map(square, [2])[0] == (4, pid)
    finally:
        ex.close()
    assert subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0


_SIGNAL_MASKS = """
import os, signal
from multiprocessing import resource_tracker
from src.parallel.pool import PoolExecutor

def masks(pid):
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    return int(fields["SigBlk"], 16) | int(fields["SigIgn"], 16)

if __name__ == "__main__":
    stop = sum(1 << (s - 1) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1))
    before = masks(os.getpid()) & stop  # a background job of a shell may ignore SIGINT
    with PoolExecutor(1) as ex:
        tracker = resource_tracker._resource_tracker._pid
        workers = [p.pid for p in ex._procs]
        print(all(masks(p) & stop == stop for p in [tracker, *workers]),
              masks(os.getpid()) & stop == before)
"""


def test_no_stop_signal_can_kill_the_pools_helpers_and_the_parent_still_gets_them(tmp_path):
    """Slurm signals every process of a step: the workers and multiprocessing's resource
    tracker must ignore (or block) SIGINT, SIGTERM and SIGUSR1, while the parent's own
    dispositions and mask are as before once its pool is up."""
    script = tmp_path / "masks.py"
    script.write_text(_SIGNAL_MASKS)
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]
