"""Test a DAG against the CFW emulator with ``dag.test()``: ``pytest test_wait_for_firewall.py``."""

from __future__ import annotations

import uuid

import pytest
from conftest import PROJECT


@pytest.fixture
def wait_for_firewall(cfw_airflow_db, cfw_load_dag):
    """The DAG, parsed afresh from dags/ (``cfw_load_dag``), on the throwaway database (``cfw_airflow_db``)."""
    return cfw_load_dag("wait_for_firewall")


def test_the_dag_waits_for_the_job_and_returns_it(cfw, wait_for_firewall):
    job_id = str(uuid.uuid4())
    cfw.add_job(PROJECT, job_id, statuses=["Running", "Running", "Success"])

    run = wait_for_firewall.test(run_conf={"job_id": job_id})

    ti = run.get_task_instance("wait_for_job")
    assert (run.state, ti.state, ti.try_number) == ("success", "success", 1)
    job = ti.xcom_pull(task_ids="wait_for_job")  # the sensor returns the finished job
    assert (job["id"], job["status"]) == (job_id, "Success")
    assert cfw.stats.count("cfw.job", 200) == 3  # one poke on the "worker", two polls by the trigger


def test_a_failed_job_fails_the_task_at_once(cfw, wait_for_firewall, capsys):
    job_id = str(uuid.uuid4())
    cfw.add_job(PROJECT, job_id, statuses=["Running", "Failed"])

    run = wait_for_firewall.test(run_conf={"job_id": job_id})

    ti = run.get_task_instance("wait_for_job")
    assert (run.state, ti.state, ti.try_number) == ("failed", "failed", 1)
    assert cfw.stats.count("cfw.job", 200) == 2  # it polled until the job failed, and no further
    # Why the task failed, from its log (dag.test() prints the task's log): the job's own failure.
    assert f"AirflowFailException: CFW job {job_id} failed" in capsys.readouterr().out


# [START each_run_afresh]
def test_each_run_starts_from_the_dags_defaults(cfw, cfw_load_dag):
    job_id = str(uuid.uuid4())
    cfw.add_job(PROJECT, job_id, statuses=["Success"])
    cfw_load_dag("wait_for_firewall").test(run_conf={"job_id": job_id})

    rerun = cfw_load_dag("wait_for_firewall").test()  # no conf: params.job_id is "" again, not job_id

    assert rerun.get_task_instance("wait_for_job").state == "failed"  # an empty job id is refused
    assert cfw.stats.count("cfw.job") == 1  # the first run's one poll; the rerun sent nothing
    # [END each_run_afresh]
