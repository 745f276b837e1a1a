import json

import numpy as np
import pytest
from conftest import grown_genome

from src.core.genome import (
    BIAS,
    HIDDEN,
    INPUT,
    OUTPUT,
    Genome,
    Innovations,
    initial_genome,
    pack,
    unpack,
)


def test_initial_genome_is_fully_wired_once():
    g = initial_genome(5, 2, 1.0, np.random.default_rng(0))
    g.validate()
    assert list(g.node_kind) == [BIAS] + [INPUT] * 5 + [OUTPUT] * 2
    pairs = set(zip(g.conn_src.tolist(), g.conn_dst.tolist()))
    assert pairs == {(s, d) for s in range(6) for d in (6, 7)}
    assert g.n_connections == 12
    assert list(g.conn_innov) == list(range(12))
    inn = Innovations.start(5, 2)
    assert (inn.next_node_id, inn.next_innovation) == (8, 12)


def test_initial_enable_probability():
    g = initial_genome(256, 10, 0.05, np.random.default_rng(1))
    assert 0.03 < g.n_connections / len(g.conn_src) < 0.07


def test_pack_unpack_and_json_roundtrip():
    genomes = [grown_genome(5, 1, n, seed=n) for n in (0, 3, 20)]
    assert unpack(pack(genomes)) == genomes
    for g in genomes:
        assert Genome.from_dict(g.to_dict()) == g


def test_pack_enabled_only_keeps_the_network():
    """What an evaluation is sent: the enabled connections, in order; the same key, the
    same compiled network (its edges indexed in the smaller arrays), the same outputs."""
    from src.core.network import compile_genome, forward

    genomes = [initial_genome(16, 3, 0.1, np.random.default_rng(4))]
    genomes += [grown_genome(16, 3, n, seed=n) for n in (5, 40)]
    assert any(not g.conn_enabled.all() for g in genomes)
    packed = pack(genomes, enabled_only=True)
    assert (
        len(packed["conns"]) == sum(g.n_connections for g in genomes) < len(pack(genomes)["conns"])
    )
    x = np.random.default_rng(0).normal(size=(7, 16))
    for g, sent in zip(genomes, unpack(packed)):
        assert sent.conn_enabled.all() and sent.key() == g.key()
        en = g.conn_enabled
        for name in ("conn_src", "conn_dst", "conn_innov"):
            assert np.array_equal(getattr(sent, name), getattr(g, name)[en])
        assert np.array_equal(sent.node_id, g.node_id)
        a, b = compile_genome(g), compile_genome(sent)
        for f in ("order", "act", "indptr", "indices", "output_slots"):
            assert np.array_equal(getattr(a, f), getattr(b, f)), f
        assert np.array_equal(np.flatnonzero(en)[b.edge_conn], a.edge_conn)
        assert np.array_equal(forward(a, x, 0.7), forward(b, x, 0.7))


def test_key_identifies_the_network():
    g = grown_genome(5, 1, 15, seed=3)
    assert g.key() == unpack(pack([g]))[0].key()
    hidden = np.flatnonzero(g.node_kind == HIDDEN)
    acts = g.node_act.copy()
    acts[hidden[0]] = 1 + acts[hidden[0]] % 10
    assert g.replace(node_act=acts).key() != g.key()
    # innovation numbers do not change the function
    assert g.replace(conn_innov=g.conn_innov + 1000).key() == g.key()


def test_connection_count_is_counted_once_and_never_inherited():
    """``n_connections`` is cached on the genome (like its key); a genome made from it by
    ``replace`` or a pickle round trip counts its own connections."""
    import pickle

    g = grown_genome(5, 1, 15, seed=3)
    assert g.n_connections == int(g.conn_enabled.sum())
    assert g.__dict__["_n_connections"] == g.n_connections  # cached
    off = g.conn_enabled.copy()
    off[np.flatnonzero(off)[:3]] = False
    fewer = g.replace(conn_enabled=off)
    assert fewer.n_connections == g.n_connections - 3
    assert pickle.loads(pickle.dumps(fewer)).n_connections == fewer.n_connections


def test_validate_rejects_cycles_and_bad_wiring():
    g = grown_genome(2, 1, 10, seed=5)
    hidden = g.node_id[g.node_kind == HIDDEN]
    a, b = hidden[0], hidden[0]
    with pytest.raises(ValueError, match="duplicate|cycle"):
        g.replace(
            conn_src=np.append(g.conn_src, a),
            conn_dst=np.append(g.conn_dst, b),
            conn_enabled=np.append(g.conn_enabled, True),
            conn_innov=np.append(g.conn_innov, 999),
        ).validate()
    with pytest.raises(ValueError, match="bias or input"):
        g.replace(
            conn_src=np.append(g.conn_src, 3),
            conn_dst=np.append(g.conn_dst, 1),
            conn_enabled=np.append(g.conn_enabled, True),
            conn_innov=np.append(g.conn_innov, 999),
        ).validate()


def test_genome_arrays_are_read_only():
    g = initial_genome(2, 1, 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError):
        g.conn_enabled[0] = False


def test_to_json_is_compact_valid_json_that_round_trips():
    extra = {"task": "mnist256", "generation": 7, "mean_reward": 0.1 + 0.2, "note": 'a "b"'}
    for g in [grown_genome(5, 1, n, seed=n) for n in (0, 3, 20)] + [grown_genome(256, 10, 60, 1)]:
        text = g.to_json(**extra)
        assert "\n" not in text and ", " not in text
        data = json.loads(text)
        assert data == {**extra, **g.to_dict()}
        assert list(data)[: len(extra)] == list(extra)
        assert Genome.from_dict(data) == g
