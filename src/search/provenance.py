"""What a run's results depend on besides its config, recorded so a resume can check it.

Three things change results without any change to a run's config:

* the **activation pool**: a config that does not list ``activations`` draws hidden nodes from
  its task's default pool, which follows the registry ``src.core.activations.ROWS``; adding
  an activation there changes what an unchanged config computes (its ids and their order:
  mutation picks from the pool by index);
* the **software version**: any release may change results;
* the **platform** the floats are computed on (:func:`platform`): numpy picks its SIMD code
  for sin, exp, tanh ... at run time by CPU (AVX-512 or not: other last bits, float32 most
  of all), its BLAS (OpenBLAS) picks its matrix kernels by CPU too (CarRacing's frame
  encoder multiplies matrices; PEPG and MNIST's resize sum in a fixed order instead),
  swing-up's kernels call the C library's libm (the physics; the activations too with
  ``swingup_math = 'libm'``), and a numpy or numba upgrade may change either.

Every run records all three: in ``config.toml`` (keys ``resolved_activations``, the pool's
names in order, ``software_version`` and ``platform``; ``--config`` ignores them, as it
ignores ``run_id``) and in every checkpoint (root attributes ``resolved_activations_json``,
``software``, ``"wann-at-scale <version>"``, and ``platform``). ``--resume`` compares the
recorded pool and version with the ones this code resolves for the run's config and refuses
a difference in one line naming both, as it refuses a config change that alters results;
``--force-config`` goes on anyway (with a warning), and the run's later files record the new
values. The platform is never refused (a cluster's nodes are replaced; most moves change
nothing): a resume on another platform warns in one line, and so does a launch whose worker
ranks differ from the root (which rank evaluates which genome then changes results).

Versions are compared as strings, exactly: the version is the only trace of a code change
there is, and a patch release may change results as well as a major one. After an upgrade
known not to change results, ``--force-config`` continues the run. The version is
``src.__version__``, the single source setup.cfg reads its version from (``attr:``): it is the
running code's, where ``importlib.metadata`` would report whatever was last pip-installed.

A record made before these were kept (an old ``config.toml``, a checkpoint without
``resolved_activations_json``) is not checked for the missing value: it is accepted with a
warning naming what was not checked, as an old checkpoint missing a newer config key resumes
with that key's default. (Every checkpoint of this format has ``software``.)
"""

from __future__ import annotations

import functools
import platform as _platform
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import WannConfig
from ..tasks import resolved_activations

#: The version of the running code, recorded with every run.
SOFTWARE_VERSION = __version__
#: The ``software`` attribute of a checkpoint is this prefix and the version.
SOFTWARE_PREFIX = "wann-at-scale "


@functools.cache
def platform() -> str:
    """What this process's floats depend on besides the code, as one line: the machine, its
    C library (swing-up's kernels call its libm), numpy's version and the SIMD targets its
    dispatch uses on this CPU (numpy's ``__cpu_dispatch__`` entries this CPU has, and
    ``NPY_DISABLE_CPU_FEATURES`` has not switched off), the kernels of numpy's BLAS
    (:func:`blas_core`), numba's version. E.g. ``x86_64 glibc 2.36; numpy 2.4.6 SIMD X86_V3
    X86_V4; BLAS OpenBLAS SkylakeX; numba 0.68.1``."""
    import numpy as np

    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # numpy 1.x
        from numpy.core import _multiarray_umath as umath  # type: ignore[no-redef]
    features = getattr(umath, "__cpu_features__", {})
    simd = [t for t in getattr(umath, "__cpu_dispatch__", []) if features.get(t)]
    libc = " ".join(x for x in _platform.libc_ver() if x) or "unknown libc"
    try:  # its metadata, not the module: a worker with ahead-of-time kernels never imports it
        numba = metadata.version("numba")
    except metadata.PackageNotFoundError:
        numba = "absent"
    return (
        f"{_platform.machine()} {libc}; numpy {np.__version__} SIMD {' '.join(simd) or '-'}; "
        f"BLAS {blas_core()}; numba {numba}"
    )


#: The entry points that name the kernel set OpenBLAS chose for this CPU, as numpy's wheels
#: (scipy-openblas, 64-bit ints) and other builds export it.
_CORENAME_SYMBOLS = (
    "scipy_openblas_get_corename64_",
    "scipy_openblas_get_corename",
    "openblas_get_corename64_",
    "openblas_get_corename",
)


def blas_core() -> str:
    """The kernel set numpy's OpenBLAS runs on this CPU (``OpenBLAS Haswell``; the
    ``OPENBLAS_CORETYPE`` variable forces one), read from the loaded library; ``unknown``
    where numpy's BLAS is not an OpenBLAS found among this process's mapped libraries."""
    import ctypes

    import numpy as np  # noqa: F401  (loads numpy's BLAS)

    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({line.split()[-1] for line in fh if "openblas" in line.lower()})
    except OSError:
        return "unknown"
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in _CORENAME_SYMBOLS:
            corename = getattr(lib, symbol, None)
            if corename is not None:
                corename.restype = ctypes.c_char_p
                name = corename()
                return f"OpenBLAS {name.decode(errors='replace') if name else '?'}"
    return "unknown"


@dataclass(frozen=True)
class Provenance:
    """A run's resolved activation pool (names, in order), software version and
    :func:`platform`; ``None`` where a record made before they were kept lacks one."""

    resolved_activations: tuple[str, ...] | None
    software_version: str | None
    platform: str | None = None

    def toml_items(self) -> dict[str, Any]:
        """The ``config.toml`` lines (keys the config reader ignores)."""
        return {
            "resolved_activations": list(self.resolved_activations or ()),
            "software_version": self.software_version or "",
            "platform": self.platform or "",
        }


#: The ``config.toml`` keys of :meth:`Provenance.toml_items`.
TOML_KEYS = ("resolved_activations", "software_version", "platform")
#: Those a resume refuses to change (:func:`compare`); the platform only warns (:func:`moved`).
CHECKED_KEYS = ("resolved_activations", "software_version")


def current(config: WannConfig) -> Provenance:
    """What this code uses for a run of ``config``, on this machine."""
    return Provenance(resolved_activations(config), SOFTWARE_VERSION, platform())


def from_toml(path: Path) -> Provenance:
    """The record in a run's ``config.toml`` (missing keys: ``None``)."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    pool = data.get("resolved_activations")
    version = data.get("software_version")
    where = data.get("platform")
    return Provenance(
        tuple(pool) if isinstance(pool, list) else None,
        version if isinstance(version, str) and version else None,
        where if isinstance(where, str) and where else None,
    )


def version_of_software(attribute: str) -> str | None:
    """The version in a checkpoint's ``software`` attribute (``None`` if not ours)."""
    if attribute.startswith(SOFTWARE_PREFIX):
        return attribute[len(SOFTWARE_PREFIX) :]
    return None


def compare(recorded: Provenance, now: Provenance) -> tuple[dict[str, tuple[Any, Any]], list[str]]:
    """``({name: (recorded, now)}`` for each recorded value of :data:`CHECKED_KEYS` that
    differs, ``[names not recorded]``)."""
    changed: dict[str, tuple[Any, Any]] = {}
    missing: list[str] = []
    for name in CHECKED_KEYS:
        old, new = getattr(recorded, name), getattr(now, name)
        if old is None:
            missing.append(name)
        elif old != new:
            changed[name] = (
                list(old) if isinstance(old, tuple) else old,
                list(new) if isinstance(new, tuple) else new,
            )
    return changed, missing


def moved(recorded: Provenance, now: Provenance, source: str) -> str | None:
    """The one-line warning for a run recorded on another :func:`platform` (``source``: where
    the record is), or ``None`` (the same, or not recorded)."""
    if recorded.platform is None or recorded.platform == now.platform:
        return None
    return (
        f"warning: {source} records platform {recorded.platform!r}, this is {now.platform!r}: "
        f"numpy's SIMD code and libm may differ between them, so the generations from here "
        f"may differ in the last bits from a run that never moved (going on)"
    )


def mixed_ranks(platforms: dict[int, str], root: str) -> str | None:
    """The one-line warning for worker ranks whose :func:`platform` differs from the root's
    (``platforms``: rank -> platform), or ``None``. Ranks are grouped by platform."""
    groups: dict[str, list[int]] = {}
    for rank in sorted(platforms):
        if platforms[rank] != root:
            groups.setdefault(platforms[rank], []).append(rank)
    if not groups:
        return None

    def named(ranks: list[int]) -> str:
        shown = ", ".join(map(str, ranks[:8]))
        if len(ranks) > 8:
            shown += f" and {len(ranks) - 8} more"
        return f"rank{'s' if len(ranks) > 1 else ''} {shown} compute{'' if len(ranks) > 1 else 's'}"

    parts = "; ".join(f"{named(ranks)} on {where!r}" for where, ranks in groups.items())
    return (
        f"warning: {parts}; the root on {root!r}: results then depend on which rank evaluates "
        f"which genome, so this run will not repeat bit for bit at another rank count or "
        f"placement (run all ranks on one kind of node for that)"
    )
