"""The champion over generations: what the search keeps (history/), which panels, one layout."""

from __future__ import annotations

import json

import pytest

from src import config as cfg
from src.config import build
from src.parallel import SerialExecutor
from src.report import growth, netdraw
from src.report.build import load_target
from src.search import history, runfolder
from src.search.loop import initial_state, run
from src.search.reporters import StatsFiles


def test_kept_generations_are_zero_and_the_powers_of_two():
    assert [g for g in range(1100) if history.due(g)] == [
        0,
        1,
        2,
        4,
        8,
        16,
        32,
        64,
        128,
        256,
        512,
        1024,
    ]


@pytest.mark.parametrize(
    ("available", "final", "want"),
    [
        ([0, *(2**k for k in range(11))], 1023, [8, 32, 128]),  # the paper's figure
        ([0, 1, 2, 4, 8, 16, 32], 39, [2, 8, 32]),
        ([0, 1, 2, 4, 8, 16], 20, [2, 8, 16]),
        ([0, 1, 2], 3, [0, 1, 2]),
        ([0, 1, 2, 4], 4, [0, 1, 2]),  # the final generation is its own panel
        ([], 5, []),
    ],
)
def test_pick(available, final, want):
    assert growth.pick(available, final) == want


@pytest.fixture(scope="module")
def short_search(tmp_path_factory):
    """A real 10-generation swing-up search; the champion after each generation noted."""
    out = tmp_path_factory.mktemp("run")
    config = build(
        "swingup",
        overrides={"pop_size": 24, "seed": 5, "generations": 10},
        sets=["episode_steps=100", "champion_reps=2", "prob_add_node=0.5"],
    )
    champions = {}

    def note(state):
        champions[state.generation] = state.best.key()

    run(initial_state(config), SerialExecutor(), [StatsFiles(out)], note)
    cfg.write_config(config, out / "config.toml", runfolder.new_run_id())  # as every run's
    return out, config, champions


def test_the_search_keeps_the_champion_of_generations_0_1_2_4_8(short_search):
    out, _, champions = short_search
    kept = history.read(out)
    assert [g for g, _, _ in kept] == [0, 1, 2, 4, 8]
    for g, genome, info in kept:
        assert genome.key() == champions[g]
        assert info["snapshot_generation"] == g and info["task"] == "swingup"
        assert info["generation"] <= g  # found then or earlier
    final = json.loads((out / "best_genome.json").read_text())
    assert final["generation"] >= kept[-1][2]["generation"]


def test_panels_share_one_layout_and_render(short_search, tmp_path):
    out, _, _ = short_search
    target = load_target(str(out))
    kept = history.read(out)
    snapshots = [(f"generation {g}", genome) for g, genome, _ in kept[-3:]]
    snapshots.append(("final", target.genome))
    panels = growth.panels_of(snapshots)
    paths, lay = growth.draw(panels, tmp_path / "growth", "swingup")
    assert sorted(paths) == ["pdf", "png", "svg"] and all(p.stat().st_size for p in paths.values())
    names = [{n.name for n in p.elements.nodes} for p in panels]
    assert set().union(*names) == set(lay.nodes)  # one place per node, whatever the panel
    edges = [{(e.src, e.dst, e.port) for e in p.elements.edges} for p in panels]
    assert set().union(*edges) == set(lay.edges)
    # the network grows: the final champion has nodes the first panel lacks, drawn where the
    # shared layout put them
    assert names[-1] - names[0]
    svg = paths["svg"].read_text()
    assert svg.count('<g id="axes_') == len(panels)


def test_the_report_draws_growth_from_history(short_search, tmp_path):
    from src.report.build import write_report
    from src.report.control import Budget

    out, _, _ = short_search
    target = load_target(str(out), sets=["episode_steps=50"])
    budget = Budget(episodes=2, sweep=3, tune_generations=1, tune_popsize=2, tune_episodes=1)
    report = write_report(target, tmp_path, budget, SerialExecutor(), 0, log=lambda _: None)
    for fmt in netdraw.FORMATS:
        assert (tmp_path / f"growth.{fmt}").is_file()
        assert (tmp_path / f"network.{fmt}").is_file()
    assert "![The champion over generations" in report.read_text()
