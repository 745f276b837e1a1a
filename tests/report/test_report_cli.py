"""``python -m src.report`` on a tiny finished swing-up run: files, determinism, resume,
tuned weights above the tuned shared weight, bad input, and the same answer under MPI."""

import csv

import numpy as np
import pytest
from harness import ROOT, launch

from src.parallel import SerialExecutor
from src.report import __main__ as report_cli
from src.report.build import load_target, write_report
from src.report.control import Budget, analyse, fixed_topology
from src.report.episodes import Net, Runner

PNG = b"\x89PNG\r\n\x1a\n"
#: Small budgets: a few seconds per report on the 200-step episodes of the tiny run.
TINY = ["--episodes", "12", "--sweep", "9", "--tune-generations", "4", "--tune-popsize", "8"]
TINY += ["--tune-episodes", "2", "--fixed-hidden", "4", "--no-video", "--quiet"]
#: (The episodes as pictures: tests/report/test_video.py and test_html.py.)


def run(*args, n_ranks=0, timeout=300):
    """``python -m args`` (under ``mpiexec -n n_ranks`` if given): :func:`harness.launch`."""
    return launch("-m", *args, mpi=n_ranks, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished 5-generation swing-up search with 200-step episodes."""
    out = tmp_path_factory.mktemp("report") / "run"
    proc = run(
        "src.master",
        "--task",
        "swingup",
        "--out",
        str(out),
        "--generations",
        "5",
        "--pop-size",
        "16",
        "--set",
        "episode_steps=200",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def tiny_report(tiny_run):
    """The report of the tiny run with the TINY budgets (serial, seed 0), and its stdout."""
    proc = run("src.report", str(tiny_run), *TINY[:-1])
    assert proc.returncode == 0, proc.stderr
    return tiny_run / "report", proc.stdout


#: A swing-up champion of the paper's budget, committed with its report's table.
CHAMPION = ROOT / "docs" / "results" / "swingup" / "stratified_1024" / "seed_1" / "best_genome.json"


def read_table(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_report_writes_table_csv_and_pictures(tiny_report):
    out, stdout = tiny_report
    for name in ("network.png", "curves.png", "sweep.png", "network_tuned.png"):
        data = (out / name).read_bytes()
        assert data[:8] == PNG, name
        assert len(data) > 8000, (name, len(data))
    for stem in ("network", "network_tuned"):
        assert (out / f"{stem}.svg").read_bytes().startswith(b"<?xml")
        assert (out / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
    rows = read_table(out / "table.csv")
    ours = [(r["network"], r["condition"]) for r in rows if r["source"] == "this run"]
    conditions = ["random_weights", "random_shared", "tuned_shared", "tuned_weights"]
    assert ours == [(n, c) for n in ("wann", "fixed") for c in conditions]
    assert sum(r["source"] == "paper" for r in rows) == 8
    assert all(r["n"] == "12" for r in rows if r["source"] == "this run")
    sweep = read_table(out / "sweep.csv")
    assert len(sweep) == 2 * 8 and float(sweep[0]["shared_weight"]) == -2.0  # 0 left out
    assert all(float(r["shared_weight"]) != 0.0 for r in sweep)
    md = (out / "report.md").read_text()
    assert "723 ± 16" in md and "932 ± 6" in md and "918 ± 7" in md  # the paper's numbers
    assert "**this run**" in md and "![" in md and "python -m src.report" in md
    page = (out / "report.html").read_text()
    assert "723 ± 16" in page and 'id="weight"' not in page  # --no-video: no player
    assert not (out / "episodes.gif").exists() and "episodes.gif" not in md
    # progress lines: one per PEPG generation and network
    assert stdout.count("PEPG gen") == 2 * 4
    assert (out / "tune_wann.npz").is_file() and (out / "tune_fixed.npz").is_file()


def test_report_is_deterministic_and_seeded(tiny_run, tiny_report, tmp_path):
    a, (b, _), c = tmp_path / "a", tiny_report, tmp_path / "c"
    for out, seed in ((a, "0"), (c, "1")):
        proc = run("src.report", str(tiny_run), *TINY, "--out", str(out), "--seed", seed)
        assert proc.returncode == 0, proc.stderr
    for name in ("table.csv", "sweep.csv", "tuned_weights.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "table.csv").read_bytes() != (c / "table.csv").read_bytes()


def test_report_of_a_genome_file_reads_its_task(tiny_run, tmp_path):
    genome = tmp_path / "champion.json"
    genome.write_bytes((tiny_run / "best_genome.json").read_bytes())
    proc = run("src.report", str(genome), *TINY, "--set", "episode_steps=200")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "report" / "table.csv").is_file()
    assert not (tmp_path / "report" / "curves.png").exists()  # no stats.csv beside it


def test_report_of_the_authors_champion_file(tmp_path):
    """The authors' swing.out (docs/champions) goes through the report as it is; the file
    does not say its task, so --task is needed."""
    swing = ROOT / "docs" / "champions" / "swing.out"
    out = tmp_path / "swing"
    proc = run("src.report", str(swing), "--task", "swingup", "--out", str(out), *TINY)
    assert proc.returncode == 0, proc.stderr
    table = read_table(out / "table.csv")
    assert {row["network"] for row in table} >= {"wann"}
    assert f"Champion `{swing}`: " in (out / "report.md").read_text()
    bad = run("src.report", str(swing), "--out", str(tmp_path / "no"), "--quiet")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    assert "does not say its task; pass --task" in bad.stderr
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/run"], "is neither a run folder nor a genome file"),
        (["RUN", "--tune-popsize", "7"], "--tune-popsize must be even"),
        (["RUN", "--episodes", "0"], "--episodes must be >= 1"),
        (["RUN", "--task", "biped"], "is a 'swingup' run"),
        (["RUN", "--set", "colour=1"], "unknown config key 'colour'"),
        (["RUN", "--tune-lr", "inf"], "--tune-lr must be a finite number > 0, got inf"),
        (["RUN", "--seed", str(2**64)], "--seed must be >= 0 and fit a 64-bit integer"),
        (["RUN", "--set", "task='biped'"], "a biped network has 24 and 4"),
    ],
)
def test_bad_input_is_one_clear_line(tiny_run, capsys, args, message):
    """The command line's root in this process (no process start-up for each value)."""
    args = [str(tiny_run) if a == "RUN" else a for a in args]
    try:
        code = report_cli.run_root(args, SerialExecutor())
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err


def test_bad_input_to_the_command_line_is_one_line_exit_2(tmp_path):
    proc = run("src.report", str(tmp_path / "nowhere"), "--quiet")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "is neither a run folder nor a genome file" in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("damage", ["missing", "empty", "folder"])
def test_a_run_folder_without_its_config_is_one_line(tiny_run, tmp_path, capsys, damage):
    """Without the run's config.toml the report would use the task's defaults silently."""
    import shutil

    run_dir = shutil.copytree(tiny_run, tmp_path / "run")
    (run_dir / "config.toml").unlink()
    if damage == "empty":
        (run_dir / "config.toml").write_text("")
    elif damage == "folder":
        (run_dir / "config.toml").mkdir()
    before = sorted((p, p.stat().st_mtime_ns) for p in run_dir.rglob("*"))
    assert report_cli.run_root([str(run_dir), *TINY], SerialExecutor()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no usable config.toml" in err, err
    assert sorted((p, p.stat().st_mtime_ns) for p in run_dir.rglob("*")) == before


def test_a_damaged_stats_csv_is_one_line(tiny_run, tmp_path, capsys):
    import shutil

    run_dir = shutil.copytree(tiny_run, tmp_path / "run")
    with open(run_dir / "stats.csv", "a") as fh:
        fh.write("9,xx\n")
    assert report_cli.run_root([str(run_dir), *TINY], SerialExecutor()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stats.csv, line" in err and "not a number" in err, err


@pytest.mark.parametrize("damage", ["empty", "truncated", "shrunk"])
def test_a_damaged_tuning_checkpoint_is_ignored(tiny_run, tmp_path, damage):
    """tune_wann.npz left by an earlier report: empty, cut short, or the right fingerprint
    with arrays of the wrong size: the tuning starts afresh, the same as with no file."""
    import zipfile

    target = load_target(str(tiny_run))
    budget = Budget(episodes=10, sweep=5, tune_generations=3, tune_popsize=8, tune_episodes=2)
    write_report(target, tmp_path / "r", budget, SerialExecutor(), 3, log=lambda s: None)
    saved = tmp_path / "r" / "tune_wann.npz"
    data = saved.read_bytes()
    if damage == "empty":
        saved.write_bytes(b"")
    elif damage == "truncated":
        saved.write_bytes(data[: len(data) // 2])
    else:
        with np.load(saved) as arrays:
            kept = {k: arrays[k] for k in arrays.files}
        for key in ("mu", "sigma", "adam_m", "adam_v", "best_x"):
            kept[key] = kept[key][:1]
        np.savez(saved, **kept)
        assert zipfile.is_zipfile(saved)
    write_report(target, tmp_path / "r", budget, SerialExecutor(), 3, log=lambda s: None)
    write_report(target, tmp_path / "s", budget, SerialExecutor(), 3, log=lambda s: None)
    for name in ("table.csv", "tuned_weights.json"):
        assert (tmp_path / "r" / name).read_bytes() == (tmp_path / "s" / name).read_bytes()


def test_rerun_resumes_tuning_and_equals_a_straight_run(tiny_run, tmp_path):
    target = load_target(str(tiny_run))
    short = Budget(episodes=10, sweep=5, tune_generations=3, tune_popsize=8, tune_episodes=2)
    long = Budget(episodes=10, sweep=5, tune_generations=6, tune_popsize=8, tune_episodes=2)
    logs = []
    write_report(target, tmp_path / "r", short, SerialExecutor(), 3, log=logs.append)
    write_report(target, tmp_path / "r", long, SerialExecutor(), 3, log=logs.append)
    assert any("resuming from" in line and "generation 3" in line for line in logs)
    write_report(target, tmp_path / "s", long, SerialExecutor(), 3, log=lambda s: None)
    for name in ("table.csv", "tuned_weights.json"):
        assert (tmp_path / "r" / name).read_bytes() == (tmp_path / "s" / name).read_bytes()


def test_tuned_weights_beat_the_tuned_shared_weight(tiny_run, tmp_path):
    """The point of the column: PEPG's per-connection weights do better than the best shared
    weight, on the same 100 fresh episodes, for a champion and for the fixed topology. The
    champion is a real one (the committed seed-1 champion at the paper's budget): a tiny
    run's 5-generation genome may have nothing left to tune."""
    import json

    from src.core.genome import Genome

    target = load_target(str(tiny_run))
    champion = Genome.from_dict(json.loads(CHAMPION.read_text()))
    runner = Runner(target.config, SerialExecutor())
    budget = Budget(
        episodes=100,
        sweep=21,
        tune_generations=60,
        tune_popsize=32,
        tune_episodes=16,
        sigma_init=0.5,
        learning_rate=0.1,
    )
    quiet = lambda s: None  # noqa: E731
    wann = analyse(Net.of(champion), "wann", "WANN", 0, runner, budget, tmp_path, quiet)
    fixed = analyse(
        Net.of(fixed_topology(5, 1, 8)), "fixed", "fixed", 1, runner, budget, tmp_path, quiet, 0.0
    )
    for r in (wann, fixed):
        shared, tuned = r.stats["tuned_shared"], r.stats["tuned_weights"]
        assert tuned.mean > shared.mean, (r.key, shared, tuned)
    shared, tuned = fixed.stats["tuned_shared"], fixed.stats["tuned_weights"]
    assert tuned.mean > shared.mean + 10.0, (shared, tuned)


@pytest.mark.mpi
def test_report_under_mpi_equals_serial(tiny_run, tiny_report, tmp_path):
    serial, parallel = tiny_report[0], tmp_path / "mpi"
    proc = run("src.report", str(tiny_run), *TINY, "--out", str(parallel), n_ranks=3)
    assert proc.returncode == 0, proc.stderr
    for name in ("table.csv", "sweep.csv", "tuned_weights.json"):
        assert (serial / name).read_bytes() == (parallel / name).read_bytes(), name
