"""``python -m src.report.seeds``: several real runs (tiny searches with their reports) as one
table with median, quartiles and the worst seed, and one plot of the curves across seeds."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from test_report_cli import TINY, read_table, run

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def seed_runs(tmp_path_factory):
    """Three finished tiny swing-up searches (seeds 1-3), each with its report."""
    parent = tmp_path_factory.mktemp("seeds") / "variant"
    runs = []
    for seed in (1, 2, 3):
        out = parent / f"seed_{seed}"
        proc = run(
            "src.master",
            "--task",
            "swingup",
            "--out",
            str(out),
            "--generations",
            "3",
            "--pop-size",
            "12",
            "--seed",
            str(seed),
            "--set",
            "episode_steps=120",
            "--quiet",
        )
        assert proc.returncode == 0, proc.stderr
        proc = run("src.report", str(out), *TINY)
        assert proc.returncode == 0, proc.stderr
        runs.append(out)
    return runs


def wann_cells(run_dir):
    return {
        r["condition"]: float(r["mean"])
        for r in read_table(run_dir / "report" / "table.csv")
        if r["source"] == "this run" and r["network"] == "wann"
    }


def test_table_has_every_seed_and_the_median_quartiles_and_worst(seed_runs, tmp_path):
    proc = run("src.report.seeds", *map(str, seed_runs), "--out", str(tmp_path), "--name", "v")
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "seeds.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    per_seed = [r for r in rows if r["row"].startswith("seed_")]
    assert [r["row"] for r in per_seed] == ["seed_1", "seed_2", "seed_3"]
    stat = {r["row"]: r for r in rows if not r["row"].startswith("seed_")}
    for col in ("random_shared", "tuned_shared", "tuned_weights"):
        values = [wann_cells(p)[col] for p in seed_runs]
        assert float(stat["median"][col]) == pytest.approx(np.median(values), rel=1e-5)
        assert float(stat["min"][col]) == pytest.approx(min(values), rel=1e-5)
        q1, q3 = np.percentile(values, [25, 75])
        assert float(stat["q1"][col]) == pytest.approx(q1, rel=1e-5)
        assert float(stat["q3"][col]) == pytest.approx(q3, rel=1e-5)
    assert "**median** [q1, q3] (n=3)" in (tmp_path / "seeds.md").read_text()
    assert (tmp_path / "seeds_curves.png").read_bytes().startswith(PNG)


def test_a_folder_of_runs_is_one_group_named_after_it(seed_runs, tmp_path):
    proc = run("src.report.seeds", str(seed_runs[0].parent), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "seeds.csv", newline="") as fh:
        groups = {r["group"] for r in csv.DictReader(fh)}
    assert groups == {"variant"}


def test_a_run_without_a_report_is_one_clear_line(seed_runs, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    proc = run("src.report.seeds", str(bare), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "report/table.csv" in proc.stderr
    assert not (tmp_path / "o").exists()


def _copy(run_dir, where):
    import shutil

    return shutil.copytree(run_dir, where / run_dir.name)


@pytest.mark.parametrize(
    "damage", ["table_word", "table_bytes", "stats_short_row", "twice", "task"]
)
def test_damaged_or_mixed_runs_are_one_clear_line(seed_runs, tmp_path, damage):
    """A report table or stats.csv that is damaged, one run given twice, runs of two tasks:
    one line, exit 2, nothing written (one seed counted twice, or two tasks pooled, would
    make a wrong median silently)."""
    a = _copy(seed_runs[0], tmp_path / "a")
    b = _copy(seed_runs[1], tmp_path / "b")
    table = a / "report" / "table.csv"
    targets, expected = [a, b], ""
    if damage == "table_word":
        text = table.read_text().splitlines()
        text[1] = ",".join(v if i != 4 else "abc" for i, v in enumerate(text[1].split(",")))
        table.write_text("\n".join(text) + "\n")
        expected = "not a report's table (ValueError"
    elif damage == "table_bytes":
        table.write_bytes(b"\xff\xfe" + table.read_bytes())
        expected = "not a report's table (UnicodeDecodeError"
    elif damage == "stats_short_row":
        with open(a / "stats.csv", "a") as fh:
            fh.write("3,12\n")
        expected = "holds None, not a number"
    elif damage == "twice":
        targets, expected = [a, b, a], "the same run as"
    else:
        table.write_text(table.read_text().replace(",swingup,", ",biped,"))
        expected = "runs of different tasks cannot share a table: biped"
    proc = run("src.report.seeds", *map(str, targets), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr
    assert not (tmp_path / "o").exists()
