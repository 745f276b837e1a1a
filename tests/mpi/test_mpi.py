"""MPI runs under ``mpiexec`` (MPICH's hydra from the venv): same answer at any rank count,
no hang on a failure, resume after a killed rank, no spinning.

Each test starts its own ``mpiexec`` in a new session and, whatever happens, kills that
process group (and only it) before returning. Waits are on conditions (a file, a process
exit), never on fixed sleeps.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
from harness import (
    PYTHON,
    WORKERS_MNIST,
    assert_same_run,
    descendants,
    launch,
    running,
    signal_after_checkpoints,
    stats,
    wait_for,
)

from src.search import checkpoint
from src.tasks import kernels

pytestmark = pytest.mark.mpi

HERE = Path(__file__).parent
#: A small swing-up search: pop 24, episodes capped at 200 steps, 6 weights x 2 reps.
SMALL = [
    "--task",
    "swingup",
    "--pop-size",
    "24",
    "--seed",
    "5",
    "--set",
    "episode_steps=200",
    "--set",
    "n_reps=2",
    "--quiet",
]


def test_three_ranks_equal_serial_and_serial_without_mpi4py(tmp_path):
    args = [*SMALL, "--generations", "6"]
    serial = launch("-m", "src.master", *args, "--out", str(tmp_path / "serial"))
    assert serial.returncode == 0, serial.stderr
    no_mpi = launch(
        "-c",
        "import sys; sys.modules['mpi4py'] = None; from src import master, parallel; "
        "assert parallel.mpi() is None; sys.exit(parallel.run_main(master.main))",
        *args,
        "--out",
        str(tmp_path / "no_mpi"),
    )
    assert no_mpi.returncode == 0, no_mpi.stderr
    three = launch("-m", "src.master", *args, "--out", str(tmp_path / "three"), mpi=3)
    assert three.returncode == 0, three.stderr
    assert "warning" not in three.stderr  # e.g. ranks on other platforms: none here
    assert_same_run(tmp_path / "serial", tmp_path / "no_mpi")
    assert_same_run(tmp_path / "serial", tmp_path / "three")


def test_libm_swingup_math_on_three_ranks_equals_serial(tmp_path):
    """``swingup_math = 'libm'`` (glibc's activations, one call per lane; swing-up's default
    is 'fast', vectorised, which the test above runs): the same search at any rank count,
    and another search than the default's."""
    args = [*SMALL, "--generations", "6", "--set", "swingup_math='libm'"]
    serial = launch("-m", "src.master", *args, "--out", str(tmp_path / "serial"))
    assert serial.returncode == 0, serial.stderr
    three = launch("-m", "src.master", *args, "--out", str(tmp_path / "three"), mpi=3)
    assert three.returncode == 0, three.stderr
    assert_same_run(tmp_path / "serial", tmp_path / "three")
    fast = launch("-m", "src.master", *args[:-2], "--out", str(tmp_path / "fast"))
    assert fast.returncode == 0, fast.stderr
    assert stats(tmp_path / "fast") != stats(tmp_path / "serial")


def test_a_worker_rank_on_another_platform_is_named_in_one_warning(tmp_path):
    """A job over nodes of two kinds: rank 1 runs without numpy's dispatched SIMD targets
    (``NPY_DISABLE_CPU_FEATURES``, as on a node without them; MPMD launch)."""
    from numpy._core import _multiarray_umath as umath

    active = [t for t in umath.__cpu_dispatch__ if umath.__cpu_features__.get(t)]
    if not active:
        pytest.skip("this CPU runs none of numpy's dispatched SIMD targets: no other to make")
    run = ["-m", "src.master", *SMALL, "--generations", "2", "--out", str(tmp_path / "run")]
    other = ["-n", "1", "-env", "NPY_DISABLE_CPU_FEATURES", " ".join(active), PYTHON, *run]
    mixed = launch(*run, ":", *other, mpi=1)
    assert mixed.returncode == 0, mixed.stderr
    (line,) = [x for x in mixed.stderr.splitlines() if x.startswith("warning")]
    assert line.startswith("warning: rank 1 computes on '")
    ranks, root = line.split("the root on ")
    assert " SIMD -; " in ranks  # rank 1's record, then the root's
    assert f" SIMD {' '.join(active)}; " in root
    assert "not repeat bit for bit at another rank count" in line


def test_sixteen_ranks_oversubscribed_complete_with_the_same_answer(tmp_path):
    """16 ranks on 2 cores: the root only dispatches (another code path), same results."""
    args = [*SMALL, "--generations", "3"]
    serial = launch("-m", "src.master", *args, "--out", str(tmp_path / "serial"))
    assert serial.returncode == 0, serial.stderr
    start = time.monotonic()
    many = launch("-m", "src.master", *args, "--out", str(tmp_path / "many"), mpi=16, timeout=150)
    assert many.returncode == 0, many.stderr
    assert_same_run(tmp_path / "serial", tmp_path / "many")
    assert time.monotonic() - start < 120


def _slices_on_three_ranks_equal_serial(tmp_path, *sets: str) -> Path:
    """A 3-generation run with ``sets``: its genomes' rollouts as 5 work items on 3 ranks
    must be the serial run with whole genomes, bit for bit; returns the serial run."""
    args = [*SMALL, "--generations", "3"]
    for item in sets:
        args += ["--set", item]
    serial = launch("-m", "src.master", *args, "--out", str(tmp_path / "serial"))
    assert serial.returncode == 0, serial.stderr
    split = [*args, "--set", "split_rollouts=5", "--out", str(tmp_path / "split")]
    three = launch("-m", "src.master", *split, mpi=3)
    assert three.returncode == 0, three.stderr
    assert_same_run(tmp_path / "serial", tmp_path / "split")
    return tmp_path / "serial"


def test_genomes_cut_into_slices_of_rollouts_on_three_ranks_equal_serial(tmp_path):
    """Each genome's 12 rollouts (and the champion's re-evaluations) as 5 work items on
    several ranks: the same run, bit for bit, as whole genomes in one process."""
    _slices_on_three_ranks_equal_serial(tmp_path, "champion_reps=2")


def test_weight_noise_in_slices_on_three_ranks_equals_serial(tmp_path):
    """``weight_noise``: each row of a genome's rollouts has its own per-connection factors,
    so slices that cut across rows, on several ranks, must give the serial run."""
    serial = _slices_on_three_ranks_equal_serial(tmp_path, "weight_noise=0.2")
    plain = launch("-m", "src.master", *SMALL, "--generations", "3", "--out", str(tmp_path / "p"))
    assert plain.returncode == 0, plain.stderr
    assert stats(tmp_path / "p") != stats(serial)  # the noise changed the search


def test_workers_breeding_at_three_and_six_ranks_equals_serial(tmp_path):
    """Children bred by whichever rank evaluates them: 3 ranks (the root evaluates too) and
    6 (it only dispatches) give the serial run, bit for bit."""
    args = [*SMALL, "--generations", "4", "--set", "breeding='workers'"]
    serial = launch("-m", "src.master", *args, "--out", str(tmp_path / "serial"))
    assert serial.returncode == 0, serial.stderr
    for n in (3, 6):
        proc = launch("-m", "src.master", *args, "--out", str(tmp_path / f"n{n}"), mpi=n)
        assert proc.returncode == 0, proc.stderr
        assert_same_run(tmp_path / "serial", tmp_path / f"n{n}")
    root = launch("-m", "src.master", *SMALL, "--generations", "4", "--out", str(tmp_path / "r"))
    assert root.returncode == 0, root.stderr
    assert stats(tmp_path / "r") != stats(tmp_path / "serial")  # another search


def test_workers_breeding_on_mnist_resumed_on_three_ranks_equals_serial(tmp_path):
    out, reference = tmp_path / "resumed", tmp_path / "straight"
    first = launch(
        "-m", "src.master", *WORKERS_MNIST, "--generations", "2", "--out", str(out), mpi=3
    )
    assert first.returncode == 0, first.stderr
    resumed = launch("-m", "src.master", "--resume", str(out), "--generations", "4", mpi=3)
    assert resumed.returncode == 0, resumed.stderr
    whole = launch(
        "-m", "src.master", *WORKERS_MNIST, "--generations", "4", "--out", str(reference)
    )
    assert whole.returncode == 0, whole.stderr
    assert_same_run(out, reference)
    assert int(stats(out)[-1]["generation"]) == 3


#: Runs src.master like ``python -m``; at exit each rank writes which of the root's modules
#: (argument parsing, checkpoints, reporters) and of numba it imported.
_MODULES_AT_EXIT = """
import atexit, os, runpy, sys
ROOT_ONLY = ("argparse", "h5py", "src.search.checkpoint", "src.search.reporters", "numba")
atexit.register(lambda: sys.stderr.write(
    f"modules {os.environ['PMI_RANK']} {[m for m in ROOT_ONLY if m in sys.modules]}\\n"))
sys.argv = ["src.master", *sys.argv[1:]]
runpy.run_module("src.master", run_name="__main__", alter_sys=True)
"""


def test_worker_ranks_import_only_what_their_work_needs(tmp_path):
    """Start-up: a worker serves without the root's modules, and still builds its task."""
    args = [*SMALL, "--generations", "2", "--out", str(tmp_path / "run")]
    proc = launch("-c", _MODULES_AT_EXIT, *args, mpi=3)
    assert proc.returncode == 0, proc.stderr
    found = dict(re.findall(r"modules (\d) (\[.*\])", proc.stderr))
    assert sorted(found) == ["0", "1", "2"], proc.stderr
    assert found["1"] == found["2"] == "['numba']"  # the swing-up kernel is numba's JIT
    assert "h5py" in found["0"] and "src.search.checkpoint" in found["0"]
    serial = launch("-m", "src.master", *SMALL, "--generations", "2", "--out", str(tmp_path / "s"))
    assert serial.returncode == 0, serial.stderr
    assert_same_run(tmp_path / "run", tmp_path / "s")


def test_biped_workers_do_not_import_numba_with_ahead_of_time_kernels(tmp_path):
    """With the kernels built (``python -m src.tasks.kernels``), a biped worker runs its
    rollouts without numba; the run is the serial one, bit for bit."""
    kernels.build()
    args = ["--task", "biped", "--pop-size", "4", "--seed", "2", "--generations", "2"]
    args += ["--set", "episode_steps=60", "--set", "n_reps=1", "--set", "champion_reps=0"]
    args += ["--quiet"]
    proc = launch("-c", _MODULES_AT_EXIT, *args, "--out", str(tmp_path / "run"), mpi=3)
    assert proc.returncode == 0, proc.stderr
    found = dict(re.findall(r"modules (\d) (\[.*\])", proc.stderr))
    assert found["1"] == found["2"] == "[]", proc.stderr
    serial = launch("-m", "src.master", *args, "--out", str(tmp_path / "s"))
    assert serial.returncode == 0, serial.stderr
    assert_same_run(tmp_path / "run", tmp_path / "s")


def test_progress_line_shows_ranks_and_busy(tmp_path):
    args = [*SMALL[:-1], "--generations", "2", "--out", str(tmp_path / "r")]
    proc = launch("-m", "src.master", *args, mpi=2)
    assert proc.returncode == 0, proc.stderr
    assert "2 ranks, out" in proc.stdout
    lines = [line for line in proc.stdout.splitlines() if line.startswith("gen ")]
    assert len(lines) == 2 and all("2 ranks, busy" in line for line in lines), proc.stdout


@pytest.mark.parametrize("fail_rank", [1, 0], ids=["worker", "root"])
def test_rank_raising_aborts_the_job_and_keeps_the_last_checkpoint(tmp_path, fail_rank):
    """-n 2: the root and its one worker both evaluate; either raising ends the job."""
    out = tmp_path / "run"
    start = time.monotonic()
    proc = launch(
        str(HERE / "failing_master.py"),
        str(fail_rank),
        "3",
        *SMALL,
        "--generations",
        "50",
        "--out",
        str(out),
        mpi=2,
        timeout=60,
    )
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    assert f"injected failure on rank {fail_rank} in generation 3" in proc.stderr
    assert "Traceback (most recent call last)" in proc.stderr
    assert f"rank {fail_rank} of 2: uncaught exception, aborting the job" in proc.stderr
    assert elapsed < 45, f"the job took {elapsed:.0f} s to end"
    # Generation 2's checkpoint is written while generation 3 is evaluated (MPIExecutor.defer).
    # A root that raises writes it before it lets go of the folder; a worker's abort may come
    # before or after it: either way the newest file loads cleanly.
    last = checkpoint.load_latest(out)
    assert last.state.generation in ((2,) if fail_rank == 0 else (1, 2)) and not last.skipped
    assert "could not be written" not in proc.stderr and "lost its lock" not in proc.stderr


def test_bad_input_under_mpiexec_exits_2_without_hanging(tmp_path):
    args = ["--task", "pong", "--out", str(tmp_path / "r")]
    proc = launch("-m", "src.master", *args, mpi=3, timeout=60)
    assert proc.returncode == 2
    assert "unknown task 'pong'" in proc.stderr
    assert not (tmp_path / "r").exists()


def _rank_pid(launcher: int, rank: int) -> int | None:
    """PID of MPI rank ``rank`` under ``launcher`` (hydra puts PMI_RANK in each environment)."""
    for pid in descendants(launcher):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"PMI_RANK={rank}".encode() in environ:
            return pid
    return None


def test_sigkill_of_a_worker_ends_the_job_then_resume_equals_an_uninterrupted_run(tmp_path):
    out = tmp_path / "killed"
    args = [*SMALL, "--generations", "100000", "--out", str(out)]
    with running("-m", "src.master", *args, mpi=3) as proc:
        wait_for(
            lambda: len(checkpoint.list_checkpoints(out)) >= 2 or proc.poll() is not None,
            90,
            "two checkpoints",
        )
        assert proc.poll() is None, proc.communicate()
        worker = wait_for(lambda: _rank_pid(proc.pid, 1), 10, "the PID of rank 1")
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()
        _, err = proc.communicate(timeout=30)
        ended_after = time.monotonic() - killed_at
    assert proc.returncode != 0, err
    assert ended_after < 15, f"the job took {ended_after:.0f} s to end after the kill"
    last = checkpoint.load_latest(out)
    assert not last.skipped
    generations = last.state.generation + 3
    args = ["--resume", str(out), "--generations", str(generations)]
    resumed = launch("-m", "src.master", *args, mpi=3)
    assert resumed.returncode == 0, resumed.stderr
    reference = tmp_path / "uninterrupted"
    whole = launch(
        "-m", "src.master", *SMALL, "--generations", str(generations), "--out", str(reference)
    )
    assert whole.returncode == 0, whole.stderr
    assert_same_run(out, reference)


def test_workers_do_not_spin_while_waiting():
    proc = launch(str(HERE / "executor_program.py"), "idle", mpi=5, timeout=60)
    assert proc.returncode == 0, proc.stderr
    found = re.findall(r"idle-cpu (\d+) ([0-9.]+)", proc.stdout)
    cpu = {int(rank): float(seconds) for rank, seconds in found}
    assert sorted(cpu) == [1, 2, 3, 4]
    # Waiting 1.5 s: a spinning rank would use about a core's share (0.3 s or more here).
    assert max(cpu.values()) < 0.15, cpu


def test_dynamic_scheduling_returns_results_in_order_within_the_cores():
    """4 ranks: the root evaluates too, and at most (cores - 1) workers hold work at once."""
    proc = launch(str(HERE / "executor_program.py"), "map", mpi=4, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "ok"
    ranks = [int(r) for r in lines[1].split()[1:]]
    workers = set(ranks) - {0}
    assert 0 in ranks and workers
    assert len(workers) <= max(1, (os.cpu_count() or 1) - 1)
    # each worker counted the items it ran and the CPU they took (src.bench.scale reports it)
    served = re.findall(r"served (\d+) (\d+) ([0-9.]+) ([0-9.]+)", proc.stdout)
    items = {int(rank): int(n) for rank, n, _, _ in served}
    assert sorted(items) == [1, 2, 3]
    assert {w: items[w] for w in workers} == {w: ranks.count(w) for w in workers}
    assert all(float(cpu) >= float(in_fn) > 0 for _, n, cpu, in_fn in served if int(n))


def test_sigusr1_to_mpiexec_checkpoints_the_last_generation_and_exits_99(tmp_path):
    """hydra forwards SIGUSR1 to every rank: workers note it and keep serving, the root
    finishes the generation, writes its checkpoint (deferred ones included) and stops all."""
    out = tmp_path / "run"
    args = [*SMALL, "--generations", "100000", "--out", str(out)]
    code, err = signal_after_checkpoints(signal.SIGUSR1, out, "-m", "src.master", *args, mpi=3)
    assert code == 99, err
    assert "stopped by SIGUSR1" in err
    last = checkpoint.load_latest(out)
    assert last.state.generation == int(stats(out)[-1]["generation"])
