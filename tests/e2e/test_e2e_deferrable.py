"""The deferrable wait on a real scheduler and triggerer: where it ran, what it returned, how it fails,
and how it survives a triggerer that dies mid-wait."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import JOBS, job_id
from tests.e2e.driver import E2eSession
from tests.e2e.processes import wait_for
from tests.e2e.scenario import RunResult, ran_within

pytestmark = pytest.mark.e2e

DAG_ID = "e2e_cfw_deferrable"
TRIGGER_CLASSPATH = "airflow_provider_cfw.triggers.cfw.CfwJobTrigger"
JOB_KEYS = {"id", "status", "begin_time", "end_time", "duration_seconds", "request_id"}


def only_trigger(result: RunResult) -> int:
    trigger_ids = result.seen.trigger_ids_by_task.get("wait", set())
    assert len(trigger_ids) == 1, f"expected one trigger for the wait, saw {trigger_ids}"
    return next(iter(trigger_ids))


def test_deferred_wait_runs_on_the_triggerer_and_frees_the_worker_slot(e2e: E2eSession, run_id: str) -> None:
    job = job_id("deferred_ok")
    result = e2e.run(DAG_ID, run_id, {"job_id": job})
    why = e2e.diagnose(DAG_ID, run_id)
    records = e2e.airflow.records
    assert result.state == "success", why

    wait, filler = result.tasks["wait"], result.tasks["filler"]
    assert (wait.state, wait.try_number) == ("success", 1), why
    assert "deferred" in result.seen.states["wait"], result.seen

    # The trigger row was the provider's trigger, and a TriggererJob picked it up ...
    trigger_id = only_trigger(result)
    assert result.seen.triggers[trigger_id].classpath == TRIGGER_CLASSPATH
    owners = result.seen.triggerer_ids_by_trigger[trigger_id]
    assert owners and set(owners) <= set(records.triggerer_jobs()), (owners, records.triggerer_jobs())
    # ... and that triggerer's log shows it running the trigger and firing its one event.
    trigger_log = e2e.airflow.trigger_logs(DAG_ID, run_id, "wait")[owners[-1]]
    assert f"(ID {trigger_id}) starting" in trigger_log
    assert "Trigger fired event" in trigger_log

    # With one worker slot, the filler could only run inside the wait if the sensor let go of it.
    assert ran_within(filler, wait), (filler, wait)

    xcom = records.xcom(DAG_ID, run_id, "wait")
    assert set(xcom) == JOB_KEYS, xcom
    assert (xcom["id"], xcom["status"]) == (job, "Success")
    # One poke on the worker, then the trigger's polls up to the terminal answer, and not one more.
    assert e2e.polls(job) == len(JOBS["deferred_ok"])


def test_failed_job_fails_the_task_on_its_first_try_despite_retries(e2e: E2eSession, run_id: str) -> None:
    job = job_id("deferred_failed")
    result = e2e.run(DAG_ID, run_id, {"job_id": job})
    why = e2e.diagnose(DAG_ID, run_id)
    assert result.state == "failed", why

    wait = result.tasks["wait"]
    assert wait.state == "failed", why
    # retries=2 gives max_tries 2; try 1 failing for good, with no earlier try kept, means no retry.
    assert (wait.try_number, wait.max_tries) == (1, 2), wait
    assert e2e.airflow.records.task_history(DAG_ID, run_id, "wait") == []
    assert "up_for_retry" not in result.seen.states["wait"], result.seen
    assert "deferred" in result.seen.states["wait"], result.seen
    assert f"CFW job {job} failed" in e2e.airflow.task_log(DAG_ID, run_id, "wait"), why
    assert e2e.airflow.records.xcom(DAG_ID, run_id, "wait") is None
    assert e2e.polls(job) == len(JOBS["deferred_failed"])


def test_trigger_survives_a_killed_triggerer(e2e: E2eSession, run_id: str) -> None:
    job = job_id("restart")
    stack = e2e.airflow
    triggerer = stack.processes["triggerer"]
    (launch,) = e2e.launch([(DAG_ID, run_id, {"job_id": job})])

    # Wait until a triggerer owns the trigger and it has polled at least once (the worker polled first).
    launch.sampler.wait_until(
        "a triggerer to own the trigger", lambda seen: any(seen.triggerer_ids_by_trigger.values()), 90
    )
    wait_for("the trigger's first poll", lambda: e2e.polls(job) >= 2, 30, 0.1)
    triggerer.kill()
    polls_at_kill = e2e.polls(job)
    assert polls_at_kill <= len(JOBS["restart"]) - 1, "the job ended before the triggerer was killed"

    # Nobody polls while no triggerer runs: the wait is the trigger's alone, no worker took it over.
    time.sleep(3)
    assert e2e.polls(job) == polls_at_kill
    triggerer.start()

    (result,) = e2e.wait([launch], timeout=120)
    why = e2e.diagnose(DAG_ID, run_id)
    assert result.state == "success", why
    wait = result.tasks["wait"]
    assert (wait.state, wait.try_number) == ("success", 1), why

    # The same trigger row, now owned by the new triggerer, which rebuilt it from its kwargs.
    trigger_id = only_trigger(result)
    owners = result.seen.triggerer_ids_by_trigger[trigger_id]
    assert len(owners) == 2 and owners[0] != owners[1], owners
    logs = stack.trigger_logs(DAG_ID, run_id, "wait")
    assert f"(ID {trigger_id}) starting" in logs[owners[0]]
    assert f"(ID {trigger_id}) starting" in logs[owners[1]]
    assert "Trigger fired event" in logs[owners[1]]

    xcom = stack.records.xcom(DAG_ID, run_id, "wait")
    assert (xcom["id"], xcom["status"]) == (job, "Success")
    assert e2e.polls(job) == len(JOBS["restart"])
