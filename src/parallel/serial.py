"""The serial executor: everything in the calling process, in order."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .executor import Executor, R, T


class SerialExecutor(Executor):
    """Evaluate in the calling process, in order (one process: ``n_workers = n_ranks = 1``).

    Deferred calls run at once (:meth:`Executor.defer`): there is no waiting to hide them in.
    """

    def __init__(self) -> None:
        self._closed = False

    def describe(self) -> str:
        return "1 process"

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        if self._closed:
            raise RuntimeError("SerialExecutor is closed")
        return [fn(item) for item in items]

    def close(self) -> None:
        self._closed = True
