"""The production stack (``make e2e-production``): Airflow's CeleryExecutor with two workers, a Redis
broker, PostgreSQL as metadata database and Celery result backend, OpenLineage's listener installed
with a file transport.

:data:`PRODUCTION_SETTINGS` is what docs/production.md shows as the settings that matter for CFW waits;
tests/test_docs_production.py checks that the page and this module agree.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tests.e2e.processes import ManagedProcess, free_port, port_is_free, wait_for
from tests.e2e.stack import AirflowStack

log = logging.getLogger(__name__)

#: The Celery workers: two, each its own Celery hostname (``-H``), as on two hosts.
WORKERS = ("worker-a", "worker-b")
#: Task slots per worker (``airflow celery worker -c``).
WORKER_CONCURRENCY = 4
#: The queues the workers and the triggerer serve: Airflow's default one, and one the fast waits are
#: sent to (``queue="cfw"``), so that ``[triggerer] queues_enabled`` has a queue of its own to route.
QUEUES = "default,cfw"
#: Where the page's settings block says OpenLineage writes its events, and the placeholders of its URLs.
DOCS_LINEAGE_FILE = Path("/var/log/airflow/openlineage.jsonl")
DOCS_BROKER_URL = "redis://REDIS_HOST:6379/0"
DOCS_DATABASE_URL = "postgresql+psycopg2://USER:PASSWORD@DB_HOST:5432/airflow"

#: The Airflow settings of docs/production.md, as this stack runs them (``[section] key`` -> value).
#: The heartbeat timeout is Airflow's 300 s lowered to 30 s so a lost worker's tasks come back within
#: the test's budget; min_heartbeat_interval stays at Airflow's default (5 s), the setting that decides
#: how long a deferring task's process outlives its deferral (issue 33), so the race meets it as
#: deployments do. A task a killed worker had taken from the broker but not started yet stays queued
#: in Airflow until ``task_queued_timeout`` (default 600 s, checked every 120 s) sends it again: 90 s,
#: checked every 15 s, here. The triggerer's capacity and default_deferrable are Airflow's defaults.
PRODUCTION_SETTINGS: dict[str, str] = {
    "[core] executor": "CeleryExecutor",
    "[scheduler] task_instance_heartbeat_timeout": "30",
    "[scheduler] task_instance_heartbeat_timeout_detection_interval": "10",
    "[scheduler] task_queued_timeout": "90",
    "[scheduler] task_queued_timeout_check_interval": "15",
    "[workers] min_heartbeat_interval": "5",
    "[celery] worker_concurrency": str(WORKER_CONCURRENCY),
    "[celery] worker_prefetch_multiplier": "1",
    "[triggerer] capacity": "1000",
    "[triggerer] queues_enabled": "True",
    "[operators] default_deferrable": "False",
}


def setting_env(settings: Mapping[str, str]) -> dict[str, str]:
    """``[section] key`` -> ``AIRFLOW__SECTION__KEY``."""
    env = {}
    for name, value in settings.items():
        section, key = name.removeprefix("[").split("] ")
        env[f"AIRFLOW__{section.upper()}__{key.upper()}"] = value
    return env


class RedisServer:
    """Debian's ``redis-server`` on a free 127.0.0.1 port, no persistence, its files in a temp dir.

    :param root: the directory it runs in (a new temp dir unless given).
    """

    def __init__(self, root: Path | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: make redis-server (Debian's redis-server)")
        self.root = root or Path(tempfile.mkdtemp(prefix="cfw-redis-"))
        self.port = free_port()
        argv = [
            binary, "--bind", "127.0.0.1", "--port", str(self.port), "--unixsocket", "",
            # A broker for one test run: nothing written to disk.
            "--save", "", "--appendonly", "no", "--dir", str(self.root), "--daemonize", "no",
        ]  # fmt: skip
        self.process = ManagedProcess("redis", argv, dict(os.environ), self.root / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _ready(self) -> bool:
        if not self.process.running():
            raise RuntimeError(f"redis-server exited early; last lines:\n{self.process.tail()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self, timeout: float = 30.0) -> RedisServer:
        if not port_is_free(self.port):
            raise RuntimeError(f"port {self.port} was taken between choosing and starting; retry")
        self.process.start()
        wait_for("Redis to answer PING", self._ready, timeout, 0.2)
        log.info("Redis ready on %s", self.url)
        return self

    def cleanup(self) -> None:
        self.process.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def deployment_settings(broker_url: str, database_url: str, lineage_file: Path) -> dict[str, str]:
    """Every setting the stack adds to Airflow's defaults (``[section] key`` -> value), besides the
    test harness's own (AIRFLOW_HOME, ports, keys, fast loops: :class:`AirflowStack`).

    :param broker_url: the Redis broker, ``redis://host:port/db``.
    :param database_url: the metadata database's SQLAlchemy URL (``postgresql+psycopg2://...``).
    :param lineage_file: where OpenLineage's file transport appends its events.
    """
    transport = {"type": "file", "log_file_path": str(lineage_file), "append": True}
    return {
        **PRODUCTION_SETTINGS,
        "[celery] broker_url": broker_url,
        # Celery's SQLAlchemy backend wants the "db+" prefix, and psycopg2 (psycopg 3 is not a driver
        # it knows); without them the workers cannot store a task's state.
        "[celery] result_backend": f"db+{database_url}",
        "[openlineage] transport": json.dumps(transport),
        "[openlineage] namespace": "cfw-e2e-production",
    }


def lineage_events(events_file: Path) -> list[dict[str, Any]]:
    """The OpenLineage events the listener emitted so far."""
    if not events_file.exists():
        return []
    events = []
    for line in events_file.read_text(errors="replace").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            events.append(json.loads(line))
    return events


def worker_args(name: str) -> list[str]:
    """``airflow ...`` arguments of one Celery worker (its Celery hostname ``name@<host>``)."""
    return ["celery", "worker", "-H", f"{name}@%h", "-q", QUEUES, "--skip-serve-logs"]


def triggerer_args() -> list[str]:
    """``airflow ...`` arguments of the triggerer: it runs the triggers of both queues."""
    return ["triggerer", "--queues", QUEUES, "--skip-serve-logs"]


def declare_processes(stack: AirflowStack) -> None:
    """The triggerer (the stack is made without its own) and two Celery workers, each its own Celery
    hostname and log, started with the rest of the stack."""
    stack.add_process("triggerer", triggerer_args())
    for name in WORKERS:
        stack.add_process(name, worker_args(name))


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, process group) of every live process (zombies left out: a killed task
    process reparented to a PID 1 that does not reap stays one)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            table[int(entry)] = (int(fields[1]), int(fields[2]))
    return table


def descendants(root: int) -> dict[int, int]:
    """pid -> process group of ``root`` and everything below it."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found[pid] = table[pid][1]
            todo.extend(children.get(pid, ()))
    return found


def kill_host(worker: ManagedProcess) -> int:
    """SIGKILL a Celery worker as a lost host: its process group and the groups below it (Airflow's
    supervisor puts each task process in a group of its own); return how many processes were hit."""
    if worker.pid is None:
        raise RuntimeError(f"{worker.name} was never started")
    tree = descendants(worker.pid)
    worker.halted = True
    for pgid in sorted(set(tree.values()), key=lambda g: g != worker.pid):
        ManagedProcess.signal_group(pgid, signal.SIGKILL)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if worker.proc is not None:
        worker.proc.wait(timeout=10)

    def gone() -> bool:
        return not set(tree) & set(_proc_table())

    wait_for(f"{worker.name} and its tasks to die", gone, 10, 0.1)
    return len(tree)


@contextlib.contextmanager
def broker() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server.start()
    finally:
        server.cleanup()
