"""The firewall operators deferred, their trigger ending the task on the triggerer (``end_from_trigger``,
on by default): the XCom a downstream task pulls is the result the worker would have returned, and
every other outcome (a failed job, a firewall not found by its name, no task instance) resumes the
task on a worker, which ends it as before. Over real HTTP against the emulator; the triggerer's XCom
push goes through a configured backend (tests/ending.py)."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from airflow.triggers.base import TaskSuccessEvent, TriggerEvent

import airflow_provider_cfw.core.waits as waits
from airflow_provider_cfw import CfwCreateFirewallOperator, CfwDeleteFirewallOperator
from airflow_provider_cfw.core.waits import Creation
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.testing import CfwEmulator
from airflow_provider_cfw.triggers.creation import CfwFirewallCreationTrigger
from tests.conftest import assert_no_secrets, logged_count
from tests.ending import Pushes
from tests.listeners import listeners
from tests.operators.test_firewall_operators import (
    PRO,
    TWO_POLLS,
    create_op,
    deferral,
    delete_op,
    fire,
    rebuilt,
    sent,
)

FAST = 0.01


@pytest.fixture
def fw_emu(emu: CfwEmulator, conn: Any) -> CfwEmulator:
    emu.script_firewall_jobs(TWO_POLLS)
    return emu


def deferred_without_listeners(op: Any) -> Any:
    # The process may hold Airflow's example listener plugin: auto would stay off for it.
    with listeners():
        return deferral(op)


def resumed(op: Any, deferred: Any, event: TriggerEvent) -> Any:
    assert type(event) is TriggerEvent, event
    return getattr(op, deferred.method_name)({}, event=event.payload, **(deferred.kwargs or {}))


# -- create ------------------------------------------------------------------------------------------


def test_the_create_ends_on_the_triggerer_with_the_workers_result(
    fw_emu: CfwEmulator, pushes: Pushes
) -> None:
    op = create_op(deferrable=True, poll_interval=FAST)
    deferred = deferred_without_listeners(op)
    assert isinstance(deferred.trigger, CfwFirewallCreationTrigger)
    assert deferred.trigger.end_from_trigger is True
    assert sent(fw_emu, "cfw.firewall.list") == 1  # the name check before ordering

    event = fire(rebuilt(deferred, on_the_triggerer=True))

    assert isinstance(event, TaskSuccessEvent)
    [firewall] = fw_emu.list_firewalls("fw-a")
    assert firewall.create_job is not None
    pushed = pushes.value_of(event)
    assert pushed == {
        "firewall_id": firewall.id,
        "job_id": firewall.create_job.job_id,
        "name": "fw-a",
        "order_id": None,
        "status": 2,
        "reused": False,
    }
    assert_no_secrets(pushed)
    # The job read until it succeeded, then the name listed once, in the same poll: nothing more.
    assert (sent(fw_emu, "cfw.job"), sent(fw_emu, "cfw.firewall.list")) == (2, 2)
    # A worker's resume of the same wait returns exactly this (and reads nothing more).
    event = fire(rebuilt(deferred))
    assert resumed(op, deferred, event) == pushed
    assert sent(fw_emu, "cfw.firewall.list") == 3  # the trigger's look-up only


def test_the_worker_path_returns_the_same_dict(fw_emu: CfwEmulator, pushes: Pushes) -> None:
    worker = create_op("fw-w").execute({})
    deferred = deferred_without_listeners(create_op("fw-t", deferrable=True, poll_interval=FAST))
    pushed = pushes.value_of(fire(rebuilt(deferred, on_the_triggerer=True)))
    shape = {k: type(v).__name__ for k, v in worker.items()}
    assert {k: type(v).__name__ for k, v in pushed.items()} == shape
    assert (worker["name"], pushed["name"]) == ("fw-w", "fw-t")


def test_a_failed_creation_resumes_and_the_worker_cleans_up(fw_emu: CfwEmulator, pushes: Pushes) -> None:
    fw_emu.script_firewall_jobs(["Running", "Failed"], deletes=TWO_POLLS)
    op = create_op(deferrable=True, poll_interval=FAST)
    deferred = deferred_without_listeners(op)
    event = fire(rebuilt(deferred, on_the_triggerer=True))
    assert event.payload["status"] == "failed" and event.payload["firewall"] is None
    assert sent(fw_emu, "cfw.firewall.list") == 1  # a failed job lists nothing on the triggerer
    with pytest.raises(AirflowFailException, match="cleaned up"):
        resumed(op, deferred, event)
    assert fw_emu.list_firewalls("fw-a") == [] and pushes.count == 0


def test_a_firewall_not_listed_in_time_resumes_and_the_worker_waits_for_it(
    fw_emu: CfwEmulator,
    pushes: Pushes,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(waits, "LISTING_GRACE_SECONDS", 0.1)
    fw_emu.firewall_list_lag = 0.6
    op = create_op(deferrable=True, poll_interval=0.05)
    deferred = deferred_without_listeners(op)
    event = fire(rebuilt(deferred, on_the_triggerer=True))
    assert event.payload["status"] == "success" and event.payload["firewall"] is None
    assert (
        logged_count("was not found by its name (not listed yet, or several carry it)", capsys, caplog) == 1
    )
    result = resumed(op, deferred, event)
    [firewall] = fw_emu.list_firewalls("fw-a")
    assert (result["firewall_id"], result["status"]) == (firewall.id, 2)
    assert pushes.count == 0


def test_several_firewalls_of_the_name_resume_and_fail_as_before(fw_emu: CfwEmulator, pushes: Pushes) -> None:
    op = create_op(deferrable=True, poll_interval=FAST)
    deferred = deferred_without_listeners(op)
    CfwHook().create_firewall(name="fw-a", flavor=PRO)  # by hand, while the creation runs
    event = fire(rebuilt(deferred, on_the_triggerer=True))
    assert event.payload["status"] == "success" and event.payload["firewall"] is None
    with pytest.raises(AirflowFailException, match="Several firewalls are named 'fw-a'"):
        resumed(op, deferred, event)
    assert pushes.count == 0


def test_without_do_xcom_push_the_create_ends_pushing_nothing(fw_emu: CfwEmulator, pushes: Pushes) -> None:
    deferred = deferred_without_listeners(create_op(deferrable=True, poll_interval=FAST, do_xcom_push=False))
    event = fire(rebuilt(deferred, on_the_triggerer=True))
    assert isinstance(event, TaskSuccessEvent) and event.xcoms is None and pushes.count == 0


def test_end_from_trigger_false_resumes_with_the_firewall_found(fw_emu: CfwEmulator, pushes: Pushes) -> None:
    op = create_op(deferrable=True, poll_interval=FAST, end_from_trigger=False)
    deferred = deferred_without_listeners(op)
    assert deferred.trigger.end_from_trigger is False
    event = fire(rebuilt(deferred, on_the_triggerer=True))
    lists = sent(fw_emu, "cfw.firewall.list")
    result = resumed(op, deferred, event)
    assert result["firewall_id"] == fw_emu.list_firewalls("fw-a")[0].id and result["status"] == 2
    assert sent(fw_emu, "cfw.firewall.list") == lists  # the resume took the trigger's look-up
    assert pushes.count == 0


def test_a_create_deferred_by_an_earlier_version_still_resumes(fw_emu: CfwEmulator) -> None:
    # A plain job trigger's event, and execute_complete: the firewall is looked up on the resume.
    op = create_op()
    created = CfwHook().create_firewall(name="fw-a", flavor=PRO)
    job = CfwHook().wait_for_job(created.job_id, poll_interval=FAST)
    event = {"status": "success", "job_id": job.id, "message": "ok", "job": job.to_dict()}
    result = op.execute_complete({}, event=event, submitted={"job_id": job.id, "order_id": None})
    assert result["firewall_id"] == fw_emu.list_firewalls("fw-a")[0].id and result["job_id"] == job.id


class LoggingCreate(CfwCreateFirewallOperator):
    def creation_ended(self, creation: Creation, submitted: Any) -> Any:
        return super().creation_ended(creation, submitted)


def test_auto_stays_off_for_a_subclass_that_does_more_at_the_end(
    fw_emu: CfwEmulator, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    op = LoggingCreate(task_id="create", name="fw-a", flavor=PRO, deferrable=True, poll_interval=FAST)
    deferred = deferred_without_listeners(op)
    assert deferred.trigger.end_from_trigger is False
    line = "the task resumes on a worker (end_from_trigger auto: off, a subclass overrides creation_ended)"
    assert logged_count(line, capsys, caplog) == 1


# -- delete ------------------------------------------------------------------------------------------


def test_the_delete_ends_on_the_triggerer_with_the_workers_result(
    fw_emu: CfwEmulator,
    pushes: Pushes,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    firewall_id = create_op().execute({})["firewall_id"]
    op = delete_op(firewall_id, deferrable=True, poll_interval=FAST)
    deferred = deferred_without_listeners(op)
    assert deferred.trigger.end_from_trigger is True
    on = (
        f"Deleting firewall {firewall_id}: on success the triggerer ends this task (end_from_trigger auto: on"
    )
    assert logged_count(on, capsys, caplog) == 1

    event = fire(rebuilt(deferred, on_the_triggerer=True))

    assert isinstance(event, TaskSuccessEvent)
    job_id = deferred.kwargs["submitted"]["job_id"]
    assert pushes.value_of(event) == {"firewall_id": firewall_id, "job_id": job_id}
    assert fw_emu.list_firewalls() == []
    # The same as a worker's resume of the same wait.
    assert resumed(op, deferred, fire(rebuilt(deferred))) == pushes.value_of(event)


def test_a_failed_delete_resumes_and_fails_the_task(fw_emu: CfwEmulator, pushes: Pushes) -> None:
    firewall_id = create_op().execute({})["firewall_id"]
    fw_emu.script_firewall_jobs(["Failed"])
    op = delete_op(firewall_id, deferrable=True, poll_interval=FAST)
    deferred = deferred_without_listeners(op)
    event = fire(rebuilt(deferred, on_the_triggerer=True))
    with pytest.raises(AirflowFailException, match="failed"):
        resumed(op, deferred, event)
    assert pushes.count == 0


# -- dag.test(): the resume gets the event alone ----------------------------------------------------


@pytest.mark.parametrize("which", ["create", "delete"])
def test_a_resume_given_the_event_alone_returns_the_same(fw_emu: CfwEmulator, which: str) -> None:
    # Airflow's dag.test() runs the trigger inline, without a task instance, and resumes the task with
    # {"event": payload} only: the deferral's own kwargs (what the try sent) are dropped.
    if which == "create":
        op: Any = create_op(deferrable=True, poll_interval=FAST)
    else:
        op = delete_op(create_op().execute({})["firewall_id"], deferrable=True, poll_interval=FAST)
    deferred = deferred_without_listeners(op)
    event = fire(rebuilt(deferred))
    assert event.payload["resume_kwargs"] == deferred.kwargs
    as_dag_test = getattr(op, deferred.method_name)({}, event=event.payload)
    assert as_dag_test == resumed(op, deferred, event)
    assert as_dag_test["job_id"] == deferred.kwargs["submitted"]["job_id"] is not None


@pytest.mark.parametrize("requested", [True, False])
def test_an_explicit_choice_is_passed_to_the_trigger(fw_emu: CfwEmulator, requested: bool) -> None:
    firewall_id = create_op().execute({})["firewall_id"]
    op = CfwDeleteFirewallOperator(
        task_id="delete", firewall_id=firewall_id, deferrable=True, end_from_trigger=requested
    )
    assert deferral(op).trigger.end_from_trigger is requested


# -- the creation trigger's arguments and events ----------------------------------------------------


def test_a_bad_rendered_name_is_an_error_event_before_any_request(fw_emu: CfwEmulator) -> None:
    trigger = CfwFirewallCreationTrigger(
        job_id="f588ce71-e26c-400d-8981-f854355f6849", name="not a name!", poll_interval=FAST
    )
    event = fire(trigger)
    assert (event.payload["status"], event.payload["invalid_field"]) == ("error", "name")
    assert sum(sum(by_status.values()) for by_status in fw_emu.stats.requests.values()) == 0


def test_the_resume_refuses_a_malformed_firewall() -> None:
    job = {"id": "j", "status": "Success", "begin_time": None, "end_time": None, "request_id": None}
    event = {"status": "success", "job_id": "j", "message": "ok", "job": job, "firewall": {"id": 7}}
    with pytest.raises(AirflowException, match="has no valid firewall"):
        create_op().execute_complete_creation({}, event=event, submitted={"job_id": "j"})
