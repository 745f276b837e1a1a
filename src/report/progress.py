"""Progress of a long report stage with the time left: ``sweep wann: 12/81, ~40 s left``.

:class:`Progress` prints to stderr (or any stream; ``None`` for silence) at most once per
``interval`` seconds, plus the last step, so a fast stage prints one line and a slow one
about one a second. The time left is the mean time per step so far times the steps to go
(:func:`format_left`).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TextIO


def format_left(seconds: float) -> str:
    """``~12 s``, ``~3 min``, ``~1.5 h``; ``?`` before anything is known."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds < 1:
        return "<1 s"
    if seconds < 90:
        return f"~{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"~{seconds / 60:.0f} min"
    return f"~{seconds / 3600:.1f} h"


class Progress:
    """``stage: i/N, ~T left`` lines for a stage of ``total`` steps.

    Args:
        stage: what is going on (``sweep wann``, ``PEPG``, ``pictures``).
        total: the number of steps.
        stream: where lines go (default stderr); ``None`` prints nothing.
        interval: least seconds between two lines (the last step always prints).
        clock: seconds, monotonic (a parameter so tests can drive it).
    """

    def __init__(
        self,
        stage: str,
        total: int,
        stream: TextIO | None = sys.stderr,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stage = stage
        self.total = max(int(total), 0)
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self.start = clock()
        self.done = 0
        self._last_print = -float("inf")

    def left(self) -> float:
        """Estimated seconds to go (NaN before the first step)."""
        if self.done <= 0:
            return float("nan")
        per_step = (self.clock() - self.start) / self.done
        return per_step * max(self.total - self.done, 0)

    def line(self) -> str:
        if self.done >= self.total:
            return (
                f"{self.stage}: {self.done}/{self.total}, done in {self.clock() - self.start:.1f} s"
            )
        return f"{self.stage}: {self.done}/{self.total}, {format_left(self.left())} left"

    def step(self, n: int = 1) -> None:
        """``n`` more steps done; prints if a second has passed or the stage is complete."""
        self.done += n
        if self.stream is None:
            return
        now = self.clock()
        if self.done >= self.total or now - self._last_print >= self.interval:
            self._last_print = now
            print(self.line(), file=self.stream, flush=True)
