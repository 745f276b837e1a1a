"""The Python API (src/api.py): a search from Python equals the command line's bit for bit,
a run folder reads back, evaluate and draw work, and the example runs."""

from __future__ import annotations

import numpy as np
import pytest
from harness import ROOT, assert_same_run, launch

from src import api
from src.config import ConfigError, build
from src.core.network import compile_genome
from src.parallel import PoolExecutor
from src.tasks import make_task

ARGS = {"generations": 4, "pop_size": 16, "seed": 3}
SETS = {"episode_steps": 100, "champion_reps": 2}


def test_search_in_a_folder_equals_the_command_line(tmp_path, capsys):
    result = api.search("swingup", out=tmp_path / "api", **ARGS, **SETS)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("gen ")]
    assert len(lines) == 4 and lines[-1].startswith("gen 3 of 4")
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in ARGS.items()]
    sets = [x for k, v in SETS.items() for x in ("--set", f"{k}={v}")]
    proc = launch("-m", "src.master", "--task=swingup", f"--out={tmp_path / 'cli'}", *flags, *sets)
    assert proc.returncode == 0, proc.stderr
    assert_same_run(tmp_path / "api", tmp_path / "cli")

    run = api.open_run(tmp_path / "api")
    assert run.config == result.config
    assert run.best == result.best and run.best_info["generation"] == result.best_info["generation"]
    for key in ("best_mean", "median_connections", "env_steps"):
        assert np.array_equal(run.stats[key], result.stats[key]), key
    assert run.history[-1]["generation"] == 3
    assert run.checkpoints == [1, 2, 3]  # keep_checkpoints = 3
    last = run.state()
    assert last.population == result.state.population
    assert np.array_equal(last.objectives, result.state.objectives)
    assert run.state(2).generation == 2


def test_search_without_files_and_in_a_pool_gives_the_same_answer(tmp_path):
    serial = api.search("swingup", progress=False, **ARGS, **SETS)
    with PoolExecutor(2) as pool:
        pooled = api.search(build("swingup", overrides=ARGS), executor=pool, progress=False, **SETS)
    assert serial.out is None and list(tmp_path.iterdir()) == []
    assert serial.best == pooled.best and serial.best_info == pooled.best_info
    drop = ("seconds", "busy")
    assert [{k: v for k, v in r.items() if k not in drop} for r in serial.history] == [
        {k: v for k, v in r.items() if k not in drop} for r in pooled.history
    ]


def test_search_refuses_a_run_folder_and_bad_keys(tmp_path):
    api.search("swingup", out=tmp_path, progress=False, generations=1, pop_size=8)
    with pytest.raises(ConfigError, match="already holds a run"):
        api.search("swingup", out=tmp_path, progress=False, generations=1, pop_size=8)
    with pytest.raises(ConfigError, match="unknown config key 'colour'"):
        api.make_config("swingup", colour=3)


def test_evaluate_rows_are_weights_columns_are_seeds():
    config = build("swingup", sets=["episode_steps=150"])
    genome = api.search(config, progress=False, generations=2, pop_size=12).best
    weights, seeds = [-1.5, 0.5, 2.0], [11, 12, 13, 14]
    returns = api.evaluate(genome, config, weights=weights, seeds=seeds)
    assert returns.shape == (3, 4)
    task, plan = make_task(config), compile_genome(genome)
    for i, w in enumerate(weights):
        direct, _ = task.rollouts(plan, np.full(4, w), np.asarray(seeds))
        assert np.array_equal(returns[i], direct)
    assert np.array_equal(api.evaluate(genome, config, weights, seeds, workers=2), returns)
    # the config's series by default, overrides on top
    assert api.evaluate(genome, "swingup", episode_steps=150).shape == (len(config.weights), 1)


def test_draw_writes_a_png(tmp_path):
    genome = api.search("swingup", progress=False, generations=1, pop_size=8).best
    path = api.draw(genome, tmp_path / "g.png", title="champion")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = api.draw(genome, tmp_path / "g.svg")
    assert svg == tmp_path / "g.svg" and "<svg" in svg.read_text()
    assert not (tmp_path / "g.pdf").exists()  # one format, the one asked for
    with pytest.raises(ValueError, match="png, .svg or .pdf"):
        api.draw(genome, tmp_path / "g.jpg")


def test_the_example_runs(tmp_path):
    out = tmp_path / "tour"
    args = ["--generations", "3", "--pop-size", "16", "--episode-steps", "100", "--workers", "2"]
    proc = launch(ROOT / "examples" / "api_tour.py", "--out", str(out), *args, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "best so far (our reporter):" in proc.stdout
    assert proc.stdout.count("  weight ") == 6
    assert (out / "champion.png").is_file() and (out / "stats.csv").is_file()
