import math

import numpy as np
import pytest
from conftest import grown_genome

from src.core import activations
from src.core.genome import HIDDEN, Genome, initial_genome
from src.core.network import compile_genome, forward

#: The paper's ten (Gaier & Ha 2019), written down independently of the registry.
PAPER = {
    "linear": lambda x: x,
    "step": lambda x: 1.0 if x > 0 else 0.0,
    "sin": lambda x: math.sin(math.pi * x),
    "gaussian": lambda x: math.exp(-(x**2) / 2),
    "tanh": math.tanh,
    "sigmoid": lambda x: (math.tanh(x / 2) + 1) / 2,
    "inverse": lambda x: -x,
    "abs": abs,
    "relu": lambda x: max(0.0, x),
    "cos": lambda x: math.cos(math.pi * x),
}


@pytest.mark.parametrize("name", list(PAPER))
def test_the_papers_activations_are_registered_as_defined(name):
    xs = np.linspace(-3, 3, 61)
    act = activations.IDS[name]
    expected = np.array([PAPER[name](float(x)) for x in xs])
    np.testing.assert_allclose(activations.apply(act, xs), expected, atol=1e-15)
    scalar = np.array([activations.apply_scalar(act, float(x)) for x in xs])
    np.testing.assert_allclose(scalar, expected, atol=1e-15)


def hand_genome() -> Genome:
    """in1, in2 -> out; bias, in1 -> h (tanh) -> out; dead node d (cos) feeds nothing."""
    return Genome.from_dict(
        {
            "nodes": [
                {"id": 0, "kind": "bias", "activation": "linear"},
                {"id": 1, "kind": "input", "activation": "linear"},
                {"id": 2, "kind": "input", "activation": "linear"},
                {"id": 3, "kind": "output", "activation": "linear"},
                {"id": 4, "kind": "hidden", "activation": "tanh"},
                {"id": 5, "kind": "hidden", "activation": "cos"},
            ],
            "connections": [
                {"source": 0, "destination": 4, "enabled": True, "innovation": 10},
                {"source": 1, "destination": 4, "enabled": True, "innovation": 11},
                {"source": 4, "destination": 3, "enabled": True, "innovation": 12},
                {"source": 2, "destination": 3, "enabled": True, "innovation": 13},
                {"source": 1, "destination": 3, "enabled": False, "innovation": 14},
                {"source": 2, "destination": 5, "enabled": True, "innovation": 15},
            ],
        }
    )


def test_forward_matches_hand_computation():
    plan = compile_genome(hand_genome())
    assert 5 not in plan.order.tolist()  # node 5 reaches no output: pruned
    x1, x2 = 0.3, -0.2
    for w in (-2.0, -0.5, 0.5, 1.0, 2.0):
        expected = w * (math.tanh(w * (1.0 + x1)) + x2)
        out = forward(plan, np.array([[x1, x2]]), w)
        assert out.shape == (1, 1)
        assert out[0, 0] == pytest.approx(expected, abs=1e-14)


def test_forward_batches_over_weights_and_inputs():
    plan = compile_genome(grown_genome(5, 2, 30, seed=7))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5))
    w = np.array([-2, -1, -0.5, 0.5, 1, 2.0])
    batched = forward(plan, x[None, :, :], w[:, None])  # (6, 7, 2)
    assert batched.shape == (6, 7, 2)
    for i, wi in enumerate(w):
        for j in range(7):
            np.testing.assert_allclose(batched[i, j], forward(plan, x[j], wi), rtol=1e-14)


def test_edge_coefficients_give_per_connection_weights():
    g = hand_genome()
    plan = compile_genome(g)
    coef = np.ones(plan.n_edges)
    coef[plan.edge_conn == 0] = 3.0  # bias -> h weighs 3
    out = forward(plan, np.array([0.3, -0.2]), 1.0, coef)
    assert out[0] == pytest.approx(math.tanh(3.0 + 0.3) - 0.2)


def test_unconnected_output_is_zero():
    g = hand_genome()
    g = g.replace(conn_enabled=np.zeros(len(g.conn_src), dtype=bool))
    assert forward(compile_genome(g), np.array([1.0, 2.0]), 2.0)[0] == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_compile_genome_gives_the_previous_plans(seed):
    """The compiled compile_genome gives the very plans (values and dtypes) of the previous
    two (numpy with a Python heap; a numpy walk per node), for grown genomes of several
    sizes with disabled connections, with the nodes stored in reverse (hidden nodes
    before the inputs: every node is ordered), and without connections."""
    from src.bench import legacy

    cases = ((2, 1, 10, None), (24, 4, 80, None), (256, 10, 300, activations.CLASSIFICATION_POOL))
    for n_in, n_out, n_mutations, pool in cases:
        g = grown_genome(n_in, n_out, n_mutations + 7 * seed, seed=seed, pool=pool)
        assert not g.conn_enabled.all()
        back = np.arange(g.n_nodes)[::-1]
        reversed_nodes = g.replace(
            node_id=g.node_id[back], node_kind=g.node_kind[back], node_act=g.node_act[back]
        )
        empty = initial_genome(n_in, n_out, 0.0, np.random.default_rng(seed))  # no edges
        for genome in (g, reversed_nodes, empty):
            new = compile_genome(genome)
            for old in (legacy.compile_genome_numpy(genome), legacy.compile_genome(genome)):
                for name in new.__dataclass_fields__:
                    a, b = getattr(new, name), getattr(old, name)
                    assert np.array_equal(a, b) and np.asarray(a).dtype == np.asarray(b).dtype


def test_compile_genome_rejects_a_cycle():
    g = grown_genome(3, 2, 12, seed=1)
    hidden = g.node_id[g.node_kind == HIDDEN]
    loop = g.replace(
        conn_src=np.append(g.conn_src, hidden[0]),
        conn_dst=np.append(g.conn_dst, hidden[0]),
        conn_enabled=np.append(g.conn_enabled, True),
        conn_innov=np.append(g.conn_innov, 999),
    )
    with pytest.raises(ValueError, match="cycle"):
        compile_genome(loop)
