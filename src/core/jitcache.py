"""numba's on-disk cache, keyed on every source file a kernel compiles.

``numba.njit(cache=True)`` stamps a cached kernel with the modification time and size of the
one file that defines it. A kernel that calls or inlines functions from other files (the
swing-up kernel inlines ``activations.apply_scalar`` and ``envs.swingup.step_dynamics``) then
goes stale: after an edit to those files it keeps loading the old machine code and returns
the old results, silently.

:func:`key_on_sources` fixes this with numba's own freshness check. numba writes the source
stamp into each function's cache index and ignores an index whose stamp differs from the one
it computed at decoration ("cache is not fresh": recompile, overwrite). Adding a digest of
the contents of every file the kernel compiles to that stamp makes an edit to any of them
invalidate the cache, exactly as an edit to the kernel's own file always did; an unchanged
tree keeps loading from the cache. The stamp is numba-internal state (``Dispatcher._cache``,
``._cache_file._source_stamp``, unchanged for many releases; checked on numba 0.68); if a
numba version lacks it, the kernel's disk cache is switched off (correct, only slower to
start) with a warning.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def source_digest(sources: Iterable[str | Path]) -> str:
    """SHA-256 over the names and contents of ``sources`` (order-independent)."""
    h = hashlib.sha256()
    for path in sorted(str(Path(p).resolve()) for p in sources):
        data = Path(path).read_bytes()
        h.update(f"{Path(path).name}:{len(data)}:".encode())
        h.update(data)
    return h.hexdigest()


def key_on_sources(dispatchers: Iterable[Any], sources: Iterable[str | Path]) -> str:
    """Make the disk cache of each ``dispatchers`` entry depend on the contents of ``sources``.

    Call it at import, right after the ``@numba.njit(cache=True)`` definitions and before the
    first call: numba reads a cache index on the first call of each signature.

    Args:
        dispatchers: numba dispatchers created with ``cache=True``.
        sources: every Python file whose code they compile (their own file included).

    Returns:
        The digest, for logging or tests.
    """
    from numba.core.caching import NullCache  # numba only where kernels are compiled

    digest = source_digest(sources)
    for dispatcher in dispatchers:
        cache = getattr(dispatcher, "_cache", None)
        if cache is None or isinstance(cache, NullCache):
            continue  # not compiled (NUMBA_DISABLE_JIT) or not cached: nothing to go stale
        cache_file = getattr(cache, "_cache_file", None)
        if hasattr(cache_file, "_source_stamp"):
            cache_file._source_stamp = (cache_file._source_stamp, digest)
            continue
        warnings.warn(
            f"numba {getattr(dispatcher, 'py_func', dispatcher)!r}: unknown cache layout; "
            "disk cache off for it (compiled in every process)",
            RuntimeWarning,
            stacklevel=2,
        )
        dispatcher._cache = NullCache()
    return digest
