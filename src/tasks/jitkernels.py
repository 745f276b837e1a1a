"""The numba rollout kernels of the lockstep tasks, compiled just in time (cached on disk).

:func:`forward_rows` evaluates a network for a batch of rollouts (every lockstep task);
:func:`edge_normals` and :func:`lidar` are FastWalker's lidar (:mod:`src.tasks.biped`). The
callers get them through :func:`src.tasks.kernels.load`, which prefers the same functions
compiled ahead of time (no numba import, no cache loading at start-up) and falls back to
this module. Only this module imports numba for them. Built with them, so that a worker
compiling networks, or a rank ranking a population or breeding children, does not import
numba either: :func:`plan_arrays` (the compiled core of
:func:`src.core.network.compile_genome`, every task's); :func:`rank_two`,
:func:`tournament_winners`, :func:`banned_sources` and :func:`split_near`
(:mod:`src.core.rank_jit`: the paper's ranking, the tournaments, add-connection's banned
sources, the resident loop's split); :func:`node_positions` and :func:`seed_words`
(:mod:`src.core.genome_jit`: a genome's node positions, a child's RNG seed words).
"""

from __future__ import annotations

import math
from pathlib import Path

import numba
import numpy as np

from ..core import activations, jitcache
from ..core.genome_jit import (  # noqa: F401  (built with the kernels)
    node_positions,
    seed_words,
)
from ..core.plan_jit import plan_arrays  # noqa: F401  (built with the kernels)
from ..core.rank_jit import (  # noqa: F401  (built with the kernels)
    banned_sources,
    rank_two,
    split_near,
    tournament_winners,
)

_act = numba.njit(cache=True, inline="always")(activations.numba_scalar())

#: A polygon hit is left to Box2D when two of its clipping fractions are this close (relative).
TIE = 1e-5


@numba.njit(cache=True)
def forward_rows(
    values, inputs, rows, weights, order, act, indptr, indices, coef, out_slots, out, clip
):
    """Evaluate the network for the batch rows ``rows``.

    Args:
        values: (n, n_nodes) scratch, one row per rollout.
        inputs: (n, n_inputs) network inputs, one row per rollout.
        rows: (k,) rollouts to evaluate.
        weights: (n,) shared weight per rollout.
        order, act, indptr, indices, out_slots: the plan's arrays.
        coef: (n_edges,) per-edge coefficients.
        out: (k, n_outputs) written with the outputs of ``rows`` in that order, clipped to
            [-1, 1] if ``clip``.
        clip: whether to clip the outputs.

    Returns:
        (k,) bool: whether all outputs of each row were finite (before clipping).
    """
    n_in = inputs.shape[1]
    finite = np.ones(rows.shape[0], dtype=np.bool_)
    for j in range(rows.shape[0]):
        r = rows[j]
        v = values[r]
        v[0] = 1.0
        for i in range(n_in):
            v[1 + i] = inputs[r, i]
        w = weights[r]
        for i in range(order.shape[0]):
            s = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                s += coef[k] * v[indices[k]]
            v[order[i]] = _act(act[i], w * s)
        for o in range(out_slots.shape[0]):
            x = v[out_slots[o]]
            if not math.isfinite(x):
                finite[j] = False
            elif clip:
                x = min(max(x, -1.0), 1.0)
            out[j, o] = x
    return finite


@numba.njit(cache=True)
def edge_normals(v1x, v1y, v2x, v2y, nx, ny):
    """Each edge's unit normal, in float32 exactly as Box2D's b2EdgeShape::RayCast makes it."""
    eps = np.float32(1.1920928955078125e-07)  # FLT_EPSILON (b2_epsilon)
    one = np.float32(1.0)
    for j in range(v1x.shape[0]):
        x = v2y[j] - v1y[j]
        y = -(v2x[j] - v1x[j])
        length = np.float32(np.sqrt(x * x + y * y))
        if length >= eps:  # b2Vec2::Normalize leaves tiny vectors as they are
            inv = one / length
            x = x * inv
            y = y * inv
        nx[j] = x
        ny[j] = y


@numba.njit(cache=True)
def polygon_hit(ax, ay, dx, dy, verts, normals, count):
    """b2PolygonShape::RayCast (float32, same operations) with ``maxFraction`` 1.

    Returns (fraction or -1 if not hit, whether the answer might depend on the
    ``maxFraction`` Box2D passes: two clipping fractions within :data:`TIE`).
    """
    zero = np.float32(0.0)
    one = np.float32(1.0)
    lower, upper, index = zero, one, -1
    hit = True
    for v in range(count):
        numerator = normals[v, 0] * (verts[v, 0] - ax) + normals[v, 1] * (verts[v, 1] - ay)
        denominator = normals[v, 0] * dx + normals[v, 1] * dy
        if denominator == zero:
            if numerator < zero:
                hit = False
                break
        elif denominator < zero and numerator < lower * denominator:
            lower = numerator / denominator
            index = v
        elif denominator > zero and numerator < upper * denominator:
            upper = numerator / denominator
        if upper < lower:
            hit = False
            break
    # Box2D starts ``upper`` at its current maxFraction m (in [the final fraction, 1]), not 1:
    # the outcome is the same unless an exit fraction (or m) nearly ties an entry fraction.
    fragile = False
    for v in range(count):
        den_v = normals[v, 0] * dx + normals[v, 1] * dy
        if den_v <= zero:
            continue
        num_v = normals[v, 0] * (verts[v, 0] - ax) + normals[v, 1] * (verts[v, 1] - ay)
        exit_ = num_v / den_v
        for u in range(count + 1):
            if u == count:
                entry = zero
            else:
                den_u = normals[u, 0] * dx + normals[u, 1] * dy
                if den_u >= zero:
                    continue
                num_u = normals[u, 0] * (verts[u, 0] - ax) + normals[u, 1] * (verts[u, 1] - ay)
                entry = num_u / den_u
            for e in (exit_, one):
                if abs(e - entry) <= TIE * (abs(e) + abs(entry)) + 1e-30:
                    fragile = True
    if hit and index >= 0:
        return lower, fragile
    return np.float32(-1.0), fragile


@numba.njit(cache=True)
def lidar(px, py, dxs, dys, v1x, v1y, v2x, v2y, nx, ny, boxes, verts, normals, counts, out, box2d):
    """The walker's 10 lidar fractions against the terrain, as Box2D computes them.

    Box2D's ray cast (b2World::RayCast with gymnasium's callback, which ignores the walker's
    own fixtures and clips the ray at each terrain hit) ends with the smallest fraction ``t``
    at which a terrain fixture is hit, or 1. Whether and where an edge is hit does not depend
    on the order Box2D visits the fixtures in, so this replays b2EdgeShape::RayCast in float32
    (the same operations in the same order) on every edge within the ray's x range. For a
    polygon (hardcore's stumps, stairs and pits) Box2D's answer can depend on the order only
    through near-ties (see :func:`polygon_hit`); a ray that meets one sets ``box2d[i]`` and
    is left to Box2D.

    Args:
        px, py: hull position (float32 values); dxs, dys: (10,) ray offsets (float64).
        v1x, v1y, v2x, v2y: (m,) float32 edge vertices; nx, ny: their normals.
        boxes: (k, 4) polygon bounding boxes (xmin, xmax, ymin, ymax); verts, normals:
            (k, 8, 2) float32, as Box2D stores them; counts: (k,) vertices of each.
        out: (10,) float32, written with the fractions. box2d: (10,) bool, written.

    Returns:
        The number of rays left to Box2D.
    """
    zero = np.float32(0.0)
    one = np.float32(1.0)
    n_box2d = 0
    margin = np.float32(0.01)
    # The ray in a static body's frame: b2MulT(q, p - xf.p) with p = (0, 0), angle 0.
    x, y = np.float32(px) - zero, np.float32(py) - zero
    ax = one * x + zero * y
    ay = -zero * x + one * y
    for i in range(10):
        x = np.float32(px + dxs[i]) - zero
        y = np.float32(py + dys[i]) - zero
        bx = one * x + zero * y
        by = -zero * x + one * y
        dx = bx - ax
        dy = by - ay
        lo_x, hi_x = min(ax, bx), max(ax, bx)
        lo_y, hi_y = min(ay, by), max(ay, by)
        best = one
        for j in range(v1x.shape[0]):
            if v2x[j] < lo_x - margin or v1x[j] > hi_x + margin:
                continue
            numerator = nx[j] * (v1x[j] - ax) + ny[j] * (v1y[j] - ay)
            denominator = nx[j] * dx + ny[j] * dy
            if denominator == zero:
                continue
            t = numerator / denominator
            if t < zero or best < t:
                continue
            qx = ax + t * dx
            qy = ay + t * dy
            rx = v2x[j] - v1x[j]
            ry = v2y[j] - v1y[j]
            rr = rx * rx + ry * ry
            if rr == zero:
                continue
            s = ((qx - v1x[j]) * rx + (qy - v1y[j]) * ry) / rr
            if s < zero or one < s:
                continue
            best = t
        box2d[i] = False
        for k in range(boxes.shape[0]):
            if (
                boxes[k, 0] - margin > hi_x
                or boxes[k, 1] + margin < lo_x
                or boxes[k, 2] - margin > hi_y
                or boxes[k, 3] + margin < lo_y
            ):
                continue
            t, fragile = polygon_hit(ax, ay, dx, dy, verts[k], normals[k], counts[k])
            if fragile:
                box2d[i] = True
            if t >= zero and t < best:
                best = t
        out[i] = best
        n_box2d += box2d[i]
    return n_box2d


# forward_rows inlines activations.apply_scalar: its cache must notice edits there too.
jitcache.key_on_sources(
    (forward_rows, edge_normals, polygon_hit, lidar), (Path(__file__), Path(activations.__file__))
)
