"""Helpers for the checkpoint tests: run the CLI, compare two run folders bit for bit."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
from conftest import PYTHON, ROOT

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
MPIEXEC = Path(PYTHON).parent / "mpiexec"


def master(*args: str, env: dict | None = None, timeout: float = 300, mpi: int = 0):
    """Run ``python -m src.master`` (under ``mpiexec -n mpi`` if ``mpi``)."""
    prefix = [str(MPIEXEC), "-n", str(mpi)] if mpi else []
    return subprocess.run(
        [*prefix, PYTHON, "-m", "src.master", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def start_master(*args: str, log: Path, mpi: int = 0, env: dict | None = None) -> subprocess.Popen:
    """Start ``python -m src.master`` in the background, output to ``log``."""
    prefix = [str(MPIEXEC), "-n", str(mpi)] if mpi else []
    with open(log, "w") as fh:
        return subprocess.Popen(
            [*prefix, PYTHON, "-m", "src.master", *args],
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )


def wait_for(condition, timeout: float, what: str):
    """Poll ``condition()`` (every 20 ms) until truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
    return value


def checkpoints(run: Path) -> list[Path]:
    return sorted((run / "checkpoints").glob("gen_*.h5"))


def stop_with(proc: subprocess.Popen, *signals: signal.Signals, timeout: float = 120) -> int:
    """Send signals to a running process, return its exit code."""
    for sig in signals:
        proc.send_signal(sig)
    return proc.wait(timeout=timeout)


def stats(run: Path) -> list[dict[str, str]]:
    """stats.csv rows without the wall-time column."""
    with open(run / "stats.csv") as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


def final_arrays(run: Path) -> dict[str, object]:
    """The newest checkpoint's population, objectives, RNG state and counters (plain h5py)."""
    path = checkpoints(run)[-1]
    with h5py.File(path, "r") as f:
        out: dict[str, object] = {
            name: f[name][()]
            for name in (
                "objectives",
                "genes",
                "population/nodes",
                "population/node_offsets",
                "population/conn_offsets",
                "population/conn_shared",
                "population/conn_extra_gene",
                "population/conn_extra_offsets",
                "population/conn_enabled_bits",
            )
        }
        for key in ("generation", "rng_state_json", "next_node_id", "next_innovation"):
            out[key] = f.attrs[key]
    out["name"] = path.name
    return out


def assert_same_run(a: Path, b: Path) -> None:
    """Two run folders hold bit-identical results (stats.csv minus seconds, best genome,
    the final checkpoint's population, objectives, RNG state and counters)."""
    assert stats(a) == stats(b)
    assert json.loads((a / "best_genome.json").read_text()) == json.loads(
        (b / "best_genome.json").read_text()
    )
    assert (a / "best_genome.json").read_text() == (b / "best_genome.json").read_text()
    fa, fb = final_arrays(a), final_arrays(b)
    assert fa.keys() == fb.keys()
    for key in fa:
        if isinstance(fa[key], np.ndarray):
            assert fa[key].dtype == fb[key].dtype and np.array_equal(fa[key], fb[key]), key
        else:
            assert fa[key] == fb[key], key


def require_program(name: str) -> None:
    """Skip when ``name`` is not on PATH; in CI (``CI=true``) fail instead: ``make test``
    installs it (Makefile target ``slurm``), so a missing one there is a real failure."""
    import shutil

    import pytest

    if shutil.which(name) is None:
        message = f"{name} not on PATH (make test installs it as root: see the Makefile's slurm)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
