"""The lockstep tasks' rollout kernels: compiled ahead of time when built, else numba's JIT.

The kernels (:func:`~src.tasks.jitkernels.forward_rows` for every lockstep task, FastWalker's
lidar :func:`~src.tasks.jitkernels.edge_normals` and :func:`~src.tasks.jitkernels.lidar`) are
numba functions in :mod:`src.tasks.jitkernels`. Getting them ready through numba costs a
process about 0.45 CPU-s: ``import numba`` and loading each kernel from numba's disk cache
(which initialises numba's typing and target contexts and compiles its runtime). A worker
rank of a biped search pays this once; with hundreds of ranks that is most of their start-up.

``python -m src.tasks.kernels`` (``make kernels``; ``make install`` runs it) compiles the
same functions once more, with numba's ahead-of-time compiler (``numba.pycc``: needs a C
compiler, about 15 s), into an extension module that imports with numpy alone (about 1 ms).
:func:`load` prefers it. Its name carries a digest of the kernels' sources and of the numba
version that compiled them (:func:`module_name`), so after an edit to either it is not
found and :func:`load` falls back to the JIT kernels: slower to start, same results. It is
compiled for a generic CPU of the architecture (``numba.pycc``'s default), so one build
serves every node of a cluster.

Same results: both are numba's code for the same Python functions, with IEEE arithmetic in
the same order (no fast-math); the tests compare them bit for bit on biped and hardcore
episodes. The ahead-of-time functions take exactly the argument types they were compiled
for (:data:`SIGNATURES`: C-contiguous arrays of one dtype, output arrays writable; anything
else would crash the process, not raise), so each call checks them and hands anything else
to the JIT kernel, as numba's dispatcher would compile a new specialisation for it.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..core import jitcache

HERE = Path(__file__).resolve().parent
#: Every file whose code the kernels compile (as keyed in :mod:`src.tasks.jitkernels`).
SOURCES = (
    HERE / "jitkernels.py",
    HERE.parent / "core" / "activations.py",
    HERE.parent / "core" / "plan_jit.py",
    HERE.parent / "core" / "rank_jit.py",
    HERE.parent / "core" / "genome.py",  # INPUT, OUTPUT: constants plan_jit compiles in
    HERE.parent / "core" / "genome_jit.py",
)
#: Where :func:`build` writes the module and :func:`load` looks for it (as numba's cache).
DEFAULT_DIR = HERE / "__pycache__"

# One argument: a scalar (its numba type) or an array (dtype, ndim, written by the kernel).
_F8, _I8, _F4, _B1 = np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.float32), np.dtype(bool)
_I1, _U8 = np.dtype(np.int8), np.dtype(np.uint64)
_CODE = {_F8: "f8", _I8: "i8", _F4: "f4", _B1: "b1", _I1: "i1", _U8: "u8"}
Arg = tuple[np.dtype, int, bool] | str

#: Each kernel: (numba return type, argument types) of its ahead-of-time compilation.
SIGNATURES: dict[str, tuple[str, tuple[Arg, ...]]] = {
    "forward_rows": (
        "b1[::1]",
        (
            (_F8, 2, True),  # values
            (_F8, 2, False),  # inputs
            (_I8, 1, False),  # rows
            (_F8, 1, False),  # weights
            (_I8, 1, False),  # order
            (_I8, 1, False),  # act
            (_I8, 1, False),  # indptr
            (_I8, 1, False),  # indices
            (_F8, 1, False),  # coef
            (_I8, 1, False),  # out_slots
            (_F8, 2, True),  # out
            "b1",  # clip
        ),
    ),
    "edge_normals": ("void", (*[(_F4, 1, False)] * 4, (_F4, 1, True), (_F4, 1, True))),
    "lidar": (
        "i8",
        (
            "f8",  # px
            "f8",  # py
            (_F8, 1, False),  # dxs
            (_F8, 1, False),  # dys
            *[(_F4, 1, False)] * 6,  # v1x, v1y, v2x, v2y, nx, ny
            (_F8, 2, False),  # boxes
            (_F4, 3, False),  # verts
            (_F4, 3, False),  # normals
            (_I8, 1, False),  # counts
            (_F4, 1, True),  # out
            (_B1, 1, True),  # box2d
        ),
    ),
    "plan_arrays": (
        "Tuple((b1, i8[::1], i8[::1], i8[::1], i8[::1]))",
        (
            "i8",  # n
            "i8",  # first
            (_I1, 1, False),  # kinds
            (_I8, 1, False),  # src
            (_I8, 1, False),  # dst
            (_I8, 1, False),  # en
        ),
    ),
    "rank_two": ("i8[::1]", ((_F8, 2, False), (_F8, 2, False))),  # moo, tiebreak
    "split_near": ("i8[::1]", ((_F8, 1, False), (_I8, 1, False), "i8", "f8")),
    "tournament_winners": ("i8[::1]", ((_I8, 1, False), (_I8, 1, False), (_I8, 2, False))),
    "banned_sources": ("b1[::1]", ("i8", (_I8, 1, False), (_I8, 1, False), "i8")),
    "node_positions": ("Tuple((b1, i8[::1]))", ((_I8, 1, False), (_I8, 1, False))),
    "seed_words": ("u8[::1]", ((_I8, 1, False),)),
}


def numba_signature(name: str) -> str:
    """The numba signature string of kernel ``name`` (e.g. ``"i8(f8, f8[::1])"``)."""
    ret, args = SIGNATURES[name]
    types = [a if isinstance(a, str) else _array_type(*a[:2]) for a in args]
    return f"{ret}({', '.join(types)})"


def _array_type(dtype: np.dtype, ndim: int) -> str:
    return f"{_CODE[dtype]}[{':, ' * (ndim - 1)}::1]"


def module_name() -> str:
    """The extension module's name: a digest of :data:`SOURCES` and of numba's version file
    (found without importing numba)."""
    spec = importlib.util.find_spec("numba")
    numba_dir = Path(spec.submodule_search_locations[0]) if spec else None
    version = [numba_dir / "_version.py"] if numba_dir else []
    return "_aot_kernels_" + jitcache.source_digest([*SOURCES, *version])[:16]


def module_path(directory: Path = DEFAULT_DIR) -> Path:
    return Path(directory) / (module_name() + importlib.machinery.EXTENSION_SUFFIXES[0])


class Kernels:
    """The kernels, from one source. ``ahead_of_time``: whether from the built module.

    Each attribute takes any arguments the JIT kernel takes; the ahead-of-time ones check
    their argument types on every call (a few microseconds). :meth:`for_args` gives the
    function without that check, for a caller that calls it many times with arrays it
    owns (FastWalker's lidar, once per environment step).
    """

    def __init__(self, module: ModuleType | None) -> None:
        self.ahead_of_time = module is not None
        self._module = module
        for name in SIGNATURES:
            fn = _checked(name, getattr(module, name)) if module else _jit_kernel(name)
            setattr(self, name, fn)

    forward_rows: Callable[..., np.ndarray]
    edge_normals: Callable[..., None]
    lidar: Callable[..., int]
    plan_arrays: Callable[..., tuple[Any, ...]]
    rank_two: Callable[..., np.ndarray]
    split_near: Callable[..., np.ndarray]
    tournament_winners: Callable[..., np.ndarray]
    banned_sources: Callable[..., np.ndarray]
    node_positions: Callable[..., tuple[bool, np.ndarray]]
    seed_words: Callable[..., np.ndarray]

    def for_args(self, name: str, args: tuple[Any, ...]) -> Callable[..., Any]:
        """Kernel ``name`` for calls whose arrays have the types of those in ``args``
        (same dtype, dimensions, contiguity, writability): the ahead-of-time function
        unchecked if they match its signature, else the JIT kernel."""
        if self._module is not None and _matches(SIGNATURES[name][1], args):
            return getattr(self._module, name)
        return _jit_kernel(name)


def import_built(directory: Path = DEFAULT_DIR) -> ModuleType | None:
    """The ahead-of-time module in ``directory`` if it is there for the current sources."""
    path = module_path(directory)
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(path.name.split(".")[0], path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Environment variable: ``0`` makes :func:`load` use the JIT kernels even when built.
USE_ENV = "WANN_AOT_KERNELS"


@functools.cache
def load() -> Kernels:
    """The kernels: the built module's when it matches the sources (:func:`module_name`)
    and ``$WANN_AOT_KERNELS`` is not ``0``, else numba's JIT ones (importing numba and
    loading them from its cache)."""
    if os.environ.get(USE_ENV, "1") == "0":
        return Kernels(None)
    return Kernels(import_built())


def jit() -> Kernels:
    """The JIT kernels, whatever is built (for comparisons)."""
    return Kernels(None)


def _jit_kernel(name: str) -> Callable[..., Any]:
    from . import jitkernels  # imports numba

    return getattr(jitkernels, name)


def _matches(spec: tuple[Arg, ...], args: tuple[Any, ...]) -> bool:
    """Whether ``args`` are arrays of the types ``spec`` compiled for (scalars unchecked)."""
    if len(args) != len(spec):
        return False
    for a, t in zip(args, spec):
        if isinstance(t, str):
            continue
        dtype, ndim, written = t
        if (
            type(a) is not np.ndarray
            or a.dtype != dtype
            or a.ndim != ndim
            or not a.flags.c_contiguous
            or (written and not a.flags.writeable)
        ):
            return False
    return True


def _checked(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` for the argument types it was compiled for; the JIT kernel for any other."""
    spec = SIGNATURES[name][1]

    def call(*args: Any) -> Any:
        return fn(*args) if _matches(spec, args) else _jit_kernel(name)(*args)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"Ahead-of-time :func:`src.tasks.jitkernels.{name}` (JIT for other types)."
    return call


def build(directory: Path = DEFAULT_DIR, force: bool = False) -> Path:
    """Compile the kernels ahead of time into ``directory`` (unless there for these sources
    and not ``force``); older builds there are removed. Safe to run concurrently: the module
    is written aside and moved into place.

    Raises:
        Exception: whatever numba.pycc or the C compiler raises (no C compiler, no Python
            headers); nothing is left behind then.
    """
    directory = Path(directory)
    target = module_path(directory)
    if target.is_file() and not force:
        return target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba.pycc: pending deprecation
        from numba.pycc import CC

        from . import jitkernels

        directory.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".aot-build-", dir=directory))
        try:
            cc = CC(target.name.split(".")[0], source_module=jitkernels)
            cc.output_dir = str(tmp)
            for name in SIGNATURES:
                cc.export(name, numba_signature(name))(getattr(jitkernels, name).py_func)
            cc.compile()
            (tmp / cc.output_file).replace(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    for old in directory.glob("_aot_kernels_*"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


def main(argv: list[str] | None = None) -> int:
    """``python -m src.tasks.kernels [--check]``: build the ahead-of-time kernels if needed
    (``--check``: only say whether they are there; exit 1 if not)."""
    args = sys.argv[1:] if argv is None else argv
    path = module_path()
    if "--check" in args:
        print(f"{path}: {'built' if path.is_file() else 'not built'}")
        return 0 if path.is_file() else 1
    if path.is_file():
        print(f"{path}: up to date")
        return 0
    start = time.perf_counter()
    try:
        build()
    except Exception as exc:  # no compiler, no headers: the JIT kernels serve
        print(f"no ahead-of-time kernels ({type(exc).__name__}: {exc}); numba JIT instead")
        return 1
    print(f"{path}: built in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
