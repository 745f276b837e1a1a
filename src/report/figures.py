"""The report's pictures (PNG, matplotlib's Agg backend, no display needed).

* :func:`draw_network`: the network in layers like the paper's figures: inputs (and the bias)
  on the left, outputs on the right, every other node in the column of its longest path from
  the inputs; nodes coloured and labelled by activation; enabled connections that reach an
  output only (inputs the network ignores are greyed, hidden nodes that reach no output
  omitted). With per-connection weights, connections are coloured by weight.
* :func:`learning_curves`: best and median mean reward over generations from ``stats.csv``,
  median connections below.
* :func:`sweep_plot`: return (mean +- sd over episodes) against the shared weight.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from ..core import activations
from ..core.genome import BIAS, HIDDEN, INPUT, OUTPUT
from .episodes import Net

# Hidden nodes take their colour and label from their activation's row
# (src.core.activations.ROWS); inputs, bias and outputs have their own.
KIND_COLOURS = {BIAS: "#f0f0f0", INPUT: "#ffffff", OUTPUT: "#ffffff"}
UNUSED = "#d9d9d9"
DPI = 96


def layers(net: Net) -> dict[int, int]:
    """Column of each drawn node slot: 0 for bias and inputs, the longest path from them for
    computed nodes; all outputs share the last column."""
    plan = net.plan
    col = {s: 0 for s in range(1 + plan.n_inputs)}
    for i, v in enumerate(plan.order.tolist()):
        src = plan.indices[plan.indptr[i] : plan.indptr[i + 1]].tolist()
        col[v] = 1 + max((col[s] for s in src), default=0)
    outputs = set(plan.output_slots.tolist())
    last = max([c for s, c in col.items() if s not in outputs] + [0]) + 1
    for s in outputs:
        col[s] = last
    return col


def _positions(net: Net, col: dict[int, int]) -> dict[int, tuple[float, float]]:
    """(x, y) per node: columns left to right, each ordered by the mean height of its sources
    (barycentre heuristic, a few sweeps) and spread over the same height."""
    plan = net.plan
    n_cols = max(col.values()) + 1
    preds: dict[int, list[int]] = {}
    for i, v in enumerate(plan.order.tolist()):
        preds[v] = plan.indices[plan.indptr[i] : plan.indptr[i + 1]].tolist()
    by_col: list[list[int]] = [[] for _ in range(n_cols)]
    for s in sorted(col):
        by_col[col[s]].append(s)
    tallest = max(len(c) for c in by_col)
    y: dict[int, float] = {}

    def spread(nodes: list[int]) -> None:
        n = len(nodes)
        step = min((tallest - 1) / (n - 1), 1.6) if n > 1 else 0.0
        for k, s in enumerate(nodes):
            y[s] = (n - 1) / 2 * step - k * step

    spread(by_col[0])
    outputs_in_order = by_col[-1]
    for c in range(1, n_cols):
        nodes = by_col[c]
        if c == n_cols - 1:
            nodes = sorted(outputs_in_order)  # outputs keep their order (action index)
        else:
            nodes = sorted(nodes, key=lambda s: -np.mean([y[p] for p in preds.get(s, [])] or [0]))
        by_col[c] = nodes
        spread(nodes)
    return {s: (col[s] / max(n_cols - 1, 1), y[s]) for s in col}


def _curve(p0: tuple[float, float], p1: tuple[float, float], span: int) -> np.ndarray:
    """(k, 2) points of a connection: a straight line to the next column, else a gentle
    arc bowing away from the middle, so that long connections do not run through nodes."""
    a, b = np.asarray(p0, dtype=float), np.asarray(p1, dtype=float)
    if span <= 1:
        return np.stack([a, b])
    mid = (a + b) / 2
    bow = 1.0 if mid[1] >= 0 else -1.0
    control = mid + np.array([0.0, bow * 0.35 * min(span, 4)])
    t = np.linspace(0.0, 1.0, 24)[:, None]
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * control + t**2 * b


def draw_network(
    net: Net,
    path: Path,
    title: str = "",
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    weights: np.ndarray | None = None,
) -> Path:
    """Draw the network in layers and save a PNG.

    Args:
        net: the compiled network.
        path: where the PNG goes.
        title: figure title.
        input_names: (n_inputs,) labels of the inputs (default x0, x1, ...).
        output_names: (n_outputs,) labels of the outputs.
        weights: optional (net.n_params,) per-connection weights: connections are coloured by
            weight (blue negative, red positive) instead of grey.
    """
    genome, plan = net.genome, net.plan
    used_inputs = set(plan.indices.tolist())
    many = plan.n_inputs > 40
    col = layers(net)
    if many:  # e.g. MNIST's 256 pixels: draw only the inputs the network reads
        col = {s: c for s, c in col.items() if s > plan.n_inputs or s in used_inputs}
    pos = _positions(net, col)
    n_cols = max(col.values()) + 1
    tallest = max(sum(1 for c in col.values() if c == k) for k in range(n_cols))
    fig_w = min(16.0, 3.0 + 1.6 * n_cols)
    fig_h = min(14.0, 2.0 + (0.06 if many else 0.55) * tallest)
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    edges = [
        (int(plan.indices[k]), int(v), k)
        for i, v in enumerate(plan.order.tolist())
        for k in range(plan.indptr[i], plan.indptr[i + 1])
    ]
    segments = [_curve(pos[s], pos[d], col[d] - col[s]) for s, d, _ in edges]
    if weights is None:
        colours: list = ["#555555"] * len(edges)
        widths = [0.7] * len(edges)
    else:
        w_edge = net.edge_coef(weights)
        lim = max(float(np.abs(w_edge).max()), 1e-9) if len(w_edge) else 1.0
        cmap = plt.get_cmap("coolwarm")
        colours = [cmap(0.5 + 0.5 * w_edge[k] / lim) for _, _, k in edges]
        widths = [0.4 + 1.6 * abs(w_edge[k]) / lim for _, _, k in edges]
    ax.add_collection(
        LineCollection(segments, colors=colours, linewidths=widths, alpha=0.6, zorder=1)
    )
    if weights is not None:
        mappable = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(-lim, lim))
        fig.colorbar(mappable, ax=ax, fraction=0.025, pad=0.01, label="connection weight")
    used_acts: set[int] = set()
    xs, ys, faces = [], [], []
    for s in col:
        x, yy = pos[s]
        kind = int(genome.node_kind[s])
        if kind == HIDDEN:
            row = activations.BY_ID[int(genome.node_act[s])]
            used_acts.add(row.id)
            face, label = row.colour, row.label
        else:
            face = KIND_COLOURS[kind] if (kind == OUTPUT or s in used_inputs) else UNUSED
            label = ""
        xs.append(x)
        ys.append(yy)
        faces.append(face)
        if label and not many:
            ax.text(x, yy, label, ha="center", va="center", fontsize=7, zorder=4)
        if kind in (BIAS, INPUT) and not many:
            names = input_names or [f"x{k}" for k in range(plan.n_inputs)]
            text = "bias" if kind == BIAS else names[s - 1]
            colour = "black" if s in used_inputs else "#999999"
            ax.text(x - 0.02, yy, text, ha="right", va="center", fontsize=9, color=colour)
        if kind == OUTPUT:
            j = int(np.flatnonzero(plan.output_slots == s)[0])
            names = output_names or [f"y{k}" for k in range(plan.n_outputs)]
            ax.text(x + 0.02, yy, names[j], ha="left", va="center", fontsize=9)
    size = 14 if many else 380
    ax.scatter(xs, ys, s=size, c=faces, edgecolors="black", linewidths=0.8, zorder=3)
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            markersize=9,
            markerfacecolor=row.colour,
            markeredgecolor="black",
            label=row.name,
        )
        for row in activations.BY_ID.values()
        if row.id in used_acts
    ]
    if handles:
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.01),
            ncol=min(len(handles), 6),
            frameon=False,
            fontsize=8,
        )
    ax.set_xlim(-0.18, 1.14)
    half = max(abs(y) for _, y in pos.values()) + 0.6
    ax.set_ylim(-half, half)
    ax.set_axis_off()
    n_hidden = sum(1 for s in col if int(genome.node_kind[s]) == HIDDEN)
    info = f"{n_hidden} hidden nodes, {len(edges)} connections"
    ax.set_title(f"{title}\n{info}" if title else info, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def read_stats(path: Path) -> dict[str, np.ndarray]:
    """Columns of a run's ``stats.csv`` as float arrays (non-finite values as NaN)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = {}
    for key in rows[0] if rows else []:
        values = np.array([float(r[key]) for r in rows])
        values[~np.isfinite(values)] = np.nan
        out[key] = values
    return out


def learning_curves(stats: dict[str, np.ndarray], path: Path, title: str = "") -> Path:
    """Best and median mean reward, and median connections, over generations."""
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(7.0, 5.2), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    gen = stats["generation"]
    if "best_max" in stats:
        top.plot(gen, stats["best_max"], color="#bbbbbb", lw=0.8, label="best max reward")
    top.plot(gen, stats["best_mean"], color="#d62728", lw=1.4, label="best mean reward")
    top.plot(gen, stats["median_mean"], color="#1f77b4", lw=1.2, label="median mean reward")
    top.set_ylabel("reward over the weight series")
    top.legend(loc="lower right", fontsize=8)
    top.grid(alpha=0.3)
    bottom.plot(gen, stats["median_connections"], color="#2ca02c", lw=1.2)
    bottom.set_ylabel("median connections")
    bottom.set_xlabel("generation")
    bottom.grid(alpha=0.3)
    if title:
        top.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def sweep_plot(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray, float]],
    path: Path,
    ylabel: str = "episode return",
    title: str = "",
    marks: Sequence[float] = (),
) -> Path:
    """Return against shared weight.

    Args:
        curves: per line (label, weights (s,), mean (s,), sd (s,) or NaN for none, chosen w).
        path: where the PNG goes.
        ylabel: what the y axis shows.
        title: figure title.
        marks: weights to mark on the x axis (the search's weight series).
    """
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    colours = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
    for (label, w, mean, sd, best), colour in zip(curves, colours):
        ax.plot(w, mean, color=colour, lw=1.5, label=label)
        if np.isfinite(sd).any():
            ax.fill_between(w, mean - sd, mean + sd, color=colour, alpha=0.15, lw=0)
        if np.isfinite(best):
            j = int(np.argmin(np.abs(w - best)))
            ax.plot([best], [mean[j]], "o", color=colour, ms=6)
            ax.annotate(
                f"w* = {best:+.2f}",
                (best, mean[j]),
                textcoords="offset points",
                xytext=(-62, 6) if best > 1.0 else (6, 6),
                fontsize=8,
                color=colour,
            )
    for m in marks:
        ax.axvline(m, color="#888888", lw=0.6, ls=":", zorder=0)
    ax.set_xlabel("shared weight")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
