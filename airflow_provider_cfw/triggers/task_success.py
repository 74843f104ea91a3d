"""End a task on the triggerer with the XCom ``return_value`` a worker would push for it (which Airflow
can: :func:`~airflow_provider_cfw.version_compat.xcom_route`).

A ``TaskSuccessEvent(xcoms=...)`` gives a downstream ``xcom_pull`` what a worker's push gives only on
Airflow 2, whose triggerer stores the event's XComs with the configured backend's ``XCom.set``. From
Airflow 3 on the triggerer stores them with ``XComModel.set``, which bypasses ``[core] xcom_backend``
and writes the value as JSON text: ``xcom_pull`` returns a ``str``. From Airflow 3.0.6 on, a trigger
can push the value itself, through the task SDK's ``XCom.set`` (the configured backend, as a worker's
task runner pushes it), before it fires an event without XComs. Airflow 3.0.0 to 3.0.4 (there is no
3.0.5) cannot: their triggerer drops a trigger's ``SetXCom`` unanswered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow import __version__ as AIRFLOW_VERSION
from airflow.triggers.base import TaskSuccessEvent

from airflow_provider_cfw.version_compat import TRIGGER_PUSH_SINCE, XComRoute, airflow_version, xcom_route

if TYPE_CHECKING:
    from airflow.triggers.base import BaseTrigger

#: The key a worker pushes a task's return value under.
RETURN_VALUE = "return_value"


async def task_success_event(trigger: BaseTrigger, value: Any, *, push: bool) -> TaskSuccessEvent | None:
    """The event that ends the trigger's task successfully with ``value`` as its XCom ``return_value``,
    stored where and how a worker stores it; ``None`` when only a worker can do that, and the caller
    fires the event that resumes the task instead (this logs why, in one line).

    On Airflow 3 the value is pushed here, before the event: the task is ``success`` only once its XCom
    is stored, so no downstream task can read it early. If the event is then not taken (the task was
    cleared, or timed out meanwhile), the value stays until the task's next try starts, which clears
    its XComs as every try does.

    :param trigger: the running trigger; its ``task_instance`` names the XCom's task instance.
    :param value: the return value, plain JSON; pushed only if ``push``.
    :param push: the task's ``do_xcom_push``.
    """
    ti = trigger.task_instance
    if ti is None:
        # dag.test() runs the trigger inline without a task instance and hands the task only the
        # event's payload ("success"), never its XComs: only a resume returns the value there.
        trigger.log.info("No task instance to end here (dag.test() runs triggers inline): resuming the task")
        return None
    if not push:
        return TaskSuccessEvent()
    route = xcom_route(airflow_version())
    if route is XComRoute.EVENT:
        return TaskSuccessEvent(xcoms={RETURN_VALUE: value})
    if route is XComRoute.WORKER:
        trigger.log.info(
            "Airflow %s's triggerer cannot push the XCom as a worker does (%s or later can): "
            "resuming the task on a worker",
            AIRFLOW_VERSION,
            ".".join(map(str, TRIGGER_PUSH_SINCE)),
        )
        return None
    # Off the event loop: a custom backend's serialize_value may write to object storage. The SDK's
    # XCom.set then sends SetXCom from that thread; Airflow's trigger runner routes a send from a
    # sync_to_async thread back to its loop (its init_comms says so), on 3.0.6 as on 3.3.
    from asgiref.sync import sync_to_async

    try:
        backend = await sync_to_async(_push, thread_sensitive=False)(
            value, dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id, map_index=ti.map_index
        )
    except Exception as err:
        trigger.log.warning(
            "Could not push the XCom %s on the triggerer (%s: %s): resuming the task on a worker",
            RETURN_VALUE,
            type(err).__name__,
            err,
            exc_info=True,
        )
        return None
    trigger.log.info("Pushed the XCom %s through %s", RETURN_VALUE, backend)
    return TaskSuccessEvent()


def _push(value: Any, *, dag_id: str, task_id: str, run_id: str, map_index: int) -> str:
    """Store the value as a worker's task runner does; run in a thread. Returns the backend's name."""
    # The class [core] xcom_backend names, resolved the way the task runner resolves it (imported here,
    # in the thread: a backend's module may be slow to import, and the loop must not wait for it).
    from airflow.sdk.execution_time.xcom import XCom

    XCom.set(RETURN_VALUE, value, dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=map_index)
    return f"{XCom.__module__}.{XCom.__qualname__}"
