"""The production stack (``make e2e-production``, issue 32): Airflow 3.3 with the CeleryExecutor and two
workers, a Redis broker, PostgreSQL for the metadata and Celery's results, and OpenLineage's listener.

With a listener installed, Airflow refuses ``end_from_trigger``: the provider's auto mode turns it off,
every deferred wait resumes on a worker, and so stays exposed to Airflow's fast-deferral race. This
module shows, from Airflow's records and logs and the emulator's counters, that on this stack the
sensor works in its three modes, the firewall lifecycle works with default arguments, fast waits are
not failed by the race, and a SIGKILLed worker costs each of its tasks at most one retry and never a
second firewall.
"""

from __future__ import annotations

import importlib.util
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
import pytest

from airflow_provider_cfw.testing import CfwEmulator
from tests.e2e import failover, production
from tests.e2e.dags import e2e_cfw_production as dags
from tests.e2e.driver import E2eSession, Launch
from tests.e2e.postgres import PostgresServer
from tests.e2e.processes import wait_for
from tests.e2e.scenario import E2E_DAGS, RunResult, polls_until
from tests.e2e.stack import AirflowStack
from tests.e2e.waits import MISMATCH

# Generous: the first test waits for the stack and the first round (6 min at a load average of 17).
pytestmark = [pytest.mark.e2e_production, pytest.mark.timeout(600)]

DAG_IDS = [
    "prod_sensor_modes",
    "prod_lifecycle",
    "prod_fast_waits",
    "prod_kill_worker_waits",
    "prod_kill_resumes",
]
#: Runs of prod_fast_waits: RUNS * dags.FAST_WAITS waits.
FAST_RUNS = 5
#: What the provider logs when listeners turn end_from_trigger's auto mode off.
AUTO_OFF = "end_from_trigger auto: off, listeners are installed"
#: A worker's tasks take this long (emulator seconds for a firewall job, polls for a job) in the kill
#: rounds: long enough that the kill lands inside them.
KILL_FIREWALL_JOB_SECONDS = 12.0
KILL_JOB_POLLS = 10


@dataclass
class Production:
    session: E2eSession
    events_file: Path

    @property
    def emulator(self) -> CfwEmulator:
        assert self.session.emulator is not None
        return self.session.emulator

    @property
    def stack(self) -> AirflowStack:
        return self.session.airflow

    @property
    def postgres(self) -> PostgresServer:
        assert self.session.postgres is not None
        return self.session.postgres


@pytest.fixture(scope="module")
def prod() -> Iterator[Production]:
    if not all(importlib.util.find_spec(f"airflow.providers.{p}") for p in ("celery", "openlineage")):
        pytest.fail(
            "the production stack runs from .venv-production (Celery, OpenLineage): make e2e-production"
        )
    with production.broker() as redis:
        postgres = PostgresServer()
        events_file = postgres.root.parent / f"cfw-openlineage-{uuid.uuid4().hex[:8]}.jsonl"
        session = E2eSession(
            [E2E_DAGS / "e2e_cfw_production.py"],
            DAG_IDS,
            [],
            parallelism=2 * production.WORKER_CONCURRENCY,
            keep_home=bool(os.environ.get("CFW_E2E_KEEP")),
            postgres=postgres,
            env=production.setting_env(production.deployment_settings(redis.url, postgres.url, events_file)),
            triggerer=False,
            prepare=production.declare_processes,
        )
        try:
            with session:
                yield Production(session, events_file)
        finally:
            events_file.unlink(missing_ok=True)


@dataclass
class FirstRound:
    modes: RunResult
    lifecycle: RunResult
    lifecycle_name: str
    fast: list[RunResult]
    seconds: float


@pytest.fixture(scope="module")
def first_round(prod: Production) -> FirstRound:
    """The sensor's modes, the lifecycle and the fast waits, launched together (a busy stack)."""
    emu, project = prod.emulator, prod.session.account.project_id
    suffix = uuid.uuid4().hex[:6]
    modes_conf = {}
    for mode, script in (
        ("poke", polls_until("Success", 3)),
        ("reschedule", polls_until("Success", 2)),
        ("deferrable", polls_until("Success", 3)),
    ):
        modes_conf[mode] = f"modes-{mode}-{suffix}"
        emu.add_job(project, modes_conf[mode], script)
    runs: list[tuple[str, str, dict[str, str]]] = [
        ("prod_sensor_modes", f"modes-{suffix}", modes_conf),
        ("prod_lifecycle", f"lifecycle-{suffix}", {"name": f"prod-{suffix}"}),
    ]
    for r in range(FAST_RUNS):
        conf = {}
        for i in range(dags.FAST_WAITS):
            # Running to the worker's first poke, Success to the trigger's first poll.
            conf[f"job_{i}"] = f"fast-{suffix}-{r}-{i}"
            emu.add_job(project, conf[f"job_{i}"], polls_until("Success", 1))
        runs.append(("prod_fast_waits", f"fast-{r}-{suffix}", conf))
    began = time.monotonic()
    results = prod.session.wait(prod.session.launch(runs), timeout=360)
    return FirstRound(results[0], results[1], f"prod-{suffix}", results[2:], time.monotonic() - began)


def _why(prod: Production, result: RunResult) -> str:
    return prod.session.diagnose(result.dag_id, result.run_id)


def test_the_sensor_succeeds_in_its_three_modes(prod: Production, first_round: FirstRound) -> None:
    result = first_round.modes
    why = _why(prod, result)
    assert result.state == "success", why
    assert {t: (ti.state, ti.try_number) for t, ti in result.tasks.items()} == {
        "poke": ("success", 1),
        "reschedule": ("success", 1),
        "deferrable": ("success", 1),
    }, why
    assert "up_for_reschedule" in result.seen.states["reschedule"], result.seen
    assert not {"deferred", "up_for_reschedule"} & set(result.seen.states["poke"]), result.seen
    records = prod.stack.records
    for task in ("poke", "reschedule", "deferrable"):
        xcom = records.xcom(result.dag_id, result.run_id, task)
        assert (xcom["id"], xcom["status"]) == (f"modes-{task}-{result.run_id.split('-')[-1]}", "Success")
    # The deferrable sensor waited on the triggerer: its trigger logged next to the task's log.
    assert prod.stack.trigger_logs(result.dag_id, result.run_id, "deferrable"), why


def test_the_lifecycle_with_default_arguments_passes_the_dict_downstream(
    prod: Production, first_round: FirstRound
) -> None:
    result = first_round.lifecycle
    why = _why(prod, result)
    assert result.state == "success", why
    assert {t: (ti.state, ti.try_number) for t, ti in result.tasks.items()} == {
        "create": ("success", 1),
        "check": ("success", 1),
        "delete": ("success", 1),
    }, why
    records = prod.stack.records
    created = records.xcom(result.dag_id, result.run_id, "create")
    # The check task raises unless it got a dict; it returned the dict's firewall id.
    assert records.xcom(result.dag_id, result.run_id, "check") == created["firewall_id"], why
    assert prod.emulator.list_firewalls(first_round.lifecycle_name) == [], why


@dataclass
class FastWaits:
    waits: int
    wrongly_failed: list[str]
    worker_starts: int


def _fast_waits(prod: Production, first_round: FirstRound) -> FastWaits:
    lines = (prod.stack.process_logs / "scheduler.log").read_text(errors="replace").splitlines()
    mismatched = {(m["task"], m["run"]) for line in lines if (m := MISMATCH.search(line))}
    records = prod.stack.records
    wrong, starts, waits = [], 0, 0
    for result in first_round.fast:
        for task, ti in result.tasks.items():
            waits += 1
            starts += records.task_starts(result.dag_id, result.run_id, task)
            # Every job succeeded: a failed task, or one the scheduler failed on a stale event, is wrong.
            if ti.state != "success" or (task, result.run_id) in mismatched:
                wrong.append(f"{result.run_id}/{task}: {ti.state}")
    return FastWaits(waits, wrong, starts)


def test_fast_waits_resume_on_a_worker_and_none_is_wrongly_failed(
    prod: Production, first_round: FirstRound
) -> None:
    fast = _fast_waits(prod, first_round)
    assert fast.waits == FAST_RUNS * dags.FAST_WAITS >= 50
    assert fast.wrongly_failed == [], fast.wrongly_failed
    # The listener turned the auto mode off: each wait started on a worker, deferred, and resumed on a
    # worker; never ended on the triggerer.
    first = first_round.fast[0]
    log_text = prod.stack.task_log(first.dag_id, first.run_id, "wait_0")
    assert AUTO_OFF in log_text, log_text[-3000:]
    assert fast.worker_starts == 2 * fast.waits, fast
    for result in first_round.fast:
        assert result.state == "success", _why(prod, result)


def test_the_openlineage_listener_emitted_events(prod: Production, first_round: FirstRound) -> None:
    """OpenLineage ran in the task processes: a COMPLETE event for every fast wait (listeners live)."""
    events = production.lineage_events(prod.events_file)
    complete = [
        e
        for e in events
        if e.get("eventType") == "COMPLETE"
        and str(e.get("job", {}).get("name", "")).startswith("prod_fast_waits.")
    ]
    assert len(complete) >= FAST_RUNS * dags.FAST_WAITS, (len(events), [e.get("job") for e in events[:5]])


# -- a worker SIGKILLed under its tasks -----------------------------------------------------------------


@dataclass
class KillRound:
    name: str
    result: RunResult
    #: task ids the killed worker was running
    lost: list[str]
    killed_at: datetime
    #: seconds from the kill to each lost task's try 2 starting
    retry_after: dict[str, float]
    firewalls_ordered: int
    processes_killed: int
    #: tasks Airflow sent again after task_queued_timeout (taken by the killed worker, never started)
    requeued: list[str]


def _running_on(prod: Production, run_id: str, dag_id: str) -> list[tuple[str, int, str | None]]:
    with psycopg2.connect(prod.postgres.dsn(), connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT task_id, pid, next_method FROM task_instance"
            " WHERE dag_id = %s AND run_id = %s AND state = 'running' AND pid IS NOT NULL",
            (dag_id, run_id),
        )
        rows = cur.fetchall()
    conn.close()
    return [(r[0], int(r[1]), r[2]) for r in rows]


def _kill_round(prod: Production, dag_id: str, resuming: bool) -> KillRound:
    """Launch ``dag_id``; SIGKILL the first worker seen running one of its tasks (``resuming``: a task
    resuming after its deferral); wait for the run with that worker down; restart it."""
    emu, project = prod.emulator, prod.session.account.project_id
    suffix = uuid.uuid4().hex[:6]
    name = f"kill-{suffix}"
    emu.script_firewall_jobs([("Running", KILL_FIREWALL_JOB_SECONDS), ("Success", None)])
    conf = {"name": name}
    for i in range(dags.KILL_SENSORS):
        conf[f"job_{i}"] = f"{name}-{i}"
        emu.add_job(project, conf[f"job_{i}"], polls_until("Success", KILL_JOB_POLLS))
    created_before = emu.firewalls_created
    run_id = f"{dag_id}-{suffix}"
    [launch] = prod.session.launch([(dag_id, run_id, conf)])
    workers = {n: prod.stack.processes[n] for n in production.WORKERS}

    def victim() -> tuple[str, list[str]] | None:
        prod.stack.check_alive()
        running = _running_on(prod, run_id, dag_id)
        for worker_name, proc in workers.items():
            tree = production.descendants(proc.pid or 0)
            mine = [
                task for task, pid, next_method in running if pid in tree and (next_method or not resuming)
            ]
            if mine:
                return worker_name, mine
        return None

    worker_name, _ = wait_for(f"a worker running {dag_id}'s tasks", victim, 120, 0.1)
    if not resuming:
        # Let the waits poll on the worker for a moment, as a worker that dies mid-wait.
        time.sleep(2)
    # The tasks it holds right now are the ones it loses.
    lost = sorted(
        task
        for task, pid, _ in _running_on(prod, run_id, dag_id)
        if pid in production.descendants(workers[worker_name].pid or 0)
    )
    killed_at = datetime.now(UTC)
    hit = production.kill_host(workers[worker_name])
    try:
        result = _wait(prod, launch)
    finally:
        workers[worker_name].start()
    retry_after = {}
    for task in lost:
        ti = result.tasks[task]
        if ti.try_number == 2 and ti.start_date is not None:
            retry_after[task] = round((ti.start_date - killed_at).total_seconds(), 1)
    with psycopg2.connect(prod.postgres.dsn(), connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT task_id FROM log WHERE event = 'stuck in queued reschedule' AND dag_id = %s AND run_id = %s",
            (dag_id, run_id),
        )
        requeued = sorted(r[0] for r in cur.fetchall())
    conn.close()
    return KillRound(
        name, result, lost, killed_at, retry_after, emu.firewalls_created - created_before, hit, requeued
    )


def _wait(prod: Production, launch: Launch) -> RunResult:
    return prod.session.wait([launch], timeout=240)[0]


def _check_kill_round(prod: Production, kill: KillRound) -> None:
    result = kill.result
    why = _why(prod, result) + f"\nlost: {kill.lost}"
    assert kill.lost, why
    assert result.state == "success", why
    records = prod.stack.records
    for task, ti in result.tasks.items():
        assert ti.state == "success", (task, why)
        # At most one extra try: the lost tasks' try 1 failed with the worker, try 2 succeeded. A task
        # the worker had taken but not started is sent again after task_queued_timeout, in the same try.
        history = [(h.try_number, h.state) for h in records.task_history(result.dag_id, result.run_id, task)]
        if task in kill.lost:
            assert (ti.try_number, history) == (2, [(1, "failed")]), (task, history, why)
        else:
            assert (ti.try_number, history) == (1, []), (task, history, why)
    # No firewall ordered twice: one create per create task, each name one firewall.
    assert kill.firewalls_ordered == dags.KILL_CREATES, why
    for i in range(dags.KILL_CREATES):
        assert len(prod.emulator.list_firewalls(f"{kill.name}-{i}")) == 1, why


KILLS: list[KillRound] = []


def test_a_worker_killed_under_its_waits(prod: Production, first_round: FirstRound) -> None:
    kill = _kill_round(prod, "prod_kill_worker_waits", resuming=False)
    KILLS.append(kill)
    _check_kill_round(prod, kill)


def test_a_worker_killed_under_resuming_tasks(prod: Production, first_round: FirstRound) -> None:
    kill = _kill_round(prod, "prod_kill_resumes", resuming=True)
    KILLS.append(kill)
    _check_kill_round(prod, kill)


def test_summary(prod: Production, first_round: FirstRound) -> None:
    """One line with what listeners cost on this stack, and one per kill round."""
    fast = _fast_waits(prod, first_round)
    failover.SUMMARY_LINES.append(
        f"production (CeleryExecutor, {len(production.WORKERS)} workers x {production.WORKER_CONCURRENCY}, "
        f"Redis, PostgreSQL, OpenLineage): {fast.waits} fast waits, wrongly failed {len(fast.wrongly_failed)}, "
        f"worker starts per wait {fast.worker_starts / fast.waits:.2f}; first round "
        f"{first_round.seconds:.0f} s; stack ready in {prod.session.startup_seconds} s"
    )
    for kill in KILLS:
        failover.SUMMARY_LINES.append(
            f"production: {kill.result.dag_id}: worker killed ({kill.processes_killed} processes) under "
            f"{kill.lost}; run {kill.result.state}; try 2 started {kill.retry_after} s after the kill; "
            f"firewalls ordered {kill.firewalls_ordered}; sent again after task_queued_timeout: {kill.requeued}"
        )
    assert fast.waits > 0
