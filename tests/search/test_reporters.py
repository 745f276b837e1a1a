"""The search's reporters: the progress line's number formats (small and large values, ETA),
the line itself over a real search, MNIST's accuracy in it, and user reporters' hooks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from src.config import build
from src.core.network import compile_genome
from src.parallel import SerialExecutor
from src.search.loop import STATS_COLUMNS, Reporter, initial_state, run
from src.search.reporters import (
    ProgressLine,
    StatsFiles,
    duration,
    progress_line,
    rate,
    significant,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (0.01234, "0.0123"),
        (0.5, "0.500"),
        (2.5, "2.50"),
        (12.34, "12.3"),
        (999.4, "999"),
        (999.7, "1.00 k"),  # rounds into the next prefix, never "1000"
        (1234, "1.23 k"),
        (3.414e6, "3.41 M"),
        (2.5e9, "2.50 G"),
        (7e12, "7.00 T"),
    ],
)
def test_significant_figures_with_prefixes(value, text):
    assert significant(value) == text


@pytest.mark.parametrize(
    ("count", "seconds", "unit", "text"),
    [
        (3.4e6, 1.0, "steps", "3.40 M steps/s"),
        (192, 0.05, "", "3.84 k/s"),
        (8000, 1.0, "steps", "8.00 k steps/s"),
        # biped or carracing: a generation of 192 genomes in five minutes is not "0/s"
        (192, 300.0, "", "38.4/min"),
        (1, 7200.0, "", "0.500/h"),
        (3, 2.0, "", "1.50/s"),
        (0, 2.0, "steps", "0 steps/s"),
    ],
)
def test_rates_pick_a_time_unit_that_is_never_zero(count, seconds, unit, text):
    assert rate(count, seconds, unit) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0201, "20.1 ms"),
        (0.0001, "0 s"),
        (1.5, "1.50 s"),
        (12.34, "12.3 s"),
        (59.7, "1 min 00 s"),
        (510, "8 min 30 s"),
        (3 * 3600 + 5 * 60 + 10, "3 h 05 min"),
        (2 * 86400 + 4 * 3600, "2 d 04 h"),
    ],
)
def test_durations(seconds, text):
    assert duration(seconds) == text


def row(generation, seconds, evaluations=192, steps=300_000):
    return {
        "generation": generation,
        "evaluations": evaluations,
        "distinct": evaluations - 10,
        "env_steps": steps,
        "best_mean": 250.123,
        "best_max": 300.0,
        "median_mean": 12.0,
        "median_connections": 23.0,
        "seconds": seconds,
        "busy": 0.97,
    }


def test_progress_line_parts():
    line = progress_line(row(11, 310.0), 1024, "64 ranks", (512.3, 10), eta=510.0)
    parts = line.split(" | ")
    assert parts[0] == "gen   11 of 1024"
    assert parts[1] == "best so far 512.30 (gen 10)"
    assert parts[2] == "this gen: mean 250.12 max 300.00"
    assert parts[4] == "192 evals (182 run) 37.2/min"  # a slow task: per minute, not 0/s
    assert parts[5] == "968 steps/s"
    assert parts[6] == "64 ranks, busy 97%"
    assert parts[7:] == ["5 min 10 s", "ETA 8 min 30 s"]
    assert "0/s" not in line
    # the last generation has no ETA; no champion yet, no "best so far"
    last = progress_line(row(1023, 1.0), 1024, "1 process", None, eta=0.0)
    assert "ETA" not in last and "best so far" not in last


def test_progress_line_shows_accuracy_in_percent():
    line = progress_line(row(3, 1.0), 10, "1 process", (-0.45, 2), 7.0, {"test accuracy": 0.7969})
    assert line.split(" | ")[1] == "best so far -0.45 (gen 2), test accuracy 79.7 %"


def tiny(generations=4, **sets):
    config = build(
        "swingup",
        overrides={"pop_size": 12, "seed": 3, "generations": generations},
        sets=["episode_steps=60", "champion_reps=2", *(f"{k}={v}" for k, v in sets.items())],
    )
    return initial_state(config)


class Recorder(Reporter):
    """A user reporter: records what the hooks saw."""

    def __init__(self):
        self.calls = []

    def start(self, state, where):
        self.calls.append(("start", state.generation, where))

    def generation(self, state, row):
        self.calls.append(("generation", state.generation, row["generation"], len(state.history)))

    def end(self, state):
        self.calls.append(("end", state.generation))


def test_progress_over_a_real_search_best_so_far_never_drops_and_eta_counts_down():
    lines = []
    ticks = itertools.count(0.0, 2.0)  # every generation takes 2 s on this clock
    recorder = Recorder()
    state = run(
        tiny(5),
        SerialExecutor(),
        [ProgressLine(lines.append, " (first)", clock=lambda: next(ticks)), recorder],
    )
    assert [line.split(" | ")[0] for line in lines] == [f"gen {g} of 5" for g in range(5)]
    assert lines[0].endswith(" (first)") and not lines[1].endswith(" (first)")
    etas = [line.removesuffix(" (first)").split(" | ")[-1] for line in lines[:-1]]
    assert etas == ["ETA 8.00 s", "ETA 6.00 s", "ETA 4.00 s", "ETA 2.00 s"]
    best = [float(line.split(" | ")[1].split()[3]) for line in lines]
    assert best == sorted(best) and best[-1] == round(state.best_info["champion_score"], 2)
    assert recorder.calls == [
        ("start", 0, "1 process"),
        *[("generation", g, g, g + 1) for g in range(5)],
        ("end", 4),
    ]


def test_end_is_called_when_a_generation_raises(tmp_path):
    class Boom(Reporter):
        def generation(self, state, row):
            raise RuntimeError("boom")

    recorder = Recorder()
    with pytest.raises(RuntimeError, match="boom"):
        run(tiny(), SerialExecutor(), [recorder, Boom()])
    assert recorder.calls[0][0] == "start" and recorder.calls[-1] == ("end", 0)


def test_stats_files_rewrite_from_the_state_at_the_start(tmp_path):
    state = run(tiny(3), SerialExecutor(), [StatsFiles(tmp_path)])
    text = (tmp_path / "stats.csv").read_text()
    assert text.splitlines()[0] == ",".join(STATS_COLUMNS) and len(text.splitlines()) == 4
    with open(tmp_path / "stats.csv", "a") as fh:  # a row written after the last checkpoint
        fh.write(text.splitlines()[-1] + "\n")
    StatsFiles(tmp_path).start(state, "")
    assert (tmp_path / "stats.csv").read_text() == text


def test_mnist_progress_shows_the_champions_test_accuracy():
    from src.tasks import make_task, mnist

    config = build(
        "mnist256",
        overrides={"pop_size": 8, "seed": 1, "generations": 2},
        sets=["batch_size=100", "champion_reps=0"],
    )
    lines = []
    state = run(initial_state(config), SerialExecutor(), [ProgressLine(lines.append)])
    task = make_task(config)
    _, ensemble = mnist.accuracy(
        compile_genome(state.best), task.data.test_x, task.data.test_y, np.asarray(config.weights)
    )
    assert task.champion_metrics(compile_genome(state.best), np.asarray(config.weights)) == {
        "test accuracy": ensemble
    }
    assert f"test accuracy {100 * ensemble:.1f} %" in lines[-1]
