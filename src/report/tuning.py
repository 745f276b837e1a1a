"""Training per-connection weights with PEPG, with progress lines and checkpoint/resume.

The paper's "tuned weights" column: starting from the tuned shared weight ``w*`` on every
connection, PEPG (:mod:`src.core.pepg`, Sehnke et al. 2010) learns an offset per connection,
so connection ``j`` carries ``w* + offset_j`` (the network runs with shared weight 1 and these
as per-edge coefficients). Fitness of a candidate: its mean return over ``episodes`` episodes
whose seeds are drawn anew each generation and shared by the whole population (common random
numbers, as in the search). The population of a generation is evaluated through the executor
(:class:`src.report.episodes.Runner`), so it spreads over MPI workers like the search.

Checkpoint: after every generation the optimiser state (:func:`src.core.pepg.state_to_arrays`),
its generator's state, the progress history and a fingerprint of everything that determines
the run (genome, ``w*``, hyperparameters, seeds, episodes) are written atomically to a ``.npz``
file (temporary file, fsync, ``os.replace``). Rerunning with the same settings resumes from it:
the result equals an uninterrupted run, and a finished file is reused without any rollout; a
larger ``generations`` goes on from where it stopped. A file with another fingerprint (or more
generations than asked for) is ignored and overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..core import pepg
from .progress import Progress, format_left

#: Columns of the progress history kept in the checkpoint (and printed).
HISTORY = ("generation", "best", "mean", "centre", "sigma", "seconds")
FORMAT = "wann-report-pepg-v1"

#: fitness(generation, solutions (k, n)) -> (k,) fitness (larger is better).
Fitness = Callable[[int, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class TuneResult:
    """The outcome of :func:`optimise`.

    Attributes:
        x: (n,) the final mean of the search distribution (the solution used).
        state: the final optimiser state.
        history: (generations, len(HISTORY)) progress rows.
        resumed_from: generation the run resumed from (0: started afresh).
    """

    x: np.ndarray
    state: pepg.PEPGState
    history: np.ndarray
    resumed_from: int


def fingerprint(**parts: object) -> str:
    """A short digest of everything that determines a tuning run (arrays by content)."""
    h = hashlib.blake2b(digest_size=12)
    for name in sorted(parts):
        value = parts[name]
        h.update(name.encode())
        if isinstance(value, np.ndarray):
            h.update(str(value.dtype).encode() + str(value.shape).encode())
            h.update(np.ascontiguousarray(value).tobytes())
        else:
            h.update(json.dumps(value, sort_keys=True, default=str).encode())
        h.update(b"|")
    return h.hexdigest()


def save_checkpoint(
    path: Path,
    state: pepg.PEPGState,
    rng: np.random.Generator,
    history: list[list[float]],
    key: str,
) -> None:
    """Write the tuning state atomically to ``path`` (a ``.npz`` file)."""
    arrays = pepg.state_to_arrays(state)
    arrays["format"] = np.array(FORMAT)
    arrays["fingerprint"] = np.array(key)
    arrays["rng_state"] = np.array(json.dumps(rng.bit_generator.state))
    arrays["history"] = np.asarray(history, dtype=np.float64).reshape(-1, len(HISTORY))
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(
    path: Path, key: str, n: int | None = None
) -> tuple[pepg.PEPGState, dict, list[list[float]]] | None:
    """(state, generator state, history) from ``path`` if it exists, matches ``key`` and (with
    ``n``) holds ``n`` parameters; ``None`` for anything else, a damaged file included."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["format"]) != FORMAT or str(data["fingerprint"]) != key:
                return None
            state = pepg.state_from_arrays({k: data[k] for k in data.files})
            rng_state = json.loads(str(data["rng_state"]))
            history = data["history"].tolist()
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    vectors = (state.mu, state.sigma, state.adam_m, state.adam_v, state.best_x)
    if n is not None and any(v.shape != (n,) for v in vectors):
        return None
    return state, rng_state, history


def _finite_mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else -np.inf


def optimise(
    fitness: Fitness,
    x0: np.ndarray,
    config: pepg.PEPGConfig,
    generations: int,
    rng: np.random.Generator,
    checkpoint: Path | None = None,
    key: str = "",
    log: Callable[[str], None] = print,
    label: str = "tune",
) -> TuneResult:
    """Run PEPG for ``generations`` generations, resuming from ``checkpoint`` if it matches.

    Each generation evaluates the ``popsize`` candidates and the current mean (the "centre",
    for the progress line only) in one call ``fitness(generation, rows)``.

    Args:
        fitness: ``(generation, (k, n) solutions) -> (k,)`` fitness, larger is better.
        x0: (n,) starting mean.
        config: PEPG hyperparameters.
        generations: total generations of the run (including resumed ones).
        rng: the generator of the perturbations (its state is checkpointed).
        checkpoint: ``.npz`` path to resume from and save to, or ``None``.
        key: fingerprint of the run's settings (:func:`fingerprint`); a checkpoint with another
            key is not resumed.
        log: where progress lines go.
        label: name in the progress lines.
    """
    state = pepg.init(x0, config)
    history: list[list[float]] = []
    full_key = fingerprint(key=key, pepg=asdict(config), x0=np.asarray(x0, dtype=np.float64))
    resumed_from = 0
    if checkpoint is not None:
        loaded = load_checkpoint(checkpoint, full_key, len(x0))
        if loaded is not None and loaded[0].generation <= generations:
            state, rng_state, history = loaded
            rng.bit_generator.state = rng_state
            resumed_from = state.generation
            log(
                f"{label}: resuming from {checkpoint} at generation {state.generation}"
                + (" (finished)" if state.generation == generations else "")
            )
        elif checkpoint.exists():
            log(f"{label}: {checkpoint} holds another tuning run; starting afresh")
    eta = Progress(label, generations - state.generation, stream=None)
    while state.generation < generations:
        start = time.perf_counter()
        solutions = pepg.ask(state, config, rng)
        values = np.asarray(fitness(state.generation, np.vstack([solutions, state.mu])))
        state = pepg.tell(state, config, solutions, values[:-1])
        row = [
            state.generation,
            float(np.max(values[:-1])),
            _finite_mean(values[:-1]),
            float(values[-1]),
            float(np.mean(state.sigma)) if state.sigma.size else 0.0,  # no connection: none
            time.perf_counter() - start,
        ]
        history.append(row)
        eta.step()
        log(
            f"{label} gen {state.generation:4d}/{generations} | best {row[1]:9.2f} "
            f"mean {row[2]:9.2f} centre {row[3]:9.2f} | sigma {row[4]:.3f} | {row[5]:5.2f} s"
            f" | {format_left(eta.left())} left"
        )
        if checkpoint is not None:
            save_checkpoint(checkpoint, state, rng, history, full_key)
    return TuneResult(
        state.mu.copy(), state, np.asarray(history).reshape(-1, len(HISTORY)), resumed_from
    )
