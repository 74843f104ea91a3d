"""E2E only: tasks ended on the triggerer, and a downstream task that pulls their XComs.

``pushed`` and ``mapped`` end through ``task_success_event`` (the trigger pushes the value); ``in_event``
ends with ``TaskSuccessEvent(xcoms=...)``, the control. ``pulled`` reports what ``xcom_pull`` gave it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import DAG, task
from cfw_e2e_xcom import EndOnTriggererOperator

JOB = {"id": "job-pushed", "status": "Success", "duration_seconds": 3, "request_id": None}
MAPPED = [{"id": "job-m0", "status": "Success"}, {"id": "job-m1", "status": "Success"}]

with DAG(
    dag_id="e2e_cfw_xcom_push",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["e2e"],
):
    pushed = EndOnTriggererOperator(task_id="pushed", value=JOB)
    mapped = EndOnTriggererOperator.partial(task_id="mapped").expand(value=MAPPED)
    in_event = EndOnTriggererOperator(task_id="in_event", value=JOB, via="event")

    @task
    def pulled(**context: Any) -> dict[str, Any]:
        """Each XCom as a downstream task gets it, with its type."""
        ti = context["ti"]
        got = {name: ti.xcom_pull(task_ids=name) for name in ("pushed", "in_event")}
        got["mapped"] = list(ti.xcom_pull(task_ids="mapped"))
        return {name: [type(value).__name__, value] for name, value in got.items()}

    [pushed, mapped, in_event] >> pulled()
