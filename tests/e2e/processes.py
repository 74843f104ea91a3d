"""Start and stop the stack's processes: each in its own process group, stopped by its id, never by name."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A port nobody listens on right now on 127.0.0.1, below the ephemeral range.

    A server is started seconds after its port is chosen (after ``db migrate``, after ``initdb``). A
    port the OS hands out for binding to 0 comes from the ephemeral range, which every outgoing
    connection on the machine draws its source port from, so one of them may take it meanwhile; a
    port below that range is only ever taken by someone who asks for it.
    """
    low, _ = _ephemeral_range()
    rng = random.SystemRandom()
    for _ in range(100):
        port = rng.randrange(10_000, max(10_001, low))
        if port_is_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for(what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T:
    """Poll ``check`` until it returns something truthy; bounded by ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError):
        return False


def _orphan_guard() -> list[str]:
    """A prefix that SIGTERMs the process if the Python process that started it dies (even by SIGKILL),
    so an interrupted test run cannot leave a scheduler behind. ``setpriv`` is in util-linux."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


class ManagedProcess:
    """One long-running process with its output in a log file.

    It runs in a new session, so it leads its own process group: the scheduler's LocalExecutor
    workers and the task processes they fork stay in that group and are stopped with it.

    :param stop_signal: the signal that asks it to stop (PostgreSQL's fast shutdown is SIGINT; its
        SIGTERM waits for every client to leave).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.stop_signal = stop_signal
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        #: Stopped or killed on purpose (by :meth:`kill` or :func:`stop_all`), not dead by surprise.
        self.halted = False

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        if self.running():
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Appending keeps the first life's lines when a process is restarted (the triggerer test).
        with self.log_path.open("ab") as out:
            out.write(f"\n===== start #{self.starts + 1}: {' '.join(self.argv)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                [*_orphan_guard(), *self.argv],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self.halted = False
        log.info("started %s, pid %s", self.name, self.proc.pid)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @staticmethod
    def group_alive(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    @staticmethod
    def signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM the group, wait; SIGTERM again, wait; then SIGKILL whatever is left of the group."""
        stop_all([self], grace)

    def kill(self) -> None:
        """SIGKILL the whole group at once: a crash, with no chance to clean up."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        self.halted = True
        self.signal_group(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        wait_for(f"{self.name} group to die", lambda: not self.group_alive(pgid), 10, 0.1)

    def group_rss(self) -> int:
        """Resident memory of every process in its group, in bytes (a triggerer is a supervisor plus
        the subprocess that runs the triggers)."""
        import psutil

        if not self.running() or self.proc is None:
            return 0
        total = 0
        for proc in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(proc.pid) == self.proc.pid:
                    total += proc.memory_info().rss
            except (ProcessLookupError, psutil.Error):
                continue
        return total

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def stop_all(processes: Sequence[ManagedProcess], grace: float = 15.0) -> None:
    """Stop several processes side by side: send each group its stop signal (SIGTERM unless the process
    says otherwise), wait up to ``grace``; SIGTERM the
    survivors again, wait half as long; then SIGKILL what is left. Each group is addressed by the id of
    the process that leads it, never by name."""
    groups = {p.proc.pid: p for p in processes if p.proc is not None}
    for proc in processes:
        proc.halted = True
    for sig, wait in ((None, grace), (signal.SIGTERM, grace / 2), (signal.SIGKILL, 5.0)):
        alive = {pgid: p for pgid, p in groups.items() if ManagedProcess.group_alive(pgid)}
        if not alive:
            break
        for pgid, proc in alive.items():
            send = sig or proc.stop_signal
            log.info("sending %s to %s (process group %s)", send.name, proc.name, pgid)
            ManagedProcess.signal_group(pgid, send)
        began = time.monotonic()
        while time.monotonic() < began + wait and alive:
            for pgid, proc in list(alive.items()):
                # Reap each leader as soon as it exits, or it stays a zombie and its group looks alive.
                if proc.proc is not None:
                    proc.proc.poll()
                if not ManagedProcess.group_alive(pgid):
                    log.info(
                        "%s gone %.1f s after %s",
                        proc.name,
                        time.monotonic() - began,
                        (sig or proc.stop_signal).name,
                    )
                    del alive[pgid]
            time.sleep(0.2)
    for pgid, proc in groups.items():
        if proc.proc is not None:
            proc.proc.poll()
        if ManagedProcess.group_alive(pgid):
            log.warning("process group %s of %s is still alive after SIGKILL", pgid, proc.name)
        else:
            log.info("%s stopped (exit code %s)", proc.name, proc.proc.returncode if proc.proc else None)
