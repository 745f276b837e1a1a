"""``--task gym:ENV_ID``: spaces mapped as documented, episodes equal plain gymnasium ones,
and a search through the command line that workers, resume and the report all accept."""

import gymnasium
import numpy as np
import pytest
from conftest import grown_genome
from harness import assert_same_run, launch

from src.config import build
from src.core.genome import initial_genome
from src.core.network import compile_genome, forward
from src.tasks import io_names, make_task
from src.tasks.gym import GymTask


def test_box_and_discrete_spaces_become_inputs_and_outputs():
    pendulum = GymTask("Pendulum-v1")  # Box(3) observations, Box(-2, 2, (1,)) actions
    assert (pendulum.n_inputs, pendulum.n_outputs, pendulum.episode_steps) == (3, 1, 200)
    actions = pendulum.actions(np.array([[-7.0], [0.5], [np.inf]]))
    assert [a.tolist() for a in actions] == [[-2.0], [0.5], [2.0]]
    assert all(a.dtype == np.float32 and a.shape == (1,) for a in actions)
    # unbounded observations are passed through unchanged
    obs = np.array([[1.0, -1e6, 3.5]], dtype=np.float32)
    assert pendulum.observe(obs).tolist() == [[1.0, -1e6, 3.5]]
    cartpole = GymTask("CartPole-v1")  # Discrete(2) actions: argmax of 2 outputs
    assert (cartpole.n_inputs, cartpole.n_outputs, cartpole.episode_steps) == (4, 2, 500)
    assert cartpole.actions(np.array([[0.1, 0.2], [3.0, -1.0]])) == [1, 0]
    lake = GymTask("FrozenLake-v1")  # Discrete(16) observations: one-hot
    assert (lake.n_inputs, lake.n_outputs) == (16, 4)
    hot = lake.observe(np.array([0, 5]))
    assert hot.shape == (2, 16) and hot[0, 0] == hot[1, 5] == 1.0 and hot.sum() == 2.0


def plain_episode(env_id, plan, weight, seed, discrete):
    """gymnasium's own env and the numpy forward pass, mapped by hand."""
    env = gymnasium.make(env_id)
    obs, _ = env.reset(seed=seed)
    total, steps = 0.0, 0
    while True:
        out = forward(plan, np.asarray(obs, np.float64), weight)
        if not np.isfinite(out).all():
            return -np.inf, steps
        if discrete:
            action = int(np.argmax(out))
        else:
            space = env.action_space
            action = np.clip(out, space.low, space.high).astype(space.dtype)
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        steps += 1
        if terminated or truncated:
            return total, steps


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "LunarLander-v3"])
def test_rollouts_equal_plain_gymnasium_episodes(env_id):
    task = make_task(build(f"gym:{env_id}"))
    plan = compile_genome(grown_genome(task.n_inputs, task.n_outputs, 12, seed=4))
    weights, seeds = np.array([-2.0, -0.5, 1.0, 2.0]), np.array([3, 3, 8, 21])
    returns, steps = task.rollouts(plan, weights, seeds)
    discrete = isinstance(gymnasium.make(env_id).action_space, gymnasium.spaces.Discrete)
    expected = [plain_episode(env_id, plan, w, int(s), discrete) for w, s in zip(weights, seeds)]
    np.testing.assert_allclose(returns, [e[0] for e in expected], rtol=1e-9, atol=1e-9)
    assert steps == sum(e[1] for e in expected)


def test_episode_steps_replaces_the_envs_own_limit():
    """Pendulum never terminates: its rollouts last exactly the limit, 200 by its spec,
    longer or shorter with episode_steps."""
    g = initial_genome(3, 1, 1.0, np.random.default_rng(0))
    for steps, expected in ((0, 200), (250, 250), (7, 7)):
        task = make_task(build("gym:Pendulum-v1", sets=[f"episode_steps={steps}"]))
        assert task.episode_steps == expected
        _, n = task.rollouts(compile_genome(g), np.ones(2), np.array([0, 1]))
        assert n == 2 * expected


def test_inputs_and_outputs_are_named_by_position_in_pictures():
    assert io_names(build("gym:Pendulum-v1")) == (("obs_0", "obs_1", "obs_2"), ("act_0",))
    assert io_names(build("swingup"))[1] == ("force",)
    digits = tuple(str(d) for d in range(10))
    assert io_names(build("mnist256", sets=["batch_size=10"])) == (None, digits)


def search(out, *args):
    return launch(
        "-m",
        "src.master",
        *("--task", "gym:CartPole-v1", "--pop-size", "8", "--seed", "3", "--out", str(out)),
        *("--set", "n_reps=1", "--set", "champion_reps=2", "--quiet", *args),
        timeout=300,
    )


def test_search_serial_equals_workers_and_resume_and_gets_a_report(tmp_path):
    straight, pooled, resumed = tmp_path / "straight", tmp_path / "pooled", tmp_path / "resumed"
    for out, args in ((straight, ()), (pooled, ("--workers", "2"))):
        proc = search(out, "--generations", "3", *args)
        assert proc.returncode == 0, proc.stderr
    assert len((straight / "stats.csv").read_text().splitlines()) == 4
    assert_same_run(straight, pooled)
    proc = search(resumed, "--generations", "2")
    assert proc.returncode == 0, proc.stderr
    proc = launch("-m", "src.master", "--resume", str(resumed), "--generations", "3", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert_same_run(straight, resumed)
    assert 'task = "gym:CartPole-v1"' in (straight / "config.toml").read_text()
    tiny = ["--episodes", "4", "--sweep", "5", "--tune-generations", "2", "--tune-popsize", "4"]
    tiny += ["--tune-episodes", "1", "--fixed-hidden", "2", "--quiet"]
    proc = launch("-m", "src.report", str(straight), *tiny, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = (straight / "report" / "report.md").read_text()
    assert report.startswith("# WANN report: gym:CartPole-v1")
    assert (straight / "report" / "network.png").stat().st_size > 0
