"""The firewall lifecycle's end-to-end scenarios, shared by the Airflow 3 and Airflow 2.11 stacks: each
runs DAGs of ``dags/e2e_cfw_firewall.py`` against the session's emulator and checks what Airflow
recorded and what the emulator counted (firewalls made, orders, creates sent, repeated tokens)."""

from __future__ import annotations

from airflow_provider_cfw.testing import CfwEmulator
from airflow_provider_cfw.testing.firewalls import FAST_JOB_SCRIPT
from tests.e2e import failover
from tests.e2e.driver import E2eSession
from tests.e2e.stack import airflow_major

RETRY_DAG = "e2e_cfw_firewall_retry"
TEARDOWN_DAG = "e2e_cfw_firewall_teardown"
PREPAID_DAG = "e2e_cfw_firewall_prepaid"
FIREWALL_DAG_IDS = [RETRY_DAG, TEARDOWN_DAG, PREPAID_DAG]
#: Seconds a new firewall stays out of ListFirewallList: longer than Airflow takes to retry the task.
LIST_LAG = 20.0


def emulator(e2e: E2eSession) -> CfwEmulator:
    assert e2e.emulator is not None
    return e2e.emulator


def creates_sent(emu: CfwEmulator) -> int:
    return sum(emu.stats.requests.get("cfw.firewall.create", {}).values())


def failing_work_fails_the_run_and_the_teardown_deletes(e2e: E2eSession, run_id: str) -> None:
    emu = emulator(e2e)
    name = f"e2e-td-{run_id[-6:]}"
    result = e2e.run(TEARDOWN_DAG, run_id, {"name": name, "fail_work": True})
    why = e2e.diagnose(TEARDOWN_DAG, run_id)
    # The run's state comes from the work, not from the teardown that ran last.
    assert result.state == "failed", why
    states = {task_id: ti.state for task_id, ti in result.tasks.items()}
    assert states == {"create_firewall": "success", "work": "failed", "delete_firewall": "success"}, why
    created = e2e.airflow.records.xcom(TEARDOWN_DAG, run_id, "create_firewall")
    deleted = e2e.airflow.records.xcom(TEARDOWN_DAG, run_id, "delete_firewall")
    assert deleted["firewall_id"] == created["firewall_id"] and deleted["job_id"], (created, deleted)
    assert emu.list_firewalls(name) == [], why
    # Deferred with the default end_from_trigger: the job's success ends each on the triggerer.
    records = e2e.airflow.records
    starts = {
        task: records.task_starts(TEARDOWN_DAG, run_id, task)
        for task in ("create_firewall", "delete_firewall")
    }
    failover.SUMMARY_LINES.append(
        f"Airflow {airflow_major()}: worker starts per operator wait (default arguments): "
        + ", ".join(f"{task} {n}" for task, n in starts.items())
    )
    assert starts == {"create_firewall": 1, "delete_firewall": 1}, why


def failed_creation_leaves_nothing_and_the_name_works_next_run(e2e: E2eSession, run_id: str) -> None:
    emu = emulator(e2e)
    name = f"e2e-cf-{run_id[-6:]}"
    created_before = emu.firewalls_created
    emu.script_firewall_jobs([("Running", 1.0), ("Failed", None)], deletes=FAST_JOB_SCRIPT)
    try:
        failed = e2e.run(TEARDOWN_DAG, run_id, {"name": name, "fail_work": False})
    finally:
        emu.script_firewall_jobs(emu.firewalls.default_job_script)
    why = e2e.diagnose(TEARDOWN_DAG, run_id)
    create = failed.tasks["create_firewall"]
    assert (failed.state, create.state, create.try_number) == ("failed", "failed", 1), why
    assert emu.firewalls_created == created_before + 1, why
    assert emu.list_firewalls(name) == [], why  # the create removed what it made
    log = e2e.airflow.task_log(TEARDOWN_DAG, run_id, "create_firewall", create.try_number)
    assert "cleaned up: the create-failed firewall" in log, log[-3000:]
    # The next run with the same name needs no manual step.
    again_id = f"{run_id}-again"
    again = e2e.run(TEARDOWN_DAG, again_id, {"name": name, "fail_work": False})
    why = e2e.diagnose(TEARDOWN_DAG, again_id)
    assert again.state == "success", why
    assert {t: ti.state for t, ti in again.tasks.items()} == dict.fromkeys(again.tasks, "success"), why
    assert emu.firewalls_created == created_before + 2 and emu.list_firewalls(name) == [], why


def lost_answer_and_lagging_list_make_one_firewall(e2e: E2eSession, run_id: str) -> None:
    emu = emulator(e2e)
    name = f"e2e-lag-{run_id[-6:]}"
    created_before, sent_before = emu.firewalls_created, creates_sent(emu)
    repeated_before, orders_before = emu.repeated_client_tokens, emu.firewall_orders
    emu.firewall_list_lag = LIST_LAG
    fault = emu.inject("cfw.firewall.create", "lost_answer", status=502)
    try:
        result = e2e.run(RETRY_DAG, run_id, {"name": name})
    finally:
        emu.firewall_list_lag = 0.0
        emu.clear_faults()
    why = e2e.diagnose(RETRY_DAG, run_id)
    assert fault.fired == 1, why
    ti = result.tasks["create_firewall"]
    assert (result.state, ti.state, ti.try_number) == ("success", "success", 2), why
    # Try 2 found nothing by name (the list lagged) and sent the create again, with try 1's token:
    # CFW answered it with the first answer.
    assert creates_sent(emu) == sent_before + 2, why
    assert emu.repeated_client_tokens == repeated_before + 1, why
    assert emu.firewalls_created == created_before + 1, why
    assert emu.firewall_orders == orders_before  # postPaid: no order at all
    [firewall] = emu.list_firewalls(name)
    xcom = e2e.airflow.records.xcom(RETRY_DAG, run_id, "create_firewall")
    assert xcom["firewall_id"] == firewall.id and xcom["status"] == 2 and xcom["reused"] is False, xcom


def prepaid_auto_paid_order_returns_the_running_firewall(e2e: E2eSession, run_id: str) -> None:
    emu = emulator(e2e)
    name = f"e2e-pre-{run_id[-6:]}"
    orders_before = emu.firewall_orders
    result = e2e.run(PREPAID_DAG, run_id, {"name": name})
    why = e2e.diagnose(PREPAID_DAG, run_id)
    assert result.state == "success", why
    assert "deferred" in result.seen.states["create_firewall"], result.seen
    [firewall] = emu.list_firewalls(name)
    xcom = e2e.airflow.records.xcom(PREPAID_DAG, run_id, "create_firewall")
    assert xcom["firewall_id"] == firewall.id and xcom["status"] == 2, xcom
    assert xcom["job_id"] is None and xcom["order_id"], xcom
    assert emu.firewall_orders == orders_before + 1
