"""The report's plots (PNG, matplotlib's Agg backend, no display needed); the networks are
drawn by :mod:`src.report.netdraw` (Graphviz).

* :func:`learning_curves`: best and median mean reward over generations from ``stats.csv``,
  median connections below.
* :func:`sweep_plot`: return (mean +- sd over episodes) against the shared weight.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

DPI = 96


def read_stats(path: Path) -> dict[str, np.ndarray]:
    """Columns of a run's ``stats.csv`` as float arrays (non-finite values as NaN).

    Raises:
        ValueError: a damaged file (a short row, a value that is no number, not UTF-8),
            naming it and the line.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a stats.csv (not UTF-8: {exc.reason})") from None
    if text and not text.endswith("\n"):  # a row cut short by a kill: a resume drops it too
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    header = reader.fieldnames or []
    out = {}
    for key in header if rows else []:
        try:
            values = np.array([float(r[key]) for r in rows])
        except (TypeError, ValueError):  # a short row gives None, a word ValueError
            line = next(i for i, r in enumerate(rows, 2) if not _is_float(r[key]))
            raise ValueError(
                f"{path}, line {line}: column {key!r} holds {rows[line - 2][key]!r}, not a "
                "number (a damaged stats.csv; --resume rewrites it from the checkpoint)"
            ) from None
        values[~np.isfinite(values)] = np.nan
        out[key] = values
    return out


def _is_float(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def learning_curves(stats: dict[str, np.ndarray], path: Path, title: str = "") -> Path:
    """Best and median mean reward, and median connections, over generations."""
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(7.0, 5.2), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    gen = stats["generation"]
    if "best_max" in stats:
        top.plot(gen, stats["best_max"], color="#bbbbbb", lw=0.8, label="best max reward")
    top.plot(gen, stats["best_mean"], color="#d62728", lw=1.4, label="best mean reward")
    top.plot(gen, stats["median_mean"], color="#1f77b4", lw=1.2, label="median mean reward")
    top.set_ylabel("reward over the weight series")
    top.legend(loc="lower right", fontsize=8)
    top.grid(alpha=0.3)
    bottom.plot(gen, stats["median_connections"], color="#2ca02c", lw=1.2)
    bottom.set_ylabel("median connections")
    bottom.set_xlabel("generation")
    bottom.grid(alpha=0.3)
    if title:
        top.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def sweep_plot(
    curves: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray, float]],
    path: Path,
    ylabel: str = "episode return",
    title: str = "",
    marks: Sequence[float] = (),
) -> Path:
    """Return against shared weight.

    Args:
        curves: per line (label, weights (s,), mean (s,), sd (s,) or NaN for none, chosen w).
        path: where the PNG goes.
        ylabel: what the y axis shows.
        title: figure title.
        marks: weights to mark on the x axis (the search's weight series).
    """
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    colours = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
    for (label, w, mean, sd, best), colour in zip(curves, colours):
        ax.plot(w, mean, color=colour, lw=1.5, label=label)
        if np.isfinite(sd).any():
            ax.fill_between(w, mean - sd, mean + sd, color=colour, alpha=0.15, lw=0)
        if np.isfinite(best):
            j = int(np.argmin(np.abs(w - best)))
            ax.plot([best], [mean[j]], "o", color=colour, ms=6)
            ax.annotate(
                f"w* = {best:+.2f}",
                (best, mean[j]),
                textcoords="offset points",
                xytext=(-62, 6) if best > 1.0 else (6, 6),
                fontsize=8,
                color=colour,
            )
    for m in marks:
        ax.axvline(m, color="#888888", lw=0.6, ls=":", zorder=0)
    ax.set_xlabel("shared weight")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
