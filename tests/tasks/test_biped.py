"""BipedalWalker task: determinism, the paper's changes, a smoke search (the lockstep loop
and its network kernel: test_lockstep.py)."""

import json
import warnings

import gymnasium
import numpy as np
import pytest
from conftest import grown_genome
from harness import launch

from src.config import build
from src.core.network import compile_genome, forward
from src.tasks import make_task
from src.tasks.biped import Biped, FreshWorldWalker, bw

WEIGHTS = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])


def fixed_policy_episode(env, seed, max_steps=1600):
    """A deterministic hand-made policy (falls after a few hundred steps)."""
    obs, _ = env.reset(seed=seed)
    total = 0.0
    for _ in range(max_steps):
        obs, reward, terminated, _, _ = env.step(np.tanh(3 * obs[:4] + obs[4:8]))
        total += reward
        if terminated:
            break
    return total


def test_gymnasium_env_reused_depends_on_history():
    """The scenario below catches the reference's bug: a reused Box2D world."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = bw.BipedalWalker()
        first = fixed_policy_episode(env, 5)
        for s in (1, 2, 3):
            fixed_policy_episode(env, s)
        assert fixed_policy_episode(env, 5) != first


def test_fresh_world_walker_does_not_depend_on_history():
    env = FreshWorldWalker()
    first = fixed_policy_episode(env, 5)
    for s in (1, 2, 3):
        fixed_policy_episode(env, s)
    assert fixed_policy_episode(env, 5) == first == fixed_policy_episode(FreshWorldWalker(), 5)


def gym_episode(plan, weight, seed, max_steps):
    """gymnasium's own env (fresh instance), numpy forward pass, penalty undone by hand."""
    env = gymnasium.make("BipedalWalker-v3")
    obs, _ = env.reset(seed=int(seed))
    total, steps, fell = 0.0, 0, False
    for _ in range(max_steps):
        raw = forward(plan, obs, weight)
        action = np.clip(raw, -1, 1)
        hull = env.unwrapped.hull
        shaping_before = 130 * hull.position[0] / bw.SCALE - 5 * abs(hull.angle)
        obs, reward, terminated, truncated, _ = env.step(action)
        steps += 1
        if terminated and reward == -100:  # a fall: pay what the step earned instead
            fell = True
            shaping = 130 * hull.position[0] / bw.SCALE - 5 * abs(hull.angle)
            reward = shaping - shaping_before - 0.00035 * 80 * np.abs(action).sum()
        total += reward
        if terminated or truncated:
            break
    return total, steps, fell


def test_rollouts_equal_gymnasium_episodes_without_fall_penalty():
    plan = compile_genome(grown_genome(24, 4, 10, seed=0))
    seeds = np.array([3, 3, 4, 4, 5, 5])
    task = Biped("biped", 300)
    returns, steps = task.rollouts(plan, WEIGHTS, seeds)
    expected = [gym_episode(plan, w, s, 300) for w, s in zip(WEIGHTS, seeds)]
    assert any(e[2] for e in expected), "the scenario should contain a fall"
    assert all(r > -100 for r in returns)
    np.testing.assert_allclose(returns, [e[0] for e in expected], rtol=1e-9, atol=1e-9)
    assert steps == sum(e[1] for e in expected)


def test_episode_lengths_and_hardcore():
    assert make_task(build("biped")).episode_steps == 1600
    hard = make_task(build("biped-hardcore"))
    assert hard.episode_steps == 2000 and hard.envs(1)[0].hardcore
    assert make_task(build("biped", sets=["episode_steps=30"])).episode_steps == 30
    # the episode cap holds: a network that stands still runs exactly 30 steps
    g = grown_genome(24, 4, 0, seed=0)
    g = g.replace(conn_enabled=np.zeros_like(g.conn_enabled))
    task = make_task(build("biped", sets=["episode_steps=30"]))
    _, steps = task.rollouts(compile_genome(g), np.ones(2), np.array([0, 1]))
    assert steps == 60


@pytest.mark.parametrize("task", ["biped", "biped-hardcore"])
def test_smoke_search(tmp_path, task):
    out = tmp_path / "run"
    args = ["--task", task, "--out", str(out), "--generations", "2", "--pop-size", "8"]
    proc = launch("-m", "src.master", *args, "--set", "episode_steps=20", "--quiet")
    assert proc.returncode == 0, proc.stderr
    rows = (out / "stats.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("generation,")
    best = json.loads((out / "best_genome.json").read_text())
    assert best["task"] == task and best["n_inputs"] == 24 and best["n_outputs"] == 4
