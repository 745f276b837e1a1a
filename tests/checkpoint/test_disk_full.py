"""A full disk: a small tmpfs mount is a real one (ENOSPC from the kernel, no mocks).

Mounting needs root; CI runs as root. Elsewhere these tests are skipped, saying so.
"""

from __future__ import annotations

import errno
import os
import subprocess

import pytest
from ckpt_helpers import TINY, checkpoints, master
from harness import assert_same_run, stats

from src import config as cfg
from src.search import checkpoint, files, reporters

pytestmark = pytest.mark.checkpoint


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs at ``tmp_path/disk``; ``resize(size)`` grows it (space freed)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs as a full disk (CI runs as root)")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], check=True)

    def resize(size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(disk)], check=True)

    try:
        yield disk, resize
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(folder) -> None:
    """Fill the filesystem of ``folder`` to the last byte."""
    with open(folder / "ballast", "wb", buffering=0) as fh:
        for chunk in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    fh.write(bytes(chunk))
            except OSError as exc:
                assert exc.errno == errno.ENOSPC


def leftovers(run):
    return sorted(p.name for p in run.rglob("*") if ".tmp" in p.name)


@pytest.mark.parametrize("mpi", [0, 3], ids=["serial", "mpiexec"])
def test_disk_full_is_one_line_exit_74_then_resume_goes_on(tmp_path, small_disk, mpi):
    disk, resize = small_disk
    run = disk / "run"
    many = ["--set", "keep_checkpoints=100000"]  # every checkpoint kept: the disk fills up
    proc = master(*TINY, *many, "--generations", "100000", "--out", str(run), mpi=mpi)
    assert proc.returncode == files.EXIT_WRITE_FAILED == 74, proc.stderr[-3000:]
    line = proc.stderr
    assert line.count("\n") == 1 and line.startswith(f"error: cannot write to run folder {run}: ")
    assert "No space left on device (ENOSPC) while writing " in line
    assert "Traceback" not in proc.stdout + proc.stderr and "HDF5" not in proc.stderr
    assert leftovers(run) == []
    assert not (run / "run.lock").exists()
    newest = checkpoints(run)[-1]
    assert f"the last checkpoint, {newest.name}, is intact" in line
    assert checkpoint.load(newest).generation == int(newest.name[4:10])  # intact
    resize("64m")  # space freed
    total = str(len(checkpoints(run)) + 2)
    proc = master("--resume", str(run), "--generations", total, "--quiet", mpi=mpi)
    assert proc.returncode == 0, proc.stderr
    ref = tmp_path / "ref"
    assert master(*TINY, "--generations", total, "--out", str(ref)).returncode == 0
    assert_same_run(ref, run)


def test_a_lower_keep_checkpoints_frees_space_for_the_resume(tmp_path, small_disk):
    disk, _ = small_disk
    run = disk / "run"
    proc = master(
        *TINY, "--set", "keep_checkpoints=100000", "--generations", "100000", "--out", str(run)
    )
    assert proc.returncode == 74, proc.stderr
    done = len(checkpoints(run))
    total = str(done + 3)
    proc = master("--resume", str(run), "--generations", total, "--set", "keep_checkpoints=2")
    assert proc.returncode == 0, proc.stderr
    assert len(stats(run)) == done + 3 and len(checkpoints(run)) == 2


def test_every_writer_fails_cleanly_on_a_full_disk(tmp_path, small_disk):
    """checkpoint, stats.csv, best_genome.json, config.toml: WriteFailed naming the file,
    no temporary file, the previous version intact."""
    from test_checkpoint_file import evolved_state

    disk, _ = small_disk
    state = evolved_state(tmp_path, generations=2)
    run = disk / "run"
    run.mkdir()
    first = checkpoint.save(state, run, "r")
    before = first.read_bytes()
    (run / "best_genome.json").write_text("{}\n")
    fill(disk)
    state.generation += 1
    writers = {
        "gen_000003.h5": lambda: checkpoint.save(state, run, "r"),
        "stats.csv": lambda: reporters.StatsFiles(run).start(state),  # stats.csv first
        "best_genome.json": lambda: reporters.StatsFiles(run).write_best(state),
        "config.toml": lambda: cfg.write_config(state.config, run / "config.toml", "r"),
    }
    for name, write in writers.items():
        with pytest.raises(files.WriteFailed) as info:
            write()
        assert info.value.errno == errno.ENOSPC
        assert info.value.filename == str(run / name) or name.endswith(".h5"), info.value
    row = dict(state.history[-1])
    with pytest.raises(files.WriteFailed) as info:
        reporters.StatsFiles(run).generation(state, row)
    assert info.value.filename == str(run / "stats.csv")
    assert leftovers(run) == []
    assert first.read_bytes() == before and (run / "best_genome.json").read_text() == "{}\n"
    assert [p.name for p in checkpoints(run)] == [first.name]
