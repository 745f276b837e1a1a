"""Tasks: how a network meets an environment.

A task maps observations to network inputs and outputs to actions, and runs rollouts:
``task.rollouts(plan, weights, seeds)`` returns one episode return per (shared weight, seed)
pair. A rollout whose network produces NaN or infinity ends there and returns ``-inf``; the
search ranks such genomes as the worst (see ``src.search.loop``).

Tasks are built from a config with :func:`make_task` and cached per process, so worker ranks
build each task once. The names ``--task`` accepts (built-in tasks, ``gym:ENV_ID``,
``package.module:factory``, ``wann.tasks`` entry points) are :mod:`src.tasks.registry`'s; the
interface a task of your own implements is documented in ``docs/tasks.md``.
"""

from __future__ import annotations

import importlib
import traceback
from abc import ABC, abstractmethod
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from ..core import activations
from ..core.network import Plan
from . import registry

if TYPE_CHECKING:  # src.config imports src.tasks.registry: no import of it at run time here
    from ..config import WannConfig


class Task(ABC):
    """A problem the search solves (the whole contract: ``docs/tasks.md``).

    A rollout's return must depend only on (network, shared weight, edge coefficients, seed):
    never on which rollouts ran before or beside it, so results are identical at any number
    of ranks or workers.
    """

    name: str
    n_inputs: int
    n_outputs: int
    #: Hidden-node activation ids used when the config names none.
    default_pool: tuple[int, ...] = activations.CONTROL_POOL
    #: Readable input / output names for pictures (optional; see :func:`io_names`).
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()

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

    def champion_metrics(self, plan: Plan, weights: np.ndarray) -> dict[str, float]:
        """Numbers about the search's champion that its progress line shows besides its reward
        (the root computes them once per new champion, so they must be cheap); names ending
        in ``accuracy`` are fractions, shown in percent. None by default."""
        return {}

    def warmup(self) -> None:
        """Run one tiny rollout so JIT compilation or cache loading happens now."""
        from ..core.genome import initial_genome
        from ..core.network import compile_genome

        genome = initial_genome(self.n_inputs, self.n_outputs, 1.0, np.random.default_rng(0))
        self.rollouts(compile_genome(genome), np.ones(1), np.zeros(1, dtype=np.int64))


@lru_cache(maxsize=8)
def make_task(config: WannConfig) -> Task:
    """The task named by ``config.task``, built once per process per config.

    Raises:
        src.config.ConfigError: the task cannot be built: an unknown gymnasium env, a module
            that does not import, a factory that is missing or returns no :class:`Task`, or
            the task's own data missing (MNIST, the CarRacing encoder), or a user's factory
            that raises.
    """
    from ..config import ConfigError

    name = config.task
    kind = registry.kind(name)
    if kind == "builtin":
        return _builtin_module(name).build(config)
    if kind == "gym":
        from . import gym

        return gym.build(config)
    if kind == "factory":
        module_name, attr = name.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(
                f"task {name!r}: cannot import {module_name!r} ({exc}); run from the folder "
                f"that holds it, put it on PYTHONPATH, or install its package"
            ) from None
        factory = getattr(module, attr, None)
        if not callable(factory):
            raise ConfigError(f"task {name!r}: {module_name} has no function {attr!r}")
    elif kind == "entry_point":
        entry = registry.entry_points()[name]
        try:
            factory = entry.load()
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"task {name!r}: entry point {entry.value!r} of group "
                f"{registry.ENTRY_POINT_GROUP} does not load ({exc})"
            ) from None
    else:
        raise ConfigError(f"unknown task {name!r}; accepted: {registry.accepted()}")
    try:
        task = factory(config)
    except ConfigError:
        raise
    except Exception as exc:  # e.g. --task os:system: a callable that is no task factory
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if len(frames) > 1 else ""
        raise ConfigError(
            f"task {name!r}: the factory failed on the config: {type(exc).__name__}: {exc}"
            f"{where} (a factory takes a WannConfig and returns a src.tasks.Task; docs/tasks.md)"
        ) from exc
    if not isinstance(task, Task):
        raise ConfigError(
            f"task {name!r}: the factory returned {type(task).__name__}, not a "
            "src.tasks.Task (see docs/tasks.md)"
        )
    for attr in ("n_inputs", "n_outputs"):
        value = getattr(task, attr, None)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"task {name!r}: {attr} must be a positive integer, got {value!r}")
    return task


def _builtin_module(name: str):
    return importlib.import_module(f"{__name__}.{registry.BUILTIN[name].module}")


def activation_pool(config: WannConfig, task: Task) -> tuple[int, ...]:
    """Activation ids for hidden nodes: the config's names, else the task's pool."""
    if config.activations:
        return activations.ids_from_names(config.activations)
    return task.default_pool


def task_class(name: str) -> type[Task]:
    """The :class:`Task` subclass of built-in task ``name``: its module is imported, nothing
    is built (no data or encoder files are read)."""
    module = _builtin_module(name)
    (cls,) = {
        c
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, Task) and c.__module__ == module.__name__
    }
    return cls


def resolved_activations(config: WannConfig) -> tuple[str, ...]:
    """Names of the activations a run of ``config`` draws hidden nodes from, in pool order:
    :func:`activation_pool` without building a built-in or gym task (a task of your own is
    built: its pool is an attribute of the object its factory returns). Recorded with every
    run (``src.search.provenance``): the default pools follow ``activations.ROWS``."""
    if config.activations:
        pool = activations.ids_from_names(config.activations)
    elif registry.kind(config.task) == "builtin":
        pool = task_class(config.task).default_pool
    elif registry.kind(config.task) == "gym":
        from .gym import GymTask

        pool = GymTask.default_pool
    else:
        pool = make_task(config).default_pool
    return tuple(activations.NAMES[i] for i in pool)


def io_names(config: WannConfig) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """Readable names of the inputs and outputs of ``config``'s task, for pictures: the
    task object's ``input_names`` / ``output_names`` if it has them, else the registry's
    (:func:`registry.io_names`); ``None`` where there are none (pictures number them)."""
    task = make_task(config)
    names = registry.io_names(config.task, task.n_inputs, task.n_outputs)
    inputs = getattr(task, "input_names", None) or names[0]
    outputs = getattr(task, "output_names", None) or names[1]
    return tuple(inputs) or None, tuple(outputs) or None
