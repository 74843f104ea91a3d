"""CfwJobSensor over real HTTP against the emulator: the poke truth table, reschedule, deferral."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    PokeReturnValue,
    TaskDeferred,
)

from airflow_provider_cfw.core.rate_limit import MAX_THROTTLED_RETRIES
from airflow_provider_cfw.sensors.cfw import CfwJobSensor
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from airflow_provider_cfw.version_compat import configured_scheduler_hold_seconds
from tests.conftest import PROJECT, LimiterClock, assert_no_secrets, logged_count
from tests.listeners import listeners


class FakeTI:
    """What the sensor asks of the task instance: when the first (rescheduled) poke ran."""

    def __init__(self, first_reschedule_date: datetime | None = None) -> None:
        self.first_reschedule_date = first_reschedule_date

    def get_first_reschedule_date(self, context: Any) -> datetime | None:
        return self.first_reschedule_date


def ctx(first_reschedule_date: datetime | None = None) -> Any:
    return {"ti": FakeTI(first_reschedule_date)}


def new_job_id() -> str:
    return str(uuid.uuid4())


def sensor(job_id: str, **kwargs: Any) -> CfwJobSensor:
    kwargs.setdefault("poke_interval", 0)
    return CfwJobSensor(task_id="wait_for_job", job_id=job_id, project_id=PROJECT, **kwargs)


# -- construction --------------------------------------------------------------------------------


def test_defaults_and_template_fields() -> None:
    op = CfwJobSensor(task_id="t", job_id="j")
    assert op.template_fields == ("job_id", "project_id", "cfw_conn_id")
    assert op.poke_interval == 10
    assert op.timeout == 20 * 60
    assert op.not_found_grace_period == 60
    assert op.cfw_conn_id == "cfw_default"
    assert op.deferrable is False
    assert op.mode == "poke"


def test_poll_interval_is_an_alias_of_poke_interval() -> None:
    assert CfwJobSensor(task_id="t", job_id="j", poll_interval=3).poke_interval == 3
    assert CfwJobSensor(task_id="t", job_id="j", poke_interval=timedelta(seconds=4)).poke_interval == 4
    with pytest.raises(ValueError, match="not both"):
        CfwJobSensor(task_id="t", job_id="j", poll_interval=3, poke_interval=3)


def test_constructor_touches_no_network() -> None:
    # No connection is defined: building the operator (as DAG parsing does) must not look it up.
    op = CfwJobSensor(task_id="t", job_id="{{ ti.xcom_pull('create')['job_id'] }}", cfw_conn_id="absent")
    assert "hook" not in op.__dict__


# -- the poke truth table ------------------------------------------------------------------------


def test_running_keeps_waiting(emu: Any, conn: Any) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running"])
    assert sensor(job_id).poke(ctx()) is False


def test_success_returns_the_job_as_xcom(emu: Any, conn: Any) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Success"])
    result = sensor(job_id).poke(ctx())
    assert isinstance(result, PokeReturnValue) and result.is_done
    job = result.xcom_value
    assert set(job) == {"id", "status", "begin_time", "end_time", "duration_seconds", "request_id"}
    assert job["id"] == job_id and job["status"] == "Success"
    assert isinstance(job["begin_time"], str) and isinstance(job["end_time"], str)
    assert isinstance(job["duration_seconds"], float)
    assert_no_secrets(job)


def test_failed_fails_without_retries(emu: Any, conn: Any) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Failed"])
    with pytest.raises(AirflowFailException, match=job_id) as info:
        sensor(job_id).poke(ctx())
    assert "began" in str(info.value) and "ended" in str(info.value)


def test_unknown_status_keeps_waiting_with_one_warning(
    emu: Any, conn: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Pending"])
    op = sensor(job_id)
    assert op.poke(ctx()) is False
    assert op.poke(ctx()) is False
    assert logged_count("unknown status 'Pending'", capsys, caplog) == 1


def test_not_found_within_the_grace_period_keeps_waiting(emu: Any, conn: Any) -> None:
    assert sensor(new_job_id(), not_found_grace_period=60).poke(ctx()) is False


def test_not_found_after_the_grace_period_fails(emu: Any, conn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = new_job_id()
    op = sensor(job_id, not_found_grace_period=60)
    assert op.poke(ctx()) is False
    # A minute passes on the sensor's clock (a busy machine must not decide the outcome).
    real_time = time.time
    monkeypatch.setattr("airflow_provider_cfw.sensors.cfw.time.time", lambda: real_time() + 61)
    with pytest.raises(AirflowFailException, match="not found") as info:
        op.poke(ctx())
    assert "CFW.00200005" in str(info.value)


def test_job_appearing_within_the_grace_period(emu: Any, conn: Any) -> None:
    job_id = new_job_id()
    op = sensor(job_id)
    assert op.poke(ctx()) is False
    emu.add_job(PROJECT, job_id, statuses=["Success"])
    assert op.poke(ctx())


def test_transient_trouble_is_an_ordinary_exception(emu: Any, set_conn: Any) -> None:
    set_conn(max_retries=1)
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running"])
    emu.inject("cfw.job", status=503, count=2)
    with pytest.raises(AirflowException) as info:
        sensor(job_id).poke(ctx())
    assert not isinstance(info.value, AirflowFailException)
    assert "503" in str(info.value)


def test_a_throttled_poke_keeps_waiting(emu: Any, conn: Any, limiter_clock: LimiterClock) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Success"])
    # More throttles in a row than the limiter sends again: the first poke ends throttled.
    emu.inject("cfw.job", status=429, retry_after="0", count=MAX_THROTTLED_RETRIES + 2)
    op = sensor(job_id)
    assert op.poke(ctx()) is False
    assert op.poke(ctx())
    assert emu.stats.count("cfw.job", 429) == MAX_THROTTLED_RETRIES + 2


def test_invalid_job_id_fails_before_any_request(emu: Any, conn: Any) -> None:
    with pytest.raises(AirflowException, match="job_id"):
        sensor("../../v3/other").poke(ctx())
    assert emu.stats.total_requests == 0


def test_transient_trouble_the_hook_rides_out(emu: Any, conn: Any) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Success"])
    emu.inject("cfw.job", status=503, count=2)
    assert sensor(job_id).poke(ctx())


def test_transient_trouble_is_not_skipped_by_soft_fail(emu: Any, set_conn: Any) -> None:
    set_conn(max_retries=0)
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running"])
    emu.inject("cfw.job", status=503, count=1)
    with pytest.raises(AirflowException) as info:
        sensor(job_id, soft_fail=True).execute(ctx())
    assert not isinstance(info.value, AirflowSkipException)


# -- poke mode end to end (BaseSensorOperator.execute) ---------------------------------------------


def test_poke_mode_waits_then_returns_the_job(emu: Any, conn: Any) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running", "Running", "Success"])
    assert sensor(job_id).execute(ctx())["status"] == "Success"


def test_soft_fail_skips_a_failed_job(emu: Any, conn: Any) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running", "Failed"])
    with pytest.raises(AirflowSkipException):
        sensor(job_id, soft_fail=True).execute(ctx())


def test_timeout_raises_sensor_timeout_or_skips(emu: Any, conn: Any) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running"])
    with pytest.raises(AirflowSensorTimeout):
        sensor(job_id, timeout=0.2, poke_interval=0.05).execute(ctx())
    with pytest.raises(AirflowSkipException):
        sensor(job_id, timeout=0.2, poke_interval=0.05, soft_fail=True).execute(ctx())


# -- reschedule mode: a fresh operator per poke -----------------------------------------------------


def test_reschedule_mode_with_a_fresh_operator_per_poke(emu: Any, conn: Any) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running", "Running", "Success"])
    first = datetime.now(UTC)
    results = [sensor(job_id, mode="reschedule").poke(ctx(first)) for _ in range(3)]
    assert results[:2] == [False, False]
    assert isinstance(results[2], PokeReturnValue) and results[2].xcom_value["status"] == "Success"


def test_reschedule_grace_period_counts_from_the_first_poke(emu: Any, conn: Any) -> None:
    job_id = new_job_id()
    recent = datetime.now(UTC) - timedelta(seconds=10)
    long_ago = datetime.now(UTC) - timedelta(seconds=120)
    assert sensor(job_id, mode="reschedule").poke(ctx(recent)) is False
    with pytest.raises(AirflowFailException, match="not found"):
        sensor(job_id, mode="reschedule").poke(ctx(long_ago))
    # The first poke of all: no reschedule yet, the grace period starts now.
    assert sensor(job_id, mode="reschedule").poke(ctx(None)) is False


def test_reschedule_without_get_first_reschedule_date_does_not_crash(emu: Any, conn: Any) -> None:
    # Airflow 2's TaskInstance has no get_first_reschedule_date; the sensor reads the table instead,
    # and if even that fails it counts the grace period from now rather than failing the poke.
    class Airflow2TI:
        max_tries = 0

    assert sensor(new_job_id(), mode="reschedule").poke({"ti": Airflow2TI()}) is False


# -- deferrable -------------------------------------------------------------------------------------


def test_already_done_does_not_defer(emu: Any, conn: Any) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Success"])
    assert sensor(job_id, deferrable=True).execute(ctx())["status"] == "Success"


def test_already_failed_does_not_defer(emu: Any, conn: Any) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Failed"])
    with pytest.raises(AirflowFailException, match=job_id):
        sensor(job_id, deferrable=True).execute(ctx())
    with pytest.raises(AirflowSkipException):
        sensor(job_id, deferrable=True, soft_fail=True).execute(ctx())


def test_running_defers_with_the_right_trigger_and_timeout(
    emu: Any, conn: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running"])
    op = CfwJobSensor(
        task_id="t", job_id=job_id, project_id=PROJECT, deferrable=True, poll_interval=7, timeout=600
    )
    before = time.time()
    with listeners(), pytest.raises(TaskDeferred) as info:
        op.execute(ctx())
    deferred = info.value
    # The worker says what it read; the trigger, told, logs only a change from it.
    assert logged_count(f"CFW job {job_id} is Running; deferring to the triggerer", capsys, caplog) == 1
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == timedelta(seconds=600)
    assert isinstance(deferred.trigger, CfwJobTrigger)
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "airflow_provider_cfw.triggers.cfw.CfwJobTrigger"
    deadline = kwargs.pop("not_found_deadline")
    assert before + 60 <= deadline <= time.time() + 60
    # When it deferred, so the trigger can hold an early event until the scheduler has caught up.
    assert before <= kwargs.pop("deferred_at") <= time.time()
    assert kwargs == {
        "job_id": job_id,
        "project_id": PROJECT,
        "cfw_conn_id": "cfw_default",
        "poll_interval": 7.0,
        "region": None,
        "max_transient_errors": 10,
        "last_status": "Running",
        # A deadline was given: the grace period is the worker's, counted from its poke.
        "not_found_grace_period": None,
        # The default (auto): on where nothing else changes, the XCom included (pushed as a worker would).
        "end_from_trigger": True,
        "return_value": None,
        "do_xcom_push": True,
        "poll_growth": 0.0,
        "poll_cap": 60.0,
        # The hold before an event that resumes a worker, from this deployment's settings, computed here.
        "scheduler_hold": configured_scheduler_hold_seconds(),
        "resume_kwargs": None,
    }
    assert_no_secrets(kwargs, repr(deferred.trigger))


def test_not_found_at_first_poke_defers_with_the_remaining_grace(emu: Any, conn: Any) -> None:
    with pytest.raises(TaskDeferred) as info:
        sensor(new_job_id(), deferrable=True, not_found_grace_period=30).execute(ctx())
    kwargs = info.value.trigger.serialize()[1]
    assert time.time() < kwargs["not_found_deadline"] <= time.time() + 30
    assert kwargs["last_status"] is None  # nothing read yet: the trigger logs the first status it reads


# -- execute_complete: every branch -----------------------------------------------------------------

JOB = {
    "id": "f588ce71-e26c-400d-8981-f854355f6849",
    "status": "Success",
    "begin_time": "2024-05-01T10:00:00+00:00",
    "end_time": "2024-05-01T10:00:42+00:00",
    "duration_seconds": 42.0,
    "request_id": "req-1",
}


def complete(event: Any, **kwargs: Any) -> Any:
    op = CfwJobSensor(task_id="t", job_id=JOB["id"], deferrable=True, **kwargs)
    return op.resume_execution("execute_complete", {"event": event}, ctx())


def test_execute_complete_success_returns_the_same_xcom_as_poke_mode() -> None:
    event = {"status": "success", "job_id": JOB["id"], "message": "ok", "job": JOB}
    assert complete(event) == JOB


def test_execute_complete_failed() -> None:
    event = {"status": "failed", "job_id": JOB["id"], "message": "x", "job": {**JOB, "status": "Failed"}}
    with pytest.raises(AirflowFailException, match=JOB["id"]):
        complete(event)
    with pytest.raises(AirflowSkipException):
        complete(event, soft_fail=True)


def test_execute_complete_error_names_code_and_request_id() -> None:
    event = {
        "status": "error",
        "job_id": JOB["id"],
        "message": "Could not read CFW job: HTTP 403 APIGW.0302",
        "error_code": "APIGW.0302",
        "request_id": "req-42",
        "http_status": 403,
        "retryable": False,
    }
    with pytest.raises(AirflowException) as info:
        complete(event)
    assert not isinstance(info.value, AirflowFailException)
    assert "APIGW.0302" in str(info.value) and "req-42" in str(info.value)


def test_execute_complete_not_found_fails() -> None:
    event = {
        "status": "error",
        "job_id": JOB["id"],
        "message": "CFW job was not found",
        "error_code": "CFW.00200005",
        "request_id": "req-7",
    }
    with pytest.raises(AirflowFailException, match="req-7"):
        complete(event)


def test_not_found_names_code_and_request_id_once_when_poking(emu: Any, conn: Any) -> None:
    with pytest.raises(AirflowFailException) as info:
        sensor(new_job_id(), not_found_grace_period=0).poke(ctx())
    request_id = info.value.__cause__.request_id  # type: ignore[union-attr]
    assert request_id
    assert str(info.value).count(request_id) == 1
    assert str(info.value).count("CFW.00200005") == 1


async def test_not_found_names_code_and_request_id_once_when_deferred(emu: Any, conn: Any) -> None:
    job_id = new_job_id()
    trigger = CfwJobTrigger(job_id=job_id, project_id=PROJECT, not_found_deadline=time.time() - 1)
    (event,) = [event.payload async for event in trigger.run()]
    assert event["request_id"]
    op = CfwJobSensor(task_id="t", job_id=job_id, project_id=PROJECT, deferrable=True)
    with pytest.raises(AirflowFailException) as info:
        op.resume_execution("execute_complete", {"event": event}, ctx())
    assert str(info.value).count(event["request_id"]) == 1
    assert str(info.value).count("CFW.00200005") == 1


@pytest.mark.parametrize(
    "event",
    [
        None,
        {},
        "success",
        {"status": "cancelled"},
        {"status": "success"},
        {"status": "success", "job": "Success"},
        {"status": "success", "job": {"status": "Success"}},
        {"status": "success", "job": {**JOB, "end_time": "yesterday-ish"}},
        {"status": "success", "job": {**JOB, "status": "Running"}},
        {"status": "failed", "job": JOB},
    ],
)
def test_execute_complete_rejects_malformed_events(event: Any) -> None:
    with pytest.raises(AirflowException):
        complete(event)


def test_deferred_timeout_is_a_sensor_timeout_and_soft_fail_skips() -> None:
    op = CfwJobSensor(task_id="t", job_id=JOB["id"], deferrable=True)
    with pytest.raises(AirflowSensorTimeout):
        op.resume_execution("__fail__", {"error": "Trigger timeout"}, ctx())
    soft = CfwJobSensor(task_id="t", job_id=JOB["id"], deferrable=True, soft_fail=True)
    with pytest.raises(AirflowSkipException):
        soft.resume_execution("__fail__", {"error": "Trigger timeout"}, ctx())
