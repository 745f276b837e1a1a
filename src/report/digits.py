"""MNIST pictures: which pixels drive each digit, and the confusion matrices.

* :func:`subnetworks`: for each output (digit) d, the sub-network that drives it: the nodes
  and connections found by tracing the connections backwards from output d, and the input
  pixels among them (a 16x16 mask).
* :func:`draw_masks`: ten small panels, digit d's mask over the mean test image of d.
* :func:`draw_confusion`: one confusion matrix per shared weight and one for the ensemble,
  each row (true digit) as fractions of that digit's images, accuracy in the title.

PNG, SVG and PDF (matplotlib).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ..core.genome import HIDDEN
from .episodes import Net
from .netdraw import DPI, FORMATS


@dataclass(frozen=True)
class Subnetwork:
    """What drives one output: ``pixels`` (n_inputs,) bool, the inputs it reads through any
    path; ``hidden`` the hidden nodes on those paths; ``connections`` their number."""

    pixels: np.ndarray
    hidden: int
    connections: int


def subnetworks(net: Net) -> list[Subnetwork]:
    """One :class:`Subnetwork` per output, in output order (traced backwards)."""
    plan = net.plan
    preds: dict[int, np.ndarray] = {
        int(v): plan.indices[plan.indptr[i] : plan.indptr[i + 1]]
        for i, v in enumerate(plan.order.tolist())
    }
    kinds = net.genome.node_kind
    out = []
    for o in plan.output_slots.tolist():
        seen = {o}
        stack = [o]
        edges = 0
        while stack:
            v = stack.pop()
            src = preds.get(v, np.zeros(0, np.int64))
            edges += len(src)
            for s in src.tolist():
                if s not in seen:
                    seen.add(s)
                    stack.append(s)
        pixels = np.zeros(plan.n_inputs, dtype=bool)
        pixels[[s - 1 for s in seen if 1 <= s <= plan.n_inputs]] = True
        hidden = sum(1 for s in seen if kinds[s] == HIDDEN)
        out.append(Subnetwork(pixels, hidden, edges))
    return out


def _save(fig: plt.Figure, stem: Path, formats: Sequence[str]) -> dict[str, Path]:
    paths = {}
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        fig.savefig(path, dpi=DPI, format=fmt)
        paths[fmt] = path
    plt.close(fig)
    return paths


def draw_masks(
    subs: Sequence[Subnetwork],
    stem: Path,
    mean_images: np.ndarray | None = None,
    title: str = "",
    formats: Sequence[str] = FORMATS,
) -> dict[str, Path]:
    """Ten panels: the pixels each digit's output reads (red) over the mean image of that
    digit (grey, if ``mean_images`` (10, 256) is given)."""
    side = int(round(np.sqrt(len(subs[0].pixels))))
    fig, axes = plt.subplots(2, (len(subs) + 1) // 2, figsize=(1.7 * ((len(subs) + 1) // 2), 4.8))
    for d, (ax, sub) in enumerate(zip(axes.flat, subs)):
        rgb = np.ones((side, side, 3))
        if mean_images is not None:
            grey = 1.0 - 0.6 * mean_images[d].reshape(side, side) / max(mean_images[d].max(), 1e-9)
            rgb *= grey[..., None]
        mask = sub.pixels.reshape(side, side)
        rgb[mask] = 0.35 * rgb[mask] + 0.65 * np.array([0.85, 0.1, 0.1])  # the digit shows
        ax.imshow(rgb, interpolation="nearest")
        ax.set_title(
            f"{d}: {int(mask.sum())} px\n{sub.hidden} hidden, {sub.connections} conn.", fontsize=8
        )
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(subs) :]:
        ax.set_axis_off()
    fig.suptitle(title or "pixels each digit's output reads (red), over its mean", fontsize=10)
    fig.tight_layout()
    return _save(fig, stem, formats)


def draw_confusion(
    matrices: np.ndarray,
    labels: Sequence[str],
    stem: Path,
    n_images: int,
    formats: Sequence[str] = FORMATS,
) -> dict[str, Path]:
    """(k, 10, 10) counts (true by row, predicted by column) as k heat maps of row fractions,
    each titled with its accuracy (trace over ``n_images``, the images classified)."""
    k = len(matrices)
    cols = min(k, 4)
    rows = -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.1 * rows), squeeze=False)
    for ax, m, label in zip(axes.flat, matrices, labels):
        per_row = m.sum(axis=1, keepdims=True)
        frac = m / np.maximum(per_row, 1)
        ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
        ax.set_title(f"{label}: {100 * np.trace(m) / max(n_images, 1):.1f} %", fontsize=9)
        ax.set_xticks(range(10))
        ax.set_yticks(range(10))
        ax.tick_params(labelsize=6)
        ax.set_xlabel("predicted", fontsize=7)
        ax.set_ylabel("true", fontsize=7)
    for ax in list(axes.flat)[k:]:
        ax.set_axis_off()
    fig.tight_layout()
    return _save(fig, stem, formats)
