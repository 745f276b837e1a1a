"""Rollouts of Python-stepped environments in lockstep: one loop for biped, carracing and gym.

A :class:`LockstepTask` gives one environment per rollout; :func:`run` resets each with its
rollout's seed and then, every step, evaluates the network for all live rollouts in one
compiled call (:func:`src.tasks.jitkernels.forward_rows`, from :func:`src.tasks.kernels.load`:
ahead-of-time compiled when built, else numba's JIT; 2-3 us per rollout for a 100-node
network, loop included) and steps each live environment in a Python loop (gymnasium envs are Python
objects; a Box2D step is ~200 us, so the loop is not what costs). A rollout whose network
output is NaN or infinite ends with return ``-inf`` without stepping its environment again;
a rollout whose environment says ``done`` leaves the live set. The returns are what running
each rollout alone would give (tested): a rollout never sees another's environment.

A task says how its observations become network inputs (:meth:`LockstepTask.observe`, for
all live rollouts at once), how network outputs become actions (:meth:`LockstepTask.actions`)
and how an environment steps (:meth:`LockstepTask.step`). ``python -m src.bench tasks``
measures the loop against bare gymnasium stepping.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.network import Plan
from . import Task, kernels


class LockstepTask(Task):
    """A task whose rollouts each step an environment of their own, all in lockstep.

    Subclasses set ``n_inputs``, ``n_outputs``, ``episode_steps`` and implement
    :meth:`envs` and :meth:`step`; :meth:`reset`, :meth:`observe`, :meth:`actions` and
    :meth:`release` have defaults.
    """

    #: Steps after which every rollout ends.
    episode_steps: int
    #: Clip the network outputs to [-1, 1] (before :meth:`actions` sees them).
    clip_outputs: bool = False

    @abstractmethod
    def envs(self, n: int) -> Sequence[Any]:
        """``n`` environments, one per rollout of a call."""

    def reset(self, env: Any, seed: int) -> Any:
        """Reset ``env`` for a rollout with ``seed``; returns its first observation.
        Everything the episode depends on must follow from ``seed``."""
        return env.reset(seed=seed)[0]

    def observe(self, obs: np.ndarray) -> np.ndarray:
        """(k, ...) observations of the live rollouts -> (k, n_inputs) network inputs."""
        return obs

    def actions(self, outputs: np.ndarray) -> Sequence[Any]:
        """(k, n_outputs) network outputs (all finite for the rollouts that step) -> one
        action per live rollout."""
        return outputs

    @abstractmethod
    def step(self, env: Any, action: Any) -> tuple[Any, float, bool]:
        """Step ``env``; returns (observation, reward, whether the episode ended)."""

    def release(self, envs: Sequence[Any]) -> None:
        """Called with the environments of :meth:`envs` after the call's rollouts."""

    def render_env(self) -> Any | None:
        """One environment like those of :meth:`envs` whose ``render()`` returns an RGB
        array (gymnasium's ``render_mode="rgb_array"``), for the report's episode pictures;
        ``None`` (the default) when the task cannot draw itself. The caller closes it."""
        return None

    def rollouts(
        self,
        plan: Plan,
        weights: np.ndarray,
        seeds: np.ndarray,
        edge_coef: np.ndarray | None = None,
    ) -> tuple[np.ndarray, int]:
        return run(self, plan, weights, seeds, edge_coef)

    def warmup(self) -> None:
        """Load the network kernel (:func:`src.tasks.kernels.load`) with a 2-step rollout."""
        steps, self.episode_steps = self.episode_steps, 2
        try:
            super().warmup()
        finally:
            self.episode_steps = steps


def run(
    task: LockstepTask,
    plan: Plan,
    weights: np.ndarray,
    seeds: np.ndarray,
    edge_coef: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """One episode per (weight, seed) pair, stepped in lockstep (see the module docstring).

    Returns:
        ((n,) float64 returns, -inf where the network gave NaN or inf; environment steps).
    """
    weights = np.asarray(weights, dtype=np.float64)
    n = len(weights)
    coef = np.ones(plan.n_edges) if edge_coef is None else np.asarray(edge_coef, np.float64)
    envs = task.envs(n)
    try:
        # raw observations in the env's own dtype and shape (frames stay uint8)
        obs = np.stack([task.reset(env, int(seeds[i])) for i, env in enumerate(envs)])
        inputs = np.zeros((n, task.n_inputs))
        values = np.zeros((n, plan.n_nodes))
        out = np.empty((n, task.n_outputs))
        returns = np.zeros(n)
        live = np.arange(n)
        steps = 0
        plan_args = (plan.order, plan.act, plan.indptr, plan.indices, coef, plan.output_slots)
        call = (values, inputs, live, weights, *plan_args, out, task.clip_outputs)
        # the arrays keep their types for the whole call (``live`` only shrinks): the
        # ahead-of-time kernel's argument types are checked once, here
        forward_rows = kernels.load().for_args("forward_rows", call)
        for _ in range(task.episode_steps):
            k = len(live)
            inputs[live] = task.observe(obs[live])
            finite = forward_rows(
                values, inputs, live, weights, *plan_args, out, task.clip_outputs
            ).tolist()
            actions = task.actions(out[:k])
            keep = list(finite)
            for j, i in enumerate(live.tolist()):
                if not finite[j]:
                    returns[i] = -math.inf
                    continue
                o, reward, done = task.step(envs[i], actions[j])
                obs[i] = o
                returns[i] += reward
                steps += 1
                if done:
                    keep[j] = False
            if not all(keep):
                live = live[np.asarray(keep)]
                if len(live) == 0:
                    break
    finally:
        task.release(envs)
    return returns, steps
