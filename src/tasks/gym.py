"""``--task gym:ENV_ID``: any gymnasium environment as a task, e.g. ``gym:CartPole-v1``.

* **Inputs.** A ``Box`` observation is flattened and fed to the network **unchanged**, bounded
  or not: no scaling, no clipping (CartPole's unbounded velocities arrive as they are; the
  activations squash what they need to). A ``Discrete(n)`` observation becomes ``n`` one-hot
  inputs. Other observation spaces (Dict, Tuple, MultiDiscrete, ...) are refused.
* **Outputs.** A ``Box`` action takes one output per element, clipped to the space's bounds
  (an infinite bound clips nothing) and cast to its dtype. A ``Discrete(n)`` action takes
  ``n`` outputs and is ``start + argmax``. Other action spaces are refused.
* **Episodes** end when the env terminates or truncates, after ``env.spec.max_episode_steps``
  steps, or after ``episode_steps`` steps if the config sets it (passed to ``gymnasium.make``,
  so it also replaces the env's own time limit). An env with neither is refused.
* **Seeding.** Every rollout gets a fresh env from ``gymnasium.make``, reset with the
  rollout's seed and closed after the call: a return depends only on (network, weight,
  seed), never on the episodes an env ran before (Box2D worlds, for one, keep state across
  resets; see ``src.tasks.biped``), so results are identical at any number of ranks.
  ``gymnasium.make`` costs ~0.3 ms (CartPole) to ~3 ms (LunarLander), small against an
  episode. The env checker is off for these envs (it wraps the first reset and step of
  every new env).

The rollouts of a call run in lockstep (:mod:`src.tasks.lockstep`). Unknown env ids, envs
whose dependencies are missing and refused spaces are a one-line ``ConfigError`` (exit 2)
when the task is built, before anything is written.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..config import ConfigError, WannConfig
from .lockstep import LockstepTask
from .registry import GYM_PREFIX

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # pygame, Box2D's SWIG bindings
    import gymnasium
    from gymnasium import spaces


class GymTask(LockstepTask):
    """A gymnasium env: Box/Discrete observations in, Box/Discrete actions out."""

    def __init__(self, env_id: str, episode_steps: int = 0) -> None:
        self.name = GYM_PREFIX + env_id
        self.env_id = env_id
        probe = _make(self.name, env_id)
        try:
            obs_space, act_space, spec = probe.observation_space, probe.action_space, probe.spec
            self._render_modes = tuple(probe.metadata.get("render_modes", ()))
        finally:
            probe.close()
        if isinstance(obs_space, spaces.Box):
            self.n_inputs = int(np.prod(obs_space.shape, dtype=np.int64))
            self._one_hot = 0
        elif isinstance(obs_space, spaces.Discrete):
            self.n_inputs = self._one_hot = int(obs_space.n)
            self._obs_start = int(obs_space.start)
        else:
            raise ConfigError(
                f"task {self.name!r}: observation space {obs_space} is not supported "
                "(Box or Discrete)"
            )
        if isinstance(act_space, spaces.Box):
            self.n_outputs = int(np.prod(act_space.shape, dtype=np.int64))
            self._low = act_space.low.astype(np.float64).reshape(-1)
            self._high = act_space.high.astype(np.float64).reshape(-1)
            self._shape, self._dtype = act_space.shape, act_space.dtype
            self._discrete = False
        elif isinstance(act_space, spaces.Discrete):
            self.n_outputs = int(act_space.n)
            self._act_start = int(act_space.start)
            self._discrete = True
        else:
            raise ConfigError(
                f"task {self.name!r}: action space {act_space} is not supported (Box or Discrete)"
            )
        if self.n_inputs < 1 or self.n_outputs < 1:
            raise ConfigError(f"task {self.name!r}: empty observation or action space")
        limit = spec.max_episode_steps if spec is not None else None
        self.episode_steps = episode_steps or limit or 0
        if not self.episode_steps:
            raise ConfigError(
                f"task {self.name!r}: the env has no episode limit "
                "(spec.max_episode_steps); set one with --set episode_steps=N"
            )

    def envs(self, n: int) -> list[Any]:
        """``n`` fresh envs (closed by :meth:`release`)."""
        return [
            _make(self.name, self.env_id, max_episode_steps=self.episode_steps, checker=False)
            for _ in range(n)
        ]

    def release(self, envs: list[Any]) -> None:
        for env in envs:
            env.close()

    def render_env(self) -> Any | None:
        """The env with ``render_mode="rgb_array"`` where its metadata lists that mode."""
        if "rgb_array" not in self._render_modes:
            return None
        return _make(
            self.name,
            self.env_id,
            max_episode_steps=self.episode_steps,
            checker=False,
            render_mode="rgb_array",
        )

    def observe(self, obs: np.ndarray) -> np.ndarray:
        if self._one_hot:
            hot = np.zeros((len(obs), self._one_hot))
            hot[np.arange(len(obs)), np.asarray(obs, np.int64) - self._obs_start] = 1.0
            return hot
        return np.asarray(obs, np.float64).reshape(len(obs), -1)

    def actions(self, outputs: np.ndarray) -> list[Any]:
        if self._discrete:
            return (self._act_start + np.argmax(outputs, axis=1)).tolist()
        clipped = np.clip(outputs, self._low, self._high).astype(self._dtype)
        return list(clipped.reshape(len(outputs), *self._shape))

    def step(self, env: Any, action: Any) -> tuple[Any, float, bool]:
        obs, reward, terminated, truncated, _ = env.step(action)
        return obs, float(reward), bool(terminated or truncated)


def _make(
    name: str,
    env_id: str,
    max_episode_steps: int | None = None,
    checker: bool = True,
    render_mode: str | None = None,
):
    """``gymnasium.make(env_id)``; an unknown id or missing dependency is a ConfigError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return gymnasium.make(
                env_id,
                max_episode_steps=max_episode_steps,
                disable_env_checker=not checker,
                render_mode=render_mode,
            )
    except (gymnasium.error.Error, ImportError) as exc:
        raise ConfigError(f"task {name!r}: gymnasium cannot make {env_id!r}: {exc}") from None


def build(config: WannConfig) -> GymTask:
    """The task of ``config.task`` = ``gym:ENV_ID``."""
    return GymTask(config.task[len(GYM_PREFIX) :], config.episode_steps)
