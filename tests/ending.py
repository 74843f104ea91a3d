"""A trigger as the triggerer runs it, for tests of ending a task there: with the task instance it runs
for, and the XCom backend the deployment configured, recording what the trigger pushes.

Airflow 2's triggerer stores a ``TaskSuccessEvent``'s XComs itself (they are in the event). From Airflow
3.0.6 on the trigger pushes the value through the task SDK's ``XCom.set``: the configured backend
serializes it and the trigger runner's pipe sends it to the triggerer's supervisor, another process.
Here the backend is a real ``[core] xcom_backend`` class resolved by Airflow's own function, and the
pipe records what would cross it.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from airflow.triggers.base import BaseTrigger, TaskSuccessEvent

from airflow_provider_cfw.version_compat import airflow_version

AIRFLOW_3 = airflow_version() >= (3, 0, 0)


def task_instance(map_index: int = -1) -> Any:
    """What each triggerer sets as a trigger's ``task_instance``: Airflow 3 a TaskInstanceDTO of the
    workload, Airflow 2 the ORM row."""
    if AIRFLOW_3:
        from airflow.executors.workloads.task import TaskInstanceDTO

        return TaskInstanceDTO(
            id=uuid.uuid4(),
            task_id="wait",
            dag_id="my_dag",
            run_id="manual__1",
            try_number=1,
            dag_version_id=uuid.uuid4(),
            map_index=map_index,
            pool_slots=1,
            priority_weight=1,
            queue="default",
        )
    from datetime import UTC, datetime

    from airflow.models.dag import DAG
    from airflow.models.taskinstance import TaskInstance
    from airflow.operators.empty import EmptyOperator

    dag = DAG("my_dag", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC))
    return TaskInstance(EmptyOperator(task_id="wait", dag=dag), run_id="manual__1", map_index=map_index)


def on_the_triggerer(trigger: BaseTrigger, map_index: int = -1) -> BaseTrigger:
    """The trigger with the task instance the triggerer hands it (dag.test() hands none)."""
    trigger.task_instance = task_instance(map_index)
    return trigger


try:
    from airflow.sdk.bases.xcom import BaseXCom
except ImportError:  # Airflow 2: no task SDK backend to stand in for
    BaseXCom = None  # type: ignore[assignment,misc]

#: Where the custom backend below serialized (the thread), and with what.
SERIALIZED: list[tuple[int, dict[str, Any]]] = []

if BaseXCom is not None:

    class NotingXCom(BaseXCom):
        """A custom backend, as an object-storage one is: its serialize_value does the I/O and
        returns a reference, which is what the XCom table then holds."""

        @staticmethod
        def serialize_value(value: Any, **ids: Any) -> Any:
            SERIALIZED.append((threading.get_ident(), {"value": value, **ids}))
            return f"noted://{ids['dag_id']}/{ids['task_id']}/{ids['map_index']}"


class SupervisorPipe:
    """The trigger runner's end of the pipe to the triggerer's supervisor, which is another process:
    what the SDK sent, from which thread. ``send`` is what the SDK's sync ``XCom.set`` calls."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, Any]] = []

    def send(self, msg: Any) -> None:
        self.sent.append((threading.get_ident(), msg))


def configure_backend(monkeypatch: pytest.MonkeyPatch) -> type:
    """``[core] xcom_backend`` set to NotingXCom, resolved by Airflow's own function, as the task SDK's
    xcom module resolves it when it is first imported (in the triggerer, by its task runner)."""
    import airflow.sdk.execution_time.xcom as sdk_xcom

    monkeypatch.setenv("AIRFLOW__CORE__XCOM_BACKEND", f"{__name__}.NotingXCom")
    backend = sdk_xcom.resolve_xcom_backend()
    assert backend.__name__ == "NotingXCom"
    monkeypatch.setattr(sdk_xcom, "XCom", backend)
    SERIALIZED.clear()
    return backend


def connect_pipe(monkeypatch: pytest.MonkeyPatch) -> SupervisorPipe:
    """The trigger runner's pipe, as the triggerer's task runner sets it."""
    from airflow.sdk.execution_time import task_runner

    pipe = SupervisorPipe()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", pipe, raising=False)
    return pipe


class Pushes:
    """What triggers ending their tasks left for ``xcom_pull``, on either Airflow."""

    def value_of(self, event: TaskSuccessEvent) -> Any:
        """The ``return_value`` a downstream task would pull after ``event`` ended the task."""
        assert isinstance(event, TaskSuccessEvent), event
        if not AIRFLOW_3:
            return (event.xcoms or {}).get("return_value")
        assert event.xcoms is None, event.xcoms  # pushed before the event, not in it
        values = [call["value"] for _, call in SERIALIZED if call["key"] == "return_value"]
        return values[-1] if values else None

    @property
    def count(self) -> int:
        """How many values the triggers pushed through the backend (Airflow 3)."""
        return len(SERIALIZED)
