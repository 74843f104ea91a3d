"""A DAG of your own: wait on the triggerer for the CFW job whose id the run was given."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG

from airflow_provider_cfw import CfwJobSensor

with DAG(
    dag_id="wait_for_firewall",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    params={"job_id": ""},
) as dag:
    CfwJobSensor(
        task_id="wait_for_job",
        job_id="{{ params.job_id }}",
        deferrable=True,
        poke_interval=1,
        timeout=60,
    )
