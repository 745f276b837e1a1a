"""Tests for the cart-pole swing-up environment (``envs.swingup``)."""

from __future__ import annotations

import math
import warnings

import gymnasium
import numba
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.swingup import (
    CartPoleSwingUpEnv,
    initial_state,
    observation,
    step_dynamics,
    step_reward,
)


def _env_with_state(state: tuple[float, float, float, float]) -> CartPoleSwingUpEnv:
    """Returns a reset env whose internal state is overwritten with ``state``."""
    env = CartPoleSwingUpEnv()
    env.reset(seed=0)
    env.state = np.array(state, dtype=np.float64)
    return env


@pytest.mark.parametrize("render_mode", [None, "rgb_array"])
def test_check_env_passes(render_mode: str | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # The unbounded observation space is part of the specification.
        warnings.filterwarnings("ignore", message=r".*Box observation space m\w+ value is")
        # Through gymnasium.make the env has a spec, so alternative render modes are checked too.
        check_env(gymnasium.make("envs/CartPoleSwingUp-v0", render_mode=render_mode).unwrapped)
        # A directly constructed env has no spec, which the checker points out.
        warnings.filterwarnings("ignore", message=r".*alternative render modes")
        check_env(CartPoleSwingUpEnv(render_mode=render_mode).unwrapped)


def test_gymnasium_make_after_import() -> None:
    assert envs.SWINGUP_ENV_ID == "envs/CartPoleSwingUp-v0"
    env = gymnasium.make("envs/CartPoleSwingUp-v0")
    assert isinstance(env.unwrapped, envs.CartPoleSwingUpEnv)
    assert env.spec is not None
    assert env.spec.max_episode_steps is None
    obs, info = env.reset(seed=3)
    assert obs.shape == (5,)
    assert obs.dtype == np.float64
    assert info == {}
    obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)
    assert isinstance(reward, float)
    assert terminated is False
    assert truncated is False
    env.close()


def test_spaces_and_metadata() -> None:
    env = CartPoleSwingUpEnv()
    assert env.observation_space == gymnasium.spaces.Box(-np.inf, np.inf, (5,), np.float64)
    assert env.action_space == gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)
    assert env.metadata == {"render_modes": ["rgb_array"], "render_fps": 100}


def test_first_two_steps_match_hand_computed_euler() -> None:
    env = _env_with_state((0.1, -0.2, 3.0, 0.5))

    # Step 1 from (x, x_dot, theta, theta_dot) = (0.1, -0.2, 3.0, 0.5), action 0.3 -> F = 3 N.
    # m_p = 0.5, l = 0.6, g = 9.82, M = 1.0, b = 0.1, dt = 0.01; theta_dot**2 = 0.25.
    s, c = math.sin(3.0), math.cos(3.0)
    x_acc = (-2 * 0.5 * 0.6 * 0.25 * s + 3 * 0.5 * 9.82 * s * c + 4 * 3.0 - 4 * 0.1 * -0.2) / (
        4 * 1.0 - 3 * 0.5 * c**2
    )
    th_acc = (-3 * 0.5 * 0.6 * 0.25 * s * c + 6 * 1.0 * 9.82 * s + 6 * (3.0 - 0.1 * -0.2) * c) / (
        4 * 0.6 * 1.0 - 3 * 0.5 * 0.6 * c**2
    )
    x1 = 0.1 + -0.2 * 0.01  # positions use the old velocities
    th1 = 3.0 + 0.5 * 0.01
    x_dot1 = -0.2 + x_acc * 0.01
    th_dot1 = 0.5 + th_acc * 0.01

    obs, reward, terminated, truncated, info = env.step(np.array([0.3]))
    np.testing.assert_allclose(env.state, [x1, x_dot1, th1, th_dot1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        obs, [x1, x_dot1, math.cos(th1), math.sin(th1), th_dot1], rtol=0, atol=1e-12
    )
    expected_reward = (math.cos(th1) + 1) / 2 * math.cos(x1 / 2.4 * math.pi / 2)
    assert reward == pytest.approx(expected_reward, abs=1e-12)
    assert (terminated, truncated, info) == (False, False, {})

    # Step 2: action 5.0 (a plain float) is clipped to 1 -> F = 10 N.
    s, c = math.sin(th1), math.cos(th1)
    x_acc = (
        -2 * 0.5 * 0.6 * th_dot1**2 * s + 3 * 0.5 * 9.82 * s * c + 4 * 10.0 - 4 * 0.1 * x_dot1
    ) / (4 * 1.0 - 3 * 0.5 * c**2)
    th_acc = (
        -3 * 0.5 * 0.6 * th_dot1**2 * s * c + 6 * 1.0 * 9.82 * s + 6 * (10.0 - 0.1 * x_dot1) * c
    ) / (4 * 0.6 * 1.0 - 3 * 0.5 * 0.6 * c**2)
    expected2 = [
        x1 + x_dot1 * 0.01,
        x_dot1 + x_acc * 0.01,
        th1 + th_dot1 * 0.01,
        th_dot1 + th_acc * 0.01,
    ]
    env.step(5.0)
    np.testing.assert_allclose(env.state, expected2, rtol=0, atol=1e-12)


def test_action_clipping_is_symmetric() -> None:
    state = (0.1, -0.2, 3.0, 0.5)
    assert step_dynamics(*state, 5.0) == step_dynamics(*state, 1.0)
    assert step_dynamics(*state, -7.5) == step_dynamics(*state, -1.0)
    assert step_dynamics(*state, 0.5) != step_dynamics(*state, 1.0)


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_reset_is_deterministic_and_matches_initial_state(seed: int) -> None:
    env_a, env_b = CartPoleSwingUpEnv(), CartPoleSwingUpEnv()
    obs_a, info_a = env_a.reset(seed=seed)
    obs_b, _ = env_b.reset(seed=seed)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(env_a.state, env_b.state)
    assert info_a == {}

    expected = initial_state(np.random.default_rng(seed))
    assert expected.shape == (4,)
    assert expected.dtype == np.float64
    np.testing.assert_array_equal(env_a.state, expected)
    # The exact draw documented in the spec.
    np.testing.assert_array_equal(
        expected,
        np.random.default_rng(seed).normal(loc=[0.0, 0.0, math.pi, 0.0], scale=[0.2] * 4),
    )
    np.testing.assert_array_equal(obs_a, observation(*expected))


def test_initial_states_hang_down() -> None:
    states = np.stack([initial_state(np.random.default_rng(s)) for s in range(200)])
    assert abs(states[:, 2].mean() - math.pi) < 0.05
    assert np.all(np.abs(states[:, 0]) < 1.0)


def test_observation_layout() -> None:
    obs = observation(0.5, -1.0, 0.25, 2.0)
    assert obs.dtype == np.float64
    np.testing.assert_array_equal(obs, [0.5, -1.0, math.cos(0.25), math.sin(0.25), 2.0])


def test_reward_values() -> None:
    assert step_reward(0.0, 0.0) == 1.0
    assert abs(step_reward(0.0, math.pi)) < 1e-15
    assert abs(step_reward(2.4, 0.0)) < 1e-15
    assert abs(step_reward(-2.4, 0.0)) < 1e-15
    assert step_reward(1.2, 0.0) == pytest.approx(math.cos(math.pi / 4))
    assert step_reward(0.0, math.pi / 2) == pytest.approx(0.5)
    assert step_reward(2.5, 0.0) < 0.0


def test_upright_at_centre_step_pays_about_one() -> None:
    env = _env_with_state((0.0, 0.0, 0.0, 0.0))
    _, reward, terminated, truncated, _ = env.step(0.0)
    assert reward == 1.0
    assert not terminated
    assert not truncated


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_terminates_when_leaving_track(sign: float) -> None:
    env = _env_with_state((sign * 2.39, sign * 2.0, 0.0, 0.0))
    _, reward, terminated, truncated, _ = env.step(0.0)
    x, _, theta, _ = env.state
    assert sign * x > 2.4
    assert terminated is True
    assert truncated is False
    assert reward == step_reward(x, theta)  # the terminating step is still paid
    with pytest.raises(RuntimeError):
        env.step(0.0)


def test_no_termination_exactly_at_limit() -> None:
    env = _env_with_state((2.4, 0.0, math.pi, 0.0))
    _, _, terminated, _, _ = env.step(0.0)
    assert env.state[0] == 2.4
    assert terminated is False


def test_truncated_exactly_at_step_1000() -> None:
    env = _env_with_state((0.0, 0.0, math.pi, 0.0))  # resting equilibrium, stays on the track
    for step in range(1, 1001):
        _, _, terminated, truncated, _ = env.step(np.zeros(1, dtype=np.float32))
        assert terminated is False
        assert truncated is (step == 1000), step
    assert env.steps == 1000
    with pytest.raises(RuntimeError):
        env.step(0.0)
    env.reset(seed=1)
    assert env.steps == 0
    env.step(0.0)


def test_step_before_reset_raises() -> None:
    with pytest.raises(RuntimeError):
        CartPoleSwingUpEnv().step(0.0)


def test_step_rejects_multi_element_action() -> None:
    env = _env_with_state((0.0, 0.0, math.pi, 0.0))
    with pytest.raises(ValueError):
        env.step(np.array([0.1, 0.2]))


def test_njit_step_dynamics_matches_python() -> None:
    jitted_dynamics = numba.njit(step_dynamics)
    jitted_reward = numba.njit(step_reward)
    rng = np.random.default_rng(7)
    for _ in range(100):
        state = tuple(float(v) for v in rng.normal(0.0, 2.0, size=4))
        action = float(rng.normal(0.0, 2.0))
        np.testing.assert_allclose(
            jitted_dynamics(*state, action), step_dynamics(*state, action), rtol=0, atol=1e-12
        )
        assert jitted_reward(state[0], state[2]) == pytest.approx(
            step_reward(state[0], state[2]), abs=1e-12
        )


def test_step_dynamics_given_sin_and_cos_is_step_dynamics() -> None:
    """The swing-up lanes pass sin and cos of the angle in (``s``, ``c``): bit for bit what
    step_dynamics computes without them, in Python and compiled, also at the action's clip
    and with NaN."""
    jitted = numba.njit(step_dynamics)
    rng = np.random.default_rng(11)
    for i in range(2000):
        state = tuple(float(v) for v in rng.normal(0.0, 3.0, size=4))
        action = float(rng.normal(0.0, 2.0)) if i % 100 else math.nan
        s, c = math.sin(state[2]), math.cos(state[2])
        expected = np.array(step_dynamics(*state, action))
        for got in (step_dynamics(*state, action, s, c), jitted(*state, action, s, c)):
            assert np.array(got).tobytes() == expected.tobytes()
        assert np.array(jitted(*state, action)).tobytes() == expected.tobytes()


def test_rgb_array_render() -> None:
    env = CartPoleSwingUpEnv(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert isinstance(frame, np.ndarray)
    assert frame.ndim == 3
    assert frame.shape[2] == 3
    assert frame.dtype == np.uint8
    assert (frame != 255).any()  # something was drawn
    env.step(1.0)
    assert env.render().shape == frame.shape


def test_render_none_mode_returns_none() -> None:
    env = CartPoleSwingUpEnv()
    env.reset(seed=0)
    with pytest.warns(UserWarning):
        assert env.render() is None


def test_invalid_render_mode_raises() -> None:
    with pytest.raises(ValueError):
        CartPoleSwingUpEnv(render_mode="human")
