"""One end-to-end session: the emulator, a throwaway AIRFLOW_HOME and the Airflow stack, started and
stopped together; DAG runs launched on it and read back from Airflow's records."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_cfw.testing import CfwEmulator
from airflow_provider_cfw.testing.firewalls import FAST_FIREWALL_JOB_SECONDS
from tests.e2e.postgres import PostgresServer
from tests.e2e.records import Sampler
from tests.e2e.scenario import FakeAccount, RunResult, job_polls, start_emulator, write_config
from tests.e2e.stack import FINISHED_RUN_STATES, AirflowStack

log = logging.getLogger(__name__)


@dataclass
class Launch:
    """A run that was triggered and is being watched."""

    dag_id: str
    run_id: str
    conf: Mapping[str, Any]
    sampler: Sampler
    started: float = field(default_factory=time.monotonic)
    result: RunResult | None = None


class E2eSession:
    """Own everything one demo or test session starts; :meth:`close` stops all of it.

    :param dag_files: DAG files copied into the session's DAGs folder.
    :param dag_ids: the DAGs to wait for before the session counts as started.
    :param jobs: scripted jobs for the emulator's config file (``job_id``, ``statuses``...).
    :param parallelism: worker slots of the LocalExecutor.
    :param keep_home: leave the AIRFLOW_HOME (logs, database) behind for a post-mortem.
    :param postgres: keep Airflow's metadata in a throwaway PostgreSQL server instead of SQLite; a
        :class:`PostgresServer` not yet started is used (and started, and removed) instead of a new one,
        so a caller can put its URL in ``env`` beforehand.
    :param triggerer: start the usual single triggerer; ``False`` leaves triggerers to the caller
        (:meth:`AirflowStack.add_triggerer`, :meth:`AirflowStack.start_triggerer`).
    :param env: extra environment for every Airflow process (``AIRFLOW__...`` overrides).
    :param firewall_job_seconds: how long the emulator's firewall jobs run (a second: tests want
        them done; the demo asks for longer).
    :param airflow_timing_defaults: leave the settings that time a deferral at Airflow's defaults
        (:data:`~tests.e2e.stack.DEFERRAL_TIMING`), as the race measurement needs.
    :param plugins: files copied into the stack's plugins folder (an Airflow plugin each).
    :param prepare: called with the stack once it is declared and before it starts, to declare more
        processes (:meth:`AirflowStack.add_process`).
    """

    def __init__(
        self,
        dag_files: Iterable[Path],
        dag_ids: Iterable[str],
        jobs: Iterable[Mapping[str, Any]],
        parallelism: int = 1,
        keep_home: bool = False,
        postgres: bool | PostgresServer = False,
        triggerer: bool = True,
        env: Mapping[str, str] | None = None,
        firewall_job_seconds: float = FAST_FIREWALL_JOB_SECONDS,
        airflow_timing_defaults: bool = False,
        plugins: Iterable[Path] = (),
        prepare: Callable[[AirflowStack], None] | None = None,
    ) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="cfw-e2e-"))
        self.keep_home = keep_home
        self.account = FakeAccount.generate()
        self.config_path = write_config(
            self.home / "emulator.json", self.account.emulator_config(jobs, firewall_job_seconds)
        )
        self.dag_files = list(dag_files)
        self.dag_ids = list(dag_ids)
        self.parallelism = parallelism
        self.use_postgres = bool(postgres)
        self.prepare = prepare
        self.with_triggerer = triggerer
        self.extra_env = dict(env or {})
        self.timing_defaults = airflow_timing_defaults
        self.plugins = list(plugins)
        self.emulator: CfwEmulator | None = None
        self.postgres: PostgresServer | None = postgres if isinstance(postgres, PostgresServer) else None
        self.stack: AirflowStack | None = None
        self.startup_seconds: float | None = None

    def start(self, timeout: float = 120.0) -> E2eSession:
        began = time.monotonic()
        try:
            self.emulator = start_emulator(self.config_path)
            if self.use_postgres:
                self.postgres = (self.postgres or PostgresServer()).start()
            dags = AirflowStack.copy_dags(self.dag_files, self.home / "dags")
            plugins = AirflowStack.copy_dags(self.plugins, self.home / "plugins")
            self.stack = AirflowStack(
                self.home / "airflow",
                dags,
                env={
                    **self.account.connection_env(self.emulator.url),
                    "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins),
                    **self.extra_env,
                },
                parallelism=self.parallelism,
                database=self.postgres,
                triggerer=self.with_triggerer,
                timing_defaults=self.timing_defaults,
            )
            if self.prepare is not None:
                self.prepare(self.stack)
            self.stack.start(timeout=timeout)
            self.stack.wait_for_dags(self.dag_ids, timeout=timeout)
        except BaseException:
            self.close()
            raise
        self.startup_seconds = round(time.monotonic() - began, 1)
        log.info("stack ready in %.1f s (AIRFLOW_HOME %s)", self.startup_seconds, self.stack.home)
        return self

    def close(self) -> None:
        """Stop every process this session started, then the emulator; remove the home unless kept."""
        with contextlib.suppress(Exception):
            if self.stack is not None:
                self.stack.stop()
        # After Airflow: its processes would log connection errors while they stop.
        with contextlib.suppress(Exception):
            if self.postgres is not None:
                self.postgres.cleanup()
        with contextlib.suppress(Exception):
            if self.emulator is not None:
                self.emulator.stop()
        if not self.keep_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> E2eSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- runs ----------------------------------------------------------------------------------

    @property
    def airflow(self) -> AirflowStack:
        if self.stack is None:
            raise RuntimeError("the session is not started")
        return self.stack

    def launch(self, runs: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[Launch]:
        """Trigger these runs (dag_id, run_id, conf), each watched by its own sampler from the start."""
        launches = []
        for dag_id, run_id, conf in runs:
            sampler = Sampler(self.airflow.records, dag_id, run_id).start()
            launches.append(Launch(dag_id, run_id, conf, sampler))
        try:
            self.airflow.trigger_many(runs)
        except BaseException:
            for launch in launches:
                launch.sampler.stop()
            raise
        return launches

    def wait(self, launches: Sequence[Launch], timeout: float = 180.0) -> list[RunResult]:
        """Wait (bounded) until every launched run is finished; the results keep launch order."""
        deadline = time.monotonic() + timeout
        pending = [launch for launch in launches if launch.result is None]
        try:
            while pending:
                self.airflow.check_alive()
                for launch in list(pending):
                    if (
                        self.airflow.records.dag_run_state(launch.dag_id, launch.run_id)
                        in FINISHED_RUN_STATES
                    ):
                        launch.result = self._finish(launch)
                        pending.remove(launch)
                if pending and time.monotonic() > deadline:
                    names = ", ".join(f"{x.dag_id}/{x.run_id}" for x in pending)
                    raise TimeoutError(f"runs still unfinished after {timeout:.0f} s: {names}")
                time.sleep(0.5)
        finally:
            for launch in pending:
                launch.sampler.stop()
        return [launch.result for launch in launches if launch.result is not None]

    def _finish(self, launch: Launch) -> RunResult:
        launch.sampler.stop()
        launch.sampler.sample()  # the final states, in case the thread's last turn came too early
        records = self.airflow.records
        return RunResult(
            dag_id=launch.dag_id,
            run_id=launch.run_id,
            state=records.dag_run_state(launch.dag_id, launch.run_id),
            tasks=records.task_instances(launch.dag_id, launch.run_id),
            seen=launch.sampler.seen,
            seconds=round(time.monotonic() - launch.started, 1),
        )

    def connection_env_for_new_key(self) -> tuple[FakeAccount, dict[str, str]]:
        """A new access key of the same account, accepted by the emulator, and the connection
        (``AIRFLOW_CONN_CFW_DEFAULT``) that signs with it: a process started with it is told apart
        from the others by the AK in every request it signs."""
        if self.emulator is None:
            raise RuntimeError("the session is not started")
        key = self.account.another_key()
        self.emulator.add_aksk(key.ak, key.sk)
        return key, key.connection_env(self.emulator.url)

    def polls(self, job_id: str) -> int:
        """List Job Status requests for this job that the emulator answered so far."""
        if self.emulator is None:
            raise RuntimeError("the session is not started")
        return job_polls(self.emulator, job_id)

    def run(self, dag_id: str, run_id: str, conf: Mapping[str, Any], timeout: float = 180.0) -> RunResult:
        return self.wait(self.launch([(dag_id, run_id, conf)]), timeout)[0]

    def diagnose(self, dag_id: str, run_id: str, tail: int = 30) -> str:
        """Everything worth reading when an end-to-end assertion fails."""
        stack = self.airflow
        parts = [f"run {dag_id}/{run_id}: {stack.records.dag_run_state(dag_id, run_id)}"]
        for task_id, ti in stack.records.task_instances(dag_id, run_id).items():
            parts.append(f"  {task_id}: {ti.state} (try {ti.try_number}/{ti.max_tries + 1})")
            text = stack.task_log(dag_id, run_id, task_id, ti.try_number)
            parts.append("\n".join(text.splitlines()[-tail:]))
        for name, proc in stack.processes.items():
            parts.append(f"--- {name} (last {tail} lines)\n{proc.tail(tail)}")
        return "\n".join(parts)
