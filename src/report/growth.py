"""The champion over generations, one layout for all panels (Gaier & Ha 2019, figure 5).

The search keeps the champion after generations 0, 1, 2, 4, 8, ... in ``RUN/history``
(:mod:`src.search.history`). :func:`pick` chooses up to three of them, the paper's 8, 32 and
128 where the run has them (else the latest powers of four times two, or whatever there is),
and the final champion closes the row. Node ids are unique within a run, so a node keeps its
name ``n<id>`` from panel to panel: :func:`draw` lays out the union of the panels' networks
once with Graphviz ``dot`` (:mod:`src.report.netdraw`) and draws each panel's nodes and
connections at those fixed places, so the reader sees the network grow. Written as PNG, SVG
and PDF (matplotlib).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, FancyBboxPatch, PathPatch
from matplotlib.path import Path as MplPath

from ..core.genome import HIDDEN, OUTPUT, Genome
from . import netdraw
from .episodes import Net

#: The paper's panels (figure 5): generations 8, 32 and 128, then the final one.
PAPER_GENERATIONS = (8, 32, 128)
#: Widest panel, inches.
PANEL_WIDTH = 5.5


@dataclass(frozen=True)
class Panel:
    """One network of the row: its title and what to draw."""

    title: str
    elements: netdraw.Elements


def pick(available: Sequence[int], final_generation: int, n: int = 3) -> list[int]:
    """Up to ``n`` generations of ``available`` below ``final_generation``: the paper's
    8, 32, 128 where there, else the largest of 2, 8, 32, ... (a factor 4 apart), else the
    largest there are."""
    below = sorted({g for g in available if g < final_generation})
    paper = [g for g in PAPER_GENERATIONS if g in below]
    if len(paper) == min(n, len(PAPER_GENERATIONS)):
        return paper[:n]
    quarters = [g for g in below if g >= 2 and (g.bit_length() - 1) % 2 == 1]  # 2, 8, 32 ...
    chosen = quarters[-n:]
    rest = [g for g in below if g not in chosen]
    while len(chosen) < n and rest:
        chosen.append(rest.pop())
    return sorted(chosen)


def union(panels: Sequence[netdraw.Elements]) -> netdraw.Elements:
    """Every node and connection of the panels, once (the later panel's look wins)."""
    nodes: dict[str, netdraw.Node] = {}
    edges: dict[tuple[str, str, int], netdraw.Edge] = {}
    for els in panels:
        nodes.update((n.name, n) for n in els.nodes)
        edges.update(((e.src, e.dst, e.port), e) for e in els.edges)
    kinds = [n for n in nodes.values() if n.kind != HIDDEN and n.kind != OUTPUT]
    outputs = sorted((n for n in nodes.values() if n.kind == OUTPUT), key=lambda n: int(n.name[1:]))
    if panels and panels[-1].grid_side:  # every pixel any panel reads
        cells = np.any([[*n.cells] for els in panels for n in els.nodes if n.cells], axis=0)
        grid = nodes[netdraw.GRID_NODE]
        nodes[netdraw.GRID_NODE] = netdraw.Node(
            grid.name, grid.kind, grid.label, grid.colour, cells=tuple(bool(c) for c in cells)
        )
        kinds = [nodes[n.name] for n in kinds]
    hidden = [n for n in nodes.values() if n.kind == HIDDEN]
    last = panels[-1] if panels else netdraw.Elements()
    return netdraw.Elements(
        [*kinds, *outputs, *hidden], list(edges.values()), last.n_inputs, last.grid_side
    )


def panels_of(
    snapshots: Sequence[tuple[str, Genome]],
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
) -> list[Panel]:
    """(title, genome) per panel -> what each panel draws."""
    out = []
    for title, genome in snapshots:
        els = netdraw.elements(Net.of(genome), input_names, output_names)
        n_hidden = sum(1 for n in els.nodes if n.kind == HIDDEN)
        out.append(Panel(f"{title}\n{n_hidden} hidden, {len(els.edges)} connections", els))
    return out


def _draw_panel(ax: plt.Axes, panel: Panel, lay: netdraw.Layout, side: int, scale: float) -> None:
    els = panel.elements
    for e in els.edges:
        pts = lay.edges.get((e.src, e.dst, e.port))
        if pts is None or len(pts) < 2:
            continue
        curve, tip = pts[:-1], pts[-1]
        n = 1 + 3 * ((len(curve) - 1) // 3)
        codes = [MplPath.MOVETO] + [MplPath.CURVE4] * (n - 1)
        ax.add_patch(
            PathPatch(MplPath(curve[:n], codes), fc="none", ec=e.colour, lw=0.6 * scale, zorder=1)
        )
        ax.annotate(
            "",
            xy=tip,
            xytext=curve[n - 1],
            arrowprops={
                "arrowstyle": "-|>",
                "color": e.colour,
                "lw": 0.6 * scale,
                "mutation_scale": 7 * scale,
                "shrinkA": 0,
                "shrinkB": 0,
            },
            zorder=2,
        )
    for node in els.nodes:
        x, y, w, h = lay.nodes[node.name]
        if node.name == netdraw.GRID_NODE:
            cell = min(w / side, h / (side + 1.5))
            x0, y1 = x - cell * side / 2, y + h / 2
            image = np.where(np.asarray(node.cells).reshape(side, side), 0.13, 0.93)
            ax.imshow(
                image,
                cmap="gray",
                vmin=0,
                vmax=1,
                extent=(x0, x0 + cell * side, y1 - cell * side, y1),
                zorder=3,
                interpolation="nearest",
            )
            ax.text(
                x,
                y1 - cell * side - 2,
                node.label,
                ha="center",
                va="top",
                fontsize=6 * scale,
                zorder=4,
            )
        elif node.kind == HIDDEN:
            ax.add_patch(
                Circle((x, y), w / 2, fc=node.colour, ec="black", lw=0.5 * scale, zorder=3)
            )
            ax.text(x, y, node.label, ha="center", va="center", fontsize=5.5 * scale, zorder=4)
        else:
            ax.add_patch(
                FancyBboxPatch(
                    (x - w / 2, y - h / 2),
                    w,
                    h,
                    boxstyle="round,pad=0,rounding_size=4",
                    fc=node.colour,
                    ec="black",
                    lw=0.5 * scale,
                    zorder=3,
                )
            )
            grey = node.colour == netdraw.UNUSED
            ax.text(
                x,
                y,
                node.label,
                ha="center",
                va="center",
                fontsize=6 * scale,
                zorder=4,
                color="#888888" if grey else "black",
            )
    ax.set_title(panel.title, fontsize=9)


def draw(
    panels: Sequence[Panel],
    stem: Path,
    title: str = "",
    formats: Sequence[str] = netdraw.FORMATS,
) -> tuple[dict[str, Path], netdraw.Layout]:
    """The panels side by side at the positions of one ``dot`` layout of their union.

    Returns:
        the written files by format, and the layout (every panel's node ``n`` sits at
        ``layout.nodes[n]``).

    Raises:
        GraphvizMissing: ``dot`` is not installed.
    """
    everything = union([p.elements for p in panels])
    lay = netdraw.layout(netdraw.digraph(everything))
    x0, y0, x1, y1 = lay.bbox
    width, height = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    inches = width / 72.0
    scale = min(1.0, PANEL_WIDTH / inches)
    panel_w = inches * scale
    panel_h = height / 72.0 * scale
    fig, axes = plt.subplots(
        1, len(panels), figsize=(panel_w * len(panels) + 0.4, panel_h + 1.2), squeeze=False
    )
    for ax, panel in zip(axes[0], panels):
        _draw_panel(ax, panel, lay, everything.grid_side, scale)
        ax.set_xlim(x0 - 4, x1 + 4)
        ax.set_ylim(y0 - 4, y1 + 4)
        ax.set_aspect("equal")
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    paths = {}
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        fig.savefig(path, dpi=netdraw.DPI, format=fmt)
        paths[fmt] = path
    plt.close(fig)
    return paths, lay
