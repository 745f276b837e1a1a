"""One run per folder: an exclusive lock file ``RUN/run.lock`` held by the root for the whole run.

Why a lock file and not ``flock``: run folders live on local disks, NFS and Lustre. ``flock``
is unsupported on Lustre without ``-o flock``, node-local with ``-o localflock``, and on NFS it
depends on a lock daemon that may hang or forget locks after a server restart. Creating a file
with ``O_CREAT | O_EXCL`` is atomic on all three (NFSv3+ does it on the server). So the lock
is the file's existence, and what it holds says who holds it.

The file is one line of JSON: host, pid, start time, Linux boot id, pid namespace, the
process's start tick (``/proc/PID/stat``; a reused pid has another one), the run id and a
random token. While the run lives, a thread refreshes the file's mtime every
``heartbeat_s`` seconds (the *heartbeat*; via the open descriptor, so it never touches a lock
that someone else has since created), and the root checks each generation that the lock is
still its own (:meth:`RunLock.verify`).

A lock is *stale*, and is taken over with a warning, when its holder is certainly gone:

* same host, same boot, same pid namespace: the pid is dead (or is another process);
* same host name after a reboot (another boot id);
* another host (or an unreadable lock): no heartbeat for ``stale_s`` seconds, measured on
  the file server's clock (the mtime of a probe file written next to the lock), so clock
  skew between nodes does not matter. A holder whose heartbeat is late (older than two
  intervals) but not yet stale is probably dead (a Slurm job SIGKILLed at its time limit
  and requeued on another node): we wait for it to become stale, and give up at once if the
  heartbeat moves again. A live holder's heartbeat is fresh, so a second launch against a
  live run fails at once.

Taking over is safe against a competing taker: the stale file is renamed to a name of our
own first (one rename wins), checked to be the file judged stale, and only then replaced by a
new ``O_EXCL`` file.

Defaults (overridable for slow filesystems and for tests): heartbeat 30 s
(``WANN_LOCK_HEARTBEAT_S``), stale after 300 s (``WANN_LOCK_STALE_S``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCK_NAME = "run.lock"
HEARTBEAT_S = 30.0
STALE_S = 300.0


class RunLockError(Exception):
    """The run folder is in use by another run, or this run lost its lock (exit code 2)."""


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


def _read_first_line(path: str) -> str:
    try:
        with open(path) as fh:
            return fh.readline().strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str]:
    """Fields 3 on of /proc/PID/stat (state, ppid, ...); empty where it cannot be read."""
    stat = _read_first_line(f"/proc/{pid}/stat")
    # the command name (field 2) may hold spaces and parentheses: split after the last ")"
    return stat.rpartition(")")[2].split()


def _pid_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    fields = _stat_fields(pid)
    return fields[19] if len(fields) > 19 else ""


def _pid_ended(pid: int) -> bool:
    """Whether the process has exited but is not yet reaped (state Z or X, field 3 of
    /proc/PID/stat). A SIGKILLed ``mpiexec`` job's rank 0 is handed to PID 1, which may reap
    it seconds later (1-2 s in a VM here) or, in a container whose PID 1 never reaps, never:
    meanwhile ``kill(pid, 0)`` succeeds and its start time still matches."""
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] in ("Z", "X", "x")


def _identity() -> dict[str, Any]:
    pid = os.getpid()
    try:
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pidns = ""
    return {
        "host": socket.gethostname(),
        "pid": pid,
        "since": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "boot_id": _read_first_line("/proc/sys/kernel/random/boot_id"),
        "pidns": pidns,
        "pid_start": _pid_start(pid),
    }


@dataclass(frozen=True)
class Holder:
    """What a lock file says about its holder (``info`` empty when unreadable)."""

    info: dict[str, Any]
    mtime: float
    inode: tuple[int, int]

    def describe(self) -> str:
        if not self.info:
            return "an unknown process (the lock file is unreadable)"
        i = self.info
        return f"host {i.get('host')}, pid {i.get('pid')}, since {i.get('since')}"


def _read_holder(path: Path) -> Holder | None:
    """The lock's content and mtime; ``None`` if there is no lock file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        st = os.fstat(fd)
        raw = os.read(fd, 65536)
    finally:
        os.close(fd)
    try:
        info = json.loads(raw.decode())
        if not isinstance(info, dict):
            info = {}
    except (UnicodeDecodeError, ValueError):
        info = {}
    return Holder(info, st.st_mtime, (st.st_dev, st.st_ino))


def _fs_now(folder: Path) -> float:
    """The file server's "now": the mtime of a probe file created next to the lock.

    Comparing the lock's mtime (set by the server on NFS) with this node's clock would make
    clock skew between nodes part of the stale rule; this does not.
    """
    probe = folder / f".run.lock.clock.{socket.gethostname()}.{os.getpid()}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        try:
            os.utime(fd)
            return os.fstat(fd).st_mtime
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError:
        return time.time()


def _pid_alive(info: dict[str, Any]) -> bool:
    pid = info.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if _pid_ended(pid):
        return False  # a zombie: it holds nothing, whoever reaps it and whenever
    start = info.get("pid_start")
    return not start or _pid_start(pid) in ("", start)


def _same_machine(info: dict[str, Any]) -> bool | None:
    """True: the holder ran on this boot of this machine in our pid namespace; False: it ran
    on this host name before a reboot; None: another host (or we cannot tell)."""
    me = _identity()
    if info.get("host") != me["host"]:
        return None
    if info.get("boot_id") and me["boot_id"] and info["boot_id"] != me["boot_id"]:
        return False
    if info.get("pidns", "") != me["pidns"]:
        return None  # another container on this host: its pids mean nothing here
    return True


class RunLock:
    """The exclusive lock of one run folder; acquire with :func:`acquire`."""

    def __init__(self, path: Path, fd: int, info: dict[str, Any], heartbeat_s: float) -> None:
        self.path = path
        self.info = info
        self._fd: int | None = fd
        st = os.fstat(fd)
        self._inode = (st.st_dev, st.st_ino)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(heartbeat_s,), name="wann-run-lock", daemon=True
        )
        self._thread.start()

    def _beat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            fd = self._fd
            if fd is None:
                return
            # our inode only: a lock someone else created is not refreshed; a missed beat is
            # harmless (verify() tells whether the lock is still ours)
            with contextlib.suppress(OSError):
                os.utime(fd)

    def held(self) -> bool:
        """Whether ``run.lock`` is still the file this process created."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._inode

    def verify(self) -> None:
        """Refresh the heartbeat; raise :class:`RunLockError` if the lock was taken over.

        Called by the root before it writes each generation's results: a holder that was
        suspended past the stale time (and whose lock another process took over) stops
        instead of writing into a folder that is no longer its own.
        """
        if not self.held():
            other = _read_holder(self.path)
            who = other.describe() if other else "nobody (the lock file is gone)"
            raise RunLockError(
                f"{self.path.parent}: this run lost its lock {self.path} (now held by {who}); "
                f"stopping without writing more (was this process suspended for longer than "
                f"the stale time?)"
            )
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.utime(self._fd)

    def release(self) -> None:
        """Stop the heartbeat and delete the lock if it is still ours; idempotent."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        if self._fd is None:
            return
        try:
            if self.held():
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _create(path: Path, info: dict[str, Any]) -> int | None:
    """Create the lock file exclusively; ``None`` if it exists. Other OSErrors propagate."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    try:
        data = (json.dumps(info) + "\n").encode()
        if os.write(fd, data) != len(data):
            raise OSError(errno.EIO, "short write of the lock file")
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    return fd


def _take_over(path: Path, holder: Holder) -> bool:
    """Remove the stale lock ``holder`` (and only it); False if someone else got there first."""
    aside = path.with_name(f".{LOCK_NAME}.stale.{socket.gethostname()}.{os.getpid()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    st = os.stat(aside)
    if (st.st_dev, st.st_ino) != holder.inode:
        # a competing taker replaced the stale lock meanwhile: we moved a live lock; put it back
        with contextlib.suppress(OSError):
            os.link(aside, path)
        aside.unlink(missing_ok=True)
        return False
    aside.unlink(missing_ok=True)
    return True


def acquire(
    run_dir: Path,
    run_id: str = "",
    warn: Callable[[str], None] = print,
    heartbeat_s: float | None = None,
    stale_s: float | None = None,
    interrupted: Callable[[], bool] = lambda: False,
) -> RunLock:
    """Take the lock of ``run_dir`` (an existing folder) for this process.

    Returns at once when the folder is free or its lock is certainly stale (taken over with a
    warning); waits while a holder on another host has a late heartbeat, up to ``stale_s``
    (``interrupted()`` true, e.g. after Ctrl-C, ends the wait with :class:`RunLockError`).

    Raises:
        RunLockError: another live run holds the folder (the message names host, pid, since).
        OSError: the lock file cannot be created (unwritable folder, full disk).
    """
    heartbeat_s = heartbeat_s or _env_seconds("WANN_LOCK_HEARTBEAT_S", HEARTBEAT_S)
    stale_s = stale_s or _env_seconds("WANN_LOCK_STALE_S", STALE_S)
    path = Path(run_dir) / LOCK_NAME
    info = {**_identity(), "run_id": run_id, "token": secrets.token_hex(8)}
    watched: tuple[tuple[int, int], float] | None = None  # (inode, mtime) of a late holder
    watch_start = age0 = 0.0
    waiting = False
    unread = 0
    while True:
        fd = _create(path, info)
        if fd is not None:
            return RunLock(path, fd, info, heartbeat_s)
        holder = _read_holder(path)
        if holder is None:
            continue  # released meanwhile: try again
        if not holder.info and unread < 40:
            # perhaps created a moment ago, its line not yet written: read again (for 2 s at
            # most; then it is judged like a holder on another host, by its mtime)
            unread += 1
            time.sleep(0.05)
            continue
        same = _same_machine(holder.info) if holder.info else None
        why = ""
        if same is True:
            if _pid_alive(holder.info):
                raise _in_use(path, holder, "", stale_s)
            why = "its process is gone"
        elif same is False:
            why = "the host has rebooted since"
        else:
            key = (holder.inode, holder.mtime)
            if watched is None or watched[0] != holder.inode:
                watched, watch_start = key, time.monotonic()
                age0 = _fs_now(path.parent) - holder.mtime
            elif watched[1] != holder.mtime:
                raise _in_use(path, holder, " (its heartbeat is alive)", stale_s)
            age = age0 + time.monotonic() - watch_start
            if age < stale_s:
                if age < 2 * heartbeat_s:
                    raise _in_use(path, holder, f" (last heartbeat {age:.0f} s ago)", stale_s)
                if not waiting:
                    waiting = True
                    warn(
                        f"waiting up to {stale_s - age:.0f} s for the lock {path} of "
                        f"{holder.describe()}: its last heartbeat was {age:.0f} s ago (a holder "
                        f"that died on another node; a live one beats every {heartbeat_s:g} s)"
                    )
                if interrupted():
                    raise RunLockError(
                        f"stopped while waiting for the lock {path} of {holder.describe()}"
                    )
                time.sleep(min(1.0, heartbeat_s / 4, stale_s - age))
                continue
            why = f"no heartbeat for {age:.0f} s (stale after {stale_s:.0f} s)"
        if _take_over(path, holder):
            warn(f"warning: {path}: took over the stale lock of {holder.describe()}: {why}")
        watched = None


def _in_use(path: Path, holder: Holder, detail: str, stale_s: float) -> RunLockError:
    return RunLockError(
        f"run folder {path.parent} is in use by another run: {holder.describe()}{detail} "
        f"(lock {path}); wait for it to end or stop it (a lock whose holder died is taken "
        f"over: at once on the same host, after {stale_s:.0f} s without heartbeat from another)"
    )


def holder_of(run_dir: Path) -> Holder | None:
    """Who holds the lock of ``run_dir`` (``None``: no lock file)."""
    try:
        return _read_holder(Path(run_dir) / LOCK_NAME)
    except OSError:
        return None
