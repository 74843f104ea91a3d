"""Worker-free waits: which path a deferrable wait takes (end_from_trigger, start_from_trigger) and why.

The end-to-end counts of worker starts are in tests/e2e/test_e2e_worker_free.py.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, Asset, TaskDeferred

from airflow_provider_cfw.sensors.cfw import CfwJobSensor
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from airflow_provider_cfw.version_compat import (
    START_FROM_TRIGGER_SINCE,
    airflow_version,
    end_from_trigger_decision,
)
from tests.conftest import PROJECT, SK, assert_no_secrets, logged_count
from tests.ending import Pushes, on_the_triggerer
from tests.listeners import TaskListener, listeners

STARTS_ON_TRIGGERER = airflow_version() >= START_FROM_TRIGGER_SINCE
AIRFLOW_3 = airflow_version() >= (3, 0, 0)
needs_3_3 = pytest.mark.skipif(not STARTS_ON_TRIGGERER, reason="start_from_trigger needs Airflow 3.3+")


def sensor(**kwargs: Any) -> CfwJobSensor:
    kwargs.setdefault("job_id", str(uuid.uuid4()))
    kwargs.setdefault("deferrable", True)
    return CfwJobSensor(task_id="wait", project_id=PROJECT, poke_interval=5, **kwargs)


class FakeTI:
    map_index = -1

    def get_first_reschedule_date(self, context: Any) -> None:
        return None


# -- end_from_trigger: the decision ---------------------------------------------------------------


ON = "end_from_trigger auto: on, no listeners, callbacks, outlets or overrides"


def test_auto_is_on_only_without_anything_observable() -> None:
    # The XCom included: the triggerer stores it as a worker would (tests/triggers/test_task_success.py).
    with listeners():
        assert end_from_trigger_decision(sensor(), None, CfwJobSensor) == (True, ON)
        assert end_from_trigger_decision(sensor(do_xcom_push=False), None, CfwJobSensor) == (True, ON)


@pytest.mark.parametrize(
    ("version", "ends"),
    [((2, 11, 0), True), ((3, 0, 4), False), ((3, 0, 6), True), ((3, 3, 2), True)],
    ids=["2.11.0", "3.0.4", "3.0.6", "3.3.2"],
)
def test_auto_is_off_where_only_a_worker_can_store_the_xcom(
    monkeypatch: pytest.MonkeyPatch, version: tuple[int, int, int], ends: bool
) -> None:
    # Airflow 3.0.0 to 3.0.4: the triggerer drops a trigger's push; only a resume stores the job.
    import airflow_provider_cfw.version_compat as version_compat

    monkeypatch.setattr(version_compat, "airflow_version", lambda: version)
    with listeners():
        end, why = end_from_trigger_decision(sensor(), None, CfwJobSensor)
        assert end is ends, why
        if not ends:
            assert why.endswith("triggerer cannot store the XCom as a worker does"), why
        # Nothing pushed, nothing to store: on everywhere.
        assert end_from_trigger_decision(sensor(do_xcom_push=False), None, CfwJobSensor) == (True, ON)


def _dag(dag_id: str) -> Any:
    from datetime import UTC, datetime

    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2
        from airflow.models.dag import DAG  # type: ignore[no-redef,assignment]
    return DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC))


def _task() -> Any:
    try:
        from airflow.sdk import task
    except ImportError:  # Airflow 2
        from airflow.decorators import task  # type: ignore[no-redef,attr-defined]
    return task


def test_auto_is_off_when_a_downstream_task_maps_over_the_job() -> None:
    # A worker's push records how many items the downstream task expands to (the TaskMap row); the
    # triggerer's does not, and the expansion would fail.
    task = _task()

    @task
    def per_key(item: Any) -> None:
        pass

    with _dag("maps") as dag, listeners():
        wait = sensor()
        per_key.expand(item=wait.output)
        end, why = end_from_trigger_decision(dag.get_task("wait"), None, CfwJobSensor)
    assert (end, why) == (False, "end_from_trigger auto: off, a downstream task maps over its output")


def test_auto_stays_on_with_plain_downstream_tasks_and_other_mappings() -> None:
    task = _task()

    @task
    def use(job: Any) -> None:
        pass

    @task
    def per_item(item: Any, job: Any) -> None:
        pass

    with _dag("plain") as dag, listeners():
        wait = sensor()
        use(wait.output)
        per_item.partial(job=wait.output).expand(item=[1, 2])  # mapped, but over something else
        assert end_from_trigger_decision(dag.get_task("wait"), None, CfwJobSensor) == (True, ON)


class SubclassedSensor(CfwJobSensor):
    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        return super().execute_complete(context, event)


class PostExecuteSensor(CfwJobSensor):
    def post_execute(self, context: Any, result: Any = None) -> None:
        pass


def _noop(context: Any) -> None:
    pass


def _noop_result(context: Any, result: Any = None) -> None:
    pass


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: sensor(on_success_callback=_noop), "on_success_callback is set"),
        (lambda: sensor(on_execute_callback=_noop), "on_execute_callback is set"),
        (lambda: sensor(multiple_outputs=True), "multiple_outputs is set"),
        # A DAG scheduled on this asset would never run: the triggerer emits no asset event.
        (lambda: sensor(outlets=[Asset("cfw://jobs/done")]), "the task has outlets"),
        (lambda: sensor(post_execute=_noop_result), "post_execute is set"),
        (
            lambda: SubclassedSensor(task_id="w", job_id="j", deferrable=True),
            "a subclass overrides execute_complete",
        ),
        (
            lambda: PostExecuteSensor(task_id="w", job_id="j", deferrable=True),
            "a subclass overrides post_execute",
        ),
    ],
    ids=[
        "on_success_callback",
        "on_execute_callback",
        "multiple_outputs",
        "outlets",
        "post_execute_argument",
        "execute_complete",
        "post_execute",
    ],
)
def test_auto_is_off_when_a_worker_end_would_be_missed(build: Any, reason: str) -> None:
    with listeners():
        end, why = end_from_trigger_decision(build(), None, CfwJobSensor)
    # That one reason, and only it: ignoring it would turn auto on.
    assert (end, why) == (False, f"end_from_trigger auto: off, {reason}")


def test_auto_is_off_with_listeners_installed() -> None:
    # Airflow's DAG bag would refuse end_from_trigger=True here; auto (None) passes its check.
    with listeners(TaskListener()):
        op = sensor()
        end, why = end_from_trigger_decision(op, None, CfwJobSensor)
    assert (end, why) == (False, "end_from_trigger auto: off, listeners are installed")
    assert not getattr(op, "end_from_trigger", False)


@pytest.mark.parametrize("requested", [True, False])
def test_an_explicit_choice_is_kept(requested: bool) -> None:
    with listeners(TaskListener()):
        assert end_from_trigger_decision(sensor(), requested, CfwJobSensor) == (
            requested,
            f"end_from_trigger={requested}",
        )


@pytest.mark.parametrize(
    ("requested", "line"),
    [(True, "on success the triggerer ends this task"), (False, "the task resumes on a worker")],
)
def test_the_deferring_task_logs_its_path_and_tells_the_trigger(
    emu: Any,
    conn: Any,
    requested: bool,
    line: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    op = sensor(end_from_trigger=requested)
    emu.add_job(PROJECT, op.job_id, statuses=["Running"])
    with pytest.raises(TaskDeferred) as info:
        op.execute({"ti": FakeTI()})
    kwargs = info.value.trigger.serialize()[1]
    assert kwargs["end_from_trigger"] is requested
    assert logged_count(f"CFW job {op.job_id}: {line} (end_from_trigger={requested})", capsys, caplog) == 1


# -- the trigger's events -------------------------------------------------------------------------


async def _events(trigger: CfwJobTrigger) -> list[Any]:
    return [event async for event in trigger.run()]


async def test_success_ends_the_task_with_the_same_return_value_as_a_resume(
    emu: Any, conn: Any, pushes: Pushes
) -> None:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, statuses=["Running", "Success"])
    trigger = CfwJobTrigger(job_id=job_id, project_id=PROJECT, poll_interval=0.01, end_from_trigger=True)
    (event,) = await _events(on_the_triggerer(trigger))
    from airflow.triggers.base import TaskSuccessEvent

    assert isinstance(event, TaskSuccessEvent)
    job = pushes.value_of(event)
    assert (job["id"], job["status"]) == (job_id, "Success")
    # The worker's resume would return exactly this for the same job.
    resumed = sensor(job_id=job_id).execute_complete({}, {"status": "success", "job_id": job_id, "job": job})
    assert resumed == job and json.loads(json.dumps(job)) == job
    assert_no_secrets(job, repr(event))
    assert SK not in repr(event)


async def test_success_pushes_the_given_return_value_or_none(emu: Any, conn: Any, pushes: Pushes) -> None:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, statuses=["Success"])
    value = {"firewall_id": "fw-1", "job_id": job_id}
    kw = {"job_id": job_id, "project_id": PROJECT, "poll_interval": 0.01, "end_from_trigger": True}
    (event,) = await _events(on_the_triggerer(CfwJobTrigger(**kw, return_value=value)))
    assert pushes.value_of(event) == value
    (event,) = await _events(on_the_triggerer(CfwJobTrigger(**kw, do_xcom_push=False)))
    assert event.xcoms is None
    assert pushes.count == (1 if AIRFLOW_3 else 0)  # the first value only


async def test_without_a_task_instance_a_success_resumes_with_the_job(emu: Any, conn: Any) -> None:
    # dag.test() runs the trigger inline without one and hands the task only the event's payload.
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, statuses=["Success"])
    (event,) = await _events(
        CfwJobTrigger(job_id=job_id, project_id=PROJECT, poll_interval=0.01, end_from_trigger=True)
    )
    assert type(event).__name__ == "TriggerEvent"
    assert sensor(job_id=job_id).execute_complete({}, event.payload)["id"] == job_id


@pytest.mark.parametrize("statuses", [["Running", "Failed"]], ids=["failed"])
async def test_a_failed_job_still_resumes_on_a_worker(emu: Any, conn: Any, statuses: list[str]) -> None:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, statuses=statuses)
    (event,) = await _events(
        CfwJobTrigger(job_id=job_id, project_id=PROJECT, poll_interval=0.01, end_from_trigger=True)
    )
    from airflow.triggers.base import BaseTaskEndEvent

    # A plain event resumes the task, whose execute_complete fails it without using up retries
    # (a TaskFailedEvent would send it up for retry).
    assert not isinstance(event, BaseTaskEndEvent)
    assert event.payload["status"] == "failed"
    with pytest.raises(AirflowFailException, match=f"CFW job {job_id} failed"):
        sensor(job_id=job_id).execute_complete({}, event.payload)


async def test_an_unreadable_job_still_resumes_on_a_worker(emu: Any, conn: Any) -> None:
    (event,) = await _events(
        CfwJobTrigger(job_id=str(uuid.uuid4()), project_id=PROJECT, poll_interval=0.01, end_from_trigger=True)
    )
    assert event.payload["status"] == "error"  # not found, no grace: an error event, as before


# -- start_from_trigger ---------------------------------------------------------------------------


@needs_3_3
def test_start_from_trigger_puts_the_raw_template_in_the_start_trigger_args() -> None:
    op = sensor(job_id="{{ params.job_id }}", start_from_trigger=True, timeout=300, not_found_grace_period=45)
    assert op.start_from_trigger is True
    args = op.start_trigger_args
    assert args.trigger_cls == "airflow_provider_cfw.triggers.cfw.CfwJobTrigger"
    assert args.next_method == "execute_complete"
    assert args.timeout == timedelta(seconds=300)
    kwargs = args.trigger_kwargs or {}
    assert kwargs["job_id"] == "{{ params.job_id }}"
    # No task polls first: the grace period counts from the trigger's first poll.
    assert (kwargs["not_found_deadline"], kwargs["not_found_grace_period"]) == (None, 45.0)
    assert kwargs["last_status"] is None
    # The kwargs live in the serialized DAG: JSON, no secret, and they rebuild the trigger.
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert_no_secrets(kwargs, repr(kwargs))
    assert CfwJobTrigger(**kwargs).serialize()[1] == kwargs
    # Only this instance: the class keeps its placeholder, as Airflow's own sensors do.
    assert CfwJobSensor.start_trigger_args is not args and CfwJobSensor.start_from_trigger is False


@needs_3_3
def test_start_from_trigger_survives_dag_serialization() -> None:
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG(dag_id="sft", schedule=None) as dag:
        sensor(job_id="{{ dag_run.conf['job_id'] }}", start_from_trigger=True)
    task = DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task("wait")
    assert task.start_from_trigger is True
    kwargs = task.start_trigger_args.trigger_kwargs
    kwargs = kwargs.get("__var", kwargs)
    assert kwargs["job_id"] == "{{ dag_run.conf['job_id'] }}"


def test_start_from_trigger_needs_deferrable() -> None:
    with pytest.raises(ValueError, match="start_from_trigger=True needs deferrable=True"):
        sensor(deferrable=False, start_from_trigger=True)


@pytest.mark.parametrize(
    ("job_id", "reason"),
    [
        ("{{ ti.xcom_pull(task_ids='submit') }}", "job_id reads an XCom without map_indexes"),
        (object(), "job_id is a object, which only a worker resolves"),
    ],
    ids=["xcom_pull", "xcomarg"],
)
def test_start_from_trigger_falls_back_and_the_first_start_says_why(
    emu: Any,
    conn: Any,
    job_id: Any,
    reason: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    op = sensor(job_id=job_id, start_from_trigger=True)
    assert op.start_from_trigger is False
    expected = reason if STARTS_ON_TRIGGERER else "cannot render the job id on the triggerer"
    assert op._start_fallback and expected in op._start_fallback
    real_id = str(uuid.uuid4())
    op.job_id = real_id  # as the worker renders it
    emu.add_job(PROJECT, real_id, statuses=["Running"])
    with pytest.raises(TaskDeferred):
        op.execute({"ti": FakeTI()})
    assert logged_count("start_from_trigger is set, but this wait started on a worker: ", capsys, caplog) == 1


@needs_3_3
def test_an_xcom_pull_of_one_value_starts_on_the_triggerer() -> None:
    # A GetXCom, which Airflow 3.3.2's triggerer answers (tests/e2e/test_e2e_worker_free.py).
    op = sensor(job_id="{{ ti.xcom_pull(task_ids='submit', map_indexes=-1) }}", start_from_trigger=True)
    assert op.start_from_trigger is True and op._start_fallback is None


@needs_3_3
def test_a_mapped_start_says_why_it_started_on_a_worker(
    emu: Any, conn: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    op = sensor(start_from_trigger=True)
    emu.add_job(PROJECT, op.job_id, statuses=["Running"])
    ti = FakeTI()
    ti.map_index = 3
    with pytest.raises(TaskDeferred):
        op.execute({"ti": ti})
    assert logged_count("started on a worker: a mapped task", capsys, caplog) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"job_id": "{{ params.job_id }}"}, "job_id"),
        ({"job_id": ""}, "job_id"),
        ({"project_id": "not-a-project"}, "project_id"),
        ({"region": "Mars"}, "region"),
        ({"cfw_conn_id": " "}, "cfw_conn_id"),
        ({"poll_interval": float("nan")}, "poll_interval"),
        ({"poll_interval": -1}, "poll_interval"),
    ],
)
async def test_a_bad_rendered_argument_is_an_error_event_naming_it_before_any_request(
    emu: Any, conn: Any, kwargs: dict[str, Any], field: str
) -> None:
    args = {"job_id": str(uuid.uuid4()), "project_id": PROJECT, "poll_interval": 0.01, **kwargs}
    (event,) = await _events(CfwJobTrigger(**args))
    assert event.payload["status"] == "error" and event.payload["invalid_field"] == field
    assert event.payload["message"].startswith(
        f"Invalid CfwJobTrigger argument: CfwConfigError: {field}: expected"
    )
    assert emu.stats.count("cfw.job", None) == 0
    # The task fails on its resume without using up retries: retrying cannot fix an argument.
    with pytest.raises(AirflowFailException, match=field):
        sensor().execute_complete({}, event.payload)


async def test_the_not_found_grace_counts_from_the_first_poll_when_no_task_polled(
    emu: Any, conn: Any
) -> None:
    job_id = str(uuid.uuid4())
    trigger = CfwJobTrigger(job_id=job_id, project_id=PROJECT, poll_interval=0.05, not_found_grace_period=30)
    # Not visible for the first polls, then it appears and succeeds: the grace rode it out.
    events = trigger.run()
    first = events.__anext__()
    import asyncio

    task = asyncio.ensure_future(first)
    while emu.stats.count("cfw.job", None) < 2 and not task.done():
        await asyncio.sleep(0.01)
    emu.add_job(PROJECT, job_id, statuses=["Success"])
    event = await task
    assert event.payload["status"] == "success"
    assert trigger.not_found_deadline is not None


async def test_without_a_grace_or_deadline_not_found_ends_at_once(emu: Any, conn: Any) -> None:
    trigger = CfwJobTrigger(job_id=str(uuid.uuid4()), project_id=PROJECT, poll_interval=0.05)
    (event,) = await _events(trigger)
    assert event.payload["status"] == "error" and emu.stats.count("cfw.job", None) == 1


def test_the_docs_example_builds_a_wait_that_starts_on_the_triggerer() -> None:
    """The ``start_from_trigger`` block of docs/sensor.md, run as a user would paste it."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "sensor.md").read_text(encoding="utf-8")
    section = text.split("### `start_from_trigger`", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    op = eval(code, {"CfwJobSensor": CfwJobSensor})  # one expression: the sensor
    assert isinstance(op, CfwJobSensor)
    assert op.start_from_trigger is STARTS_ON_TRIGGERER
    assert op.end_from_trigger is True


def test_the_decision_serves_an_operator_whose_resume_only_returns_a_value() -> None:
    """The delete operator's resume: the base it is measured against is its own class."""
    from airflow_provider_cfw.operators.cfw import CfwDeleteFirewallOperator

    class LoggingDelete(CfwDeleteFirewallOperator):
        def job_ended(self, job: Any, submitted: Any) -> Any:
            return super().job_ended(job, submitted)

    delete = CfwDeleteFirewallOperator(
        task_id="delete", firewall_id="fw-1", deferrable=True, do_xcom_push=False
    )
    overridden = LoggingDelete(task_id="delete2", firewall_id="fw-1", deferrable=True, do_xcom_push=False)
    with listeners():
        assert end_from_trigger_decision(delete, None, CfwDeleteFirewallOperator)[0] is True
        # A subclass that does more when the job ends would be skipped: auto stays off.
        end, why = end_from_trigger_decision(overridden, None, CfwDeleteFirewallOperator)
    assert not end and "overrides job_ended" in why, why


@pytest.mark.parametrize(
    ("version", "starts_on_the_triggerer"),
    [((3, 2, 9), False), (START_FROM_TRIGGER_SINCE, True), ((3, 3, 2), True)],
    ids=["3.2.9", "3.3.0", "3.3.2"],
)
def test_start_from_trigger_from_airflow_3_3_0_exactly(
    monkeypatch: pytest.MonkeyPatch, version: tuple[int, int, int], starts_on_the_triggerer: bool
) -> None:
    # The running Airflow is one version: which one the check sees is the only thing made up here.
    import airflow_provider_cfw.version_compat as version_compat

    monkeypatch.setattr(version_compat, "airflow_version", lambda: version)
    fallback = version_compat.start_from_trigger_fallback(sensor(job_id="{{ params.job_id }}"))
    assert (fallback is None) is starts_on_the_triggerer, fallback
