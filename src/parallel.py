"""Executors: where evaluations run. The search loop only ever calls ``executor.map``.

:class:`SerialExecutor` runs requests in this process. The MPI executor (same interface) lives
here too, and this is the only module that imports ``mpi4py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


class SerialExecutor:
    """Evaluate in the calling process, in order."""

    n_workers = 1
    n_ranks = 1

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        return [fn(item) for item in items]

    def close(self) -> None:
        pass
