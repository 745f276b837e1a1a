"""Writing run files so that a failure leaves nothing half-written.

A full disk (ENOSPC), an exceeded quota (EDQUOT) or an I/O error (EIO) while writing a
checkpoint, ``stats.csv``, ``best_genome.json`` or ``config.toml`` becomes one
:class:`WriteFailed` naming the file; ``src.master`` turns it into one line and exit code
:data:`EXIT_WRITE_FAILED`. Whole files are written to a temporary name in the same folder,
fsynced and renamed, so the previous version stays intact and the temporary file is removed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

EXIT_WRITE_FAILED = 74
"""Exit code when a run file could not be written (sysexits' EX_IOERR): free space, then
``--resume`` goes on from the last checkpoint."""


#: errnos of a write that failed for lack of space or a broken device: the disk-full exit.
DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EROFS})


class WriteFailed(OSError):
    """Writing a run file failed (disk full, quota, I/O error); nothing half-written is left.

    ``filename`` is the file meant to be written, ``errno``/``strerror`` the cause.
    """


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every filesystem allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(
    final: Path, data: bytes, before_replace: Callable[[], None] | None = None
) -> None:
    """Write ``data`` to ``final`` via a temporary file in the same folder, fsync, rename.

    Raises:
        WriteFailed: the write failed (its ``errno`` says why: ENOSPC, EDQUOT, EIO ...); the
            temporary file is removed and ``final`` is untouched.
    """
    tmp = final.with_name(f".{final.name}.tmp{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if before_replace is not None:
            before_replace()
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WriteFailed(exc.errno, exc.strerror, str(final)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)


def append(path: Path, text: str) -> None:
    """Append ``text`` to ``path`` (one stats.csv row); a failure raises :class:`WriteFailed`.

    A partly appended row is harmless: a resume rewrites stats.csv from the checkpoint.
    """
    try:
        with open(path, "a", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        raise WriteFailed(exc.errno, exc.strerror, str(path)) from None
