"""Network pictures laid out by Graphviz ``dot`` (https://graphviz.org): PNG, SVG and PDF.

:func:`draw` writes one network as ``STEM.png``, ``STEM.svg`` and ``STEM.pdf``. ``dot`` puts
the network in layers from left to right (bias and inputs in the first, outputs in the last,
every other node in the layer of its longest path from the inputs) and routes each connection
as a spline around the nodes, with an arrowhead at its destination, so a 100-node champion
stays readable. What is drawn:

* the nodes the network computes with (a hidden node with no path to an output is left out);
  hidden nodes are circles in their activation's colour with its label (the registry,
  :data:`src.core.activations.ROWS`), inputs and outputs boxes with their names, inputs the
  network ignores greyed;
* the enabled connections it uses, each in its source node's colour (grey from inputs), or,
  with per-connection weights, blue (negative) to red (positive) and thicker when larger;
* with many inputs (MNIST's 256 pixels) the inputs as one 16x16 grid (one cell per pixel, in
  the image's layout; the pixels the network reads are dark and their connections leave from
  their cell).

Node names are ``n<node id>`` (node ids are unique within a run, so one name is the same
node in every genome of a run: :mod:`src.report.growth` lays several genomes out as one).
:func:`elements` gives the nodes and edges; :func:`digraph` builds the ``dot`` source;
:func:`layout` runs ``dot`` and returns each node's box and each edge's spline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import graphviz
import numpy as np

from ..core import activations
from ..core.genome import BIAS, HIDDEN, INPUT, OUTPUT
from .episodes import Net

#: Formats written by :func:`draw`.
FORMATS = ("png", "svg", "pdf")
#: Resolution of the PNG.
DPI = 96
#: More inputs than this are drawn as a square pixel grid (when their number is a square).
GRID_ABOVE = 40
GRID_NODE = "pixels"
EDGE_FROM_INPUT = "#555555"
UNUSED = "#d9d9d9"
FONT = "Helvetica"


class GraphvizMissing(RuntimeError):
    """The ``dot`` program is not installed."""


@dataclass
class Node:
    """A drawn node: ``name`` (``n<id>`` or :data:`GRID_NODE`), ``kind`` (genome kinds), the
    text on it, its face colour, and for the pixel grid the used pixels (``cells``)."""

    name: str
    kind: int
    label: str
    colour: str
    act: int = 0
    cells: tuple[bool, ...] = ()


@dataclass
class Edge:
    """A drawn connection: source and destination names, the pixel (port) it leaves from on
    the grid (-1 otherwise), colour, width."""

    src: str
    dst: str
    port: int = -1
    colour: str = EDGE_FROM_INPUT
    width: float = 0.8


@dataclass
class Elements:
    """Nodes (in drawing order: bias/inputs, outputs, hidden) and edges of one network."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    n_inputs: int = 0
    grid_side: int = 0

    @property
    def by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}


def grid_side(n_inputs: int) -> int:
    """Side of the pixel grid the inputs are drawn as, or 0 to draw them one by one."""
    side = math.isqrt(n_inputs)
    return side if n_inputs > GRID_ABOVE and side * side == n_inputs else 0


def _weight_colour(value: float, lim: float) -> str:
    import matplotlib

    rgba = matplotlib.colormaps["coolwarm"](0.5 + 0.5 * value / lim)
    return matplotlib.colors.to_hex(rgba)


def elements(
    net: Net,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    weights: np.ndarray | None = None,
) -> Elements:
    """The nodes and edges to draw (see the module docstring).

    Args:
        net: the compiled network.
        input_names: (n_inputs,) labels (default x0, x1, ...).
        output_names: (n_outputs,) labels (default y0, y1, ...).
        weights: optional (net.n_params,) per-connection weights: edges coloured by weight.
    """
    genome, plan = net.genome, net.plan
    ids = genome.node_id
    name = [f"n{int(i)}" for i in ids]
    used = set(plan.indices.tolist())
    side = grid_side(plan.n_inputs)
    out = Elements(n_inputs=plan.n_inputs, grid_side=side)
    in_names = list(input_names or [f"x{k}" for k in range(plan.n_inputs)])
    out_names = list(output_names or [f"y{k}" for k in range(plan.n_outputs)])
    colour_of: dict[int, str] = {}
    for s in range(1 + plan.n_inputs):
        kind = int(genome.node_kind[s])
        if kind == INPUT and side:
            continue
        face = ("#f0f0f0" if kind == BIAS else "#ffffff") if s in used else UNUSED
        out.nodes.append(Node(name[s], kind, "bias" if kind == BIAS else in_names[s - 1], face))
        colour_of[s] = EDGE_FROM_INPUT
    if side:
        cells = tuple(s in used for s in range(1, 1 + plan.n_inputs))
        out.nodes.append(Node(GRID_NODE, INPUT, f"{side}x{side} inputs", "#ffffff", cells=cells))
    for j, s in enumerate(plan.output_slots.tolist()):
        out.nodes.append(Node(name[s], OUTPUT, out_names[j], "#ffffff"))
        colour_of[s] = EDGE_FROM_INPUT
    for v in plan.order.tolist():
        if int(genome.node_kind[v]) != HIDDEN:
            continue
        row = activations.BY_ID[int(genome.node_act[v])]
        out.nodes.append(Node(name[v], HIDDEN, row.label, row.colour, act=row.id))
        colour_of[v] = row.colour
    w_edge = net.edge_coef(weights) if weights is not None else None
    lim = max(float(np.abs(w_edge).max()), 1e-9) if w_edge is not None and len(w_edge) else 1.0
    for i, v in enumerate(plan.order.tolist()):
        for k in range(plan.indptr[i], plan.indptr[i + 1]):
            s = int(plan.indices[k])
            grid = side and int(genome.node_kind[s]) == INPUT
            edge = Edge(GRID_NODE if grid else name[s], name[v], s - 1 if grid else -1)
            if w_edge is None:
                edge.colour = colour_of.get(s, EDGE_FROM_INPUT)
            else:
                edge.colour = _weight_colour(float(w_edge[k]), lim)
                edge.width = 0.4 + 2.0 * abs(float(w_edge[k])) / lim
            out.edges.append(edge)
    return out


def _grid_label(node: Node, side: int) -> str:
    """An HTML-like label: a ``side`` x ``side`` table, one cell (and port) per pixel."""
    rows = []
    for r in range(side):
        cells = "".join(
            f'<TD PORT="p{r * side + c}" WIDTH="7" HEIGHT="7" FIXEDSIZE="TRUE" '
            f'BGCOLOR="{"#222222" if node.cells[r * side + c] else "#eeeeee"}"></TD>'
            for c in range(side)
        )
        rows.append(f"<TR>{cells}</TR>")
    return (
        '<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">'
        + "".join(rows)
        + f'<TR><TD COLSPAN="{side}"><FONT POINT-SIZE="9">{node.label}</FONT></TD></TR></TABLE>>'
    )


def _legend(acts: Sequence[int], title: str) -> str:
    """The graph label: the title, then one coloured cell per activation used."""
    rows = [activations.BY_ID[a] for a in acts]
    cells = "".join(
        f'<TD BGCOLOR="{r.colour}"><FONT POINT-SIZE="9">'
        f"{r.name if r.label == r.name else f'{r.label} = {r.name}'}</FONT></TD>"
        for r in rows
    )
    text = "<BR/>".join(_escape(line) for line in title.splitlines()) or " "
    legend = f"<TR>{cells}</TR>" if cells else ""
    span = max(1, len(acts))
    return (
        '<<TABLE BORDER="0" CELLSPACING="3">'
        f'<TR><TD COLSPAN="{span}"><FONT POINT-SIZE="12">{text}</FONT></TD></TR>{legend}</TABLE>>'
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def digraph(els: Elements, title: str = "") -> graphviz.Digraph:
    """The ``dot`` source of a network: layers left to right, inputs (in order) first,
    outputs (in order) last, arrowheads at destinations."""
    g = graphviz.Digraph("wann")
    g.attr(
        rankdir="LR",
        splines="spline",
        nodesep="0.08",
        ranksep="0.35",
        outputorder="edgesfirst",
        fontname=FONT,
        labelloc="t",
        bgcolor="white",
        pad="0.2",
    )
    g.attr("node", fontname=FONT, fontsize="9", style="filled", penwidth="0.8")
    g.attr("edge", arrowsize="0.5", penwidth="0.8")
    acts = sorted({n.act for n in els.nodes if n.kind == HIDDEN})
    g.attr(label=_legend(acts, title))
    first = [n for n in els.nodes if n.kind in (BIAS, INPUT)]
    last = [n for n in els.nodes if n.kind == OUTPUT]
    for members, rank in ((first, "source"), (last, "sink")):
        with g.subgraph() as sub:
            sub.attr(rank=rank)
            for n in members:
                if n.name == GRID_NODE:
                    sub.node(n.name, label=_grid_label(n, els.grid_side), shape="plain")
                else:
                    grey = n.colour == UNUSED
                    sub.node(
                        n.name,
                        label=n.label,
                        shape="box",
                        style="rounded,filled",
                        fillcolor=n.colour,
                        fontcolor="#888888" if grey else "black",
                        width="0.3",
                        height="0.25",
                        margin="0.05,0.02",
                    )
            for a, b in zip(members, members[1:]):  # keeps them in order, top to bottom
                sub.edge(a.name, b.name, style="invis")
    for n in els.nodes:
        if n.kind == HIDDEN:
            g.node(
                n.name,
                label=n.label,
                shape="circle",
                fixedsize="true",
                width="0.42",
                fillcolor=n.colour,
                fontsize="8",
            )
    for e in els.edges:
        tail = f"{e.src}:p{e.port}:e" if e.port >= 0 else e.src
        g.edge(tail, e.dst, color=e.colour, penwidth=f"{e.width:.2f}")
    return g


def _pipe(g: graphviz.Digraph, fmt: str) -> bytes:
    try:
        return g.pipe(format=fmt, engine="dot")
    except graphviz.ExecutableNotFound:
        raise GraphvizMissing(
            "Graphviz's dot is not installed (Debian/Ubuntu: apt-get install graphviz; "
            "macOS: brew install graphviz)"
        ) from None


def render(g: graphviz.Digraph, stem: Path, formats: Sequence[str] = FORMATS) -> dict[str, Path]:
    """Run ``dot`` once per format; writes ``stem.<format>``, returns the paths."""
    paths = {}
    for fmt in formats:
        graph = g.copy()
        if fmt == "png":
            graph.attr(dpi=str(DPI))
        path = stem.with_name(f"{stem.name}.{fmt}")
        path.write_bytes(_pipe(graph, fmt))
        paths[fmt] = path
    return paths


def draw(
    net: Net,
    stem: Path,
    title: str = "",
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    weights: np.ndarray | None = None,
    formats: Sequence[str] = FORMATS,
) -> dict[str, Path]:
    """Draw a network (see the module docstring) as ``stem.png``, ``.svg``, ``.pdf``.

    Args:
        net: the compiled network.
        stem: the path without suffix, e.g. ``report/network``.
        title: first line(s) of the picture's label; the node and connection counts follow.
        input_names, output_names: labels of inputs and outputs.
        weights: optional (net.n_params,) per-connection weights (edges coloured by weight).
        formats: which of png, svg, pdf to write.

    Raises:
        GraphvizMissing: ``dot`` is not installed.
    """
    els = elements(net, input_names, output_names, weights)
    n_hidden = sum(1 for n in els.nodes if n.kind == HIDDEN)
    info = f"{n_hidden} hidden nodes, {len(els.edges)} connections"
    if weights is not None:
        info += " (weights: blue negative, red positive)"
    return render(digraph(els, f"{title}\n{info}" if title else info), stem, formats)


@dataclass(frozen=True)
class Layout:
    """Where ``dot`` put things, in points, y up: ``nodes`` name -> (x, y, width, height)
    (centre and size), ``edges`` (tail name, head name, pixel port or -1) -> the spline's
    points (the cubic Bézier control points, then the arrowhead's tip), ``bbox``
    (x0, y0, x1, y1)."""

    nodes: dict[str, tuple[float, float, float, float]]
    edges: dict[tuple[str, str, int], np.ndarray]
    bbox: tuple[float, float, float, float]


def _points(text: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A dot edge ``pos``: ``e,x,y p0 p1 ...`` -> ((n, 2) control points, tip or None)."""
    tip = None
    pts = []
    for token in text.split():
        parts = token.split(",")
        if parts[0] == "e":
            tip = np.array([float(parts[1]), float(parts[2])])
        elif parts[0] == "s":
            continue  # an arrow at the tail: none drawn here
        else:
            pts.append([float(parts[0]), float(parts[1])])
    return np.asarray(pts), tip


def layout(g: graphviz.Digraph) -> Layout:
    """Run ``dot`` for positions only (its ``json0`` output).

    Raises:
        GraphvizMissing: ``dot`` is not installed.
    """
    data = json.loads(_pipe(g, "json0"))
    nodes: dict[str, tuple[float, float, float, float]] = {}
    names: dict[int, str] = {}
    for obj in data.get("objects", []):
        if "pos" not in obj:
            continue  # a subgraph
        x, y = (float(v) for v in obj["pos"].split(","))
        w, h = 72.0 * float(obj["width"]), 72.0 * float(obj["height"])
        nodes[obj["name"]] = (x, y, w, h)
        names[int(obj["_gvid"])] = obj["name"]
    edges: dict[tuple[str, str, int], np.ndarray] = {}
    for e in data.get("edges", []):
        if e.get("style") == "invis" or "pos" not in e:
            continue
        pts, tip = _points(e["pos"])
        port = e.get("tailport", "")  # "p<pixel>:e" from the grid
        pixel = int(port[1:].split(":")[0]) if port else -1
        key = (names[int(e["tail"])], names[int(e["head"])], pixel)
        edges[key] = np.vstack([pts, tip[None]]) if tip is not None else pts
    bbox = tuple(float(v) for v in data["bb"].split(","))
    return Layout(nodes, edges, bbox)  # type: ignore[arg-type]
