"""Use ``CfwHook`` inside a task: read a Huawei Cloud Firewall (CFW) job, report how long it took, branch on it.

The job id comes from the task that started the job, through XCom; here that task only takes it from the
run's conf (``--conf '{"job_id": "..."}'``) so the example runs on its own. Credentials come only from the
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

DAG_ID = "example_cfw_hook"

log = logging.getLogger(__name__)

with DAG(
    dag_id=DAG_ID,
    description="Read a CFW job with CfwHook, report its duration and branch on it",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["example", "cfw"],
    params={
        "job_id": Param(type="string", minLength=1, description="The CFW job id."),
        "slow_after_seconds": Param(
            300, type="number", minimum=0, description="A job that took longer than this is 'slow'."
        ),
    },
) as dag:

    @task
    def started_job_id(**context: Any) -> str:
        """Stands in for the task that starts a CFW job and returns its id."""
        return str(context["params"]["job_id"])

    # [START howto_hook_cfw_get_job]
    # One XCom holding the whole job: Airflow would otherwise infer multiple_outputs from the dict
    # annotation and push one more XCom per key.
    @task(multiple_outputs=False)
    def read_job(job_id: str) -> dict[str, Any]:
        # Imported in the task, not at the top: DAG files are parsed often and must stay cheap.
        from airflow_provider_cfw.hooks.cfw import CfwHook

        job = CfwHook(cfw_conn_id="cfw_default").get_job(job_id)
        log.info("CFW job %s is %s (took %s s)", job.id, job.status.value, job.duration_seconds)
        return job.to_dict()

    # [END howto_hook_cfw_get_job]

    # [START howto_hook_cfw_branch]
    @task.branch
    def by_outcome(job: dict[str, Any], **context: Any) -> str:
        if job["status"] == "Failed":
            return "job_failed"
        if job["status"] != "Success" or job["duration_seconds"] is None:
            return "job_still_running"
        if job["duration_seconds"] > context["params"]["slow_after_seconds"]:
            return "job_was_slow"
        return "job_was_fast"

    @task
    def job_was_fast(job: dict[str, Any]) -> None:
        log.info("CFW job %s took %s s", job["id"], job["duration_seconds"])

    @task
    def job_was_slow(job: dict[str, Any]) -> None:
        log.warning("CFW job %s was slow: %s s", job["id"], job["duration_seconds"])

    @task
    def job_still_running(job: dict[str, Any]) -> None:
        log.info("CFW job %s is still %s; wait for it with CfwJobSensor", job["id"], job["status"])

    @task
    def job_failed(job: dict[str, Any]) -> None:
        log.error("CFW job %s failed (request id %s)", job["id"], job["request_id"])

    job = read_job(started_job_id())
    by_outcome(job) >> [job_was_fast(job), job_was_slow(job), job_still_running(job), job_failed(job)]
    # [END howto_hook_cfw_branch]
