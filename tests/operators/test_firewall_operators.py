"""CfwCreateFirewallOperator and CfwDeleteFirewallOperator over real HTTP against the emulator, in
poke and deferrable mode: idempotent by name, safe to delete twice, no request for bad input."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred
from airflow.triggers.base import TriggerEvent

from airflow_provider_cfw import CfwCreateFirewallOperator, CfwDeleteFirewallOperator
from airflow_provider_cfw.core.errors import CfwConfigError
from airflow_provider_cfw.core.waits import JOB_NOT_FOUND_GRACE_SECONDS
from airflow_provider_cfw.testing import CfwEmulator
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from airflow_provider_cfw.triggers.creation import CfwFirewallCreationTrigger
from airflow_provider_cfw.version_compat import configured_scheduler_hold_seconds
from tests.conftest import PROJECT, assert_no_secrets
from tests.ending import task_instance

PRO = {"version": "Professional"}
#: Poll-scripted: one Running answer, then Success (exact request counts, no clock).
TWO_POLLS = ["Running", "Success"]


def sent(emu: CfwEmulator, route: str) -> int:
    return sum(emu.stats.requests.get(route, {}).values())


def total_sent(emu: CfwEmulator) -> int:
    return sum(sum(by_status.values()) for by_status in emu.stats.requests.values())


def run_context(run_id: str = "manual__1", *, clear_number: int = 0, map_index: int = -1) -> dict[str, Any]:
    """What the operators read of Airflow's context: the task instance's ids and the run's clear count."""
    ti = SimpleNamespace(dag_id="dag", run_id=run_id, task_id="create", map_index=map_index)
    return {"ti": ti, "run_id": run_id, "dag_run": SimpleNamespace(clear_number=clear_number)}


def create_op(name: str = "fw-a", **kwargs: Any) -> CfwCreateFirewallOperator:
    kwargs.setdefault("flavor", PRO)
    kwargs.setdefault("poll_interval", 0)
    return CfwCreateFirewallOperator(task_id="create", name=name, **kwargs)


def delete_op(firewall_id: str, **kwargs: Any) -> CfwDeleteFirewallOperator:
    kwargs.setdefault("poll_interval", 0)
    return CfwDeleteFirewallOperator(task_id="delete", firewall_id=firewall_id, **kwargs)


#: The trigger and the resume of each deferred wait of the operators.
DEFERRALS = {
    CfwFirewallCreationTrigger: "execute_complete_creation",
    CfwJobTrigger: "execute_complete",
}


def deferral(op: Any) -> TaskDeferred:
    """execute -> TaskDeferred, checked as Airflow would take it."""
    before = time.time()
    with pytest.raises(TaskDeferred) as info:
        op.execute({})
    deferred = info.value
    assert DEFERRALS[type(deferred.trigger)] == deferred.method_name
    # Airflow enforces the operator's timeout on the deferral; a fresh job gets its grace period.
    assert deferred.timeout == timedelta(seconds=op.timeout)
    grace = deferred.trigger.not_found_deadline
    assert grace is not None and time.time() < grace <= time.time() + JOB_NOT_FOUND_GRACE_SECONDS
    _, kwargs = deferred.trigger.serialize()
    assert_no_secrets(kwargs, deferred.kwargs)
    # When it deferred, and the hold this deployment needs, so the trigger holds an early event.
    assert before <= kwargs["deferred_at"] <= time.time()
    assert kwargs["scheduler_hold"] == configured_scheduler_hold_seconds()
    return deferred


def rebuilt(deferred: TaskDeferred, *, on_the_triggerer: bool = False) -> Any:
    """The trigger as the triggerer rebuilds it from its kwargs; with the task instance it runs for, or
    without one (as dag.test() runs it). Its deferral is taken as old enough: the hold's own tests are
    in tests/triggers/test_trigger_hold.py."""
    classpath, kwargs = deferred.trigger.serialize()
    kwargs = json.loads(json.dumps(kwargs))
    kwargs["deferred_at"] -= kwargs["scheduler_hold"]
    trigger = type(deferred.trigger)(**kwargs)
    assert classpath.endswith(type(trigger).__qualname__)
    if on_the_triggerer:
        trigger.task_instance = task_instance()
    return trigger


def fire(trigger: Any) -> Any:
    """The trigger's one event."""

    async def first_event() -> Any:
        async for event in trigger.run():
            return event
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(first_event())


def run_deferred(op: Any) -> dict[str, Any]:
    """execute -> TaskDeferred -> the trigger's one event -> the resume, as Airflow would (the trigger
    without a task instance, as under dag.test(): it resumes the task)."""
    deferred = deferral(op)
    event = fire(rebuilt(deferred))
    assert type(event) is TriggerEvent
    result: dict[str, Any] = getattr(op, deferred.method_name)(
        {}, event=event.payload, **(deferred.kwargs or {})
    )
    return result


@pytest.fixture
def fw_emu(emu: CfwEmulator, conn: Any) -> CfwEmulator:
    emu.script_firewall_jobs(TWO_POLLS)
    return emu


# -- construction --------------------------------------------------------------------------------


def test_defaults_and_template_fields() -> None:
    op = CfwCreateFirewallOperator(task_id="c", name="fw", flavor=PRO)
    assert set(op.template_fields) >= {"name", "flavor", "charge_info", "tags", "enterprise_project_id"}
    assert (op.if_exists, op.wait_for_completion, op.deferrable) == ("reuse", True, False)
    assert (op.poll_interval, op.cfw_conn_id) == (10, "cfw_default")
    delete = CfwDeleteFirewallOperator(task_id="d", firewall_id="x")
    assert "firewall_id" in delete.template_fields and delete.if_missing == "ignore"


def test_bad_choices_are_refused_when_the_dag_is_parsed() -> None:
    with pytest.raises(CfwConfigError, match=r"^if_exists: expected 'reuse' or 'fail'"):
        CfwCreateFirewallOperator(task_id="c", name="fw", flavor=PRO, if_exists="replace")
    with pytest.raises(CfwConfigError, match=r"^if_missing: expected"):
        CfwDeleteFirewallOperator(task_id="d", firewall_id="x", if_missing="skip")
    with pytest.raises(CfwConfigError, match=r"^poll_interval: expected"):
        CfwDeleteFirewallOperator(task_id="d", firewall_id="x", poll_interval=-1)


def test_constructor_touches_no_network() -> None:
    op = CfwCreateFirewallOperator(task_id="c", name="{{ params.name }}", flavor=PRO, cfw_conn_id="absent")
    assert "hook" not in op.__dict__


# -- create, poke mode ---------------------------------------------------------------------------


def test_create_waits_for_the_job_then_returns_the_firewall(fw_emu: CfwEmulator) -> None:
    result = create_op(tags={"env": "test"}).execute({})
    [firewall] = fw_emu.list_firewalls("fw-a")
    assert result == {
        "firewall_id": firewall.id,
        "job_id": firewall.create_job.job_id if firewall.create_job else None,
        "name": "fw-a",
        "order_id": None,
        "status": 2,
        "reused": False,
    }
    assert firewall.tags == [{"key": "env", "value": "test"}]
    assert fw_emu.firewalls_created == 1
    assert sent(fw_emu, "cfw.firewall.create") == 1
    assert sent(fw_emu, "cfw.job") == 2  # Running, then Success
    assert sent(fw_emu, "cfw.firewall.list") == 2  # the name check before, the id look-up after
    assert_no_secrets(result)


def test_a_second_run_with_the_same_name_creates_nothing(fw_emu: CfwEmulator) -> None:
    first = create_op().execute({})
    fw_emu.reset_stats()
    second = create_op().execute({})
    assert second == {**first, "job_id": None, "reused": True}
    assert fw_emu.firewalls_created == 1 and sent(fw_emu, "cfw.firewall.create") == 0
    assert sent(fw_emu, "cfw.job") == 0


def test_a_lost_answer_then_the_tasks_retry_leave_one_firewall(fw_emu: CfwEmulator) -> None:
    # What Airflow does: the first try fails, the retry is a fresh execute of the same operator. The
    # lost create's job is polled by no one, so it is scripted by time.
    fw_emu.script_firewall_jobs([("Running", 0.2), ("Success", None)])
    fw_emu.inject("cfw.firewall.create", "lost_answer")
    with pytest.raises(AirflowException, match="Could not create firewall 'fw-a'"):
        create_op().execute({})
    retry = create_op(poll_interval=0.05).execute({})
    assert retry["reused"] is True and retry["job_id"] is None and retry["status"] == 2
    assert sent(fw_emu, "cfw.firewall.create") == 1 and fw_emu.firewalls_created == 1
    assert [f.id for f in fw_emu.list_firewalls("fw-a")] == [retry["firewall_id"]]


def test_if_exists_fail(fw_emu: CfwEmulator) -> None:
    create_op().execute({})
    with pytest.raises(AirflowFailException, match="already exists"):
        create_op(if_exists="fail").execute({})
    assert fw_emu.firewalls_created == 1


def test_names_that_only_contain_the_name_do_not_count(fw_emu: CfwEmulator) -> None:
    create_op("fw-a-2").execute({})
    result = create_op("fw-a").execute({})
    assert result["reused"] is False and fw_emu.firewalls_created == 2


def test_a_failed_job_cleans_up_then_fails_the_task_without_retries(fw_emu: CfwEmulator) -> None:
    fw_emu.script_firewall_jobs(["Running", "Failed"], deletes=TWO_POLLS)
    with pytest.raises(
        AirflowFailException, match=r"job .* failed .*; cleaned up: the create-failed firewall"
    ):
        create_op().execute(run_context("manual__1"))
    assert fw_emu.list_firewalls("fw-a") == [] and sent(fw_emu, "cfw.firewall.delete") == 1
    # The next run with the same name simply creates it.
    fw_emu.script_firewall_jobs(TWO_POLLS)
    result = create_op().execute(run_context("manual__2"))
    assert result["status"] == 2 and result["reused"] is False and fw_emu.firewalls_created == 2


def test_without_waiting(fw_emu: CfwEmulator) -> None:
    result = create_op(wait_for_completion=False).execute({})
    assert result["status"] == 0 and result["job_id"] and result["firewall_id"]
    assert sent(fw_emu, "cfw.job") == 0


def test_reusing_a_firewall_still_being_created_waits_for_its_status(fw_emu: CfwEmulator) -> None:
    fw_emu.script_firewall_jobs([("Running", 0.3), ("Success", None)])
    create_op(wait_for_completion=False).execute({})
    result = create_op(poll_interval=0.1).execute({})
    assert result["reused"] is True and result["status"] == 2 and fw_emu.firewalls_created == 1


def test_prepaid_without_auto_pay_reports_awaiting_payment(
    fw_emu: CfwEmulator, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    charge = {"charge_mode": "prePaid", "period_type": "month", "period_num": 1}
    result = create_op(flavor={"version": "Standard"}, charge_info=charge).execute({})
    assert result["status"] == -1 and result["job_id"] is None and result["order_id"]
    assert result["firewall_id"] and sent(fw_emu, "cfw.job") == 0
    assert "awaits payment" in caplog.text + capsys.readouterr().out


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "bad name"},
        {"name": "x" * 49},
        {"flavor": {"version": "Enterprise"}},
        {"flavor": {"version": "Professional", "extend_bandwidth": 3}},
        {"flavor": {"version": "Professional", "extend_eip_count": 2001}},
        {"flavor": {"version": "Professional", "extend_vpc_count": 101}},
        {"charge_info": {"charge_mode": "prePaid"}},
        {"charge_info": {"charge_mode": "prePaid", "period_type": "month", "period_num": 10}},
        {"charge_info": {"charge_mode": "prePaid", "period_type": "year", "period_num": 4}},
        {"project_id": "not-a-project"},
    ],
)
def test_bad_input_sends_no_request(fw_emu: CfwEmulator, kwargs: dict[str, Any]) -> None:
    with pytest.raises(CfwConfigError):
        create_op(**kwargs).execute({})
    assert total_sent(fw_emu) == 0


def test_bad_firewall_id_sends_no_request(fw_emu: CfwEmulator) -> None:
    with pytest.raises(CfwConfigError, match=r"^firewall_id"):
        delete_op("../jobs").execute({})
    assert total_sent(fw_emu) == 0


# -- create, deferrable ----------------------------------------------------------------------------


def test_create_deferrable(fw_emu: CfwEmulator) -> None:
    result = run_deferred(create_op(deferrable=True, poll_interval=0.01))
    [firewall] = fw_emu.list_firewalls("fw-a")
    assert result["firewall_id"] == firewall.id and result["status"] == 2 and result["reused"] is False
    assert result["job_id"] == (firewall.create_job.job_id if firewall.create_job else None)
    assert fw_emu.firewalls_created == 1


def test_create_deferrable_failed_job_cleans_up(fw_emu: CfwEmulator) -> None:
    fw_emu.script_firewall_jobs(["Running", "Failed"], deletes=TWO_POLLS)
    with pytest.raises(AirflowFailException, match="cleaned up"):
        run_deferred(create_op(deferrable=True, poll_interval=0.01))
    assert fw_emu.list_firewalls("fw-a") == [] and fw_emu.firewalls_created == 1


def test_reuse_in_deferrable_mode_does_not_defer(fw_emu: CfwEmulator) -> None:
    create_op().execute({})
    assert create_op(deferrable=True).execute({})["reused"] is True


def test_execute_complete_refuses_a_malformed_event() -> None:
    with pytest.raises(AirflowException, match="Unexpected event"):
        create_op().execute_complete({}, event={"status": "odd"}, resume={"job_id": "j"})


# -- delete ----------------------------------------------------------------------------------------


def test_delete_waits_then_deleting_twice_succeeds(fw_emu: CfwEmulator) -> None:
    firewall_id = create_op().execute({})["firewall_id"]
    fw_emu.reset_stats()
    result = delete_op(firewall_id).execute({})
    assert result["firewall_id"] == firewall_id and result["job_id"]
    assert fw_emu.list_firewalls() == []
    assert sent(fw_emu, "cfw.firewall.delete") == 1 and sent(fw_emu, "cfw.job") == 2
    again = delete_op(firewall_id).execute({})
    assert again == {"firewall_id": firewall_id, "job_id": None}
    assert sent(fw_emu, "cfw.firewall.delete") == 1  # nothing left to delete: nothing sent


def test_delete_if_missing_fail(fw_emu: CfwEmulator) -> None:
    with pytest.raises(AirflowFailException, match="does not exist"):
        delete_op("b4b8fa10-95ba-4e3b-a3b2-7e4e8a1c2d3f", if_missing="fail").execute({})


def test_delete_deferrable(fw_emu: CfwEmulator) -> None:
    firewall_id = create_op().execute({})["firewall_id"]
    result = run_deferred(delete_op(firewall_id, deferrable=True, poll_interval=0.01))
    assert result["firewall_id"] == firewall_id and result["job_id"]
    assert fw_emu.list_firewalls() == []


def test_delete_of_a_firewall_being_deleted_sends_no_second_delete(fw_emu: CfwEmulator) -> None:
    fw_emu.script_firewall_jobs([("Running", 0.3), ("Success", None)])
    firewall_id = create_op(poll_interval=0.05).execute({})["firewall_id"]
    delete_op(firewall_id, wait_for_completion=False).execute({})
    result = delete_op(firewall_id, poll_interval=0.05).execute({})
    assert result == {"firewall_id": firewall_id, "job_id": None}
    assert sent(fw_emu, "cfw.firewall.delete") == 1 and fw_emu.list_firewalls() == []


def test_a_failed_delete_job_fails_the_task(fw_emu: CfwEmulator) -> None:
    firewall_id = create_op().execute({})["firewall_id"]
    fw_emu.script_firewall_jobs(["Failed"])
    with pytest.raises(AirflowFailException, match="failed"):
        delete_op(firewall_id).execute({})


# -- the project comes from the connection, the operator or the hook ---------------------------------


def test_project_override_is_used(fw_emu: CfwEmulator, set_conn: Any) -> None:
    set_conn(project_id=None)
    result = create_op(project_id=PROJECT).execute({})
    assert result["firewall_id"] and fw_emu.list_firewalls("fw-a")[0].project_id == PROJECT


# -- public names --------------------------------------------------------------------------------


def test_public_names_and_provider_info() -> None:
    import airflow_provider_cfw
    from airflow_provider_cfw.get_provider_info import get_provider_info
    from airflow_provider_cfw.operators import cfw

    assert airflow_provider_cfw.CfwCreateFirewallOperator is cfw.CfwCreateFirewallOperator
    assert airflow_provider_cfw.CfwDeleteFirewallOperator is cfw.CfwDeleteFirewallOperator
    assert {"CfwCreateFirewallOperator", "CfwDeleteFirewallOperator", "CfwFirewall"} <= set(
        airflow_provider_cfw.__all__
    )
    [entry] = get_provider_info()["operators"]
    assert entry["python-modules"] == ["airflow_provider_cfw.operators.cfw"]
