"""BipedalWalker (and its hardcore variant) as the paper ran it.

The environment is gymnasium's ``BipedalWalker-v3`` (``hardcore=True`` for
``biped-hardcore``), used through its class (no wrappers) with the paper's two changes:

* **No -100 on a fall.** Falling (the hull touches the ground) or walking off the left edge
  still ends the episode, but that step's reward is what the env would have paid without the
  penalty: the change in shaping (``130 x / SCALE - 5 |hull angle|``) minus the torque cost.
  gymnasium *replaces* the step's reward by -100, so this undoes the penalty exactly (adding
  100 back would instead give 0 for the step).
* **Episode length** 1600 steps (hardcore 2000), or ``config.episode_steps`` if set.

Determinism: a rollout's return depends only on (network, shared weight, seed).
gymnasium's env keeps one ``Box2D.b2World`` for its lifetime and only destroys and re-creates
bodies on reset; the world's contact and broad-phase state then depend on earlier episodes,
so the same seed gave different returns after different histories (the reference code
reused its world this way: 198, 287, 284 ... for one seed). Here every reset builds a fresh
world (:class:`FreshWorldWalker`), which costs nothing measurable (a reset is ~3 ms either
way, nearly all of it creating the ~200 terrain bodies).

Speed: the rollouts of a genome (six shared weights x ``n_reps``) run in lockstep, one env
each (:mod:`src.tasks.lockstep`): every step the network is evaluated for all live rollouts
in one compiled call (2-3 us per rollout for a 100-node network, loop included, against
~180-200 us for gymnasium's step), then each env is stepped. ``python -m src.bench tasks``
measures both.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..config import WannConfig
from .lockstep import LockstepTask

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # Box2D's SWIG bindings
    import Box2D
    from gymnasium.envs.box2d import bipedal_walker as bw

EPISODE_STEPS = {"biped": 1600, "biped-hardcore": 2000}
#: Torque cost per unit of |action| and per joint, as in gymnasium's reward.
TORQUE_COST = 0.00035 * bw.MOTORS_TORQUE


class FreshWorldWalker(bw.BipedalWalker):
    """gymnasium's BipedalWalker whose ``reset`` builds a new Box2D world.

    Everything an episode depends on is then rebuilt from the reset seed: terrain, start
    force and the physics world itself, so an episode does not depend on earlier ones.
    """

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._destroy()
        self.world = Box2D.b2World()
        return super().reset(seed=seed, options=options)


def step_without_fall_penalty(
    env: bw.BipedalWalker, action: np.ndarray
) -> tuple[np.ndarray, float, bool]:
    """Step ``env`` with ``action`` (already in [-1, 1]); a fall pays no -100.

    Returns:
        (observation (24,) float32, reward, episode ended).
    """
    prev_shaping = env.prev_shaping
    obs, reward, terminated, _, _ = env.step(action)
    if terminated and (env.game_over or env.hull.position[0] < 0):
        # gymnasium set reward = -100; recompute what the step earned without the penalty.
        reward = env.prev_shaping - prev_shaping
        for a in action:
            reward -= TORQUE_COST * min(abs(float(a)), 1.0)
    return obs, float(reward), terminated


class Biped(LockstepTask):
    """Walk as far right as possible: 24 inputs, 4 outputs (joint torques in [-1, 1])."""

    n_inputs = 24
    n_outputs = 4
    clip_outputs = True  # joint torques in [-1, 1]

    def __init__(self, name: str = "biped", episode_steps: int = 0) -> None:
        self.name = name
        self.hardcore = name == "biped-hardcore"
        self.episode_steps = episode_steps or EPISODE_STEPS[name]
        self._envs: list[FreshWorldWalker] = []

    def envs(self, n: int) -> list[FreshWorldWalker]:
        """``n`` env instances, created once and reused (each reset rebuilds everything)."""
        while len(self._envs) < n:
            self._envs.append(FreshWorldWalker(hardcore=self.hardcore))
        return self._envs[:n]

    def step(self, env: FreshWorldWalker, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        return step_without_fall_penalty(env, action)

    def render_env(self) -> FreshWorldWalker:
        return FreshWorldWalker(hardcore=self.hardcore, render_mode="rgb_array")


def build(config: WannConfig) -> Biped:
    return Biped(config.task, config.episode_steps)
