"""The tests' one way to start programs, wait for them and compare two runs.

Importable from every test folder (``from harness import launch``): ``tests/conftest.py``
puts ``tests/`` on ``sys.path`` (pytest's default ``prepend`` import mode).

* :func:`launch` runs ``python ARGS`` (under ``mpiexec -n N`` with ``mpi=N``) to its end;
  :func:`start` starts it in the background. Every program gets a session (and process
  group) of its own, and :func:`stop` kills that group and every process below the program
  (``mpiexec``, its proxies and the ranks, which hydra puts in sessions of their own), and
  nothing else; a launch that outlives its timeout is killed that way and fails the test
  with the output it had written.
* :func:`wait_for` polls a condition until a deadline: the tests never sleep a fixed time to
  let something happen.
* :func:`assert_same_run` compares two run folders bit for bit.
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
#: MPICH's launcher from the venv (``make install`` puts it there with the mpich wheel).
MPIEXEC = Path(PYTHON).parent / "mpiexec"

T = TypeVar("T")


def environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a launched program: this one's (as it is now, so a
    ``monkeypatch.setenv`` is inherited), the repository on ``PYTHONPATH``, one OpenMP thread
    (several ranks share two cores), then ``env``."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}


def output_on_blas_kernel(code: str, core: str) -> str:
    """The stdout of ``python -c code`` run from the repository with OpenBLAS forced onto its
    ``core`` kernels (``OPENBLAS_CORETYPE``, e.g. ``Haswell``, ``Nehalem``: the kernel sets a
    CPU of that kind gets); fails the test if the program fails."""
    done = subprocess.run(
        [PYTHON, "-c", code],
        env={**os.environ, "OPENBLAS_CORETYPE": core},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def mpiexec() -> str:
    """The path of ``mpiexec``; fails the test (does not skip it) when it is missing."""
    if not MPIEXEC.exists():
        pytest.fail(f"{MPIEXEC} is missing: `make install` puts MPICH's mpiexec in the venv")
    return str(MPIEXEC)


def command(*args: str, mpi: int = 0, prefix: Sequence[str] = ()) -> list[str]:
    """``[*prefix, (mpiexec -n mpi,) python, *args]``: ``prefix`` is e.g. ``srun -n 2``."""
    launcher = [mpiexec(), "-n", str(mpi)] if mpi else []
    return [*prefix, *launcher, PYTHON, *map(str, args)]


def start(
    *args: str,
    mpi: int = 0,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> subprocess.Popen:
    """Start ``python args`` in the background, in a new session, from the repository root.

    Output goes to ``log`` (stdout and stderr together) if given, else to pipes (read them
    with ``proc.communicate``). Stop it with :func:`stop`, or use :func:`running`.
    """
    out: int | IO[str] = subprocess.PIPE
    with open(log, "w") if log is not None else contextlib.nullcontext() as fh:
        if fh is not None:
            out = fh
        return subprocess.Popen(
            command(*args, mpi=mpi, prefix=prefix),
            cwd=ROOT,
            env=environment(env),
            stdout=out,
            stderr=subprocess.STDOUT if log is not None else subprocess.PIPE,
            text=True,
            start_new_session=True,
        )


def descendants(pid: int) -> list[int]:
    """The PIDs of the processes below ``pid`` (children, their children ...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(proc: subprocess.Popen) -> None:
    below = descendants(proc.pid) if proc.poll() is None else []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in below:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def stop(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc``, its process group and every process below it, and reap ``proc``.

    The tree matters: MPICH's hydra starts its proxy and each rank in a session of their
    own, outside ``mpiexec``'s group (its proxy ends them when ``mpiexec`` dies, a second or
    so later; killed here, they do not depend on that, nor do ranks under srun or salloc).
    """
    _kill_tree(proc)
    proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


@contextlib.contextmanager
def running(*args: str, **kwargs: Any) -> Iterator[subprocess.Popen]:
    """:func:`start`, and :func:`stop` on the way out of the ``with`` block, however left."""
    proc = start(*args, **kwargs)
    try:
        yield proc
    finally:
        stop(proc)


def launch(
    *args: str,
    mpi: int = 0,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """Run ``python args`` (see :func:`start`) to its end and return its exit code and output.

    After ``timeout`` seconds the whole process group is killed and the test fails, showing
    the end of what the program had written.
    """
    proc = start(*args, mpi=mpi, prefix=prefix, env=env)
    try:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            out, err = proc.communicate()
            pytest.fail(
                f"{' '.join(proc.args)} still ran after {timeout} s (killed)\n"
                f"--- stdout (end)\n{out[-3000:]}\n--- stderr (end)\n{err[-3000:]}"
            )
    finally:
        stop(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def wait_for(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.02) -> T:
    """Poll ``condition()`` every ``interval`` s until it returns something truthy, and
    return that; raise :class:`TimeoutError` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
    return value


#: breeding = "workers" on a small MNIST search: pop 16, batches of 100 images.
WORKERS_MNIST = [
    "--task",
    "mnist256",
    "--pop-size",
    "16",
    "--seed",
    "2",
    "--set",
    "batch_size=100",
    "--set",
    "breeding='workers'",
    "--quiet",
]


def signal_after_checkpoints(
    sig: int, out: Path, *args: str, mpi: int = 0, checkpoints: int = 2
) -> tuple[int, str]:
    """Start ``python args``, wait until ``out`` holds ``checkpoints`` checkpoints (the run
    is under way), send ``sig`` to the launcher and return (exit code, stderr)."""
    from src.search import checkpoint

    with running(*args, mpi=mpi) as proc:
        wait_for(
            lambda: len(checkpoint.list_checkpoints(out)) >= checkpoints or proc.poll() is not None,
            90,
            f"{checkpoints} checkpoints",
        )
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    return proc.returncode, err


# ----- comparing two runs ---------------------------------------------------------------------


def stats(run: Path) -> list[dict[str, str]]:
    """The rows of ``run/stats.csv`` without the wall-time column (``seconds``)."""
    with open(run / "stats.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


#: What differs between two runs of the same search: the run's identity and the time it was
#: written (and the digest over them), the wall times, and the config (a resume may change
#: keys that do not alter results, e.g. keep_checkpoints).
_RUN_ATTRIBUTES = frozenset({"@run_id", "@created", "@digest", "@config_json"})
_TIMED = frozenset({"history/seconds", "history/busy"})


def checkpoint_contents(path: Path) -> dict[str, Any]:
    """Every dataset (``name``) and attribute (``name@attr``; the root's ``@attr``) of a
    checkpoint read with plain h5py, but the config and what names the run or the moment."""
    import h5py

    out: dict[str, Any] = {}
    with h5py.File(path, "r") as f:
        out.update({f"@{k}": v for k, v in f.attrs.items()})

        def visit(name: str, obj: Any) -> None:
            if name == "config" or name.startswith("config/"):
                return
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
            out.update({f"{name}@{k}": v for k, v in obj.attrs.items()})

        f.visititems(visit)
    return {k: v for k, v in out.items() if k not in _RUN_ATTRIBUTES and k not in _TIMED}


def assert_same_run(a: Path, b: Path) -> None:
    """Two run folders hold the same results, bit for bit.

    stats.csv (every column but the wall time), best_genome.json byte for byte, and the
    newest checkpoint: the same file name, every dataset (dtype and values) and attribute
    (RNG state, innovation counters, history, best genome) but the config, the wall times and
    what names the run or its moment; both load (digest checked), none skipped.
    """
    from src.search import checkpoint

    assert stats(a) == stats(b)
    assert (a / "best_genome.json").read_text() == (b / "best_genome.json").read_text()
    la, lb = checkpoint.load_latest(a), checkpoint.load_latest(b)
    assert not la.skipped and not lb.skipped, (la.skipped, lb.skipped)
    assert la.path.name == lb.path.name
    assert la.state.generation == lb.state.generation
    assert [g.key() for g in la.state.population] == [g.key() for g in lb.state.population]
    assert la.state.rng.bit_generator.state == lb.state.rng.bit_generator.state
    ca, cb = checkpoint_contents(la.path), checkpoint_contents(lb.path)
    assert ca.keys() == cb.keys()
    for key, va in ca.items():
        vb = cb[key]
        if isinstance(va, np.ndarray):
            assert va.dtype == vb.dtype and va.shape == vb.shape, key
            assert va.tobytes() == vb.tobytes(), key
        else:
            assert type(va) is type(vb) and va == vb, key
