"""Waiting for a firewall itself, not a job: a prePaid order paid at once has no job to follow
(CreateFirewall's ``job_id`` is "returned only when the billing mode is postpaid")."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_cfw.core.firewalls import CREATE_FAILED, RUNNING, CfwFirewall
from airflow_provider_cfw.operators.base import CfwFirewallOperatorBase
from airflow_provider_cfw.triggers.firewall import CfwFirewallTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

FIREWALL_EVENT_STATUSES = frozenset({"success", "failed", "error"})


def firewall_from_event(event: object, name: str) -> tuple[str, dict[str, Any]]:
    """The ``status`` and ``firewall`` of a :class:`CfwFirewallTrigger` event, checked (it crossed the
    database); an ``error`` event raises, so the task's retries apply.

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


class FirewallWait(CfwFirewallOperatorBase):
    """Wait until the firewall called ``name`` is running (or ended create failed), in the worker or
    deferred to :class:`~airflow_provider_cfw.triggers.firewall.CfwFirewallTrigger`."""

    if TYPE_CHECKING:
        name: str
        enterprise_project_id: str | None

        @property
        def _what(self) -> str: ...
        def _named(self) -> CfwFirewall | None: ...
        def _creation_failed(self, message: str) -> NoReturn: ...
        def _xcom(
            self, firewall: CfwFirewall | None, *, job_id: str | None, order_id: str | None, reused: bool
        ) -> dict[str, Any]: ...

    def _wait_for_firewall(self, resume: dict[str, Any]) -> dict[str, Any]:
        if self.deferrable:
            self._defer_firewall(resume)
        started = time.monotonic()
        while True:
            firewall = self._named()
            if firewall is not None and firewall.status in (RUNNING, CREATE_FAILED):
                return self._firewall_done(firewall.status, firewall.to_dict(), resume)
            if time.monotonic() - started > self.timeout:
                state = firewall.status_text if firewall is not None else "not listed"
                raise AirflowException(f"{self._what}: still {state} after {self.timeout:.0f} s")
            time.sleep(self.poll_interval)

    def _defer_firewall(self, resume: dict[str, Any]) -> None:
        """Hand the wait to :class:`CfwFirewallTrigger`; resumes in ``execute_complete_firewall``."""
        self.defer(
            trigger=CfwFirewallTrigger(
                name=self.name,
                enterprise_project_id=self.enterprise_project_id,
                project_id=self.project_id,
                cfw_conn_id=self.cfw_conn_id,
                poll_interval=self.poll_interval,
                region=self.region,
            ),
            method_name="execute_complete_firewall",
            kwargs={"resume": resume},
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete_firewall(
        self, context: Context, event: dict[str, Any] | None = None, resume: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Resume after :class:`CfwFirewallTrigger` fired."""
        status, firewall = firewall_from_event(event, self.name)
        return self._firewall_done(RUNNING if status == "success" else CREATE_FAILED, firewall, resume or {})

    def _firewall_done(
        self, status: int | None, firewall: Mapping[str, Any], resume: Mapping[str, Any]
    ) -> Any:
        if status == CREATE_FAILED:
            self._creation_failed(f"{self._what}: order {resume.get('order_id')} ended in create failed")
        found = CfwFirewall(str(firewall["id"]), self.name, RUNNING, firewall.get("charge_mode"))
        return self._xcom(found, job_id=None, order_id=resume.get("order_id"), reused=False)
