"""Scale: a worker rank's start-up cost, and the root and scheduler at 64-128 emulated ranks.

Two measurements (method, figures and the projection to 1024 ranks: docs/mpi.md):

* **start-up**: ``mpiexec -n 3 python -m src.master`` on a one-generation search of a tiny
  population; every rank reports at exit its CPU seconds and peak resident memory
  (``getrusage``). The work in it is a few short rollouts, so a worker's figure is its
  start-up: interpreter, imports, MPI, building and warming up the task.
* **emulated scale**: ``mpiexec -n K`` with K up to 128 on this 2-core machine, running the
  real root (breeding, ranking, dispatch) against workers whose rollouts *sleep* for measured
  biped or MNIST episode durations (:mod:`src.bench.costmodel`); a sleeping rank costs no
  CPU. ``WANN_CORES_PER_NODE=K`` lets every worker hold work at once, as on K cores. A
  cost-model rollout reports the microseconds it slept as its environment steps, so a
  generation's work is known exactly and ``efficiency = (work / (K - 1)) / measured time``
  (K - 1 workers: at K > 4 the root only dispatches). Measured time: from the first
  generation's progress line to the last's (generation 0 holds the start-up). Champion
  re-evaluations are off (``champion_reps = 0``): their memo makes a generation's reported
  steps differ from the work done; with them on, the wall time is reported beside. Beside
  the efficiency: the workers' CPU per work item (from each worker's first item to its stop,
  :data:`src.parallel.mpi_executor.served`), which on 2 cores decides how many ranks fit.

``python -m src.bench scale`` runs both (``--quick``: fewer generations, 64 ranks only).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MPIEXEC = Path(sys.executable).parent / "mpiexec"

#: Run src.master as ``python -m`` would, and report this rank's CPU seconds and peak RSS,
#: and a worker's totals (:data:`src.parallel.mpi_executor.served`).
_REPORTING = (
    "import atexit, os, resource, runpy, sys\n"
    "def report():\n"
    "    u = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    rank = os.environ.get('PMI_RANK', '0')\n"
    "    sys.stderr.write(f'rusage {rank} {u.ru_utime + u.ru_stime:.3f} {u.ru_maxrss}\\n')\n"
    "    ex = sys.modules.get('src.parallel.mpi_executor')\n"
    "    if ex is not None and ex.served['items']:\n"
    "        s = ex.served\n"
    "        sys.stderr.write(f\"served {rank} {s['items']} {s['empty_polls']} {s['cpu']:.4f} \"\n"
    "                         f\"{s['item_cpu']:.4f}\\n\")\n"
    "    sys.stderr.flush()\n"
    "atexit.register(report)\n"
    "sys.argv = ['src.master', *sys.argv[1:]]\n"
    "runpy.run_module('src.master', run_name='__main__', alter_sys=True)\n"
)


def rank_usage(
    n_ranks: int, args: list[str], root: Path = ROOT, env: dict[str, str] | None = None
) -> dict[int, tuple[float, float]]:
    """``mpiexec -n n_ranks`` src.master with ``args``: {rank: (CPU s, peak RSS MB)}."""
    with tempfile.TemporaryDirectory(prefix="wann-bench-scale-") as tmp:
        cmd = [str(MPIEXEC), "-n", str(n_ranks), sys.executable, "-c", _REPORTING, *args]
        cmd += ["--out", f"{tmp}/run", "--quiet"]
        proc = subprocess.run(
            cmd,
            cwd=root,
            env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root), **(env or {})},
            capture_output=True,
            text=True,
            timeout=600,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{proc.stderr}")
    found = re.findall(r"rusage (\d+) ([0-9.]+) (\d+)", proc.stderr)
    return {int(r): (float(cpu), int(kb) / 1024) for r, cpu, kb in found}


#: A one-generation search of 4 genomes, one rep, short episodes: almost all start-up.
TINY = ["--pop-size", "4", "--generations", "1", "--set", "n_reps=1"]
TINY_SETS = {
    "swingup": ["--set", "episode_steps=20", "--set", "champion_reps=0"],
    "biped": ["--set", "episode_steps=20", "--set", "champion_reps=0"],
    "mnist256": ["--set", "champion_reps=0"],
    "src.bench.costmodel:biped": ["--set", "champion_reps=0"],
}


#: The biped's kernels both ways: numba's JIT (``WANN_AOT_KERNELS=0``) and ahead of time.
KERNELS = (({"WANN_AOT_KERNELS": "0"}, "JIT kernels"), ({}, "AOT kernels"))


def startup(tasks: tuple[str, ...] = tuple(TINY_SETS), root: Path = ROOT, runs: int = 3) -> None:
    """Each task's start-up, the minimum over ``runs`` launches; biped with its kernels from
    numba's JIT and compiled ahead of time (built first: ``python -m src.tasks.kernels``)."""
    from ..tasks import kernels

    kernels.build()
    print(
        f"\n### start-up of a rank: CPU s and peak RSS, mpiexec -n 3, a 4-genome generation, "
        f"min of {runs}"
    )
    print("| task | root CPU s | worker CPU s (mean of 2) | root MB | worker MB |")
    print("|---|---|---|---|---|")
    cases = [(t, {}, "") for t in tasks if t != "biped"]
    if "biped" in tasks:
        cases[:0] = [("biped", env, f" ({label})") for env, label in KERNELS]
    for task, env, label in cases:
        args = ["--task", task, "--seed", "1", *TINY, *TINY_SETS[task]]
        found = [rank_usage(3, args, root, env) for _ in range(runs)]
        root_cpu, root_mb = min(u[0][0] for u in found), min(u[0][1] for u in found)
        cpu = min((u[1][0] + u[2][0]) / 2 for u in found)
        mb = min((u[1][1] + u[2][1]) / 2 for u in found)
        print(f"| {task}{label} | {root_cpu:.2f} | {cpu:.2f} | {root_mb:.0f} | {mb:.0f} |")
        sys.stdout.flush()


def emulate(
    profile: str,
    n_ranks: int,
    pop: int,
    generations: int,
    extra: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> dict[str, float]:
    """One emulated search; returns work s, measured s, ideal s and efficiency (gens 1..G-1),
    and the workers' CPU per work item (:func:`worker_costs`, every generation).

    ``extra``: more command-line arguments (``--set split_rollouts=2``); ``env``: more
    environment (``WANN_COSTMODEL_SCALE``).
    """
    with tempfile.TemporaryDirectory(prefix="wann-bench-scale-") as tmp:
        cmd = [str(MPIEXEC), "-n", str(n_ranks), sys.executable, "-c", _REPORTING]
        cmd += ["--task", f"src.bench.costmodel:{profile}", "--seed", "1"]
        cmd += ["--pop-size", str(pop), "--generations", str(generations)]
        cmd += ["--set", "champion_reps=0", *extra, "--out", f"{tmp}/run"]
        if profile == "biped":
            cmd += ["--config", str(ROOT / "src" / "configs" / "biped.toml")]
        else:
            cmd += ["--config", str(ROOT / "src" / "configs" / "mnist256.toml")]
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "WANN_CORES_PER_NODE": str(n_ranks),
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        }
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        times = []
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("gen "):
                times.append(time.perf_counter())
        err = proc.stderr.read() if proc.stderr else ""
        if proc.wait() != 0 or len(times) != generations:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
        lines = (Path(tmp) / "run" / "stats.csv").read_text().splitlines()
    head = lines[0].split(",")
    rows = [dict(zip(head, map(float, line.split(",")))) for line in lines[1:]]
    work = sum(r["env_steps"] for r in rows[1:]) / 1e6
    measured = times[-1] - times[0]
    ideal = work / (n_ranks - 1)
    usage = {int(r): float(c) for r, c, _ in re.findall(r"rusage (\d+) ([0-9.]+) (\d+)", err)}
    return {
        "work": work,
        "measured": measured,
        "ideal": ideal,
        "efficiency": ideal / measured,
        "root_cpu": usage.get(0, float("nan")),
        "workers_cpu": sum(c for r, c in usage.items() if r),
        "wall": time.perf_counter() - started,
        **worker_costs(err),
    }


def worker_costs(stderr: str) -> dict[str, float]:
    """The workers' totals (``served`` lines of :data:`_REPORTING`) per work item.

    ``items``: work items run; ``item_cpu_ms``: a worker's CPU per item from its first item
    to the stop (start-up excluded; idle polls between generations included);
    ``fn_cpu_ms``: of which in the item's function (building the task, compiling the
    network, the rollouts); ``polls``: probes that found nothing, per item.
    """
    found = re.findall(r"served (\d+) (\d+) (\d+) ([0-9.]+) ([0-9.]+)", stderr)
    items = sum(int(f[1]) for f in found)
    per = 1e3 / max(1, items)
    return {
        "items": items,
        "item_cpu_ms": sum(float(f[3]) for f in found) * per,
        "fn_cpu_ms": sum(float(f[4]) for f in found) * per,
        "polls": sum(int(f[2]) for f in found) / max(1, items),
    }


def emulated(quick: bool) -> None:
    gens = 3 if quick else 4
    cases = [("biped", 480, 64), ("biped", 480, 128), ("mnist", 960, 64), ("mnist", 960, 128)]
    if quick:
        cases = [c for c in cases if c[2] == 64]
    print(f"\n### emulated ranks (sleeping cost-model workers), generations 1..{gens - 1}")
    print(
        "| costs | pop | ranks | work s/gen | ideal s/gen | measured s/gen | efficiency | "
        "root CPU s (whole run) | workers' CPU s (whole run) | items | "
        "worker CPU ms/item (in fn) | empty polls/item |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for profile, pop, ranks in cases:
        r = emulate(profile, ranks, pop, gens)
        n = gens - 1
        print(
            f"| {profile} | {pop} | {ranks} | {r['work'] / n:.1f} | {r['ideal'] / n:.3f} | "
            f"{r['measured'] / n:.3f} | {r['efficiency']:.2f} | {r['root_cpu']:.1f} | "
            f"{r['workers_cpu']:.1f} | {r['items']} | {r['item_cpu_ms']:.2f} "
            f"({r['fn_cpu_ms']:.2f}) | {r['polls']:.1f} |"
        )
        sys.stdout.flush()


def run(quick: bool = False) -> None:
    startup()
    emulated(quick)
