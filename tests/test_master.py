"""The command line: bad input is refused clearly, runs are reproducible, search improves."""

import csv
import json
import subprocess

import pytest
from conftest import PYTHON, ROOT

from src.core.genome import Genome


def master(*args, cwd=ROOT):
    return subprocess.run(
        [PYTHON, "-m", "src.master", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def read_stats(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


BAD = [
    (["--task", "pong"], "unknown task 'pong'; accepted: swingup, biped"),
    (["--task", "swingup", "--set", "colour=3"], "unknown config key 'colour'; accepted:"),
    (["--task", "swingup", "--set", "n_reps=three"], "n_reps must be an integer"),
    (["--task", "swingup", "--set", "prob_moo=1.5"], "prob_moo must be <= 1.0"),
    (["--task", "swingup", "--pop-size", "1"], "pop_size must be >= 2"),
    (["--task", "swingup", "--set", "ranking='best'"], "ranking must be one of paper, nsga3obj"),
    (["--task", "swingup", "--set", "activations=['tanh','swish']"], "unknown activation 'swish'"),
    (["--task", "swingup", "--set", "nokey"], "expected key=value"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input_is_one_clear_line_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "run"
    proc = master(*args, "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert message in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("bad", sorted((ROOT / "tests/configs/bad").glob("*.toml")), ids=str)
def test_bad_config_files(tmp_path, bad):
    expected = bad.read_text().splitlines()[0].removeprefix("# expect: ")
    proc = master("--task", "swingup", "--config", str(bad), "--out", str(tmp_path / "r"))
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert not (tmp_path / "r").exists()


def test_unwritable_out(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = master("--task", "swingup", "--out", str(blocker / "sub"))
    assert proc.returncode == 2 and "is not writable" in proc.stderr


def test_out_holding_a_run_is_refused(tmp_path):
    (tmp_path / "stats.csv").write_text("generation\n0\n")
    proc = master("--task", "swingup", "--out", str(tmp_path))
    assert proc.returncode == 2 and "already holds a run" in proc.stderr
    assert (tmp_path / "stats.csv").read_text() == "generation\n0\n"


def test_help_explains_keys_and_outputs():
    proc = master("--help")
    assert proc.returncode == 0
    for word in ("prob_init_enable", "tourn_size", "stats.csv", "best_genome.json", "--set"):
        assert word in proc.stdout


def test_same_seed_same_run(tmp_path):
    args = ["--task", "swingup", "--generations", "8", "--pop-size", "32", "--seed", "1"]
    runs = []
    for name in ("a", "b"):
        proc = master(*args, "--out", str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("gen ") == 8
        rows = read_stats(tmp_path / name / "stats.csv")
        runs.append([{k: v for k, v in r.items() if k != "seconds"} for r in rows])
        best = json.loads((tmp_path / name / "best_genome.json").read_text())
        Genome.from_dict(best)  # readable and valid
        assert best["task"] == "swingup" and "mean_reward" in best
    assert len(runs[0]) == 8
    assert runs[0] == runs[1]
    for col in (
        "generation",
        "evaluations",
        "env_steps",
        "best_mean",
        "best_max",
        "median_connections",
        "seconds",
    ):
        assert col in read_stats(tmp_path / "a" / "stats.csv")[0]


@pytest.mark.slow
def test_search_improves_over_first_generations(tmp_path):
    proc = master(
        "--task",
        "swingup",
        "--generations",
        "20",
        "--pop-size",
        "64",
        "--seed",
        "2",
        "--set",
        "n_reps=2",
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    best = [float(r["best_mean"]) for r in read_stats(tmp_path / "stats.csv")]
    median = [float(r["median_mean"]) for r in read_stats(tmp_path / "stats.csv")]
    assert max(best[-5:]) > best[0] + 50
    assert sum(median[-5:]) > sum(median[:5])
