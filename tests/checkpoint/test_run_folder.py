"""One run per folder: the run lock (second launches, stale locks, heartbeat, requeue on
another node) and the run identity (run ids, foreign and misnamed checkpoints). Real
processes and real files throughout; waits are on conditions with timeouts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time

import h5py
import pytest
from ckpt_helpers import TINY, checkpoints, master, start_master, stop_with
from harness import assert_same_run, start, stats, stop, wait_for

from src.search import checkpoint, runlock

pytestmark = pytest.mark.checkpoint

ENDLESS = "1000000"


def straight(tmp_path, generations, name="straight", *extra):
    out = tmp_path / name
    proc = master(*TINY, *extra, "--generations", str(generations), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def snapshot(run):
    return {p.relative_to(run): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def one_error_line(proc) -> str:
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


def running(tmp_path, name="run", env=None):
    """An endless run in the background, once it has written two checkpoints."""
    run = tmp_path / name
    log = tmp_path / f"{name}.log"
    proc = start_master(*TINY, "--generations", ENDLESS, "--out", str(run), log=log, env=env)
    try:
        wait_for(lambda: len(checkpoints(run)) >= 2 or proc.poll() is not None, 120, "checkpoints")
    except BaseException:
        stop(proc)
        raise
    assert proc.poll() is None, log.read_text()
    return proc, run, log


def fake_lock(run, host: str, pid: int = 4242, age: float = 0.0, **more) -> None:
    """A lock file as another holder would have written it, its heartbeat ``age`` s old."""
    info = {"host": host, "pid": pid, "since": "2030-01-01T00:00:00+00:00", **more}
    path = run / runlock.LOCK_NAME
    tmp = run / "fake.lock.tmp"  # written aside and moved in: a running run never reads it
    tmp.write_text(json.dumps(info) + "\n")  # half-written (that would be "unreadable")
    now = time.time()
    os.utime(tmp, (now - age, now - age))
    os.replace(tmp, path)


def this_machine() -> dict:
    """What a lock written on this machine says about where it was written."""
    return {k: runlock._identity()[k] for k in ("host", "boot_id", "pidns")}


# ----- the lock -----------------------------------------------------------------------------


def test_second_launch_and_resume_of_a_running_folder_exit_2_naming_the_holder(tmp_path):
    proc, run, log = running(tmp_path)
    try:
        holder = f"host {socket.gethostname()}, pid {proc.pid}, since "
        started = time.monotonic()
        second = master(*TINY, "--generations", "40", "--seed", "6", "--out", str(run))
        again = master("--resume", str(run), "--generations", "40")
        assert time.monotonic() - started < 60  # at once: no waiting for the holder
        for p in (second, again):
            assert p.returncode == 2
            assert "is in use by another run: " + holder in one_error_line(p)
        assert proc.poll() is None  # the run goes on undisturbed
        code = stop_with(proc, signal.SIGTERM)
    finally:
        stop(proc)
    assert code == 99, log.read_text()
    assert not (run / runlock.LOCK_NAME).exists()  # released on exit 99
    rows = stats(run)
    assert [int(r["generation"]) for r in rows] == list(range(len(rows)))  # one run's rows
    proc = master("--resume", str(run), "--generations", str(len(rows) + 1), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert_same_run(straight(tmp_path, len(rows) + 1), run)


def test_two_launches_racing_for_one_new_folder_one_wins(tmp_path):
    run = tmp_path / "run"
    args = [*TINY, "--generations", "30", "--out", str(run)]
    procs = [start("-m", "src.master", *args, "--seed", str(seed)) for seed in (5, 6)]
    try:
        results = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            stop(p)
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], results
    loser = results[[p.returncode for p in procs].index(2)][1]
    assert "is in use by another run" in loser or "already holds a run" in loser
    assert [int(r["generation"]) for r in stats(run)] == list(range(30))
    winner_seed = (5, 6)[[p.returncode for p in procs].index(0)]
    assert f"seed = {winner_seed}\n" in (run / "config.toml").read_text()


def test_lock_released_after_done_and_after_a_refused_resume(tmp_path):
    run = straight(tmp_path, 2)
    assert not (run / runlock.LOCK_NAME).exists()
    before = snapshot(run)
    proc = master("--resume", str(run), "--set", "n_reps=2")
    assert proc.returncode == 2 and "refusing config changes" in one_error_line(proc)
    assert snapshot(run) == before  # no lock left, nothing else changed


def test_sigkilled_holder_on_this_host_is_taken_over_by_resume(tmp_path):
    proc, run, log = running(tmp_path)
    proc.kill()
    proc.wait(timeout=60)
    assert (run / runlock.LOCK_NAME).exists()  # SIGKILL: no way to release it
    total = str(len(stats(run)) + 2)
    resumed = master("--resume", str(run), "--generations", total, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert f"took over the stale lock of host {socket.gethostname()}, pid {proc.pid}" in (
        resumed.stderr
    )
    assert "its process is gone" in resumed.stderr
    assert not (run / runlock.LOCK_NAME).exists()
    assert_same_run(straight(tmp_path, int(total)), run)


def test_sigkilled_holder_not_yet_reaped_is_taken_over_by_resume(tmp_path):
    """A SIGKILLed holder that nobody has reaped yet (a zombie: an ``mpiexec`` job's rank 0
    handed to a PID 1 that reaps it seconds later, or never) holds nothing: ``kill(pid, 0)``
    and its start tick still match, so it was judged alive and the resume refused."""
    proc, run, log = running(tmp_path)
    try:
        proc.kill()  # not waited for: this test is its parent, so it stays a zombie
        wait_for(lambda: runlock._pid_ended(proc.pid), 60, "the holder to become a zombie")
        assert runlock._pid_start(proc.pid)  # its stat is still there, start tick included
        total = str(len(stats(run)) + 2)
        resumed = master("--resume", str(run), "--generations", total, "--quiet")
        assert resumed.returncode == 0, resumed.stderr
        assert "its process is gone" in resumed.stderr
    finally:
        stop(proc)
    assert_same_run(straight(tmp_path, int(total)), run)


def test_lock_of_a_reused_pid_is_stale(tmp_path):
    """Same host, a live pid that is another process (its start tick differs)."""
    run = straight(tmp_path, 2)
    fake_lock(run, pid=os.getpid(), pid_start="1", **this_machine())
    proc = master("--resume", str(run), "--generations", "3", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "its process is gone" in proc.stderr


def test_lock_of_a_live_process_on_this_host_is_respected(tmp_path):
    run = straight(tmp_path, 2)
    fake_lock(run, pid=os.getpid(), pid_start=runlock._pid_start(os.getpid()), **this_machine())
    proc = master("--resume", str(run), "--generations", "3")
    assert proc.returncode == 2
    assert f"pid {os.getpid()}" in one_error_line(proc)


def test_lock_from_before_a_reboot_is_stale(tmp_path):
    run = straight(tmp_path, 2)
    fake_lock(run, host=socket.gethostname(), boot_id="another-boot", pidns="x", age=0.0)
    proc = master("--resume", str(run), "--generations", "3", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "the host has rebooted since" in proc.stderr


def test_live_holder_on_another_host_is_refused_at_once(tmp_path):
    run = straight(tmp_path, 2)
    fake_lock(run, "node-elsewhere", age=1.0)
    before = snapshot(run)
    proc = master("--resume", str(run), "--generations", "3")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "in use by another run: host node-elsewhere, pid 4242, since 2030-01-01" in line
    assert snapshot(run) == before


def test_requeue_on_another_node_after_sigkill_takes_the_stale_lock_over(tmp_path):
    """The holder's node died (or its job was SIGKILLed): no heartbeat for longer than the
    stale time, measured on the filesystem's clock."""
    run = straight(tmp_path, 2)
    fake_lock(run, "node-that-died", age=3600)
    proc = master("--resume", str(run), "--generations", "4", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "took over the stale lock of host node-that-died, pid 4242" in proc.stderr
    assert "no heartbeat for 3600 s" in proc.stderr or "no heartbeat for 3601 s" in proc.stderr
    assert_same_run(straight(tmp_path, 4, "ref"), run)


@pytest.mark.parametrize("alive", [False, True], ids=["dead", "alive"])
def test_late_heartbeat_from_another_host_is_waited_for(tmp_path, alive):
    """A heartbeat older than two intervals but not yet stale: wait. A holder that beats
    again is alive (exit 2); one that does not becomes stale and is taken over."""
    run = straight(tmp_path, 2)
    fake_lock(run, "node-slow", age=2.0)
    env = {"WANN_LOCK_HEARTBEAT_S": "0.5", "WANN_LOCK_STALE_S": "6"}
    log = tmp_path / "log"
    proc = start_master("--resume", str(run), "--generations", "3", "--quiet", log=log, env=env)
    try:
        wait_for(lambda: "waiting up to" in log.read_text(), 60, "the waiting line")
        assert "of host node-slow, pid 4242" in log.read_text()
        if alive:
            os.utime(run / runlock.LOCK_NAME)  # the holder beats
        code = proc.wait(timeout=60)
    finally:
        stop(proc)
    text = log.read_text()
    if alive:
        assert code == 2, text
        assert "error: run folder" in text and "(its heartbeat is alive)" in text
        assert json.loads((run / runlock.LOCK_NAME).read_text())["host"] == "node-slow"
    else:
        assert code == 0, text
        assert "took over the stale lock of host node-slow" in text


def test_an_unreadable_lock_is_judged_by_its_age(tmp_path):
    """E.g. a holder killed between creating the lock and writing its line."""
    run = straight(tmp_path, 2)
    path = run / runlock.LOCK_NAME
    path.write_bytes(b"")
    proc = master("--resume", str(run), "--generations", "3")
    assert proc.returncode == 2
    assert "in use by another run: an unknown process (the lock file is unreadable)" in (
        one_error_line(proc)
    )
    old = time.time() - 3600
    os.utime(path, (old, old))
    proc = master("--resume", str(run), "--generations", "3", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "took over the stale lock of an unknown process" in proc.stderr


def test_heartbeat_refreshes_the_lock_while_the_run_lives(tmp_path):
    proc, run, log = running(tmp_path, env={"WANN_LOCK_HEARTBEAT_S": "0.2"})
    try:
        path = run / runlock.LOCK_NAME
        info = json.loads(path.read_text())
        assert info["pid"] == proc.pid and info["host"] == socket.gethostname()
        assert info["run_id"] and info["run_id"] in (run / "config.toml").read_text()
        old = time.time() - 3600
        os.utime(path, (old, old))
        wait_for(lambda: path.stat().st_mtime > old + 3000, 60, "a heartbeat")
        assert stop_with(proc, signal.SIGUSR1) == 99, log.read_text()
    finally:
        stop(proc)


def test_a_run_that_lost_its_lock_stops_without_writing(tmp_path):
    """Another process took the lock over (e.g. this one was suspended past the stale time):
    the run notices before it writes its next generation and exits 2."""
    proc, run, log = running(tmp_path)
    try:
        path = run / runlock.LOCK_NAME
        os.link(path, run / "old.lock")  # the old lock kept aside, as before
        fake_lock(run, "node-new-owner")  # replaces it in one step: never missing or empty
        code = proc.wait(timeout=120)
    finally:
        stop(proc)
    text = log.read_text()
    assert code == 2, text
    assert "this run lost its lock" in text and "host node-new-owner" in text
    assert json.loads(path.read_text())["host"] == "node-new-owner"  # not deleted


# ----- run identity -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "leftover",
    ["config.toml", "checkpoints", "best_genome.json", "stats.csv.tmp", "run.lock", "history"],
)
def test_new_run_refuses_a_folder_holding_run_files(tmp_path, leftover):
    """E.g. a run whose stats.csv was deleted: its checkpoints must not mix with a new run's."""
    run = straight(tmp_path, 2)
    for p in list(run.iterdir()):
        if p.name != leftover:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    if not (run / leftover).exists():
        (run / leftover).write_text("x\n")
    before = snapshot(run)
    proc = master(*TINY, "--generations", "2", "--out", str(run))
    assert proc.returncode == 2
    line = one_error_line(proc)
    if leftover == "run.lock":
        assert "is in use by another run" in line
    else:
        assert f"already holds a run ({leftover}" in line and f"use --resume {run}" in line
    assert snapshot(run) == before and sorted(p.name for p in run.iterdir()) == [leftover]


def test_run_id_in_config_and_every_checkpoint_and_config_reusable(tmp_path):
    run = straight(tmp_path, 3)
    text = (run / "config.toml").read_text()
    (line,) = [x for x in text.splitlines() if x.startswith("run_id = ")]
    run_id = line.split('"')[1]
    for path in checkpoints(run):
        with h5py.File(path, "r") as f:
            assert f.attrs["run_id"] == run_id
    # config.toml is a config file: --config ignores run_id; the new run gets its own id
    other = tmp_path / "other"
    proc = master("--task", "swingup", "--config", str(run / "config.toml"), "--out", str(other))
    assert proc.returncode == 0, proc.stderr
    assert stats(other) == stats(run)
    other_text = (other / "config.toml").read_text()
    assert "run_id = " in other_text and run_id not in other_text
    assert other_text.split("\n", 2)[2] == text.split("\n", 2)[2]  # same config lines


def test_checkpoint_of_another_run_is_skipped_never_pruned_or_overwritten(tmp_path):
    """The issue's case: another run's checkpoint copied in under a newer name, and one at a
    name this run will write later."""
    ref = straight(tmp_path, 6)
    other = straight(tmp_path, 3, "other", "--set", "n_reps=1")
    run = straight(tmp_path, 3, "run")
    newest = run / "checkpoints" / "gen_000010.h5"
    ahead = run / "checkpoints" / "gen_000004.h5"
    shutil.copy(checkpoints(other)[-1], newest)
    shutil.copy(checkpoints(other)[-1], ahead)
    content = newest.read_bytes()
    proc = master("--resume", str(run), "--generations", "6", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert f"warning: skipped checkpoint {newest}: a checkpoint of another run" in proc.stderr
    assert f"warning: skipped checkpoint {ahead}: a checkpoint of another run" in proc.stderr
    assert "resuming from gen_000002.h5" in proc.stderr
    for path in (newest, ahead):
        assert path.with_name(path.name + ".foreign").read_bytes() == content
    assert_same_run(ref, run)


def test_an_older_checkpoint_under_a_newer_name_is_skipped(tmp_path):
    ref = straight(tmp_path, 5)
    run = straight(tmp_path, 3, "run")
    misnamed = run / "checkpoints" / "gen_000009.h5"
    shutil.copy(checkpoints(run)[0], misnamed)
    proc = master("--resume", str(run), "--generations", "5", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert f"skipped checkpoint {misnamed}: holds generation 0, not the 9 its name says" in (
        proc.stderr
    )
    assert (run / "checkpoints" / "gen_000009.h5.misnamed").exists()
    assert_same_run(ref, run)


def test_pruning_keeps_other_runs_files(tmp_path):
    from test_checkpoint_file import evolved_state

    state = evolved_state(tmp_path, generations=1, keep_checkpoints=2)
    run = tmp_path / "run"
    state.generation = 1
    foreign = checkpoint.save(state, run, "run-b")
    for g in range(2, 6):
        state.generation = g
        checkpoint.save(state, run, "run-a")
    names = [p.name for p in checkpoints(run)]
    assert names == [foreign.name, "gen_000004.h5", "gen_000005.h5"]
    assert checkpoint.peek(foreign) == ("run-b", 1)


def test_resume_without_a_run_id_is_refused(tmp_path):
    run = straight(tmp_path, 2)
    config = run / "config.toml"
    config.write_text("\n".join(x for x in config.read_text().splitlines() if "run_id" not in x))
    before = snapshot(run)
    proc = master("--resume", str(run), "--generations", "3")
    assert proc.returncode == 2
    assert "has no valid run_id line" in one_error_line(proc)
    assert snapshot(run) == before
    config.unlink()
    proc = master("--resume", str(run), "--generations", "3")
    assert proc.returncode == 2 and "config.toml is missing" in one_error_line(proc)
