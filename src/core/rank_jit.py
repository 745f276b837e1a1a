"""The compiled core of the paper's ranking (numba): :func:`rank_two`.

:func:`src.core.ranking.rank_population` ranks on two objectives (the paper's scheme: mean
reward with the complexity objective, or with the max reward) through three numpy stages,
the fronts by a sweep, the crowding distance and the final order: about thirty numpy calls
and a Python loop, ~1.5 ms at a population of 960. Every rank of a replicated loop ranks
every generation, and the root of the dynamic schedule ranks before it sends the first
item, so that is time no rank evaluates. One call here does the same in ~0.1 ms.

The same ranks, bit for bit: the same comparisons and the same floating-point operations in
the same order (a crowding distance is ``0 + term_0 + term_1``, each term ``gap / span``), and
every sort is a stable sort on the same keys, so ties fall as ``np.lexsort`` leaves them
(tested against the numpy stages, :func:`src.core.ranking.nondominated_fronts`,
:func:`~src.core.ranking.crowding_distance` and :func:`~src.core.ranking.rank_order`, on
populations with ties, copies and infinities). Only the ``"range"`` crowding rule is here;
``"reference"`` and three objectives stay with numpy. Kept out of :mod:`src.core.ranking` so
that importing it does not import numba; it is built ahead of time with the task kernels
(:mod:`src.tasks.kernels`), so no rank imports numba for it either.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np

from . import jitcache
from .plan_jit import group_by, reach


@numba.njit(cache=True, inline="always")
def _before(keys, i, j):
    """Whether row ``i`` sorts before row ``j``: ``keys[:, i]`` lexicographically less
    (``keys[0]`` most significant), or equal and ``i < j``."""
    for k in range(keys.shape[0]):
        x, y = keys[k, i], keys[k, j]
        if x < y:
            return True
        if y < x:
            return False
    return i < j


#: :func:`_sort` sorts this many rows or more by their first key's bytes first.
RADIX_FROM = 64


@numba.njit(cache=True)
def _sort(keys, a, lo, hi, tmp):
    """Sort ``a[lo:hi]`` (row indices) in place by :func:`_before` (``tmp``: scratch as long
    as ``a``). With ``a[lo:hi]`` ascending beforehand, this is the stable sort
    ``np.lexsort`` does (no NaN in ``keys``). From :data:`RADIX_FROM` rows: a stable radix
    sort on the first key (:func:`_radix`), then each run of rows equal in it by
    :func:`_merge_sort`; the same order, a third of the time at ~1000 rows."""
    if hi - lo < RADIX_FROM:
        _merge_sort(keys, a, lo, hi, tmp)
        return
    _radix(keys[0], a, lo, hi, tmp)
    _sort_ties(keys, a, lo, hi, tmp)


@numba.njit(cache=True)
def _sort_ties(keys, a, lo, hi, tmp):
    """With ``a[lo:hi]`` in order of the first key, sort each run of rows equal in it by
    :func:`_merge_sort` (the other keys decide, then the index)."""
    first = keys[0]
    i = lo
    while i < hi:
        j = i + 1
        while j < hi and first[a[j]] == first[a[i]]:
            j += 1
        if j - i > 1:
            _merge_sort(keys, a, i, j, tmp)
        i = j


@numba.njit(cache=True)
def _radix(v, a, lo, hi, tmp):
    """Sort ``a[lo:hi]`` stably by ``v[a]`` ascending (no NaN; -0.0 equal to 0.0): a least
    significant digit radix sort on the 64-bit patterns that order as the floats do, a
    byte a pass, passes where every row has the same byte skipped."""
    n = hi - lo
    x = np.empty(n)
    for k in range(n):
        x[k] = v[a[lo + k]]
        if x[k] == 0.0:
            x[k] = 0.0  # -0.0 sorts with 0.0, as the comparisons have it
    u = x.view(np.uint64)
    u2 = np.empty(n, dtype=np.uint64)
    sign = np.uint64(1) << np.uint64(63)
    for k in range(n):
        u[k] = ~u[k] if u[k] & sign else u[k] | sign
    src_u, dst_u = u, u2
    src_a, dst_a = a[lo:hi].copy(), tmp[lo:hi]
    count = np.empty(256, dtype=np.int64)
    for shift in range(0, 64, 8):
        sh = np.uint64(shift)
        count[:] = 0
        for k in range(n):
            count[(src_u[k] >> sh) & np.uint64(255)] += 1
        if count.max() == n:
            continue
        total = 0
        for d in range(256):
            c = count[d]
            count[d] = total
            total += c
        for k in range(n):
            d = (src_u[k] >> sh) & np.uint64(255)
            dst_u[count[d]] = src_u[k]
            dst_a[count[d]] = src_a[k]
            count[d] += 1
        src_u, dst_u = dst_u, src_u
        src_a, dst_a = dst_a, src_a
    a[lo:hi] = src_a


@numba.njit(cache=True)
def _merge_sort(keys, a, lo, hi, tmp):
    """Sort ``a[lo:hi]`` in place by :func:`_before`: runs of 16 by insertion, then merged
    (``tmp``: scratch as long as ``a``); stable."""
    run = 16
    for start in range(lo, hi, run):
        end = min(start + run, hi)
        for i in range(start + 1, end):
            v = a[i]
            j = i - 1
            while j >= start and _before(keys, v, a[j]):
                a[j + 1] = a[j]
                j -= 1
            a[j + 1] = v
    width = run
    src, dst = a, tmp
    while width < hi - lo:
        for start in range(lo, hi, 2 * width):
            mid, end = min(start + width, hi), min(start + 2 * width, hi)
            i, j, k = start, mid, start
            while i < mid and j < end:
                if _before(keys, src[j], src[i]):
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            while i < mid:
                dst[k] = src[i]
                i += 1
                k += 1
            while j < end:
                dst[k] = src[j]
                j += 1
                k += 1
        src, dst = dst, src
        width *= 2
    if src is not a:
        a[lo:hi] = src[lo:hi]


@numba.njit(cache=True)
def _term(gap, lo, hi):
    """The ``"range"`` rule's contribution of an inner member (``_gap_over_range``)."""
    span = 0.0 if hi == lo else hi - lo
    if np.isfinite(span) and span > 0:
        return gap / span
    if np.isinf(span) and np.isinf(gap):
        return 1.0
    return 0.0


@numba.njit(cache=True)
def _add_crowding(v, pts, n_pts, dist):
    """Add one objective's crowding terms to ``dist`` (one per point) for a front's distinct
    points ``pts[:n_pts]``, given in ascending order of ``v`` (their values)."""
    lo, hi = v[pts[0]], v[pts[n_pts - 1]]
    for k in range(n_pts):
        if k == 0 or k == n_pts - 1:
            dist[k] += np.inf
            continue
        prev, nxt = v[pts[k - 1]], v[pts[k + 1]]
        gap = 0.0 if nxt == prev else nxt - prev
        dist[k] += _term(gap, lo, hi)


@numba.njit(cache=True)
def rank_two(moo, tiebreak):
    """Ranks (0 = best) of rows ranked on the two objectives ``moo`` (n, 2), both
    maximised: Pareto fronts, then the crowding distance (``"range"``) descending, then
    ``tiebreak`` (n, t) descending, first column most significant, then the row index.
    What :func:`src.core.ranking._nsga_rank` computes with numpy for two objectives.

    The fronts come from the sweep of :func:`src.core.ranking._fronts_two` (rows by ``a``
    descending, then ``b``), which also orders each front: within a front, rows later in
    the sweep have a strictly higher ``b`` and a strictly lower ``a``, or are identical to
    the row before. So a front's distinct points are its rows in sweep order with copies
    merged, ascending in ``b`` and, read backwards, in ``a``: the orders the crowding
    distance sorts them into (:func:`src.core.ranking.crowding_distance`), with no sort.
    """
    n = moo.shape[0]
    a = moo[:, 0].copy()
    b = moo[:, 1].copy()
    ranks = np.empty(n, dtype=np.int64)
    if n == 0:
        return ranks
    tmp = np.empty(n, dtype=np.int64)
    # the sweep: np.lexsort((-b, -a))
    keys = np.empty((2, n))
    keys[0], keys[1] = -a, -b
    sweep = np.arange(n)
    _sort(keys, sweep, 0, n, tmp)
    fronts = np.empty(n, dtype=np.int64)
    neg_top = np.empty(n)
    n_fronts = 0
    for k in range(n):
        i = sweep[k]
        if k > 0:
            j = sweep[k - 1]
            if a[i] == a[j] and b[i] == b[j]:
                fronts[i] = fronts[j]
                continue
        x = -b[i]
        lo, hi = 0, n_fronts  # bisect_right(neg_top[:n_fronts], x)
        while lo < hi:
            mid = (lo + hi) // 2
            if x < neg_top[mid]:
                hi = mid
            else:
                lo = mid + 1
        neg_top[lo] = x
        if lo == n_fronts:
            n_fronts += 1
        fronts[i] = lo
    # each front's rows in sweep order
    start, by_front = group_by(n_fronts, fronts[sweep], sweep)
    # crowding: each front's distinct points, their distance, shared by their copies
    crowd = np.empty(n)
    pts = np.empty(n, dtype=np.int64)
    rev = np.empty(n, dtype=np.int64)
    point_of = np.empty(n, dtype=np.int64)
    dist = np.empty(n)
    for f in range(n_fronts):
        n_pts = 0
        for k in range(start[f], start[f + 1]):
            i = by_front[k]
            if n_pts and a[i] == a[pts[n_pts - 1]] and b[i] == b[pts[n_pts - 1]]:
                point_of[i] = n_pts - 1
                continue
            pts[n_pts] = i
            point_of[i] = n_pts
            n_pts += 1
        if n_pts <= 2:
            for k in range(start[f], start[f + 1]):
                crowd[by_front[k]] = np.inf
            continue
        for p in range(n_pts):
            dist[p] = 0.0
            rev[p] = pts[n_pts - 1 - p]
        # objective 0 (a) ascending: the points backwards; the terms land on dist[n_pts-1-k]
        d0 = np.zeros(n_pts)
        _add_crowding(a, rev, n_pts, d0)
        for p in range(n_pts):
            dist[p] += d0[n_pts - 1 - p]
        d1 = np.zeros(n_pts)
        _add_crowding(b, pts, n_pts, d1)
        for p in range(n_pts):
            dist[p] += d1[p]
        for k in range(start[f], start[f + 1]):
            crowd[by_front[k]] = dist[point_of[by_front[k]]]
    # the order: by front, then (-crowd, -t_0, -t_1, ...), then index
    t = tiebreak.shape[1]
    keys = np.empty((1 + t, n))
    keys[0] = -crowd
    for c in range(t):
        keys[1 + c] = -tiebreak[:, c]
    # least significant first: every row by -crowd (stable radix: ties in index order),
    # then stably by front; rows equal in front and crowd by the other keys, then index
    by_crowd = np.arange(n)
    _radix(keys[0], by_crowd, 0, n, tmp)
    start, by_front = group_by(n_fronts, fronts[by_crowd], by_crowd)
    for f in range(n_fronts):
        _sort_ties(keys, by_front, start[f], start[f + 1], tmp)
    for k in range(n):
        ranks[by_front[k]] = k
    return ranks


#: :func:`split_near`: a genome goes to its parent's rank while that rank's load is within
#: this share of the genome's cost of the least loaded rank's. Measured on late MNIST
#: populations of 960 over 64 ranks: 0 (a longest-processing-time schedule) balances to
#: 1.0003-1.0005 and moves 650-930 genomes from their parents' ranks; 0.25 balances to
#: 1.001-1.011 and moves 460-620; 1 to 1.05-1.07.
NEAR = 0.25


@numba.njit(cache=True, inline="always")
def _lesser(load, a, b):
    """Of ranks ``a`` and ``b`` (-1: none), the less loaded; ``a`` on a tie (``a < b``)."""
    if b < 0:
        return a
    if a < 0:
        return b
    return b if load[b] < load[a] else a


@numba.njit(cache=True)
def split_near(cost, pref, n_ranks, head):
    """The rank of each of a generation's genomes in the resident loop
    (:mod:`src.search.resident`): costliest first (ties: the lower index), each to the least
    loaded rank (ties: the lowest), as a longest-processing-time schedule, unless the rank
    it prefers (the one holding its parent) is within :data:`NEAR` of its cost of that:
    then there, and its parent need not travel. Rank 0 starts ``head`` behind. Every rank
    computes the same split (the same arithmetic in the same order). The least loaded rank
    is kept at the root of a tournament tree over the ranks (ties to the left, the lower
    rank), updated in log(ranks) steps as a rank's load grows."""
    n = cost.shape[0]
    owner = np.empty(n, dtype=np.int64)
    load = np.zeros(n_ranks)
    load[0] = head
    size = 1
    while size < n_ranks:
        size *= 2
    tree = np.full(2 * size, -1, dtype=np.int64)  # node i: its subtree's least loaded rank
    tree[size : size + n_ranks] = np.arange(n_ranks)
    for i in range(size - 1, 0, -1):
        tree[i] = _lesser(load, tree[2 * i], tree[2 * i + 1])
    order = np.arange(n)
    _radix(-cost, order, 0, n, np.empty(n, dtype=np.int64))  # stable: ties by index
    for k in range(n):
        u = order[k]
        r = tree[1]
        p = pref[u]
        if load[p] <= load[r] + NEAR * cost[u]:
            r = p
        owner[u] = r
        load[r] += cost[u]
        i = (size + r) >> 1
        while i >= 1:
            tree[i] = _lesser(load, tree[2 * i], tree[2 * i + 1])
            i >>= 1
    return owner


@numba.njit(cache=True)
def tournament_winners(ranks, candidates, draws):
    """Each row of ``draws`` (positions in ``candidates``) is a tournament: its winner is the
    entry of lowest rank, the first drawn among equals (what
    :func:`src.core.ranking.tournament` computes with numpy after its one draw)."""
    n, size = draws.shape
    winners = np.empty(n, dtype=np.int64)
    for i in range(n):
        best = candidates[draws[i, 0]]
        for j in range(1, size):
            entry = candidates[draws[i, j]]
            if ranks[entry] < ranks[best]:
                best = entry
        winners[i] = best
    return winners


@numba.njit(cache=True)
def banned_sources(n, src, dst, d):
    """Which of ``n`` node positions may not feed ``d`` by a new connection (what
    :func:`src.core.variation.add_connection` computes for a drawn destination): ``d``, its
    descendants along the connection genes ``src -> dst`` (positions; enabled or not), and
    its present sources. A depth-first walk over the genes sorted by source."""
    starts, succ = group_by(n, src, dst)
    banned = reach(starts, succ, np.array([d]))
    for e in range(src.shape[0]):
        if dst[e] == d:
            banned[src[e]] = True
    return banned


# rank_two and banned_sources compile plan_jit's group_by and reach in: an edit there must
# recompile them
jitcache.key_on_sources(
    (rank_two, banned_sources), (Path(__file__), Path(__file__).with_name("plan_jit.py"))
)
