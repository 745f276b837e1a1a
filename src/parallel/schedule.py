"""Scheduling policy: how work is cut into chunks and who evaluates.

Pure functions of counts; no MPI. The search asks :func:`chunk_size` how many genomes to put
in its next work item; the MPI executor uses the constants for its queue depth.
"""

from __future__ import annotations

import math

#: Work items a worker may hold at once (one running, one queued): it never waits for the
#: root between items, however late the root answers (when it evaluates itself, say).
DEPTH = 2
#: ... but the second only while at least this many items per evaluating rank are unsent.
QUEUE_WHILE_LEFT = 3
#: Automatic work items: about this many per evaluating worker while plenty is left
#: (:func:`item_rollouts`) ...
ITEMS_PER_WORKER = 8
#: ... but none shorter than this many seconds, once a rollout's cost is known.
MIN_ITEM_SECONDS = 0.1
#: The root also evaluates when the communicator has at most this many ranks (see
#: :func:`root_evaluates`).
ROOT_EVALUATES_UP_TO = 4


def chunk_bounds(n_items: int, n_workers: int, chunk: int = 0) -> list[tuple[int, int]]:
    """Cut ``range(n_items)`` into work chunks: ``[(start, stop), ...]`` in order.

    ``chunk > 0``: fixed chunks of that size. Otherwise guided self-scheduling: each chunk
    takes ``ceil(remaining / (2 * n_workers))`` items, so chunks shrink from about
    ``n / (2 P)`` to one item. Early chunks are large (few messages), the last ones small, so
    the evaluating ranks finish within about one genome of each other. One worker: one chunk.
    """
    bounds = []
    start = 0
    while start < n_items:
        size = chunk_size(n_items - start, n_workers, chunk)
        bounds.append((start, min(n_items, start + size)))
        start += size
    return bounds


def chunk_size(remaining: int, n_workers: int, chunk: int = 0) -> int:
    """Size of the next chunk when ``remaining`` items are left (see :func:`chunk_bounds`)."""
    if chunk > 0:
        return chunk
    if n_workers <= 1:
        return max(1, remaining)
    return max(1, math.ceil(remaining / (2 * n_workers)))


def item_rollouts(remaining: int, n_workers: int, rollout_seconds: float = 0.0) -> int:
    """Rollouts the next automatic work item should hold when ``remaining`` are left.

    Guided self-scheduling with a finer divisor: ``ceil(remaining / (ITEMS_PER_WORKER *
    n_workers))``, because rollout costs are skewed (a biped genome that stands for 1600
    steps costs 10x one that falls at once, and its rollouts alike): an item must be short
    beside a worker's share of the generation, not half of it. Once a rollout's cost
    ``rollout_seconds`` is known (the previous generation's costly items', per rollout: the
    95th percentile, :func:`src.search.loop.costly_rollout_seconds`), no item is made shorter than
    :data:`MIN_ITEM_SECONDS` at that cost, so cheap tasks (swing-up, MNIST) keep few
    messages while skewed ones (biped) get single-rollout items at the end.
    """
    size = math.ceil(remaining / (ITEMS_PER_WORKER * max(1, n_workers)))
    if rollout_seconds > 0:
        size = max(size, math.ceil(MIN_ITEM_SECONDS / rollout_seconds))
    return max(1, size)


def rollout_pieces(
    n_genomes: int,
    n_rollouts: int,
    n_workers: int,
    split: int = 0,
    rollout_seconds: float = 0.0,
) -> int:
    """Into how many work items the next genome's ``n_rollouts`` rollouts are cut (1: whole).

    ``n_genomes``: genomes still to evaluate, this one included. ``split > 0`` (the config's
    ``split_rollouts``): that many, always (at most one per rollout). ``split = 0``
    (automatic): whole while :func:`item_rollouts` is a genome or more, else slices that
    small. So at many ranks (pop 480 on 1024) every genome is cut, at fewer only the last
    ones, down to single rollouts; with one worker nothing is.
    """
    if split > 0:
        return max(1, min(split, n_rollouts))
    if n_workers <= 1 or n_genomes <= 0 or n_rollouts <= 1:
        return 1
    size = item_rollouts(n_genomes * n_rollouts, n_workers, rollout_seconds)
    return 1 if size >= n_rollouts else math.ceil(n_rollouts / size)


def whole_from(
    n_rollouts: int, n_workers: int, split: int = 0, rollout_seconds: float = 0.0, most: int = 1
) -> int:
    """The fewest genomes left (at most ``most``) from which :func:`rollout_pieces` keeps a
    genome whole, ``most + 1`` if it never does up to ``most``. It keeps more genomes whole
    the more are left, so the search asks it once a generation instead of once a genome."""
    if rollout_pieces(most, n_rollouts, n_workers, split, rollout_seconds) > 1:
        return most + 1
    lo, hi = 1, most  # pieces(hi) == 1
    while lo < hi:
        mid = (lo + hi) // 2
        if rollout_pieces(mid, n_rollouts, n_workers, split, rollout_seconds) == 1:
            hi = mid
        else:
            lo = mid + 1
    return lo


def root_evaluates(size: int) -> bool:
    """Whether the root evaluates work items itself between polls.

    Yes with at most :data:`ROOT_EVALUATES_UP_TO` ranks: then the root's core is a large
    share (1/2 at ``-n 2``) and, with :data:`DEPTH` items per worker, its slower answers cost
    the workers little. With more ranks its core adds at most 1/size, prompt dispatch
    matters more, and the root has its own work (breeding, checkpoints) to overlap with the
    workers' evaluations, so it only dispatches.
    """
    return size <= ROOT_EVALUATES_UP_TO
