"""Reading a CFW trigger's event back on the worker (the payloads are
:mod:`~airflow_provider_cfw.triggers.base`'s TypedDicts).

The event crossed the database between the triggerer and the worker, so it is checked, not trusted.
Shared by the sensor and the operators that defer to the triggers; kept out of the triggers' modules,
which the triggerer imports and which need none of this.
"""

from __future__ import annotations

from typing import Any, cast

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_cfw.core.errors import JOB_NOT_FOUND_CODE
from airflow_provider_cfw.core.firewalls import CfwFirewall
from airflow_provider_cfw.core.models import CfwJob, CfwJobStatus

TRIGGER_EVENT_STATUSES = frozenset({"success", "failed", "error"})
FIREWALL_EVENT_STATUSES = TRIGGER_EVENT_STATUSES


def job_from_event(event: object, job_id: str) -> CfwJob:
    """The job of a trigger event, checked; a ``failed`` event returns the failed job (the caller decides).

    :param event: what the trigger fired, as the worker received it.
    :param job_id: the job the wait was for, for messages.
    :raises AirflowFailException: the job does not exist (retrying changes nothing).
    :raises AirflowException: a malformed event, or the trigger could not read the job (retries apply).
    """
    if not isinstance(event, dict) or event.get("status") not in TRIGGER_EVENT_STATUSES:
        raise AirflowException(f"Unexpected event from CfwJobTrigger for job {job_id}: {event!r}")
    status = event["status"]
    if status == "error":
        message = _with_details(
            str(event.get("message") or f"CfwJobTrigger gave up on CFW job {job_id}"),
            ("error code", event.get("error_code")),
            ("request id", event.get("request_id")),
        )
        # A job that does not exist, or an argument that cannot be right (a rendered template the
        # trigger refused): retrying the task changes neither.
        if event.get("error_code") == JOB_NOT_FOUND_CODE or event.get("invalid_field"):
            raise AirflowFailException(message)
        raise AirflowException(message)
    try:
        job = CfwJob.from_dict(event["job"])
    except (KeyError, TypeError, ValueError) as err:
        raise AirflowException(f"CfwJobTrigger event for job {job_id} has no valid job: {event!r}") from err
    expected = CfwJobStatus.SUCCESS if status == "success" else CfwJobStatus.FAILED
    if job.status is not expected:
        raise AirflowException(f"CfwJobTrigger event does not match the job's status: {event!r}")
    return job


def creation_from_event(event: object, job_id: str) -> tuple[CfwJob, CfwFirewall | None]:
    """The job and the listed firewall (``None``: not found by its name) of a
    :class:`~airflow_provider_cfw.triggers.creation.CfwFirewallCreationTrigger` event, checked as
    :func:`job_from_event` checks the job.

    :raises AirflowException: a malformed event, or the trigger could not read the job (retries apply).
    """
    job = job_from_event(event, job_id)
    firewall = cast("dict[str, Any]", event).get("firewall")  # a dict: job_from_event refused the rest
    if firewall is None:
        return job, None
    if not isinstance(firewall, dict) or not isinstance(firewall.get("id"), str):
        raise AirflowException(
            f"CfwFirewallCreationTrigger event for job {job_id} has no valid firewall: {event!r}"
        )
    status, charge_mode = firewall.get("status"), firewall.get("charge_mode")
    return job, CfwFirewall(
        firewall["id"],
        str(firewall.get("name") or ""),
        status if isinstance(status, int) else None,
        charge_mode if isinstance(charge_mode, int) else None,
    )


def _with_details(message: str, *details: tuple[str, object]) -> str:
    # The trigger's message usually quotes the API error, code and request id included already:
    # add only what it lacks, so support is given each id once.
    missing = [f"{label} {value}" for label, value in details if value and str(value) not in message]
    return f"{message} ({', '.join(missing)})" if missing else message


def firewall_from_event(event: object, name: str) -> tuple[str, dict[str, Any]]:
    """The ``status`` and ``firewall`` of a :class:`~airflow_provider_cfw.triggers.firewall.CfwFirewallTrigger`
    event, checked; an ``error`` event raises, so the task's retries apply.

    :raises AirflowException: a malformed event, or the trigger could not read the firewall.
    """
    if not isinstance(event, dict) or event.get("status") not in FIREWALL_EVENT_STATUSES:
        raise AirflowException(f"Unexpected event from CfwFirewallTrigger for firewall {name!r}: {event!r}")
    if event["status"] == "error":
        raise AirflowException(str(event.get("message") or f"CfwFirewallTrigger gave up on {name!r}"))
    firewall = event.get("firewall")
    if not isinstance(firewall, dict) or not isinstance(firewall.get("id"), str):
        raise AirflowException(f"CfwFirewallTrigger event for {name!r} has no valid firewall: {event!r}")
    return str(event["status"]), firewall
