"""The champion at selected generations, kept for the report's "network over generations".

Checkpoints are pruned to the newest ``keep_checkpoints``, so the champion of generation 8 is
gone from them by generation 11. After generation 0 and every generation that is a power of
two (1, 2, 4, 8, ...), the search writes the champion so far to
``RUN/history/best_gen_<NNNNNN>.json`` (the format of ``best_genome.json``, plus
``snapshot_generation``), atomically: a 1024-generation run (generations 0-1023) keeps 11
small files. A resumed run that repeats a generation writes the same file again with the
same content (the search is deterministic). :func:`read` returns them in generation order;
the report draws them with one layout (:mod:`src.report.growth`), as in Gaier & Ha (2019, figure 5).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.genome import Genome
from . import files

if TYPE_CHECKING:
    from .loop import SearchState

FOLDER = "history"
PREFIX = "best_gen_"


def due(generation: int) -> bool:
    """Whether the champion after ``generation`` is kept: 0 and the powers of two."""
    return generation == 0 or (generation > 0 and generation & (generation - 1) == 0)


def path(run_dir: Path, generation: int) -> Path:
    return Path(run_dir) / FOLDER / f"{PREFIX}{generation:06d}.json"


def record(run_dir: Path, state: SearchState) -> Path | None:
    """Write the champion after ``state.generation`` if that generation is :func:`due`.

    Raises:
        src.search.files.WriteFailed: the file could not be written (disk full ...).
    """
    if state.best is None or not due(state.generation):
        return None
    target = path(run_dir, state.generation)
    target.parent.mkdir(exist_ok=True)
    info = {**state.best_info, "snapshot_generation": state.generation}
    files.write_atomically(target, state.best.to_json(task=state.config.task, **info).encode())
    return target


def drop_after(run_dir: Path, generation: int) -> None:
    """Remove the files of generations after ``generation`` (-1: all of them): a resume from
    the checkpoint of ``generation`` recomputes those generations and writes them again."""
    for p in (Path(run_dir) / FOLDER).glob(f"{PREFIX}*.json"):
        try:
            later = int(p.stem[len(PREFIX) :]) > generation
        except ValueError:
            continue
        if later:
            p.unlink(missing_ok=True)


def read(run_dir: Path) -> list[tuple[int, Genome, dict[str, Any]]]:
    """(generation, champion, its other JSON fields) per file in ``RUN/history``, in
    generation order; unreadable files are left out."""
    out = []
    for p in sorted((Path(run_dir) / FOLDER).glob(f"{PREFIX}*.json")):
        try:
            data = json.loads(p.read_text())
            genome = Genome.from_dict(data)
            generation = int(data.get("snapshot_generation", p.stem[len(PREFIX) :]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        info = {k: v for k, v in data.items() if k not in ("nodes", "connections")}
        out.append((generation, genome, info))
    return sorted(out, key=lambda item: item[0])
