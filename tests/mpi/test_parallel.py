"""src.parallel without mpiexec: chunks, launch check, back-off, the SLURM guard end to end."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import PYTHON, ROOT

from src import parallel


@pytest.mark.parametrize("n_workers", [1, 2, 3, 8, 63, 1023])
@pytest.mark.parametrize("n_items", [0, 1, 5, 64, 960])
def test_guided_chunks_cover_everything_in_order_and_shrink(n_items, n_workers):
    bounds = parallel.chunk_bounds(n_items, n_workers)
    assert [i for a, b in bounds for i in range(a, b)] == list(range(n_items))
    sizes = [b - a for a, b in bounds]
    assert all(s >= 1 for s in sizes)
    assert sizes == sorted(sizes, reverse=True)
    if n_items and n_workers > 1:
        assert sizes[0] == -(-n_items // (2 * n_workers)) and sizes[-1] == 1
    if n_workers == 1:
        assert len(bounds) == (1 if n_items else 0)


def test_fixed_chunks():
    assert parallel.chunk_bounds(10, 4, chunk=4) == [(0, 4), (4, 8), (8, 10)]


def test_serial_executor_maps_in_order():
    ex = parallel.SerialExecutor()
    assert ex.map(abs, [-3, 2, -1]) == [3, 2, 1]
    assert (ex.n_workers, ex.n_ranks) == (1, 1)
    ex.call_on_workers(pytest.fail, "no workers: never called")


def test_root_evaluates_only_with_few_ranks():
    assert parallel.root_evaluates(2) and parallel.root_evaluates(4)
    assert not parallel.root_evaluates(5) and not parallel.root_evaluates(64)


def test_backoff_grows_to_its_cap_and_resets():
    b = parallel.Backoff(first=1e-6, factor=2.0, cap=1e-4)
    for _ in range(20):
        b.sleep()
    assert b.delay == 1e-4
    b.reset()
    assert b.delay == 1e-6


def test_emulated_cores_still_poll_as_oversubscribed(monkeypatch):
    """WANN_CORES_PER_NODE=128 on a smaller machine lets 128 ranks hold work (the scale
    bench), but they share the real cores: idle workers must back off to the oversubscribed
    cap (50 ms), not poll every 0.25 ms as if each had a core."""
    from src.parallel.mpi_executor import CORES_ENV, node_cores

    cores = os.cpu_count() or 1
    ranks = 2 * cores + 2
    env = {"MPI_LOCALNRANKS": str(ranks), CORES_ENV: str(ranks)}
    monkeypatch.setenv(CORES_ENV, str(ranks))
    assert node_cores() == ranks  # the executor's slots follow the emulated cores
    assert parallel.oversubscribed(ranks, env)  # the polling follows the real ones
    assert parallel.waiting_backoff(ranks, root=False).cap == 0.05
    assert parallel.waiting_backoff(ranks, root=True).cap == 0.0005
    assert not parallel.oversubscribed(cores, {"MPI_LOCALNRANKS": str(cores)})


def _polls(backoff: parallel.Backoff, seconds: float) -> int:
    """How many sleeps ``backoff`` takes to wait ``seconds`` (its delays, without sleeping)."""
    polls, waited, delay = 0, 0.0, backoff.first
    while waited < seconds:
        waited, polls = waited + delay, polls + 1
        delay = min(backoff.cap, delay * backoff.factor)
    return polls


def test_an_oversubscribed_worker_waits_with_few_polls_and_notices_work_soon(monkeypatch):
    """Each empty poll wakes a sleeping rank (~40 us of CPU on a shared core): a worker
    waiting for the root's answer (a few ms) or for the next generation polls a few times,
    and still notices work within 25 % of its wait or 0.5 ms; the root stays prompt."""
    ranks = 2 * (os.cpu_count() or 1) + 2
    monkeypatch.setenv("MPI_LOCALNRANKS", str(ranks))
    worker = parallel.waiting_backoff(ranks, root=False)
    assert _polls(worker, 0.003) <= 5 and _polls(worker, 0.05) <= 16
    assert worker.first <= 0.0005 and worker.factor <= 1.25 and worker.cap <= 0.05
    root = parallel.waiting_backoff(ranks, root=True)
    assert root.first <= 50e-6 and root.cap <= 0.0005
    monkeypatch.setenv("MPI_LOCALNRANKS", "1")  # a core each: everyone polls within 0.25 ms
    assert parallel.waiting_backoff(ranks, root=False).cap <= 0.00025


# Environments seen with Slurm 22.05 + the MPICH wheel in a 2-task allocation (docs/mpi.md).
BATCH = {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "2", "SLURM_PROCID": "0"}
SRUN = {**BATCH, "SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "2"}
HYDRA_IN_BATCH = {**BATCH, "SLURM_NTASKS": "1", "SLURM_STEP_NUM_TASKS": "1", "SLURM_STEP_ID": "3"}


@pytest.mark.parametrize(
    ("env", "size", "refused"),
    [
        ({}, 1, False),  # a plain run
        ({"PMI_SIZE": "3", "PMI_RANK": "0"}, 3, False),  # mpiexec -n 3
        (BATCH, 1, False),  # python -m src.master in a batch script: serial, as asked
        (SRUN, 1, True),  # srun without --mpi: 2 copies of "rank 0 of 1"
        ({**SRUN, "PMI_SIZE": "2", "PMI_RANK": "0"}, 2, False),  # srun --mpi=pmi2
        ({**SRUN, "PMI_SIZE": "2", "PMI_RANK": "0"}, 1, True),  # pmi2 but MPI ignored it
        ({**HYDRA_IN_BATCH, "PMI_SIZE": "2"}, 2, False),  # mpiexec -n 2 in a batch script
        ({**HYDRA_IN_BATCH, "PMI_SIZE": "4"}, 4, False),  # mpiexec -n 4 there: oversubscribed
        ({**SRUN, "SLURM_STEP_NUM_TASKS": "1", "SLURM_NTASKS": "1"}, 1, False),  # srun -n 1
        ({**SRUN, "SLURM_STEP_NUM_TASKS": "2", "PMIX_RANK": "0"}, 2, False),  # srun --mpi=pmix
        ({**SRUN, "SLURM_STEP_NUM_TASKS": "2", "OMPI_COMM_WORLD_SIZE": "8"}, 8, False),  # mpirun
    ],
)
def test_launch_problem(env, size, refused):
    problem = parallel.launch_problem(size, env)
    assert (problem is not None) == refused
    if refused:
        assert "the MPI launch did not give the expected ranks" in problem
        assert "srun --mpi=pmi2" in problem and "mpiexec" in problem


def test_srun_without_pmi_stops_at_once_and_writes_nothing(tmp_path):
    """What each of the 2 copies of a PMI-less ``srun -n 2`` sees: exit 2 before any work."""
    env = {**SRUN, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [PYTHON, "-m", "src.master", "--task", "swingup", "--out", str(tmp_path / "r")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: the MPI launch did not give the expected ranks")
    assert proc.stderr.count("\n") == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("env", "cells"),
    [
        ({}, None),  # serial: MPICH's default
        ({"MPI_LOCALNRANKS": "2", "PMI_SIZE": "2"}, None),  # mpiexec -n 2: 64 cells suffice
        ({"MPI_LOCALNRANKS": "24"}, None),  # 2 x 24 + 16 = 64
        ({"MPI_LOCALNRANKS": "25"}, 128),
        ({"MPI_LOCALNRANKS": "128", "PMI_SIZE": "1024"}, 512),  # this node's ranks decide
        ({"SLURM_STEP_NUM_TASKS": "64"}, 256),  # srun: the step's tasks, at most the cpus
        ({"SLURM_STEP_NUM_TASKS": "4096"}, 512),  # 128 cpus: 128 ranks at most
        ({"PMI_SIZE": "4096"}, 512),
        ({"MPI_LOCALNRANKS": "256"}, 256),  # the node's shared memory caps it: 1 GiB
        ({"MPI_LOCALNRANKS": "128", parallel.launch.IQUEUE_CELL_SIZE: "69632"}, None),
        ({"MPI_LOCALNRANKS": "128", parallel.launch.IQUEUE_CELL_SIZE: "8192"}, 512),
        ({"MPI_LOCALNRANKS": "\u00b2"}, None),  # not a number
    ],
)
def test_iqueue_cells_cover_two_items_per_local_rank(env, cells):
    assert parallel.launch.iqueue_cells(env, cpus=128) == cells


@pytest.mark.parametrize(("given", "expected"), [(None, "256"), ("77", "77")])
def test_mpi_start_sizes_mpich_cells_unless_the_user_did(given, expected):
    """A rank that believes its node holds 100 ranks starts MPICH with 256 cells (MPI starts:
    the value is accepted); a value the user set is kept."""
    env = {**os.environ, "MPI_LOCALNRANKS": "100", "PYTHONPATH": str(ROOT)}
    env.pop(parallel.launch.IQUEUE_CELLS, None)
    if given is not None:
        env[parallel.launch.IQUEUE_CELLS] = given
    code = (
        "import os; from src.parallel.launch import IQUEUE_CELLS, mpi; MPI = mpi(); "
        "print(os.environ[IQUEUE_CELLS], MPI.COMM_WORLD.Get_size())"
    )
    proc = subprocess.run(
        [PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [expected, "1"]


def test_read_by_launcher_waits_for_the_pipe_reader(tmp_path):
    """Before MPI_Abort a failing rank waits until its launcher has read its pipes: unread
    bytes keep it waiting (to the timeout), an emptied pipe or a plain file does not."""
    from src.parallel.launch import read_by_launcher

    r, w = os.pipe()
    try:
        os.write(w, b"rank 0 of 2: uncaught exception\n")
        assert read_by_launcher([w], timeout=0.05) is False
        assert os.read(r, 1000).startswith(b"rank 0")
        assert read_by_launcher([w], timeout=0.05) is True
    finally:
        os.close(r)
        os.close(w)
    with open(tmp_path / "log", "w") as fh:
        fh.write("not a pipe")
        fh.flush()
        assert read_by_launcher([fh.fileno()], timeout=0.05) is True
