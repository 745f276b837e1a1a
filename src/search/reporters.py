"""The search's built-in reporters (:class:`src.search.loop.Reporter`): the run folder's
``stats.csv`` and ``best_genome.json`` (:class:`StatsFiles`), and the progress line
(:class:`ProgressLine`). ``src.master`` runs both; ``src.api.search`` the progress line, and
the files when given a folder.

The progress line's numbers are formatted by pure functions (:func:`significant`,
:func:`rate`, :func:`duration`, :func:`progress_line`) so that a slow task never shows
``0/s`` (a rate below one a second is given a minute or an hour) and a fast one stays short.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ..core.network import compile_genome
from ..tasks import make_task
from . import files, history
from .loop import STATS_COLUMNS, Reporter, SearchState


def _fmt(v: float) -> str:
    """A stats.csv cell: integers without a fraction, other floats with every digit."""
    if isinstance(v, (int, np.integer)) or (
        isinstance(v, float) and v.is_integer() and abs(v) < 1e15
    ):
        return str(int(v))
    return repr(float(v))


def stats_text(history: list[dict[str, float]], header: bool = True) -> str:
    """``stats.csv`` rows (and its header line) for ``history``."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=STATS_COLUMNS, extrasaction="ignore")
    if header:
        writer.writeheader()
    for row in history:
        writer.writerow({k: _fmt(row[k]) for k in STATS_COLUMNS})
    return text.getvalue()


class StatsFiles(Reporter):
    """``stats.csv`` (a row per generation), ``best_genome.json`` and ``history/`` (the
    champion at generations 0, 1, 2, 4, 8 ...; :mod:`src.search.history`) in the run folder.

    Args:
        out_dir: the run folder.
        guard: called before each write; raises if the run folder is no longer this run's
            (``src.search.runlock.RunLock.verify``).

    Every method may raise ``src.search.files.WriteFailed`` (disk full ...; the old file is
    intact, no temporary file is left) or, from ``guard``, ``RunLockError``.
    """

    def __init__(self, out_dir: Path, guard: Callable[[], None] = lambda: None) -> None:
        self.out_dir = Path(out_dir)
        self.guard = guard

    def start(self, state: SearchState, where: str = "") -> None:
        """Write stats.csv afresh from ``state.history`` (a header only for a new run), and
        best_genome.json if there is a champion, atomically; remove the history/ files of
        generations after ``state``'s.

        On a resume this drops the rows a killed run appended after its last checkpoint (with
        ``checkpoint_every > 1`` there may be several), so the rows the resumed run appends do
        not duplicate them, and nothing is left from generations it recomputes.
        """
        self.guard()
        files.write_atomically(self.out_dir / "stats.csv", stats_text(state.history).encode())
        history.drop_after(self.out_dir, state.generation if state.objectives is not None else -1)
        if state.best is not None:
            self.write_best(state)

    def write_best(self, state: SearchState) -> None:
        """best_genome.json: the champion, its scores and the generation it is from."""
        assert state.best is not None
        data = state.best.to_json(task=state.config.task, **state.best_info).encode()
        files.write_atomically(self.out_dir / "best_genome.json", data)

    def generation(self, state: SearchState, row: dict[str, float]) -> None:
        """Append the row to stats.csv; rewrite best_genome.json if the champion is new; keep
        the champion in ``history/`` at the generations it keeps."""
        self.guard()
        files.append(self.out_dir / "stats.csv", stats_text([row], header=False))
        if state.best is not None and state.best_info.get("generation") == state.generation:
            self.write_best(state)
        history.record(self.out_dir, state)


# ----- the progress line ------------------------------------------------------------------

_PREFIXES = ((1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k"))


def significant(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures, with k/M/G/T from a thousand on.

    ``significant(0.01234) == "0.0123"``, ``significant(2.5) == "2.50"``,
    ``significant(3.41e6) == "3.41 M"``, ``significant(999.7) == "1.00 k"``.
    """
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    value = float(f"{value:.{digits}g}")  # rounded first: 999.7 -> 1000 -> "1.00 k"
    prefix = ""
    for scale, name in _PREFIXES:
        if abs(value) >= scale:
            value, prefix = value / scale, name
            break
    value = float(f"{value:.{digits}g}")
    exponent = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - exponent)
    return f"{value:.{decimals}f}{prefix}"


def rate(count: float, seconds: float, unit: str = "") -> str:
    """``count`` per second, or per minute or hour when that is below one: never ``0/s``.

    ``rate(3.4e6, 1.0, "steps") == "3.40 M steps/s"``, ``rate(12, 60) == "12.0/min"``.
    """
    name = f" {unit}" if unit else ""
    if count <= 0 or seconds <= 0:
        return f"0{name}/s"
    per_second = count / seconds
    for per, label in ((1.0, "s"), (60.0, "min")):
        if per_second * per >= 1.0:
            return f"{significant(per_second * per)}{name}/{label}"
    return f"{significant(per_second * 3600.0)}{name}/h"


def duration(seconds: float) -> str:
    """A time span for people: ``"20.1 ms"``, ``"12.3 s"``, ``"8 min 30 s"``,
    ``"3 h 05 min"``, ``"2 d 04 h"``."""
    if seconds < 1:
        return f"{significant(seconds * 1000)} ms" if seconds >= 0.0005 else "0 s"
    if seconds < 59.5:
        return f"{significant(seconds)} s"
    s = round(seconds)
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600:02d} h"


def format_metric(name: str, value: float) -> str:
    """One champion metric of the progress line; an ``accuracy`` (a fraction) in percent."""
    if name.endswith("accuracy"):
        return f"{name} {100 * value:.1f} %"
    return f"{name} {significant(value, 4)}"


def progress_line(
    row: Mapping[str, float],
    total: int,
    where: str,
    best: tuple[float, int] | None = None,
    eta: float | None = None,
    metrics: Mapping[str, float] | None = None,
) -> str:
    """The line printed after each generation.

    Args:
        row: the generation's stats row (``STATS_COLUMNS`` and ``busy``).
        total: the run's generations.
        where: the executor in words.
        best: (score, generation) of the best genome so far (the champion).
        eta: seconds the rest of the run should take (``None``: not known).
        metrics: more numbers about the champion (MNIST: its test accuracy).
    """
    gen = int(row["generation"])
    secs = float(row["seconds"])
    parts = [f"gen {gen:{len(str(total))}d} of {total}"]
    if best is not None:
        champion = f"best so far {best[0]:.2f} (gen {best[1]})"
        extra = [format_metric(k, v) for k, v in (metrics or {}).items()]
        parts.append(", ".join([champion, *extra]))
    parts += [
        f"this gen: mean {row['best_mean']:.2f} max {row['best_max']:.2f}",
        f"med conns {row['median_connections']:.0f}",
        f"{int(row['evaluations'])} evals ({int(row['distinct'])} run) "
        f"{rate(row['evaluations'], secs)}",
        rate(row["env_steps"], secs, "steps"),
        f"{where}, busy {row['busy']:.0%}",
        duration(secs),
    ]
    if eta is not None and gen + 1 < total:
        parts.append(f"ETA {duration(eta)}")
    return " | ".join(parts)


def best_so_far(state: SearchState) -> tuple[float, int] | None:
    """(score, generation) of the champion: the score it was chosen on (its re-scored mean
    with ``champion_reps > 0``, else its generation's mean reward); never decreases."""
    if state.best is None:
        return None
    info = state.best_info
    return float(info.get("champion_score", info["mean_reward"])), int(info["generation"])


#: (config, champion's key) -> its metrics: the last champion's, shared by the reporters
_metrics_memo: list[tuple[tuple[object, bytes], dict[str, float]]] = []


def champion_metrics(state: SearchState) -> dict[str, float]:
    """The task's numbers about the champion (``Task.champion_metrics``; MNIST: the test
    accuracy of the six-weight ensemble), computed once per new champion and process."""
    if state.best is None:
        return {}
    key = (state.config, state.best.key())
    if not _metrics_memo or _metrics_memo[0][0] != key:
        task = make_task(state.config)
        weights = np.asarray(state.config.weights, dtype=np.float64)
        _metrics_memo[:] = [(key, task.champion_metrics(compile_genome(state.best), weights))]
    return _metrics_memo[0][1]


class ProgressLine(Reporter):
    """One line per generation (:func:`progress_line`): generation N of the total, the best so
    far, this generation's best, rates, and an ETA from the last ``window`` generations.

    Args:
        log: where the line goes (``print``; ``lambda s: None`` for nothing).
        first_note: appended to the first line (e.g. the start-up time).
        window: generations the ETA averages over (recent ones: networks grow, so
            generations get slower).
        clock: seconds, monotonic (``time.perf_counter``).

    The champion's task metrics (MNIST: its test accuracy) come from
    :func:`champion_metrics`, on the root, once per new champion.
    """

    def __init__(
        self,
        log: Callable[[str], None] = print,
        first_note: str = "",
        window: int = 20,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.log = log
        self.first_note = first_note
        self.clock = clock
        self.intervals: deque[float] = deque(maxlen=window)
        self.where = ""
        self.last = 0.0

    def start(self, state: SearchState, where: str) -> None:
        self.where = where
        self.last = self.clock()

    def generation(self, state: SearchState, row: dict[str, float]) -> None:
        metrics = champion_metrics(state)
        now = self.clock()
        self.intervals.append(now - self.last)
        self.last = now
        left = state.config.generations - 1 - state.generation
        eta = left * sum(self.intervals) / len(self.intervals)
        line = progress_line(
            row, state.config.generations, self.where, best_so_far(state), eta, metrics
        )
        self.log(line + self.first_note)
        self.first_note = ""
