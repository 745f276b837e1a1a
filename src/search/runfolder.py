"""What makes a folder a run folder: its files and its run id.

A run id is made when a new run creates its folder and never changes. It is the ``run_id``
line of ``RUN/config.toml`` and the ``run_id`` attribute of every checkpoint, so a resume can
tell this run's checkpoints from files copied in from another run (``--config`` ignores that
line: a config file describes a search, the run id names one run of it).
"""

from __future__ import annotations

import datetime as _dt
import re
import secrets
import tomllib
from pathlib import Path

CONFIG_NAME = "config.toml"
#: Names a run writes into its folder (and their temporaries): a new run refuses a folder
#: holding any of them, whatever else it holds.
RUN_FILE_PATTERNS = (
    "config.toml*",
    "stats.csv*",
    "best_genome.json*",
    "checkpoints",
    "run.lock",
    "history",
    "report",
)
_RUN_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")


def new_run_id() -> str:
    """A fresh run id: creation time (UTC) and 32 random bits: ``20250101T120000Z-1a2b3c4d``."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


def valid_run_id(value: object) -> bool:
    return isinstance(value, str) and bool(_RUN_ID.match(value))


def run_files(run_dir: Path) -> list[str]:
    """Names of run files in ``run_dir`` (sorted; folders with a trailing ``/``)."""
    run_dir = Path(run_dir)
    found: set[str] = set()
    for pattern in RUN_FILE_PATTERNS:
        for p in run_dir.glob(pattern):
            found.add(p.name + ("/" if p.is_dir() else ""))
    return sorted(found)


def read_run_id(run_dir: Path) -> str:
    """The run id in ``run_dir/config.toml``.

    Raises:
        ValueError: no config.toml, not TOML, or no valid ``run_id`` in it (the message says
            why and what to do).
    """
    path = Path(run_dir) / CONFIG_NAME
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(
            f"{path} is missing: it names the run (its run_id line), without it the folder's "
            f"checkpoints cannot be told from another run's"
        ) from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is unreadable ({exc})") from None
    run_id = data.get("run_id")
    if not valid_run_id(run_id):
        raise ValueError(
            f"{path} has no valid run_id line (got {run_id!r}); a folder made before run ids, or "
            f'an edited config.toml: add run_id = "<id>" with the run_id attribute of the '
            f"checkpoints (h5dump -a /run_id FILE)"
        )
    return run_id
