"""Cart-pole swing-up environment used by the WANN experiments.

The physics, reward and initial-state distribution follow the reference implementation used by
the Weight Agnostic Neural Networks authors (``cartpole_swingup.py`` from their ``estool`` /
``prettyNEAT`` code). The per-step maths is exposed as pure, ``numba.njit``-compatible module
functions (:func:`step_dynamics`, :func:`step_reward`) so that fast batched rollouts elsewhere in
the project can reuse exactly the same equations as :class:`CartPoleSwingUpEnv`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from gymnasium import spaces

# --- Physical constants (SI units) -------------------------------------------------------------
GRAVITY: float = 9.82
"""Gravitational acceleration g (m/s^2)."""
CART_MASS: float = 0.5
"""Mass of the cart (kg)."""
POLE_MASS: float = 0.5
"""Mass of the pole m_p (kg)."""
TOTAL_MASS: float = CART_MASS + POLE_MASS
"""Total mass M = cart mass + pole mass (kg)."""
POLE_LENGTH: float = 0.6
"""Pole length l (m), as used in the equations of motion."""
FORCE_SCALE: float = 10.0
"""Force (N) applied to the cart for an action of +1."""
FRICTION: float = 0.1
"""Cart friction coefficient b (N s/m)."""
TIME_STEP: float = 0.01
"""Explicit Euler integration step dt (s)."""

# --- Episode constants -------------------------------------------------------------------------
X_LIMIT: float = 2.4
"""Track half-length (m); the episode terminates when |x| > X_LIMIT."""
MAX_EPISODE_STEPS: int = 1000
"""Number of steps after which the episode is truncated."""

# --- Initial-state distribution ----------------------------------------------------------------
INITIAL_STATE_MEAN: tuple[float, float, float, float] = (0.0, 0.0, math.pi, 0.0)
"""Mean of the Gaussian initial state (x, x_dot, theta, theta_dot): pole hanging down."""
INITIAL_STATE_STD: tuple[float, float, float, float] = (0.2, 0.2, 0.2, 0.2)
"""Standard deviation of the Gaussian initial state, per component."""

# --- Rendering ---------------------------------------------------------------------------------
RENDER_HEIGHT: int = 400
"""Height in pixels of frames returned by ``render()`` in ``"rgb_array"`` mode."""
RENDER_WIDTH: int = 600
"""Width in pixels of frames returned by ``render()`` in ``"rgb_array"`` mode."""


def step_dynamics(
    x: float,
    x_dot: float,
    theta: float,
    theta_dot: float,
    action: float,
    s: float | None = None,
    c: float | None = None,
) -> tuple[float, float, float, float]:
    """Advances the cart-pole state by one explicit Euler step of length ``TIME_STEP``.

    The raw action is clipped to [-1, 1] and scaled by ``FORCE_SCALE`` to give the force F.
    Accelerations are computed from the *old* state, then positions are updated with the old
    velocities and velocities with the accelerations (reference ordering)::

        x_acc  = (-2 m_p l th_dot^2 s + 3 m_p g s c + 4 F - 4 b x_dot) / (4 M - 3 m_p c^2)
        th_acc = (-3 m_p l th_dot^2 s c + 6 M g s + 6 (F - b x_dot) c) / (4 l M - 3 m_p l c^2)

    with s = sin(theta), c = cos(theta).

    This function only uses float arithmetic, ``math`` functions and numeric module constants,
    so ``numba.njit(step_dynamics)`` compiles it (an omitted ``s`` or ``c`` is pruned at
    compile time).

    Args:
        x: Cart position (m).
        x_dot: Cart velocity (m/s).
        theta: Pole angle (rad), 0 is upright, counter-clockwise positive.
        theta_dot: Pole angular velocity (rad/s).
        action: Raw controller output; clipped to [-1, 1] (NaN propagates).
        s, c: ``sin(theta)`` and ``cos(theta)`` if the caller has them (the swing-up lane
            kernel: its observation's), else computed here; given as ``math.sin(theta)`` and
            ``math.cos(theta)``, the result is the same bit for bit, with one ``sincos`` less.

    Returns:
        The new state ``(x, x_dot, theta, theta_dot)``.
    """
    force = min(max(action, -1.0), 1.0) * FORCE_SCALE
    if s is None:
        s = math.sin(theta)
    if c is None:
        c = math.cos(theta)
    x_acc = (
        -2.0 * POLE_MASS * POLE_LENGTH * theta_dot**2 * s
        + 3.0 * POLE_MASS * GRAVITY * s * c
        + 4.0 * force
        - 4.0 * FRICTION * x_dot
    ) / (4.0 * TOTAL_MASS - 3.0 * POLE_MASS * c**2)
    theta_acc = (
        -3.0 * POLE_MASS * POLE_LENGTH * theta_dot**2 * s * c
        + 6.0 * TOTAL_MASS * GRAVITY * s
        + 6.0 * (force - FRICTION * x_dot) * c
    ) / (4.0 * POLE_LENGTH * TOTAL_MASS - 3.0 * POLE_MASS * POLE_LENGTH * c**2)
    new_x = x + x_dot * TIME_STEP
    new_theta = theta + theta_dot * TIME_STEP
    new_x_dot = x_dot + x_acc * TIME_STEP
    new_theta_dot = theta_dot + theta_acc * TIME_STEP
    return new_x, new_x_dot, new_theta, new_theta_dot


def step_reward(x: float, theta: float) -> float:
    """Computes the per-step reward for a (post-step) cart position and pole angle.

    ``reward = (cos(theta) + 1) / 2 * cos(x / X_LIMIT * pi / 2)``: 1 with the pole upright over
    the track centre, 0 with the pole hanging down or the cart at the track limit. It becomes
    slightly negative once the cart is beyond the limit. ``numba.njit``-compatible.

    Args:
        x: Cart position (m).
        theta: Pole angle (rad), 0 is upright.

    Returns:
        The reward as a float.
    """
    reward_theta = (math.cos(theta) + 1.0) / 2.0
    reward_x = math.cos(x / X_LIMIT * (math.pi / 2.0))
    return reward_theta * reward_x


def observation(x: float, x_dot: float, theta: float, theta_dot: float) -> np.ndarray:
    """Builds the observation vector from a state.

    Args:
        x: Cart position (m).
        x_dot: Cart velocity (m/s).
        theta: Pole angle (rad).
        theta_dot: Pole angular velocity (rad/s).

    Returns:
        ``float64`` array of shape (5,): ``[x, x_dot, cos(theta), sin(theta), theta_dot]``.
    """
    return np.array(
        [x, x_dot, math.cos(theta), math.sin(theta), theta_dot],
        dtype=np.float64,
    )


def initial_state(rng: np.random.Generator) -> np.ndarray:
    """Draws an initial state exactly as :meth:`CartPoleSwingUpEnv.reset` does.

    Performs a single call ``rng.normal(loc=INITIAL_STATE_MEAN, scale=INITIAL_STATE_STD)``, so
    ``initial_state(np.random.default_rng(seed))`` equals the state after
    ``env.reset(seed=seed)``.

    Args:
        rng: Random generator to draw from (advanced by four normal draws).

    Returns:
        ``float64`` array of shape (4,): ``(x, x_dot, theta, theta_dot)``.
    """
    return np.asarray(
        rng.normal(loc=list(INITIAL_STATE_MEAN), scale=list(INITIAL_STATE_STD)),
        dtype=np.float64,
    )


class CartPoleSwingUpEnv(gym.Env[np.ndarray, np.ndarray]):
    """Cart-pole swing-up: swing a hanging pole upright and balance it, keeping the cart centred.

    ## Description

    A pole is attached by an un-actuated joint to a cart moving along a frictional track of
    half-length 2.4 m. The pole starts hanging down; the agent pushes the cart left or right to
    swing the pole up and balance it upright while keeping the cart near the centre of the track.
    This is the swing-up task of the Weight Agnostic Neural Networks paper (Gaier & Ha, 2019),
    and the dynamics, rewards and initial states match the authors' reference code exactly.

    The dynamics are integrated with explicit Euler steps of dt = 0.01 s (see
    :func:`step_dynamics`): with s = sin(theta), c = cos(theta), force F, pole mass m_p = 0.5,
    pole length l = 0.6, friction b = 0.1, gravity g = 9.82 and total mass M = 1.0 (cart 0.5)::

        x_acc  = (-2 m_p l th_dot^2 s + 3 m_p g s c + 4 F - 4 b x_dot) / (4 M - 3 m_p c^2)
        th_acc = (-3 m_p l th_dot^2 s c + 6 M g s + 6 (F - b x_dot) c) / (4 l M - 3 m_p l c^2)
        x += x_dot dt; theta += th_dot dt; x_dot += x_acc dt; th_dot += th_acc dt

    ``theta = 0`` is upright; ``theta`` is measured counter-clockwise, so the pole tip is at
    ``(x - l sin(theta), l cos(theta))`` relative to the track, and ``theta = pi`` is hanging
    down. ``theta`` is not wrapped.

    ## Action Space

    ``Box(-1.0, 1.0, (1,), float32)``: the force applied to the cart is
    ``clip(action, -1, 1) * 10`` N (positive pushes right). Actions outside [-1, 1] are accepted
    and clipped by the dynamics. ``step`` accepts a 1-element array or a plain float.

    ## Observation Space

    ``Box(-inf, inf, (5,), float64)``:

    | Num | Observation           | Min  | Max |
    |-----|-----------------------|------|-----|
    | 0   | Cart position x (m)   | -inf | inf |
    | 1   | Cart velocity (m/s)   | -inf | inf |
    | 2   | cos(theta)            | -1   | 1   |
    | 3   | sin(theta)            | -1   | 1   |
    | 4   | Pole angular velocity | -inf | inf |

    The cart position is in practice within about [-2.4, 2.4] (plus one step) because the
    episode terminates when it leaves the track.

    ## Rewards

    After every step (including the terminating one) the reward is
    ``(cos(theta) + 1) / 2 * cos(x / 2.4 * pi / 2)`` (see :func:`step_reward`), computed from the
    post-step state: 1 with the pole upright at the track centre, 0 with the pole hanging down
    or the cart at the track limit, slightly negative beyond the limit. The maximum return of an
    episode is therefore 1000.

    ## Starting State

    Each component of ``(x, x_dot, theta, theta_dot)`` is drawn from a normal distribution with
    means ``(0, 0, pi, 0)`` and standard deviations ``0.2``: the pole hangs down near the centre.
    The draw is a single ``self.np_random.normal(loc=..., scale=...)`` call, reproduced by
    :func:`initial_state` (``initial_state(np.random.default_rng(seed))`` equals the state after
    ``reset(seed=seed)``).

    ## Episode End

    1. Termination: the cart position after the step is outside the track,
       ``x < -2.4`` or ``x > 2.4``.
    2. Truncation: the step counter reaches 1000. The environment enforces this limit itself, so
       it is registered with ``max_episode_steps=None``.

    Calling ``step`` after the episode has ended (terminated or truncated), or before the first
    ``reset``, raises ``RuntimeError``; call ``reset`` first, as Gymnasium requires.

    ## Arguments

    ```python
    import gymnasium as gym
    import envs  # registers the environment

    env = gym.make("envs/CartPoleSwingUp-v0", render_mode="rgb_array")
    ```

    * ``render_mode``: ``None`` (default, no rendering) or ``"rgb_array"``, in which case
      ``render()`` returns a ``uint8`` array of shape ``(400, 600, 3)`` drawn with plain numpy
      (no pygame needed).

    ``reset(seed=None, options=None)`` takes no options; ``options`` is ignored.

    ## Version History

    * v0: Initial version, matching the WANN authors' reference ``CartPoleSwingUpEnv``
      (constants, Euler ordering, reward and initial-state distribution), with Gymnasium's
      ``terminated``/``truncated`` API and a numpy ``rgb_array`` renderer.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 100}

    def __init__(self, render_mode: str | None = None) -> None:
        """Creates the environment.

        Args:
            render_mode: ``None`` or ``"rgb_array"``.

        Raises:
            ValueError: If ``render_mode`` is not supported.
        """
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"Unsupported render_mode {render_mode!r}; "
                f"expected None or one of {self.metadata['render_modes']}"
            )
        self.render_mode = render_mode
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(5,), dtype=np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.state: np.ndarray | None = None
        self.steps = 0
        self._episode_over = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Starts a new episode with the pole hanging down.

        Args:
            seed: Seed for ``self.np_random`` (see ``gymnasium.Env.reset``).
            options: Ignored.

        Returns:
            The initial observation and an empty info dict.
        """
        super().reset(seed=seed)
        self.state = initial_state(self.np_random)
        self.steps = 0
        self._episode_over = False
        return observation(*(float(v) for v in self.state)), {}

    def step(
        self, action: npt.ArrayLike | float
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Applies one action and advances the simulation by 0.01 s.

        Args:
            action: A float or a 1-element array; clipped to [-1, 1] by the dynamics.

        Returns:
            ``(observation, reward, terminated, truncated, info)`` with an empty info dict.

        Raises:
            ValueError: If ``action`` does not contain exactly one element.
            RuntimeError: If called before ``reset`` or after the episode has ended.
        """
        if self.state is None or self._episode_over:
            raise RuntimeError(
                "step() called before reset() or after the episode ended "
                "(terminated or truncated); call reset() first."
            )
        action_array = np.asarray(action, dtype=np.float64)
        if action_array.size != 1:
            raise ValueError(f"Expected a single action value, got shape {action_array.shape}")
        x, x_dot, theta, theta_dot = step_dynamics(
            float(self.state[0]),
            float(self.state[1]),
            float(self.state[2]),
            float(self.state[3]),
            float(action_array.reshape(-1)[0]),
        )
        self.state = np.array([x, x_dot, theta, theta_dot], dtype=np.float64)
        self.steps += 1
        terminated = bool(x < -X_LIMIT or x > X_LIMIT)
        truncated = bool(self.steps >= MAX_EPISODE_STEPS)
        self._episode_over = terminated or truncated
        reward = float(step_reward(x, theta))
        return observation(x, x_dot, theta, theta_dot), reward, terminated, truncated, {}

    def render(self) -> np.ndarray | None:
        """Renders the current state.

        Returns:
            In ``"rgb_array"`` mode, a ``uint8`` array of shape ``(RENDER_HEIGHT, RENDER_WIDTH,
            3)``; ``None`` when ``render_mode`` is ``None`` (a warning is logged).
        """
        if self.render_mode is None:
            gym.logger.warn(
                "You are calling render() without specifying a render_mode; "
                'use e.g. gym.make("envs/CartPoleSwingUp-v0", render_mode="rgb_array").'
            )
            return None
        return self._render_rgb_array()

    def _render_rgb_array(self) -> np.ndarray:
        """Draws the track, cart and pole into an RGB frame with plain numpy.

        Returns:
            ``uint8`` array of shape ``(RENDER_HEIGHT, RENDER_WIDTH, 3)``.
        """
        height, width = RENDER_HEIGHT, RENDER_WIDTH
        frame = np.full((height, width, 3), 255, dtype=np.uint8)
        scale = width / (2.0 * X_LIMIT * 1.25)  # pixels per metre; track spans 80% of the width
        track_row = int(height * 0.65)
        rows = np.arange(height, dtype=np.float64)[:, None]
        cols = np.arange(width, dtype=np.float64)[None, :]

        def col_of(world_x: float) -> float:
            return width / 2.0 + world_x * scale

        def row_of(world_y: float) -> float:
            return track_row - world_y * scale

        # Track and its limits.
        left, right = col_of(-X_LIMIT), col_of(X_LIMIT)
        frame[track_row : track_row + 2, max(int(left), 0) : min(int(right) + 1, width)] = 0
        for limit_col in (left, right):
            c = round(limit_col)
            frame[track_row - 15 : track_row + 15, max(c - 1, 0) : min(c + 2, width)] = (
                200,
                0,
                0,
            )

        if self.state is None:
            return frame
        x, _, theta, _ = (float(v) for v in self.state)

        # Cart: 0.5 m x 0.25 m box centred on the track.
        cart_half_w, cart_half_h = 0.25 * scale, 0.125 * scale
        cart_col, cart_row = col_of(x), float(track_row)
        cart_mask = (np.abs(cols - cart_col) <= cart_half_w) & (
            np.abs(rows - cart_row) <= cart_half_h
        )
        frame[cart_mask] = (60, 60, 60)

        # Pole: segment from the pivot (top of the cart) to the tip.
        pivot_col, pivot_row = cart_col, cart_row - cart_half_h
        tip_col = pivot_col - POLE_LENGTH * math.sin(theta) * scale
        tip_row = pivot_row - POLE_LENGTH * math.cos(theta) * scale
        seg_c, seg_r = tip_col - pivot_col, tip_row - pivot_row
        seg_len2 = seg_c * seg_c + seg_r * seg_r
        t = ((cols - pivot_col) * seg_c + (rows - pivot_row) * seg_r) / seg_len2
        t = np.clip(t, 0.0, 1.0)
        dist2 = (cols - pivot_col - t * seg_c) ** 2 + (rows - pivot_row - t * seg_r) ** 2
        frame[dist2 <= (0.04 * scale) ** 2] = (204, 153, 102)

        # Axle.
        axle_mask = (cols - pivot_col) ** 2 + (rows - pivot_row) ** 2 <= (0.03 * scale) ** 2
        frame[axle_mask] = (127, 127, 204)
        return frame

    def close(self) -> None:
        """Releases resources (nothing to release for the numpy renderer)."""
