"""The authors' .out format: exported networks compute the same in the authors' code.

``reference_wann`` is a copy of the reference's forward pass (Gaier & Ha 2019,
https://github.com/google/brain-tokyo-workshop, Apache-2.0); every comparison is this
project's :func:`forward` against it, to 1e-12, at several shared weights.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import reference_wann as ref
from export_genomes import (
    CHAMPION_TASKS,
    CHAMPIONS,
    WEIGHTS,
    grown_set,
    ill_conditioned_set,
    observations,
)

from src.core import activations
from src.core.genome import BIAS, HIDDEN, INPUT, OUTPUT, Genome
from src.core.network import compile_genome, forward
from src.export import GenomeFileError, read_genome, reference, task_io

GROWN = grown_set()
ILL = ill_conditioned_set()
TOL = {"rtol": 1e-12, "atol": 1e-12}
#: end to end on :data:`ILL` (their rounding amplified; each node is still checked to 1e-12)
LOOSE = {"rtol": 1e-9, "atol": 1e-9}


def project_outputs(genome: Genome, x: np.ndarray, w: float) -> np.ndarray:
    return forward(compile_genome(genome), x, w)


def test_the_reference_ids_compute_this_projects_activations():
    """Each of the reference's ids 1-10 is, float for float, the activation it maps to."""
    x = np.concatenate([np.linspace(-6, 6, 2001), [0.0, -0.0, 1e-300, -1e-300, 0.5, -0.5]])
    for ref_id, name in reference.REFERENCE_ACTIVATIONS.items():
        ours = activations.apply(activations.IDS[name], x)
        assert np.array_equal(ref.applyAct(ref_id, x), ours), name
        assert reference.reference_id(activations.IDS[name]) == ref_id
        assert reference.project_id(float(ref_id), 0) == activations.IDS[name]
    assert sorted(reference.REFERENCE_ACTIVATIONS.values()) == sorted(
        row.name for row in activations.ROWS
    )


def node_values(genome: Genome, x: np.ndarray, w: float) -> tuple[np.ndarray, np.ndarray]:
    """(values of every node that reaches an output, their file rows), from our forward."""
    sinks = reference.outputs_as_sinks(genome)
    plan = compile_genome(sinks)
    every = dataclasses.replace(plan, output_slots=plan.order, n_outputs=len(plan.order))
    row_of = np.argsort(reference.row_order(sinks))
    return forward(every, x, w), row_of[plan.order]


CASES = [(lab, g, TOL) for lab, g in GROWN] + [(lab, g, LOOSE) for lab, g in ILL]


@pytest.mark.parametrize(("label", "genome", "tol"), CASES, ids=[c[0] for c in CASES])
def test_an_exported_genome_runs_unchanged_in_the_reference(label, genome, tol, tmp_path):
    """End to end: the file through their code == the genome through ours. Node by node (to
    1e-12 everywhere): each row's step of their ``act`` fed our values gives our value."""
    path = tmp_path / f"{label}.out"
    path.write_text(reference.write(genome))
    x = observations(genome.n_inputs)
    n_in = genome.n_inputs
    for w in WEIGHTS:
        theirs = ref.run_file(path, n_in, genome.n_outputs, w, x)
        ours = project_outputs(genome, x, w)
        assert theirs.shape == ours.shape
        np.testing.assert_allclose(theirs, ours, **tol, err_msg=f"at w={w}")
        # node by node: the reference's step for each row (act's loop body), fed our values
        w_vec, a_vec, _ = ref.importNet(path)
        w_mat = ref.setWeights(w_vec, w)
        values, rows = node_values(genome, x, w)
        node_act = np.zeros((len(x), len(a_vec)))
        node_act[:, 0], node_act[:, 1 : n_in + 1] = 1.0, x
        node_act[:, rows] = values
        for row in rows:
            step = ref.applyAct(a_vec[row], np.dot(node_act, w_mat[:, row]).squeeze())
            np.testing.assert_allclose(step, node_act[:, row], **TOL, err_msg=f"row {row}")
    assert np.isfinite(ours).all()  # a comparison of numbers, not of NaNs


def reference_genes(genome: Genome) -> tuple[np.ndarray, np.ndarray]:
    """The genome as the reference's node and connection genes (``wann_src/ind.py``); node
    ids become positions, which the reference's ``getNodeOrder`` takes them to be."""
    types = {BIAS: 4, INPUT: 1, OUTPUT: 2, HIDDEN: 3}
    node = np.array(
        [
            np.arange(genome.n_nodes),
            [types[int(k)] for k in genome.node_kind],
            [reference.reference_id(a) for a in genome.node_act],
        ],
        dtype=float,
    )
    conn = np.array(
        [
            genome.conn_innov,
            genome.positions(genome.conn_src),
            genome.positions(genome.conn_dst),
            np.ones(len(genome.conn_src)),
            genome.conn_enabled,
        ],
        dtype=float,
    )
    return node, conn


@pytest.mark.parametrize(
    ("label", "genome"),
    [(lab, g) for lab, g in GROWN if "outputs-as-sources" not in lab],
    ids=[lab for lab, _ in GROWN if "outputs-as-sources" not in lab],
)
def test_the_references_own_expression_of_the_genes_agrees(label, genome):
    """Its ``getNodeOrder`` (genes -> ordered matrix) then ``act`` give our outputs too, once
    its quirk is accounted for: ``getNodeOrder`` writes 1 into a view of its matrix over the
    hidden block, so a disabled hidden -> hidden connection (NaN there) becomes enabled. (The
    authors' champions indeed hold no NaN in that block.) Our .out files keep such a
    connection disabled, so their ``act`` computes our genome's function (tests above)."""
    node, conn = reference_genes(genome)
    order, w_mat = ref.getNodeOrder(node, conn)
    assert order is not False
    a_vec = node[2, order]
    kinds = genome.node_kind
    hidden_hidden = (kinds[genome.positions(genome.conn_src)] == HIDDEN) & (
        kinds[genome.positions(genome.conn_dst)] == HIDDEN
    )
    assert (hidden_hidden & ~genome.conn_enabled).any()  # the quirk matters here
    as_expressed = genome.replace(conn_enabled=genome.conn_enabled | hidden_hidden)
    x = observations(genome.n_inputs, seed=1)
    for w in WEIGHTS:
        c_mat = np.copy(w_mat)
        c_mat[np.isnan(c_mat)] = 0
        c_mat[c_mat != 0] = 1.0
        theirs = ref.act(c_mat * w, a_vec, genome.n_inputs, genome.n_outputs, x)
        np.testing.assert_allclose(theirs, project_outputs(as_expressed, x, w), **TOL)
    ours = reference.to_matrix(genome)
    assert sorted(ours[:, -1]) == sorted(a_vec)
    assert (
        np.isnan(ours).sum() == np.isnan(w_mat).sum() + (hidden_hidden & ~genome.conn_enabled).sum()
    )


@pytest.mark.parametrize("name", sorted(CHAMPION_TASKS))
def test_the_authors_champions_compute_the_same_here(name, tmp_path):
    """Their file through their code == the imported genome through ours; and our export of
    it is their file up to the stored weight values (which a WANN replaces)."""
    path = CHAMPIONS / name
    task = CHAMPION_TASKS[name]
    genome = read_genome(path, task).genome
    n_in, n_out = task_io(task)
    x = observations(n_in, seed=2)
    for w in WEIGHTS:
        theirs = ref.run_file(path, n_in, n_out, w, x)
        np.testing.assert_allclose(theirs, project_outputs(genome, x, w), **TOL)
    original = np.loadtxt(path, delimiter=",")
    exported = reference.to_matrix(genome)
    assert np.array_equal(np.isnan(exported), np.isnan(original))
    assert np.array_equal(exported[:, :-1] != 0, original[:, :-1] != 0)
    assert np.array_equal(exported[:, -1], original[:, -1])
    again = tmp_path / name
    again.write_text(reference.write(genome))
    for w in WEIGHTS:
        np.testing.assert_array_equal(
            ref.run_file(again, n_in, n_out, w, x), ref.run_file(path, n_in, n_out, w, x)
        )


def test_champion_sizes_are_the_published_ones():
    sizes = {
        name: (g.n_nodes, g.n_connections)
        for name in CHAMPION_TASKS
        for g in [read_genome(CHAMPIONS / name, CHAMPION_TASKS[name]).genome]
    }
    assert sizes == {"swing.out": (29, 52), "biped.out": (103, 210), "racer.out": (106, 245)}


@pytest.mark.parametrize(("label", "genome", "tol"), CASES, ids=[c[0] for c in CASES])
def test_json_out_json_keeps_the_network_function(label, genome, tol, tmp_path):
    """Same function (sums in another order: connections are renumbered), the same file when
    written again, every connection (disabled ones too) and activation kept."""
    text = reference.write(genome)
    back = reference.read(text, genome.n_inputs, genome.n_outputs)
    x = observations(genome.n_inputs, seed=3)
    for w in WEIGHTS:
        np.testing.assert_allclose(
            project_outputs(back, x, w), project_outputs(genome, x, w), **tol
        )
    assert reference.write(back) == text  # written again: the same file, byte for byte
    copies = reference.outputs_as_sinks(genome)
    assert back.n_nodes == copies.n_nodes and back.n_connections == copies.n_connections
    assert len(back.conn_src) == len(copies.conn_src)  # disabled connections kept
    assert sorted(back.node_act.tolist()) == sorted(copies.node_act.tolist())
    if "outputs-as-sources" in label:
        assert copies.n_nodes > genome.n_nodes
    else:
        assert copies is genome


def test_the_file_is_what_the_references_export_writes(tmp_path):
    genome = GROWN[1][1]
    matrix = reference.to_matrix(genome)
    ref.exportNet(tmp_path / "theirs.out", matrix[:, :-1], matrix[:, -1])
    assert reference.write(genome) == (tmp_path / "theirs.out").read_text()


def _matrix(n_in: int, n_out: int, hidden: int) -> np.ndarray:
    n = 1 + n_in + hidden + n_out
    m = np.zeros((n, n + 1))
    m[:, -1] = 1
    return m


def _bad(kind: str) -> tuple[str, int, int]:
    m = _matrix(2, 1, 2)  # rows: bias 0, inputs 1-2, hidden 3-4, output 5
    m[0, 3] = m[3, 5] = m[1, 4] = m[4, 5] = 1.0
    if kind == "shape":
        return reference.format_matrix(m[:, :-2]), 2, 1
    if kind == "text":
        return "1,2,x\n", 2, 1
    if kind == "into input":
        m[3, 2] = 1.0
    elif kind == "backward":
        m[4, 3] = np.nan
    elif kind == "self":
        m[3, 3] = 1.0
    elif kind == "output act":
        m[5, -1] = 5
    elif kind == "squared":
        m[3, -1] = 11
    elif kind == "unknown act":
        m[3, -1] = 12
    elif kind == "fraction act":
        m[3, -1] = 2.5
    elif kind == "too small":
        return reference.format_matrix(m), 4, 3
    return reference.format_matrix(m), 2, 1


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("shape", "the format is N x (N+1)"),
        ("text", "not a comma-separated matrix of numbers"),
        ("into input", "row 3, column 2: a connection into the bias or an input"),
        ("backward", "row 4, column 3: a connection to the same or an earlier row"),
        ("self", "row 3, column 3: a connection to the same or an earlier row"),
        ("output act", "row 5 (an output) has activation id 5; outputs here are linear"),
        ("squared", "row 3: activation id 11 (x^2) has no counterpart in this project"),
        ("unknown act", "row 3: unknown activation id 12"),
        ("fraction act", "row 3: activation id 2.5 is not an integer"),
        ("too small", "6 nodes; a network with 4 inputs and 3 outputs has at least 8"),
    ],
)
def test_a_bad_matrix_is_refused_with_the_reason(kind, message):
    text, n_in, n_out = _bad(kind)
    with pytest.raises(reference.FormatError) as exc:
        reference.read(text, n_in, n_out)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_good_small_matrix_reads_as_written():
    text, n_in, n_out = _bad("none")
    g = reference.read(text, n_in, n_out)
    assert g.node_id.tolist() == [0, 1, 2, 5, 3, 4]  # ids are rows; order bias, in, out, hidden
    x = observations(2)
    # output = w * (h3 + h4), h3 = w * 1, h4 = w * x1 (both linear)
    np.testing.assert_allclose(forward(compile_genome(g), x, 0.5), 0.25 * (1 + x[:, :1]))


def test_an_activation_the_reference_lacks_cannot_be_exported():
    row = activations.Activation(
        120, "softsign", lambda x: x / (1 + np.abs(x)), lambda x: x / (1 + abs(x)), "#000", "ss"
    )
    genome = GROWN[0][1]
    hidden = np.flatnonzero(genome.node_kind == HIDDEN)[0]
    with activations.registered(row):
        odd = genome.replace(
            node_act=np.where(np.arange(genome.n_nodes) == hidden, 120, genome.node_act)
        )
        with pytest.raises(reference.FormatError, match="'softsign' has no id in the reference"):
            reference.write(odd)


def test_a_out_file_needs_its_task(tmp_path):
    with pytest.raises(GenomeFileError, match="does not say its task; pass --task"):
        read_genome(CHAMPIONS / "swing.out")
    with pytest.raises(GenomeFileError, match=r"as a biped network \(24 inputs, 4 outputs\)"):
        read_genome(CHAMPIONS / "swing.out", "biped")
    with pytest.raises(GenomeFileError, match="unknown task 'walker'"):
        read_genome(CHAMPIONS / "swing.out", "walker")
    loaded = read_genome(CHAMPIONS / "swing.out", "swingup")
    assert (loaded.format, loaded.task, loaded.info) == ("out", "swingup", {"task": "swingup"})
