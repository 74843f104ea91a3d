"""E2E only: one deferrable CfwJobSensor per way a wait can use the workers, each on its own job.

``resume``: today's deferrable wait (a start that defers, a start that resumes); ``end``: the
triggerer ends the task on success; ``start``: the wait starts on the triggerer too (Airflow 3.3+).
``retries=2`` everywhere: a failed job must fail the task on its first try in every mode.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.x
    from airflow.decorators import task  # type: ignore[no-redef]
    from airflow.models.dag import DAG  # type: ignore[no-redef]

from airflow_provider_cfw.sensors.cfw import CfwJobSensor

MODES: dict[str, dict[str, bool]] = {
    "resume": {"end_from_trigger": False},
    "auto": {},
    "end": {"end_from_trigger": True},
    "start": {"start_from_trigger": True, "end_from_trigger": True},
}
COMMON = {
    "deferrable": True,
    "poke_interval": 1,
    "timeout": 120,
    "retries": 2,
    "retry_delay": timedelta(seconds=1),
}

with DAG(
    dag_id="e2e_cfw_worker_free",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["e2e"],
    params={mode: "" for mode in MODES},
):
    waits = [
        CfwJobSensor(task_id=mode, job_id=f"{{{{ params.{mode} }}}}", **COMMON, **options)
        for mode, options in MODES.items()
    ]

    @task
    def pulled(**context: object) -> dict[str, object]:
        """Each wait's XCom as a downstream task reads it, whichever process pushed it."""
        ti = context["ti"]
        return {mode: ti.xcom_pull(task_ids=mode) for mode in MODES}  # type: ignore[attr-defined]

    waits >> pulled()

# What Airflow 3.3's triggerer makes of a job id pulled from an upstream task's XCom. The sensor
# refuses to start such a wait on the triggerer; these two are forced there, to watch Airflow do it.
XCOM_TEMPLATES = {
    "pull": "{{ ti.xcom_pull(task_ids='submit') }}",
    "pull_one": "{{ ti.xcom_pull(task_ids='submit', map_indexes=-1) }}",
}


def forced_start(task_id: str, template: str) -> CfwJobSensor:
    sensor = CfwJobSensor(
        task_id=task_id,
        job_id="placeholder",
        start_from_trigger=True,
        end_from_trigger=True,
        **{**COMMON, "retries": 0, "timeout": 30},
    )
    if sensor.start_from_trigger:  # Airflow 3.3+
        sensor.job_id = template
        kwargs = {**(sensor.start_trigger_args.trigger_kwargs or {}), "job_id": template}
        sensor.start_trigger_args = dataclasses.replace(sensor.start_trigger_args, trigger_kwargs=kwargs)
    return sensor


with DAG(
    dag_id="e2e_cfw_start_xcom_pull",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["e2e"],
    params={"job_id": ""},
):

    @task
    def submit(**context: object) -> str:
        return str(context["params"]["job_id"])  # type: ignore[index]

    submit() >> [forced_start(name, template) for name, template in XCOM_TEMPLATES.items()]
