"""A throwaway PostgreSQL server for Airflow's metadata database: 127.0.0.1 only, a free port, a data
directory of its own, stopped like every other process the harness starts.

PostgreSQL refuses to run as root, and CI runs as root: then the server runs as the unprivileged
``postgres`` user (Debian's package creates it), switched to with ``setpriv``, which execs in place, so
the server is still the leader of the process group the harness stops.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.e2e.processes import ManagedProcess, free_port, port_is_free, wait_for

log = logging.getLogger(__name__)

#: The unprivileged account the server runs as when the harness runs as root.
SERVER_USER = "postgres"
DATABASE = "airflow"


def postgres_bindir() -> Path:
    """Where ``initdb`` and ``postgres`` live: on PATH, or Debian's versioned folder."""
    for name in ("initdb", "postgres"):
        found = shutil.which(name)
        if found and Path(found).resolve().with_name("postgres").exists():
            return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    raise RuntimeError(
        "PostgreSQL's server (initdb, postgres) is not installed: on Debian, apt-get install postgresql"
    )


class PostgresServer:
    """One PostgreSQL cluster with an ``airflow`` database, reachable only on 127.0.0.1.

    :param root: a directory to create the cluster under (made readable by the server's user).
    """

    def __init__(self, root: Path | None = None) -> None:
        self.bindir = postgres_bindir()
        self.root = root or Path(tempfile.mkdtemp(prefix="cfw-pg-"))
        self.data_dir = self.root / "data"
        self.port = free_port()
        self.user = SERVER_USER
        self.password = secrets.token_hex(16)
        self._as_user = self._switch_user()
        argv = [
            *self._as_user, str(self.bindir / "postgres"), "-D", str(self.data_dir),
            "-h", "127.0.0.1", "-p", str(self.port),
            # No Unix socket: nothing but the loopback TCP port.
            "-c", "unix_socket_directories=",
            "-c", "max_connections=300",
            # A throwaway database: durability only costs time here.
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        ]  # fmt: skip
        self.process = ManagedProcess(
            "postgres", argv, dict(os.environ), self.root / "postgres.log", stop_signal=signal.SIGINT
        )

    def _switch_user(self) -> list[str]:
        if os.geteuid() != 0:
            self.user = pwd.getpwuid(os.geteuid()).pw_name
            return []
        try:
            account = pwd.getpwnam(SERVER_USER)
        except KeyError as err:
            raise RuntimeError(
                f"running as root, and there is no {SERVER_USER!r} user for PostgreSQL to run as: "
                f"useradd --system {SERVER_USER}"
            ) from err
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise RuntimeError("running as root needs setpriv (util-linux) to start PostgreSQL unprivileged")
        self._uid, self._gid = account.pw_uid, account.pw_gid
        # The parent-death signal is cleared when the user changes, so it is set again after the
        # switch: SIGINT (fast shutdown) if the harness dies without stopping the server.
        return [
            setpriv, f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups",
            "--pdeathsig", "INT", "--",
        ]  # fmt: skip

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``airflow`` database, through psycopg2 (Airflow's postgres extra)."""
        return f"postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def dsn(self, database: str = DATABASE) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} password={self.password} dbname={database}"

    def start(self, timeout: float = 60.0) -> PostgresServer:
        self.root.mkdir(parents=True, exist_ok=True)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._as_user:
            for path in (self.root, pwfile):
                os.chown(path, self._uid, self._gid)
        initdb = [
            *self._as_user, str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", self.user,
            f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        ]  # fmt: skip
        result = subprocess.run(
            initdb,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        pwfile.unlink()
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        if not port_is_free(self.port):
            raise RuntimeError(f"port {self.port} was taken between choosing and starting; retry")
        self.process.start()
        wait_for("PostgreSQL to accept connections", self._ready, timeout, 0.3)
        self._create_database()
        log.info("PostgreSQL ready on 127.0.0.1:%s (data in %s)", self.port, self.data_dir)
        return self

    def _ready(self) -> bool:
        import psycopg2

        if not self.process.running():
            raise RuntimeError(f"PostgreSQL exited early; last lines:\n{self.process.tail()}")
        try:
            psycopg2.connect(self.dsn("postgres"), connect_timeout=2).close()
        except psycopg2.OperationalError:
            return False
        return True

    def _create_database(self) -> None:
        import psycopg2

        conn = psycopg2.connect(self.dsn("postgres"), connect_timeout=5)
        try:
            conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {DATABASE}")
        finally:
            conn.close()

    def stop(self) -> None:
        self.process.stop()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            with contextlib.suppress(Exception):
                self.cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
