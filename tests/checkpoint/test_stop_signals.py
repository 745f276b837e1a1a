"""SIGTERM / SIGUSR1: checkpoint at the next safe point and exit 99; SIGKILL while writing a
checkpoint leaves the previous one usable. Each stopped run is then resumed and compared with
an uninterrupted run of the same length, bit for bit."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from ckpt_helpers import TINY, checkpoints, killed_master, master, start_master, stop_with
from harness import assert_same_run, stats, stop, wait_for

from src.search import runlock, stopping

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
        stop(proc)
    log = (tmp_path / "log").read_text()
    assert code == stopping.EXIT_REQUEUE == 99, log
    assert f"stopped by {signals[0].name}" in log and "exit 99" in log
    assert not list((run / "checkpoints").glob(".*tmp*"))
    resume_and_compare(tmp_path, run)


@pytest.mark.mpi
def test_signal_to_the_mpi_launcher_stops_every_rank(tmp_path):
    run = tmp_path / "run"
    proc = start_master(
        *TINY, "--generations", ENDLESS, "--out", str(run), log=tmp_path / "log", mpi=3
    )
    try:
        wait_for(lambda: len(checkpoints(run)) >= 2, 120, "two checkpoints")
        code = stop_with(proc, signal.SIGUSR1)  # proc is mpiexec: it forwards to the ranks
    finally:
        stop(proc)
    assert code == 99, (tmp_path / "log").read_text()
    resume_and_compare(tmp_path, run)


def test_sigkill_during_a_checkpoint_write_leaves_the_previous_one(tmp_path):
    run = tmp_path / "run"
    proc = killed_master(3, *TINY, "--generations", "6", "--out", str(run))
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names[0].startswith(".gen_000003.h5.tmp")  # the half-written file
    # keep_checkpoints - 1 older files are kept while the new one is written
    assert [p.name for p in checkpoints(run)] == ["gen_000001.h5", "gen_000002.h5"]
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


def cpu_seconds(pid: int) -> float:
    """The process's CPU seconds so far (user + system, /proc/PID/stat)."""
    fields = runlock._stat_fields(pid)  # fields 3 on: utime and stime are fields 14, 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def caught_signals(pid: int) -> int:
    """The process's caught-signal mask (``SigCgt`` in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no SigCgt for pid {pid}")


@pytest.mark.parametrize("mpi", [0, 3], ids=["serial", "mpiexec"])
def test_ctrl_c_checkpoints_and_exits_130(tmp_path, mpi):
    """Ctrl-C stops like SIGTERM (finish the generation, checkpoint, one line), exit 130;
    no traceback from any rank. Under mpiexec the launcher forwards it to every rank."""
    run = tmp_path / "run"
    log = tmp_path / "log"
    proc = start_master(*TINY, "--generations", ENDLESS, "--out", str(run), log=log, mpi=mpi)
    try:
        wait_for(lambda: len(checkpoints(run)) >= 2, 120, "two checkpoints")
        code = stop_with(proc, signal.SIGINT)
    finally:
        stop(proc)
    text = log.read_text()
    assert code == stopping.EXIT_INTERRUPTED == 130, text
    assert "Traceback" not in text and "Error" not in text, text
    lines = [x for x in text.splitlines() if not x.startswith("[mpiexec@")]
    assert len(lines) == 1 and lines[0].startswith("stopped by SIGINT after generation "), text
    assert "exit 130" in lines[0]
    assert not (run / "run.lock").exists()
    resume_and_compare(tmp_path, run)


def test_second_ctrl_c_stops_at_once(tmp_path):
    """The first Ctrl-C asks for a checkpoint; a second one kills the process at once, in the
    middle of a generation. The previous checkpoint is intact and the resume takes the dead
    process's lock over."""
    run = tmp_path / "run"
    # Generations of several seconds: the second Ctrl-C must land before the one the first
    # asked to finish ends (with 2400 genomes and 3 reps a generation now takes ~0.5 s, and
    # CI once saw that generation end, checkpoint and release its lock between the two
    # signals); 30 reps make it 3-5 s here.
    slow = [*TINY[:3], "2400", *TINY[4:6], "--set", "episode_steps=1000", "--set", "n_reps=30"]
    slow.append("--quiet")
    proc = start_master(*slow, "--generations", ENDLESS, "--out", str(run), log=tmp_path / "log")
    try:
        wait_for(lambda: len(checkpoints(run)) >= 1, 300, "a checkpoint")
        # Serially a generation's checkpoint is written just before the loop asks whether to
        # stop: a first Ctrl-C sent the moment it appears could stop *that* generation, whose
        # end (lock released) then raced the second Ctrl-C (seen in CI). So the first goes out
        # once the process has done 0.3 CPU-s more: the next generation (3-5 s) is under way.
        after = cpu_seconds(proc.pid) + 0.3
        wait_for(lambda: cpu_seconds(proc.pid) >= after, 60, "the next generation under way")
        sigint = 1 << (signal.SIGINT - 1)
        assert caught_signals(proc.pid) & sigint
        proc.send_signal(signal.SIGINT)
        wait_for(lambda: not caught_signals(proc.pid) & sigint, 60, "the first Ctrl-C handled")
        code = stop_with(proc, signal.SIGINT, timeout=30)
    finally:
        stop(proc)
    assert code == -signal.SIGINT, (tmp_path / "log").read_text()
    assert (run / "run.lock").exists(), "killed after its generation ended, not in the middle"
    last = len(checkpoints(run)) and checkpoints(run)[-1]
    done = int(last.name[4:10])
    resumed = master("--resume", str(run), "--generations", str(done + 2), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert "took over the stale lock" in resumed.stderr and "its process is gone" in resumed.stderr
    assert len(stats(run)) == done + 2


# ----- a signal to a worker rank during start-up or shutdown (issue 11) ---------------------

SIGUSR1_BIT = 1 << (signal.SIGUSR1 - 1)


def rank_pids(run: Path) -> dict[int, int]:
    """rank -> pid of the ``src.master`` processes (started by mpiexec) writing ``run``."""
    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmdline = (d / "cmdline").read_bytes().split(b"\0")
            environ = (d / "environ").read_bytes().split(b"\0")
        except OSError:  # gone, or not ours
            continue
        if b"src.master" not in cmdline or str(run).encode() not in cmdline:
            continue
        rank = [e for e in environ if e.startswith(b"PMI_RANK=")]
        if rank:
            found[int(rank[0].split(b"=")[1])] = int(d.name)
    return found


def mapped(pid: int, name: str) -> bool:
    """Whether a shared library whose path contains ``name`` is loaded in process ``pid``."""
    try:
        return name in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def caught_or_gone(pid: int) -> int:
    try:
        return caught_signals(pid)
    except (OSError, AssertionError):
        return -1  # gone: let the caller's assertion say so


@pytest.mark.mpi
def test_signal_to_a_worker_during_start_up_is_harmless(tmp_path):
    """A SIGUSR1 that reaches a worker rank while it imports (before numpy, h5py, numba and
    MPI are loaded), and a SIGTERM while it starts MPI and warms up its kernels, used to kill
    the rank and end the job as "Segmentation fault" (exit 11). The handler is installed
    before the slow imports; a worker only records a signal, so the run completes: exit 0."""
    run, log = tmp_path / "run", tmp_path / "log"
    args = [a for a in TINY if a != "--quiet"]
    proc = start_master(*args, "--generations", "3", "--out", str(run), log=log, mpi=3)
    try:
        pids = wait_for(lambda: len(p := rank_pids(run)) == 3 and p, 120, "three ranks")
        worker = pids[1]
        # the handler appears before the first slow import: h5py is not loaded yet
        wait_for(lambda: caught_or_gone(worker) & SIGUSR1_BIT, 120, "the worker's handler")
        assert not mapped(worker, "h5py"), "the handler came after the slow imports"
        os.kill(worker, signal.SIGUSR1)
        wait_for(lambda: mapped(worker, "numba") or proc.poll() is not None, 120, "numba")
        os.kill(worker, signal.SIGTERM)
        during_start_up = "kernels ready" not in log.read_text()
        code = proc.wait(timeout=300)
    finally:
        stop(proc)
    text = log.read_text()
    assert code == 0, text
    assert during_start_up, text  # the root had not started generation 0 yet
    assert len(stats(run)) == 3 and "done: 3 generations" in text
    assert "stopped by" not in text and "BAD TERMINATION" not in text


@pytest.mark.mpi
def test_signals_while_a_finished_run_shuts_down_still_exit_0(tmp_path):
    """SIGUSR1 and SIGTERM sent to every rank, again and again, from the moment the last
    generation is reported until the job has exited. Python's finalization resets handlers to
    the default action, so a finished rank died of SIGUSR1 and mpiexec exited 10 or 11; a
    rank that has its exit code now ignores them: the finished run exits 0."""
    run, log = tmp_path / "run", tmp_path / "log"
    proc = start_master(*TINY, "--generations", "3", "--out", str(run), log=log, mpi=3)
    try:
        pids = wait_for(lambda: len(p := rank_pids(run)) == 3 and p, 120, "three ranks")
        stats_csv = run / "stats.csv"
        wait_for(
            lambda: stats_csv.exists() and len(stats_csv.read_text().splitlines()) == 4,
            300,
            "the last generation's row",
        )
        sent, alive = 0, dict(pids)
        while alive:  # until every rank has exited
            for rank, pid in list(alive.items()):
                try:
                    os.kill(pid, (signal.SIGUSR1, signal.SIGTERM)[sent % 2])
                    sent += 1
                except ProcessLookupError:
                    del alive[rank]
            time.sleep(0.002)  # pacing the signals, not synchronisation
        code = proc.wait(timeout=120)
    finally:
        stop(proc)
    text = log.read_text()
    assert sent >= 6, sent  # every rank got both signals at least
    assert code == 0, text
    assert len(stats(run)) == 3 and checkpoints(run)[-1].name == "gen_000002.h5"
    assert "BAD TERMINATION" not in text and "Traceback" not in text
