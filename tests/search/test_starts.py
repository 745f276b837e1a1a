"""Independent starts (``starts``, ``start_generations``): each start from fresh initial
genomes, the search going on from the best start's last genomes; the same at any rank count
and on resume (the reserve is checkpointed)."""

from __future__ import annotations

import pytest

from src.config import ConfigError, build
from src.parallel import SerialExecutor
from src.search import checkpoint
from src.search.loop import initial_state, ranking_of, run, start_scores
from src.search.probe import tuned_score

STARTS = ["starts=3", "start_generations=2", "episode_steps=100", "champion_reps=2"]


def test_each_start_is_fresh_and_the_best_one_goes_on():
    config = build("swingup", overrides={"pop_size": 16, "seed": 3, "generations": 9}, sets=STARTS)
    populations = []
    state = run(
        initial_state(config),
        SerialExecutor(),
        on_generation=lambda s: populations.append(list(s.population)),
    )
    assert [r["generation"] for r in state.history] == list(range(9))
    # generations 0, 2 and 4 begin a start: initial genomes only (no hidden node), each
    # start's its own draws
    for g in (0, 2, 4):
        assert all(x.n_hidden == 0 for x in populations[g])
    assert {x.key() for x in populations[2]} != {x.key() for x in populations[4]}
    # a start's second generation is bred from its first (one mutation each, elites kept)
    assert any(
        x.n_hidden > 0 or x.n_connections != y.n_connections
        for x, y in zip(populations[3], populations[2])
    )
    scores = start_scores(state.history, config)
    assert scores == [
        max(state.history[g]["best_mean"] for g in (2 * s, 2 * s + 1)) for s in range(3)
    ]
    best = scores.index(max(scores))
    assert len(set(scores)) == 3  # the pick is not a tie
    # generation 6 is the best start's last generation, evaluated again
    assert [x.key() for x in populations[6]] == [x.key() for x in populations[2 * best + 1]]
    assert state.reserve is None


def test_one_start_is_the_search_as_before():
    base = {"pop_size": 12, "seed": 1, "generations": 4}
    plain = run(initial_state(build("swingup", overrides=base, sets=STARTS[2:])), SerialExecutor())
    one = run(
        initial_state(
            build("swingup", overrides=base, sets=["starts=1", "start_generations=2", *STARTS[2:]])
        ),
        SerialExecutor(),
    )
    assert [x.key() for x in one.population] == [x.key() for x in plain.population]
    assert [r["best_mean"] for r in one.history] == [r["best_mean"] for r in plain.history]


TUNED = ["start_pick='tuned'", "start_probe_generations=3"]


def _launcher(master, tmp_path, args):
    """``launch(name, generations, mpi=0)``: run ``src.master`` with ``args`` into
    ``tmp_path / name``, assert it succeeded, return the folder."""

    def launch(name, generations, mpi=0):
        proc = master(
            *args, "--generations", str(generations), "--out", str(tmp_path / name), mpi=mpi
        )
        assert proc.returncode == 0, proc.stderr
        return tmp_path / name

    return launch


def test_tuned_pick_goes_on_from_the_start_whose_probe_scored_highest():
    """Seed 3: the probes pick the last start (29.7, 25.2, 30.9), the generation means the
    first (17.5, 15.3, 14.8), so the pick follows the probe column, not the means."""
    config = build(
        "swingup", overrides={"pop_size": 16, "seed": 3, "generations": 7}, sets=STARTS + TUNED
    )
    populations, objectives = [], []

    def keep(s) -> None:
        populations.append(list(s.population))
        objectives.append(s.objectives)

    state = run(initial_state(config), SerialExecutor(), on_generation=keep)
    probes = [r["start_probe"] for r in state.history]
    assert all(p == p for p in probes[1:6:2]) and all(p != p for p in probes[0:6:2] + probes[6:])
    # each probe is the tuned score of its generation's best genome by mean reward
    for g in (1, 3, 5):
        best = populations[g][int(objectives[g][:, 0].argmax())]
        assert tuned_score(config, best, g, SerialExecutor())[0] == probes[g]
    scores = start_scores(state.history, config)
    assert scores == probes[1:6:2]
    means = start_scores(state.history, config.replace(start_pick="mean"))
    pick = scores.index(max(scores))
    assert pick != means.index(max(means))  # the probe decides here
    assert [x.key() for x in populations[6]] == [x.key() for x in populations[2 * pick + 1]]


def test_max_pick_goes_on_from_the_start_with_the_highest_max_reward():
    """Seed 4: the starts' best max rewards pick the last start (29.5, 30.8, 32.9), their
    best generation means the second (16.8, 17.6, 15.6)."""
    config = build(
        "swingup",
        overrides={"pop_size": 16, "seed": 4, "generations": 7},
        sets=[*STARTS, "start_pick='max'"],
    )
    populations = []
    state = run(
        initial_state(config),
        SerialExecutor(),
        on_generation=lambda s: populations.append(list(s.population)),
    )
    scores = start_scores(state.history, config)
    assert scores == [
        max(state.history[g]["best_max"] for g in (2 * s, 2 * s + 1)) for s in range(3)
    ]
    means = start_scores(state.history, config.replace(start_pick="mean"))
    pick = scores.index(max(scores))
    assert pick != means.index(max(means))  # the max rewards decide here
    assert [x.key() for x in populations[6]] == [x.key() for x in populations[2 * pick + 1]]


def test_tuned_probe_tells_a_balancer_from_a_swinger():
    """Two committed swing-up champions (the defaults before the log complexity, starts4/)
    within 15 of each other with a random shared weight
    (seed 9: 523, seed 8: 508): trained by the report's PEPG, seed 9's holds the pole up
    (table: 909), seed 8's keeps it swinging (744). A 60-generation probe (on its own
    episodes) must rank them the same way, by a clear margin."""
    from pathlib import Path

    from src.api import load_genome

    folder = Path(__file__).parents[2] / "docs" / "results" / "swingup" / "starts4"
    config = build("swingup", sets=["start_probe_generations=60"])
    balancer = tuned_score(config, load_genome(folder / "seed_9" / "best_genome.json"), 127,
                           SerialExecutor())[0]  # fmt: skip
    swinger = tuned_score(config, load_genome(folder / "seed_8" / "best_genome.json"), 127,
                          SerialExecutor())[0]  # fmt: skip
    assert balancer > swinger + 100


def test_start_ranking_ranks_the_starts_only():
    """``start_ranking``: the starts' generations ranked its way, the rest by ``ranking``;
    ``'same'`` or the same method as ``ranking`` leave the search as it was."""
    config = build("swingup", sets=["starts=3", "start_generations=2", "start_ranking='nsga3obj'"])
    assert [ranking_of(config, g) for g in range(8)] == ["nsga3obj"] * 6 + ["paper"] * 2
    assert {ranking_of(config.replace(start_ranking="same"), g) for g in range(8)} == {"paper"}
    one = config.replace(starts=1)
    assert {ranking_of(one, g) for g in range(8)} == {"paper"}
    base = {"pop_size": 16, "seed": 3, "generations": 8}
    runs = {
        how: run(
            initial_state(
                build("swingup", overrides=base, sets=[*STARTS, f"start_ranking={how!r}"])
            ),
            SerialExecutor(),
        )
        for how in ("same", "paper", "nsga3obj")
    }
    keys = {how: [g.key() for g in r.population] for how, r in runs.items()}
    assert keys["same"] == keys["paper"]
    assert keys["nsga3obj"] != keys["same"]


@pytest.mark.checkpoint
@pytest.mark.mpi
def test_tuned_pick_is_the_same_at_any_rank_count_and_on_resume(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "checkpoint"))
    from ckpt_helpers import TINY, master
    from harness import assert_same_run

    args = [*TINY, "--seed", "3", "--set", "starts=3", "--set", "start_generations=2"]
    for s in TUNED:
        args += ["--set", s]
    launch = _launcher(master, tmp_path, args)

    straight, ranks = launch("straight", 7), launch("mpi", 7, mpi=3)
    assert_same_run(straight, ranks)
    stopped = launch("stopped", 4)
    proc = master("--resume", str(stopped), "--generations", "7", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert_same_run(straight, stopped)
    state = checkpoint.load(checkpoint.list_checkpoints(straight)[-1][1])
    probes = [r["start_probe"] for r in state.history]
    assert all(p == p for p in probes[1:6:2])  # the probes went through the checkpoint
    # after the starts the pick no longer matters: changed without --force-config, and the
    # rows after it (no start_probe key) still checkpoint, the column NaN there
    proc = master(
        "--resume", str(straight), "--generations", "8", "--set", "start_pick='mean'", "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    state = checkpoint.load(checkpoint.list_checkpoints(straight)[-1][1])
    assert state.generation == 7 and state.config.start_pick == "mean"
    assert [r["start_probe"] == r["start_probe"] for r in state.history] == [
        g in (1, 3, 5) for g in range(8)
    ]


@pytest.mark.checkpoint
@pytest.mark.mpi
def test_starts_are_the_same_at_any_rank_count_and_on_resume(tmp_path):
    """Seed 2's first start wins (scores 42.7, 38.4, 40.6), so the reserve taken at its end
    (generation 1's genomes) is what generation 6 evaluates again: resumes from generation
    1 (no reserve yet), 2 (just taken) and 5 (the last start's last generation) must carry
    it through the checkpoint."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "checkpoint"))
    from ckpt_helpers import TINY, master
    from harness import assert_same_run

    args = [*TINY, "--seed", "2", "--set", "starts=3", "--set", "start_generations=2"]
    launch = _launcher(master, tmp_path, args)

    straight, ranks = launch("straight", 8), launch("mpi", 8, mpi=3)
    assert_same_run(straight, ranks)
    stopped = {stop: launch(f"stop_{stop}", stop) for stop in (2, 3, 6)}
    states = {
        stop: checkpoint.load(checkpoint.list_checkpoints(folder)[-1][1])
        for stop, folder in stopped.items()
    }
    first_start_end = [g.key() for g in states[2].population]  # generation 1
    assert states[2].reserve is None
    assert [g.key() for g in states[3].reserve] == first_start_end
    assert [g.key() for g in states[6].reserve] == first_start_end
    for folder in stopped.values():
        proc = master("--resume", str(folder), "--generations", "8", "--quiet")
        assert proc.returncode == 0, proc.stderr
        assert_same_run(straight, folder)
    after = checkpoint.load(checkpoint.list_checkpoints(straight)[-1][1])
    assert after.reserve is None and after.generation == 7
    # changing the starts while in them is refused, even with --force-config
    proc = master(
        "--resume",
        str(launch("again", 3)),
        "--generations",
        "8",
        "--set",
        "start_generations=3",
        "--force-config",
        "--quiet",
    )
    assert proc.returncode == 2
    assert (
        "starts, start_generations, start_pick, start_probe_generations, start_ranking cannot "
        "change until they are done" in proc.stderr
    )


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["starts=2", "start_generations=0"], "starts > 1 needs start_generations >= 1"),
        (["starts=0"], "starts must be >= 1"),
        (["starts=2", "start_generations=-1"], "start_generations must be >= 0"),
        (["start_pick='best'"], "start_pick must be one of mean, tuned, max"),
        (["start_probe_generations=0"], "start_probe_generations must be >= 1"),
        (["starts=1", "start_pick='tuned'"], "start_pick = 'tuned' needs starts > 1"),
        (["start_ranking='best'"], "start_ranking must be one of same, paper, nsga3obj"),
    ],
)
def test_bad_starts_are_one_line(sets, message):
    with pytest.raises(ConfigError) as exc:
        build("swingup", sets=sets)
    assert message in str(exc.value) and "\n" not in str(exc.value)
