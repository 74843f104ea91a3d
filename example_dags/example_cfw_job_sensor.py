"""Wait for a Huawei Cloud Firewall (CFW) job on a worker, in ``poke`` and in ``reschedule`` mode.

Trigger it with the job id, e.g. ``airflow dags trigger example_cfw_job_sensor --conf '{"job_id": "..."}'``.
Credentials come only from the ``cfw_default`` connection (type ``huaweicloud_cfw``).

``poke`` keeps a worker slot for the whole wait: right for waits of a minute or two. ``reschedule``
gives the slot back between pokes and starts a fresh task process for each one: right for long waits
when no triggerer runs (otherwise prefer ``example_cfw_job_sensor_deferrable``).
"""

from __future__ import annotations

from datetime import UTC, datetime

try:
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2.x
    from airflow.models.dag import DAG  # type: ignore[no-redef]
    from airflow.models.param import Param  # type: ignore[no-redef]

from airflow_provider_cfw.sensors.cfw import CfwJobSensor

DAG_ID = "example_cfw_job_sensor"

with DAG(
    dag_id=DAG_ID,
    description="Wait for a CFW job with CfwJobSensor in poke and reschedule modes",
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
    # [START howto_sensor_cfw_job_poke]
    wait_for_job = CfwJobSensor(
        task_id="wait_for_job",
        job_id="{{ params.job_id }}",
        cfw_conn_id="cfw_default",
        mode="poke",
        poke_interval=10,
        timeout=20 * 60,
    )
    # [END howto_sensor_cfw_job_poke]

    # [START howto_sensor_cfw_job_reschedule]
    wait_for_job_reschedule = CfwJobSensor(
        task_id="wait_for_job_reschedule",
        job_id="{{ params.job_id }}",
        mode="reschedule",
        poke_interval=30,
        timeout=2 * 60 * 60,
    )
    # [END howto_sensor_cfw_job_reschedule]
