"""The hook example DAG, unchanged, on the real stack: read the job, report its duration, branch."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import HOOK_JOB_DURATION, job_id
from tests.e2e.driver import E2eSession

pytestmark = pytest.mark.e2e

DAG_ID = "example_cfw_hook"


def test_hook_example_reads_the_job_and_branches_on_its_duration(e2e: E2eSession, run_id: str) -> None:
    job = job_id("hook_done")
    result = e2e.run(DAG_ID, run_id, {"job_id": job})
    why = e2e.diagnose(DAG_ID, run_id)
    assert result.state == "success", why
    states = {task_id: ti.state for task_id, ti in result.tasks.items()}
    assert states == {
        "started_job_id": "success",
        "read_job": "success",
        "by_outcome": "success",
        "job_was_fast": "success",
        "job_was_slow": "skipped",
        "job_still_running": "skipped",
        "job_failed": "skipped",
    }, why
    read = e2e.airflow.records.xcom(DAG_ID, run_id, "read_job")
    assert (read["id"], read["status"], read["duration_seconds"]) == (job, "Success", HOOK_JOB_DURATION)
    assert e2e.polls(job) == 1
