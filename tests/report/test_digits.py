"""MNIST pictures and numbers: each digit's sub-network and pixels, confusion matrices."""

import numpy as np
import pytest
from conftest import grown_genome

from src.core import activations
from src.core.genome import Genome
from src.report import classify, digits
from src.report.episodes import Net
from src.tasks import mnist


def chain_genome() -> Genome:
    """256 inputs, 10 outputs: pixel 0 -> output 0; pixels 1, 2 -> hidden h -> outputs 1, 2;
    hidden g (no input) -> output 3; a disabled pixel 3 -> output 4."""
    n_in, n_out = 256, 10
    ids = np.arange(1 + n_in + n_out + 2)
    kind = np.array([0] + [1] * n_in + [2] * n_out + [3, 3], dtype=np.int8)
    act = np.full(len(ids), activations.LINEAR, dtype=np.int8)
    act[-2:] = activations.TANH, activations.GAUSSIAN
    out = 1 + n_in
    h, g = out + n_out, out + n_out + 1
    conns = [(1, out, True), (2, h, True), (3, h, True), (h, out + 1, True), (h, out + 2, True)]
    conns += [(g, out + 3, True), (4, out + 4, False)]
    src, dst, en = (np.array(c) for c in zip(*conns))
    return Genome(ids, kind, act, src, dst, en, np.arange(len(conns)))


def test_each_digit_reads_the_pixels_traced_back_from_its_output():
    subs = digits.subnetworks(Net.of(chain_genome()))
    assert len(subs) == 10
    assert np.flatnonzero(subs[0].pixels).tolist() == [0]
    assert (subs[0].hidden, subs[0].connections) == (0, 1)
    for d in (1, 2):
        assert np.flatnonzero(subs[d].pixels).tolist() == [1, 2]
        assert (subs[d].hidden, subs[d].connections) == (1, 3)
    assert not subs[3].pixels.any() and subs[3].hidden == 1  # gaussian(0) drives it alone
    assert not subs[4].pixels.any() and subs[4].connections == 0  # disabled: nothing


def test_masks_agree_with_a_forward_pass_on_a_grown_genome(tmp_path):
    """A pixel outside digit d's mask never changes output d; one inside usually does."""
    genome = grown_genome(256, 10, 120, seed=4, pool=activations.CLASSIFICATION_POOL)
    net = Net.of(genome)
    subs = digits.subnetworks(net)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (1, 256))
    base = mnist.forward_shared(net.plan, x, np.array([0.7]))[0, 0]
    for p in range(256):
        x2 = x.copy()
        x2[0, p] += 0.5
        moved = mnist.forward_shared(net.plan, x2, np.array([0.7]))[0, 0] != base
        for d in range(10):
            if moved[d]:
                assert subs[d].pixels[p], (d, p)
    assert sum(s.pixels.sum() for s in subs) > 0
    paths = digits.draw_masks(subs, tmp_path / "digits", np.ones((10, 256)))
    assert sorted(paths) == ["pdf", "png", "svg"] and all(p.stat().st_size for p in paths.values())


def test_confusion_matrices_agree_with_the_task_accuracy(tmp_path):
    genome = grown_genome(256, 10, 80, seed=2, pool=activations.CLASSIFICATION_POOL)
    net = Net.of(genome)
    data = mnist.load()
    x, y = np.asarray(data.test_x[:1500]), np.asarray(data.test_y[:1500])
    weights = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])
    per_weight, ensemble = mnist.accuracy(net.plan, x, y, weights)
    pred, ens_pred = classify.predictions(net.plan, x, weights)
    matrices = [classify.confusion(p, y) for p in pred] + [classify.confusion(ens_pred, y)]
    for m, acc in zip(matrices, [*per_weight, ensemble]):
        assert m.shape == (10, 10)
        assert np.trace(m) / len(y) == pytest.approx(acc)
        assert m.sum() <= len(y)
        assert (m.sum(axis=1) <= np.bincount(y, minlength=10)).all()
    assert matrices[-1].sum() == len(y)  # the ensemble predicts every image
    paths = digits.draw_confusion(
        np.stack(matrices), [*map(str, weights), "ens"], tmp_path / "c", len(y)
    )
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"


def test_confusion_counts_true_by_row_predicted_by_column():
    m = classify.confusion(np.array([3, 3, -1, 0]), np.array([3, 1, 2, 0]))
    assert m[3, 3] == 1 and m[1, 3] == 1 and m[0, 0] == 1 and m.sum() == 3
