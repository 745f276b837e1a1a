"""A task of your own, complete: steer a point mass to a target on a line.

Run a search on it from the repository root (the module is imported from the current
folder; any importable ``package.module:function`` works the same way)::

    python -m src.master --task examples.my_task:build --out runs/reach --generations 50
    python -m src.report runs/reach --quick

The contract a task fulfils is in ``docs/tasks.md``; this one keeps it like this:

* ``n_inputs`` / ``n_outputs``: 3 observations (distance to the target, velocity, target),
  1 force.
* ``rollouts(plan, weights, seeds, edge_coef)`` runs one episode per (weight, seed) pair,
  all at once with numpy (``src.core.network.forward`` evaluates the network for a batch
  with one shared weight per row), and returns ``(returns, steps)``: (n,) float64 and the
  number of environment steps simulated.
* A rollout's start and target come from ``numpy.random.default_rng(seed)`` of its own
  seed, and every operation is element-wise: a return depends only on (network, weight,
  edge coefficients, seed), never on the other rollouts of the call, so a search gives the
  same answer on any number of ranks or workers.
* A rollout whose network outputs NaN or infinity stops there with return ``-inf``.
* ``warmup`` is inherited (one tiny rollout); ``default_pool`` too (the control
  activations).
"""

from __future__ import annotations

import numpy as np

from src.config import WannConfig
from src.core.network import Plan, forward
from src.tasks import Task

#: Seconds per step, steps per episode (``--set episode_steps=N`` changes the latter).
DT, EPISODE_STEPS = 0.05, 200
#: Friction: the velocity loses this fraction per second.
FRICTION = 0.5


class Reach(Task):
    """Push a unit mass on a line to a target and hold it there.

    Reward per step: minus the distance to the target, so a return near 0 means the mass
    went straight to the target and stayed. A network that never pushes scores
    ``-200 |start - target|`` (about -130 on average); a search of pop 64 found networks
    scoring about -10 within 30 generations (a minute here).
    """

    n_inputs = 3
    n_outputs = 1
    input_names = ("x - target", "velocity", "target")
    output_names = ("force",)

    def __init__(self, name: str = "examples.my_task:build", episode_steps: int = 0) -> None:
        self.name = name
        self.episode_steps = episode_steps or EPISODE_STEPS

    def rollouts(
        self,
        plan: Plan,
        weights: np.ndarray,
        seeds: np.ndarray,
        edge_coef: np.ndarray | None = None,
    ) -> tuple[np.ndarray, int]:
        weights = np.asarray(weights, dtype=np.float64)
        n = len(weights)
        # start and target of each rollout from its own seed only
        start_target = np.array([np.random.default_rng(int(s)).uniform(-1, 1, 2) for s in seeds])
        x, target = start_target[:, 0].copy(), start_target[:, 1]
        v = np.zeros(n)
        returns = np.zeros(n)
        alive = np.ones(n, dtype=bool)  # False once the network gave NaN or inf
        steps = 0
        for _ in range(self.episode_steps):
            obs = np.stack([x - target, v, target], axis=1)
            force = forward(plan, obs, weights, edge_coef)[:, 0]
            alive &= np.isfinite(force)
            if not alive.any():
                break
            force = np.clip(np.where(alive, force, 0.0), -1.0, 1.0)
            v = v + DT * (force - FRICTION * v)
            x = x + DT * v
            returns += np.where(alive, -np.abs(x - target), 0.0)
            steps += int(alive.sum())
        returns[~alive] = -np.inf
        return returns, steps


def build(config: WannConfig) -> Reach:
    """The factory ``--task examples.my_task:build`` names: config -> Task."""
    return Reach(config.task, config.episode_steps)
