"""Resuming a run folder from its newest usable checkpoint (``--resume DIR``).

The config comes from the checkpoint. Flags given with ``--resume`` (``--generations``,
``--set``, ``--config`` ...) are laid over it; a change that would alter results is refused
unless ``force`` (``--force-config``). Keys that never alter results:

* ``generations``: how long to go on (extending a run is the point of resuming);
* ``keep_checkpoints``, ``checkpoint_every``, ``checkpoint_minutes`` (how often the same
  states are saved),
  ``chunk_genomes``, ``split_rollouts``, ``replicated`` and ``resident`` (where and in what
  pieces genomes are evaluated, not their results),
  ``data_dir`` (where the same MNIST files are read from).

What the run resolved beyond its config, its activation pool and the software version
(:mod:`src.search.provenance`), must also be what this code resolves: a difference is refused
the same way (``force`` goes on). A record without them (a run from before they were kept)
is not checked for them, with a warning. A run recorded on another platform (numpy's SIMD
targets, libc, numpy or numba version) resumes with a one-line warning. ``starts`` and
``start_generations`` cannot change while the run is in its starts, even with ``force``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import config as cfg
from ..tasks import make_task
from . import checkpoint, loop, provenance, runfolder
from .loop import SearchState

#: Config keys that may differ on resume without changing any result.
NEUTRAL_KEYS = frozenset(
    {
        "generations",
        "keep_checkpoints",
        "checkpoint_every",
        "checkpoint_minutes",
        "chunk_genomes",
        "replicated",
        "resident",
        "split_rollouts",
        "data_dir",
    }
)
#: Keys never changed on resume, even with ``force``.
FIXED_KEYS = frozenset({"task"})
#: what decides the starts: fixed while a run is in them (its scores so far depend on them)
START_KEYS = (
    "starts",
    "start_generations",
    "start_pick",
    "start_probe_generations",
    "start_ranking",
)
#: of those, what no longer matters once the starts are done
_AFTER_STARTS = frozenset({"start_pick", "start_probe_generations", "start_ranking"})


def requested_config(
    base: cfg.WannConfig,
    config_file: str | None,
    overrides: dict[str, Any],
    sets: list[str],
) -> cfg.WannConfig:
    """``base`` (the checkpoint's config) with ``--config``, flags and ``--set`` laid over it."""
    values = base.to_dict()
    if config_file:
        values.update(cfg.read_toml(Path(config_file)))
    values.update({k: v for k, v in overrides.items() if v is not None})
    for item in sets:
        key, value = cfg.parse_set(item)
        values[key] = value
    return cfg.from_mapping(values, source="config")


def config_changes(old: cfg.WannConfig, new: cfg.WannConfig) -> dict[str, tuple[Any, Any]]:
    """``{key: (old, new)}`` for every key that differs."""
    a, b = old.to_dict(), new.to_dict()
    return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def resume(
    run_dir: Path,
    config_file: str | None = None,
    overrides: dict[str, Any] | None = None,
    sets: list[str] | None = None,
    force: bool = False,
    warn: Callable[[str], None] = print,
) -> tuple[SearchState, Path, str]:
    """Load the newest usable checkpoint of ``run_dir`` and apply the requested config.

    Only checkpoints of this run (the ``run_id`` of ``run_dir/config.toml``) whose name
    agrees with the generation inside are used. Newer files that are damaged, of another run
    or misnamed are warned about by name and renamed aside (``*.corrupt``, ``*.foreign``,
    ``*.misnamed``: never deleted, never overwritten later); leftovers of interrupted writes
    are deleted. The caller holds the run folder's lock. Nothing else in the
    folder is touched here: the caller rewrites stats.csv and best_genome.json once all
    checks have passed (:meth:`src.search.reporters.StatsFiles.start`).

    A folder with this run's ``config.toml`` (and its ``run_id``) but no ``gen_*.h5`` at all
    (a job killed during its start-up or first generation, then requeued) starts that run
    over from generation 0 with the config in ``config.toml``: the returned state is the
    initial one (``objectives`` is ``None``), exactly as ``--out`` would have started it.

    Returns:
        (state, checkpoint path or config.toml, run id): the evaluated state of the
        checkpoint's generation (or the initial state), with ``state.config`` the config to
        go on with.

    Raises:
        checkpoint.CheckpointError: no usable checkpoint, or a file that is not ours.
        cfg.ConfigError: a refused config change, a bad flag value, or a task that cannot be
            built with the config (its data or encoder files).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise checkpoint.CheckpointError(f"--resume {str(run_dir)!r}: no such run folder")
    config_path = run_dir / runfolder.CONFIG_NAME
    fresh = not checkpoint.list_checkpoints(run_dir)
    if fresh and not config_path.is_file():
        checkpoint.load_latest(run_dir)  # raises the "no checkpoint in DIR" error
    try:
        run_id = runfolder.read_run_id(run_dir)
    except ValueError as exc:
        raise checkpoint.CheckpointError(f"--resume: {exc}") from None
    if fresh:
        base = cfg.from_mapping(cfg.read_toml(config_path), source=str(config_path))
        made_with, generation = f"{config_path.name} holds", -1  # no generation evaluated
    else:
        loaded = checkpoint.load_latest(run_dir, run_id)
        base, generation = loaded.state.config, loaded.state.generation
        made_with = f"the checkpoint {loaded.path.name} was made with"
    new = requested_config(base, config_file, overrides or {}, sets or [])
    changes = config_changes(base, new)
    fixed = sorted(set(changes) & FIXED_KEYS)
    if fixed:
        raise cfg.ConfigError(
            f"--resume: the run's task is {base.task!r}; it cannot change (got {new.task!r})"
        )
    # the generation just evaluated is a start's (its next one may still be the pick)
    in_starts = loop.in_starts(base, generation)
    if in_starts and set(START_KEYS) & set(changes):
        raise cfg.ConfigError(
            f"--resume: the run is in its starts (generation {generation + 1} of "
            f"{base.starts} x {base.start_generations}); {', '.join(START_KEYS)} cannot "
            f"change until they are done"
        )
    # after the starts (or without any), how a start is picked no longer matters
    neutral = NEUTRAL_KEYS if in_starts else NEUTRAL_KEYS | _AFTER_STARTS
    altering = {k: v for k, v in changes.items() if k not in neutral}
    if altering and not force:
        listed = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in altering.items())
        raise cfg.ConfigError(
            f"--resume: refusing config changes that would alter results ({listed}); "
            f"{made_with} the old values. Use "
            f"--force-config to continue with the new values anyway (the run is then no longer "
            f"reproducible from its config), or start a new run"
        )
    if fresh:
        recorded, source = provenance.from_toml(config_path), config_path.name
    else:
        recorded = checkpoint.read_provenance(loaded.path)
        source = f"the checkpoint {loaded.path.name}"
    now = provenance.current(new)
    drift, unrecorded = provenance.compare(recorded, now)
    if drift and not force:
        listed = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in drift.items())
        raise cfg.ConfigError(
            f"--resume: refusing to go on with results that would change without a config "
            f"change ({listed}); {made_with} the old ones. Use --force-config to continue "
            f"anyway (the run is then no longer reproducible from its files), or start a new "
            f"run"
        )
    if new.generations <= generation:
        raise cfg.ConfigError(
            f"--resume: generations = {new.generations} but the checkpoint already holds "
            f"generation {generation} ({generation + 1} generations); "
            f"pass --generations N with N > {generation}"
        )
    make_task(new)  # data or encoder files unusable: ConfigError, before anything is touched
    if unrecorded:
        items = now.toml_items()
        warn(
            f"warning: {source} records no {' and no '.join(unrecorded)} (written before they "
            f"were recorded): not checked; going on with "
            + ", ".join(f"{k} {items[k]!r}" for k in unrecorded)
        )
    if drift:
        listed = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in drift.items())
        warn(f"warning: --force-config: continuing with changed {listed}")
    if (elsewhere := provenance.moved(recorded, now, source)) is not None:
        warn(elsewhere)
    if fresh:
        checkpoint.remove_temporaries(run_dir)  # a first checkpoint write that was killed
        if altering:
            listed = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in altering.items())
            warn(f"warning: --force-config: starting with changed config ({listed})")
        return loop.initial_state(new), config_path, run_id
    for path, why, kind in loaded.skipped:
        aside = checkpoint.set_aside(path, kind)
        warn(
            f"warning: skipped checkpoint {path}: {why}; renamed to {aside.name}, "
            f"resuming from {loaded.path.name}"
        )
    checkpoint.remove_temporaries(run_dir)
    # a lower keep_checkpoints takes effect before anything is written: it frees the space
    # a resume after a full disk needs (the checkpoint resumed from is the newest kept)
    checkpoint.prune(run_dir, new.keep_checkpoints, run_id)
    if altering:
        listed = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in altering.items())
        warn(f"warning: --force-config: continuing with changed config ({listed})")
    state = loaded.state
    state.config = new
    return state, loaded.path, run_id


def check_folder(args: Any) -> Path:
    """The run folder of ``--resume DIR``, checked before its lock is taken (nothing read or
    written): it exists, and it and its ``checkpoints/`` are writable."""
    run_dir = Path(args.resume)
    if args.out and Path(args.out).resolve() != run_dir.resolve():
        raise cfg.ConfigError("--resume DIR continues the run in DIR; do not also give --out")
    if not run_dir.is_dir():
        raise checkpoint.CheckpointError(f"--resume {str(run_dir)!r}: no such run folder")
    check_writable(run_dir)
    return run_dir


def check_writable(run_dir: Path) -> None:
    """ConfigError unless this process may create, rename and delete files in ``run_dir``
    and in its ``checkpoints/`` (when there), checked with ``access(2)``: nothing is written.

    Without it a resume of a folder whose ``checkpoints/`` had been made read-only ran a
    whole generation (rewriting stats.csv) before its first checkpoint failed. ``access``
    answers for this user's permissions, a read-only mount and an immutable folder (where
    even root may not write).
    """
    ids = os.access in os.supports_effective_ids
    for folder in (run_dir, checkpoint.checkpoint_dir(run_dir)):
        if folder != run_dir and not os.path.lexists(folder):
            continue  # created by the first checkpoint; the run folder is writable
        if not folder.is_dir():
            raise cfg.ConfigError(f"--resume {str(run_dir)!r}: {folder} is not a folder")
        if not os.access(folder, os.W_OK | os.X_OK, effective_ids=ids):
            raise cfg.ConfigError(
                f"--resume {str(run_dir)!r}: {folder} is not writable (permissions, or a "
                f"read-only or immutable file system); nothing was written: make it writable "
                f"(e.g. chmod u+w {folder}) and resume again"
            )


def folder_run_id(run_dir: Path) -> str:
    """The run id in ``run_dir/config.toml``, or ``""`` (for the lock file's note only)."""
    try:
        return runfolder.read_run_id(run_dir)
    except ValueError:
        return ""


def from_args(args: Any, warn: Callable[[str], None]) -> tuple[SearchState, Path, str]:
    """:func:`resume` for the parsed command line of ``src.master`` (``--resume DIR``)."""
    run_dir = check_folder(args)
    overrides = {
        "task": args.task,
        "generations": args.generations,
        "pop_size": args.pop_size,
        "seed": args.seed,
    }
    state, path, run_id = resume(run_dir, args.config, overrides, args.set, args.force_config, warn)
    if state.objectives is None:
        warn(
            f"resuming {run_dir}: no checkpoint yet; starting its run {run_id} from generation "
            f"0 with the config in {path.name}"
        )
    else:
        warn(f"resuming {run_dir} from {path.name} (generation {state.generation} evaluated)")
    return state, run_dir, run_id
