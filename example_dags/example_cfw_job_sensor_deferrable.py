"""Wait for a Huawei Cloud Firewall (CFW) job on the triggerer: the worker slot is free while it waits.

Trigger it with the job id, e.g. ``airflow dags trigger example_cfw_job_sensor_deferrable --conf
'{"job_id": "..."}'``. Needs a running triggerer (``airflow triggerer``). Credentials come only from the
``cfw_default`` connection.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

try:
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2.x
    from airflow.decorators import task  # type: ignore[no-redef]
    from airflow.models.dag import DAG  # type: ignore[no-redef]
    from airflow.models.param import Param  # type: ignore[no-redef]

from airflow_provider_cfw.sensors.cfw import CfwJobSensor

DAG_ID = "example_cfw_job_sensor_deferrable"

log = logging.getLogger(__name__)

with DAG(
    dag_id=DAG_ID,
    description="Wait for a CFW job on the triggerer with CfwJobSensor(deferrable=True)",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["example", "cfw"],
    params={
        "job_id": Param(
            type="string",
            minLength=1,
            description="The CFW job id, as returned by the CFW call that started the job.",
        ),
    },
) as dag:
    # [START howto_sensor_cfw_job_deferrable]
    wait_for_job = CfwJobSensor(
        task_id="wait_for_job",
        job_id="{{ params.job_id }}",
        deferrable=True,
        poke_interval=10,
        timeout=60 * 60,
        # A failed job fails the task at once: AirflowFailException does not use up retries.
        # Retries are for trouble reaching CFW.
        retries=2,
    )
    # [END howto_sensor_cfw_job_deferrable]

    # [START howto_sensor_cfw_job_xcom]
    @task
    def report(job: dict[str, Any]) -> float | None:
        """The sensor's return value is the job: id, status, begin/end times, duration, request id."""
        log.info("CFW job %s ended %s after %s s", job["id"], job["status"], job["duration_seconds"])
        return job["duration_seconds"]

    report(wait_for_job.output)
    # [END howto_sensor_cfw_job_xcom]
