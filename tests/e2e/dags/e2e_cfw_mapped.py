"""E2E only: many deferred waits from one mapped sensor, their job ids from an upstream task's XCom.

This is how users wait on many CFW jobs: one task starts them and returns the ids, and the sensor is
mapped over that list. ``retries=0``: a wait that a triggerer failure breaks fails its run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.x
    from airflow.decorators import task  # type: ignore[no-redef]
    from airflow.models.dag import DAG  # type: ignore[no-redef]

from airflow_provider_cfw.sensors.cfw import CfwJobSensor

#: Seconds between two polls of one job, on the worker's first poke and on the triggerer.
POLL_INTERVAL = 5

with DAG(
    dag_id="e2e_cfw_mapped",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["e2e"],
    params={"job_ids": []},
    max_active_tasks=64,
):

    @task
    def started_jobs(**context: Any) -> list[str]:
        """Stands in for the task that starts the CFW jobs and returns their ids."""
        return [str(job_id) for job_id in context["params"]["job_ids"]]

    CfwJobSensor.partial(
        task_id="wait",
        deferrable=True,
        # The failover rounds count each wait's fired event in the triggerers' logs, the measure they
        # were built on: every event resumes a worker, as before worker-free waits were the default.
        # (Once, with the default, a wait whose task succeeded had no "fired" line in any log.)
        end_from_trigger=False,
        retries=0,
        poke_interval=POLL_INTERVAL,
        timeout=900,
    ).expand(job_id=started_jobs())
