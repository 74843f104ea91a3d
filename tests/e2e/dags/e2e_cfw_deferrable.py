"""E2E only: the deferrable sensor with a 1 s poll, next to a task that needs the (single) worker slot."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.x
    from airflow.decorators import task  # type: ignore[no-redef]
    from airflow.models.dag import DAG  # type: ignore[no-redef]

from airflow_provider_cfw.sensors.cfw import CfwJobSensor

with DAG(
    dag_id="e2e_cfw_deferrable",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["e2e"],
    params={"job_id": ""},
):
    # Highest priority, so with one slot the sensor is the first to run; the filler can then only
    # get the slot while the sensor is deferred.
    CfwJobSensor(
        task_id="wait",
        job_id="{{ params.job_id }}",
        deferrable=True,
        poke_interval=1,
        timeout=120,
        retries=2,
        retry_delay=timedelta(seconds=1),
        priority_weight=10,
    )

    @task(priority_weight=1)
    def filler() -> float:
        time.sleep(1)
        return time.time()

    filler()
