"""``replicated = true``: every rank runs the search loop (src.parallel.replicated), and with
``resident = true`` each rank keeps only its own genomes (src.search.resident). Either run
must be the serial one bit for bit at any rank count, stop and resume like any run (also at
another rank count, and into the root's dynamic schedule), and end cleanly when rank 0
meets an error it reports itself."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from harness import WORKERS_MNIST, assert_same_run, launch, signal_after_checkpoints, stats

from src.search import checkpoint

pytestmark = pytest.mark.mpi

HERE = Path(__file__).parent

#: swing-up with two starts of 2 generations and the champion re-scored (its default),
#: children bred by the ranks that evaluate them
SWINGUP = [
    "--task",
    "swingup",
    "--pop-size",
    "24",
    "--seed",
    "7",
    "--set",
    "episode_steps=200",
    "--set",
    "n_reps=2",
    "--set",
    "breeding='workers'",
    "--set",
    "starts=2",
    "--set",
    "start_generations=2",
    "--quiet",
]
ON = ["--set", "replicated=true"]
#: each loop: its switches, and its swing-up
LOOPS = {
    "replicated": (ON, SWINGUP),
    "resident": ([*ON, "--set", "resident=true"], SWINGUP),
}
SHOWN = {"replicated": "3 ranks (replicated loop)", "resident": "3 ranks (resident loop)"}


@pytest.mark.parametrize("loop", LOOPS)
def test_replicated_loop_at_two_three_and_five_ranks_equals_serial(tmp_path, loop):
    on, swingup = LOOPS[loop]
    args = [*swingup, "--generations", "7"]
    serial = launch("-m", "src.master", *args, "--out", str(tmp_path / "serial"))
    assert serial.returncode == 0, serial.stderr
    # 2, 3 and 5 ranks split each generation genome by genome (pop 24 >= 4 a rank); at 7,
    # as work items cut for the dynamic schedule (src.parallel.replicated.PLAN_PER_RANK)
    for n in (2, 3, 5, 7):
        out = tmp_path / f"n{n}"
        proc = launch("-m", "src.master", *args, *on, "--out", str(out), mpi=n)
        assert proc.returncode == 0, proc.stderr
        assert_same_run(tmp_path / "serial", out)
    loud = [a for a in args if a != "--quiet"]  # the progress line says how it ran
    shown = launch("-m", "src.master", *loud, *on, "--out", str(tmp_path / "shown"), mpi=3)
    assert shown.returncode == 0, shown.stderr
    assert SHOWN[loop] in shown.stdout


@pytest.mark.parametrize("loop", LOOPS)
def test_replicated_mnist_resumed_at_another_rank_count_equals_the_dynamic_schedule(tmp_path, loop):
    out, reference = tmp_path / "resumed", tmp_path / "dynamic"
    on = LOOPS[loop][0]
    first = launch(
        "-m", "src.master", *WORKERS_MNIST, *on, "--generations", "2", "--out", str(out), mpi=3
    )
    assert first.returncode == 0, first.stderr
    resumed = launch("-m", "src.master", "--resume", str(out), "--generations", "4", mpi=4)
    assert resumed.returncode == 0, resumed.stderr
    # the same config without replicated = true: the root hands out items dynamically
    whole = launch(
        "-m", "src.master", *WORKERS_MNIST, "--generations", "4", "--out", str(reference), mpi=3
    )
    assert whole.returncode == 0, whole.stderr
    assert_same_run(out, reference)
    assert int(stats(out)[-1]["generation"]) == 3


@pytest.mark.parametrize("loop", LOOPS)
def test_replicated_loop_stops_on_sigusr1_with_a_checkpoint_then_resumes(tmp_path, loop):
    out = tmp_path / "run"
    on, swingup = LOOPS[loop]
    args = [*swingup, *on, "--generations", "100000", "--out", str(out)]
    code, err = signal_after_checkpoints(signal.SIGUSR1, out, "-m", "src.master", *args, mpi=3)
    assert code == 99, err
    assert "stopped by SIGUSR1" in err
    last = checkpoint.load_latest(out)
    stopped = int(stats(out)[-1]["generation"])
    assert last.state.generation == stopped
    # the stopped run goes on to two generations more and equals a straight serial run
    total = str(stopped + 3)
    resumed = launch("-m", "src.master", "--resume", str(out), "--generations", total, mpi=2)
    assert resumed.returncode == 0, resumed.stderr
    straight = tmp_path / "straight"
    whole = launch("-m", "src.master", *swingup, "--generations", total, "--out", str(straight))
    assert whole.returncode == 0, whole.stderr
    assert_same_run(out, straight)


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("what", ["stats", "checkpoint"])
def test_a_root_that_cannot_write_ends_every_rank_with_its_one_line_error(tmp_path, what, loop):
    """The root leaves the loop on a full disk (exit 74, one line): the other ranks, waiting
    for it in their next exchange, are told and stop; nothing hangs. stats.csv fails between
    generations (the others wait in the stop agreement); a checkpoint fails in the
    background and surfaces at the next map (the others wait in its exchange of results)."""
    out = tmp_path / "run"
    start = time.monotonic()
    proc = launch(
        str(HERE / "disk_full_master.py"),
        what,
        "3",
        *LOOPS[loop][1],
        *LOOPS[loop][0],
        "--generations",
        "50",
        "--out",
        str(out),
        mpi=3,
        timeout=90,
    )
    assert proc.returncode == 74, proc.stderr
    assert "No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - start < 60
    assert checkpoint.load_latest(out).state.generation == 2  # the one before the failure
