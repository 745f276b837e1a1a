"""Results as files: ``table.csv``, ``sweep.csv``, ``tuned_weights.json`` and ``report.md``.

``table.csv`` (long form, one row per cell, ours and the paper's)::

    source,task,network,condition,mean,sd,n,shared_weight

``source`` is ``this run`` or ``paper``; ``condition`` one of random_weights, random_shared,
tuned_shared, tuned_weights (MNIST: weight_<w>, ensemble, random_shared, tuned_shared,
trained_weights; values are test accuracies in percent); ``shared_weight`` the weight used
(tuned_shared: the tuned one; tuned_weights: the weight training started from), empty where
none applies.

``sweep.csv``: ``network,shared_weight,mean,sd,n,failed`` (MNIST: ``network,shared_weight,
selection_accuracy,test_accuracy``).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .classify import MnistResult
from .control import CONDITIONS, TITLES, NetworkResult

#: The paper's table (Gaier & Ha 2019, table 1, https://arxiv.org/abs/1906.04358): (mean, sd)
#: per condition.
PAPER: dict[str, dict[str, tuple[tuple[float, float], ...]]] = {
    "swingup": {
        "wann": ((57, 121), (515, 58), (723, 16), (932, 6)),
        "fixed": ((21, 43), (7, 2), (8, 1), (918, 7)),
    },
    "biped": {
        "wann": ((-46, 54), (51, 108), (261, 58), (332, 1)),
        "fixed": ((-129, 28), (-107, 12), (-35, 23), (347, 1)),
    },
    "carracing": {
        "wann": ((-69, 31), (375, 177), (608, 161), (893, 74)),
        "fixed": ((-82, 13), (-85, 27), (-37, 36), (906, 21)),
    },
}
#: The paper's MNIST test accuracies (percent; random weight as mean, sd).
PAPER_MNIST = {
    "random_shared": (82.0, 18.7),
    "ensemble": (91.6, math.nan),
    "tuned_shared": (91.9, math.nan),
    "trained_weights": (94.2, math.nan),
}
TABLE_COLUMNS = ("source", "task", "network", "condition", "mean", "sd", "n", "shared_weight")


def write_text(path: Path, text: str) -> None:
    """Write a file atomically (temporary name, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _csv(path: Path, header: Sequence[str], rows: list[Sequence[object]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if _is_nan(v) else _num(v) for v in row])
    os.replace(tmp, path)


def _is_nan(v: object) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _num(v: object) -> object:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return v


def fmt(mean: float, sd: float, digits: int = 0) -> str:
    """``mean +- sd`` for a Markdown cell."""
    if math.isnan(mean):
        return "n/a"
    if math.isnan(sd):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


# ----- control tasks ---------------------------------------------------------------------------


def control_files(task: str, results: list[NetworkResult], out: Path) -> None:
    """``table.csv``, ``sweep.csv`` and ``tuned_weights.json`` of a control task."""
    rows: list[Sequence[object]] = []
    for r in results:
        for c in CONDITIONS:
            s = r.stats[c]
            w = {"tuned_shared": r.w_tuned, "tuned_weights": r.tune_from}.get(c, math.nan)
            rows.append(["this run", task, r.key, c, s.mean, s.sd, s.n, w])
    for network, cells in PAPER.get(task, {}).items():
        for c, (mean, sd) in zip(CONDITIONS, cells):
            rows.append(["paper", task, network, c, float(mean), float(sd), 100, math.nan])
    _csv(out / "table.csv", TABLE_COLUMNS, rows)
    sweep_rows = [
        [r.key, float(w), s.mean, s.sd, s.n, s.failed]
        for r in results
        for w, s in zip(r.sweep_weights, r.sweep)
    ]
    _csv(out / "sweep.csv", ("network", "shared_weight", "mean", "sd", "n", "failed"), sweep_rows)
    write_text(
        out / "tuned_weights.json",
        json.dumps(
            {r.key: tuned_weights(r.net, r.w_tuned, r.tuned, r.tune_from) for r in results},
            indent=1,
        ),
    )


def tuned_weights(
    net: object, w_tuned: float, tuned: np.ndarray, tune_from: float | None = None
) -> dict[str, object]:
    """The trained weight of every used connection, by source and destination node id."""
    g = net.genome  # type: ignore[attr-defined]
    return {
        "tuned_shared_weight": w_tuned,
        "trained_from": w_tuned if tune_from is None else tune_from,
        "connections": [
            {
                "source": int(g.conn_src[c]),
                "destination": int(g.conn_dst[c]),
                "innovation": int(g.conn_innov[c]),
                "weight": float(w),
            }
            for c, w in zip(net.conns, tuned)  # type: ignore[attr-defined]
        ],
    }


def control_table(task: str, results: list[NetworkResult]) -> str:
    """The Markdown table: ours next to the paper's, per network."""
    head = "| network | " + " | ".join(TITLES[c] for c in CONDITIONS) + " |"
    lines = [head, "|---" * (len(CONDITIONS) + 1) + "|"]
    names = {"wann": "WANN", "fixed": "fixed topology"}
    for r in results:
        cells = []
        for c in CONDITIONS:
            s = r.stats[c]
            cell = fmt(s.mean, s.sd)
            if c == "tuned_shared":
                cell += f" (w = {r.w_tuned:+.2f})"
            if c == "tuned_weights" and r.tune_from != r.w_tuned:
                cell += f" (trained from {r.tune_from:g})"
            if s.failed:
                cell += f" ({s.failed} failed)"
            cells.append(cell)
        lines.append(
            f"| {task} {names.get(r.key, r.key)}: **this run** | " + " | ".join(cells) + " |"
        )
        paper = PAPER.get(task, {}).get(r.key)
        if paper:
            cells = [fmt(float(m), float(s)) for m, s in paper]
            lines.append(f"| {task} {names.get(r.key, r.key)}: paper | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----- MNIST ------------------------------------------------------------------------------------


def mnist_rows(r: MnistResult) -> list[tuple[str, float, float, int, float]]:
    """(condition, mean %, sd %, n, shared weight) rows of the MNIST table."""
    rows = [
        (f"weight_{w:g}", 100 * a, math.nan, 1, float(w))
        for w, a in zip(r.search_weights, r.per_weight)
    ]
    rows += [
        ("ensemble", 100 * r.ensemble, math.nan, 1, math.nan),
        (
            "random_shared",
            100 * r.random_shared.mean,
            100 * r.random_shared.sd,
            r.random_shared.n,
            math.nan,
        ),
        ("tuned_shared", 100 * r.tuned_shared, math.nan, 1, r.w_tuned),
        ("trained_weights", 100 * r.trained, math.nan, 1, r.w_tuned),
    ]
    return rows


def mnist_files(r: MnistResult, out: Path) -> None:
    """``table.csv``, ``sweep.csv``, ``tuned_weights.json`` and ``confusion.csv`` (a row per
    matrix cell: ``weight`` (a weight of the series or ``ensemble``), ``true``,
    ``predicted``, ``count``) of an MNIST report."""
    rows: list[Sequence[object]] = [
        ["this run", "mnist256", "wann", c, m, s, n, w] for c, m, s, n, w in mnist_rows(r)
    ]
    rows += [
        ["paper", "mnist256", "wann", c, m, s, math.nan, math.nan]
        for c, (m, s) in PAPER_MNIST.items()
    ]
    _csv(out / "table.csv", TABLE_COLUMNS, rows)
    _csv(
        out / "sweep.csv",
        ("network", "shared_weight", "selection_accuracy", "test_accuracy"),
        [
            ["wann", float(w), 100 * float(a), 100 * float(t)]
            for w, a, t in zip(r.sweep_weights, r.sweep_selection, r.sweep_test)
        ],
    )
    write_text(
        out / "tuned_weights.json",
        json.dumps({"wann": tuned_weights(r.net, r.w_tuned, r.tuned)}, indent=1),
    )
    names = [f"{w:g}" for w in r.search_weights] + ["ensemble"]
    _csv(
        out / "confusion.csv",
        ("weight", "true", "predicted", "count"),
        [
            [name, t, p, int(m[t, p])]
            for name, m in zip(names, r.confusion)
            for t in range(m.shape[0])
            for p in range(m.shape[1])
        ],
    )


def mnist_table(r: MnistResult) -> str:
    """Markdown table of test accuracies, ours and the paper's."""
    lines = ["| | this run | paper |", "|---|---|---|"]
    for w, a in zip(r.search_weights, r.per_weight):
        lines.append(f"| shared weight {w:+g} | {100 * a:.1f} % | |")
    rs = r.random_shared
    paper = PAPER_MNIST
    lines += [
        f"| random shared weight ({rs.n} draws) | {fmt(100 * rs.mean, 100 * rs.sd, 1)} % "
        f"| {fmt(*paper['random_shared'], 1)} % |",
        f"| ensemble of the {len(r.search_weights)} weights | {100 * r.ensemble:.1f} % "
        f"| {paper['ensemble'][0]:.1f} % |",
        f"| tuned shared weight (w = {r.w_tuned:+.2f}) | {100 * r.tuned_shared:.1f} % "
        f"| {paper['tuned_shared'][0]:.1f} % |",
        f"| trained weights | {100 * r.trained:.1f} % | {paper['trained_weights'][0]:.1f} % |",
    ]
    return "\n".join(lines)
