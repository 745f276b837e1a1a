"""``python -m src.report.seeds RUN... [--out DIR]``: several seeds as one result.

A single search is one draw from a noisy process; a method is judged by its distribution over
seeds. This command reads the runs' reports (``RUN/report/table.csv``, written by
``python -m src.report RUN``), their champions (``best_genome.json``) and their curves
(``stats.csv``) and writes into ``--out``:

* ``seeds.md`` and ``seeds.csv``: for every group of runs, each seed's row (every column of
  the paper's table for the WANN, the champion's connections) and the median, the quartiles
  and the worst value (min) of every column;
* ``seeds_curves.png``: best mean reward and median connections over generations, the median
  across seeds of each group with its interquartile band, every seed as a thin line.

Arguments are run folders (one group, named by ``--name``, default "runs") or folders of run
folders (each is a group named after the folder, its runs are its subfolders holding a
``report/table.csv``): ``python -m src.report.seeds runs/ablation/*`` makes one row block per
variant. Every run must be of one task (one table and one picture of curves across all
groups) and appear once (a seed counted twice would move the median silently). Exit codes:
0 done, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..search.files import write_atomically
from .figures import read_stats

EXIT_BAD_INPUT = 2


class SeedsError(ValueError):
    """Bad input: the message names the folder or file."""


@dataclass
class Run:
    """What one run contributes: its table cells, connections and curves."""

    path: Path
    cells: dict[str, float]
    connections: int
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    task: str = ""


@dataclass
class Group:
    name: str
    runs: list[Run]


def _is_run(path: Path) -> bool:
    return (path / "report" / "table.csv").is_file()


def read_run(path: Path) -> Run:
    """Read a run folder whose report has been written."""
    table = path / "report" / "table.csv"
    if not table.is_file():
        raise SeedsError(f"{path}: no report/table.csv; run `python -m src.report {path}` first")
    cells: dict[str, float] = {}
    task = ""
    try:
        with open(table, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row.get("source") == "this run" and row.get("network") == "wann":
                    cells[row["condition"]] = float(row["mean"])
                    task = row.get("task") or task
    except (UnicodeDecodeError, TypeError, ValueError, KeyError) as exc:
        raise SeedsError(f"{table}: not a report's table ({type(exc).__name__}: {exc})") from None
    if not cells:
        raise SeedsError(f"{table}: no rows for this run's WANN")
    try:
        best = json.loads((path / "best_genome.json").read_text())
        conns = int(best["n_connections"])
    except (OSError, ValueError, KeyError) as exc:
        raise SeedsError(f"{path}: unreadable best_genome.json ({exc})") from None
    stats = path / "stats.csv"
    try:
        curves = read_stats(stats) if stats.is_file() else {}
    except ValueError as exc:
        raise SeedsError(str(exc)) from None
    return Run(path, cells, conns, curves, task)


def collect(targets: list[Path], name: str) -> list[Group]:
    """Groups from the command line's folders (see the module docstring)."""
    loose: list[Run] = []
    groups: list[Group] = []
    for target in targets:
        if not target.is_dir():
            raise SeedsError(f"{target}: not a folder")
        if _is_run(target):
            loose.append(read_run(target))
            continue
        members = sorted(p for p in target.iterdir() if p.is_dir() and _is_run(p))
        if not members:
            raise SeedsError(
                f"{target}: neither a run with report/table.csv nor a folder of such runs"
            )
        groups.append(Group(target.name, [read_run(p) for p in members]))
    if loose:
        groups.insert(0, Group(name, loose))
    runs = [r for g in groups for r in g.runs]
    seen: dict[Path, Path] = {}
    for r in runs:  # one seed counted twice would move the median
        where = r.path.resolve()
        if where in seen:
            raise SeedsError(f"{r.path}: the same run as {seen[where]}, given twice")
        seen[where] = r.path
    tasks = {r.task for r in runs if r.task}
    if len(tasks) > 1:
        first = {t: next(r.path for r in runs if r.task == t) for t in sorted(tasks)}
        listed = ", ".join(f"{t} ({p})" for t, p in first.items())
        raise SeedsError(f"runs of different tasks cannot share a table: {listed}")
    return groups


def summary(values: list[float]) -> dict[str, float]:
    """Median, quartiles and worst (min) of a column."""
    v = np.asarray(values, dtype=np.float64)
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return {"median": med, "q1": q1, "q3": q3, "min": v.min(), "max": v.max()}


def columns(groups: list[Group]) -> list[str]:
    """Table conditions in first-seen order, then the champion's connections."""
    cols: list[str] = []
    for g in groups:
        for r in g.runs:
            cols += [c for c in r.cells if c not in cols]
    return cols + ["connections"]


def _value(run: Run, col: str) -> float:
    return float(run.connections) if col == "connections" else run.cells.get(col, np.nan)


def write_tables(groups: list[Group], out: Path) -> str:
    """seeds.csv (one row per run and per statistic) and seeds.md; returns the markdown."""
    cols = columns(groups)
    lines = [
        "| group | run | " + " | ".join(cols) + " |",
        "|---|---|" + "---|" * len(cols),
    ]
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(["group", "row", *cols])
    for g in groups:
        for r in g.runs:
            vals = [_value(r, c) for c in cols]
            writer.writerow([g.name, r.path.name, *(f"{v:.6g}" for v in vals)])
            lines.append(
                f"| {g.name} | {r.path.name} | " + " | ".join(f"{v:.0f}" for v in vals) + " |"
            )
        stats = {c: summary([_value(r, c) for r in g.runs]) for c in cols}
        for key in ("median", "q1", "q3", "min"):
            writer.writerow([g.name, key, *(f"{stats[c][key]:.6g}" for c in cols)])
        lines.append(
            f"| **{g.name}** | **median** [q1, q3] (n={len(g.runs)}) | "
            + " | ".join(
                f"**{stats[c]['median']:.0f}** [{stats[c]['q1']:.0f}, {stats[c]['q3']:.0f}]"
                for c in cols
            )
            + " |"
        )
        lines.append(
            f"| {g.name} | worst (min) | "
            + " | ".join(f"{stats[c]['min']:.0f}" for c in cols)
            + " |"
        )
    text = "\n".join(lines) + "\n"
    # atomic writes: the elements of a seed array may finish together
    write_atomically(out / "seeds.csv", table.getvalue().encode())
    write_atomically(
        out / "seeds.md",
        (
            "# Several seeds as one result\n\nEach run's columns come from its report "
            "(`python -m src.report RUN`); connections are the champion's.\n\n" + text
        ).encode(),
    )
    return text


def plot_curves(groups: list[Group], out: Path) -> Path:
    """Median across seeds with the interquartile band, every seed thin."""
    import matplotlib  # imported here: only this function draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for gi, g in enumerate(groups):
        colour = colours[gi % len(colours)]
        runs = [r for r in g.runs if r.curves]
        if not runs:
            continue
        n = min(len(r.curves["generation"]) for r in runs)
        gen = runs[0].curves["generation"][:n]
        for ax, col in zip(axes, ("best_mean", "median_connections")):
            data = np.stack([r.curves[col][:n] for r in runs])
            for row in data:
                ax.plot(gen, row, color=colour, lw=0.5, alpha=0.35)
            q1, med, q3 = np.percentile(data, [25, 50, 75], axis=0)
            ax.fill_between(gen, q1, q3, color=colour, alpha=0.2)
            ax.plot(gen, med, color=colour, lw=2, label=f"{g.name} (n={len(runs)})")
    axes[0].set_ylabel("best mean reward of the generation")
    axes[1].set_ylabel("median connections")
    axes[1].set_xlabel("generation")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("median across seeds, interquartile band, each seed thin")
    fig.tight_layout()
    path = out / "seeds_curves.png"
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=96)
    plt.close(fig)
    write_atomically(path, png.getvalue())
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m src.report.seeds",
        description="Several runs (seeds) as one result: a table with median, quartiles and "
        "the worst seed, and the curves across seeds.",
    )
    p.add_argument("runs", nargs="+", type=Path, help="run folders, or folders of run folders")
    p.add_argument("--out", type=Path, default=Path("."), help="where to write (default: .)")
    p.add_argument("--name", default="runs", help="group name of loose run folders")
    args = p.parse_args(argv)
    try:
        groups = collect(args.runs, args.name)
        args.out.mkdir(parents=True, exist_ok=True)
    except (SeedsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(write_tables(groups, args.out), end="")
    print(f"wrote {args.out / 'seeds.md'}, seeds.csv, {plot_curves(groups, args.out).name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
