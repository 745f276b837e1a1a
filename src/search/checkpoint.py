"""HDF5 checkpoints of the search; the only module that imports h5py.

A checkpoint ``RUN/checkpoints/gen_000012.h5`` holds the search state *after generation 12 was
evaluated and reported*: the population of generation 12, its objectives, the RNG state as it
was right after that population was bred, the innovation counters, the history (stats.csv rows
0..12) and the best genome so far. Resuming from it breeds generation 13 first, exactly as the
uninterrupted run would have, so ``4 generations == 2 + resume + 2`` bit for bit.

Writing is atomic: the file is built in memory, written under a temporary name in the same
folder, fsynced and ``os.replace``d, then the folder is fsynced; a process killed meanwhile
leaves at most a ``.gen_*.h5.tmp*`` file, which readers ignore; a failed write (disk full)
removes it and raises :class:`WriteFailed`. The newest ``keep_checkpoints`` files of the run
are kept; files of other runs are never pruned or overwritten.

Schema (``format = "wann-checkpoint"``, ``format_version = 2``; readable with plain h5py or
``h5dump``, no code of this project needed)::

    /                       attrs: format, format_version, run_id (the run it belongs to),
                                   generation, task, created (UTC ISO),
                                   software ("wann-at-scale <version>"),
                                   resolved_activations_json (the hidden-node activation
                                   pool the run uses, names in order; see provenance.py),
                                   platform (what the floats depend on: machine, libc,
                                   numpy and its SIMD targets, numba; provenance.py),
                                   config_json (the full config),
                                   rng_state_json (numpy bit_generator.state),
                                   next_node_id, next_innovation, digest (CRC-32 of every
                                   dataset and every attribute but itself)
    /config                 attrs: one per config key (numbers, strings, arrays; lists of
                                   strings as JSON text)
    /objectives             (n_genomes, 3) float64: mean reward, max reward, connections
    /population/nodes       (total_nodes, 3) int32 (int64 if ids need it): id, kind, activation
    /population/node_offsets (n + 1,) int64: genome g's nodes are nodes[off[g]:off[g+1]]
    /genes                  (n_genes, 3) int64: innovation, source id, destination id; every
                            connection gene of the population, sorted by innovation
    /population/conn_offsets (n + 1,) int64: row ranges of the genomes' connections
    /population/conn_shared (n,) int64: genome g's first conn_shared[g] connection rows are
                            genes[0], genes[1], ... (the initial, fully wired block)
    /population/conn_extra_gene (total_extra,) int32: gene index of each further row, in
                            order; conn_extra_offsets (n + 1,) int64 splits it by genome
    /population/conn_enabled_bits uint8: np.packbits of every row's enabled flag, rows of
                            genome 0 first (unpack with count = conn_offsets[-1])
    /history/<column>       (generation + 1,) one dataset per stats.csv column (+ busy)
    /best/...               the best genome so far as nodes/conns/offsets (one genome);
                            attrs: info_json (and each key of it: generation, mean_reward,
                            max_reward, n_connections)
    /reserve/...            (starts > 1, from the end of the first start to the end of the
                            last) the best start's last genomes, encoded as /population
                            with its own genes table (/reserve/genes)
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..config import from_mapping
from ..core.genome import Genome, Innovations, pack, unpack
from . import provenance
from .files import WriteFailed, write_atomically
from .loop import SearchState

FORMAT = "wann-checkpoint"
FORMAT_VERSION = 2
SUBDIR = "checkpoints"
_NAME = re.compile(r"^gen_(\d{6,})\.h5$")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_POP_KEYS = ("nodes", "node_offsets", "conns", "conn_offsets")


class CheckpointError(Exception):
    """A checkpoint cannot be used, for a reason the user must act on (exit code 2)."""


class NotACheckpoint(CheckpointError):
    """The file is not a checkpoint of this project (or of a format version it reads)."""


class CorruptCheckpoint(CheckpointError):
    """The file is (or was meant to be) ours but is truncated or damaged."""


@dataclass(frozen=True)
class Loaded:
    """A checkpoint read back: the state, the file and the files skipped on the way."""

    state: SearchState
    path: Path
    #: (file, why, kind) of each newer file not used; kind: corrupt, foreign or misnamed
    skipped: tuple[tuple[Path, str, str], ...] = ()
    run_id: str = ""


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / SUBDIR


def checkpoint_path(run_dir: Path, generation: int) -> Path:
    return checkpoint_dir(run_dir) / f"gen_{generation:06d}.h5"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """``(generation, path)`` of every ``gen_*.h5`` in ``run_dir/checkpoints``, oldest first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


# ----- the population as compact flat arrays -----------------------------------------------
#
# A genome's connection rows are append-only (mutations add rows and flip enabled flags, never
# remove or reorder), every initial genome starts with the same fully wired block (innovation
# i in row i), and an innovation number names one (source, destination) pair for the whole
# run. So the population is stored as one table of connection genes plus, per genome, the
# length of its leading run of shared genes, the gene indices of its remaining rows and one
# enabled bit per row. At population 960 on MNIST-256 that is a 3.5 MB file for the initial
# genomes (2570 connections each; 4.3 MB for the mutated ones of ``python -m src.bench
# checkpoint``) instead of the 85 MB (86 MB) of ``genome.pack``'s int64 rows.


def encode_population(genomes: list[Genome]) -> dict[str, np.ndarray]:
    """Compact flat arrays of a population (datasets under ``/population`` and ``/genes``).

    Returns:
        ``nodes`` (total_nodes, 3) int32/int64 id, kind, activation id; ``node_offsets``
        (n + 1,); ``genes`` (n_genes, 3) int64 innovation, source id, destination id, sorted by
        innovation; ``conn_offsets`` (n + 1,) rows per genome; ``conn_shared`` (n,) genome g's
        first ``conn_shared[g]`` rows are ``genes[0:conn_shared[g]]``; ``conn_extra_gene``
        (total_extra,) int32 gene index of each further row, ``conn_extra_offsets`` (n + 1,);
        ``conn_enabled_bits`` uint8, ``np.packbits`` of every row's enabled flag, rows in order.

    Raises:
        ValueError: genomes that break the invariants above (never expected).
    """
    n = len(genomes)
    node_counts = np.fromiter((g.n_nodes for g in genomes), np.int64, n)
    conn_counts = np.fromiter((len(g.conn_innov) for g in genomes), np.int64, n)
    node_offsets = np.concatenate([[0], np.cumsum(node_counts)])
    conn_offsets = np.concatenate([[0], np.cumsum(conn_counts)])
    node_id = np.concatenate([g.node_id for g in genomes])
    id_type = np.int32 if node_id.size == 0 or node_id.max() < 2**31 else np.int64
    nodes = np.empty((len(node_id), 3), dtype=id_type)
    nodes[:, 0] = node_id
    nodes[:, 1] = np.concatenate([g.node_kind for g in genomes])
    nodes[:, 2] = np.concatenate([g.node_act for g in genomes])
    # Shared run of genome g: its leading rows whose innovation equals their row index (the
    # initial block). Innovations grow along each genome's rows (append-only, from a run-wide
    # counter), so that run is the rows with innovation < n_initial; checked per genome.
    n_initial = (1 + genomes[0].n_inputs) * genomes[0].n_outputs if n else 0
    shared_list = []
    for g in genomes:
        ci = g.conn_innov
        if not (ci[1:] > ci[:-1]).all():
            raise ValueError("innovation numbers do not increase along a genome's rows")
        k = int(ci.searchsorted(n_initial))
        if k and (ci[0] != 0 or ci[k - 1] != k - 1):  # no full initial block: shorter run
            k = int(np.argmin(np.append(ci[:k] == np.arange(k), False)))
        shared_list.append(k)
    shared = np.array(shared_list, dtype=np.int64)
    extra_rows = [slice(k, None) for k in shared_list]
    ref = genomes[int(np.argmax(shared))] if n else None
    n_shared = int(shared.max()) if n else 0
    ref_src = ref.conn_src[:n_shared] if n else np.zeros(0, np.int64)
    ref_dst = ref.conn_dst[:n_shared] if n else np.zeros(0, np.int64)
    none = [np.zeros(0, np.int64)]
    extra_innov = np.concatenate([g.conn_innov[e] for g, e in zip(genomes, extra_rows)] + none)
    extra_src = np.concatenate([g.conn_src[e] for g, e in zip(genomes, extra_rows)] + none)
    extra_dst = np.concatenate([g.conn_dst[e] for g, e in zip(genomes, extra_rows)] + none)
    enabled = np.concatenate([g.conn_enabled for g in genomes] + [np.zeros(0, bool)])
    gene_innov, first = np.unique(
        np.concatenate([np.arange(n_shared), extra_innov]), return_index=True
    )
    genes = np.stack(
        [
            gene_innov,
            np.concatenate([ref_src, extra_src])[first],
            np.concatenate([ref_dst, extra_dst])[first],
        ],
        axis=1,
    ).astype(np.int64)
    extra_gene = np.searchsorted(gene_innov, extra_innov).astype(np.int32)
    if not (
        np.array_equal(genes[extra_gene, 1], extra_src)
        and np.array_equal(genes[extra_gene, 2], extra_dst)
    ):
        raise ValueError("an innovation number names two different connections")
    return {
        "nodes": nodes,
        "node_offsets": node_offsets,
        "genes": genes,
        "conn_offsets": conn_offsets,
        "conn_shared": shared,
        "conn_extra_gene": extra_gene,
        "conn_extra_offsets": np.concatenate([[0], np.cumsum(conn_counts - shared)]),
        "conn_enabled_bits": np.packbits(enabled),
    }


def decode_population(a: dict[str, np.ndarray]) -> list[Genome]:
    """Inverse of :func:`encode_population`."""
    no, co, eo = a["node_offsets"], a["conn_offsets"], a["conn_extra_offsets"]
    nodes, genes, shared, extra = a["nodes"], a["genes"], a["conn_shared"], a["conn_extra_gene"]
    n = len(shared)
    if not (len(no) == len(co) == len(eo) == n + 1):
        raise ValueError("population offsets do not match the number of genomes")
    if (
        no[-1] != len(nodes)
        or eo[-1] != len(extra)
        or np.any(co[1:] - co[:-1] != shared + eo[1:] - eo[:-1])
    ):
        raise ValueError("population offsets do not match the arrays")
    enabled = np.unpackbits(a["conn_enabled_bits"], count=int(co[-1])).astype(bool)
    if extra.size and (extra.min() < 0 or extra.max() >= len(genes)):
        raise ValueError("gene index out of range")
    out = []
    for g in range(n):
        rows = genes[
            np.concatenate([np.arange(shared[g]), extra[eo[g] : eo[g + 1]]]).astype(np.int64)
        ]
        nd = nodes[no[g] : no[g + 1]]
        out.append(
            Genome(
                node_id=nd[:, 0],
                node_kind=nd[:, 1],
                node_act=nd[:, 2],
                conn_src=rows[:, 1],
                conn_dst=rows[:, 2],
                conn_enabled=enabled[co[g] : co[g + 1]],
                conn_innov=rows[:, 0],
            )
        )
    return out


# ----- writing ------------------------------------------------------------------------------


def _digest(arrays: dict[str, np.ndarray], attrs: dict[str, Any]) -> str:
    """CRC-32 over every dataset (name, dtype, shape, bytes) and every attribute of every
    object but the digest itself: whatever a resume reads is covered (a flipped digit in
    ``rng_state_json`` or ``next_innovation`` is caught like a flipped bit in a dataset)."""
    crc = 0
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        crc = zlib.crc32(f"{name}|{a.dtype.str}|{a.shape}|".encode(), crc)
        crc = zlib.crc32(a, crc)
    for name in sorted(attrs):
        value = attrs[name]
        if isinstance(value, bytes):
            value = value.decode("utf-8", "surrogateescape")
        if isinstance(value, str):
            text = value.encode("utf-8", "surrogateescape")
            crc = zlib.crc32(f"@{name}|str|".encode() + text, crc)
            continue
        a = np.ascontiguousarray(value)
        if a.dtype == object:
            a = np.asarray([str(v) for v in a.ravel()])
        crc = zlib.crc32(f"@{name}|{a.dtype.str}|{a.shape}|".encode(), crc)
        crc = zlib.crc32(a, crc)
    return f"crc32:{crc:08x}"


def _attributes(f: h5py.File) -> dict[str, Any]:
    """Every attribute of the file, keyed ``path@name`` (root: ``@name``), as read back,
    without the root's ``digest``."""
    out: dict[str, Any] = {f"@{k}": v for k, v in f.attrs.items() if k != "digest"}

    def visit(name: str, obj: Any) -> None:
        for k, v in obj.attrs.items():
            out[f"{name}@{k}"] = v

    f.visititems(visit)
    return out


def _history_arrays(history: list[dict[str, float]]) -> dict[str, np.ndarray]:
    """One column per key of any row, in order of first appearance; a row without a key
    (a column that a resumed run's config added or dropped, e.g. ``start_probe``) reads NaN."""
    columns: dict[str, np.ndarray] = {}
    keys = list(dict.fromkeys(k for row in history for k in row))
    for key in keys:
        values = [row.get(key, math.nan) for row in history]
        integral = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values)
        columns[key] = np.asarray(values, dtype=np.int64 if integral else np.float64)
    return columns


def _config_attr(value: Any) -> Any:
    if isinstance(value, tuple):
        if value and all(isinstance(v, (int, float)) for v in value):
            return np.asarray(value, dtype=np.float64)
        return json.dumps(list(value))
    return value


def _arrays_of(snap: SearchState) -> dict[str, np.ndarray]:
    """Every dataset of the checkpoint, by its HDF5 path."""
    assert snap.objectives is not None, "checkpoints hold evaluated generations"
    arrays = {f"population/{k}": v for k, v in encode_population(snap.population).items()}
    arrays["genes"] = arrays.pop("population/genes")
    arrays["objectives"] = np.asarray(snap.objectives, dtype=np.float64)
    for k, v in _history_arrays(snap.history).items():
        arrays[f"history/{k}"] = v
    if snap.best is not None:
        for k, v in pack([snap.best]).items():
            arrays[f"best/{k}"] = v
    if snap.reserve is not None:
        for k, v in encode_population(snap.reserve).items():
            arrays[f"reserve/{k}"] = v
    return arrays


def _image(snap: SearchState, run_id: str) -> bytes:
    """The checkpoint file's bytes, built in memory.

    HDF5 writing straight to a full disk prints pages of library errors and has crashed the
    process (exit 139); built in memory, the file reaches the disk through one plain
    ``write`` whose ENOSPC/EDQUOT/EIO is an ordinary :class:`OSError`.
    """
    arrays = _arrays_of(snap)
    config = snap.config
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        a = f.attrs
        a["format"] = FORMAT
        a["format_version"] = FORMAT_VERSION
        a["run_id"] = run_id
        a["generation"] = snap.generation
        a["task"] = config.task
        a["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        recorded = provenance.current(config)
        a["software"] = provenance.SOFTWARE_PREFIX + str(recorded.software_version)
        a["resolved_activations_json"] = json.dumps(recorded.resolved_activations)
        a["platform"] = str(recorded.platform)
        a["config_json"] = json.dumps(config.to_dict())
        a["rng_state_json"] = json.dumps(snap.rng.bit_generator.state)
        a["next_node_id"] = snap.innovations.next_node_id
        a["next_innovation"] = snap.innovations.next_innovation
        g = f.create_group("config")
        for key, value in config.to_dict().items():
            g.attrs[key] = _config_attr(value)
        for name, arr in arrays.items():
            f.create_dataset(name, data=arr)
        f["objectives"].attrs["columns"] = "mean_reward, max_reward, connections"
        f["population"].attrs["n_genomes"] = len(snap.population)
        if snap.history:
            f["history"].attrs["columns"] = ",".join(snap.history[0])
        if snap.best is not None:
            f["best"].attrs["info_json"] = json.dumps(snap.best_info)
            for key, value in snap.best_info.items():
                f["best"].attrs[key] = value
        a["digest"] = _digest(arrays, _attributes(f))  # the attributes as they read back
    return buffer.getvalue()


def save(
    snap: SearchState,
    run_dir: Path,
    run_id: str = "",
    guard: Callable[[], None] | None = None,
) -> Path:
    """Write an evaluated state atomically, then prune to the newest ``keep_checkpoints``.

    ``src.master`` passes a :func:`src.search.loop.snapshot` and, under MPI, defers the call
    until the workers are busy with the next generation (``executor.defer``). ``run_id``
    names the run (root attribute ``run_id``); only checkpoints of that run are pruned, and a
    file of another run that sits at the new file's name is moved aside (``*.foreign``), never
    overwritten. ``guard`` (the run lock's check) is called before anything in the folder is
    pruned or moved, and again just before the rename.

    Before writing, this run's older checkpoints are pruned to ``keep_checkpoints - 1`` (at
    least one is always kept), so a disk holds at most ``keep_checkpoints`` files and a
    temporary one: a resume with a lower ``keep_checkpoints`` frees space before it writes.

    Returns:
        the path of the new checkpoint, ``run_dir/checkpoints/gen_<generation>.h5``.

    Raises:
        WriteFailed: the disk is full (or another write error); the previous checkpoints are
            intact and no temporary file is left.
    """
    folder = checkpoint_dir(run_dir)
    final = checkpoint_path(run_dir, snap.generation)
    keep = snap.config.keep_checkpoints
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteFailed(exc.errno, exc.strerror, str(folder)) from None
    data = _image(snap, run_id)
    if guard is not None:  # a folder no longer this run's: touch none of its files
        guard()
    prune(run_dir, max(keep - 1, 1), run_id, below=snap.generation)
    if final.exists() and peek(final) != (run_id, snap.generation):
        set_aside(final, "foreign")
    write_atomically(final, data, guard)
    prune(run_dir, keep, run_id)
    return final


def set_aside(path: Path, why: str) -> Path:
    """Rename ``path`` to ``path.<why>`` (``.1``, ``.2`` ... if taken); never deletes."""
    target = path.with_name(f"{path.name}.{why}")
    n = 0
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.{why}.{n}")
    path.rename(target)
    return target


def prune(run_dir: Path, keep: int, run_id: str, below: int | None = None) -> None:
    """Delete this run's checkpoints but the newest ``keep`` (of those older than ``below``).

    Only files whose ``run_id`` and generation agree with their name are counted or deleted:
    another run's file, a misnamed or an unreadable one is never pruned.
    """
    ours = [
        path
        for gen, path in list_checkpoints(run_dir)
        if (below is None or gen < below) and peek(path) == (run_id, gen)
    ]
    for path in ours[: max(len(ours) - keep, 0)]:
        path.unlink(missing_ok=True)


def remove_temporaries(run_dir: Path) -> list[Path]:
    """Delete leftovers of interrupted writes (``.gen_*.h5.tmp*``); returns what was removed."""
    folder = checkpoint_dir(run_dir)
    removed = []
    if folder.is_dir():
        for p in folder.glob(".gen_*.h5.tmp*"):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


# ----- reading ------------------------------------------------------------------------------


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _rng_from(state_json: str) -> np.random.Generator:
    st = json.loads(state_json)
    bit_gen = getattr(np.random, st["bit_generator"])()
    bit_gen.state = st
    return np.random.Generator(bit_gen)


def _history_from(group: h5py.Group, n: int) -> list[dict[str, float]]:
    columns = {k: group[k][()].tolist() for k in group}
    for k, col in columns.items():
        if len(col) != n:
            raise CorruptCheckpoint(f"history column {k!r} has {len(col)} rows, expected {n}")
    order = [k for k in group.attrs.get("columns", "").split(",") if k] or list(columns)
    return [{k: columns[k][i] for k in order if k in columns} for i in range(n)]


def peek(path: Path) -> tuple[str, int] | None:
    """``(run_id, generation)`` from a checkpoint's attributes (no data read, no digest
    checked); ``None`` if the file is not a readable checkpoint of this format."""
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != _HDF5_SIGNATURE:
                return None
        with h5py.File(path, "r", locking=False) as f:
            if _str(f.attrs.get("format", "")) != FORMAT:
                return None
            if int(f.attrs.get("format_version", -1)) != FORMAT_VERSION:
                return None
            return _str(f.attrs["run_id"]), int(f.attrs["generation"])
    except Exception:  # any failure to read means "not a usable checkpoint"
        return None


def load(path: Path) -> SearchState:
    """Read one checkpoint file (see :func:`load_with_id`)."""
    return load_with_id(path)[0]


def load_with_id(path: Path) -> tuple[SearchState, str]:
    """Read one checkpoint file; returns the state and the run id it belongs to.

    Raises:
        NotACheckpoint: an HDF5 file that is not ours, or an unknown ``format_version``
            (``run_id`` is then set on the exception when the file names one).
        CorruptCheckpoint: ours (or meant to be) but truncated, zero-filled, damaged or
            inconsistent; also any file without the HDF5 signature (a damaged signature
            cannot be told from a file that never was HDF5).
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise CorruptCheckpoint(f"cannot read: {exc.strerror}") from None
    if head != _HDF5_SIGNATURE:
        if not head.strip(b"\0"):
            raise CorruptCheckpoint("empty or zero-filled")
        raise CorruptCheckpoint("no HDF5 signature (damaged, or not an HDF5 file)")
    try:
        f = h5py.File(path, "r", locking=False)
    except Exception as exc:  # h5py raises OSError, sometimes others
        raise CorruptCheckpoint(f"unreadable HDF5 ({exc})") from None
    try:
        with f:
            fmt = _str(f.attrs.get("format", ""))
            if fmt != FORMAT:
                raise NotACheckpoint(f"HDF5 file without format = {FORMAT!r} (not a checkpoint)")
            version = int(f.attrs.get("format_version", -1))
            if version != FORMAT_VERSION:
                exc = NotACheckpoint(
                    f"format_version {version}; this program reads version {FORMAT_VERSION}"
                )
                exc.run_id = _str(f.attrs.get("run_id", ""))
                raise exc
            return _read_state(f), _str(f.attrs["run_id"])
    except CheckpointError:
        raise
    except Exception as exc:  # whatever a damaged file makes h5py/json raise
        raise CorruptCheckpoint(f"damaged ({type(exc).__name__}: {exc})") from None


def _group(arrays: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    """The datasets of group ``name`` in ``arrays`` (HDF5 path -> data), by their own names."""
    return {k.split("/")[1]: v for k, v in arrays.items() if k.startswith(f"{name}/")}


def _read_state(f: h5py.File) -> SearchState:
    arrays: dict[str, np.ndarray] = {}

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            arrays[name] = obj[()]

    f.visititems(visit)
    if _digest(arrays, _attributes(f)) != _str(f.attrs["digest"]):
        raise CorruptCheckpoint("data or attributes do not match the digest")
    generation = int(f.attrs["generation"])
    config = from_mapping(json.loads(_str(f.attrs["config_json"])), source="checkpoint")
    if config.task != _str(f.attrs["task"]):
        raise CorruptCheckpoint(f"task {_str(f.attrs['task'])!r} but config task {config.task!r}")
    population = decode_population(
        {
            **_group(arrays, "population"),
            "genes": arrays["genes"],
        }
    )
    objectives = arrays["objectives"]
    if objectives.shape != (len(population), 3):
        raise CorruptCheckpoint(
            f"objectives shape {objectives.shape} does not match {len(population)} genomes"
        )
    history = _history_from(f["history"], generation + 1) if "history" in f else []
    best, best_info = None, {}
    if "best" in f:
        (best,) = unpack({k: arrays[f"best/{k}"] for k in _POP_KEYS})
        best_info = json.loads(_str(f["best"].attrs["info_json"]))
    reserve = None
    if "reserve" in f:
        reserve = decode_population(_group(arrays, "reserve"))
    return SearchState(
        config=config,
        generation=generation,
        population=population,
        objectives=objectives,
        rng=_rng_from(_str(f.attrs["rng_state_json"])),
        innovations=Innovations(int(f.attrs["next_node_id"]), int(f.attrs["next_innovation"])),
        history=history,
        best=best,
        best_info=best_info,
        reserve=reserve,
    )


def read_provenance(path: Path) -> provenance.Provenance:
    """The activation pool, software version and platform a checkpoint records (``None``
    for what a checkpoint written before they were recorded lacks)."""
    with h5py.File(path, "r", locking=False) as f:
        pool = f.attrs.get("resolved_activations_json")
        software = f.attrs.get("software")
        where = f.attrs.get("platform")
    return provenance.Provenance(
        tuple(json.loads(_str(pool))) if pool is not None else None,
        provenance.version_of_software(_str(software)) if software is not None else None,
        _str(where) if where is not None else None,
    )


def load_latest(run_dir: Path, run_id: str | None = None) -> Loaded:
    """The newest usable checkpoint of the run ``run_id`` in ``run_dir/checkpoints``.

    Usable: readable, consistent (digest), of run ``run_id`` (``None``: any run), and holding
    the generation its name says. Every other ``gen_*.h5`` newer than the one used is
    reported in ``skipped`` with the reason and a kind for its new name (``corrupt``,
    ``foreign``, ``misnamed``); the caller warns and sets it aside. A file of this run in a
    newer ``format_version`` stops the search with :class:`NotACheckpoint`: falling back
    would silently drop the newer program's progress.

    Raises:
        CheckpointError: no checkpoint at all, none usable, or this run's file in a newer
            format.
    """
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(
            f"no checkpoint in {checkpoint_dir(run_dir)} (expected gen_NNNNNN.h5 files)"
        )
    skipped: list[tuple[Path, str, str]] = []
    for gen, path in reversed(found):
        try:
            state, owner = load_with_id(path)
        except NotACheckpoint as exc:
            owner = getattr(exc, "run_id", "")
            if run_id is not None and owner and owner == run_id:
                raise NotACheckpoint(f"{path}: {exc}") from None
            skipped.append((path, str(exc), "foreign"))
            continue
        except CorruptCheckpoint as exc:
            skipped.append((path, str(exc), "corrupt"))
            continue
        if run_id is not None and owner != run_id:
            why = f"a checkpoint of another run (run_id {owner!r}; this run is {run_id!r})"
            skipped.append((path, why, "foreign"))
            continue
        if state.generation != gen:
            why = f"holds generation {state.generation}, not the {gen} its name says"
            skipped.append((path, why, "misnamed"))
            continue
        return Loaded(state, path, tuple(skipped), owner)
    details = "; ".join(f"{p.name}: {why}" for p, why, _ in skipped)
    whose = f" of run {run_id}" if run_id is not None else ""
    raise CheckpointError(f"no usable checkpoint{whose} in {checkpoint_dir(run_dir)} ({details})")
