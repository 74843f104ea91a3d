"""The sensor waiting on a worker: poke keeps the slot, reschedule gives it back between pokes."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import JOBS, job_id
from tests.e2e.driver import E2eSession
from tests.e2e.scenario import RunResult

pytestmark = pytest.mark.e2e


def _wait_succeeds_on_first_try(e2e: E2eSession, run_id: str, mode: str) -> tuple[RunResult, str]:
    """Run the mode's DAG; check the run, the first try's success, the job XCom and the poll count."""
    dag_id, job = f"e2e_cfw_{mode}", job_id(mode)
    result = e2e.run(dag_id, run_id, {"job_id": job})
    why = e2e.diagnose(dag_id, run_id)
    assert result.state == "success", why
    wait = result.tasks["wait"]
    assert (wait.state, wait.try_number) == ("success", 1), why
    xcom = e2e.airflow.records.xcom(dag_id, run_id, "wait")
    assert (xcom["id"], xcom["status"]) == (job, "Success")
    assert e2e.polls(job) == len(JOBS[mode])
    return result, why


def test_poke_mode_succeeds(e2e: E2eSession, run_id: str) -> None:
    result, _ = _wait_succeeds_on_first_try(e2e, run_id, "poke")
    assert not {"deferred", "up_for_reschedule"} & set(result.seen.states["wait"]), result.seen


def test_reschedule_mode_succeeds(e2e: E2eSession, run_id: str) -> None:
    result, why = _wait_succeeds_on_first_try(e2e, run_id, "reschedule")
    assert "deferred" not in result.seen.states["wait"], result.seen
    # Each Running answer gave the slot back: one reschedule per Running poll.
    running_polls = len(JOBS["reschedule"]) - 1
    assert e2e.airflow.records.reschedules("e2e_cfw_reschedule", run_id, "wait") == running_polls, why
