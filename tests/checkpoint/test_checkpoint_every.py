"""``checkpoint_every = k``: a checkpoint after every k-th generation, the last one and a
stop; a run SIGKILLed at any moment and resumed ends as one never stopped."""

from __future__ import annotations

import random
import signal
import time

import pytest
from ckpt_helpers import TINY, checkpoints, master, start_master, stop_with
from harness import assert_same_run, stats, stop, wait_for

pytestmark = pytest.mark.checkpoint

GENERATIONS = 9


def rows(run) -> int:
    return len(stats(run)) if (run / "stats.csv").exists() else 0


def written_since(run, t0: int) -> bool:
    """Whether stats.csv was written after ``t0`` (ns): a resume first rewrites it."""
    try:
        return (run / "stats.csv").stat().st_mtime_ns > t0
    except FileNotFoundError:
        return False


def history_files(run) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run / "history").glob("*.json"))}


def test_killed_at_random_moments_and_resumed_equals_a_run_never_stopped(tmp_path):
    """Each launch is SIGKILLed once stats.csv has a row more than a random count: between a
    generation's row and its checkpoint, while best_genome.json or a checkpoint is written,
    or with rows of generations after the newest checkpoint, which the resume recomputes."""
    # generations of ~0.1 s (longer episodes than TINY's), polled every 2 ms: a launch is
    # killed while it runs, not found finished (a quiet machine ran TINY's between two polls)
    config = [*TINY, "--generations", str(GENERATIONS), "--set", "episode_steps=600"]
    ref = tmp_path / "ref"  # a checkpoint every generation, never stopped
    proc = master(*config, "--out", str(ref))
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "killed"
    first = [*config, "--out", str(run)]
    first += ["--set", "checkpoint_every=3"]
    choose = random.Random(12)
    kills = 0
    for attempt in range(8):
        if kills == 3:
            break
        newest = int(checkpoints(run)[-1].stem[4:]) if checkpoints(run) else -1
        if newest == GENERATIONS - 1:  # a launch finished before its kill: nothing left
            break
        target = choose.randint(newest + 1, GENERATIONS - 1)  # kill once rows > target
        args = first if attempt == 0 else ["--resume", str(run), "--quiet"]
        launched = time.time_ns()
        proc = start_master(*args, log=tmp_path / f"launch{attempt}.log")
        try:
            wait_for(
                lambda p=proc, t=target, t0=launched: (
                    p.poll() is not None or (written_since(run, t0) and rows(run) > t)
                ),
                300,
                "a row",
                interval=0.002,
            )
            kills += proc.poll() is None
        finally:
            stop(proc)  # SIGKILL: no clean-up of any kind
    assert kills >= 2
    proc = master("--resume", str(run), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert_same_run(ref, run)
    assert history_files(run) == history_files(ref)
    # after generations 2, 5 and the last, 8 (keep_checkpoints = 3 keeps all three)
    assert [p.name for p in checkpoints(run)] == [f"gen_{g:06d}.h5" for g in (2, 5, 8)]


def test_a_stop_signal_checkpoints_the_generation_just_finished(tmp_path):
    run = tmp_path / "run"
    proc = start_master(
        *TINY,
        "--generations",
        "500",
        "--out",
        str(run),
        "--set",
        "checkpoint_every=1000",
        log=tmp_path / "log",
    )
    try:
        wait_for(lambda: rows(run) >= 2, 300, "two generations")
        assert stop_with(proc, signal.SIGTERM) == 99
    finally:
        stop(proc)
    last = int(stats(run)[-1]["generation"])
    assert 1 <= last < 499
    assert [p.name for p in checkpoints(run)] == [f"gen_{last:06d}.h5"]
    # the resume changes checkpoint_every (it alters no result) and finishes the run
    proc = master(
        "--resume", str(run), "--generations", str(last + 3), "--set", "checkpoint_every=2"
    )
    assert proc.returncode == 0, proc.stderr
    assert checkpoints(run)[-1].name == f"gen_{last + 2:06d}.h5"
    assert "checkpoint_every = 2" in (run / "config.toml").read_text()


def test_checkpoint_minutes_adds_checkpoints_by_the_clock(tmp_path):
    """``checkpoint_minutes``: also a checkpoint after a generation that ends that long after
    the previous one, whatever ``checkpoint_every``; the run is the same one either way."""
    args = [*TINY, "--generations", "5", "--set", "checkpoint_every=1000"]
    args += ["--set", "keep_checkpoints=10"]
    runs = {}
    for name, minutes in (("clock", "1e-9"), ("hour", "60")):  # after every generation; never
        runs[name] = tmp_path / name
        proc = master(*args, "--set", f"checkpoint_minutes={minutes}", "--out", str(runs[name]))
        assert proc.returncode == 0, proc.stderr
    assert [p.name for p in checkpoints(runs["clock"])] == [f"gen_{g:06d}.h5" for g in range(5)]
    assert [p.name for p in checkpoints(runs["hour"])] == ["gen_000004.h5"]  # the last only
    assert_same_run(runs["clock"], runs["hour"])
    # a resume may change it (it alters no result)
    proc = master("--resume", str(runs["hour"]), "--generations", "6", "--set",
                  "checkpoint_minutes=1e-9", "--quiet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "checkpoint_minutes = 1e-09" in (runs["hour"] / "config.toml").read_text()


@pytest.mark.parametrize("value", ["0", "-3"])
def test_checkpoint_every_below_one_is_a_one_line_error(tmp_path, value):
    out = tmp_path / "run"
    proc = master(*TINY, "--out", str(out), "--set", f"checkpoint_every={value}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: config: checkpoint_every must be >= 1, got {value}"
    ]
    assert not (out / "stats.csv").exists()
