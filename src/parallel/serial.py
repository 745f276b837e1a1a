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

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        if self._closed:
            raise RuntimeError("SerialExecutor is closed")
        results = []
        for i, item in enumerate(items):
            results.append(fn(item))
            if on_result is not None:
                on_result(i, results[-1])
        return results

    def close(self) -> None:
        self._closed = True
