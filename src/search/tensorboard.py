"""A reporter that writes TensorBoard event files: ``--tensorboard DIR`` or, from Python,
``reporters=[TensorBoard(DIR)]``. Then ``tensorboard --logdir DIR`` plots the search live.

Optional: it needs ``tensorboardX`` (``pip install -e ".[tensorboard]"``; ``make install``
installs it). Scalars, with the generation as step:

* ``search/<column>``: each ``stats.csv`` column (best and median mean reward, best max
  reward, median connections, evaluations, distinct genomes, env steps, seconds);
* ``search/evaluations_per_s``, ``search/env_steps_per_s``, ``search/busy``;
* ``champion/score``: the best so far (``src.search.reporters.best_so_far``), and
  ``champion/<metric>`` of the task (MNIST: ``test accuracy``) when the champion changes.

A resumed run passes ``purge_step``: TensorBoard then drops the events a killed run wrote
after its last checkpoint, so the curves do not double back.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ..config import ConfigError
from .loop import STATS_COLUMNS, Reporter, SearchState
from .reporters import best_so_far, champion_metrics

INSTALL = 'pip install -e ".[tensorboard]" (or make install)'


def writer_class() -> Any:
    """``tensorboardX.SummaryWriter``; ConfigError naming the extra to install without it."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ConfigError(f"TensorBoard logging needs tensorboardX: {INSTALL}") from None
    return SummaryWriter


def check_logdir(logdir: str | Path) -> None:
    """Create ``logdir`` if needed and check it takes files, before a run folder is made.

    Raises:
        ConfigError: it cannot be created or written (one line, naming it).
    """
    path = Path(logdir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"--tensorboard {str(path)!r} is not a writable folder: {exc.strerror or exc}"
        ) from None


class TensorBoard(Reporter):
    """Scalars of every generation in TensorBoard event files under ``logdir``.

    Raises:
        ConfigError: tensorboardX is not installed (at construction, before the search).
    """

    def __init__(self, logdir: str | Path) -> None:
        self.logdir = Path(logdir)
        self._writer_class = writer_class()
        self._writer: Any = None
        self._champion: int | None = None

    def start(self, state: SearchState, where: str) -> None:
        # the first generation this run writes: later events of a killed run are dropped
        first = state.generation + (state.objectives is not None)
        self._writer = self._writer_class(
            str(self.logdir),
            purge_step=first if state.history else None,
            # tensorboardX names a file by the second and host only: a second writer in the
            # same second (a quick resume) would overwrite the first one's file
            filename_suffix=f".{os.getpid()}.{time.time_ns()}",
        )

    def generation(self, state: SearchState, row: dict[str, float]) -> None:
        step = int(row["generation"])
        add = self._writer.add_scalar
        for column in STATS_COLUMNS[1:]:
            add(f"search/{column}", float(row[column]), step)
        seconds = max(float(row["seconds"]), 1e-12)
        add("search/evaluations_per_s", row["evaluations"] / seconds, step)
        add("search/env_steps_per_s", row["env_steps"] / seconds, step)
        add("search/busy", float(row["busy"]), step)
        best = best_so_far(state)
        if best is not None:
            add("champion/score", best[0], step)
            if best[1] != self._champion:
                self._champion = best[1]
                for name, value in champion_metrics(state).items():
                    add(f"champion/{name.replace(' ', '_')}", value, step)

    def end(self, state: SearchState) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
