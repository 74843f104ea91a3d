"""The firewall operators: ``CfwCreateFirewallOperator`` orders a firewall once, however often the task
is tried, and ``CfwDeleteFirewallOperator`` deletes one found by id or by name; both wait for their job
in the worker or on the triggerer (how: :class:`~airflow_provider_cfw.operators.base.CfwFirewallOperatorBase`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_cfw.core.client_token import client_token
from airflow_provider_cfw.core.errors import JOB_NOT_FOUND_CODE, CfwApiError, CfwConfigError, CfwError
from airflow_provider_cfw.core.firewalls import (
    AWAITING_PAYMENT,
    CREATE_FAILED,
    CREATING,
    DELETING,
    CfwFirewall,
    awaits_payment,
    create_firewall_body,
    creation_result,
    validate_enterprise_project_id,
    validate_firewall_id,
    validate_firewall_name,
)
from airflow_provider_cfw.core.models import CfwJob, CfwJobStatus
from airflow_provider_cfw.core.waits import CfwFirewallNameConflict, CfwWaitTimeout, Creation, FirewallGoal
from airflow_provider_cfw.operators.base import (
    CfwFirewallOperatorBase,
    job_failure,
    prepaid_reason,
    prepaid_refusal,
    validate_choice,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

#: CFW's "object does not exist" (the same code for a job and for a firewall).
OBJECT_NOT_FOUND_CODE = JOB_NOT_FOUND_CODE


class CfwCreateFirewallOperator(CfwFirewallOperatorBase):
    """Create a CFW firewall (CreateFirewall) and wait for it; idempotent by name and by token.

    Two guards keep a rerun or a retry from ordering twice:

    - **the name look-up**: before sending anything it lists the firewalls called exactly ``name``
      (within ``enterprise_project_id`` if given). With ``if_exists="reuse"`` (the default) an
      existing one is returned as it is, without a second order; with ``"fail"`` the task fails. This
      covers a firewall made by an earlier run, another DAG or by hand.
    - **the X-Client-Token header**: every CreateFirewall carries a token derived from the task
      instance (dag, run, task, map index; not the try number) and the request. CFW answers a
      repeated token with the first answer and creates nothing, so a retry after a lost answer is
      safe even while the list does not show the new firewall yet.

    The hook never resends the create itself after a failure that may have reached CFW (a timeout,
    a reset after sending, a 502 or 504); Airflow's retry does, with the same token.

    With ``wait_for_completion`` it waits for the creation job (postPaid), then until the firewall is
    listed by its name, in the worker or (``deferrable=True``) on the triggerer through
    :class:`~airflow_provider_cfw.triggers.creation.CfwFirewallCreationTrigger`, which on success ends
    the task there with the same result (``end_from_trigger``, on by default where nothing else
    observable changes); a failed job resumes the task on a worker, which cleans up.
    A prePaid order with ``is_auto_pay`` has no job: the operator waits for the firewall itself to be
    running (deferred: :class:`~airflow_provider_cfw.triggers.firewall.CfwFirewallTrigger`). A prePaid
    order without ``is_auto_pay`` is not paid: the firewall stays at status -1 (awaiting payment)
    until someone pays the order in the console; the operator logs a warning and returns status -1.

    A failed creation (the job failed, or the firewall ended in status 6, create failed) leaves a
    firewall CFW keeps. The operator deletes it (postPaid), waits for that delete, then fails the
    task without using up its retries, saying it cleaned up. A create-failed firewall of the same
    name left by an interrupted cleanup is deleted by the next run before it creates (a warning in
    the log); with ``if_exists="fail"`` it fails the task instead. A prePaid one cannot be deleted
    through the API: the message says to unsubscribe it in the console.

    The XCom return value is a dict: ``firewall_id`` (``None`` if the firewall is not listed yet),
    ``job_id`` (``None`` when an existing firewall was reused, or for prePaid), ``name``,
    ``order_id`` (prePaid only), ``status`` (the numeric firewall status, see
    :data:`~airflow_provider_cfw.core.firewalls.FIREWALL_STATUSES`) and ``reused``.

    :param name: the firewall's name: 1 to 48 Chinese or English letters, digits, ``_`` or ``-``.
    :param flavor: ``{"version": "Standard" | "Professional"}``, plus for prePaid only
        ``"extend_eip_count": 0-2000, "extend_bandwidth": 0-5000 in steps of 5,
        "extend_vpc_count": 0-100``; postPaid firewalls are Professional only.
    :param charge_info: ``{"charge_mode": "prePaid" | "postPaid", "period_type": "month" | "year",
        "period_num": 1-9 months or 1-3 years, "is_auto_renew": bool, "is_auto_pay": bool}``;
        ``None`` means postPaid (pay per use). prePaid needs ``period_type`` and ``period_num``.
    :param enterprise_project_id: the enterprise project (``"0"`` is the default one); the name
        look-up is scoped to it too.
    :param tags: ``[{"key": ..., "value": ...}]`` (``value`` optional) or ``{key: value}``.
    :param if_exists: ``"reuse"`` or ``"fail"`` when a firewall of that name exists.
    :param kwargs: the arguments every firewall operator takes (:class:`~airflow_provider_cfw.operators.base.CfwFirewallOperatorBase`):
        ``wait_for_completion``, ``deferrable``, ``poll_interval``, ``timeout`` (default one hour),
        ``cfw_conn_id``, ``project_id``, ``region``, ``end_from_trigger``, and :class:`BaseOperator`'s.
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.flavor = flavor
        self.charge_info = charge_info
        self.enterprise_project_id = enterprise_project_id
        self.tags = tags
        self.if_exists = validate_choice(if_exists, ("reuse", "fail"), "if_exists")

    @property
    def _action(self) -> str:
        """What the task does, as its messages begin."""
        return f"Creating firewall {self.name!r}"

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
        if existing is not None and (existing.status != CREATE_FAILED or self.if_exists == "fail"):
            return self._reuse(existing)
        if existing is not None:
            # A failed creation whose cleanup did not finish (an earlier run was killed): clear the way.
            self.log.warning(
                "Firewall %r (%s) is left over from a failed creation: deleting it, then creating anew",
                self.name,
                existing.id,
            )
            self._remove_failed(existing)
        token = self._client_token(context, body)
        try:
            created = self.hook.create_firewall(**body, project_id=self.project_id, client_token=token)
        except CfwError as err:
            # The create may or may not have happened: the next try sends the same token and looks the
            # name up first.
            raise AirflowException(f"Could not create firewall {self.name!r}: {err}") from err
        self.log.info(
            "Firewall %r ordered: job %s, order %s (request id %s, client token %s)",
            self.name,
            created.job_id,
            created.order_id,
            created.request_id,
            token,
        )
        submitted = {"job_id": created.job_id, "order_id": created.order_id}
        if awaits_payment(body["charge_info"]):
            self.log.warning(
                "Firewall %r: order %s awaits payment (prePaid without is_auto_pay). CFW starts no job "
                "until the order is paid in the console; not waiting",
                self.name,
                created.order_id,
            )
            return self._result(submitted, wait=False)
        if not self.wait_for_completion:
            return self._result(submitted, wait=False)
        if created.job_id is None:
            # prePaid, paid at once: no job (job_id is "returned only when the billing mode is postpaid").
            return self.wait_for_firewall(
                self.name, validate_enterprise_project_id(self.enterprise_project_id), self._action, submitted
            )
        return self.wait_for_creation(
            created.job_id,
            self.name,
            validate_enterprise_project_id(self.enterprise_project_id),
            self._action,
            submitted,
            ends_as=CfwCreateFirewallOperator,
        )

    def creation_ended(self, creation: Creation, submitted: Mapping[str, Any]) -> dict[str, Any]:
        """The creation job ended: clean up a failure, or return the new firewall (looked up here if
        the wait did not find it by its name)."""
        job = creation.job
        if job.status is CfwJobStatus.FAILED:
            self._creation_failed(job_failure(job, self._action))
        self.log_job_success(job, self._action)
        if creation.firewall is None:
            return self._result(submitted)
        return self._xcom(
            creation.firewall,
            job_id=submitted.get("job_id"),
            order_id=submitted.get("order_id"),
            reused=False,
        )

    def job_ended(self, job: CfwJob, submitted: Mapping[str, Any]) -> dict[str, Any]:
        """The creation job ended (the resume of a task deferred to a plain job trigger by an earlier
        version of the provider): as :meth:`creation_ended`, the firewall looked up here."""
        return self.creation_ended(Creation(job), submitted)

    def firewall_ended(self, firewall: CfwFirewall, submitted: Mapping[str, Any]) -> dict[str, Any]:
        """A prePaid firewall, followed without a job, is running or ended create failed."""
        if firewall.status == CREATE_FAILED:
            self._creation_failed(f"{self._action}: order {submitted.get('order_id')} ended in create failed")
        return self._xcom(firewall, job_id=None, order_id=submitted.get("order_id"), reused=False)

    def _client_token(self, context: Context, body: Mapping[str, Any]) -> str:
        """The same for every try of this task instance (see :mod:`~airflow_provider_cfw.core.client_token`)."""
        ti = context.get("ti") or context.get("task_instance")
        run_id = getattr(ti, "run_id", None) or context.get("run_id")
        return client_token(
            dag_id=getattr(ti, "dag_id", None) or (self.dag.dag_id if self.has_dag() else None),
            run_id=str(run_id) if run_id is not None else None,
            task_id=self.task_id,
            map_index=getattr(ti, "map_index", None),
            project_id=self.project_id,
            body=body,
            clear_number=getattr(context.get("dag_run"), "clear_number", None),
        )

    def _named(self) -> CfwFirewall | None:
        return self.find_firewall(
            name=self.name, enterprise_project_id=validate_enterprise_project_id(self.enterprise_project_id)
        )

    def _reuse(self, firewall: CfwFirewall) -> dict[str, Any]:
        if self.if_exists == "fail":
            raise AirflowFailException(
                f"A firewall named {self.name!r} already exists: {firewall.id} ({firewall.status_text}); "
                "if_exists='fail'"
            )
        self.log.info(
            "Firewall %r already exists (%s, %s): reusing it, nothing is created",
            self.name,
            firewall.id,
            firewall.status_text,
        )
        if self.wait_for_completion and firewall.status == CREATING:
            found = self.wait_until_settled(firewall.id, self._action)
            if found is None:
                raise AirflowFailException(f"Firewall {self.name!r} ({firewall.id}) was not created")
            if found.status == CREATE_FAILED:
                self._creation_failed(f"{self._action}: firewall {firewall.id} ended in create failed")
            firewall = found
        return self._xcom(firewall, job_id=None, order_id=None, reused=True)

    # ---- a failed creation ----------------------------------------------------------------------

    def _creation_failed(self, message: str) -> NoReturn:
        """Delete the create-failed firewall CFW kept (if it can), then fail the task, retries unused."""
        firewall = self._named()
        if firewall is None or firewall.status != CREATE_FAILED:
            raise AirflowFailException(
                f"{message}; no create-failed firewall named {self.name!r} is listed (yet): the next run "
                "with this name deletes it before creating"
            )
        if firewall.prepaid:
            raise AirflowFailException(f"{message}; not cleaned up: {prepaid_reason(firewall)}")
        job_id = self._remove_failed(firewall)
        raise AirflowFailException(
            f"{message}; cleaned up: the create-failed firewall {firewall.id} was deleted (job {job_id})"
        )

    def _remove_failed(self, firewall: CfwFirewall) -> str | None:
        """Delete a create-failed firewall and wait for it in the worker; the deletion job's id."""
        action = f"Deleting the create-failed firewall {firewall.id} ({self.name!r})"
        if firewall.prepaid:
            raise prepaid_refusal(firewall, action)
        try:
            deleted = self.hook.delete_firewall(firewall.id, project_id=self.project_id)
        except CfwApiError as err:
            if err.error_code == OBJECT_NOT_FOUND_CODE:
                return None
            raise AirflowFailException(f"{action}: {err}; delete it before the next run") from err
        job = self._in_worker(
            lambda: self.hook.wait_for_job(
                deleted.job_id,
                poll_interval=self.poll_interval,
                timeout=self.timeout,
                project_id=self.project_id,
            ),
            action,
        )
        if job.status is CfwJobStatus.FAILED:
            raise AirflowFailException(f"{job_failure(job, action)}; delete it before the next run")
        self.log.info("%s: done (job %s)", action, job.id)
        return job.id

    # ---- answers --------------------------------------------------------------------------------

    def _result(self, submitted: Mapping[str, Any], *, wait: bool = True) -> dict[str, Any]:
        if wait:
            # A real cloud may list a new firewall a little after its job ends: give it the task's timeout.
            try:
                firewall = self.hook.wait_for_firewall(
                    FirewallGoal.LISTED,
                    name=self.name,
                    enterprise_project_id=validate_enterprise_project_id(self.enterprise_project_id),
                    poll_interval=self.poll_interval,
                    timeout=self.timeout,
                    project_id=self.project_id,
                ).value
            except CfwWaitTimeout:
                firewall = None
            except CfwFirewallNameConflict as err:
                raise AirflowFailException(f"{err}; pick one by id") from err
        else:
            firewall = self._named()
        if firewall is None:
            self.log.warning("Firewall %r is not listed yet; firewall_id is None", self.name)
        return self._xcom(
            firewall, job_id=submitted.get("job_id"), order_id=submitted.get("order_id"), reused=False
        )

    def _xcom(
        self, firewall: CfwFirewall | None, *, job_id: str | None, order_id: str | None, reused: bool
    ) -> dict[str, Any]:
        status = firewall.status if firewall is not None else None
        if status == AWAITING_PAYMENT:
            self.log.warning("Firewall %r is awaiting payment (status -1)", self.name)
        return creation_result(
            firewall_id=firewall.id if firewall is not None else None,
            status=status,
            name=self.name,
            job_id=job_id,
            order_id=order_id,
            reused=reused,
        )


def _templated(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


def _check_target(firewall_id: object, name: object) -> None:
    """Exactly one of ``firewall_id`` and ``name``."""
    if (firewall_id is None) == (name is None):
        got = "both" if firewall_id is not None else "neither"
        raise CfwConfigError("firewall_id or name", "exactly one of firewall_id and name", got=got)


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
    A failed job fails the task without using up its retries. Deferred, a successful deletion ends
    the task on the triggerer, with the same result (``end_from_trigger``, on by default where nothing
    else observable changes); a failed one resumes it on a worker, which fails it.

    The XCom return value is a dict: ``firewall_id`` (``None`` when none of that name exists) and
    ``job_id`` (``None`` when nothing was sent).

    :param firewall_id: the firewall's id (``fw_instance_id``), e.g. the create operator's
        ``firewall_id`` XCom.
    :param name: the firewall's exact name, instead of ``firewall_id``.
    :param enterprise_project_id: with ``name``: look only in this enterprise project.
    :param if_missing: ``"ignore"`` or ``"fail"`` when no such firewall exists.
    :param kwargs: the arguments every firewall operator takes (:class:`~airflow_provider_cfw.operators.base.CfwFirewallOperatorBase`):
        ``wait_for_completion``, ``deferrable``, ``poll_interval``, ``timeout`` (default one hour),
        ``cfw_conn_id``, ``project_id``, ``region``, ``end_from_trigger``, and :class:`BaseOperator`'s.
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_target(firewall_id, name)
        if name is not None and not _templated(name):
            validate_firewall_name(name)
        if firewall_id is not None and not _templated(firewall_id):
            validate_firewall_id(firewall_id)
        self.firewall_id = firewall_id
        self.name = name
        self.enterprise_project_id = enterprise_project_id
        self.if_missing = validate_choice(if_missing, ("ignore", "fail"), "if_missing")

    def execute(self, context: Context) -> dict[str, Any]:
        # Checked again after templating, before the first request.
        _check_target(self.firewall_id, self.name)
        if self.name is not None:
            name = validate_firewall_name(self.name)
            scope = validate_enterprise_project_id(self.enterprise_project_id)
            firewall = self.find_firewall(name=name, enterprise_project_id=scope)
            if firewall is None:
                return self._missing(f"named {name!r}", None)
        else:
            firewall_id = validate_firewall_id(self.firewall_id)
            firewall = self.find_firewall(firewall_id=firewall_id)
            if firewall is None:
                return self._missing(firewall_id, firewall_id)
        return self._delete(firewall)

    def _delete(self, firewall: CfwFirewall) -> dict[str, Any]:
        action = f"Deleting firewall {firewall.id}"
        if firewall.prepaid:
            raise prepaid_refusal(firewall, action)
        if firewall.status == DELETING:
            self.log.info("%s: it is already being deleted; not sending a second delete", action)
            if self.wait_for_completion:
                left = self.wait_until_settled(firewall.id, action)
                if left is not None:
                    raise AirflowFailException(f"{action}: the firewall is {left.status_text}, not deleted")
            return {"firewall_id": firewall.id, "job_id": None}
        try:
            deleted = self.hook.delete_firewall(firewall.id, project_id=self.project_id)
        except CfwApiError as err:
            if err.error_code == OBJECT_NOT_FOUND_CODE:
                return self._missing(firewall.id, firewall.id)
            raise AirflowException(f"{action}: {err}") from err
        self.log.info("%s: job %s (request id %s)", action, deleted.job_id, deleted.request_id)
        submitted = {"firewall_id": firewall.id, "job_id": deleted.job_id}
        if not self.wait_for_completion:
            return submitted
        return self.wait_for_job(
            deleted.job_id, action, submitted, ends_as=CfwDeleteFirewallOperator, result=_deleted(submitted)
        )

    def job_ended(self, job: CfwJob, submitted: Mapping[str, Any]) -> dict[str, Any]:
        """The deletion job ended: a failure fails the task without using up its retries."""
        action = f"Deleting firewall {submitted.get('firewall_id')}"
        if job.status is CfwJobStatus.FAILED:
            raise AirflowFailException(job_failure(job, action))
        self.log_job_success(job, action)
        return _deleted(submitted)

    def _missing(self, which: str, firewall_id: str | None) -> dict[str, Any]:
        if self.if_missing == "fail":
            raise AirflowFailException(f"Firewall {which} does not exist (if_missing='fail')")
        self.log.info("Firewall %s does not exist (already deleted?): nothing to delete", which)
        return {"firewall_id": firewall_id, "job_id": None}


def _deleted(submitted: Mapping[str, Any]) -> dict[str, Any]:
    """What a delete whose job succeeded returns (known when it defers: the trigger may end the task with it)."""
    return {"firewall_id": submitted.get("firewall_id"), "job_id": submitted.get("job_id")}
