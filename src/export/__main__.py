"""``python -m src.export GENOME --to json|out|onnx [--task TASK] --out FILE``.

Converts a genome file between this project's JSON (``best_genome.json``), the authors'
``.out`` matrix (Gaier & Ha 2019, https://github.com/google/brain-tokyo-workshop,
``WANNRelease/WANN``) and ONNX. GENOME is read by suffix (``.out``: the authors' format,
which needs ``--task``; else JSON) or as ``--from`` says. ``--to`` defaults to the suffix of
``--out``. Exit codes: 0 written, 2 bad input (one line on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import GenomeFileError, check_io, read_genome, reference

#: Formats written, by ``--to`` (and the suffix of ``--out`` without ``--to``).
WRITE_FORMATS = ("json", "out", "onnx")
EXIT_BAD_INPUT = 2

EPILOG = """\
examples:
  python -m src.export runs/s1/best_genome.json --to out --out swing_s1.out
  python -m src.export docs/champions/swing.out --task swingup --to json --out swing.json
  python -m src.export runs/s1/best_genome.json --to onnx --out swing_s1.onnx

what each format keeps and loses: docs/export.md
"""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line ``error: ...`` and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise GenomeFileError(message)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(
        prog="python -m src.export",
        description="Convert a genome: this project's JSON, the authors' .out matrix, ONNX.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("genome", help="genome file: JSON (best_genome.json) or the authors' .out")
    p.add_argument(
        "--from",
        dest="source",
        choices=("json", "out"),
        help="format of GENOME (default: by suffix, .out or JSON)",
    )
    p.add_argument(
        "--to",
        choices=WRITE_FORMATS,
        help="format to write (default: by the suffix of --out)",
    )
    p.add_argument(
        "--task",
        help="task of the genome: needed to read a .out file (it does not store its inputs "
        "and outputs); checked against a JSON's own task",
    )
    p.add_argument("--out", required=True, help="file to write (replaced atomically)")
    return p.parse_args(argv)


def _refuse_to_overwrite(out: Path, genome: Path) -> None:
    """The input itself, a run folder's own files (config.toml names the run; a resume
    needs it) and what is under its checkpoints/ and history/ are never an ``--out``."""
    from fnmatch import fnmatch

    from ..search.runfolder import CONFIG_NAME, RUN_FILE_PATTERNS

    if out.exists() and genome.exists() and out.resolve() == genome.resolve():
        raise GenomeFileError(f"--out {str(out)!r} is the genome file itself; write elsewhere")
    folder = out.parent.resolve()
    own = any(fnmatch(out.name, pattern) for pattern in RUN_FILE_PATTERNS)
    if own and (folder / CONFIG_NAME).is_file():
        raise GenomeFileError(
            f"--out {str(out)!r} is a file of the run in {str(out.parent)!r}; write elsewhere"
        )
    if folder.name in ("checkpoints", "history") and (folder.parent / CONFIG_NAME).is_file():
        raise GenomeFileError(
            f"--out {str(out)!r} is inside the {folder.name}/ of the run in "
            f"{str(folder.parent)!r}; write elsewhere"
        )


def convert(args: argparse.Namespace) -> tuple[Path, str]:
    """Read, check, write; returns the file written and a one-line summary."""
    out = Path(args.out)
    to = args.to or out.suffix.lower().lstrip(".")
    if to not in WRITE_FORMATS:
        raise GenomeFileError(
            f"--out {args.out!r}: pass --to ({', '.join(WRITE_FORMATS)}) or use one of "
            "their suffixes"
        )
    if out.is_dir():
        raise GenomeFileError(f"--out {args.out!r} is a folder; give a file name")
    if not out.parent.is_dir():
        raise GenomeFileError(f"--out {args.out!r}: folder {str(out.parent)!r} does not exist")
    _refuse_to_overwrite(out, Path(args.genome))
    loaded = read_genome(args.genome, args.task, args.source)
    if args.task and loaded.task and args.task != loaded.task:
        raise GenomeFileError(
            f"--task {args.task!r} but {args.genome!r} is a {loaded.task!r} genome"
        )
    task = args.task or loaded.task
    genome = loaded.genome
    if task:
        check_io(genome, task, repr(args.genome))
    extra = ""
    if to == "json":
        info = {k: v for k, v in loaded.info.items() if k not in ("n_inputs", "n_outputs")}
        if task:
            info["task"] = task
        data = (genome.to_json(**info) + "\n").encode()
    elif to == "out":
        try:
            data = reference.write(genome).encode()
        except reference.FormatError as exc:
            raise GenomeFileError(f"cannot write {args.genome!r} as .out: {exc}") from None
        copies = len(reference.outputs_as_sinks(genome).node_id) - genome.n_nodes
        if copies:
            extra = f"; {copies} output(s) feeding other nodes written with a linear hidden copy"
    else:
        try:
            from .onnx import OnnxExportError, to_bytes
        except ImportError as exc:
            raise GenomeFileError(
                f"--to onnx needs the onnx package ({exc}); install the extra: "
                "pip install -e '.[export]'"
            ) from None
        try:
            data = to_bytes(genome, task)
        except OnnxExportError as exc:
            raise GenomeFileError(f"cannot write {args.genome!r} as ONNX: {exc}") from None
    from ..search.files import write_atomically

    try:
        write_atomically(out, data)
    except OSError as exc:
        raise GenomeFileError(f"--out {args.out!r} is not writable: {exc.strerror}") from None
    summary = (
        f"wrote {out} ({to}; {genome.n_nodes} nodes, {genome.n_connections} enabled "
        f"connections{', task ' + task if task else ''}{extra})"
    )
    return out, summary


def main(argv: list[str] | None = None) -> int:
    try:
        _, summary = convert(parse_args(argv))
    except GenomeFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
