"""``CfwDeleteFirewallOperator``: delete a pay-per-use firewall, found by id or by name, and wait."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, conf

from airflow_provider_cfw.core.errors import CfwApiError, CfwConfigError
from airflow_provider_cfw.core.firewalls import (
    DELETING,
    CfwFirewall,
    validate_enterprise_project_id,
    validate_firewall_id,
    validate_firewall_name,
)
from airflow_provider_cfw.operators.base import (
    OBJECT_NOT_FOUND_CODE,
    CfwFirewallOperatorBase,
    choice,
    prepaid_refusal,
)
from airflow_provider_cfw.triggers.events import job_from_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

_TARGET = "firewall_id or name"


def _templated(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


def _check_target(firewall_id: object, name: object) -> None:
    """Exactly one of ``firewall_id`` and ``name``."""
    if (firewall_id is None) == (name is None):
        got = "both" if firewall_id is not None else "neither"
        raise CfwConfigError(_TARGET, "exactly one of firewall_id and name", got=got)


class CfwDeleteFirewallOperator(CfwFirewallOperatorBase):
    """Delete a CFW firewall (DeleteFirewall) and wait for its job; a firewall already gone is fine.

    Give exactly one of ``firewall_id`` and ``name``. By ``name`` the operator needs no XCom: it
    finds the firewall the way the create does (the exact name, records in status 4 "deleted" left
    out, optionally within ``enterprise_project_id``), so a teardown with the create's name template
    works whatever the create managed to return. Several firewalls of that name fail the task with
    their ids.

    CFW deletes only pay-per-use (postPaid) firewalls this way: a prePaid (yearly/monthly) one is
    refused before any request, with a message to unsubscribe it in the console. Before sending
    anything the operator looks the firewall up: one that no longer exists is logged and counts as
    deleted (``if_missing="fail"`` fails the task instead, also when DeleteFirewall answers "object
    does not exist"), and one that is already being deleted is waited for rather than deleted twice.
    A failed job fails the task without using up its retries.

    The XCom return value is a dict: ``firewall_id`` (``None`` when none of that name exists) and
    ``job_id`` (``None`` when nothing was sent).

    :param firewall_id: the firewall's id (``fw_instance_id``), e.g. the create operator's
        ``firewall_id`` XCom.
    :param name: the firewall's exact name, instead of ``firewall_id``.
    :param enterprise_project_id: with ``name``: look only in this enterprise project.
    :param if_missing: ``"ignore"`` or ``"fail"`` when no such firewall exists.
    :param wait_for_completion: wait for the deletion job to finish.
    :param deferrable: wait on the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between job polls.
    :param timeout: seconds to wait for the job before the task fails.
    :param cfw_conn_id: the Airflow connection id.
    :param project_id: overrides the connection's project.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = (
        "firewall_id",
        "name",
        "enterprise_project_id",
        "project_id",
        "region",
        "cfw_conn_id",
    )

    def __init__(
        self,
        *,
        firewall_id: str | None = None,
        name: str | None = None,
        enterprise_project_id: str | None = None,
        if_missing: str = "ignore",
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: timedelta | float = 10,
        timeout: timedelta | float = 60 * 60,
        cfw_conn_id: str = "cfw_default",
        project_id: str | None = None,
        region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            wait_for_completion=wait_for_completion,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            cfw_conn_id=cfw_conn_id,
            project_id=project_id,
            region=region,
            **kwargs,
        )
        _check_target(firewall_id, name)
        if name is not None and not _templated(name):
            validate_firewall_name(name)
        if firewall_id is not None and not _templated(firewall_id):
            validate_firewall_id(firewall_id)
        self.firewall_id = firewall_id
        self.name = name
        self.enterprise_project_id = enterprise_project_id
        self.if_missing = choice(if_missing, ("ignore", "fail"), "if_missing")

    def execute(self, context: Context) -> dict[str, Any]:
        # Checked again after templating, before the first request.
        _check_target(self.firewall_id, self.name)
        if self.name is not None:
            name = validate_firewall_name(self.name)
            scope = validate_enterprise_project_id(self.enterprise_project_id)
            firewall = self._find_by_name(name, scope)
            if firewall is None:
                return self._missing(f"named {name!r}", None)
        else:
            firewall_id = validate_firewall_id(self.firewall_id)
            firewall = self._find_by_id(firewall_id)
            if firewall is None:
                return self._missing(firewall_id, firewall_id)
        return self._delete(firewall)

    def _delete(self, firewall: CfwFirewall) -> dict[str, Any]:
        what = f"Deleting firewall {firewall.id}"
        if firewall.prepaid:
            raise prepaid_refusal(firewall, what)
        if firewall.status == DELETING:
            self.log.info("%s: it is already being deleted; not sending a second delete", what)
            if self.wait_for_completion:
                self._check_gone(self._wait_for_status(firewall.id, what), what)
            return {"firewall_id": firewall.id, "job_id": None}
        try:
            deleted = self.hook.delete_firewall(firewall.id, project_id=self.project_id)
        except CfwApiError as err:
            if err.error_code == OBJECT_NOT_FOUND_CODE:
                return self._missing(firewall.id, firewall.id)
            raise AirflowException(f"{what}: {err}") from err
        self.log.info("%s: job %s (request id %s)", what, deleted.job_id, deleted.request_id)
        result = {"firewall_id": firewall.id, "job_id": deleted.job_id}
        if self.wait_for_completion:
            self._wait(deleted.job_id, what, result)
        return result

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, resume: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Resume after :class:`~airflow_provider_cfw.triggers.cfw.CfwJobTrigger` fired."""
        resume = resume or {}
        what = f"Deleting firewall {resume.get('firewall_id')}"
        self._check_job(job_from_event(event, str(resume.get("job_id"))), what)
        return {"firewall_id": resume.get("firewall_id"), "job_id": resume.get("job_id")}

    def _missing(self, which: str, firewall_id: str | None) -> dict[str, Any]:
        if self.if_missing == "fail":
            raise AirflowFailException(f"Firewall {which} does not exist (if_missing='fail')")
        self.log.info("Firewall %s does not exist (already deleted?): nothing to delete", which)
        return {"firewall_id": firewall_id, "job_id": None}

    @staticmethod
    def _check_gone(firewall: CfwFirewall | None, what: str) -> None:
        if firewall is not None:
            raise AirflowFailException(f"{what}: the firewall is {firewall.status_text}, not deleted")


__all__ = ["CfwDeleteFirewallOperator"]
