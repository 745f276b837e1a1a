"""Network pictures by Graphviz dot: formats, arrowheads, one element per node, no overlaps."""

import itertools
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from src.core import activations
from src.core.genome import HIDDEN, Innovations, initial_genome
from src.core.variation import mutate
from src.report import netdraw
from src.report.episodes import Net

SVG = "{http://www.w3.org/2000/svg}"
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF", "svg": b"<?xml"}


def big_genome(n_in: int, n_out: int, n_hidden: int, seed: int, pool=activations.CONTROL_POOL):
    """Mutate until the compiled network computes with ``n_hidden`` hidden nodes or more."""
    rng = np.random.default_rng(seed)
    inn = Innovations.start(n_in, n_out)
    g = initial_genome(n_in, n_out, 0.5, rng)
    while True:
        g, _ = mutate(g, rng, inn, (0.45, 0.4, 0.05, 0.1), pool)
        plan = Net.of(g).plan
        if np.count_nonzero(g.node_kind[plan.order] == HIDDEN) >= n_hidden:
            return g


@pytest.fixture(scope="module")
def net100():
    return Net.of(big_genome(5, 1, 100, seed=1))


def _classes(svg: bytes, cls: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == cls]


def test_a_100_node_champion_renders_with_arrowheads_and_one_element_per_node(net100, tmp_path):
    paths = netdraw.draw(net100, tmp_path / "net", "swingup", ["a", "b", "c", "d", "e"], ["f"])
    assert sorted(paths) == ["pdf", "png", "svg"]
    for fmt, path in paths.items():
        assert path == tmp_path / f"net.{fmt}"
        assert path.read_bytes().startswith(MAGIC[fmt])
    svg = paths["svg"].read_bytes()
    plan = net100.plan
    n_hidden = int(np.count_nonzero(net100.genome.node_kind[plan.order] == HIDDEN))
    nodes = _classes(svg, "node")
    assert len(nodes) == 1 + plan.n_inputs + plan.n_outputs + n_hidden
    assert len({n.find(f"{SVG}title").text for n in nodes}) == len(nodes)
    edges = _classes(svg, "edge")
    assert len(edges) == plan.n_edges  # the invisible ordering edges are not drawn
    for e in edges:
        assert e.find(f"{SVG}path") is not None
        assert e.find(f"{SVG}polygon") is not None, "an edge without arrowhead"
    assert f"{n_hidden} hidden nodes, {plan.n_edges} connections" in svg.decode()


def test_no_two_node_boxes_overlap(net100):
    lay = netdraw.layout(netdraw.digraph(netdraw.elements(net100)))
    boxes = list(lay.nodes.values())
    assert len(boxes) == len(netdraw.elements(net100).nodes)
    for (x1, y1, w1, h1), (x2, y2, w2, h2) in itertools.combinations(boxes, 2):
        apart_x = abs(x1 - x2) >= (w1 + w2) / 2 - 1e-6
        apart_y = abs(y1 - y2) >= (h1 + h2) / 2 - 1e-6
        assert apart_x or apart_y
    assert len(lay.edges) == net100.plan.n_edges


def test_layers_run_left_to_right_inputs_first_outputs_last(net100):
    els = netdraw.elements(net100)
    lay = netdraw.layout(netdraw.digraph(els))
    for e in els.edges:  # every connection points right
        assert lay.nodes[e.src][0] < lay.nodes[e.dst][0]
    kinds = {n.name: n.kind for n in els.nodes}
    xs = {k: [lay.nodes[n][0] for n, kk in kinds.items() if kk == k] for k in set(kinds.values())}
    assert max(xs[1]) < min(xs[HIDDEN]) and max(xs[HIDDEN]) < min(xs[2])
    ys = [lay.nodes[f"n{i}"][1] for i in range(1, 6)]  # inputs in order, top to bottom
    assert ys == sorted(ys, reverse=True)


def test_nodes_take_colour_and_label_from_the_activation_registry(net100):
    els = netdraw.elements(net100)
    g = net100.genome
    act_of = {f"n{int(i)}": int(a) for i, a in zip(g.node_id, g.node_act)}
    hidden = [n for n in els.nodes if n.kind == HIDDEN]
    assert hidden
    for n in hidden:
        row = activations.BY_ID[act_of[n.name]]
        assert (n.colour, n.label) == (row.colour, row.label)
    source = " ".join(netdraw.digraph(els).body)
    for a in {n.act for n in hidden}:
        assert activations.BY_ID[a].name in source  # the legend


def test_weights_colour_the_edges_blue_to_red(tmp_path):
    net = Net.of(big_genome(5, 1, 5, seed=2))
    w = np.linspace(-2, 2, net.n_params)
    els = netdraw.elements(net, weights=w)
    coef = net.edge_coef(w)
    most_negative, most_positive = els.edges[int(np.argmin(coef))], els.edges[int(np.argmax(coef))]
    r, _, b = (int(most_negative.colour[i : i + 2], 16) for i in (1, 3, 5))
    assert b > r
    r, _, b = (int(most_positive.colour[i : i + 2], 16) for i in (1, 3, 5))
    assert r > b
    netdraw.draw(net, tmp_path / "tuned", weights=w, formats=("svg",))
    assert (tmp_path / "tuned.svg").is_file() and not (tmp_path / "tuned.png").exists()


def test_mnist_inputs_are_one_pixel_grid_with_the_used_pixels_marked(tmp_path):
    net = Net.of(big_genome(256, 10, 20, seed=3, pool=activations.CLASSIFICATION_POOL))
    els = netdraw.elements(net)
    (grid,) = [n for n in els.nodes if n.name == netdraw.GRID_NODE]
    used = set(net.plan.indices.tolist())
    assert grid.cells == tuple(s in used for s in range(1, 257))
    from_pixels = [e for e in els.edges if e.src == netdraw.GRID_NODE]
    assert sorted({e.port for e in from_pixels}) == [s - 1 for s in sorted(used) if 0 < s <= 256]
    assert not any(n.name == f"n{s}" for n in els.nodes for s in range(1, 257))
    paths = netdraw.draw(net, tmp_path / "mnist", formats=("svg",))
    svg = paths["svg"].read_text()
    assert svg.count('fill="#222222"') == sum(grid.cells)  # a dark cell per used pixel
    lay = netdraw.layout(netdraw.digraph(els))
    assert {k[2] for k in lay.edges if k[0] == netdraw.GRID_NODE} == {e.port for e in from_pixels}
