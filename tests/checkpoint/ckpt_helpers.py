"""Helpers for the checkpoint tests: the tiny search they all run, and ``src.master`` through
the launch functions of tests/harness.py."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from harness import launch, start

#: A tiny swing-up search: a generation takes a few milliseconds.
TINY = [
    "--task",
    "swingup",
    "--pop-size",
    "24",
    "--seed",
    "5",
    "--set",
    "episode_steps=200",
    "--quiet",
]
#: ``python KILLING_MASTER GENERATION [src.master arguments]``: ``src.master`` that SIGKILLs
#: itself half-way through writing that generation's checkpoint.
KILLING_MASTER = Path(__file__).with_name("killing_master.py")


def master(*args: str, env: dict | None = None, timeout: float = 300, mpi: int = 0):
    """Run ``python -m src.master`` (under ``mpiexec -n mpi`` if ``mpi``) to its end."""
    return launch("-m", "src.master", *args, env=env, timeout=timeout, mpi=mpi)


def killed_master(generation: int, *args: str, mpi: int = 0):
    """:func:`master` that SIGKILLs itself half-way through writing the checkpoint of
    ``generation`` (tests/checkpoint/killing_master.py), run to its death."""
    return launch(str(KILLING_MASTER), str(generation), *args, mpi=mpi)


def start_master(*args: str, log: Path, mpi: int = 0, env: dict | None = None) -> subprocess.Popen:
    """Start ``python -m src.master`` in the background, output to ``log``; stop it with
    ``harness.stop`` (its whole process group)."""
    return start("-m", "src.master", *args, log=log, mpi=mpi, env=env)


def checkpoints(run: Path) -> list[Path]:
    return sorted((run / "checkpoints").glob("gen_*.h5"))


def stop_with(proc: subprocess.Popen, *signals: signal.Signals, timeout: float = 120) -> int:
    """Send signals to a running process, return its exit code."""
    for sig in signals:
        proc.send_signal(sig)
    return proc.wait(timeout=timeout)


def require_program(name: str) -> None:
    """Skip when ``name`` is not on PATH; in CI (``CI=true``) fail instead: ``make test``
    installs it (Makefile target ``system-deps``), so a missing one there is a real failure."""
    import shutil

    import pytest

    if shutil.which(name) is None:
        message = (
            f"{name} not on PATH (make test installs it as root: see the Makefile's system-deps)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
