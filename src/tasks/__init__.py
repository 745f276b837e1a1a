"""Tasks: how a network meets an environment.

A task maps observations to network inputs and outputs to actions, and runs rollouts:
``task.rollouts(plan, weights, seeds)`` returns one episode return per (shared weight, seed)
pair. A rollout whose network produces NaN or infinity ends there and returns ``-inf``; the
search ranks such genomes as the worst (see ``src.search.loop``).

Tasks are built from a config with :func:`make_task` and cached per process, so worker ranks
build each task once.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from functools import lru_cache

import numpy as np

from ..config import WannConfig
from ..core import activations
from ..core.network import Plan

#: Task name -> module under src.tasks defining ``build(config) -> Task``.
_MODULES = {
    "swingup": "swingup",
    "biped": "biped",
    "biped-hardcore": "biped",
    "carracing": "carracing",
    "mnist256": "mnist",
}


class Task(ABC):
    """A problem the search solves."""

    name: str
    n_inputs: int
    n_outputs: int
    #: Hidden-node activation ids used when the config names none.
    default_pool: tuple[int, ...] = activations.CONTROL_POOL

    @abstractmethod
    def rollouts(
        self,
        plan: Plan,
        weights: np.ndarray,
        seeds: np.ndarray,
        edge_coef: np.ndarray | None = None,
    ) -> tuple[np.ndarray, int]:
        """Run one episode per (weight, seed) pair.

        Args:
            plan: the compiled network.
            weights: (n,) shared weight of each rollout.
            seeds: (n,) integer seed of each rollout (environment reset / data batch).
            edge_coef: optional (plan.n_edges,) per-edge coefficients (default ones).

        Returns:
            (returns (n,) float64 with -inf for a rollout whose network gave NaN/inf,
             number of environment steps simulated).
        """

    def warmup(self) -> None:
        """Run one tiny rollout so JIT compilation or cache loading happens now."""
        from ..core.genome import initial_genome
        from ..core.network import compile_genome

        genome = initial_genome(self.n_inputs, self.n_outputs, 1.0, np.random.default_rng(0))
        self.rollouts(compile_genome(genome), np.ones(1), np.zeros(1, dtype=np.int64))


@lru_cache(maxsize=8)
def make_task(config: WannConfig) -> Task:
    """The task named by ``config.task``, built once per process per config."""
    module = importlib.import_module(f"{__name__}.{_MODULES[config.task]}")
    return module.build(config)


def activation_pool(config: WannConfig, task: Task) -> tuple[int, ...]:
    """Activation ids for hidden nodes: the config's names, else the task's pool."""
    if config.activations:
        return activations.ids_from_names(config.activations)
    return task.default_pool


def task_class(name: str) -> type[Task]:
    """The :class:`Task` subclass of task ``name``: its module is imported, nothing is built
    (no data or encoder files are read)."""
    module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    (cls,) = {
        c
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, Task) and c.__module__ == module.__name__
    }
    return cls


def resolved_activations(config: WannConfig) -> tuple[str, ...]:
    """Names of the activations a run of ``config`` draws hidden nodes from, in pool order:
    :func:`activation_pool` without building the task. Recorded with every run
    (``src.search.provenance``): the default pools follow ``activations.ROWS``."""
    if config.activations:
        pool = activations.ids_from_names(config.activations)
    else:
        pool = task_class(config.task).default_pool
    return tuple(activations.NAMES[i] for i in pool)
