"""task_success_event: the event that ends a task on the triggerer with the XCom a worker would push,
or ``None`` (and one log line) where only a resume on a worker gets that XCom right.

The push itself, on a real triggerer and a real downstream ``xcom_pull``, is proven end to end by
tests/e2e/test_e2e_xcom_push.py; these run the decisions and the failure paths in this process.
"""

from __future__ import annotations

import logging
import threading
import uuid

import pytest
from airflow.triggers.base import TaskSuccessEvent

from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from airflow_provider_cfw.triggers.task_success import RETURN_VALUE, task_success_event
from airflow_provider_cfw.version_compat import TRIGGER_PUSH_SINCE, XComRoute, xcom_route
from tests.conftest import PROJECT, logged_count
from tests.ending import AIRFLOW_3, SERIALIZED, configure_backend, connect_pipe, on_the_triggerer

VALUE = {"id": "job-1", "status": "Success", "duration_seconds": 3}


@pytest.mark.parametrize(
    ("version", "route"),
    [
        ((2, 10, 5), XComRoute.EVENT),
        ((2, 11, 0), XComRoute.EVENT),
        ((3, 0, 0), XComRoute.WORKER),
        ((3, 0, 4), XComRoute.WORKER),  # the last 3.0 whose triggerer leaves SetXCom unanswered
        ((3, 0, 6), XComRoute.TRIGGER),
        ((3, 1, 8), XComRoute.TRIGGER),
        ((3, 2, 2), XComRoute.TRIGGER),
        ((3, 3, 2), XComRoute.TRIGGER),
    ],
)
def test_who_stores_the_xcom_on_each_airflow(version: tuple[int, int, int], route: XComRoute) -> None:
    assert xcom_route(version) is route


def test_the_first_version_that_pushes_is_3_0_6() -> None:
    assert TRIGGER_PUSH_SINCE == (3, 0, 6)


def _trigger(with_task_instance: bool = True, map_index: int = -1) -> CfwJobTrigger:
    """A trigger as the triggerer hands it over: with the task instance it runs for."""
    trigger = CfwJobTrigger(job_id=str(uuid.uuid4()), project_id=PROJECT)
    if with_task_instance:
        on_the_triggerer(trigger, map_index)
    return trigger


class Logs:
    """The log lines a test wrote: Airflow 3 routes a trigger's log through structlog (stdout here),
    Airflow 2 through logging."""

    def __init__(self, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
        self.capsys, self.caplog = capsys, caplog
        caplog.set_level(logging.INFO)

    def count(self, needle: str) -> int:
        return logged_count(needle, self.capsys, self.caplog)

    def text(self) -> str:
        return self.capsys.readouterr().out + self.caplog.text


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Logs:
    return Logs(capsys, caplog)


RESUMING_NO_TI = "No task instance to end here (dag.test() runs triggers inline): resuming the task"


async def test_without_a_task_instance_the_task_resumes(logs: Logs) -> None:
    # dag.test() runs a trigger without a task instance, and gives the task only the event's payload.
    for push in (True, False):
        assert await task_success_event(_trigger(with_task_instance=False), VALUE, push=push) is None
    assert logs.count(RESUMING_NO_TI) == 2


async def test_without_do_xcom_push_the_event_carries_nothing(logs: Logs) -> None:
    event = await task_success_event(_trigger(), VALUE, push=False)
    assert isinstance(event, TaskSuccessEvent)
    assert event.xcoms is None
    assert "XCom" not in logs.text()


@pytest.mark.skipif(AIRFLOW_3, reason="Airflow 2's triggerer stores the event's XComs")
async def test_airflow_2_puts_the_value_in_the_event(logs: Logs) -> None:
    event = await task_success_event(_trigger(), VALUE, push=True)
    assert isinstance(event, TaskSuccessEvent)
    assert event.xcoms == {RETURN_VALUE: VALUE}
    assert "XCom" not in logs.text()


@pytest.fixture
def configured_backend(monkeypatch: pytest.MonkeyPatch) -> type:
    return configure_backend(monkeypatch)


@pytest.mark.skipif(not AIRFLOW_3, reason="the task SDK's XCom.set is Airflow 3's")
async def test_the_configured_backend_stores_it_off_the_loop(
    configured_backend: type, monkeypatch: pytest.MonkeyPatch, logs: Logs
) -> None:
    from airflow.sdk.execution_time.comms import SetXCom

    pipe = connect_pipe(monkeypatch)

    event = await task_success_event(_trigger(map_index=2), VALUE, push=True)

    assert isinstance(event, TaskSuccessEvent) and event.xcoms is None
    [(serialized_in, call)] = SERIALIZED
    ids = {"dag_id": "my_dag", "task_id": "wait", "run_id": "manual__1", "map_index": 2}
    assert call == {"value": VALUE, "key": RETURN_VALUE, **ids}
    [(sent_from, msg)] = pipe.sent
    # The backend's reference is what reaches the XCom table, as from a worker.
    assert msg == SetXCom(key=RETURN_VALUE, value="noted://my_dag/wait/2", **ids)
    # Neither the backend's I/O nor the send ran on the event loop's thread.
    assert serialized_in == sent_from != threading.get_ident()
    assert logs.count(f"Pushed the XCom {RETURN_VALUE} through tests.ending.NotingXCom") == 1


@pytest.mark.skipif(not AIRFLOW_3, reason="the task SDK's XCom.set is Airflow 3's")
async def test_a_failed_push_resumes_the_task(logs: Logs) -> None:
    # Nothing stands in here: in a process without a triggerer's supervisor the SDK's send fails.
    event = await task_success_event(_trigger(), VALUE, push=True)
    assert event is None
    text = logs.text()
    assert text.count(f"Could not push the XCom {RETURN_VALUE} on the triggerer (ImportError: ") == 1
    assert text.count("): resuming the task on a worker") == 1
