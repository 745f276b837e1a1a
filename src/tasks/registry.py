"""Every way to name a task, in one place: config validation, ``--help``, the report and the
tests all read it.

A task name is one of:

* a **built-in** task, a row of :data:`BUILTIN` (its module under ``src.tasks`` defines
  ``build(config) -> Task``; its paper hyperparameters are ``src/configs/<name>.toml``);
* ``gym:ENV_ID``: any gymnasium environment with a Box or Discrete observation space and a
  Box or Discrete action space (``src.tasks.gym``), e.g. ``gym:CartPole-v1``;
* ``package.module:factory``: ``factory(config)`` returns the Task; the module is imported
  from ``sys.path`` (the current folder under ``python -m``), e.g. ``examples.my_task:build``;
* the name of an entry point of the group ``wann.tasks`` of an installed package, whose
  value is such a ``module:factory``.

This module is light: it imports neither gymnasium nor any task module, so ``src.config``
can validate names without them. Whether a gymnasium env or a module really exists is found
out when the task is built (``src.tasks.make_task``, a ``ConfigError`` with exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib import metadata

#: The prefix of a gymnasium task name.
GYM_PREFIX = "gym:"
#: The entry-point group installed packages declare their tasks in.
ENTRY_POINT_GROUP = "wann.tasks"
#: ``package.module:factory`` (dotted identifiers, a colon, an identifier).
_FACTORY = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")
#: A gymnasium env id: ``[namespace/]name[-vN]``, the characters gymnasium's registry allows.
_GYM_ID = re.compile(r"[\w:.\-/]+")

_BIPED_INPUTS = (
    "hull angle",
    "hull ang. vel.",
    "vel x",
    "vel y",
    "hip 1 angle",
    "hip 1 speed",
    "knee 1 angle",
    "knee 1 speed",
    "leg 1 contact",
    "hip 2 angle",
    "hip 2 speed",
    "knee 2 angle",
    "knee 2 speed",
    "leg 2 contact",
    *(f"lidar {i}" for i in range(10)),
)


@dataclass(frozen=True)
class TaskEntry:
    """A built-in task.

    Attributes:
        name: the task name (``--task``).
        module: the module under ``src.tasks`` that defines ``build(config) -> Task``.
        description: one line for ``--help``.
        inputs: readable names of the network inputs (pictures); empty: ``x0, x1 ...``.
        outputs: readable names of the network outputs; empty: ``y0, y1 ...``.
    """

    name: str
    module: str
    description: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


BUILTIN: dict[str, TaskEntry] = {
    e.name: e
    for e in (
        TaskEntry(
            "swingup",
            "swingup",
            "cart-pole swing-up: 5 inputs -> 1 force, 1000 steps (numba kernel)",
            ("x", "x_dot", "cos(theta)", "sin(theta)", "theta_dot"),
            ("force",),
        ),
        TaskEntry(
            "biped",
            "biped",
            "BipedalWalker-v3 without the fall penalty: 24 inputs -> 4 torques, 1600 steps",
            _BIPED_INPUTS,
            ("hip 1", "knee 1", "hip 2", "knee 2"),
        ),
        TaskEntry(
            "biped-hardcore",
            "biped",
            "BipedalWalker-v3 hardcore (stumps, pits, stairs): 24 -> 4, 2000 steps",
            _BIPED_INPUTS,
            ("hip 1", "knee 1", "hip 2", "knee 2"),
        ),
        TaskEntry(
            "carracing",
            "carracing",
            "CarRacing-v3 from 16 PCA features of each frame -> steer, gas, brake; 1000 steps",
            tuple(f"z{i}" for i in range(16)),
            ("steer", "gas", "brake"),
        ),
        TaskEntry(
            "mnist256",
            "mnist",
            "MNIST digits at 16x16: 256 pixels -> 10 class scores, batch_size images",
            outputs=tuple(str(d) for d in range(10)),
        ),
    )
}


@lru_cache(maxsize=1)
def entry_points() -> dict[str, metadata.EntryPoint]:
    """The ``wann.tasks`` entry points of the installed packages, by name (read once)."""
    from importlib import metadata  # only here: a worker rank never needs it (start-up)

    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def kind(name: str) -> str | None:
    """``"builtin"``, ``"gym"``, ``"factory"``, ``"entry_point"``, or ``None`` for a name
    that is none of them. A built-in name wins over an entry point of the same name."""
    if name in BUILTIN:
        return "builtin"
    if name.startswith(GYM_PREFIX):
        return "gym" if _GYM_ID.fullmatch(name[len(GYM_PREFIX) :]) else None
    if _FACTORY.fullmatch(name):
        return "factory"
    if name in entry_points():
        return "entry_point"
    return None


def accepted() -> str:
    """What ``--task`` accepts, for error messages and ``--help``."""
    installed = ", ".join(sorted(n for n in entry_points() if n not in BUILTIN))
    return (
        f"{', '.join(BUILTIN)}, gym:ENV_ID (a gymnasium env, e.g. gym:CartPole-v1), "
        f"package.module:factory (factory(config) -> Task), or an installed "
        f"{ENTRY_POINT_GROUP} entry point ({installed or 'none installed'})"
    )


def describe() -> str:
    """One line per built-in task, per other form and per installed entry point (``--help``)."""
    rows = [(e.name, e.description) for e in BUILTIN.values()]
    rows += [
        (
            "gym:ENV_ID",
            "a gymnasium env (Box/Discrete observations and actions), e.g. gym:CartPole-v1",
        ),
        ("module:factory", "a Task of your own, factory(config) -> Task: examples.my_task:build"),
        ("NAME", f"an installed package's task: an entry point of the group {ENTRY_POINT_GROUP}"),
    ]
    rows += [
        (name, f"entry point {ep.value} ({ENTRY_POINT_GROUP})")
        for name, ep in sorted(entry_points().items())
        if name not in BUILTIN
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name:<{width}}  {text}" for name, text in rows)


def io_names(name: str, n_inputs: int, n_outputs: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Readable input and output names of task ``name`` for pictures: the built-in task's,
    else ``obs_0 ..`` and ``act_0 ..`` (a task object may name its own, see
    :func:`src.tasks.io_names`). MNIST's 256 pixels stay unnamed (``x0 ..``): ``((), ())``."""
    entry = BUILTIN.get(name)
    if entry is not None:
        return entry.inputs, entry.outputs
    return (
        tuple(f"obs_{i}" for i in range(n_inputs)),
        tuple(f"act_{i}" for i in range(n_outputs)),
    )
