"""The paper's MNIST columns: test accuracy per shared weight, ensemble, tuned, trained.

For an ``mnist256`` network, on all 10,000 test images (argmax of the ten outputs):

* each weight of the search's series (``config.weights``) on its own;
* the ensemble of those weights: the softmax outputs averaged (:func:`src.tasks.mnist.accuracy`);
* random shared weight: mean +- sd over ``episodes`` weights ~ U(-2, 2);
* tuned shared weight: the best ``w*`` of a sweep over [-2, 2], chosen by accuracy on 10,000
  *training* images (a seeded sample), never on the test set;
* trained weights: per-connection offsets added to ``w*``, trained by PEPG on minus the mean
  cross-entropy of ``tune_episodes`` training batches per generation (``task.rollouts``, the
  search's fitness), distributed over the executor like the control tasks;
* confusion matrices on the test set (:func:`confusion`): one per weight of the series and
  one for their ensemble (true digit by row, predicted digit by column).

The accuracy passes run on the root (numpy, a few seconds); only PEPG's populations go
through the executor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from ..core.network import Plan
from ..tasks import make_task
from ..tasks import mnist as mnist_task
from . import tuning
from .control import Budget, Stat, sweep_weights
from .episodes import Net, Runner, episode_seeds, generator
from .progress import Progress

#: Training images the sweep chooses the tuned shared weight on.
SELECTION_IMAGES = 10_000
#: Shared weights evaluated together in one pass (bounds the memory of a pass).
WEIGHTS_PER_PASS = 16


@dataclass(frozen=True)
class MnistResult:
    """Accuracies (fractions) of one network.

    Attributes:
        net: the network.
        search_weights: (6,) the search's weight series.
        per_weight: (6,) test accuracy at each of them.
        ensemble: test accuracy of their averaged softmax.
        random_shared: test accuracy over random shared weights.
        sweep_weights: (s,) weights of the sweep.
        sweep_selection: (s,) accuracy on the training sample the weight is chosen on.
        sweep_test: (s,) test accuracy.
        w_tuned: the chosen weight.
        tuned_shared: test accuracy at ``w_tuned``.
        trained: test accuracy of the trained weights.
        tuned: (n_params,) trained weight per used connection.
        tune: the PEPG run.
        confusion: (len(search_weights) + 1, 10, 10) test-set counts, true digit by row,
            predicted by column: each weight of the series, then the ensemble.
    """

    net: Net
    search_weights: np.ndarray
    per_weight: np.ndarray
    ensemble: float
    random_shared: Stat
    sweep_weights: np.ndarray
    sweep_selection: np.ndarray
    sweep_test: np.ndarray
    w_tuned: float
    tuned_shared: float
    trained: float
    tuned: np.ndarray
    tune: tuning.TuneResult
    confusion: np.ndarray


def predictions(
    plan: Plan,
    x: np.ndarray,
    weights: np.ndarray,
    chunk: int = 500,
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted digits, the argmax of the outputs, as :func:`src.tasks.mnist.accuracy` takes
    them: ((len(weights), n) per weight, -1 where the network gave NaN/inf; (n,) of the
    ensemble, the argmax of the softmaxes averaged over the weights that stayed finite)."""
    weights = np.asarray(weights, dtype=np.float64)
    per_weight, ensemble = [], []
    for a in range(0, len(x), chunk):
        out = mnist_task.forward_shared(plan, x[a : a + chunk], weights)
        finite = np.isfinite(out).all(axis=-1)
        with np.errstate(invalid="ignore", over="ignore"):
            probs = np.exp(mnist_task.log_softmax(np.where(finite[..., None], out, 0.0)))
        per_weight.append(np.where(finite, out.argmax(axis=-1), -1))
        ensemble.append((probs * finite[..., None]).sum(axis=0).argmax(axis=-1))
    if not per_weight:
        return np.zeros((len(weights), 0), np.int64), np.zeros(0, np.int64)
    return np.concatenate(per_weight, axis=1), np.concatenate(ensemble)


def confusion(predicted: np.ndarray, labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """(n_classes, n_classes) counts, true class by row, predicted by column; predictions of
    -1 (a non-finite output) are in no column, so a row sums to the images of its class that
    got a prediction, and the trace over the number of images is the accuracy."""
    predicted = np.asarray(predicted, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    ok = predicted >= 0
    flat = labels[ok] * n_classes + predicted[ok]
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def accuracies(
    net: Net, x: np.ndarray, y: np.ndarray, weights: np.ndarray, progress: Progress | None = None
) -> np.ndarray:
    """(len(weights),) accuracy at each shared weight, a few weights per pass (each pass a
    step of ``progress``, if given)."""
    weights = np.asarray(weights, dtype=np.float64)
    out = []
    for a in range(0, len(weights), WEIGHTS_PER_PASS):
        part = weights[a : a + WEIGHTS_PER_PASS]
        out.append(mnist_task.accuracy(net.plan, x, y, part, chunk=500)[0])
        if progress is not None:
            progress.step(len(part))
    return np.concatenate(out) if out else np.zeros(0)


def analyse_mnist(
    net: Net,
    runner: Runner,
    budget: Budget,
    out_dir: Path,
    log: Callable[[str], None] = print,
    progress: TextIO | None = None,
) -> MnistResult:
    """The MNIST columns for one network (see the module docstring); the sweeps print
    progress lines to ``progress`` (``None``: nowhere)."""
    config, seed = runner.config, budget.seed
    data = make_task(config).data
    test_x, test_y = data.test_x, data.test_y
    search_weights = np.asarray(config.weights, dtype=np.float64)
    with np.errstate(all="ignore"):
        per_weight, ensemble = mnist_task.accuracy(
            net.plan, test_x, test_y, search_weights, chunk=500
        )
        log(
            "mnist: test accuracy per weight "
            + ", ".join(f"{w:g}: {100 * a:.1f} %" for w, a in zip(search_weights, per_weight))
            + f"; ensemble {100 * ensemble:.1f} %"
        )
        random_w = generator(seed, "random_shared", 0).uniform(-2.0, 2.0, budget.episodes)
        random_shared = Stat.of(accuracies(net, test_x, test_y, random_w))
        ws = sweep_weights(budget.sweep)
        n_train = len(data.train_y)
        pick = generator(seed, "sweep").choice(
            n_train, min(SELECTION_IMAGES, n_train), replace=False
        )
        pick.sort()
        sweep = Progress("mnist sweep", 2 * len(ws), progress)
        selection = accuracies(net, data.train_x[pick], data.train_y[pick], ws, sweep)
        sweep_test = accuracies(net, test_x, test_y, ws, sweep)
        per_pred, ensemble_pred = predictions(net.plan, test_x, search_weights)
    matrices = np.stack(
        [confusion(p, test_y) for p in per_pred] + [confusion(ensemble_pred, test_y)]
    )
    best = int(np.argmax(selection))
    w_tuned = float(ws[best])
    log(
        f"mnist: sweep of {len(ws)} shared weights on {len(pick)} training images: "
        f"w* = {w_tuned:+.2f} ({100 * selection[best]:.1f} % there, "
        f"{100 * sweep_test[best]:.1f} % on the test set)"
    )

    def fitness(generation: int, offsets: np.ndarray) -> np.ndarray:
        seeds = episode_seeds(seed, "tune", budget.tune_episodes, generation)
        returns = runner.returns(
            net.genome,
            np.ones(len(offsets)),
            np.tile(seeds, (len(offsets), 1)),
            w_tuned + offsets,
        )
        return returns.mean(axis=1)

    pepg_config = budget.pepg_config()
    key = tuning.fingerprint(
        genome=net.genome.key().hex(),
        w_tuned=w_tuned,
        tune_episodes=budget.tune_episodes,
        seed=seed,
        config=config.to_dict(),
    )
    log(
        f"mnist: training {net.n_params} connection weights with PEPG ({pepg_config.popsize} "
        f"candidates x {budget.tune_episodes} batches of {config.batch_size} images, "
        f"{budget.tune_generations} generations; fitness = minus cross-entropy)"
    )
    tune = tuning.optimise(
        fitness,
        np.zeros(net.n_params),
        pepg_config,
        budget.tune_generations,
        generator(seed, "pepg", 0),
        checkpoint=out_dir / "tune_wann.npz",
        key=key,
        log=log,
        label="mnist PEPG",
    )
    tuned = w_tuned + tune.x
    with np.errstate(all="ignore"):
        trained = mnist_task.accuracy(
            net.plan, test_x, test_y, np.ones(1), net.edge_coef(tuned), chunk=500
        )[0][0]
    log(
        f"mnist: random shared {100 * random_shared.mean:.1f} +- {100 * random_shared.sd:.1f} %, "
        f"tuned shared {100 * sweep_test[best]:.1f} %, trained {100 * trained:.1f} %"
    )
    return MnistResult(
        net=net,
        search_weights=search_weights,
        per_weight=per_weight,
        ensemble=float(ensemble),
        random_shared=random_shared,
        sweep_weights=ws,
        sweep_selection=selection,
        sweep_test=sweep_test,
        w_tuned=w_tuned,
        tuned_shared=float(sweep_test[best]),
        trained=float(trained),
        tuned=tuned,
        tune=tune,
        confusion=matrices,
    )
