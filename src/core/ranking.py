"""Multi-objective ranking and tournament selection for the WANN search.

WANN (Gaier & Ha, "Weight Agnostic Neural Networks", NeurIPS 2019) ranks a population of
genomes on three quantities: the mean reward over the shared-weight sweep, the best (max)
reward over the sweep, and the number of enabled connections (fewer is better). The paper
ranks with non-dominated sorting and crowding distance from NSGA-II (Deb, Pratap, Agarwal &
Meyarivan, "A fast and elitist multiobjective genetic algorithm: NSGA-II", IEEE Trans. Evol.
Comput. 6(2), 2002): with probability 0.8 on (mean reward, 1 / connections), otherwise on
(mean reward, max reward).

Conventions used throughout:

* Every objective is **maximised**; callers negate quantities to be minimised.
* Objectives must not contain NaN (callers guarantee finite values; NaN raises
  ``ValueError`` here). ``-inf`` and ``+inf`` are accepted and behave as ordinary ordered
  values in dominance; see :func:`crowding_distance` for how they enter the distance.
* A rank of 0 is the best genome; ranks are a permutation of ``0 .. n-1``.
* Results never depend on the order in which the population is given: ties are broken by
  values, never by position, except between rows that are identical in everything.

Pure numpy; nothing here imports any other part of ``src``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

import numpy as np

__all__ = [
    "COMPLEXITY_RULES",
    "CROWDING_RULES",
    "RANKING_METHODS",
    "crowding_distance",
    "nondominated_fronts",
    "rank_order",
    "rank_population",
    "tournament",
]


def _as_objectives(objectives: np.ndarray, name: str = "objectives") -> np.ndarray:
    """Validates and converts an objective matrix to a float64 (n, k) array.

    Args:
        objectives: (n, k) array-like of objective values.
        name: Argument name used in error messages.

    Returns:
        (n, k) float64 array (a copy only if a conversion was needed).

    Raises:
        ValueError: If the array is not two-dimensional or contains NaN.
    """
    obj = np.asarray(objectives, dtype=np.float64)
    if obj.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n, k) array, got shape {obj.shape}")
    if np.isnan(obj).any():
        raise ValueError(f"{name} must not contain NaN")
    return obj


def nondominated_fronts(objectives: np.ndarray) -> np.ndarray:
    """Sorts a population into Pareto fronts (NSGA-II non-dominated sorting, Deb et al. 2002).

    Row ``a`` dominates row ``b`` iff ``a >= b`` in every objective and ``a > b`` in at least
    one (all objectives maximised). Identical rows therefore never dominate each other and
    always share a front. Front 0 is the set of non-dominated rows; front ``i > 0`` is the
    set of rows that are non-dominated once fronts ``0 .. i-1`` are removed, so every member
    of front ``i`` is dominated by at least one member of front ``i - 1``.

    Two objectives (what the paper's ranking uses) take a sweep in O(n log n) (Jensen,
    "Reducing the run-time complexity of multiobjective EAs: the NSGA-II and other
    algorithms", IEEE Trans. Evol. Comput. 7(5), 2003): ~0.5 ms for n = 960. Otherwise the
    full (n, n) dominance matrix is built with vectorised comparisons of per-objective dense
    ranks (O(n^2 k) time, about 3 n^2 bytes of memory), then fronts are peeled off by
    decrementing domination counts (a few ms for n = 960, k = 3). Both give the same fronts
    (tested). ``-inf``/``+inf`` are
    ordinary ordered values (``-inf`` is worse than any finite value); NaN is rejected.

    Args:
        objectives: (n, k) objective values, all maximised. Any real dtype.

    Returns:
        (n,) int64 front index of each row, 0 = the non-dominated front. Front indices are
        contiguous: ``0 .. fronts.max()``.

    Raises:
        ValueError: If ``objectives`` is not 2-D or contains NaN.
    """
    obj = _as_objectives(objectives)
    n, k = obj.shape
    fronts = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return fronts
    if k == 0:
        fronts[:] = 0
        return fronts
    if k == 2:
        return _fronts_two(obj)
    return _fronts_matrix(obj)


def _fronts_two(obj: np.ndarray) -> np.ndarray:
    """:func:`nondominated_fronts` of (n, 2) objectives by a sweep.

    Rows are visited by the first objective descending, ties by the second descending, so a
    row can only be dominated by rows visited before it. Within a front, later rows have a
    strictly higher second objective (or are identical to the row before), so each front is
    summed up by its last row's second objective ``top[f]``, and ``top`` does not increase
    with ``f`` (every row of front f + 1 has a dominator in front f, visited earlier). A
    row is dominated by front ``f`` iff ``top[f] >= b`` (it is not identical to that row:
    identical rows are visited one after the other and take the front of the first): its
    front is the first ``f`` with ``top[f] < b``, found by bisection.
    """
    n = obj.shape[0]
    order = np.lexsort((-obj[:, 1], -obj[:, 0]))
    a, b = obj[order, 0].tolist(), obj[order, 1].tolist()
    front_of = [0] * n
    neg_top: list[float] = []  # -top[f], non-decreasing: bisect needs ascending order
    for i in range(n):
        if i and a[i] == a[i - 1] and b[i] == b[i - 1]:
            front_of[i] = front_of[i - 1]
            continue
        f = bisect_right(neg_top, -b[i])
        if f == len(neg_top):
            neg_top.append(-b[i])
        else:
            neg_top[f] = -b[i]
        front_of[i] = f
    fronts = np.empty(n, dtype=np.int64)
    fronts[order] = front_of
    return fronts


def _fronts_matrix(obj: np.ndarray) -> np.ndarray:
    """:func:`nondominated_fronts` of (n, k) objectives from the full dominance matrix."""
    n, k = obj.shape
    fronts = np.full(n, -1, dtype=np.int64)

    # Dense per-column ranks preserve every comparison (ties and infinities included) and
    # make the (n, n) comparisons several times faster than on float64.
    rank_dtype = np.int16 if n <= np.iinfo(np.int16).max else np.int32
    all_ge = np.empty((n, n), dtype=bool)
    all_le = np.empty((n, n), dtype=bool)
    tmp = np.empty((n, n), dtype=bool)
    for c in range(k):
        r = np.unique(obj[:, c], return_inverse=True)[1].reshape(n).astype(rank_dtype)
        col, row = r[:, None], r[None, :]
        if c == 0:
            np.greater_equal(col, row, out=all_ge)
            np.less_equal(col, row, out=all_le)
        else:
            all_ge &= np.greater_equal(col, row, out=tmp)
            all_le &= np.less_equal(col, row, out=tmp)
    del tmp
    # dominates[i, j]: row i dominates row j, i.e. i >= j everywhere and not i == j
    # everywhere (given all_ge, all_le[i, j] means the rows are identical).
    dominates = np.greater(all_ge, all_le, out=all_ge)
    del all_le

    dominates_u8 = dominates.view(np.uint8)
    n_dominators = dominates_u8.sum(axis=0, dtype=np.int64)
    current = np.flatnonzero(n_dominators == 0)
    front = 0
    while current.size:
        fronts[current] = front
        n_dominators -= dominates_u8[current].sum(axis=0, dtype=np.int64)
        # Members of the current front still count 0 (nobody in their front dominates them);
        # mark assigned rows with a negative count so they are never picked again.
        n_dominators[current] = -1
        current = np.flatnonzero(n_dominators == 0)
        front += 1
    return fronts


def _unique_rows_per_front(obj: np.ndarray, fronts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Groups rows that share a front and are identical in every objective.

    Args:
        obj: (n, k) float64 objectives.
        fronts: (n,) int64 front labels.

    Returns:
        ``(first, group)``: (m,) int64 index of one representative row per group, and (n,)
        int64 group id of every row (``obj[first[group]] == obj`` row-wise).
    """
    n, k = obj.shape
    keys = [obj[:, c] for c in range(k - 1, -1, -1)] + [fronts]
    order = np.lexsort(keys)
    s_obj = obj[order]
    s_front = fronts[order]
    new = np.ones(n, dtype=bool)
    if n > 1:
        same = (s_front[1:] == s_front[:-1]) & np.all(s_obj[1:] == s_obj[:-1], axis=1)
        new[1:] = ~same
    group_sorted = np.cumsum(new) - 1
    group = np.empty(n, dtype=np.int64)
    group[order] = group_sorted
    return order[new], group


def _gap_over_range(gap: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Crowding rule ``"range"``: an inner member's ``gap / (hi - lo)`` (see
    :func:`crowding_distance`; 0 for a zero range, the limit for an infinite one)."""
    span = np.where(hi == lo, 0.0, hi - lo)
    finite_span = np.isfinite(span) & (span > 0)
    return np.where(
        finite_span,
        gap / np.where(finite_span, span, 1.0),
        np.where(np.isinf(span) & np.isinf(gap), 1.0, 0.0),
    )


def _gap_times_reference_scale(gap: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Crowding rule ``"reference"``: ``gap * |1/hi - lo|`` as the WANN reference code
    computes it, where the range is finite and non-zero; ``"range"`` elsewhere."""
    span = np.where(hi == lo, 0.0, hi - lo)
    finite_span = np.isfinite(span) & (span > 0)
    scale = np.abs(1.0 / np.where(hi == 0.0, np.inf, hi) - lo)
    scaled = gap * np.where(np.isfinite(scale), scale, 0.0)
    return np.where(finite_span, np.nan_to_num(scaled, posinf=np.inf), _gap_over_range(gap, lo, hi))


#: The crowding rules, name -> an inner front member's contribution for one objective,
#: ``f(gap, lo, hi)`` over arrays (gap between its neighbours, the front's min and max; called
#: under ``np.errstate(invalid="ignore", divide="ignore")``). The config's ``crowding`` key
#: accepts exactly these names; a new rule is one entry here.
CROWDING_RULES: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "range": _gap_over_range,
    "reference": _gap_times_reference_scale,
}


#: How the paper's ranking turns a genome's connection count into its complexity objective
#: (maximised), name -> ``f(connections)`` over arrays; 0 connections count as 1, as the
#: reference's ``1 / nConns`` did ("no conns is always pareto optimal (but boring)"). The
#: fronts are the same under any of them (each is decreasing in the count); the crowding
#: distance is not: with ``"inverse"`` (the reference) the gaps between small networks span
#: most of a front's range (1/3 - 1/4 = 0.083, 1/40 - 1/50 = 0.005), so a genome among the
#: larger networks of a front is "crowded" and ranks after small ones of its front;
#: ``"count"`` (the negated count) spaces every size alike and ``"log"`` (its negated log)
#: in between. ``"inverse_sqrt"`` (1 / sqrt) lies between the reference and the log,
#: ``"sqrt"`` (minus sqrt) between the log and the count: the family c^-p (p > 0), log c
#: (its limit), -c^q (q > 0). The config's ``complexity`` key accepts exactly these names.
COMPLEXITY_RULES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "inverse": lambda conns: 1.0 / np.maximum(conns, 1.0),
    "count": lambda conns: -np.maximum(conns, 1.0),
    "log": lambda conns: -np.log(np.maximum(conns, 1.0)),
    "inverse_sqrt": lambda conns: 1.0 / np.sqrt(np.maximum(conns, 1.0)),
    "sqrt": lambda conns: -np.sqrt(np.maximum(conns, 1.0)),
}


def crowding_distance(
    objectives: np.ndarray, fronts: np.ndarray, rule: str = "range"
) -> np.ndarray:
    """Crowding distance of every row within its own front (Deb et al. 2002, section III-B).

    For each objective, the members of a front are sorted by that objective; the two boundary
    members get ``+inf`` and every inner member adds ``(next - prev) / (max - min)``, where
    ``next``/``prev`` are its neighbours' values and ``max``/``min`` are taken over the
    front. (The WANN reference code multiplied by ``1/max - min`` through an operator
    precedence slip; here the gap is properly divided by the range; ``rule = "reference"``
    multiplies by ``|1/max - min|`` as the reference did, which in practice weights the
    reward gaps about a hundred times more than the 1/connections gaps.) An objective whose
    range within the front is zero contributes 0 to inner members. Fronts with one or two
    distinct members are all ``+inf``.

    Order independence: ties in the objective being sorted are broken by the remaining
    objective values (``np.lexsort`` over all columns), never by position. Rows of a front
    that are identical in every objective are treated as one point and all receive that
    point's distance, so the result permutes exactly with the population, duplicates
    included. (This is the only departure from textbook NSGA-II, where one duplicate may get
    ``+inf`` and its twin a finite value depending on input order.)

    Infinite objective values: a gap between equal values is 0 (also for ``inf - inf``). If
    the range of an objective within a front is infinite, an inner member's contribution is
    1 when its gap is infinite and 0 otherwise (the limit of gap / range). The result is
    never NaN.

    Args:
        objectives: (n, k) objective values, all maximised.
        fronts: (n,) integer front label of each row (any labels; typically the output of
            :func:`nondominated_fronts`). Rows sharing a label form one front.
        rule: ``"range"`` (divide by the range) or ``"reference"`` (see above).

    Returns:
        (n,) float64 crowding distance, ``>= 0``; larger means less crowded.

    Raises:
        ValueError: On shape mismatch or NaN objectives.
    """
    obj = _as_objectives(objectives)
    gap_term = CROWDING_RULES.get(rule)
    if gap_term is None:
        raise ValueError(f"crowding rule must be one of {tuple(CROWDING_RULES)}, got {rule!r}")
    fr = np.asarray(fronts)
    if fr.shape != (obj.shape[0],):
        raise ValueError(f"fronts must have shape ({obj.shape[0]},), got {fr.shape}")
    fr = fr.astype(np.int64, copy=False)
    n, k = obj.shape
    if n == 0:
        return np.zeros(0, dtype=np.float64)

    first, group = _unique_rows_per_front(obj, fr)
    u_obj = obj[first]
    u_front = fr[first]
    m = u_obj.shape[0]
    dist = np.zeros(m, dtype=np.float64)

    for c in range(k):
        others = [u_obj[:, j] for j in range(k - 1, -1, -1) if j != c]
        order = np.lexsort([*others, u_obj[:, c], u_front])
        f_s = u_front[order]
        v = u_obj[order, c]

        starts = np.ones(m, dtype=bool)
        ends = np.ones(m, dtype=bool)
        if m > 1:
            starts[1:] = f_s[1:] != f_s[:-1]
            ends[:-1] = f_s[:-1] != f_s[1:]
        boundary = starts | ends

        seg = np.cumsum(starts) - 1
        lo = v[starts][seg]
        hi = v[ends][seg]

        contrib = np.full(m, np.inf)
        inner = np.flatnonzero(~boundary)
        if inner.size:
            prev = v[inner - 1]
            nxt = v[inner + 1]
            with np.errstate(invalid="ignore", divide="ignore"):
                gap = np.where(nxt == prev, 0.0, nxt - prev)
                contrib[inner] = gap_term(gap, lo[inner], hi[inner])
        dist[order] += contrib

    return dist[group]


def rank_order(fronts: np.ndarray, crowding: np.ndarray, objectives: np.ndarray) -> np.ndarray:
    """Turns fronts and crowding distances into a total order (rank 0 = best).

    Rows are sorted by front ascending, then crowding distance descending, then by the
    objectives descending, lexicographically with the first column most significant. Rows
    identical in all of these keep ascending input index (stable sort).

    Args:
        fronts: (n,) integer front index, lower is better.
        crowding: (n,) float crowding distance, higher is better (``inf`` allowed).
        objectives: (n, k) tie-break values, all maximised, first column most significant.

    Returns:
        (n,) int64 rank of every row; a permutation of ``0 .. n-1``.

    Raises:
        ValueError: On shape mismatch or NaN in ``crowding`` / ``objectives``.
    """
    obj = _as_objectives(objectives)
    n, k = obj.shape
    fr = np.asarray(fronts)
    cd = np.asarray(crowding, dtype=np.float64)
    if fr.shape != (n,) or cd.shape != (n,):
        raise ValueError(
            f"fronts and crowding must have shape ({n},), got {fr.shape} and {cd.shape}"
        )
    if np.isnan(cd).any():
        raise ValueError("crowding must not contain NaN")
    # np.lexsort: last key is the most significant; it is stable, so equal rows keep index.
    keys = [-obj[:, c] for c in range(k - 1, -1, -1)] + [-cd, fr.astype(np.int64, copy=False)]
    order = np.lexsort(keys)
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n, dtype=np.int64)
    return ranks


def _nsga_rank(moo: np.ndarray, tiebreak: np.ndarray, crowding: str = "range") -> np.ndarray:
    """Fronts, crowding within fronts, then :func:`rank_order` with ``tiebreak``.

    Args:
        moo: (n, k) objectives the fronts and crowding are computed on.
        tiebreak: (n, k') objectives breaking the remaining ties.
        crowding: :data:`CROWDING_RULES` entry.

    Returns:
        (n,) int64 rank, 0 = best.

    Two objectives with the ``"range"`` rule (the paper's ranking as the defaults run it)
    go to one compiled call, :func:`src.core.rank_jit.rank_two`: the same ranks as the
    three numpy stages below, ~15x faster (tested).
    """
    if moo.shape[1] == 2 and tiebreak.shape[1] == 3 and crowding == "range" and len(moo):
        from ..tasks.kernels import load  # ahead of time if built, else numba's JIT

        return load().rank_two(
            np.ascontiguousarray(moo, dtype=np.float64),
            np.ascontiguousarray(tiebreak, dtype=np.float64),
        )
    return _nsga_rank_numpy(moo, tiebreak, crowding)


def _nsga_rank_numpy(moo: np.ndarray, tiebreak: np.ndarray, crowding: str = "range") -> np.ndarray:
    """:func:`_nsga_rank` by the numpy stages (any objectives, any crowding rule)."""
    fronts = nondominated_fronts(moo)
    crowd = crowding_distance(moo, fronts, crowding)
    return rank_order(fronts, crowd, tiebreak)


def rank_population(
    objectives: np.ndarray,
    method: str,
    rng: np.random.Generator,
    prob_moo: float = 0.8,
    crowding: str = "range",
    complexity: str = "inverse",
) -> np.ndarray:
    """Ranks a WANN population (rank 0 = best).

    Methods:

    * ``"paper"``: the scheme of Gaier & Ha 2019. One uniform number ``u`` is drawn from
      ``rng``; if ``u < prob_moo`` the population is ranked on the pair
      ``(mean, 1 / max(connections, 1))`` (``complexity = "inverse"``; see
      :data:`COMPLEXITY_RULES` for the others), otherwise on ``(mean, max)``. Within that pair:
      Pareto fronts, then crowding distance inside each front. Remaining ties are broken by
      ``(mean, max, -connections)`` (so, e.g., among genomes with equal rewards the one with
      fewer connections wins; 0 and 1 connections tie in the pair and are separated here).
    * ``"nsga3obj"``: full three-objective NSGA-II on ``(mean, max, -connections)``, ties
      broken by the same three columns. It still draws exactly one number from ``rng`` (and
      ignores it) so that switching method does not shift the rest of the random stream.
    * ``"nsga3"``: the same with the connections objective of ``complexity`` (its crowding;
      the fronts are the same), e.g. ``(mean, max, -log(connections))``.

    Args:
        objectives: (n, 3) columns = (mean reward, max reward, number of enabled
            connections); connections ``>= 0``. Finite values expected; NaN raises.
        method: A :data:`RANKING_METHODS` name.
        rng: Generator; exactly one ``rng.random()`` draw is consumed per call.
        prob_moo: Probability of ranking on (mean, 1/connections) in ``"paper"`` mode.
        crowding: :data:`CROWDING_RULES` entry (see :func:`crowding_distance`).
        complexity: :data:`COMPLEXITY_RULES` entry: the connections objective of
            ``"paper"`` and ``"nsga3"`` (``"nsga3obj"`` ranks on the negated count).

    Returns:
        (n,) int64 rank of every genome; a permutation of ``0 .. n-1``.

    Raises:
        ValueError: Unknown ``method`` or ``complexity``, wrong shape, NaN, or negative
            connection counts.
    """
    scheme = RANKING_METHODS.get(method)
    if scheme is None:
        raise ValueError(
            f"unknown ranking method {method!r}; accepted values: "
            + ", ".join(repr(m) for m in RANKING_METHODS)
        )
    if complexity not in COMPLEXITY_RULES:
        raise ValueError(
            f"unknown complexity {complexity!r}; accepted values: "
            + ", ".join(repr(m) for m in COMPLEXITY_RULES)
        )
    obj = _as_objectives(objectives)
    if obj.shape[1] != 3:
        raise ValueError(
            f"objectives must have shape (n, 3) = (mean, max, connections), got {obj.shape}"
        )
    mean, best, conns = obj[:, 0], obj[:, 1], obj[:, 2]
    if (conns < 0).any():
        raise ValueError("connection counts must be >= 0")

    u = rng.random()  # exactly one draw, whatever the method
    return scheme(mean, best, conns, u < prob_moo, crowding, complexity)


def rank_copies_last(
    objectives: np.ndarray,
    first_copy: np.ndarray,
    method: str,
    rng: np.random.Generator,
    prob_moo: float = 0.8,
    crowding: str = "range",
    complexity: str = "inverse",
) -> np.ndarray:
    """:func:`rank_population` of the distinct networks, then the other copies last.

    ``first_copy[i]`` is the index of the first genome with the same network as genome
    ``i`` (``i`` itself for the first copy, so never above ``i``; copies have equal
    objectives). The first copies are ranked by :func:`rank_population` among themselves
    (one draw from ``rng``, as always); every other copy ranks after all of them, in the
    order of its first copy's rank, then by index. Why: copies of one network share its
    front and its crowding distance, so a network that is copied often (small networks,
    whose mutations often change nothing the network computes) fills the first ranks many
    times over. A swing-up
    search sat for hundreds of generations with 27 copies of one 3-connection network on
    its first front and 177 of its 192 genomes under 5 connections.

    Returns:
        (n,) int64 ranks, a permutation of ``0 .. n-1``.
    """
    first = np.asarray(first_copy)
    n = len(first)
    index = np.arange(n)
    if (
        first.shape != (len(objectives),)
        or not np.issubdtype(first.dtype, np.integer)
        or ((first < 0) | (first > index)).any()
    ):
        raise ValueError(
            "first_copy must hold one integer index <= i into the population per genome"
        )
    first = first.astype(np.int64, copy=False)
    distinct = np.flatnonzero(first == index)
    if (first[first] != first).any():
        raise ValueError("first_copy must point at first copies (first_copy[i] == i there)")
    ranks = np.empty(n, dtype=np.int64)
    ranks[distinct] = rank_population(
        np.asarray(objectives)[distinct], method, rng, prob_moo, crowding, complexity
    )
    copies = np.flatnonzero(first != index)
    order = np.lexsort((copies, ranks[first[copies]]))
    ranks[copies[order]] = len(distinct) + np.arange(len(copies))
    return ranks


def _rank_paper(
    mean: np.ndarray,
    best: np.ndarray,
    conns: np.ndarray,
    on_connections: bool,
    crowding: str,
    complexity: str = "inverse",
) -> np.ndarray:
    """Ranking scheme ``"paper"`` (see :func:`rank_population`)."""
    tiebreak = np.column_stack([mean, best, -conns])
    if on_connections:
        moo = np.column_stack([mean, COMPLEXITY_RULES[complexity](conns)])
    else:
        moo = np.column_stack([mean, best])
    return _nsga_rank(moo, tiebreak, crowding)


def _rank_nsga3obj(
    mean: np.ndarray,
    best: np.ndarray,
    conns: np.ndarray,
    on_connections: bool,
    crowding: str,
    complexity: str = "inverse",
) -> np.ndarray:
    """Ranking scheme ``"nsga3obj"`` (see :func:`rank_population`); ignores the draw and
    ``complexity`` (it ranks on the negated count)."""
    del on_connections, complexity
    tiebreak = np.column_stack([mean, best, -conns])
    return _nsga_rank(tiebreak, tiebreak, crowding)


def _rank_nsga3(
    mean: np.ndarray,
    best: np.ndarray,
    conns: np.ndarray,
    on_connections: bool,
    crowding: str,
    complexity: str = "inverse",
) -> np.ndarray:
    """Ranking scheme ``"nsga3"``: ``"nsga3obj"`` with the connections objective of
    ``complexity``; ignores the draw."""
    del on_connections
    tiebreak = np.column_stack([mean, best, -conns])
    moo = np.column_stack([mean, best, COMPLEXITY_RULES[complexity](conns)])
    return _nsga_rank(moo, tiebreak, crowding)


#: The ranking schemes, name -> ``f(mean, max, connections, on_connections, crowding,
#: complexity)`` returning (n,) int64 ranks, 0 = best. ``on_connections`` is the paper's coin
#: (``u < prob_moo`` for the one number :func:`rank_population` draws per call, whatever the
#: scheme, so switching scheme does not shift the random stream); ``crowding`` is a
#: :data:`CROWDING_RULES` name, ``complexity`` a :data:`COMPLEXITY_RULES` one. The config's
#: ``ranking`` key accepts exactly these names; a new scheme is one entry here.
RANKING_METHODS: dict[
    str, Callable[[np.ndarray, np.ndarray, np.ndarray, bool, str, str], np.ndarray]
] = {
    "paper": _rank_paper,
    "nsga3obj": _rank_nsga3obj,
    "nsga3": _rank_nsga3,
}


def tournament(
    ranks: np.ndarray,
    candidates: np.ndarray,
    n: int,
    size: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Runs ``n`` independent tournaments and returns their winners.

    Each tournament draws ``size`` entries uniformly **with replacement** from
    ``candidates``; the winner is the entry with the lowest rank (the first drawn among
    equal ranks). All draws come from one ``rng.integers(0, len(candidates),
    size=(n, size))`` call. (The WANN reference code effectively used ``2 * size`` entries
    by taking the better winner of two tournaments; here one tournament of ``size``.)

    Args:
        ranks: (N,) rank of every genome of the population, lower is better.
        candidates: (c,) integer indices into ``ranks`` eligible to be drawn, ``c >= 1``.
        n: Number of tournaments (``>= 0``).
        size: Entries per tournament (``>= 1``).
        rng: Generator consumed by exactly one ``integers`` call.

    Returns:
        (n,) int64 winners, each an element of ``candidates``.

    Raises:
        ValueError: Empty ``candidates``, non-integer candidates, ``n < 0`` or ``size < 1``.
    """
    rk = np.asarray(ranks)
    cand = np.asarray(candidates)
    if cand.ndim != 1 or cand.size == 0:
        raise ValueError("candidates must be a non-empty 1-D array of indices")
    if not np.issubdtype(cand.dtype, np.integer):
        raise ValueError(f"candidates must be integer indices, got dtype {cand.dtype}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    cand = cand.astype(np.int64, copy=False)
    draws = rng.integers(0, cand.size, size=(n, size))
    if np.issubdtype(rk.dtype, np.integer) and n:  # one compiled pass (src.core.rank_jit)
        from ..tasks.kernels import load

        return load().tournament_winners(
            np.ascontiguousarray(rk, dtype=np.int64), np.ascontiguousarray(cand), draws
        )
    entries = cand[draws]
    best = np.argmin(rk[entries], axis=1)
    return entries[np.arange(n), best].astype(np.int64, copy=False)
