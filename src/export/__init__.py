"""Genome files in and out: this project's JSON, the authors' ``.out``, ONNX.

:func:`read_genome` is the one place a genome file is read (the report, the MNIST accuracy
command and ``python -m src.export`` call it): a ``.out`` suffix means the authors' matrix
format (:mod:`src.export.reference`; the task says how many inputs and outputs it has), any
other this project's JSON (``best_genome.json``; :meth:`src.core.genome.Genome.to_dict`).
Writing: :func:`src.export.reference.write` (``.out``), :func:`src.export.onnx.to_onnx`
(ONNX, needs the ``export`` extra) and :meth:`Genome.to_json`. ``python -m src.export``
converts between them; what each format keeps and loses: ``docs/export.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.genome import Genome
from . import reference

#: Formats a genome file can be read from, by suffix (anything but ``.out`` is JSON).
READ_FORMATS = ("json", "out")


class GenomeFileError(ValueError):
    """A genome file that cannot be read or does not fit its task; the message says why."""


@dataclass(frozen=True)
class GenomeFile:
    """A genome read from a file.

    Attributes:
        genome: the network.
        path: the file read.
        format: ``"json"`` or ``"out"``.
        info: the JSON's other fields (``task``, ``generation``, ``mean_reward`` ...); for a
            ``.out`` file only ``task`` (the one it was read for).
    """

    genome: Genome
    path: Path
    format: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str | None:
        """The task the file names (JSON) or was read for (``.out``), if any."""
        task = self.info.get("task")
        return str(task) if task is not None else None


def format_of(path: str | Path) -> str:
    """``"out"`` for a ``.out`` file, else ``"json"``."""
    return "out" if Path(path).suffix.lower() == ".out" else "json"


def task_io(task: str) -> tuple[int, int]:
    """(inputs, outputs) of a task's networks. A built-in task's are read from its class
    (nothing is built, no data files read); any other task the search accepts (``gym:ENV``,
    ``module:factory``, an installed entry point) is built with its default config."""
    from .. import config as cfg
    from ..tasks import make_task, task_class

    if task in cfg.TASK_NAMES:
        cls = task_class(task)
        return int(cls.n_inputs), int(cls.n_outputs)
    try:
        built = make_task(cfg.build(task))
    except cfg.ConfigError as exc:
        raise GenomeFileError(str(exc)) from None
    return int(built.n_inputs), int(built.n_outputs)


def check_io(genome: Genome, task: str, what: str) -> None:
    """Raise :class:`GenomeFileError` unless ``genome`` has ``task``'s inputs and outputs."""
    n_in, n_out = task_io(task)
    if (genome.n_inputs, genome.n_outputs) != (n_in, n_out):
        raise GenomeFileError(
            f"{what} has {genome.n_inputs} inputs and {genome.n_outputs} outputs; "
            f"a {task} network has {n_in} and {n_out}"
        )


def read_genome(path: str | Path, task: str | None = None, fmt: str | None = None) -> GenomeFile:
    """Read a genome file: the authors' ``.out`` or this project's JSON, by suffix.

    Args:
        path: the file.
        task: the task the genome is for. A ``.out`` file needs it (the file does not say
            how many inputs and outputs it has); a JSON file is read without it (its own
            ``task`` field, if any, is in ``info``) and not checked against it here.
        fmt: ``"out"`` or ``"json"`` to override the suffix.

    Raises:
        GenomeFileError: unreadable, malformed, an unknown task, or a ``.out`` without task.
    """
    path = Path(path)
    fmt = fmt or format_of(path)
    if fmt not in READ_FORMATS:
        raise GenomeFileError(f"unknown genome format {fmt!r}; accepted: {', '.join(READ_FORMATS)}")
    if fmt == "out":
        if not task:
            from .. import config as cfg

            raise GenomeFileError(
                f"{str(path)!r} is in the authors' format (.out), which does not say its task; "
                f"pass --task ({', '.join(cfg.TASK_NAMES)})"
            )
        n_in, n_out = task_io(task)
    try:
        text = path.read_text()
        if fmt == "out":
            try:
                genome = reference.read(text, n_in, n_out)
            except reference.FormatError as exc:
                raise GenomeFileError(
                    f"cannot read genome {str(path)!r} as a {task} network ({n_in} inputs, "
                    f"{n_out} outputs): {exc}"
                ) from None
            return GenomeFile(genome, path, fmt, {"task": task})
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        genome = Genome.from_dict(data)
    except GenomeFileError:
        raise
    except OSError as exc:
        raise GenomeFileError(f"cannot read genome {str(path)!r}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise GenomeFileError(f"cannot read genome {str(path)!r}: {detail}") from None
    info = {k: v for k, v in data.items() if k not in ("nodes", "connections")}
    return GenomeFile(genome, path, fmt, info)
