"""The launch check under a real (local, one-node) Slurm: ``srun`` without PMI is refused at
once, ``srun --mpi=pmi2`` and ``mpiexec`` inside an allocation run.

Uses :class:`LocalSlurm` from tests/slurm/cluster.py (private munge + slurmctld + slurmd,
stopped by PID afterwards).
"""

from __future__ import annotations

import importlib.util
import os
import signal
from pathlib import Path

import pytest
from harness import ROOT, launch, running, wait_for

from src.search.checkpoint import list_checkpoints

pytestmark = [pytest.mark.slurm, pytest.mark.mpi]

_spec = importlib.util.spec_from_file_location("slurm_cluster", ROOT / "tests/slurm/cluster.py")
cluster = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cluster)

RUN = ["-m", "src.master", "--task", "swingup", "--pop-size", "8", "--generations", "2"]
RUN += ["--set", "episode_steps=50", "--set", "n_reps=1", "--quiet"]


class PrivateSlurm(cluster.LocalSlurm):
    """LocalSlurm with a private TmpFS and job ids of its own.

    Slurm's pmi2 plugin puts its socket at ``<TmpFS>/sock.pmi2.<job>.<step>``: two test
    clusters on one host (another test session's, say), both numbering jobs from 1, would
    share it, and MPI_Init then fails ("Message truncated") or hangs.
    """

    def _write_files(self) -> None:
        super()._write_files()
        (self.root / "tmpfs").mkdir(exist_ok=True)
        first_job = 1000 + int.from_bytes(os.urandom(3), "big")
        text = self.conf.read_text()
        assert "MpiDefault=none\n" in text
        text = text.replace(
            "MpiDefault=none\n",
            f"MpiDefault=none\nTmpFS={self.root / 'tmpfs'}\nFirstJobId={first_job}\n",
        )
        self.conf.write_text(text)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    missing = cluster.missing_programs()
    if missing:
        pytest.fail(f"Slurm programs missing: {missing} (apt-get install -y slurm-wlm munge)")
    c = PrivateSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def srun(slurm, options: list[str], *args: str):
    """``srun options python args`` on the test cluster, to its end (harness.launch)."""
    prefix = ["srun", "--chdir", str(ROOT), *options]
    return launch(*args, prefix=prefix, env={"SLURM_CONF": str(slurm.conf)}, timeout=120)


def test_srun_without_pmi_is_refused_on_every_task(slurm, tmp_path):
    proc = srun(slurm, ["-n", "2"], *RUN, "--out", str(tmp_path / "r"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("error: the MPI launch did not give the expected ranks") == 2
    assert "SLURM_STEP_NUM_TASKS=2" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_srun_with_pmi2_runs(slurm, tmp_path):
    proc = srun(slurm, ["-n", "2", "--mpi=pmi2"], *RUN[:-1], "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert "2 ranks, out" in proc.stdout
    assert (tmp_path / "r" / "stats.csv").exists()


def test_mpiexec_inside_an_allocation_may_oversubscribe_it(slurm, tmp_path):
    """``mpiexec -n 4`` in a 2-task allocation: hydra starts its proxy with srun (a step of
    SLURM_NTASKS=1) and sets PMI_SIZE=4: accepted, 4 ranks."""
    args = [*RUN[:-1], "--out", str(tmp_path / "r")]
    env = {"SLURM_CONF": str(slurm.conf)}
    proc = launch(*args, mpi=4, prefix=["salloc", "-n", "2"], env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "4 ranks, out" in proc.stdout


def test_srun_kill_on_bad_exit_ends_the_job_when_a_worker_dies(slurm, tmp_path):
    """Under srun a dead task ends the step only with --kill-on-bad-exit=1 (without it the
    root would wait for that worker forever; hydra's mpiexec always ends the job)."""
    out = tmp_path / "r"
    step = ["srun", "-n", "2", "--mpi=pmi2", "--kill-on-bad-exit=1", "--chdir", str(ROOT)]
    args = [*RUN, "--generations", "100000", "--out", str(out)]
    with running(*args, prefix=step, env={"SLURM_CONF": str(slurm.conf)}) as proc:
        wait_for(lambda: proc.poll() is not None or list_checkpoints(out), 90, "a checkpoint")
        assert proc.poll() is None, proc.communicate()
        worker = _rank_pid(str(out), 1)
        os.kill(worker, signal.SIGKILL)
        proc.communicate(timeout=90)  # KillWait (10 s in this cluster) + margin
    assert proc.returncode != 0


def _rank_pid(out: str, rank: int) -> int:
    """PID of the rank of the run writing to ``out`` (its command line names it)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if out.encode() in args and f"PMI_RANK={rank}".encode() in environ:
            return int(entry.name)
    raise AssertionError(f"no rank {rank} found for {out}")
