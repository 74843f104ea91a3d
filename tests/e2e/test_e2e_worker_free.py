"""Worker task starts per deferred wait, counted from Airflow's own records on a real stack.

A deferrable wait that resumes on a worker takes two worker starts (one defers, one resumes),
``end_from_trigger`` one (and so does the default, which turns it on), ``start_from_trigger`` none. A
downstream task pulls the same dict from every mode. A failed job still fails the task on its first
try in every mode.
"""

from __future__ import annotations

import pytest

from airflow_provider_cfw.version_compat import START_FROM_TRIGGER_SINCE, airflow_version
from tests.e2e import failover
from tests.e2e.conftest import JOBS, WAIT_MODES, job_id
from tests.e2e.driver import E2eSession
from tests.e2e.stack import airflow_major

pytestmark = pytest.mark.e2e

DAG_ID = "e2e_cfw_worker_free"
JOB_KEYS = {"id", "status", "begin_time", "end_time", "duration_seconds", "request_id"}
AIRFLOW_3 = airflow_major() >= 3
STARTS_ON_TRIGGERER = airflow_version() >= START_FROM_TRIGGER_SINCE
#: Worker starts per wait whose job succeeds, and per wait whose job fails (which always resumes).
#: The auto default ends on the triggerer where that changes nothing else: here (no listeners, the
#: XCom pushed as a worker pushes it). Before Airflow 3.3, start_from_trigger falls back to a worker
#: start (and ends on the triggerer).
STARTS_ON_SUCCESS = {
    "resume": 2,
    "auto": 1,
    "end": 1,
    "start": 0 if STARTS_ON_TRIGGERER else 1,
}
STARTS_ON_FAILURE = {"resume": 2, "auto": 2, "end": 2, "start": 1 if STARTS_ON_TRIGGERER else 2}
#: The line each path leaves in the task's log (its worker or its trigger part).
PATH_LINES = {
    "resume": "the task resumes on a worker (end_from_trigger=False)",
    "auto": "on success the triggerer ends this task (end_from_trigger auto: on",
    "end": "on success the triggerer ends this task (end_from_trigger=True)",
    "start": (
        "the wait started on the triggerer, no worker polled first"
        if STARTS_ON_TRIGGERER
        else "start_from_trigger is set, but this wait started on a worker: Airflow"
    ),
}


def test_worker_starts_per_wait(e2e: E2eSession, run_id: str) -> None:
    check_worker_starts(e2e, run_id)


def test_failed_job_fails_the_first_try_in_every_mode(e2e: E2eSession, run_id: str) -> None:
    check_failed_job_fails_the_first_try(e2e, run_id)


def check_worker_starts(e2e: E2eSession, run_id: str) -> None:
    """Two runs, one wait per mode each: starts, log lines, polls and XComs (shared with Airflow 2.11's run)."""
    runs = [
        (DAG_ID, f"{run_id}-{n}", {mode: job_id(f"wf_ok_{mode}_{n}") for mode in WAIT_MODES}) for n in (1, 2)
    ]
    results = e2e.wait(e2e.launch(runs))
    records = e2e.airflow.records
    xcoms = {}
    for result, (_dag, run, conf) in zip(results, runs, strict=True):
        why = e2e.diagnose(DAG_ID, run)
        assert result.state == "success", why
        for mode in WAIT_MODES:
            ti = result.tasks[mode]
            assert (ti.state, ti.try_number) == ("success", 1), (mode, why)
            assert "deferred" in result.seen.states[mode], (mode, result.seen)
            assert records.task_starts(DAG_ID, run, mode) == STARTS_ON_SUCCESS[mode], (mode, why)
            assert PATH_LINES[mode] in e2e.airflow.task_log(DAG_ID, run, mode), (mode, why)
            # Every poll the job's script holds, and not one more: the same in every mode.
            assert e2e.polls(conf[mode]) == len(JOBS[f"wf_ok_{mode}_1"]), mode
            # What a downstream task pulls: the job as a dict, whichever process stored it (on
            # Airflow 3 the trigger pushes it through the XCom backend, as a worker would).
            xcom = records.xcom(DAG_ID, run, "pulled")[mode]
            assert isinstance(xcom, dict), (mode, xcom)
            assert set(xcom) == JOB_KEYS, (mode, xcom)
            assert (xcom["id"], xcom["status"]) == (conf[mode], "Success"), mode
            xcoms[mode] = xcom
    # The triggerer's push is the worker's XCom: the same keys, the same JSON types.
    shapes = {mode: {k: type(v).__name__ for k, v in xcom.items()} for mode, xcom in xcoms.items()}
    assert len({repr(shape) for shape in shapes.values()}) == 1, shapes
    starts = {mode: records.task_starts(DAG_ID, runs[0][1], mode) for mode in WAIT_MODES}
    failover.SUMMARY_LINES.append(
        f"Airflow {airflow_major()}: worker starts per sensor wait (Success): "
        + ", ".join(f"{mode} {n}" for mode, n in starts.items())
        + " (auto is the default)"
    )


def check_failed_job_fails_the_first_try(e2e: E2eSession, run_id: str) -> None:
    conf = {mode: job_id(f"wf_failed_{mode}") for mode in WAIT_MODES}
    result = e2e.run(DAG_ID, run_id, conf)
    why = e2e.diagnose(DAG_ID, run_id)
    records = e2e.airflow.records
    assert result.state == "failed", why
    for mode in WAIT_MODES:
        ti = result.tasks[mode]
        # retries=2: failing for good on try 1, with no earlier try kept, means no retry was used.
        assert (ti.state, ti.try_number, ti.max_tries) == ("failed", 1, 2), (mode, why)
        assert records.task_history(DAG_ID, run_id, mode) == [], mode
        assert "up_for_retry" not in result.seen.states[mode], (mode, result.seen)
        assert records.task_starts(DAG_ID, run_id, mode) == STARTS_ON_FAILURE[mode], (mode, why)
        assert f"CFW job {conf[mode]} failed" in e2e.airflow.task_log(DAG_ID, run_id, mode), (mode, why)
        assert records.xcom(DAG_ID, run_id, mode) is None, mode


@pytest.mark.skipif(not AIRFLOW_3, reason="starting on the triggerer with templates is Airflow 3.3's")
def test_xcom_pull_in_a_job_id_on_the_triggerer(e2e: E2eSession, run_id: str) -> None:
    """``{{ ti.xcom_pull(...) }}`` rendered on Airflow 3.3.2's triggerer (both tasks forced there).

    ``xcom_pull(task_ids='submit')`` asks for GetXComSequenceSlice, which the triggerer's supervisor
    refuses: the render never returns, the trigger never polls, the deferral's timeout ends the task
    (the sensor falls back to a worker start for such a template). With ``map_indexes=-1`` the pull
    is a GetXCom, which it answers: that wait starts on the triggerer and succeeds.
    """
    dag_id, job = "e2e_cfw_start_xcom_pull", job_id("wf_xcom_pull")
    result = e2e.run(dag_id, run_id, {"job_id": job})
    why = e2e.diagnose(dag_id, run_id)
    records = e2e.airflow.records
    hung = e2e.airflow.task_log(dag_id, run_id, "pull")
    assert result.tasks["pull"].state == "failed", why
    assert "Trigger cancelled due to timeout" in hung and "sensor timed out" in hung, why
    assert (result.tasks["pull_one"].state, records.task_starts(dag_id, run_id, "pull_one")) == (
        "success",
        0,
    ), why
    # Only the wait that rendered polled: every poll of the job's script, and not one more.
    assert e2e.polls(job) == len(JOBS["wf_xcom_pull"]), why
