"""Champion selection by re-evaluation (``champion_reps``): what best_genome.json holds, and
that the memo of re-evaluations never changes a result (resume, MPI)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from src.config import build
from src.core.genome import Genome
from src.evaluation import CHAMPION_STREAM, EvalRequest, evaluate, objectives, rollout_seeds
from src.parallel import SerialExecutor
from src.search.loop import Reporter, initial_state, run

SETS = ["episode_steps=200", "champion_reps=3", "champion_candidates=2"]


def search(tmp_path, generations=6, sets=SETS):
    config = build(
        "swingup", overrides={"pop_size": 24, "seed": 4, "generations": generations}, sets=sets
    )
    state = initial_state(config)
    return run(state, SerialExecutor(), Reporter(tmp_path, log=lambda _: None))


def rescore(config, genome: Genome) -> float:
    cfg = config.replace(n_reps=config.champion_reps)
    res = evaluate(EvalRequest.of(cfg, 0, [genome], CHAMPION_STREAM))
    return float(objectives(res.returns, np.zeros(1))[0, 0])


def test_champion_streams_never_share_seeds_with_the_search():
    search_seeds = {int(s) for g in range(200) for s in rollout_seeds(4, g, 3)}
    assert not search_seeds & set(rollout_seeds(4, 0, 64, CHAMPION_STREAM).tolist())
    # the search stream is unchanged by the new argument
    assert rollout_seeds(4, 7, 3).tolist() == rollout_seeds(4, 7, 3, 0).tolist()


def test_champion_is_the_best_rescored_candidate(tmp_path):
    state = search(tmp_path)
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
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "checkpoint"))
    from ckpt_helpers import TINY, assert_same_run, master

    sets = ["--set", "champion_reps=3", "--set", "champion_candidates=2"]
    runs = {}
    for name, gens, mpi in (("straight", 5, 0), ("resumed", 3, 0), ("mpi", 5, 3)):
        runs[name] = tmp_path / name
        proc = master(*TINY, *sets, "--generations", str(gens), "--out", str(runs[name]), mpi=mpi)
        assert proc.returncode == 0, proc.stderr
    proc = master("--resume", str(runs["resumed"]), "--generations", "5", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "champion_score" in json.loads((runs["straight"] / "best_genome.json").read_text())
    assert_same_run(runs["straight"], runs["resumed"])
    assert_same_run(runs["straight"], runs["mpi"])


def test_weight_jitter_scales_search_rollouts_only():
    """Factors in [exp(-j), exp(j)], a function of (seed, generation) alone; the search's
    returns change, the champion stream keeps the exact series."""
    from src.core.genome import initial_genome
    from src.evaluation import weight_factors

    plain = build("swingup", overrides={"seed": 3}, sets=["episode_steps=150"])
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
