"""What a run's results depend on besides its config, recorded so a resume can check it.

Two things change results without any change to a run's config:

* the **activation pool**: a config that does not list ``activations`` draws hidden nodes from
  its task's default pool, which follows the registry ``src.core.activations.ROWS``; adding
  an activation there changes what an unchanged config computes (its ids and their order:
  mutation picks from the pool by index);
* the **software version**: any release may change results.

Every run records both, resolved: in ``config.toml`` (keys ``resolved_activations``, the pool's
names in order, and ``software_version``; ``--config`` ignores them, as it ignores ``run_id``)
and in every checkpoint (root attributes ``resolved_activations_json`` and ``software``,
``"wann-at-scale <version>"``). ``--resume`` compares the recorded values with the ones this
code resolves for the run's config and refuses a difference in one line naming both, as it
refuses a config change that alters results; ``--force-config`` goes on anyway (with a
warning), and the run's later files record the new values.

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

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import WannConfig
from ..tasks import resolved_activations

#: The version of the running code, recorded with every run.
SOFTWARE_VERSION = __version__
#: The ``software`` attribute of a checkpoint is this prefix and the version.
SOFTWARE_PREFIX = "wann-at-scale "


@dataclass(frozen=True)
class Provenance:
    """A run's resolved activation pool (names, in order) and software version; ``None``
    where a record made before they were kept lacks one."""

    resolved_activations: tuple[str, ...] | None
    software_version: str | None

    def toml_items(self) -> dict[str, Any]:
        """The ``config.toml`` lines (keys the config reader ignores)."""
        return {
            "resolved_activations": list(self.resolved_activations or ()),
            "software_version": self.software_version or "",
        }


#: The ``config.toml`` keys of :meth:`Provenance.toml_items`.
TOML_KEYS = ("resolved_activations", "software_version")


def current(config: WannConfig) -> Provenance:
    """What this code uses for a run of ``config``."""
    return Provenance(resolved_activations(config), SOFTWARE_VERSION)


def from_toml(path: Path) -> Provenance:
    """The record in a run's ``config.toml`` (missing keys: ``None``)."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    pool = data.get("resolved_activations")
    version = data.get("software_version")
    return Provenance(
        tuple(pool) if isinstance(pool, list) else None,
        version if isinstance(version, str) and version else None,
    )


def version_of_software(attribute: str) -> str | None:
    """The version in a checkpoint's ``software`` attribute (``None`` if not ours)."""
    if attribute.startswith(SOFTWARE_PREFIX):
        return attribute[len(SOFTWARE_PREFIX) :]
    return None


def compare(recorded: Provenance, now: Provenance) -> tuple[dict[str, tuple[Any, Any]], list[str]]:
    """``({name: (recorded, now)}`` for each recorded value that differs, ``[names not
    recorded]``)."""
    changed: dict[str, tuple[Any, Any]] = {}
    missing: list[str] = []
    for name in TOML_KEYS:
        old, new = getattr(recorded, name), getattr(now, name)
        if old is None:
            missing.append(name)
        elif old != new:
            changed[name] = (
                list(old) if isinstance(old, tuple) else old,
                list(new) if isinstance(new, tuple) else new,
            )
    return changed, missing
