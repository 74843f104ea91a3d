"""Wait for a firewall's creation on the triggerer: its job, then the new firewall in the list, so that
the trigger can end the create task with the result its worker would return."""

from __future__ import annotations

from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_cfw.core.firewalls import (
    creation_result,
    validate_enterprise_project_id,
    validate_firewall_name,
)
from airflow_provider_cfw.core.waits import Creation, CreationWait, Outcome, Reading
from airflow_provider_cfw.triggers.base import CreationEventPayload
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger


class CfwFirewallCreationTrigger(CfwJobTrigger):
    """Poll a firewall's creation job until it succeeds or fails and, once it has succeeded, list the
    firewall called exactly ``name`` until it is listed; then fire exactly one event.

    The event is :class:`~airflow_provider_cfw.triggers.cfw.CfwJobTrigger`'s, plus ``firewall`` on
    success (:meth:`CfwFirewall.to_dict`, or ``None`` when the firewall was not listed within
    :data:`~airflow_provider_cfw.core.waits.LISTING_GRACE_SECONDS` of the job's success, or several
    carry the name: the create operator's resume then looks it up itself). With ``end_from_trigger``
    a success with a firewall ends the task here with the operator's result (the firewall's id and
    status, ``job_id``, ``name``, ``order_id``, ``reused=False``); anything else resumes it.

    :param name: the firewall's exact name.
    :param enterprise_project_id: look only in this enterprise project, as the create's name look-up.
    :param order_id: the order CreateFirewall answered, for the result.
    :param kwargs: :class:`~airflow_provider_cfw.triggers.cfw.CfwJobTrigger`'s: ``job_id``,
        ``not_found_deadline``, ``last_status``, and those every CFW trigger takes (``return_value``
        is not used: the result is built from the firewall found).
    """

    def __init__(
        self,
        *,
        name: str,
        enterprise_project_id: str | None = None,
        order_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.enterprise_project_id = enterprise_project_id
        self.order_id = order_id

    def own_kwargs(self) -> dict[str, Any]:
        return {
            **super().own_kwargs(),
            "name": self.name,
            "enterprise_project_id": self.enterprise_project_id,
            "order_id": self.order_id,
        }

    def check_own_arguments(self) -> None:
        super().check_own_arguments()
        validate_firewall_name(self.name)
        validate_enterprise_project_id(self.enterprise_project_id)

    def wait_kind(self) -> CreationWait:  # type: ignore[override]  # a job wait that lists at its end
        return CreationWait(self.job_id, self.name, enterprise_project_id=self.enterprise_project_id)

    def end_event(self, reading: Reading[Creation]) -> TriggerEvent:  # type: ignore[override]
        creation = reading.value
        event = super().end_event(Reading(reading.outcome, creation.job, reading.status))
        payload: CreationEventPayload = {
            **event.payload,  # type: ignore[typeddict-item]  # the job's payload
            "firewall": None if creation.firewall is None else creation.firewall.to_dict(),
        }
        if reading.outcome is Outcome.SUCCESS and creation.firewall is not None:
            payload["message"] += f"; firewall {self.name!r} ({creation.firewall.id}) is listed"
        return TriggerEvent(payload)

    def task_result(self, event: TriggerEvent) -> Any:
        firewall = event.payload.get("firewall")
        if firewall is None:
            self.log.info(
                "Firewall %r was not found by its name (not listed yet, or several carry it): resuming "
                "the task, which looks it up itself",
                self.name,
            )
            return None
        return creation_result(
            firewall_id=firewall["id"],
            status=firewall["status"],
            name=self.name,
            job_id=self.job_id,
            order_id=self.order_id,
            reused=False,
        )
