"""Champion selection by re-evaluation (``champion_reps``): what best_genome.json holds, and
that the memo of re-evaluations never changes a result (resume, MPI). The search's weights
(``weight_jitter``, ``weight_sampling``) and the champion's (``champion_weights``)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from src.config import ConfigError, build
from src.core.genome import Genome
from src.evaluation import CHAMPION_STREAM, EvalRequest, evaluate, objectives, rollout_seeds
from src.parallel import SerialExecutor
from src.search.loop import initial_state, run
from src.search.reporters import StatsFiles

#: The series rules (swing-up's task file defaults to random shared weights): the options'
#: tests switch one on over them.
SERIES = ["weight_sampling='series'", "champion_weights='series'"]
SETS = ["episode_steps=200", "champion_reps=3", "champion_candidates=2"]


def search(tmp_path, generations=6, sets=SETS):
    config = build(
        "swingup", overrides={"pop_size": 24, "seed": 4, "generations": generations}, sets=sets
    )
    state = initial_state(config)
    return run(state, SerialExecutor(), [StatsFiles(tmp_path)])


def rescore(config, genome: Genome) -> float:
    cfg = config.replace(n_reps=config.champion_reps)
    res = evaluate(EvalRequest.of(cfg, 0, [genome], CHAMPION_STREAM))
    return float(objectives(res.returns, np.zeros(1))[0, 0])


def test_champion_streams_never_share_seeds_with_the_search():
    search_seeds = {int(s) for g in range(200) for s in rollout_seeds(4, g, 3)}
    assert not search_seeds & set(rollout_seeds(4, 0, 64, CHAMPION_STREAM).tolist())
    # the search stream is unchanged by the new argument
    assert rollout_seeds(4, 7, 3).tolist() == rollout_seeds(4, 7, 3, 0).tolist()


@pytest.mark.parametrize("champion_weights", ["series", "uniform"])
def test_champion_is_the_best_rescored_candidate(tmp_path, champion_weights):
    state = search(tmp_path, sets=[*SETS, f"champion_weights='{champion_weights}'"])
    info = state.best_info
    assert info["champion_rollouts"] == 3 * len(state.config.weights)
    # the stored score is a fresh re-evaluation on the champion stream
    assert info["champion_score"] == rescore(state.config, state.best)
    saved = json.loads((tmp_path / "best_genome.json").read_text())
    assert saved["champion_score"] == info["champion_score"]
    assert Genome.from_dict(saved) == state.best
    # no candidate of the last generation scores higher on the same episodes
    means = state.objectives[:, 0]
    for i in np.argsort(-means, kind="stable")[:2]:
        assert rescore(state.config, state.population[i]) <= info["champion_score"]


def test_without_champion_reps_the_best_generation_mean_wins(tmp_path):
    state = search(tmp_path, sets=["episode_steps=200", "champion_reps=0"])
    assert "champion_score" not in state.best_info
    best_means = [row["best_mean"] for row in state.history]
    assert state.best_info["mean_reward"] == max(best_means)


@pytest.mark.checkpoint
@pytest.mark.mpi
def test_resume_and_rank_count_leave_the_champion_unchanged(tmp_path):
    """The memo of re-evaluations is not checkpointed and lives on the root only: a run
    resumed halfway (empty memo) and a run on 3 ranks equal a straight serial run."""
    runs = assert_resume_and_ranks_change_nothing(
        tmp_path, ["--set", "champion_reps=3", "--set", "champion_candidates=2"], 3, 5, 3
    )
    assert "champion_score" in json.loads((runs["straight"] / "best_genome.json").read_text())


def test_weight_jitter_scales_search_rollouts_only():
    """Factors in [exp(-j), exp(j)], a function of (seed, generation) alone; the search's
    returns change, the champion stream keeps the exact series."""
    from src.core.genome import initial_genome
    from src.evaluation import weight_factors

    plain = build("swingup", overrides={"seed": 3}, sets=["episode_steps=150", *SERIES])
    jit = plain.replace(weight_jitter=0.347)
    f = weight_factors(jit, 5)
    assert f.shape == (len(jit.weights) * jit.n_reps,)
    assert (f >= np.exp(-0.347)).all() and (f <= np.exp(0.347)).all() and np.ptp(f) > 0
    assert np.array_equal(f, weight_factors(jit, 5))
    assert not np.array_equal(f, weight_factors(jit, 6))
    g = initial_genome(5, 1, 1.0, np.random.default_rng(0))
    search = [evaluate(EvalRequest.of(c, 5, [g])).returns for c in (plain, jit)]
    assert not np.array_equal(*search)
    champ = [evaluate(EvalRequest.of(c, 0, [g], CHAMPION_STREAM)).returns for c in (plain, jit)]
    assert np.array_equal(*champ)


def _search_files(run):
    return (run / "stats.csv").read_text(), json.loads((run / "best_genome.json").read_text())


def test_stratified_weights_one_per_bin_the_same_for_every_genome():
    """Row b of a rep's draws lies in bin b of [-2, 2]; draws are a function of (seed,
    generation, rep) alone, new per generation and rep; the champion stream keeps the series."""
    from src.core.genome import initial_genome
    from src.evaluation import rollout_weights

    plain = build("swingup", overrides={"seed": 3}, sets=["episode_steps=150", *SERIES])
    strat = plain.replace(weight_sampling="stratified")
    w = rollout_weights(strat, 5, 0).reshape(len(strat.weights), strat.n_reps)
    edges = np.linspace(-2, 2, 7)
    assert ((w >= edges[:-1, None]) & (w < edges[1:, None])).all()
    assert np.ptp(w[0]) > 0  # each rep draws anew
    assert np.array_equal(w.ravel(), rollout_weights(strat, 5, 0))
    assert not np.array_equal(w.ravel(), rollout_weights(strat, 6, 0))
    # a rep's draws do not depend on how many reps there are (seeded per rep)
    more = rollout_weights(strat.replace(n_reps=5), 5, 0).reshape(len(strat.weights), 5)
    assert np.array_equal(more[:, : strat.n_reps], w)
    g = initial_genome(5, 1, 1.0, np.random.default_rng(0))
    search = [evaluate(EvalRequest.of(c, 5, [g])).returns for c in (plain, strat)]
    assert not np.array_equal(*search)
    champ = [evaluate(EvalRequest.of(c, 0, [g], CHAMPION_STREAM)).returns for c in (plain, strat)]
    assert np.array_equal(*champ)


def test_uniform_champion_weights_are_fixed_and_leave_the_search_alone():
    """U(-2, 2) draws, as many as the series' rollouts, the same for every request of a run
    (generation 0 of the champion stream), different per run seed; search rollouts unchanged."""
    from src.core.genome import initial_genome
    from src.evaluation import rollout_weights

    plain = build(
        "swingup", overrides={"seed": 3, "n_reps": 16}, sets=["episode_steps=150", *SERIES]
    )
    uni = plain.replace(champion_weights="uniform")
    w = rollout_weights(uni, 0, CHAMPION_STREAM)
    assert w.shape == (len(uni.weights) * 16,)
    assert (np.abs(w) <= 2).all() and w.min() < -1.5 and w.max() > 1.5
    assert np.array_equal(w, rollout_weights(uni, 0, CHAMPION_STREAM))
    assert not np.array_equal(w, rollout_weights(uni.replace(seed=4), 0, CHAMPION_STREAM))
    g = initial_genome(5, 1, 1.0, np.random.default_rng(0))
    champ = [evaluate(EvalRequest.of(c, 0, [g], CHAMPION_STREAM)).returns for c in (plain, uni)]
    assert not np.array_equal(*champ)
    search = [evaluate(EvalRequest.of(c, 5, [g])).returns for c in (plain, uni)]
    assert np.array_equal(*search)


def test_each_weight_option_changes_the_run_it_should(tmp_path):
    """Stratified sampling changes what is bred; uniform champion weights change only the
    champion's score (the search's trajectory is the same)."""
    runs = {}
    for name, extra in (
        ("series", []),
        ("strat", ["weight_sampling='stratified'"]),
        ("uni", ["champion_weights='uniform'"]),
    ):
        (tmp_path / name).mkdir()
        search(tmp_path / name, generations=4, sets=[*SETS, *SERIES, *extra])
        runs[name] = _search_files(tmp_path / name)
    series_stats, series_best = runs["series"]
    assert runs["strat"][0].splitlines()[1] != series_stats.splitlines()[1]

    def bred(text):  # env_steps counts the champion's rollouts too, seconds vary
        rows = csv.DictReader(text.splitlines())
        return [{k: v for k, v in r.items() if k not in ("env_steps", "seconds")} for r in rows]

    assert bred(runs["uni"][0]) == bred(series_stats)
    assert runs["uni"][1]["champion_score"] != series_best["champion_score"]


@pytest.mark.checkpoint
@pytest.mark.mpi
@pytest.mark.parametrize(
    "item",
    ["weight_sampling='stratified'", "champion_weights='uniform'", "duplicates='last'"],
    ids=str,
)
def test_weight_options_are_the_same_at_any_rank_count_and_on_resume(tmp_path, item):
    sets = ["--set", "champion_reps=3", "--set", "champion_candidates=2", "--set", item]
    assert_resume_and_ranks_change_nothing(tmp_path, sets, 2, 4, 2)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["weight_sampling='uniform'"], "weight_sampling must be one of series, stratified"),
        (["champion_weights='stratified'"], "champion_weights must be one of series, uniform"),
        (["weight_sampling=1"], "weight_sampling must be a string"),
        (["duplicates='drop'"], "duplicates must be one of keep, last"),
        (
            ["weight_sampling='stratified'", "weight_jitter=0.3"],
            "weight_jitter needs weight_sampling = 'series'",
        ),
    ],
)
def test_bad_weight_options_are_one_line(sets, message):
    with pytest.raises(ConfigError) as exc:
        build("swingup", sets=sets)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def assert_resume_and_ranks_change_nothing(tmp_path, sets, stop, generations, ranks):
    """Runs of ``sets``: a straight serial one, one stopped after ``stop`` generations and
    resumed, one on ``ranks`` MPI ranks; the three are bit-identical. Returns their folders."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "checkpoint"))
    from ckpt_helpers import TINY, master
    from harness import assert_same_run

    runs = {}
    for name, gens, mpi in (
        ("straight", generations, 0),
        ("resumed", stop, 0),
        ("mpi", generations, ranks),
    ):
        runs[name] = tmp_path / name
        proc = master(*TINY, *sets, "--generations", str(gens), "--out", str(runs[name]), mpi=mpi)
        assert proc.returncode == 0, proc.stderr
    proc = master("--resume", str(runs["resumed"]), "--generations", str(generations), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert_same_run(runs["straight"], runs["resumed"])
    assert_same_run(runs["straight"], runs["mpi"])
    return runs


def test_with_duplicates_last_the_elites_are_distinct_networks():
    """``duplicates = 'last'``: the elites (the best-ranked genomes, copied unchanged) are
    distinct networks whenever the population holds that many; with 'keep' copies of one
    network can take several elite places (a tiny network's mutations often change nothing)."""
    from src.search.loop import next_population

    copies = {}
    for rule in ("keep", "last"):
        config = build(
            "swingup",
            overrides={"pop_size": 40, "seed": 2, "generations": 8},
            sets=["episode_steps=100", f"duplicates='{rule}'", "elite_ratio=0.5"],
        )
        state = run(initial_state(config), SerialExecutor())
        n_elite = int(config.elite_ratio * config.pop_size)
        distinct = len({g.key() for g in state.population})
        elites = next_population(state)[:n_elite]
        copies[rule] = n_elite - len({g.key() for g in elites})
        if rule == "last":
            assert distinct >= n_elite and copies[rule] == 0
    assert copies["keep"] > 0


def test_weight_noise_scales_each_connection_per_row_in_search_rollouts_only():
    """``weight_noise``: a factor per (row of the weights, connection), a function of (seed,
    generation, source, destination) alone; a genome's search rollouts are the task's
    rollouts with its row's factors as edge coefficients, whole or in slices; the champion
    stream has none."""
    from src.core.genome import initial_genome
    from src.core.network import compile_genome
    from src.evaluation import connection_noise, rollout_weights
    from src.tasks import make_task

    plain = build("swingup", overrides={"seed": 3}, sets=["episode_steps=150"])
    noisy = plain.replace(weight_noise=0.2)
    src, dst = np.arange(3000) % 31, np.arange(3000) // 31 + 40
    f = connection_noise(noisy, 5, src, dst)
    assert f.shape == (len(noisy.weights), 3000)
    half = 0.2 * np.sqrt(3.0)
    assert (f >= 1 - half).all() and (f <= 1 + half).all()
    assert abs(f.mean() - 1) < 0.01 and abs(f.std() - 0.2) < 0.01
    assert not np.array_equal(f[0], f[1])  # each row its own draws
    assert np.array_equal(connection_noise(noisy, 5, src[::-1], dst[::-1]), f[:, ::-1])
    assert not np.array_equal(connection_noise(noisy, 6, src, dst), f)
    g = initial_genome(5, 1, 0.5, np.random.default_rng(1))
    # disabled connections before enabled ones: the request packs the enabled ones only, so
    # the evaluating rank's edge indices differ from this genome's
    assert g.conn_enabled.tolist() == [False, False, True, False, True, True]
    plan, task = compile_genome(g), make_task(noisy)
    w = rollout_weights(noisy, 5, 0)
    seeds = np.tile(rollout_seeds(noisy.seed, 5, noisy.n_reps), len(noisy.weights))
    coef = connection_noise(noisy, 5, g.conn_src[plan.edge_conn], g.conn_dst[plan.edge_conn])
    want = np.concatenate(
        [
            task.rollouts(plan, w[r * 3 : r * 3 + 3], seeds[r * 3 : r * 3 + 3], coef[r])[0]
            for r in range(len(noisy.weights))
        ]
    )
    whole = evaluate(EvalRequest.of(noisy, 5, [g])).returns.ravel()
    assert np.array_equal(whole, want)
    assert not np.array_equal(whole, evaluate(EvalRequest.of(plain, 5, [g])).returns.ravel())
    part = evaluate(EvalRequest.of(noisy, 5, [g], rollouts=(2, 11))).returns.ravel()
    assert np.array_equal(part, want[2:11])
    champ = [evaluate(EvalRequest.of(c, 0, [g], CHAMPION_STREAM)).returns for c in (plain, noisy)]
    assert np.array_equal(*champ)
