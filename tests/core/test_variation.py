import numpy as np
import pytest
from conftest import grown_genome

from src.core import activations
from src.core.genome import HIDDEN, OUTPUT, Innovations, initial_genome
from src.core.variation import OPERATORS, add_connection, change_activation, mutate

PROBS = (0.2, 0.25, 0.05, 0.5)


def changes(parent, child):
    """What differs between parent and child."""
    return {
        "nodes": child.n_nodes - parent.n_nodes,
        "conns": len(child.conn_src) - len(parent.conn_src),
        "acts": int(np.sum(child.node_act[: parent.n_nodes] != parent.node_act)),
        "flips": int(np.sum(child.conn_enabled[: len(parent.conn_src)] != parent.conn_enabled)),
    }


EXPECTED = {
    "add_node": {"nodes": 1, "conns": 2, "acts": 0, "flips": 1},
    "add_connection": {"nodes": 0, "conns": 1, "acts": 0, "flips": 0},
    "enable": {"nodes": 0, "conns": 0, "acts": 0, "flips": 1},
    "change_activation": {"nodes": 0, "conns": 0, "acts": 1, "flips": 0},
}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("pool", [activations.CONTROL_POOL, activations.CLASSIFICATION_POOL])
def test_every_child_has_exactly_one_valid_mutation(seed, pool):
    rng = np.random.default_rng(seed)
    inn = Innovations.start(5, 2)
    g = initial_genome(5, 2, 0.5, rng)
    seen_innov = set(g.conn_innov.tolist())
    for _ in range(150):
        before = inn.next_innovation
        child, op = mutate(g, rng, inn, PROBS, pool)
        child.validate()  # acyclic, unique ids and innovations, kinds ordered
        assert op in OPERATORS
        assert changes(g, child) == EXPECTED[op]
        new_innov = child.conn_innov[len(g.conn_src) :].tolist()
        assert new_innov == list(range(before, inn.next_innovation))
        assert not seen_innov & set(new_innov)
        seen_innov |= set(new_innov)
        hidden_acts = set(child.node_act[child.node_kind == HIDDEN].tolist())
        assert hidden_acts <= set(pool)
        if op == "change_activation":
            i = np.flatnonzero(child.node_act[: g.n_nodes] != g.node_act)[0]
            assert child.node_kind[i] == HIDDEN
        g = child


def test_step_excluded_from_classification_pool():
    assert activations.STEP not in activations.CLASSIFICATION_POOL
    assert sorted(activations.CONTROL_POOL) == sorted(activations.NAMES)  # every row
    assert set(activations.CLASSIFICATION_POOL) == set(activations.NAMES) - {activations.STEP}


def test_inapplicable_operator_is_redrawn_not_cloned():
    rng = np.random.default_rng(0)
    inn = Innovations.start(3, 1)
    g = initial_genome(3, 1, 1.0, rng)  # no hidden node, nothing disabled, fully wired
    assert change_activation(g, rng, inn, activations.CONTROL_POOL) is None
    assert add_connection(g, rng, inn, activations.CONTROL_POOL) is None
    child, op = mutate(g, rng, inn, (0.0, 0.01, 0.0, 1.0), activations.CONTROL_POOL)
    assert op == "add_node"
    assert child.n_nodes == g.n_nodes + 1


def test_output_to_output_only_when_allowed():
    def out_out(g):
        kinds = dict(zip(g.node_id.tolist(), g.node_kind.tolist()))
        return any(
            kinds[s] == OUTPUT and kinds[d] == OUTPUT
            for s, d in zip(g.conn_src.tolist(), g.conn_dst.tolist())
        )

    for allowed in (False, True):
        rng = np.random.default_rng(1)
        inn = Innovations.start(2, 4)
        g = initial_genome(2, 4, 1.0, rng)
        found = False
        for _ in range(30):
            child = add_connection(g, rng, inn, activations.CONTROL_POOL, allowed)
            if child is None:
                break
            child.validate()
            g = child
            found |= out_out(g)
        assert found == allowed


def test_operators_are_pure_functions_of_the_rng():
    a = grown_genome(5, 1, 40, seed=11)
    b = grown_genome(5, 1, 40, seed=11)
    assert a == b


def _layers_of(g):
    from src.core.variation import _layers

    return _layers(g, g.positions(g.conn_src), g.positions(g.conn_dst))


@pytest.mark.parametrize("seed", range(6))
def test_layered_add_connection_links_to_a_strictly_later_layer(seed):
    """The reference's rule: never from an output, never within a layer, never a duplicate
    of any gene (enabled or not), and the graph of all genes stays acyclic."""
    from src.core.variation import add_connection_layered

    rng = np.random.default_rng(seed)
    g = grown_genome(5, 2, 60, seed)
    inn = Innovations(int(g.node_id.max()) + 1, int(g.conn_innov.max()) + 1)
    added = 0
    for _ in range(40):
        child = add_connection_layered(g, rng, inn, activations.CONTROL_POOL)
        if child is None:
            break
        child.validate()
        layer = _layers_of(g)
        s, d = g.positions(child.conn_src[-1:])[0], g.positions(child.conn_dst[-1:])[0]
        assert g.node_kind[s] != OUTPUT and layer[d] > layer[s]
        pairs = set(zip(g.conn_src.tolist(), g.conn_dst.tolist()))
        assert (int(child.conn_src[-1]), int(child.conn_dst[-1])) not in pairs
        g, added = child, added + 1
    assert added > 0


def test_layers_follow_the_longest_hidden_chain():
    """Inputs 0; a hidden node fed by hidden node h sits one layer after h; outputs last."""
    rng = np.random.default_rng(0)
    inn = Innovations.start(2, 1)
    g = initial_genome(2, 1, 1.0, rng)
    from src.core.variation import add_node

    g = add_node(g, rng, inn, [activations.ids_from_names(("tanh",))[0]])  # in -> h1 -> out
    g = add_node(g, rng, inn, [activations.ids_from_names(("tanh",))[0]])
    layer = _layers_of(g)
    kinds = g.node_kind
    assert (layer[kinds <= 1] == 0).all()  # bias and inputs
    hidden = layer[kinds == HIDDEN]
    assert hidden.min() >= 1
    assert (layer[kinds == OUTPUT] == layer.max()).all() and layer.max() > hidden.max()


def test_no_op_clone_returns_the_parent_and_redraw_does_not():
    """Only 'enable' drawable and nothing disabled: the reference clones, redraw mutates."""
    rng = np.random.default_rng(1)
    inn = Innovations.start(3, 1)
    g = initial_genome(3, 1, 1.0, rng)  # every connection enabled
    probs = (0.0, 1.0, 1.0, 0.0)  # add_node or enable
    ops_clone = {
        mutate(g, rng, inn, probs, activations.CONTROL_POOL, no_op="clone")[1] for _ in range(60)
    }
    assert ops_clone == {"add_node", "clone"}
    for _ in range(30):
        child, op = mutate(g, rng, inn, probs, activations.CONTROL_POOL, no_op="redraw")
        assert op == "add_node" and child.n_nodes == g.n_nodes + 1
    child, op = mutate(g, rng, inn, (0, 0, 1.0, 0), activations.CONTROL_POOL, no_op="clone")
    assert op == "clone" and child is g


def test_unknown_rules_are_refused():
    g = initial_genome(3, 1, 1.0, np.random.default_rng(0))
    inn = Innovations.start(3, 1)
    with pytest.raises(ValueError, match="add_connection_rule"):
        mutate(g, np.random.default_rng(0), inn, PROBS, [1], add_connection_rule="dense")
    with pytest.raises(ValueError, match="no_op"):
        mutate(g, np.random.default_rng(0), inn, PROBS, [1], no_op="skip")


@pytest.mark.parametrize("connect_outputs", [False, True])
def test_add_connection_compiled_walk_gives_the_numpy_sweeps_child(connect_outputs):
    """The compiled walk (src.core.rank_jit.banned_sources) against the numpy sweep per
    level it replaced (src.bench.legacy.add_connection_sweep): from genomes grown by 0 to 300
    mutations (disabled genes included), the same draws give the same child, or both
    ``None``, and leave the RNG and the counters alike."""
    from src.bench import legacy

    compared = 0
    for seed, mutations in [(1, 0), (2, 20), (3, 80), (4, 300)]:
        g = grown_genome(6, 3, mutations, seed)
        for k in range(25):
            runs = []
            for fn in (add_connection, legacy.add_connection_sweep):
                rng = np.random.default_rng([seed, k])
                inn = Innovations(10_000, 20_000)
                child = fn(g, rng, inn, activations.CONTROL_POOL, connect_outputs)
                runs.append((child, rng.bit_generator.state, vars(inn)))
            (a, ra, ia), (b, rb, ib) = runs
            assert ra == rb and ia == ib
            assert (a is None) == (b is None)
            if a is not None:
                for name in ("conn_src", "conn_dst", "conn_enabled", "conn_innov"):
                    assert np.array_equal(getattr(a, name), getattr(b, name))
                compared += 1
    assert compared > 50
