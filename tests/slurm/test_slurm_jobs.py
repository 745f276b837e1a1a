"""The sbatch scripts in jobs/, submitted to a real Slurm started on this machine.

One cluster (munged, slurmctld, slurmd; see cluster.py) serves the whole module and is stopped
by PID at the end, whatever happens. The jobs are submitted together at the start and run side
by side (2 MPI ranks each, the node is oversubscribed), then each test checks one of them:

* search.sbatch: an uninterrupted search; it finishes and leaves checkpoints;
* requeue.sbatch: the same search with ``--time=1 --signal=B:USR1@40``: Slurm signals the batch
  shell, the search checkpoints and exits 99, the script requeues the job, the restarted job
  (SLURM_RESTART_COUNT=1) resumes, and after one or more such rounds it completes all its
  generations, bit-identical to the uninterrupted search;
* seeds.sbatch: a job array, one run folder per seed; resubmitted, an element resumes.

With ``--time=1`` Slurm sends the signal at its first time-limit check after the job starts
(checks run every 30 s), so the search is sized to outlast 30 s even on an idle machine. Every
restart would be signalled the same way (about 18 s in: the requeue delay is 10 s, see
cluster.py), which works but makes a round per ~15 s of progress; so once the job has been
requeued, the test raises its time limit, and the restarted job runs to the end.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from cluster import LocalSlurm, missing_programs
from harness import ROOT, assert_same_run, stats, wait_for

from src.search import checkpoint

pytestmark = pytest.mark.slurm

#: The search that search.sbatch and requeue.sbatch both run: about 60 s of CPU each, so the
#: time-limited one is still running at Slurm's first time-limit check (<= 30 s after start).
LONG_GENERATIONS = 500
LONG = ["--pop-size", "64", "--seed", "11", "--set", "n_reps=2", "--set", "episode_steps=400"]
LONG += ["--generations", str(LONG_GENERATIONS), "--quiet"]
#: The seed array's searches: tiny.
TINY = ["--pop-size", "16", "--set", "episode_steps=200", "--generations", "4", "--quiet"]
#: biped.sbatch's search, tiny (its config is the paper's biped otherwise)
BIPED = ["--pop-size", "8", "--set", "n_reps=1", "--set", "episode_steps=60"]
BIPED += ["--generations", "2", "--quiet"]
#: seeds.sbatch reports each run when its search is done: small budgets for the tests
REPORT_FLAGS = ["--episodes", "8", "--sweep", "5", "--tune-generations", "2"]
REPORT_FLAGS += ["--tune-popsize", "4", "--tune-episodes", "1", "--fixed-hidden", "2", "--quiet"]


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # pytest then runs the finalizers: the daemons get stopped


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    missing = missing_programs()
    if missing:
        message = (
            f"Slurm programs missing: {', '.join(missing)} (`make test` installs slurm-wlm and "
            "munge as root)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    previous = signal.signal(signal.SIGTERM, _interrupt)  # `timeout`, CI cancel: clean up too
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        signal.signal(signal.SIGTERM, previous)


def submit(slurm: LocalSlurm, script: str, out: Path, log: Path, *args: str, sbatch=()) -> str:
    env = {"WANN_REPO": str(ROOT), "WANN_TASK": "swingup", "WANN_OUT": str(out)}
    env["WANN_REPORT_FLAGS"] = " ".join(REPORT_FLAGS)
    return slurm.sbatch(
        "--ntasks=2", f"--output={log}", *sbatch, str(ROOT / "jobs" / script), *args,
        cwd=ROOT, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def jobs(slurm, tmp_path_factory):
    """Submit every job at once; returns {name: (job id, run folder, log)}."""
    base = tmp_path_factory.mktemp("jobs")
    spec = {
        "requeue": ("requeue.sbatch", LONG, ["--time=1", "--signal=B:USR1@40"]),
        "search": ("search.sbatch", LONG, []),
        "seeds": ("seeds.sbatch", TINY, ["--array=0-1"]),
        "biped": ("biped.sbatch", BIPED, ["--time=10", "--signal=B:USR1@30"]),
    }
    submitted = {}
    for name, (script, args, sbatch) in spec.items():
        out, log = base / name, base / f"{name}.log"
        if name == "seeds":
            log = base / "seeds-%a.log"
        submitted[name] = (submit(slurm, script, out, log, *args, sbatch=sbatch), out, log)
    return submitted


def test_time_limited_job_is_signalled_checkpoints_requeues_and_completes(slurm, jobs):
    job, run, log = jobs["requeue"]

    def requeued_after_checkpoint() -> bool:
        info = slurm.job_info(job)
        text = log.read_text() if log.exists() else ""
        if info.get("JobState") in {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}:
            raise AssertionError(f"job ended as {info['JobState']} before a requeue\n{text}")
        # A signal landing during start-up kills the search before it can checkpoint; the
        # script requeues that too, and the next round is signalled later: wait for a real one.
        return int(info.get("Restarts", 0)) >= 1 and "stopped by SIGUSR1" in text

    wait_for(requeued_after_checkpoint, 300, "a checkpoint and a requeue", interval=0.5)
    slurm.run("scontrol", "update", f"JobId={job}", "TimeLimit=15")  # the next round ends it
    assert slurm.wait_job(job, timeout=480) == ["COMPLETED"], log.read_text()
    text = log.read_text()
    starts = re.findall(r"SLURM_RESTART_COUNT=(\d+)", text)
    assert starts[0] == "0" and "1" in starts, text
    assert "batch shell got SIGUSR1" in text
    assert "stopped by SIGUSR1 after generation" in text
    assert "exit code 99" in text and f"requeueing job {job}" in text
    assert "--resume" in text  # the restarted job went on from its checkpoint
    assert text.splitlines()[-1].startswith("wann: exit code 0 "), text
    assert int(slurm.job_info(job)["Restarts"]) == len(starts) - 1 >= 1
    # every generation exactly once, and the same search as the uninterrupted job
    search_job, search_run, _ = jobs["search"]
    assert slurm.wait_job(search_job, timeout=480) == ["COMPLETED"]
    assert_same_run(search_run, run)


def test_search_job_finishes_and_leaves_checkpoints(slurm, jobs):
    job, run, log = jobs["search"]
    assert slurm.wait_job(job, timeout=480) == ["COMPLETED"], log.read_text()
    text = log.read_text()
    assert "--out" in text and "launch:" in text and "exit code 0" in text
    assert len(stats(run)) == LONG_GENERATIONS
    found = checkpoint.list_checkpoints(run)
    assert [g for g, _ in found] == list(range(LONG_GENERATIONS - 3, LONG_GENERATIONS))
    state = checkpoint.load(found[-1][1])
    assert state.config.pop_size == 64 and state.generation == LONG_GENERATIONS - 1


def test_seed_array_runs_one_folder_per_seed_and_resumes_when_resubmitted(slurm, jobs, tmp_path):
    job, parent, log = jobs["seeds"]
    assert slurm.wait_job(job, timeout=480) == ["COMPLETED", "COMPLETED"]
    for element in (0, 1):
        text = Path(str(log).replace("%a", str(element))).read_text()
        assert "launch: " in text and "exit code 0" in text, text
    runs = sorted(p.name for p in parent.iterdir() if p.name != "summary")
    assert runs == ["seed_0", "seed_1"]
    # each element reported its run; the last one left the summary of both
    assert all((parent / r / "report" / "table.csv").is_file() for r in runs)
    summary = (parent / "summary" / "seeds.md").read_text()
    assert "| seed_0 |" in summary and "| seed_1 |" in summary and "(n=2)" in summary
    seeds = [checkpoint.load_latest(parent / r).state.config.seed for r in runs]
    assert seeds == [0, 1]
    assert stats(parent / "seed_0") != stats(parent / "seed_1")
    assert all(len(stats(parent / r)) == 4 for r in runs)
    # resubmit element 1 with more generations: it resumes from its checkpoint
    more = [a if a != "4" else "6" for a in TINY]
    again = submit(slurm, "seeds.sbatch", parent, tmp_path / "again.log", *more,
                   sbatch=["--array=1"])  # fmt: skip
    assert slurm.wait_job(again, timeout=240) == ["COMPLETED"]
    text = (tmp_path / "again.log").read_text()
    assert f"--resume {parent / 'seed_1'}" in text and "exit code 0" in text
    assert len(stats(parent / "seed_1")) == 6 and len(stats(parent / "seed_0")) == 4


def test_biped_recipe_runs_the_biped_search_then_its_report(slurm, jobs):
    job, run, log = jobs["biped"]
    assert slurm.wait_job(job, timeout=480) == ["COMPLETED"], log.read_text()
    text = log.read_text()
    assert "launch: " in text and "exit code 0" in text, text
    state = checkpoint.load_latest(run).state
    assert state.config.task == "biped" and state.config.pop_size == 8
    assert state.config.generations == 2 and len(stats(run)) == 2
    table = (run / "report" / "table.csv").read_text()
    assert "random_shared" in table and "tuned_weights" in table
