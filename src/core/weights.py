"""Shared weights drawn at random for the search's rollouts and the champion's re-scoring.

By default every genome is scored on the fixed series of ``config.weights``; the paper's
"random shared weight" condition instead draws w ~ U(-2, 2) per episode (Gaier & Ha 2019,
https://arxiv.org/abs/1906.04358, Table 1). The two options here bring that condition into
the search (``weight_sampling = 'stratified'``) and into the champion's pick
(``champion_weights = 'uniform'``). Every draw is a pure function of its arguments (the run
seed and a key), so results do not depend on rank count, chunking or resume.
"""

from __future__ import annotations

import numpy as np

#: The range of the random shared weight (the paper's U(-2, 2)).
WEIGHT_RANGE = (-2.0, 2.0)
#: Accepted values of ``weight_sampling``: the search's weights per (weight, rep).
WEIGHT_SAMPLING = ("series", "stratified")
#: Accepted values of ``champion_weights``: the weights champion candidates are re-scored on.
CHAMPION_WEIGHTS = ("series", "uniform")

#: Last entropy word of each draw's seed sequence, so no two kinds of draw share seeds (nor
#: with the rollout seeds, whose entropy is ``[seed, generation]`` or ``[.., stream]``).
_STRATIFIED_TAG, _UNIFORM_TAG = 3, 4


def stratified(seed: int, generation: int, n_bins: int, n_reps: int) -> np.ndarray:
    """(n_bins, n_reps) weights: for each rep, one uniform draw in each of ``n_bins`` equal
    bins of :data:`WEIGHT_RANGE` (row ``b`` = bin ``b``, lowest first).

    Rep ``r``'s draws come from the entropy ``[seed, generation, 3, r]``: the same for every
    genome of a generation (common random numbers), new each generation.
    """
    lo, hi = WEIGHT_RANGE
    out = np.empty((n_bins, n_reps))
    for r in range(n_reps):
        rng = np.random.default_rng(np.random.SeedSequence([seed, generation, _STRATIFIED_TAG, r]))
        out[:, r] = lo + (np.arange(n_bins) + rng.random(n_bins)) * ((hi - lo) / n_bins)
    return out


def uniform(seed: int, generation: int, stream: int, n_weights: int, n_reps: int) -> np.ndarray:
    """(n_weights, n_reps) weights ~ U(:data:`WEIGHT_RANGE`) from the entropy
    ``[seed, generation, stream, 4]`` (the champion's stream uses generation 0 throughout, so
    these are fixed for a whole run)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, generation, stream, _UNIFORM_TAG]))
    return rng.uniform(*WEIGHT_RANGE, (n_weights, n_reps))
