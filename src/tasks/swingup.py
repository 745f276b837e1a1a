"""Cart-pole swing-up with a compiled rollout kernel.

The physics is ``envs.swingup.step_dynamics`` / ``step_reward`` compiled with numba, so the
kernel and the gymnasium env (:class:`envs.swingup.CartPoleSwingUpEnv`) share one
implementation. Initial states come from ``envs.swingup.initial_state`` with the rollout seed,
which is exactly what ``env.reset(seed=seed)`` draws: a kernel rollout equals a gymnasium
episode with the same seed (tested).

The kernel runs every rollout of a genome (shared weights x reps) in one call, one rollout
after the other with the network's values in a small scratch array; at a few hundred
nanoseconds per step the cost per call (microseconds) is negligible.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from envs import swingup as env

from ..config import WannConfig
from ..core import activations
from ..core.network import Plan
from . import Task

_dynamics = numba.njit(cache=True, inline="always")(env.step_dynamics)
_reward = numba.njit(cache=True, inline="always")(env.step_reward)
_act = numba.njit(cache=True, inline="always")(activations.apply_scalar)


@numba.njit(cache=True)
def network_step(values, order, act, indptr, indices, coef, w):  # noqa: ANN001, ANN201
    """Compute every planned node in place in ``values`` (slots: bias, inputs, ...)."""
    for i in range(order.shape[0]):
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            s += coef[k] * values[indices[k]]
        values[order[i]] = _act(act[i], w * s)


@numba.njit(cache=True)
def _swingup_rollouts(  # noqa: ANN001, ANN201, PLR0913
    order, act, indptr, indices, coef, out_slot, n_nodes, weights, states, max_steps, x_limit
):
    n = weights.shape[0]
    returns = np.zeros(n)
    steps = 0
    values = np.zeros(n_nodes)
    for r in range(n):
        values[:] = 0.0
        values[0] = 1.0
        x, x_dot, th, th_dot = states[r, 0], states[r, 1], states[r, 2], states[r, 3]
        total = 0.0
        for _ in range(max_steps):
            values[1] = x
            values[2] = x_dot
            values[3] = math.cos(th)
            values[4] = math.sin(th)
            values[5] = th_dot
            network_step(values, order, act, indptr, indices, coef, weights[r])
            a = values[out_slot]
            if not math.isfinite(a):
                total = -math.inf
                break
            x, x_dot, th, th_dot = _dynamics(x, x_dot, th, th_dot, a)
            total += _reward(x, th)
            steps += 1
            if x < -x_limit or x > x_limit:
                break
        returns[r] = total
    return returns, steps


def initial_states(seeds: np.ndarray) -> np.ndarray:
    """(n, 4) initial states, row i as ``env.reset(seed=seeds[i])`` draws it."""
    return np.stack([env.initial_state(np.random.default_rng(int(s))) for s in seeds])


class SwingUp(Task):
    """Swing up a pole on a cart and balance it: 5 inputs, 1 output (force)."""

    name = "swingup"
    n_inputs = 5
    n_outputs = 1

    def __init__(self, episode_steps: int = env.MAX_EPISODE_STEPS) -> None:
        self.episode_steps = episode_steps
        self._state_cache: dict[int, np.ndarray] = {}

    def _states(self, seeds: np.ndarray) -> np.ndarray:
        rows = []
        for s in seeds.tolist():
            if s not in self._state_cache:
                if len(self._state_cache) > 4096:
                    self._state_cache.clear()
                self._state_cache[s] = env.initial_state(np.random.default_rng(s))
            rows.append(self._state_cache[s])
        return np.stack(rows)

    def rollouts(
        self,
        plan: Plan,
        weights: np.ndarray,
        seeds: np.ndarray,
        edge_coef: np.ndarray | None = None,
    ) -> tuple[np.ndarray, int]:
        coef = np.ones(plan.n_edges) if edge_coef is None else np.asarray(edge_coef, np.float64)
        returns, steps = _swingup_rollouts(
            plan.order,
            plan.act,
            plan.indptr,
            plan.indices,
            coef,
            int(plan.output_slots[0]),
            plan.n_nodes,
            np.asarray(weights, dtype=np.float64),
            self._states(np.asarray(seeds)),
            self.episode_steps,
            env.X_LIMIT,
        )
        return returns, int(steps)


def build(config: WannConfig) -> SwingUp:
    return SwingUp(config.episode_steps or env.MAX_EPISODE_STEPS)
