"""Wait for a firewall itself on the triggerer (a prePaid order paid at once has no job to follow)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_cfw.core.errors import CfwApiError, CfwError
from airflow_provider_cfw.core.firewall_answers import CREATE_FAILED, RUNNING, CfwFirewall, named
from airflow_provider_cfw.core.rate_limit import is_paced_throttle
from airflow_provider_cfw.triggers.cfw import DEFAULT_MAX_TRANSIENT_ERRORS, MAX_BACKOFF_SECONDS, _hook_class

if TYPE_CHECKING:
    from airflow_provider_cfw.core.client import CfwClient

# Looked up at each call, so that tests can observe the pauses without waiting.
_sleep = asyncio.sleep


class CfwFirewallTrigger(BaseTrigger):
    """Poll ListFirewallList until the firewall called exactly ``name`` is running or create failed,
    then fire exactly one event.

    The event's payload is a dict whose ``status`` is ``success`` (running) or ``failed`` (create
    failed), with ``firewall`` (:meth:`CfwFirewall.to_dict`), or ``error`` (with ``error_code``,
    ``request_id``, ``http_status``, ``retryable``). Every payload carries ``name`` and ``message``.
    A firewall not listed yet, creating or awaiting payment is waited for; the task's timeout, enforced
    by Airflow on the deferral, ends the wait. Transient errors back off as in
    :class:`~airflow_provider_cfw.triggers.cfw.CfwJobTrigger`; several firewalls of the name end the
    wait with an error.

    :param name: the firewall's exact name.
    :param enterprise_project_id: look only in this enterprise project.
    :param project_id: the project; ``None`` uses the connection's.
    :param cfw_conn_id: the Airflow connection id.
    :param poll_interval: seconds between polls.
    :param region: overrides the connection's region.
    :param max_transient_errors: consecutive transient failures tolerated before giving up.
    """

    def __init__(
        self,
        *,
        name: str,
        enterprise_project_id: str | None = None,
        project_id: str | None = None,
        cfw_conn_id: str = "cfw_default",
        poll_interval: float = 10.0,
        region: str | None = None,
        max_transient_errors: int = DEFAULT_MAX_TRANSIENT_ERRORS,
    ) -> None:
        super().__init__()
        self.name = name
        self.enterprise_project_id = enterprise_project_id
        self.project_id = project_id
        self.cfw_conn_id = cfw_conn_id
        self.poll_interval = float(poll_interval)
        self.region = region
        self.max_transient_errors = int(max_transient_errors)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain JSON only: names, ids and numbers, never a credential."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "name": self.name,
                "enterprise_project_id": self.enterprise_project_id,
                "project_id": self.project_id,
                "cfw_conn_id": self.cfw_conn_id,
                "poll_interval": self.poll_interval,
                "region": self.region,
                "max_transient_errors": self.max_transient_errors,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Only reads: a restarted triggerer can simply run it again."""
        hook = (await _hook_class())(self.cfw_conn_id, region=self.region, project_id=self.project_id)
        client: CfwClient | None = None
        transient_errors = 0
        async with hook.async_session():
            while True:
                try:
                    client = client or await hook.aclient()
                    listed = await client.alist_firewalls(
                        self.name,
                        enterprise_project_id=self.enterprise_project_id,
                        project_id=self.project_id,
                    )
                except CfwError as err:
                    if is_paced_throttle(err):
                        continue  # the account's limit, not a failure: the next poll waits its turn
                    if not err.retryable or transient_errors >= self.max_transient_errors:
                        yield self._error_event(err)
                        return
                    transient_errors += 1
                    delay = min(self.poll_interval * 2 ** (transient_errors - 1), MAX_BACKOFF_SECONDS)
                    self.log.warning(
                        "Transient error listing firewall %r, next in %.1f s: %s", self.name, delay, err
                    )
                    await _sleep(max(delay, getattr(err, "retry_after", None) or 0.0))
                    continue
                except Exception as err:
                    self.log.exception("Unexpected error listing firewall %r", self.name)
                    yield self._error_event(err)
                    return
                transient_errors = 0
                matches = named(listed, self.name)
                if len(matches) > 1:
                    ids = ", ".join(f"{f.id} ({f.status_text})" for f in matches)
                    yield self._event("error", None, f"Several firewalls are named {self.name!r}: {ids}")
                    return
                found = matches[0] if matches else None
                if found is not None and found.status == RUNNING:
                    yield self._event("success", found, f"Firewall {self.name!r} ({found.id}) is running")
                    return
                if found is not None and found.status == CREATE_FAILED:
                    yield self._event("failed", found, f"Firewall {self.name!r} ({found.id}): create failed")
                    return
                self.log.info(
                    "Firewall %r is %s; waiting", self.name, found.status_text if found else "not listed yet"
                )
                await _sleep(self.poll_interval)

    def _event(self, status: str, firewall: CfwFirewall | None, message: str) -> TriggerEvent:
        payload: dict[str, Any] = {"status": status, "name": self.name, "message": message}
        if firewall is not None:
            payload["firewall"] = firewall.to_dict()
        return TriggerEvent(payload)

    def _error_event(self, err: Exception) -> TriggerEvent:
        api = err if isinstance(err, CfwApiError) else None
        return TriggerEvent(
            {
                "status": "error",
                "name": self.name,
                "message": f"Could not list firewall {self.name!r}: {type(err).__name__}: {err}",
                "error_code": api.error_code if api else None,
                "request_id": api.request_id if api else None,
                "http_status": api.http_status if api else None,
                "retryable": isinstance(err, CfwError) and err.retryable,
            }
        )
