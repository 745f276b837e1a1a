"""The compiled swing-up kernel against a plain gymnasium episode with the numpy forward pass."""

import gymnasium
import numpy as np
import pytest
from conftest import grown_genome

import envs  # noqa: F401 - registers the env
from src.config import build
from src.core.network import compile_genome, forward
from src.evaluation import EvalRequest, evaluate, objectives, rollout_seeds
from src.search.loop import rankable
from src.tasks import make_task


def gym_episode(plan, weight, seed, max_steps=1000):
    env = gymnasium.make("envs/CartPoleSwingUp-v0")
    obs, _ = env.reset(seed=int(seed))
    total, steps = 0.0, 0
    for _ in range(max_steps):
        action = forward(plan, obs, weight)
        if not np.all(np.isfinite(action)):
            return -np.inf, steps
        obs, reward, terminated, truncated, _ = env.step(action)
        total += reward
        steps += 1
        if terminated or truncated:
            break
    return total, steps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_equals_gymnasium_episode(seed):
    task = make_task(build("swingup"))
    plan = compile_genome(grown_genome(5, 1, 25, seed=seed))
    weights = np.array([-2.0, -0.5, 1.0, 2.0])
    seeds = np.array([11, 12, 13, 14]) + seed
    returns, steps = task.rollouts(plan, weights, seeds)
    expected = [gym_episode(plan, w, s) for w, s in zip(weights, seeds)]
    np.testing.assert_allclose(returns, [e[0] for e in expected], rtol=1e-9, atol=1e-9)
    assert steps == sum(e[1] for e in expected)


def test_episode_ends_when_cart_leaves_track():
    task = make_task(build("swingup"))
    g = grown_genome(5, 1, 0, seed=0)
    # bias only, weight 2: constant full force -> the cart leaves the track before step 1000
    g = g.replace(conn_enabled=g.conn_src == 0)
    returns, steps = task.rollouts(compile_genome(g), np.array([2.0]), np.array([5]))
    expected = gym_episode(compile_genome(g), 2.0, 5)
    assert steps == expected[1] < 1000
    assert returns[0] == pytest.approx(expected[0])


def test_nonfinite_network_scores_worst():
    """A rollout that returned -inf (its network gave NaN: test_conformance.py) makes its
    genome's mean -inf, ranked just below the worst finite one."""
    ok, failed = 250.0, -np.inf
    # (genomes, weights, reps): genome 1 has one failed rollout
    objs = objectives(np.array([[[ok], [ok]], [[ok], [failed]]]), np.ones(2))
    assert objs[1, 0] == -np.inf and objs[1, 1] == ok
    ranked = rankable(np.vstack([objs, [[-5.0, 6.0, 1.0]]]))
    assert np.all(np.isfinite(ranked))
    assert ranked[1, 0] == ranked[:, 0].min() < -5.0


def test_trajectory_replays_the_kernels_rollout():
    """The recorded states and rewards (for pictures) are those of the search's rollout: the
    running return ends on the kernel's return exactly, an early end included, and the last
    state is where the gymnasium env is after the same episode."""
    task = make_task(build("swingup"))
    plan = compile_genome(grown_genome(5, 1, 25, seed=1))
    weights, seeds = np.array([-1.5, 0.5, 2.0]), np.array([21, 22, 23])
    returns, _ = task.rollouts(plan, weights, seeds)
    for w, s, expected in zip(weights, seeds, returns):
        states, rewards = task.trajectory(plan, w, s)
        assert len(states) == len(rewards) + 1 and np.cumsum(rewards)[-1] == expected
    g = grown_genome(5, 1, 0, seed=0)
    g = g.replace(conn_enabled=g.conn_src == 0)  # full force: off the track early
    states, rewards = task.trajectory(compile_genome(g), 2.0, 5)
    assert len(rewards) == gym_episode(compile_genome(g), 2.0, 5)[1] < 1000
    assert abs(states[-1, 0]) > 2.4 and np.all(np.abs(states[:-1, 0]) <= 2.4)
    nan_states, nan_rewards = task.trajectory(plan, np.nan, 1)
    assert len(nan_states) == 1 and nan_rewards.tolist() == [-np.inf]


def test_seeds_depend_on_seed_and_generation_only():
    a = rollout_seeds(3, 7, 4)
    assert np.array_equal(a, rollout_seeds(3, 7, 4))
    assert np.array_equal(a[:2], rollout_seeds(3, 7, 2))
    assert not np.array_equal(a, rollout_seeds(3, 8, 4))
    assert not np.array_equal(a, rollout_seeds(4, 7, 4))


def test_evaluation_independent_of_chunking():
    config = build("swingup", sets=["n_reps=2", "episode_steps=200"])
    genomes = [grown_genome(5, 1, n, seed=n) for n in range(6)]
    whole = evaluate(EvalRequest.of(config, 3, genomes)).returns
    parts = np.concatenate(
        [evaluate(EvalRequest.of(config, 3, genomes[i : i + 2])).returns for i in (0, 2, 4)]
    )
    assert whole.shape == (6, 6, 2)
    assert np.array_equal(whole, parts)
