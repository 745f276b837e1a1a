"""PEPG: parameter-exploring policy gradients, the optimiser of the paper's "tuned weights".

Sehnke, Osendorfer, Rueckstiess, Graves, Peters & Schmidhuber, "Parameter-exploring policy
gradients", Neural Networks 23(4):551-559, 2010 (PGPE, here called PEPG as in Gaier & Ha 2019
and the ``estool`` code they used). A search distribution N(mu, diag(sigma^2)) over parameter
vectors is improved from returns alone:

* ask: ``popsize / 2`` perturbations ``eps ~ N(0, sigma^2)``, evaluated in symmetric pairs
  ``mu + eps`` and ``mu - eps`` (symmetric sampling, Sehnke et al. section 2.4);
* fitness shaping: returns are replaced by their centred ranks in [-0.5, 0.5] (robust to
  outliers and to the scale of the returns; ``rank_fitness = False`` uses the returns
  divided by their standard deviation instead);
* mean: the symmetric estimate ``g_mu = sum_i eps_i (f(mu + eps_i) - f(mu - eps_i)) / popsize``
  drives an Adam step (Kingma & Ba 2015) of size ``learning_rate`` uphill;
* spread: ``g_sigma = sum_i (eps_i^2 - sigma^2) / sigma * (mean pair fitness - baseline)``,
  baseline = mean fitness of the population, applied with rate ``sigma_alpha``; each step
  changes sigma by at most ``sigma_max_change`` of itself and never below ``sigma_min``.

Pure numpy. Hyperparameters (:class:`PEPGConfig`) and state (:class:`PEPGState`) are separate
immutable dataclasses; :func:`ask` takes its ``numpy.random.Generator`` explicitly and
:func:`tell` is deterministic, so a run is a pure function of (config, x0, generator seed,
fitness), and :func:`state_to_arrays` / :func:`state_from_arrays` plus the generator's
``bit_generator.state`` are all a checkpoint needs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .ordered import weighted_sum

__all__ = [
    "PEPGConfig",
    "PEPGState",
    "ask",
    "centred_ranks",
    "init",
    "state_from_arrays",
    "state_to_arrays",
    "tell",
]


@dataclass(frozen=True)
class PEPGConfig:
    """Hyperparameters of PEPG.

    Attributes:
        popsize: candidates per generation; even (``popsize / 2`` symmetric pairs), >= 2.
        sigma_init: initial standard deviation of every parameter.
        sigma_alpha: learning rate of sigma (0 keeps sigma fixed).
        sigma_max_change: largest relative change of sigma in one generation.
        sigma_min: lower bound of sigma.
        learning_rate: Adam step size for mu.
        beta1: Adam decay of the first moment.
        beta2: Adam decay of the second moment.
        adam_epsilon: Adam's denominator guard.
        weight_decay: L2 pull of mu towards 0 added to the gradient (0: none).
        rank_fitness: shape returns to centred ranks (else divide by their standard deviation).
    """

    popsize: int = 64
    sigma_init: float = 0.1
    sigma_alpha: float = 0.2
    sigma_max_change: float = 0.2
    sigma_min: float = 1e-3
    learning_rate: float = 0.05
    beta1: float = 0.9
    beta2: float = 0.999
    adam_epsilon: float = 1e-8
    weight_decay: float = 0.0
    rank_fitness: bool = True

    def __post_init__(self) -> None:
        if self.popsize < 2 or self.popsize % 2:
            raise ValueError(f"popsize must be even and >= 2, got {self.popsize}")
        if self.sigma_init <= 0 or self.sigma_min <= 0:
            raise ValueError("sigma_init and sigma_min must be > 0")


@dataclass(frozen=True)
class PEPGState:
    """Where the search distribution stands.

    Attributes:
        mu: (n,) mean of the search distribution: the current solution.
        sigma: (n,) standard deviation per parameter.
        adam_m: (n,) Adam first moment of the mean's gradient.
        adam_v: (n,) Adam second moment.
        generation: generations told so far.
        best_x: (n,) best candidate seen (its fitness is a noisy estimate when rollouts are).
        best_fitness: fitness of ``best_x`` (-inf before the first generation).
    """

    mu: np.ndarray
    sigma: np.ndarray
    adam_m: np.ndarray
    adam_v: np.ndarray
    generation: int
    best_x: np.ndarray
    best_fitness: float


def init(x0: np.ndarray, config: PEPGConfig) -> PEPGState:
    """The state before the first generation: mean ``x0`` (n,), sigma ``sigma_init``."""
    mu = np.array(x0, dtype=np.float64).reshape(-1)
    n = len(mu)
    return PEPGState(
        mu=mu,
        sigma=np.full(n, config.sigma_init),
        adam_m=np.zeros(n),
        adam_v=np.zeros(n),
        generation=0,
        best_x=mu.copy(),
        best_fitness=-np.inf,
    )


def ask(state: PEPGState, config: PEPGConfig, rng: np.random.Generator) -> np.ndarray:
    """Candidates of one generation.

    Returns:
        (popsize, n) float64: rows ``0 .. popsize/2 - 1`` are ``mu + eps``, the rest
        ``mu - eps`` in the same order.
    """
    half = config.popsize // 2
    eps = rng.standard_normal((half, len(state.mu))) * state.sigma
    return np.concatenate([state.mu + eps, state.mu - eps])


def centred_ranks(fitness: np.ndarray) -> np.ndarray:
    """Ranks scaled to [-0.5, 0.5] (best 0.5); ties broken by position; -inf ranks last."""
    f = np.asarray(fitness, dtype=np.float64)
    ranks = np.empty(len(f))
    ranks[np.argsort(f, kind="stable")] = np.arange(len(f))
    return ranks / max(len(f) - 1, 1) - 0.5


def _shaped(fitness: np.ndarray, rank_fitness: bool) -> np.ndarray:
    if rank_fitness:
        return centred_ranks(fitness)
    f = np.asarray(fitness, dtype=np.float64).copy()
    bad = ~np.isfinite(f)
    if bad.all():
        return np.zeros_like(f)
    f[bad] = f[~bad].min()
    sd = f.std()
    return (f - f.mean()) / (sd if sd > 0 else 1.0)


def tell(
    state: PEPGState, config: PEPGConfig, solutions: np.ndarray, fitness: np.ndarray
) -> PEPGState:
    """Update the distribution from the fitness of the candidates of :func:`ask`.

    Args:
        state: the state ``solutions`` were drawn from.
        config: the hyperparameters used by :func:`ask`.
        solutions: (popsize, n) from :func:`ask`.
        fitness: (popsize,) larger is better; ``-inf`` (a failed rollout) ranks last.

    Returns:
        The next state (``generation + 1``).
    """
    solutions = np.asarray(solutions, dtype=np.float64)
    fitness = np.asarray(fitness, dtype=np.float64)
    half = config.popsize // 2
    if solutions.shape != (config.popsize, len(state.mu)) or fitness.shape != (config.popsize,):
        raise ValueError(
            f"expected solutions ({config.popsize}, {len(state.mu)}) and fitness "
            f"({config.popsize},), got {solutions.shape} and {fitness.shape}"
        )
    best = int(np.argmax(fitness))
    best_x, best_fitness = state.best_x, state.best_fitness
    if fitness[best] > best_fitness:
        best_x, best_fitness = solutions[best].copy(), float(fitness[best])

    eps = solutions[:half] - state.mu
    f = _shaped(fitness, config.rank_fitness)
    f_plus, f_minus = f[:half], f[half:]
    grad_mu = weighted_sum(f_plus - f_minus, eps) / config.popsize
    if config.weight_decay:
        grad_mu = grad_mu - config.weight_decay * state.mu
    t = state.generation + 1
    m = config.beta1 * state.adam_m + (1 - config.beta1) * grad_mu
    v = config.beta2 * state.adam_v + (1 - config.beta2) * grad_mu * grad_mu
    step = config.learning_rate * np.sqrt(1 - config.beta2**t) / (1 - config.beta1**t)
    mu = state.mu + step * m / (np.sqrt(v) + config.adam_epsilon)

    sigma = state.sigma
    if config.sigma_alpha > 0:
        s = (eps * eps - sigma * sigma) / sigma
        pair_mean = (f_plus + f_minus) / 2 - f.mean()
        grad_sigma = weighted_sum(pair_mean, s) / config.popsize
        change = np.clip(
            config.sigma_alpha * grad_sigma,
            -config.sigma_max_change * sigma,
            config.sigma_max_change * sigma,
        )
        sigma = np.maximum(sigma + change, config.sigma_min)
    return replace(
        state,
        mu=mu,
        sigma=sigma,
        adam_m=m,
        adam_v=v,
        generation=t,
        best_x=best_x,
        best_fitness=best_fitness,
    )


def state_to_arrays(state: PEPGState) -> dict[str, np.ndarray]:
    """The state as named numpy arrays (for ``numpy.savez``)."""
    return {
        "mu": state.mu,
        "sigma": state.sigma,
        "adam_m": state.adam_m,
        "adam_v": state.adam_v,
        "generation": np.int64(state.generation),
        "best_x": state.best_x,
        "best_fitness": np.float64(state.best_fitness),
    }


def state_from_arrays(arrays: dict[str, np.ndarray]) -> PEPGState:
    """Inverse of :func:`state_to_arrays`."""
    return PEPGState(
        mu=np.array(arrays["mu"], dtype=np.float64),
        sigma=np.array(arrays["sigma"], dtype=np.float64),
        adam_m=np.array(arrays["adam_m"], dtype=np.float64),
        adam_v=np.array(arrays["adam_v"], dtype=np.float64),
        generation=int(arrays["generation"]),
        best_x=np.array(arrays["best_x"], dtype=np.float64),
        best_fitness=float(arrays["best_fitness"]),
    )
