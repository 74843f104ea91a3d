"""The firewall's whole life over real HTTP against the emulator: a delete by name, a failed creation
cleaned up, the X-Client-Token against a lost answer and a lagging list, prePaid orders, and the
refusals (a prePaid delete, several firewalls of one name) that keep a retry from doing harm."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred

from airflow_provider_cfw.core.client_token import client_token
from airflow_provider_cfw.core.errors import CfwConfigError
from airflow_provider_cfw.core.firewalls import create_firewall_body
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.operators.cfw import CfwDeleteFirewallOperator
from airflow_provider_cfw.testing import CfwEmulator
from airflow_provider_cfw.triggers.firewall import CfwFirewallTrigger
from tests.conftest import assert_no_secrets
from tests.operators.test_firewall_operators import (
    PRO,
    TWO_POLLS,
    create_op,
    delete_op,
    run_context,
    sent,
    total_sent,
)

PREPAID_AUTO = {"charge_mode": "prePaid", "period_type": "month", "period_num": 1, "is_auto_pay": True}
STANDARD = {"version": "Standard"}


@pytest.fixture
def fw_emu(emu: CfwEmulator, conn: Any) -> CfwEmulator:
    emu.script_firewall_jobs(TWO_POLLS)
    return emu


def by_name(name: str = "fw-a", **kwargs: Any) -> CfwDeleteFirewallOperator:
    kwargs.setdefault("poll_interval", 0)
    return CfwDeleteFirewallOperator(task_id="delete", name=name, **kwargs)


def two_named(emu: CfwEmulator, name: str = "fw-a") -> list[str]:
    """Two firewalls of one name, made behind the operators' back (as by hand in the console)."""
    hook = CfwHook()
    for _ in range(2):
        hook.create_firewall(name=name, flavor=PRO)
    return sorted(f.id for f in emu.list_firewalls(name))


# -- the delete: by id or by name -------------------------------------------------------------------


def test_exactly_one_of_firewall_id_and_name(fw_emu: CfwEmulator) -> None:
    with pytest.raises(CfwConfigError, match=r"^firewall_id or name: expected exactly one .*, got neither"):
        CfwDeleteFirewallOperator(task_id="d")
    with pytest.raises(CfwConfigError, match=r"^firewall_id or name: expected exactly one .*, got both"):
        CfwDeleteFirewallOperator(task_id="d", firewall_id="x", name="fw")
    with pytest.raises(CfwConfigError, match=r"^name: expected a firewall name"):
        CfwDeleteFirewallOperator(task_id="d", name="bad name")
    # Templated: checked once rendered, at execute, before any request.
    op = CfwDeleteFirewallOperator(task_id="d", name="{{ params.name }}")
    op.name = "still bad"
    with pytest.raises(CfwConfigError, match=r"^name: expected"):
        op.execute({})
    op.name = None
    with pytest.raises(CfwConfigError, match=r"^firewall_id or name: expected exactly one"):
        op.execute({})
    assert total_sent(fw_emu) == 0


def test_delete_by_name_needs_no_xcom(fw_emu: CfwEmulator) -> None:
    firewall_id = create_op().execute(run_context())["firewall_id"]
    create_op("fw-a-2").execute(run_context())  # contains the name: not a match
    result = by_name().execute({})
    assert result["firewall_id"] == firewall_id and result["job_id"]
    assert [f.name for f in fw_emu.list_firewalls()] == ["fw-a-2"]
    # Gone now: nothing to delete, nothing sent (or a failure with if_missing="fail").
    fw_emu.reset_stats()
    assert by_name().execute({}) == {"firewall_id": None, "job_id": None}
    with pytest.raises(AirflowFailException, match=r"Firewall named 'fw-a' does not exist"):
        by_name(if_missing="fail").execute({})
    assert sent(fw_emu, "cfw.firewall.delete") == 0


def test_several_firewalls_of_the_name_fail_the_delete_naming_them(fw_emu: CfwEmulator) -> None:
    ids = two_named(fw_emu)
    with pytest.raises(AirflowFailException, match="Several firewalls are named 'fw-a'") as info:
        by_name().execute({})
    assert all(firewall_id in str(info.value) for firewall_id in ids)
    assert sent(fw_emu, "cfw.firewall.delete") == 0 and len(fw_emu.list_firewalls("fw-a")) == 2


def test_several_firewalls_of_the_name_fail_the_create_without_ordering(fw_emu: CfwEmulator) -> None:
    ids = two_named(fw_emu)
    fw_emu.reset_stats()
    with pytest.raises(AirflowFailException, match="Several firewalls are named 'fw-a'") as info:
        create_op().execute(run_context())
    assert all(firewall_id in str(info.value) for firewall_id in ids)
    assert sent(fw_emu, "cfw.firewall.create") == 0 and fw_emu.firewalls_created == 2


def test_the_name_look_ups_are_scoped_by_enterprise_project(fw_emu: CfwEmulator) -> None:
    first = create_op(enterprise_project_id="eps-1").execute(run_context())
    # The same name in another enterprise project is another firewall.
    other = create_op(enterprise_project_id="eps-2").execute(run_context())
    assert other["reused"] is False and other["firewall_id"] != first["firewall_id"]
    again = create_op(enterprise_project_id="eps-1").execute(run_context("manual__2"))
    assert again["reused"] is True and again["firewall_id"] == first["firewall_id"]
    assert fw_emu.firewalls_created == 2
    result = by_name(enterprise_project_id="eps-2").execute({})
    assert result["firewall_id"] == other["firewall_id"]
    assert [f.id for f in fw_emu.list_firewalls("fw-a")] == [first["firewall_id"]]


def test_deleted_records_are_skipped_by_both_look_ups(fw_emu: CfwEmulator) -> None:
    fw_emu.list_deleted_firewalls = True  # CFW may keep listing a deleted firewall, as status 4
    firewall_id = create_op().execute(run_context())["firewall_id"]
    delete_op(firewall_id).execute({})
    fw_emu.reset_stats()
    assert delete_op(firewall_id).execute({}) == {"firewall_id": firewall_id, "job_id": None}
    assert by_name().execute({}) == {"firewall_id": None, "job_id": None}
    assert sent(fw_emu, "cfw.firewall.delete") == 0  # no second DELETE of a deleted record
    created = create_op().execute(run_context("manual__2"))
    assert created["reused"] is False and created["firewall_id"] != firewall_id


@pytest.mark.parametrize("if_missing", ["ignore", "fail"])
def test_a_delete_answered_object_does_not_exist_follows_if_missing(
    fw_emu: CfwEmulator, if_missing: str
) -> None:
    firewall_id = create_op().execute(run_context())["firewall_id"]
    # Listed, then gone by the time the DELETE arrives.
    fw_emu.inject(
        "cfw.firewall.delete", status=400, error_code="CFW.00200005", error_msg="object does not exist"
    )
    op = delete_op(firewall_id, if_missing=if_missing)
    if if_missing == "fail":
        with pytest.raises(AirflowFailException, match=rf"Firewall {firewall_id} does not exist"):
            op.execute({})
    else:
        assert op.execute({}) == {"firewall_id": firewall_id, "job_id": None}
    assert sent(fw_emu, "cfw.firewall.delete") == 1


def test_a_prepaid_firewall_is_refused_before_any_delete(fw_emu: CfwEmulator) -> None:
    result = create_op(flavor=STANDARD, charge_info=PREPAID_AUTO).execute(run_context())
    for op in (delete_op(result["firewall_id"]), by_name()):
        with pytest.raises(
            AirflowFailException, match=r"is prePaid .*unsubscribe it in the Huawei Cloud console"
        ):
            op.execute({})
    assert sent(fw_emu, "cfw.firewall.delete") == 0
    assert [f.status(fw_emu.now()) for f in fw_emu.list_firewalls("fw-a")] == [2]


# -- a failed creation -------------------------------------------------------------------------------


def test_a_leftover_create_failed_firewall_is_deleted_before_creating(
    fw_emu: CfwEmulator, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # An earlier run's cleanup was interrupted: a create-failed firewall of the name is left.
    fw_emu.script_firewall_jobs([("Failed", None)])
    CfwHook().create_firewall(name="fw-a", flavor=PRO)
    [leftover] = fw_emu.list_firewalls("fw-a")
    with pytest.raises(AirflowFailException, match=r"already exists: .*create failed.*if_exists='fail'"):
        create_op(if_exists="fail").execute(run_context())
    fw_emu.script_firewall_jobs(TWO_POLLS)
    result = create_op().execute(run_context())
    assert result["status"] == 2 and result["reused"] is False and result["firewall_id"] != leftover.id
    assert [f.id for f in fw_emu.list_firewalls("fw-a")] == [result["firewall_id"]]
    assert "left over from a failed creation" in caplog.text + capsys.readouterr().out


def test_a_firewall_found_creating_that_ends_create_failed_is_cleaned_up(fw_emu: CfwEmulator) -> None:
    fw_emu.script_firewall_jobs([("Running", 0.2), ("Failed", None)], deletes=TWO_POLLS)
    create_op(wait_for_completion=False).execute(run_context())
    with pytest.raises(AirflowFailException, match="ended in create failed; cleaned up"):
        create_op(poll_interval=0.05).execute(run_context("manual__2"))
    assert fw_emu.list_firewalls("fw-a") == []


def test_a_failed_prepaid_creation_says_to_unsubscribe_in_the_console(fw_emu: CfwEmulator) -> None:
    fw_emu.script_firewall_jobs(["Running", "Failed"])
    with pytest.raises(
        AirflowFailException,
        match=r"ended in create failed; not cleaned up: .*unsubscribe it in the Huawei Cloud",
    ):
        create_op(flavor=STANDARD, charge_info=PREPAID_AUTO).execute(run_context())
    assert sent(fw_emu, "cfw.firewall.delete") == 0 and len(fw_emu.list_firewalls("fw-a")) == 1


# -- X-Client-Token --------------------------------------------------------------------------------


def test_the_token_is_the_task_instances(fw_emu: CfwEmulator) -> None:
    create_op().execute(run_context("manual__1", map_index=3))
    body = create_firewall_body(name="fw-a", flavor=PRO)
    expected = client_token(
        dag_id="dag", run_id="manual__1", task_id="create", map_index=3, project_id=None, body=body
    )
    assert list(fw_emu.firewalls.answers_by_token) == [
        (fw_emu.list_firewalls("fw-a")[0].project_id, expected)
    ]


def test_a_lost_answer_a_lagging_list_and_the_retry_make_one_firewall(fw_emu: CfwEmulator) -> None:
    # The create is carried out, a 502 comes back instead of its answer, and the new firewall is not
    # listed yet when Airflow retries the task: the name look-up finds nothing; the token saves it.
    fw_emu.script_firewall_jobs([("Running", 0.2), ("Success", None)])
    fw_emu.firewall_list_lag = 0.6
    fw_emu.inject("cfw.firewall.create", "lost_answer", status=502)
    context = run_context("manual__1")
    with pytest.raises(AirflowException, match="Could not create firewall 'fw-a'"):
        create_op(poll_interval=0.05).execute(context)
    retry = create_op(poll_interval=0.05).execute(context)  # the same task instance, next try
    [firewall] = fw_emu.list_firewalls("fw-a")
    assert fw_emu.firewalls_created == 1 and fw_emu.repeated_client_tokens == 1
    assert sent(fw_emu, "cfw.firewall.create") == 2  # sent again, carried out once
    assert retry["firewall_id"] == firewall.id and retry["status"] == 2 and retry["reused"] is False
    # Another run is another token: it orders anew (here: the name look-up reuses it instead).
    assert create_op().execute(run_context("manual__2"))["reused"] is True
    assert fw_emu.firewalls_created == 1


# -- prePaid ---------------------------------------------------------------------------------------


def test_a_prepaid_auto_paid_order_waits_for_the_running_firewall(fw_emu: CfwEmulator) -> None:
    fw_emu.script_firewall_jobs(["Running", "Running", "Success"])
    result = create_op(flavor=STANDARD, charge_info=PREPAID_AUTO).execute(run_context())
    [firewall] = fw_emu.list_firewalls("fw-a")
    assert result["firewall_id"] == firewall.id and result["status"] == 2
    assert result["job_id"] is None and result["order_id"] and result["reused"] is False
    assert sent(fw_emu, "cfw.job") == 0 and fw_emu.firewall_orders == 1


def test_a_prepaid_auto_paid_order_deferred(fw_emu: CfwEmulator) -> None:
    fw_emu.script_firewall_jobs(["Running", "Success"])
    op = create_op(flavor=STANDARD, charge_info=PREPAID_AUTO, deferrable=True, poll_interval=0.01, timeout=90)
    with pytest.raises(TaskDeferred) as info:
        op.execute(run_context())
    deferred = info.value
    assert isinstance(deferred.trigger, CfwFirewallTrigger)
    assert deferred.method_name == "execute_complete_firewall" and deferred.timeout == timedelta(seconds=90)
    _, kwargs = deferred.trigger.serialize()
    assert_no_secrets(kwargs, deferred.kwargs)
    payload = first_event(CfwFirewallTrigger(**kwargs))
    assert payload["status"] == "success"
    result = op.execute_complete_firewall({}, event=payload, **(deferred.kwargs or {}))
    [firewall] = fw_emu.list_firewalls("fw-a")
    assert (result["firewall_id"], result["status"], result["job_id"]) == (firewall.id, 2, None)


def first_event(trigger: CfwFirewallTrigger) -> dict[str, Any]:
    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(first())


def test_the_firewall_trigger_reports_create_failed_and_several_names(fw_emu: CfwEmulator) -> None:
    fw_emu.script_firewall_jobs([("Failed", None)])
    CfwHook().create_firewall(name="fw-a", flavor=STANDARD, charge_info=PREPAID_AUTO)
    failed = first_event(CfwFirewallTrigger(name="fw-a", poll_interval=0.01))
    assert failed["status"] == "failed" and failed["firewall"]["status"] == 6
    CfwHook().create_firewall(name="fw-a", flavor=STANDARD, charge_info=PREPAID_AUTO)
    several = first_event(CfwFirewallTrigger(name="fw-a", poll_interval=0.01))
    assert several["status"] == "error" and "Several firewalls are named 'fw-a'" in several["message"]
    op = create_op(flavor=STANDARD, charge_info=PREPAID_AUTO)
    with pytest.raises(AirflowException, match="Several firewalls"):
        op.execute_complete_firewall({}, event=several, resume={})
    with pytest.raises(AirflowException, match="Unexpected event"):
        op.execute_complete_firewall({}, event={"status": "odd"}, resume={})


def test_the_firewall_trigger_waits_for_a_firewall_not_listed_yet(fw_emu: CfwEmulator) -> None:
    fw_emu.firewall_list_lag = 0.3
    fw_emu.script_firewall_jobs([("Success", None)])
    CfwHook().create_firewall(name="fw-a", flavor=STANDARD, charge_info=PREPAID_AUTO)
    event = first_event(CfwFirewallTrigger(name="fw-a", poll_interval=0.05))
    assert event["status"] == "success" and sent(fw_emu, "cfw.firewall.list") > 1


def test_extend_counts_with_postpaid_are_refused_before_any_request(fw_emu: CfwEmulator) -> None:
    with pytest.raises(CfwConfigError, match=r"^flavor\.extend_eip_count: expected"):
        create_op(flavor={"version": "Professional", "extend_eip_count": 10}).execute(run_context())
    assert total_sent(fw_emu) == 0


def test_a_cleared_task_orders_anew_after_a_cleaned_up_failure(fw_emu: CfwEmulator) -> None:
    # Same run, same task: only the run's clear count differs. The first token's answer (a failed
    # job) must not come back for the cleared task.
    fw_emu.script_firewall_jobs(["Running", "Failed"], deletes=TWO_POLLS)
    with pytest.raises(AirflowFailException, match="cleaned up"):
        create_op().execute(run_context("manual__1"))
    fw_emu.script_firewall_jobs(TWO_POLLS)
    result = create_op().execute(run_context("manual__1", clear_number=1))
    assert result["status"] == 2 and fw_emu.firewalls_created == 2 and fw_emu.repeated_client_tokens == 0
