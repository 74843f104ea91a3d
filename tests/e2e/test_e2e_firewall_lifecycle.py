"""The firewall lifecycle on the real stack: the example DAG (create deferred, use, delete as its
teardown), a failing middle task, a failed creation, a create whose answer is lost while the list lags
(ridden out by the task's Airflow retry and its X-Client-Token), and a prePaid order paid at once."""

from __future__ import annotations

import pytest

from airflow_provider_cfw.testing import CfwEmulator
from tests.e2e import failover
from tests.e2e import firewall_scenarios as scenarios
from tests.e2e.driver import E2eSession
from tests.e2e.stack import airflow_major

pytestmark = pytest.mark.e2e

EXAMPLE = "example_cfw_firewall_lifecycle"
RETRY_DAG = "e2e_cfw_firewall_retry"


def emulator(e2e: E2eSession) -> CfwEmulator:
    assert e2e.emulator is not None
    return e2e.emulator


def creates(emu: CfwEmulator) -> int:
    return sum(emu.stats.requests.get("cfw.firewall.create", {}).values())


def test_lifecycle_example_creates_uses_and_deletes_the_firewall(e2e: E2eSession, run_id: str) -> None:
    emu = emulator(e2e)
    name = f"e2e-{run_id[-6:]}"
    created_before = emu.firewalls_created
    result = e2e.run(EXAMPLE, run_id, {"name": name})
    why = e2e.diagnose(EXAMPLE, run_id)
    assert result.state == "success", why
    states = {task_id: (ti.state, ti.try_number) for task_id, ti in result.tasks.items()}
    assert states == {
        "create_firewall": ("success", 1),
        "use_firewall": ("success", 1),
        "delete_firewall": ("success", 1),
    }, why
    assert "deferred" in result.seen.states["create_firewall"], result.seen
    records = e2e.airflow.records
    created = records.xcom(EXAMPLE, run_id, "create_firewall")
    assert created["name"] == name and created["status"] == 2 and created["reused"] is False, created
    assert created["job_id"] and created["firewall_id"]
    assert records.xcom(EXAMPLE, run_id, "use_firewall") == "running"
    deleted = records.xcom(EXAMPLE, run_id, "delete_firewall")
    assert deleted["firewall_id"] == created["firewall_id"] and deleted["job_id"], deleted
    assert emu.firewalls_created == created_before + 1
    assert emu.list_firewalls(name) == []  # cleaned up
    # The example's default end_from_trigger: each deferred wait ends on the triggerer, one start each.
    starts = {task_id: records.task_starts(EXAMPLE, run_id, task_id) for task_id in states}
    failover.SUMMARY_LINES.append(
        f"Airflow {airflow_major()}: worker starts in {EXAMPLE} (default arguments): "
        + ", ".join(f"{task_id} {n}" for task_id, n in starts.items())
    )
    assert starts == {"create_firewall": 1, "use_firewall": 1, "delete_firewall": 1}, why


def test_a_lost_create_answer_and_the_airflow_retry_leave_one_firewall(e2e: E2eSession, run_id: str) -> None:
    emu = emulator(e2e)
    name = f"e2e-lost-{run_id[-6:]}"
    created_before, sent_before = emu.firewalls_created, creates(emu)
    fault = emu.inject("cfw.firewall.create", "lost_answer")
    result = e2e.run(RETRY_DAG, run_id, {"name": name})
    why = e2e.diagnose(RETRY_DAG, run_id)
    assert fault.fired == 1, why
    ti = result.tasks["create_firewall"]
    # The first try lost the answer and failed; the retry found the firewall by name.
    assert (result.state, ti.state, ti.try_number) == ("success", "success", 2), why
    assert creates(emu) == sent_before + 1, (
        "the create was sent once: neither the hook nor the retry resent it"
    )
    assert emu.firewalls_created == created_before + 1
    assert len(emu.list_firewalls(name)) == 1
    xcom = e2e.airflow.records.xcom(RETRY_DAG, run_id, "create_firewall")
    assert xcom["reused"] is True and xcom["job_id"] is None and xcom["status"] == 2, xcom
    assert xcom["firewall_id"] == emu.list_firewalls(name)[0].id


def test_a_failing_work_fails_the_run_and_the_teardown_deletes(e2e: E2eSession, run_id: str) -> None:
    scenarios.failing_work_fails_the_run_and_the_teardown_deletes(e2e, run_id)


def test_a_failed_creation_leaves_no_firewall_and_the_name_works_next_run(
    e2e: E2eSession, run_id: str
) -> None:
    scenarios.failed_creation_leaves_nothing_and_the_name_works_next_run(e2e, run_id)


def test_a_lost_answer_and_a_lagging_list_make_one_firewall(e2e: E2eSession, run_id: str) -> None:
    scenarios.lost_answer_and_lagging_list_make_one_firewall(e2e, run_id)


def test_a_prepaid_auto_paid_order_returns_the_running_firewall(e2e: E2eSession, run_id: str) -> None:
    scenarios.prepaid_auto_paid_order_returns_the_running_firewall(e2e, run_id)
