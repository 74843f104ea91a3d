"""E2E only: the sensor waiting on a worker, in poke mode (1 s poll) and in reschedule mode (3 s)."""

from __future__ import annotations

from datetime import UTC, datetime

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.x
    from airflow.models.dag import DAG  # type: ignore[no-redef]

from airflow_provider_cfw.sensors.cfw import CfwJobSensor

# Reschedule mode gets 3 s: with 1 s the next poke can be queued before the scheduler has drained the
# executor's "success" for the previous one, and Airflow then fails the task as "killed externally"
# (apache/airflow#71172, open; seen here with Airflow 3.3.2 and LocalExecutor).
for mode, interval in (("poke", 1), ("reschedule", 3)):
    with DAG(
        dag_id=f"e2e_cfw_{mode}",
        schedule=None,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        tags=["e2e"],
        params={"job_id": ""},
    ):
        CfwJobSensor(
            task_id="wait", job_id="{{ params.job_id }}", mode=mode, poke_interval=interval, timeout=120
        )
