"""Create and delete a CFW firewall from a DAG, waiting for its job in the worker or on the triggerer.

Both operators are safe to retry: the create looks for a firewall of the same name before it sends
anything (so an Airflow retry of a create whose answer was lost finds it instead of buying a second
one), and the delete treats a firewall that is already gone as done.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator, conf

from airflow_provider_cfw.core.errors import JOB_NOT_FOUND_CODE, CfwApiError, CfwConfigError, CfwError
from airflow_provider_cfw.core.firewalls import (
    AWAITING_PAYMENT,
    CREATE_FAILED,
    CREATING,
    DELETING,
    CfwFirewall,
    awaits_payment,
    create_firewall_body,
    named,
    validate_firewall_id,
)
from airflow_provider_cfw.core.models import CfwJob, CfwJobStatus
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from airflow_provider_cfw.triggers.events import job_from_event

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_cfw.hooks.cfw import CfwHook

#: CFW's "object does not exist" (the same code for a job and for a firewall).
OBJECT_NOT_FOUND_CODE = JOB_NOT_FOUND_CODE
#: How long a fresh job may be invisible to List Job Status before "not found" is believed.
JOB_NOT_FOUND_GRACE_SECONDS = 60.0
_FIREWALL_IN_PROGRESS = frozenset({CREATING, DELETING})


def _choice(value: str, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise CfwConfigError(field, " or ".join(map(repr, allowed)), got=repr(value))
    return value


def _seconds(value: timedelta | float, field: str) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise CfwConfigError(field, "a non-negative number of seconds", got=repr(value))
    return float(seconds)


class _CfwFirewallOperator(BaseOperator):
    """What both operators share: the hook, and waiting for a job in the worker or on the triggerer."""

    ui_color = "#fde2e2"

    def __init__(
        self,
        *,
        wait_for_completion: bool,
        deferrable: bool,
        poll_interval: timedelta | float,
        timeout: timedelta | float,
        cfw_conn_id: str,
        project_id: str | None,
        region: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = _seconds(poll_interval, "poll_interval")
        self.timeout = _seconds(timeout, "timeout")
        self.cfw_conn_id = cfw_conn_id
        self.project_id = project_id
        self.region = region

    @cached_property
    def hook(self) -> CfwHook:
        # Imported when a task runs, not when a DAG file is parsed (the transports are heavy), as the sensor.
        from airflow_provider_cfw.hooks.cfw import CfwHook

        return CfwHook(self.cfw_conn_id, region=self.region, project_id=self.project_id)

    def _find_by_id(self, firewall_id: str) -> CfwFirewall | None:
        return next((f for f in self.hook.list_firewalls(key_word=firewall_id) if f.id == firewall_id), None)

    def _wait(self, job_id: str, what: str, resume: dict[str, Any]) -> CfwJob:
        """Wait for ``job_id`` in this worker; in deferrable mode, hand the wait to the triggerer."""
        if self.deferrable:
            self.defer(
                trigger=CfwJobTrigger(
                    job_id=job_id,
                    project_id=self.project_id,
                    cfw_conn_id=self.cfw_conn_id,
                    poll_interval=self.poll_interval,
                    not_found_deadline=time.time() + JOB_NOT_FOUND_GRACE_SECONDS,
                    region=self.region,
                    deferred_at=time.time(),
                ),
                method_name="execute_complete",
                kwargs={"resume": resume},
                timeout=timedelta(seconds=self.timeout),
            )
        started = time.monotonic()
        warned_unknown = False
        while True:
            try:
                job = self.hook.get_job(job_id, self.project_id)
            except CfwApiError as err:
                if err.error_code != JOB_NOT_FOUND_CODE:
                    raise
                if time.monotonic() - started > JOB_NOT_FOUND_GRACE_SECONDS:
                    raise AirflowFailException(f"{what}: job {job_id} was not found ({err})") from err
            else:
                if job.status.is_terminal:
                    return self._check_job(job, what)
                if not job.status.is_known and not warned_unknown:
                    warned_unknown = True
                    self.log.warning("Job %s has unknown status %r; still waiting", job_id, job.status.value)
            if time.monotonic() - started > self.timeout:
                raise AirflowException(f"{what}: job {job_id} did not finish within {self.timeout:.0f} s")
            time.sleep(self.poll_interval)

    def _check_job(self, job: CfwJob, what: str) -> CfwJob:
        if job.status is CfwJobStatus.FAILED:
            # Retrying the task would not make the job succeed: fail without using up retries.
            raise AirflowFailException(
                f"{what}: job {job.id} failed (began {job.begin_time}, ended {job.end_time}, "
                f"request id {job.request_id})"
            )
        self.log.info("%s: job %s succeeded in %s s", what, job.id, job.duration_seconds)
        return job

    def _wait_for_status(self, firewall_id: str, what: str) -> CfwFirewall | None:
        """Without a job id (a firewall found, not made, by this try): poll its status in the worker
        until it is neither creating nor deleting; ``None`` once it is gone."""
        started = time.monotonic()
        while True:
            firewall = self._find_by_id(firewall_id)
            if firewall is None or firewall.status not in _FIREWALL_IN_PROGRESS:
                return firewall
            if time.monotonic() - started > self.timeout:
                raise AirflowException(f"{what}: still {firewall.status_text} after {self.timeout:.0f} s")
            self.log.info("%s: firewall %s is %s; waiting", what, firewall_id, firewall.status_text)
            time.sleep(self.poll_interval)


class CfwCreateFirewallOperator(_CfwFirewallOperator):
    """Create a CFW firewall (CreateFirewall) and wait for it; idempotent by name.

    Before sending anything it lists the firewalls called exactly ``name``. With ``if_exists="reuse"``
    (the default) an existing one is returned as it is, without a second order (and a second bill);
    with ``"fail"`` the task fails. This is also what makes Airflow's retries safe: a retry of a create
    whose answer was lost finds the firewall instead of creating another. The hook never resends the
    create itself after a failure that may have reached CFW (a timeout, a reset after sending, a 502 or
    504); only what provably did not arrive (connection refused, throttling) is retried at once.

    With ``wait_for_completion`` it waits for the creation job, in the worker or (``deferrable=True``)
    on the triggerer through :class:`~airflow_provider_cfw.triggers.cfw.CfwJobTrigger`, then looks the
    firewall up by name. A failed job fails the task without using up its retries.

    A prePaid order without ``is_auto_pay`` is not paid: CFW starts no job and the firewall stays at
    status -1 (awaiting payment) until someone pays the order in the console. The operator then does
    not wait; it logs a warning with the order id and returns ``status`` -1.

    The XCom return value is a dict: ``firewall_id`` (``None`` if the firewall is not listed yet),
    ``job_id`` (``None`` when an existing firewall was reused), ``name``, ``order_id`` (prePaid only),
    ``status`` (the numeric firewall status, see
    :data:`~airflow_provider_cfw.core.firewalls.FIREWALL_STATUSES`) and ``reused``.

    :param name: the firewall's name: 1 to 48 Chinese or English letters, digits, ``_`` or ``-``.
    :param flavor: ``{"version": "Standard" | "Professional", "extend_eip_count": 0-2000,
        "extend_bandwidth": 0-5000 in steps of 5, "extend_vpc_count": 0-100}``; postPaid firewalls
        are Professional only.
    :param charge_info: ``{"charge_mode": "prePaid" | "postPaid", "period_type": "month" | "year",
        "period_num": 1-9 months or 1-3 years, "is_auto_renew": bool, "is_auto_pay": bool}``;
        ``None`` means postPaid (pay per use). prePaid needs ``period_type`` and ``period_num``.
    :param enterprise_project_id: the enterprise project (``"0"`` is the default one).
    :param tags: ``[{"key": ..., "value": ...}]`` or ``{key: value}``.
    :param if_exists: ``"reuse"`` or ``"fail"`` when a firewall of that name exists.
    :param wait_for_completion: wait for the creation job to finish.
    :param deferrable: wait on the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between job polls.
    :param timeout: seconds to wait for the job before the task fails (and may be retried).
    :param cfw_conn_id: the Airflow connection id.
    :param project_id: overrides the connection's project.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = (
        "name",
        "flavor",
        "charge_info",
        "enterprise_project_id",
        "tags",
        "project_id",
        "region",
        "cfw_conn_id",
    )

    def __init__(
        self,
        *,
        name: str,
        flavor: Mapping[str, Any],
        charge_info: Mapping[str, Any] | None = None,
        enterprise_project_id: str | None = None,
        tags: Sequence[Mapping[str, str]] | Mapping[str, str] | None = None,
        if_exists: str = "reuse",
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
        self.name = name
        self.flavor = flavor
        self.charge_info = charge_info
        self.enterprise_project_id = enterprise_project_id
        self.tags = tags
        self.if_exists = _choice(if_exists, ("reuse", "fail"), "if_exists")

    def execute(self, context: Context) -> dict[str, Any]:
        # Every field is checked before the first request (templated values only now exist).
        body = create_firewall_body(
            name=self.name,
            flavor=self.flavor,
            charge_info=self.charge_info,
            enterprise_project_id=self.enterprise_project_id,
            tags=self.tags,
        )
        existing = self._named()
        if existing is not None:
            return self._reuse(existing)
        try:
            created = self.hook.create_firewall(**body, project_id=self.project_id)
        except CfwError as err:
            # The create may or may not have happened: the next try looks the name up first.
            raise AirflowException(f"Could not create firewall {self.name!r}: {err}") from err
        self.log.info(
            "Firewall %r ordered: job %s, order %s (request id %s)",
            self.name,
            created.job_id,
            created.order_id,
            created.request_id,
        )
        resume = {"job_id": created.job_id, "order_id": created.order_id}
        if created.job_id is None or awaits_payment(body["charge_info"]):
            return self._awaiting_payment(resume)
        if self.wait_for_completion:
            self._wait(created.job_id, f"Creating firewall {self.name!r}", resume)
        return self._result(resume, reused=False)

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, resume: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Resume after :class:`CfwJobTrigger` fired: check the event, then look the firewall up."""
        resume = resume or {}
        self._check_job(job_from_event(event, str(resume.get("job_id"))), f"Creating firewall {self.name!r}")
        return self._result(resume, reused=False)

    def _named(self) -> CfwFirewall | None:
        matches = named(self.hook.list_firewalls(key_word=self.name), self.name)
        if len(matches) > 1:
            ids = ", ".join(f"{f.id} ({f.status_text})" for f in matches)
            raise AirflowFailException(f"Several firewalls are named {self.name!r}: {ids}; pick one by id")
        return matches[0] if matches else None

    def _reuse(self, firewall: CfwFirewall) -> dict[str, Any]:
        if self.if_exists == "fail":
            raise AirflowFailException(
                f"A firewall named {self.name!r} already exists: {firewall.id} ({firewall.status_text}); "
                "if_exists='fail'"
            )
        if firewall.status == CREATE_FAILED:
            raise AirflowFailException(
                f"Firewall {self.name!r} ({firewall.id}) exists but its creation failed; delete it first"
            )
        self.log.info(
            "Firewall %r already exists (%s, %s): reusing it, nothing is created",
            self.name,
            firewall.id,
            firewall.status_text,
        )
        if self.wait_for_completion and firewall.status == CREATING:
            found = self._wait_for_status(firewall.id, f"Creating firewall {self.name!r}")
            if found is None or found.status == CREATE_FAILED:
                raise AirflowFailException(f"Firewall {self.name!r} ({firewall.id}) was not created")
            firewall = found
        return self._xcom(firewall, job_id=None, order_id=None, reused=True)

    def _awaiting_payment(self, resume: dict[str, Any]) -> dict[str, Any]:
        self.log.warning(
            "Firewall %r: order %s awaits payment (prePaid without is_auto_pay). CFW starts no job until "
            "the order is paid in the console; not waiting",
            self.name,
            resume["order_id"],
        )
        return self._result(resume, reused=False)

    def _result(self, resume: Mapping[str, Any], *, reused: bool) -> dict[str, Any]:
        firewall = self._named()
        if firewall is None:
            self.log.warning("Firewall %r is not listed yet; firewall_id is None", self.name)
        return self._xcom(
            firewall, job_id=resume.get("job_id"), order_id=resume.get("order_id"), reused=reused
        )

    def _xcom(
        self, firewall: CfwFirewall | None, *, job_id: str | None, order_id: str | None, reused: bool
    ) -> dict[str, Any]:
        status = firewall.status if firewall is not None else None
        if status == AWAITING_PAYMENT:
            self.log.warning("Firewall %r is awaiting payment (status -1)", self.name)
        return {
            "firewall_id": firewall.id if firewall is not None else None,
            "job_id": job_id,
            "name": self.name,
            "order_id": order_id,
            "status": status,
            "reused": reused,
        }


class CfwDeleteFirewallOperator(_CfwFirewallOperator):
    """Delete a CFW firewall (DeleteFirewall) and wait for its job; a firewall already gone is fine.

    CFW deletes only pay-per-use (postPaid) firewalls this way; a prePaid one is unsubscribed in the
    console. Before sending anything the operator looks the id up: a firewall that no longer exists
    is logged and counts as deleted (``if_missing="fail"`` fails the task instead), and one that is
    already being deleted is waited for rather than deleted twice. A failed job fails the task
    without using up its retries.

    The XCom return value is a dict: ``firewall_id`` and ``job_id`` (``None`` when nothing was sent).

    :param firewall_id: the firewall's id (``fw_instance_id``), e.g. the create operator's
        ``firewall_id`` XCom.
    :param if_missing: ``"ignore"`` or ``"fail"`` when no such firewall exists.
    :param wait_for_completion: wait for the deletion job to finish.
    :param deferrable: wait on the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between job polls.
    :param timeout: seconds to wait for the job before the task fails.
    :param cfw_conn_id: the Airflow connection id.
    :param project_id: overrides the connection's project.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = ("firewall_id", "project_id", "region", "cfw_conn_id")

    def __init__(
        self,
        *,
        firewall_id: str,
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
        self.firewall_id = firewall_id
        self.if_missing = _choice(if_missing, ("ignore", "fail"), "if_missing")

    def execute(self, context: Context) -> dict[str, Any]:
        firewall_id = validate_firewall_id(self.firewall_id)
        what = f"Deleting firewall {firewall_id}"
        firewall = self._find_by_id(firewall_id)
        if firewall is None:
            return self._missing(firewall_id)
        if firewall.status == DELETING:
            self.log.info("%s: it is already being deleted; not sending a second delete", what)
            if self.wait_for_completion:
                self._check_gone(self._wait_for_status(firewall_id, what), what)
            return {"firewall_id": firewall_id, "job_id": None}
        try:
            deleted = self.hook.delete_firewall(firewall_id, project_id=self.project_id)
        except CfwApiError as err:
            if err.error_code == OBJECT_NOT_FOUND_CODE:
                return self._missing(firewall_id)
            raise AirflowException(f"{what}: {err}") from err
        self.log.info("%s: job %s (request id %s)", what, deleted.job_id, deleted.request_id)
        result = {"firewall_id": firewall_id, "job_id": deleted.job_id}
        if self.wait_for_completion:
            self._wait(deleted.job_id, what, result)
        return result

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, resume: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Resume after :class:`CfwJobTrigger` fired."""
        resume = resume or {}
        self._check_job(
            job_from_event(event, str(resume.get("job_id"))), f"Deleting firewall {self.firewall_id}"
        )
        return {"firewall_id": resume.get("firewall_id"), "job_id": resume.get("job_id")}

    def _missing(self, firewall_id: str) -> dict[str, Any]:
        if self.if_missing == "fail":
            raise AirflowFailException(f"Firewall {firewall_id} does not exist (if_missing='fail')")
        self.log.info("Firewall %s does not exist (already deleted?): nothing to delete", firewall_id)
        return {"firewall_id": firewall_id, "job_id": None}

    @staticmethod
    def _check_gone(firewall: CfwFirewall | None, what: str) -> None:
        if firewall is not None:
            raise AirflowFailException(f"{what}: the firewall is {firewall.status_text}, not deleted")
