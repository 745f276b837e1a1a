"""``--resume``: bit-identical continuation, config checks, damaged and foreign checkpoints."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess

import h5py
import pytest
from ckpt_helpers import TINY, checkpoints, killed_master, master
from harness import ROOT, assert_same_run, stats

pytestmark = pytest.mark.checkpoint


def straight(tmp_path, generations, name="straight", mpi=0):
    out = tmp_path / name
    proc = master(*TINY, "--generations", str(generations), "--out", str(out), mpi=mpi)
    assert proc.returncode == 0, proc.stderr
    return out


def snapshot(run):
    """Every file of a run folder with its bytes."""
    return {p.relative_to(run): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_four_generations_equal_two_plus_resume_plus_two(tmp_path):
    ref = straight(tmp_path, 4)
    run = straight(tmp_path, 2, "resumed")
    assert [p.name for p in checkpoints(run)] == ["gen_000000.h5", "gen_000001.h5"]
    proc = master("--resume", str(run), "--generations", "4", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stderr and "gen_000001.h5" in proc.stderr
    assert_same_run(ref, run)
    assert checkpoints(run)[-1].name == "gen_000003.h5"


@pytest.mark.mpi
def test_resume_under_mpi_is_bit_identical_to_serial(tmp_path):
    ref = straight(tmp_path, 4)
    mpi_straight = straight(tmp_path, 4, "mpi_straight", mpi=3)
    run = straight(tmp_path, 2, "mpi_resumed", mpi=3)
    proc = master("--resume", str(run), "--generations", "4", "--quiet", mpi=3)
    assert proc.returncode == 0, proc.stderr
    assert_same_run(ref, mpi_straight)
    assert_same_run(ref, run)


def test_resume_drops_rows_written_after_the_checkpoint(tmp_path):
    """A run killed after appending rows beyond its newest checkpoint: no duplicate rows."""
    ref = straight(tmp_path, 5)
    run = straight(tmp_path, 4, "killed")
    for path in checkpoints(run)[-2:]:  # as if generations 2 and 3 had never been saved
        path.unlink()
    assert len(stats(run)) == 4
    proc = master("--resume", str(run), "--generations", "5", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "gen_000001.h5" in proc.stderr
    assert [r["generation"] for r in stats(run)] == ["0", "1", "2", "3", "4"]
    assert_same_run(ref, run)


def test_extending_generations_is_allowed_and_neutral_keys_too(tmp_path):
    ref = straight(tmp_path, 4)
    run = straight(tmp_path, 3, "extended")
    proc = master(
        "--resume", str(run), "--generations", "4", "--set", "keep_checkpoints=5", "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    assert_same_run(ref, run)
    assert "keep_checkpoints = 5" in (run / "config.toml").read_text()


def test_resume_of_a_finished_run_does_nothing_more(tmp_path):
    run = straight(tmp_path, 2)
    before = snapshot(run)
    proc = master("--resume", str(run), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert len(stats(run)) == 2
    assert {k: v for k, v in snapshot(run).items() if k.parts[0] == "checkpoints"} == {
        k: v for k, v in before.items() if k.parts[0] == "checkpoints"
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "n_reps=2"], "refusing config changes that would alter results (n_reps 3 -> 2)"),
        (["--seed", "6"], "(seed 5 -> 6)"),
        (["--pop-size", "30"], "(pop_size 24 -> 30)"),
        (["--task", "biped"], "the run's task is 'swingup'; it cannot change"),
        (["--generations", "1"], "pass --generations N with N > 1"),
        (["--set", "n_reps=zero"], "n_reps must be an integer"),
    ],
)
def test_result_altering_changes_are_refused_and_nothing_is_written(tmp_path, args, message):
    run = straight(tmp_path, 2)
    before = snapshot(run)
    proc = master("--resume", str(run), *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert snapshot(run) == before


def test_force_config_accepts_a_change(tmp_path):
    run = straight(tmp_path, 2)
    proc = master("--resume", str(run), "--generations", "3", "--set", "n_reps=2", "--force-config")
    assert proc.returncode == 0, proc.stderr
    assert "--force-config: continuing with changed config (n_reps 3 -> 2)" in proc.stderr
    assert len(stats(run)) == 3
    with h5py.File(checkpoints(run)[-1]) as f:
        assert f["config"].attrs["n_reps"] == 2


def test_truncated_newest_checkpoint_warns_and_resumes_from_previous(tmp_path):
    ref = straight(tmp_path, 4)
    run = straight(tmp_path, 3, "damaged")
    newest = checkpoints(run)[-1]
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 3])
    proc = master("--resume", str(run), "--generations", "4", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert f"warning: skipped checkpoint {newest}: " in proc.stderr
    assert "renamed to gen_000002.h5.corrupt, resuming from gen_000001.h5" in proc.stderr
    assert (newest.parent / "gen_000002.h5.corrupt").exists()
    assert_same_run(ref, run)


@pytest.mark.parametrize("kind", ["text", "foreign_hdf5", "zero_filled", "bad_signature"])
def test_foreign_or_unreadable_newest_is_skipped_and_kept(tmp_path, kind):
    """Any newest file resume cannot use: a warning naming it, set aside (not deleted), the
    previous checkpoint used, the result equal to an uninterrupted run."""
    ref = straight(tmp_path, 4)
    run = straight(tmp_path, 3, "run")
    bad = run / "checkpoints" / "gen_000007.h5"
    if kind == "text":
        bad.write_text("not a checkpoint\n")
    elif kind == "foreign_hdf5":
        with h5py.File(bad, "w") as f:
            f["data"] = [1, 2, 3]
    elif kind == "zero_filled":
        bad.write_bytes(bytes(checkpoints(run)[-1].stat().st_size))
    else:
        data = bytearray(checkpoints(run)[-1].read_bytes())
        data[1:4] = b"XYZ"  # \x89HDF -> \x89XYZ
        bad.write_bytes(bytes(data))
    content = bad.read_bytes()
    proc = master("--resume", str(run), "--generations", "4", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert f"warning: skipped checkpoint {bad}: " in proc.stderr
    assert "resuming from gen_000002.h5" in proc.stderr
    kept = list((run / "checkpoints").glob("gen_000007.h5.*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content
    assert_same_run(ref, run)


def test_this_runs_checkpoint_in_a_newer_format_is_an_error(tmp_path):
    run = straight(tmp_path, 2)
    newest = checkpoints(run)[-1]
    with h5py.File(newest, "r+") as f:
        f.attrs["format_version"] = 99
    before = snapshot(run)
    proc = master("--resume", str(run), "--generations", "9")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {newest}: format_version 99; this program reads")
    assert snapshot(run) == before


def test_resume_without_checkpoints_is_a_clear_error(tmp_path):
    proc = master("--resume", str(tmp_path))
    assert proc.returncode == 2
    assert f"no checkpoint in {tmp_path / 'checkpoints'}" in proc.stderr
    proc = master("--resume", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "no such run folder" in proc.stderr
    assert not (tmp_path / "nowhere").exists()


def test_make_run_resumes_when_the_folder_holds_a_run(tmp_path):
    """``make run`` picks --resume for a run folder (its config.toml, with or without
    checkpoints) and --out otherwise (its recipe, dry run)."""
    run = straight(tmp_path, 1)

    def command(folder):
        lines = subprocess.run(
            ["make", "-n", "--no-print-directory", "run", f"RUN={folder}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("if [ -f"))
        launch = r"(\S*mpiexec -n \S+ )?\S*python -m src\.master"
        script = re.sub(launch, "echo", "\n".join(lines[start:]))
        return subprocess.run(
            ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True
        ).stdout.split()

    assert command(run) == ["--resume", str(run)]
    shutil.rmtree(run / "checkpoints")
    assert command(run) == ["--resume", str(run)]
    fresh = command(tmp_path / "new")
    assert fresh[:2] == ["--task", "swingup"] and "--resume" not in fresh


def test_resume_falls_back_when_an_attribute_of_the_newest_was_changed(tmp_path):
    """A flipped digit in rng_state_json would resume into another run: it is caught."""
    ref = straight(tmp_path, 4)
    run = straight(tmp_path, 3, "run")
    newest = checkpoints(run)[-1]
    with h5py.File(newest, "r+") as f:
        text = f.attrs["rng_state_json"]
        i = max(i for i, c in enumerate(text) if c.isdigit())
        f.attrs["rng_state_json"] = text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1 :]
    proc = master("--resume", str(run), "--generations", "4", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert f"skipped checkpoint {newest}: data or attributes do not match the digest" in (
        proc.stderr
    )
    assert_same_run(ref, run)


# ----- a run folder without a checkpoint yet (issue 11: a requeue before the first one) -------


def config_only(tmp_path, name="early"):
    """A run folder as a job killed right after start-up leaves it: config.toml (with its
    run_id) only, made by a real run whose other files are then deleted."""
    run = straight(tmp_path, 1, name)
    for p in list(run.iterdir()):
        if p.name != "config.toml":
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    return run


def test_resume_of_a_folder_with_only_config_toml_equals_a_straight_run(tmp_path):
    """``--resume`` of a folder holding this run's config.toml but no checkpoint starts that
    run from generation 0 with its config and run id: the same run as a straight one."""
    ref = straight(tmp_path, 3)
    run = config_only(tmp_path)
    run_id = (run / "config.toml").read_text().split('"')[1]
    proc = master("--resume", str(run), "--generations", "3", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert f"no checkpoint yet; starting its run {run_id} from generation 0" in proc.stderr
    assert_same_run(ref, run)
    for path in checkpoints(run):
        with h5py.File(path, "r") as f:
            assert f.attrs["run_id"] == run_id  # the run keeps its identity
    text = (run / "config.toml").read_text()
    assert f'run_id = "{run_id}"' in text  # its own id, and the config of the straight run
    assert text.split("\n", 2)[2] == (ref / "config.toml").read_text().split("\n", 2)[2]
    # the same command line as the first launch (what the sbatch scripts pass): no change
    again = config_only(tmp_path, "again")
    proc = master(*TINY, "--generations", "3", "--resume", str(again))
    assert proc.returncode == 0, proc.stderr
    assert_same_run(ref, again)


def test_resume_after_a_kill_in_the_first_checkpoint_write(tmp_path):
    """A job SIGKILLed while writing its first checkpoint (generation 0 reported, a temporary
    file, a stale lock): the resume takes the lock over, deletes the temporary file and runs
    the whole run again, equal to a straight run."""
    ref = straight(tmp_path, 3)
    run = tmp_path / "killed"
    proc = killed_master(0, *TINY, "--generations", "3", "--out", str(run))
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert checkpoints(run) == [] and len(stats(run)) == 1 and (run / "run.lock").exists()
    assert list((run / "checkpoints").glob(".gen_000000.h5.tmp*"))
    proc = master("--resume", str(run), "--generations", "3", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "took over the stale lock" in proc.stderr and "no checkpoint yet" in proc.stderr
    assert not list((run / "checkpoints").glob(".*tmp*"))
    assert_same_run(ref, run)


def test_resume_without_checkpoint_refuses_config_changes_and_needs_a_run_id(tmp_path):
    run = config_only(tmp_path)
    before = snapshot(run)
    proc = master("--resume", str(run), "--set", "n_reps=1")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "refusing config changes" in proc.stderr and "config.toml holds the old" in proc.stderr
    assert snapshot(run) == before
    text = (run / "config.toml").read_text()
    (run / "config.toml").write_text("\n".join(x for x in text.splitlines() if "run_id" not in x))
    before = snapshot(run)
    proc = master("--resume", str(run))
    assert proc.returncode == 2 and "has no valid run_id line" in proc.stderr, proc.stderr
    assert snapshot(run) == before
