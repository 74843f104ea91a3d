"""Wait for a firewall itself on the triggerer (a prePaid order paid at once has no job to follow)."""

from __future__ import annotations

from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_cfw.core.firewalls import (
    CfwFirewall,
    validate_enterprise_project_id,
    validate_firewall_name,
)
from airflow_provider_cfw.core.waits import FirewallGoal, FirewallWait, Outcome, Reading
from airflow_provider_cfw.triggers.base import CfwPollingTrigger, FirewallEventPayload


class CfwFirewallTrigger(CfwPollingTrigger):
    """Poll ListFirewallList until the firewall called exactly ``name`` is running or create failed,
    then fire exactly one event.

    The event's payload is a dict whose ``status`` is ``success`` (running) or ``failed`` (create
    failed), with ``firewall`` (:meth:`CfwFirewall.to_dict`), or ``error`` (with ``error_code``,
    ``request_id``, ``http_status``, ``retryable``). Every payload carries ``name`` and ``message``.
    A firewall not listed yet, creating or awaiting payment is waited for; the task's timeout, enforced
    by Airflow on the deferral, ends the wait. Several firewalls of the name end it with an error.
    How it polls, backs off and holds its event is :class:`~airflow_provider_cfw.triggers.base.CfwPollingTrigger`'s.

    :param name: the firewall's exact name.
    :param enterprise_project_id: look only in this enterprise project.
    :param kwargs: the arguments every CFW trigger takes (:class:`CfwPollingTrigger`): ``cfw_conn_id``,
        ``project_id``, ``region``, ``poll_interval``, ``max_transient_errors``, ``deferred_at``,
        ``end_from_trigger``, ``return_value`` (``None`` pushes the firewall), ``do_xcom_push``,
        ``poll_growth`` and ``poll_cap``.
    """

    def __init__(self, *, name: str, enterprise_project_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.enterprise_project_id = enterprise_project_id

    def own_kwargs(self) -> dict[str, Any]:
        return {"name": self.name, "enterprise_project_id": self.enterprise_project_id}

    def check_own_arguments(self) -> None:
        validate_firewall_name(self.name)
        validate_enterprise_project_id(self.enterprise_project_id)

    @property
    def subject(self) -> dict[str, str]:
        return {"name": self.name}

    @property
    def what(self) -> str:
        return f"Firewall {self.name!r}"

    def wait_kind(self) -> FirewallWait:
        return FirewallWait(
            FirewallGoal.RUNNING, name=self.name, enterprise_project_id=self.enterprise_project_id
        )

    def end_event(self, reading: Reading[CfwFirewall | None]) -> TriggerEvent:
        firewall = reading.value
        assert firewall is not None  # a RUNNING wait ends only on a listed firewall
        succeeded = reading.outcome is Outcome.SUCCESS
        state = " is running" if succeeded else ": create failed"
        payload: FirewallEventPayload = {
            "status": "success" if succeeded else "failed",
            "name": self.name,
            "message": f"Firewall {self.name!r} ({firewall.id}){state}",
            "firewall": firewall.to_dict(),
        }
        return TriggerEvent(payload)

    def error_summary(self, err: Exception) -> str:
        return f"Could not list firewall {self.name!r}"
