"""SIGTERM / SIGUSR1: checkpoint at the next safe point and exit 99; SIGKILL while writing a
checkpoint leaves the previous one usable. Each stopped run is then resumed and compared with
an uninterrupted run of the same length, bit for bit."""

from __future__ import annotations

import os
import signal

import pytest
from ckpt_helpers import (
    MPIEXEC,
    TINY,
    assert_same_run,
    checkpoints,
    master,
    start_master,
    stats,
    stop_with,
    wait_for,
)

from src.search import stopping

pytestmark = pytest.mark.checkpoint

ENDLESS = "1000000"  # generations: the run only ends by a signal


def resume_and_compare(tmp_path, run, extra=2):
    """Resume ``run`` for ``extra`` more generations; compare with a straight run."""
    last = len(stats(run))
    assert checkpoints(run)[-1].name == f"gen_{last - 1:06d}.h5"  # stats and checkpoint agree
    total = str(last + extra)
    proc = master("--resume", str(run), "--generations", total, "--quiet")
    assert proc.returncode == 0, proc.stderr
    ref = tmp_path / "reference"
    proc = master(*TINY, "--generations", total, "--out", str(ref))
    assert proc.returncode == 0, proc.stderr
    assert_same_run(ref, run)


@pytest.mark.parametrize(
    "signals",
    [(signal.SIGUSR1,), (signal.SIGTERM,), (signal.SIGUSR1, signal.SIGTERM, signal.SIGUSR1)],
    ids=["usr1", "term", "three_signals"],
)
def test_signal_checkpoints_and_exits_99(tmp_path, signals):
    run = tmp_path / "run"
    proc = start_master(*TINY, "--generations", ENDLESS, "--out", str(run), log=tmp_path / "log")
    try:
        wait_for(lambda: len(checkpoints(run)) >= 2, 120, "two checkpoints")
        code = stop_with(proc, *signals)
    finally:
        proc.kill()
    log = (tmp_path / "log").read_text()
    assert code == stopping.EXIT_REQUEUE == 99, log
    assert f"stopped by {signals[0].name}" in log and "exit 99" in log
    assert not list((run / "checkpoints").glob(".*tmp*"))
    resume_and_compare(tmp_path, run)


@pytest.mark.mpi
def test_signal_to_the_mpi_launcher_stops_every_rank(tmp_path):
    if not MPIEXEC.exists():
        pytest.fail(f"{MPIEXEC} missing: make install puts MPICH's mpiexec in the venv")
    run = tmp_path / "run"
    proc = start_master(
        *TINY, "--generations", ENDLESS, "--out", str(run), log=tmp_path / "log", mpi=3
    )
    try:
        wait_for(lambda: len(checkpoints(run)) >= 2, 120, "two checkpoints")
        code = stop_with(proc, signal.SIGUSR1)  # proc is mpiexec: it forwards to the ranks
    finally:
        proc.kill()
    assert code == 99, (tmp_path / "log").read_text()
    resume_and_compare(tmp_path, run)


def test_sigkill_during_a_checkpoint_write_leaves_the_previous_one(tmp_path):
    run = tmp_path / "run"
    proc = master(
        *TINY,
        "--generations",
        "6",
        "--out",
        str(run),
        env={"WANN_TEST_KILL_DURING_CHECKPOINT": "3"},
    )
    assert proc.returncode == -signal.SIGKILL
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names[0].startswith(".gen_000003.h5.tmp")  # the half-written file
    assert [p.name for p in checkpoints(run)] == [f"gen_{i:06d}.h5" for i in range(3)]
    assert len(stats(run)) == 4  # generation 3 was reported before its checkpoint died
    proc = master("--resume", str(run), "--generations", "6", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "gen_000002.h5" in proc.stderr
    assert not list((run / "checkpoints").glob(".*tmp*"))
    ref = tmp_path / "reference"
    assert master(*TINY, "--generations", "6", "--out", str(ref)).returncode == 0
    assert_same_run(ref, run)


def test_handler_only_records(monkeypatch):
    """In-process: after install(), SIGUSR1 no longer kills; requested() turns true."""
    saved = {s: signal.getsignal(s) for s in stopping.SIGNALS}
    try:
        stopping.reset()
        stopping.install()
        assert not stopping.requested()
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stopping.requested() and stopping.signal_name() == "SIGUSR1"
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
        stopping.reset()
