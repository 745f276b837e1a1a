"""Test accuracy of an MNIST-256 genome: ``python -m src.tasks.mnist_accuracy GENOME``.

GENOME is this project's JSON (``RUN/best_genome.json``) or the authors' ``.out`` matrix
(:func:`src.export.read_genome`).

Prints the accuracy (argmax of the ten outputs) on all 10,000 test images for each shared
weight (the six of the search, or those given with ``--weight``) and for the ensemble that
averages the softmax outputs of the six search weights (the paper's ensemble column).
Exit codes: 0 done, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..config import ConfigError, WannConfig
from ..core.network import compile_genome
from ..export import GenomeFileError, read_genome
from . import mnist


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m src.tasks.mnist_accuracy", description=__doc__)
    p.add_argument(
        "genome", help="genome JSON (e.g. RUN/best_genome.json of an mnist256 run) or .out file"
    )
    p.add_argument(
        "--weight",
        type=float,
        action="append",
        help="shared weight to report (repeatable; default: the six search weights)",
    )
    p.add_argument("--data-dir", default="", help="folder with the four MNIST .gz files")
    p.add_argument(
        "--preprocess",
        default="project",
        choices=mnist.PREPROCESSING,
        help="the preprocessing the genome was searched with (config mnist_preprocess)",
    )
    args = p.parse_args(argv)
    try:
        genome = read_genome(args.genome, "mnist256").genome
    except GenomeFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if (genome.n_inputs, genome.n_outputs) != (mnist.Mnist256.n_inputs, 10):
        print(
            f"error: {args.genome!r} has {genome.n_inputs} inputs and {genome.n_outputs} "
            "outputs; an mnist256 genome has 256 and 10",
            file=sys.stderr,
        )
        return 2
    if args.weight and not all(np.isfinite(w) and abs(w) <= 1e6 for w in args.weight):
        print(f"error: --weight must be finite numbers of at most 1e6, got {args.weight}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        data = mnist.load(args.data_dir, args.preprocess)
    except ConfigError as exc:  # the search's advice, in this command's words
        print(f"error: {str(exc).replace('--set data_dir=DIR', '--data-dir DIR')}", file=sys.stderr)
        return 2
    plan = compile_genome(genome)
    search_weights = np.asarray(WannConfig().weights)
    weights = np.asarray(args.weight) if args.weight else search_weights
    per_weight, _ = mnist.accuracy(plan, data.test_x, data.test_y, weights)
    _, ensemble = mnist.accuracy(plan, data.test_x, data.test_y, search_weights)
    print(
        f"{args.genome}: {genome.n_hidden} hidden nodes, {genome.n_connections} connections; "
        f"test accuracy on {len(data.test_y)} images"
    )
    for w, acc in zip(weights, per_weight):
        print(f"  weight {w:+5.2f}: {100 * acc:6.2f} %")
    print(
        f"  ensemble of weights {', '.join(f'{w:g}' for w in search_weights)} "
        f"(mean softmax): {100 * ensemble:6.2f} %"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
