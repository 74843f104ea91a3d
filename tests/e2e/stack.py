"""A real Airflow stack on 127.0.0.1. Airflow 3: api-server (execution API), scheduler, dag-processor,
triggerer(s); Airflow 2: scheduler and triggerer(s) (the scheduler parses the DAGs itself).

LocalExecutor, on SQLite or PostgreSQL, in a throwaway AIRFLOW_HOME. Results are read back from
Airflow's own records (the metadata database, read-only) and its logs, never from what the test itself
believes happened.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.e2e.processes import ManagedProcess, free_port, http_ok, port_is_free, stop_all, wait_for
from tests.e2e.records import PostgresDatabase, Records

if TYPE_CHECKING:
    from tests.e2e.postgres import PostgresServer

log = logging.getLogger(__name__)

FINISHED_RUN_STATES = frozenset({"success", "failed"})

# ---- issue 33: the overrides that a race stack (timing_defaults=True) leaves at Airflow's defaults ----
#: Each changes when a deferring try's executor event reaches the scheduler: the worker's supervisor
#: sees its task process exit at its next wake-up (``min_heartbeat_interval``), and the heartbeats load
#: the scheduler's loop and the database. The triggerer's health threshold goes with its heartbeat: 5 s
#: under the default 5 s heartbeat would make a live triggerer look dead.
DEFERRAL_TIMING = (
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC",
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD",
)
# ---- end of issue 33's block ------------------------------------------------------------------------
REPO_ROOT = Path(__file__).resolve().parents[2]


def _airflow_bin() -> str:
    # The `airflow` script next to this interpreter: the venv the package is installed in.
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


def airflow_major() -> int:
    """The major version of the Airflow installed next to this interpreter."""
    return int(importlib.metadata.version("apache-airflow").split(".")[0])


def _fernet_key() -> str:
    # A real key, so trigger kwargs are encrypted at rest as in production.
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class AirflowStack:
    """Own an AIRFLOW_HOME and the Airflow processes that serve it.

    :param home: an empty directory to become AIRFLOW_HOME.
    :param dags_folder: the folder the dag-processor parses.
    :param env: extra environment (connections, ``AIRFLOW__...`` overrides) for every process.
    :param parallelism: ``core.parallelism``, the LocalExecutor's worker slots.
    :param database: a started PostgreSQL server for the metadata database; ``None`` uses SQLite.
    :param triggerer: start the usual single ``triggerer``; ``False`` leaves triggerers to
        :meth:`add_triggerer`.
    :param timing_defaults: leave every setting in :data:`DEFERRAL_TIMING` at Airflow's default.
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        env: Mapping[str, str] | None = None,
        parallelism: int = 2,
        database: PostgresServer | None = None,
        triggerer: bool = True,
        timing_defaults: bool = False,
    ) -> None:
        self.home = home
        self.timing_defaults = timing_defaults
        self.dags_folder = dags_folder
        self.airflow_major = airflow_major()
        self.api_port = free_port()
        self.db_path = home / "airflow.db"
        self.logs_dir = home / "logs"
        self.process_logs = home / "process-logs"
        self.database = database
        self.env = self._build_env(env or {}, parallelism)
        self.records = Records(
            PostgresDatabase(database.dsn()) if database else self.db_path, self.airflow_major
        )
        self.processes: dict[str, ManagedProcess] = {}
        airflow = _airflow_bin()
        commands = {"scheduler": [airflow, "scheduler", "--skip-serve-logs"]}
        if self.airflow_major >= 3:
            commands["api-server"] = [
                airflow, "api-server", "--apps", "execution", "--host", "127.0.0.1",
                "--port", str(self.api_port), "--workers", "1",
            ]  # fmt: skip
            commands["dag-processor"] = [airflow, "dag-processor"]
        for name, argv in commands.items():
            self.processes[name] = ManagedProcess(name, argv, self.env, self.process_logs / f"{name}.log")
        if triggerer:
            self.add_triggerer("triggerer")

    def add_triggerer(
        self, name: str, capacity: int | None = None, env: Mapping[str, str] | None = None
    ) -> ManagedProcess:
        """Declare one more triggerer (started by :meth:`start`, or by the caller later).

        :param name: the process's name here, and its log file's.
        :param capacity: ``--capacity``: the most triggers it runs at once.
        :param env: environment overrides for this process only.
        """
        if name in self.processes:
            raise ValueError(f"there is already a process called {name!r}")
        argv = [_airflow_bin(), "triggerer", "--skip-serve-logs"]
        if capacity is not None:
            argv += ["--capacity", str(capacity)]
        proc = ManagedProcess(name, argv, {**self.env, **(env or {})}, self.process_logs / f"{name}.log")
        self.processes[name] = proc
        return proc

    # -- issue 32: processes beyond the usual ones (the production stack's Celery workers) ----------
    def add_process(self, name: str, args: list[str], env: Mapping[str, str] | None = None) -> ManagedProcess:
        """Declare one more ``airflow`` process, started with the others by :meth:`start`.

        :param name: the process's name here, and its log file's.
        :param args: the ``airflow`` subcommand and its options, e.g. ``["celery", "worker", ...]``.
        :param env: environment overrides for this process only.
        """
        if name in self.processes:
            raise ValueError(f"there is already a process called {name!r}")
        argv = [_airflow_bin(), *args]
        proc = ManagedProcess(name, argv, {**self.env, **(env or {})}, self.process_logs / f"{name}.log")
        self.processes[name] = proc
        return proc

    # -- end of issue 32 ---------------------------------------------------------------------------

    @property
    def triggerers(self) -> dict[str, ManagedProcess]:
        return {name: p for name, p in self.processes.items() if p.argv[1:2] == ["triggerer"]}

    def _build_env(self, extra: Mapping[str, str], parallelism: int) -> dict[str, str]:
        # Start from the caller's environment without any AIRFLOW_* of theirs leaking in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": str(parallelism),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
                    self.database.url if self.database else f"sqlite:///{self.db_path}"
                ),
                # 64+ bytes: the api-server signs task tokens with it and refuses short secrets.
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(64),
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
                # Faster turns of every loop: the defaults are tuned for production, not a test.
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                # A triggerer killed with SIGKILL never says goodbye: its triggers go to the next
                # triggerer only once its heartbeat is this old.
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
                # Airflow 2's names for the same two (its scheduler parses the DAGs).
                "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "30",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
            }
        )
        if self.timing_defaults:  # issue 33: Airflow's own defaults for the deferral's timing
            for key in DEFERRAL_TIMING:
                env.pop(key)
        env.update(extra)
        return env

    # ---- lifecycle -------------------------------------------------------------------------

    def migrate(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.process_logs.mkdir(parents=True, exist_ok=True)
        out = self.process_logs / "db-migrate.log"
        with out.open("wb") as fh:
            result = subprocess.run(
                [_airflow_bin(), "db", "migrate"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=180,
                check=False,
            )
        if result.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed; see {out}:\n{out.read_text()[-3000:]}")

    def start(self, timeout: float = 90.0) -> None:
        """Migrate, then start every declared process at once (none needs another to boot) and, on
        Airflow 3, wait for the api-server.

        Tasks and the triggerer call the api-server's execution API only once work arrives, which
        cannot happen before the dag-processor has parsed the DAGs and the api-server is healthy.
        """
        if self.airflow_major >= 3 and not port_is_free(self.api_port):
            raise RuntimeError(f"port {self.api_port} was taken between choosing and starting; retry")
        self.migrate()
        for proc in self.processes.values():
            proc.start()
        if self.airflow_major >= 3:
            health = f"http://127.0.0.1:{self.api_port}/execution/health"
            self._wait_alive("api-server", lambda: http_ok(health), timeout)

    def start_triggerer(self, name: str, timeout: float = 90.0) -> int:
        """Start a declared triggerer and return its TriggererJob id: the one new running row that
        appears (start triggerers one at a time, so the row is unambiguously this process's)."""
        before = set(self.records.triggerer_jobs())
        self.processes[name].start()

        def registered() -> int | None:
            self.check_alive()
            new = {
                i
                for i, (state, _) in self.records.triggerer_jobs().items()
                if i not in before and state == "running"
            }
            if len(new) > 1:
                raise RuntimeError(f"{len(new)} new triggerer jobs appeared at once: {sorted(new)}")
            return next(iter(new), None)

        return wait_for(f"{name} to register", registered, timeout, 0.2)

    def _wait_alive(self, name: str, check: Any, timeout: float) -> None:
        proc = self.processes[name]

        def ready() -> bool:
            if not proc.running():
                raise RuntimeError(f"{name} exited early; last lines:\n{proc.tail()}")
            return bool(check())

        wait_for(name, ready, timeout)

    def stop(self) -> None:
        """Stop everything this stack started, side by side (the scheduler with its workers)."""
        stop_all(list(self.processes.values()))
        self.records.close()

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.starts and not proc.running() and not proc.halted:
                raise RuntimeError(f"{name} died; last lines:\n{proc.tail()}")

    # ---- driving DAGs ------------------------------------------------------------------------

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 60.0) -> None:
        wanted = set(dag_ids)

        def parsed() -> bool:
            self.check_alive()
            errors = self.records.import_errors()
            if errors:
                raise RuntimeError(f"DAG import errors: {errors}")
            return wanted <= self.records.active_dag_ids()

        wait_for(f"DAGs {sorted(wanted)} to be parsed", parsed, timeout)

    def airflow(self, *args: str, timeout: float = 120.0) -> str:
        """Run an ``airflow`` CLI command against this home; return its stdout."""
        return self._run([_airflow_bin(), *args], f"airflow {' '.join(args)}", timeout)

    def trigger(self, dag_id: str, run_id: str, conf: Mapping[str, Any] | None = None) -> None:
        self.trigger_many([(dag_id, run_id, conf or {})])

    def trigger_many(
        self, runs: Iterable[tuple[str, str, Mapping[str, Any]]], timeout: float = 120.0
    ) -> None:
        """``airflow dags trigger`` for each run, through the CLI's own parser, in one process."""
        payload = json.dumps([[dag_id, run_id, dict(conf)] for dag_id, run_id, conf in runs])
        self._run([sys.executable, "-m", "tests.e2e.trigger_runs", payload], f"triggering {payload}", timeout)

    def _run(self, argv: list[str], what: str, timeout: float) -> str:
        result = subprocess.run(
            argv,
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{what} failed:\n{result.stdout}\n{result.stderr[-3000:]}")
        return result.stdout

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 120.0) -> str:
        def finished() -> str | None:
            self.check_alive()
            state = self.records.dag_run_state(dag_id, run_id)
            return state if state in FINISHED_RUN_STATES else None

        return wait_for(f"run {dag_id}/{run_id} to finish", finished, timeout, interval=0.5)

    def _task_log_folder(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Path:
        folder = self.logs_dir / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return folder / f"map_index={map_index}" if map_index >= 0 else folder

    def trigger_logs(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> dict[int, str]:
        """Trigger logs of one try, by triggerer job id: the triggerer writes
        ``attempt=N.log.trigger.<triggerer job id>.log`` next to the task's own log."""
        folder = self._task_log_folder(dag_id, run_id, task_id, map_index)
        logs = {}
        for path in folder.glob(f"attempt={try_number}.log.trigger.*.log"):
            job_id = path.name.removeprefix(f"attempt={try_number}.log.trigger.").removesuffix(".log")
            logs[int(job_id)] = path.read_text(errors="replace")
        return logs

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The task's log file plus any trigger log the triggerer wrote next to it."""
        folder = self._task_log_folder(dag_id, run_id, task_id)
        texts = []
        for path in sorted(folder.glob(f"attempt={try_number}.log*")):
            texts.append(f"--- {path.name}\n{path.read_text(errors='replace')}")
        return "\n".join(texts)

    @staticmethod
    def copy_dags(sources: Iterable[Path], folder: Path) -> Path:
        """Copy DAG files into ``folder``: the dag-processor then parses exactly these, and no
        bytecode or stray file lands in the checkout."""
        folder.mkdir(parents=True, exist_ok=True)
        for source in sources:
            shutil.copy2(source, folder / source.name)
        return folder

    def cleanup(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)
