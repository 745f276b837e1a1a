"""The Python API: search, open a run, evaluate and draw a genome, from a script or notebook.

::

    from src import api

    result = api.search("swingup", generations=20, pop_size=64, workers=2)
    result.stats["best_mean"]           # numpy, one value per generation
    api.evaluate(result.best, result.config, weights=[-1.0, 1.0], seeds=range(5))
    api.draw(result.best, "champion.png")

    run = api.open_run("runs/s1")       # a run folder of src.master or of search(out=...)
    run.stats["median_connections"], run.best, run.checkpoints
    run.state().population              # a checkpoint's population and objectives

Every function here calls the command line's own parts (``src.master``, ``src.search``,
``src.report``), so a run from Python equals the command line's run of the same config, bit
for bit. Per-generation hooks: ``search(..., reporters=[...])`` with objects that have the
methods of :class:`src.search.loop.Reporter` (``start``, ``generation``, ``end``).
A script that passes ``workers > 0`` needs the ``if __name__ == "__main__":`` guard (the
worker processes are started with ``spawn``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import config as cfg
from .core.genome import Genome
from .parallel import Executor, PoolExecutor, SerialExecutor
from .search import checkpoint, loop, runfolder
from .search.loop import Reporter, SearchState
from .search.reporters import ProgressLine

__all__ = [
    "Reporter",
    "Run",
    "SearchResult",
    "draw",
    "evaluate",
    "load_genome",
    "make_config",
    "open_run",
    "search",
]


def make_config(
    task: str | cfg.WannConfig, config_file: str | Path | None = None, **overrides: Any
) -> cfg.WannConfig:
    """A validated config: a task's (defaults < ``src/configs/<task>.toml`` < ``config_file``
    < ``overrides``) or a given config with ``overrides``. Keys: ``python -m src.master --help``.

    Raises:
        src.config.ConfigError: an unknown task or key, or a bad value.
    """
    if isinstance(task, cfg.WannConfig):
        if config_file is not None:
            raise cfg.ConfigError("config_file goes with a task name, not a WannConfig")
        return task.replace(**overrides) if overrides else task
    return cfg.build(task, str(config_file) if config_file else None, overrides)


def _columns(history: Sequence[dict[str, float]]) -> dict[str, np.ndarray]:
    """History rows as columns: each key of the first row, one array each."""
    keys = list(history[0]) if history else []
    return {k: np.array([float(row[k]) for row in history]) for k in keys}


@dataclass
class SearchResult:
    """What :func:`search` returns.

    Attributes:
        config: the run's config.
        state: the search state after the last generation (population, objectives, RNG...).
        out: the run folder, or ``None`` if the search wrote no files.
    """

    config: cfg.WannConfig
    state: SearchState
    out: Path | None = None

    @property
    def history(self) -> list[dict[str, float]]:
        """One dict per generation: the rows of stats.csv (and ``busy``)."""
        return self.state.history

    @property
    def stats(self) -> dict[str, np.ndarray]:
        """stats.csv's columns (and ``busy``) as arrays, one value per generation."""
        return _columns(self.state.history)

    @property
    def best(self) -> Genome:
        """The champion (what ``best_genome.json`` holds)."""
        assert self.state.best is not None
        return self.state.best

    @property
    def best_info(self) -> dict[str, Any]:
        """The champion's generation and scores."""
        return dict(self.state.best_info)


def _executor(workers: int) -> Executor:
    return PoolExecutor(workers) if workers > 0 else SerialExecutor()


def search(
    config: str | cfg.WannConfig,
    out: str | Path | None = None,
    workers: int = 0,
    *,
    reporters: Sequence[Reporter] = (),
    progress: bool = True,
    executor: Executor | None = None,
    **overrides: Any,
) -> SearchResult:
    """Run a search in this process (``workers = 0``) or a local pool of ``workers``.

    Args:
        config: a task name or a :class:`~src.config.WannConfig`; ``overrides`` (config keys,
            e.g. ``generations=20, pop_size=64``) go over it (:func:`make_config`).
        out: a new run folder to write as ``python -m src.master --out`` does (config.toml,
            stats.csv, best_genome.json, checkpoints; resumable with ``--resume``), or
            ``None``: no files.
        workers: worker processes (0: evaluate here).
        reporters: more per-generation hooks (:class:`src.search.loop.Reporter`), e.g.
            ``src.search.tensorboard.TensorBoard(DIR)``.
        progress: print the progress line each generation.
        executor: evaluate there instead (e.g. an open ``PoolExecutor`` reused across
            searches); it is left open.

    Raises:
        src.config.ConfigError: a bad config, or ``out`` holds a run or is not writable.
    """
    from . import master  # the command line's run-folder rules, reused as they are

    config = make_config(config, **overrides)
    master.check_memory(config)
    hooks = [*([ProgressLine()] if progress else []), *reporters]
    state = loop.initial_state(config)
    with contextlib.ExitStack() as stack:
        if out is not None:
            out = master.prepare_out(str(out))
            run_id = runfolder.new_run_id()
            lock = master.claim_new(out, run_id)
            stack.callback(lock.release)
        ex = executor if executor is not None else stack.enter_context(_executor(workers))
        master.warm_up_everywhere(config, ex)
        if out is None:
            state = loop.run(state, ex, hooks)
        else:
            cfg.write_config(config, out / "config.toml", run_id)
            state = master.search_in_folder(state, ex, out, run_id, lock, hooks)
    return SearchResult(config, state, None if out is None else Path(out))


@dataclass
class Run:
    """A run folder read back (:func:`open_run`): whatever the search wrote so far.

    Attributes:
        folder: the run folder.
        config: its config (``config.toml``).
        run_id: its run id.
    """

    folder: Path
    config: cfg.WannConfig
    run_id: str
    _best: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def stats(self) -> dict[str, np.ndarray]:
        """stats.csv's columns as arrays, one value per generation (NaN where not finite)."""
        from .report.figures import read_stats

        path = self.folder / "stats.csv"
        return read_stats(path) if path.exists() else {}

    @property
    def history(self) -> list[dict[str, float]]:
        """stats.csv as one dict per generation."""
        columns = self.stats
        n = len(columns.get("generation", ()))
        return [{k: float(v[i]) for k, v in columns.items()} for i in range(n)]

    def _best_json(self) -> dict[str, Any]:
        if self._best is None:
            self._best = json.loads((self.folder / "best_genome.json").read_text())
        return self._best

    @property
    def best(self) -> Genome:
        """The champion of ``best_genome.json``."""
        return Genome.from_dict(self._best_json())

    @property
    def best_info(self) -> dict[str, Any]:
        """The champion's generation and scores (``best_genome.json`` without the genome)."""
        genome_keys = set(self.best.to_dict())
        return {k: v for k, v in self._best_json().items() if k not in genome_keys}

    @property
    def checkpoints(self) -> list[int]:
        """Generations of the checkpoints in the folder, oldest first."""
        return [g for g, _ in checkpoint.list_checkpoints(self.folder)]

    def state(self, generation: int | None = None) -> SearchState:
        """The search state of a checkpoint (default: the newest usable one of this run):
        ``population``, ``objectives`` (mean reward, max reward, connections), ``history``...

        Raises:
            src.search.checkpoint.CheckpointError: no such checkpoint, or it is damaged.
        """
        if generation is None:
            return checkpoint.load_latest(self.folder, self.run_id).state
        return checkpoint.load(checkpoint.checkpoint_path(self.folder, generation))


def open_run(folder: str | Path) -> Run:
    """Read a run folder (of ``python -m src.master`` or of :func:`search` with ``out``).

    Raises:
        src.config.ConfigError: the folder has no readable ``config.toml``.
    """
    folder = Path(folder)
    path = folder / "config.toml"
    config = cfg.from_mapping(cfg.read_toml(path), source=str(path))
    return Run(folder, config, runfolder.read_run_id(folder))


def load_genome(path: str | Path) -> Genome:
    """A genome from a JSON file (``best_genome.json``)."""
    return Genome.from_dict(json.loads(Path(path).read_text()))


def evaluate(
    genome: Genome,
    config: str | cfg.WannConfig,
    weights: Iterable[float] | None = None,
    seeds: Iterable[int] = (0,),
    workers: int = 0,
    **overrides: Any,
) -> np.ndarray:
    """Episode returns of ``genome``: ``(len(weights), len(seeds))``, row ``i`` on shared
    weight ``weights[i]`` (default: the config's series), column ``j`` with seed
    ``seeds[j]`` (the same episodes in every row); ``-inf`` where the network gave NaN/inf.

    ``config``: a task name or config (``overrides`` over it, e.g. ``episode_steps=500``);
    ``workers``: rows spread over that many local processes.
    """
    from .report.episodes import Runner

    config = make_config(config, **overrides)
    w = np.asarray(config.weights if weights is None else list(weights), dtype=np.float64)
    s = np.asarray(list(seeds), dtype=np.int64)
    with _executor(workers) as ex:
        return Runner(config, ex).returns(genome, w, np.tile(s, (len(w), 1)))


def draw(genome: Genome, path: str | Path, title: str = "") -> Path:
    """Draw the network as the report does (Graphviz ``dot``: inputs left, outputs right,
    nodes coloured by activation, arrowheads) to ``path``; its suffix picks the format
    (``.png``, ``.svg`` or ``.pdf``; none: ``.png``). Returns the file written."""
    from .report import netdraw
    from .report.episodes import Net

    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    if fmt not in netdraw.FORMATS:
        raise ValueError(f"cannot draw to {str(path)!r}: use .png, .svg or .pdf")
    return netdraw.draw(Net.of(genome), path.with_suffix(""), title, formats=(fmt,))[fmt]
