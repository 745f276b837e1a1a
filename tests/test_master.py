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
    # numbers that pass a range check but break the search or the files (issue 11)
    (["--task", "swingup", "--set", "cull_ratio=nan"], "cull_ratio must be a finite number"),
    (["--task", "swingup", "--set", "prob_add_node=nan"], "prob_add_node must be a finite"),
    (["--task", "swingup", "--set", "prob_enable=inf"], "prob_enable must be a finite number"),
    (["--task", "swingup", "--set", "weights=[1.0, nan]"], "weights must be a finite number"),
    (["--task", "swingup", "--set", "weights=[-inf]"], "weights must be a finite number"),
    (
        ["--task", "swingup", "--set", "prob_add_node=1e308", "--set", "prob_enable=1e308"],
        "mutation weights must have a finite sum",
    ),
    (["--task", "swingup", "--set", "prob_add_node=1" + "0" * 400], "must be a finite number"),
    (["--task", "swingup", "--seed", str(10**23)], "seed must fit a 64-bit integer"),
    (["--task", "swingup", "--generations", str(2**63)], "generations must fit a 64-bit"),
    (["--task", "swingup", "--set", 'data_dir="a\\u0000b"'], "must not contain a NUL"),
    (["--task", "swingup", "--pop-size", "100000000"], "pop_size 100000000 needs at least"),
    (["--task", "mnist256", "--pop-size", "3000000"], "pop_size 3000000 needs at least"),
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


def test_a_long_out_name_is_one_line(tmp_path):
    proc = master("--task", "swingup", "--out", str(tmp_path / ("x" * 300)))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "is not writable: File name too long" in proc.stderr


def test_config_toml_always_reads_back(tmp_path):
    """Strings needing escapes (quote, backslash, control characters, DEL, non-ASCII) and
    floats of every form survive config.toml, and the file is a valid --config."""
    import tomllib

    text = r"a\"b\\c\u007f\t\u00e9\U0001F600 end"  # TOML escapes
    out = tmp_path / "run"
    args = ["--task", "swingup", "--pop-size", "8", "--generations", "1", "--quiet"]
    sets = ["--set", f'data_dir="{text}"', "--set", "weights=[1e-300, -2.5e+20, 3]"]
    proc = master(*args, *sets, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    values = tomllib.loads((out / "config.toml").read_text())
    assert values["data_dir"] == 'a"b\\c\x7f\t\u00e9\U0001f600 end'
    assert values["weights"] == [1e-300, -2.5e20, 3.0]
    again = tmp_path / "again"
    proc = master(*args, "--config", str(out / "config.toml"), "--out", str(again))
    assert proc.returncode == 0, proc.stderr
    assert tomllib.loads((again / "config.toml").read_text()) | {"run_id": ""} == values | {
        "run_id": ""
    }
