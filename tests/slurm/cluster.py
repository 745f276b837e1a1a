"""A real one-node Slurm cluster on this machine, for the tests in this folder.

:class:`LocalSlurm` writes a munge key and a ``slurm.conf`` into a private folder, starts
``munged``, ``slurmctld`` and ``slurmd`` in the foreground (so it knows their PIDs), waits
until ``sinfo`` shows the node idle, and stops exactly those processes again (by PID) in
:meth:`LocalSlurm.stop`. Nothing outside the folder is touched: the munge socket, key, state,
spool, logs and ports are private, so a system Slurm or a second test session can run beside.

Timing knobs (slurm.conf(5)), chosen so the requeue test takes a minute or two, not five:

* ``AuthInfo=cred_expire=N``: "This also controls how long a requeued job must wait before
  starting again. The default value is 120 seconds." (about 150 s when measured here).
* ``SchedulerParameters=sched_interval=N,bf_interval=N``: the main and backfill scheduling
  loops (default 60 s and 30 s) that start a requeued job once its begin time has passed.
* ``KillWait``: seconds between SIGTERM and SIGKILL at the time limit (default 30).

Usable by hand too: ``python tests/slurm/cluster.py DIR`` starts one and prints the
``SLURM_CONF`` to export; Ctrl-C stops it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

try:
    from harness import wait_for
except ImportError:  # run as a script: tests/ is not on sys.path yet
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from harness import wait_for

DAEMONS = ("munged", "slurmctld", "slurmd", "sinfo", "sbatch", "scontrol", "squeue")


def missing_programs() -> list[str]:
    """Slurm/munge programs not on PATH (empty when a local cluster can be started)."""
    return [p for p in DAEMONS if shutil.which(p) is None]


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class LocalSlurm:
    """One slurmctld + slurmd (+ munged) on this host, configured under ``root``.

    Args:
        root: private folder for key, conf, state, spool, logs (created).
        cpus: CPUs the node offers.
        cred_expire: seconds a requeued job waits before it may start again.
        sched_interval: seconds between full scheduling passes.
    """

    def __init__(
        self, root: Path, cpus: int = 2, cred_expire: int = 10, sched_interval: int = 2
    ) -> None:
        self.root = Path(root)
        self.cpus = cpus
        self.cred_expire = cred_expire
        self.sched_interval = sched_interval
        self.host = socket.gethostname().split(".")[0]
        self.conf = self.root / "slurm.conf"
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.job_ids: list[str] = []

    # ----- environment for clients -------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """os.environ plus ``SLURM_CONF`` pointing at this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        """Run a Slurm client command against this cluster; returns stdout."""
        proc = subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}\n"
                + self.diagnostics()
            )
        return proc.stdout

    # ----- start / stop ------------------------------------------------------------------

    def _write_files(self) -> None:
        r = self.root
        for sub in ("state", "spool", "log", "munge"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        munge = pwd.getpwnam("munge")
        os.chown(r / "munge", munge.pw_uid, munge.pw_gid)
        os.chmod(r / "munge", 0o700)
        key = r / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chown(key, munge.pw_uid, munge.pw_gid)
        os.chmod(key, 0o400)
        ctld_port, slurmd_port = _free_ports(2)
        self.munge_socket = r / "munge" / "munge.socket"
        self.conf.write_text(
            "\n".join(
                [
                    "# Written by tests/slurm/cluster.py: a private one-node test cluster.",
                    "ClusterName=wanntest",
                    f"SlurmctldHost={self.host}(127.0.0.1)",
                    f"SlurmctldPort={ctld_port}",
                    f"SlurmdPort={slurmd_port}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={self.munge_socket},cred_expire={self.cred_expire}",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core",
                    "MpiDefault=none",
                    "ReturnToService=2",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "JobCompType=jobcomp/none",
                    f"SchedulerParameters=sched_interval={self.sched_interval},bf_interval=1",
                    "KillWait=10",
                    "MinJobAge=600",
                    f"StateSaveLocation={r / 'state'}",
                    f"SlurmdSpoolDir={r / 'spool'}",
                    f"SlurmctldPidFile={r / 'slurmctld.pid'}",
                    f"SlurmdPidFile={r / 'slurmd.pid'}",
                    f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}",
                    f"SlurmdLogFile={r / 'log' / 'slurmd.log'}",
                    f"NodeName={self.host} NodeAddr=127.0.0.1 CPUs={self.cpus} "
                    "RealMemory=2000 State=UNKNOWN",
                    f"PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE "
                    "State=UP OverSubscribe=FORCE:8",
                    "",
                ]
            )
        )

    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.root / "log" / f"{name}.out"
        self.logs[name] = log
        with open(log, "w") as fh:
            self.procs[name] = subprocess.Popen(
                args, stdout=fh, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode} while starting\n" + self.diagnostics()
                )

    def start(self, timeout: float = 60) -> LocalSlurm:
        """Start munged, slurmctld and slurmd; return once the node is idle."""
        self._write_files()
        m = self.root / "munge"
        self._spawn(
            "munged",
            [
                "munged",
                "--foreground",
                "--force",
                f"--socket={self.munge_socket}",
                f"--key-file={m / 'munge.key'}",
                f"--pid-file={m / 'munged.pid'}",
                f"--log-file={self.root / 'log' / 'munged.log'}",
                f"--seed-file={m / 'munged.seed'}",
            ],
        )
        wait_for(
            lambda: self._check_alive() or self.munge_socket.exists(), timeout, "munged's socket"
        )
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf)])

        def idle() -> bool:
            self._check_alive()
            out = subprocess.run(
                ["sinfo", "-h", "-N", "-o", "%t"], env=self.env, capture_output=True, text=True
            )
            return out.returncode == 0 and out.stdout.strip() == "idle"

        wait_for(idle, timeout, "sinfo to show the node idle", interval=0.5)
        return self

    def stop(self) -> None:
        """Cancel this cluster's jobs (their processes end with them), then stop slurmd,
        slurmctld and munged by PID."""
        if self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None:
            # every job of this private cluster: sbatch'd ones and srun steps of other tests
            listed = self.run("squeue", "-h", "-o", "%A", check=False, timeout=30).split()
            for job in dict.fromkeys(self.job_ids + listed):
                subprocess.run(["scancel", job], env=self.env, capture_output=True, timeout=30)
            with contextlib.suppress(TimeoutError, subprocess.TimeoutExpired):
                wait_for(
                    lambda: not self.run("squeue", "-h", check=False, timeout=30).strip(),
                    60,
                    "jobs to end",
                    interval=0.5,
                )
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)

    # ----- jobs ------------------------------------------------------------------------

    def sbatch(self, *args: str, cwd: Path | None = None, env: dict | None = None) -> str:
        """Submit a batch job; returns its id (remembered so :meth:`stop` can cancel it)."""
        proc = subprocess.run(
            ["sbatch", "--parsable", *args],
            env={**self.env, **(env or {})},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"sbatch {' '.join(args)} failed: {proc.stderr}")
        job = proc.stdout.strip().split(";")[0]
        self.job_ids.append(job)
        return job

    def job_info(self, job: str) -> dict[str, str]:
        """``scontrol show job`` as a dict (for an array: the first element's record)."""
        out = self.run("scontrol", "-o", "show", "job", job, check=False)
        info: dict[str, str] = {}
        for token in out.splitlines()[0].split() if out.strip() else []:
            if "=" in token:
                k, v = token.split("=", 1)
                info.setdefault(k, v)
        return info

    def job_states(self, job: str) -> list[str]:
        """States of a job or of every element of a job array."""
        out = self.run("scontrol", "-o", "show", "job", job, check=False)
        states = []
        for line in out.splitlines():
            for token in line.split():
                if token.startswith("JobState="):
                    states.append(token.split("=", 1)[1])
        return states

    def wait_job(self, job: str, timeout: float) -> list[str]:
        """Wait until a job (every element of an array) has ended; returns the states."""
        ended = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"}
        ended |= {"BOOT_FAIL", "DEADLINE", "PREEMPTED"}

        def done():
            states = self.job_states(job)
            return states if states and all(s in ended for s in states) else None

        try:
            return wait_for(done, timeout, f"job {job} to end", interval=1.0)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.diagnostics(job)}") from None

    def diagnostics(self, job: str | None = None) -> str:
        """Tail of the daemon logs and the job record, for failure messages."""
        parts = []
        if job:
            out = subprocess.run(
                ["scontrol", "show", "job", job], env=self.env, capture_output=True, text=True
            )
            parts.append(f"--- scontrol show job {job}\n{out.stdout}{out.stderr}")
        for name in ("slurmctld.log", "slurmd.log", "munged.log"):
            path = self.root / "log" / name
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-15:]
                parts.append(f"--- {path}\n" + "\n".join(tail))
        for name, path in self.logs.items():
            if path.exists() and path.stat().st_size:
                tail = path.read_text(errors="replace").splitlines()[-10:]
                parts.append(f"--- {name} output\n" + "\n".join(tail))
        return "\n".join(parts)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    # Not a blocked signal mask: the daemons would inherit it and ignore SIGTERM.
    signal.signal(signal.SIGTERM, _interrupt)
    cluster = LocalSlurm(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/wann-slurm"))
    try:
        cluster.start()
        print(f"export SLURM_CONF={cluster.conf}", flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
