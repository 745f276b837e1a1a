"""Gymnasium environments for the WANN project.

Importing this package registers ``envs/CartPoleSwingUp-v0`` with Gymnasium::

    import gymnasium as gym
    import envs

    env = gym.make("envs/CartPoleSwingUp-v0")

This package is self-contained and never imports from ``src``.
"""

from __future__ import annotations

import gymnasium

from envs.swingup import CartPoleSwingUpEnv

SWINGUP_ENV_ID: str = "envs/CartPoleSwingUp-v0"
"""Gymnasium id of :class:`CartPoleSwingUpEnv`."""

if SWINGUP_ENV_ID not in gymnasium.registry:
    # The environment enforces its own 1000-step limit (as truncation), so no TimeLimit wrapper.
    gymnasium.register(
        id=SWINGUP_ENV_ID,
        entry_point="envs.swingup:CartPoleSwingUpEnv",
        max_episode_steps=None,
    )

__all__ = ["SWINGUP_ENV_ID", "CartPoleSwingUpEnv"]
