"""What the firewall operators share: their arguments, the hook, the look-ups, and waiting for a job or
a firewall in the worker (the hook's waits) or on the triggerer (deferred, resumed here)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator, conf

from airflow_provider_cfw.core.errors import CfwConfigError, CfwJobNotFound
from airflow_provider_cfw.core.firewalls import CREATE_FAILED, RUNNING, CfwFirewall
from airflow_provider_cfw.core.models import CfwJob
from airflow_provider_cfw.core.waits import (
    JOB_NOT_FOUND_GRACE_SECONDS,
    CfwFirewallNameConflict,
    CfwWaitTimeout,
    Creation,
    CreationWait,
    FirewallGoal,
    validate_poll_growth,
)
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from airflow_provider_cfw.triggers.creation import CfwFirewallCreationTrigger
from airflow_provider_cfw.triggers.events import creation_from_event, firewall_from_event, job_from_event
from airflow_provider_cfw.triggers.firewall import CfwFirewallTrigger
from airflow_provider_cfw.version_compat import configured_scheduler_hold_seconds, end_from_trigger_decision

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context
    from airflow.triggers.base import BaseTrigger

    from airflow_provider_cfw.hooks.cfw import CfwHook

T = TypeVar("T")


def validate_choice(value: str, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise CfwConfigError(field, " or ".join(map(repr, allowed)), got=repr(value))
    return value


def validate_seconds(value: timedelta | float, field: str) -> float:
    amount = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
        raise CfwConfigError(field, "a non-negative number of seconds", got=repr(value))
    return float(amount)


def prepaid_reason(firewall: CfwFirewall) -> str:
    return (
        f"firewall {firewall.name!r} ({firewall.id}) is prePaid (yearly/monthly), which DeleteFirewall "
        "does not delete; unsubscribe it in the Huawei Cloud console"
    )


def prepaid_refusal(firewall: CfwFirewall, action: str) -> AirflowFailException:
    """DeleteFirewall "takes effect only for pay-per-use firewalls": say so before sending it."""
    return AirflowFailException(f"{action}: {prepaid_reason(firewall)}")


def job_failure(job: CfwJob, action: str) -> str:
    return (
        f"{action}: job {job.id} failed (began {job.begin_time}, ended {job.end_time}, "
        f"request id {job.request_id})"
    )


class CfwFirewallOperatorBase(BaseOperator):
    """The arguments every firewall operator takes, and waiting for its job or firewall.

    A subclass decides what to send and what its waits' ends mean: :meth:`job_ended` (and, if it
    waits for a firewall itself, :meth:`firewall_ended`, or for a creation, :meth:`creation_ended`)
    run after the wait, in the worker or on the resume after the trigger's event, so both paths end
    the same way. Deferred, a job's success can end the task on the triggerer instead
    (``end_from_trigger``), with the result the resume would return.

    :param wait_for_completion: wait for the job to finish.
    :param deferrable: wait on the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls.
    :param timeout: seconds to wait before the task fails (and may be retried).
    :param cfw_conn_id: the Airflow connection id.
    :param project_id: overrides the connection's project.
    :param region: overrides the connection's region.
    :param poll_growth: once a wait has run long, pause this share of the time waited (up to a
        minute) instead of ``poll_interval``: fewer polls for long jobs, their end seen later
        (docs/capacity.md). ``0`` (the default) polls every ``poll_interval``.
    :param end_from_trigger: deferrable: on the job's success, let the triggerer end the task with the
        result a worker would return, so no worker resumes it (a failed job, an error, a timeout still
        resume it). ``None`` (the default) turns it on where nothing else observable changes: no
        listeners, no ``on_success_callback`` or ``on_execute_callback``, no outlets, no downstream
        task mapped over the result, no override
        (:func:`~airflow_provider_cfw.version_compat.end_from_trigger_decision`).
    """

    ui_color = "#fde2e2"

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: timedelta | float = 10,
        timeout: timedelta | float = 60 * 60,
        cfw_conn_id: str = "cfw_default",
        project_id: str | None = None,
        region: str | None = None,
        poll_growth: float = 0.0,
        end_from_trigger: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.end_from_trigger = end_from_trigger
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = validate_seconds(poll_interval, "poll_interval")
        self.timeout = validate_seconds(timeout, "timeout")
        self.cfw_conn_id = cfw_conn_id
        self.project_id = project_id
        self.region = region
        self.poll_growth = validate_poll_growth(poll_growth)

    @cached_property
    def hook(self) -> CfwHook:
        # Imported when a task runs, not when a DAG file is parsed (the transports are heavy), as the sensor.
        from airflow_provider_cfw.hooks.cfw import CfwHook

        return CfwHook(self.cfw_conn_id, region=self.region, project_id=self.project_id)

    # ---- what a subclass decides ----------------------------------------------------------------------

    def job_ended(self, job: CfwJob, submitted: Mapping[str, Any]) -> Any:
        """The task's result once the job it waited for ended (``Success`` or ``Failed``).

        :param job: the final job.
        :param submitted: what this try sent and CFW answered (ids), as given to :meth:`wait_for_job`.
        """
        raise NotImplementedError

    def firewall_ended(self, firewall: CfwFirewall, submitted: Mapping[str, Any]) -> Any:
        """The task's result once the firewall it waited for is running or ended create failed."""
        raise NotImplementedError

    def creation_ended(self, creation: Creation, submitted: Mapping[str, Any]) -> Any:
        """The task's result once a creation job ended (and, after a success, its firewall was listed,
        or not in time: ``creation.firewall`` is ``None``)."""
        raise NotImplementedError

    # ---- look-ups ---------------------------------------------------------------------------------------

    def find_firewall(
        self,
        *,
        name: str | None = None,
        firewall_id: str | None = None,
        enterprise_project_id: str | None = None,
    ) -> CfwFirewall | None:
        """The one firewall of this name (or id), deleted ones left out; several fail the task."""
        try:
            return self.hook.find_firewall(
                name=name,
                firewall_id=firewall_id,
                enterprise_project_id=enterprise_project_id,
                project_id=self.project_id,
            )
        except CfwFirewallNameConflict as err:
            raise AirflowFailException(f"{err}; pick one by id") from err

    # ---- waits ----------------------------------------------------------------------------------------

    def wait_for_job(
        self, job_id: str, action: str, submitted: dict[str, Any], *, ends_as: type, result: Any
    ) -> Any:
        """Wait for ``job_id`` in this worker, or on the triggerer when deferrable; then :meth:`job_ended`.

        :param ends_as: the provider's operator class this task is (``end_from_trigger`` auto stays
            off for a subclass that overrides what a worker runs at the end).
        :param result: what :meth:`job_ended` returns for the job's success: the trigger ends the task
            with it (``end_from_trigger``).
        """
        if self.deferrable:
            trigger = CfwJobTrigger(
                job_id=job_id,
                not_found_deadline=time.time() + JOB_NOT_FOUND_GRACE_SECONDS,
                **self._defer_kwargs(submitted),
                **self._ending(action, ends_as, result),
            )
            self._defer(trigger, "execute_complete", submitted)
        job = self._in_worker(
            lambda: self.hook.wait_for_job(
                job_id,
                poll_interval=self.poll_interval,
                timeout=self.timeout,
                project_id=self.project_id,
                poll_growth=self.poll_growth,
            ),
            action,
        )
        return self.job_ended(job, submitted)

    def wait_for_creation(
        self,
        job_id: str,
        name: str,
        enterprise_project_id: str | None,
        action: str,
        submitted: dict[str, Any],
        *,
        ends_as: type,
    ) -> Any:
        """Wait for a creation job and then for its firewall in the list (:class:`CreationWait`), in this
        worker or on the triggerer when deferrable; then :meth:`creation_ended`.

        :param ends_as: the provider's operator class this task is (see :meth:`wait_for_job`).
        """
        not_found_deadline = time.time() + JOB_NOT_FOUND_GRACE_SECONDS
        if self.deferrable:
            trigger = CfwFirewallCreationTrigger(
                job_id=job_id,
                name=name,
                enterprise_project_id=enterprise_project_id,
                order_id=submitted.get("order_id"),
                not_found_deadline=not_found_deadline,
                **self._defer_kwargs(submitted),
                **self._ending(action, ends_as, None),
            )
            self._defer(trigger, "execute_complete_creation", submitted)
        reading = self._in_worker(
            lambda: self.hook.wait(
                CreationWait(job_id, name, enterprise_project_id=enterprise_project_id),
                poll_interval=self.poll_interval,
                timeout=self.timeout,
                not_found_deadline=not_found_deadline,
                project_id=self.project_id,
                poll_growth=self.poll_growth,
            ),
            action,
        )
        return self.creation_ended(reading.value, submitted)

    def wait_for_firewall(
        self, name: str, enterprise_project_id: str | None, action: str, submitted: dict[str, Any]
    ) -> Any:
        """Wait until the firewall called ``name`` is running or create failed, in this worker or on the
        triggerer when deferrable; then :meth:`firewall_ended`."""
        if self.deferrable:
            trigger = CfwFirewallTrigger(
                name=name, enterprise_project_id=enterprise_project_id, **self._defer_kwargs(submitted)
            )
            self._defer(trigger, "execute_complete_firewall", submitted)
        reading = self._in_worker(
            lambda: self.hook.wait_for_firewall(
                FirewallGoal.RUNNING,
                name=name,
                enterprise_project_id=enterprise_project_id,
                poll_interval=self.poll_interval,
                timeout=self.timeout,
                project_id=self.project_id,
                poll_growth=self.poll_growth,
            ),
            action,
        )
        assert reading.value is not None  # a RUNNING wait ends only on a listed firewall
        return self.firewall_ended(reading.value, submitted)

    def wait_until_settled(self, firewall_id: str, action: str) -> CfwFirewall | None:
        """Without a job to follow (a firewall found mid-change, not changed by this try): wait in the
        worker until it is neither creating nor deleting; ``None`` once it is gone."""
        reading = self._in_worker(
            lambda: self.hook.wait_for_firewall(
                FirewallGoal.SETTLED,
                firewall_id=firewall_id,
                poll_interval=self.poll_interval,
                timeout=self.timeout,
                project_id=self.project_id,
            ),
            action,
        )
        return reading.value

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        submitted: dict[str, Any] | None = None,
        resume: dict[str, Any] | None = None,
    ) -> Any:
        """Resume after :class:`~airflow_provider_cfw.triggers.cfw.CfwJobTrigger` fired.

        ``resume`` is ``submitted``'s name in tasks deferred by an earlier version of the provider.
        """
        submitted = _submitted(event, submitted or resume)
        return self.job_ended(job_from_event(event, str(submitted.get("job_id"))), submitted)

    def execute_complete_creation(
        self, context: Context, event: dict[str, Any] | None = None, submitted: dict[str, Any] | None = None
    ) -> Any:
        """Resume after :class:`~airflow_provider_cfw.triggers.creation.CfwFirewallCreationTrigger` fired."""
        submitted = _submitted(event, submitted)
        job, firewall = creation_from_event(event, str(submitted.get("job_id")))
        return self.creation_ended(Creation(job, firewall), submitted)

    def execute_complete_firewall(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        submitted: dict[str, Any] | None = None,
        resume: dict[str, Any] | None = None,
    ) -> Any:
        """Resume after :class:`~airflow_provider_cfw.triggers.firewall.CfwFirewallTrigger` fired."""
        submitted = _submitted(event, submitted or resume)
        name = str(event.get("name")) if isinstance(event, dict) else "?"
        status, firewall = firewall_from_event(event, name)
        found = CfwFirewall(
            str(firewall["id"]),
            name,
            RUNNING if status == "success" else CREATE_FAILED,
            firewall.get("charge_mode"),
        )
        return self.firewall_ended(found, submitted)

    def _trigger_kwargs(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "cfw_conn_id": self.cfw_conn_id,
            "poll_interval": self.poll_interval,
            "region": self.region,
            "deferred_at": time.time(),
            "poll_growth": self.poll_growth,
            # Computed here, on the worker: the triggerer's loop must not read configuration.
            "scheduler_hold": configured_scheduler_hold_seconds(),
        }

    def _defer_kwargs(self, submitted: dict[str, Any]) -> dict[str, Any]:
        """The trigger's arguments every deferral passes, and what the resume needs back."""
        return {**self._trigger_kwargs(), "resume_kwargs": {"submitted": submitted}}

    def _ending(self, action: str, ends_as: type, result: Any) -> dict[str, Any]:
        """The trigger's arguments for ending the task (``end_from_trigger``, decided here, and the
        result to push); the decision and its reason go to the task's log."""
        end, why = end_from_trigger_decision(self, self.end_from_trigger, ends_as)
        path = "on success the triggerer ends this task" if end else "the task resumes on a worker"
        self.log.info("%s: %s (%s)", action, path, why)
        return {"end_from_trigger": end, "return_value": result, "do_xcom_push": self.do_xcom_push}

    def _defer(self, trigger: BaseTrigger, method_name: str, submitted: dict[str, Any]) -> NoReturn:
        self.defer(
            trigger=trigger,
            method_name=method_name,
            kwargs={"submitted": submitted},
            timeout=timedelta(seconds=self.timeout),
        )

    @staticmethod
    def _in_worker(wait: Callable[[], T], action: str) -> T:
        """Run a hook wait, its ends that are no plain error told as the task should fail."""
        try:
            return wait()
        except CfwJobNotFound as err:
            # Not found after the grace period: retrying the task would not make it appear.
            raise AirflowFailException(f"{action}: the job was not found ({err})") from err
        except CfwFirewallNameConflict as err:
            raise AirflowFailException(f"{action}: {err}; pick one by id") from err
        except CfwWaitTimeout as err:
            raise AirflowException(f"{action}: {err}") from err

    def log_job_success(self, job: CfwJob, action: str) -> None:
        self.log.info("%s: job %s succeeded in %s s", action, job.id, job.duration_seconds)


def _submitted(event: object, given: dict[str, Any] | None) -> dict[str, Any]:
    """What the deferring try sent, as the resume was given it; from the event when it was not (Airflow's
    ``dag.test()`` resumes a task with the event alone, which echoes it: ``resume_kwargs``)."""
    if given:
        return given
    echoed = event.get("resume_kwargs") if isinstance(event, dict) else None
    submitted = echoed.get("submitted") if isinstance(echoed, dict) else None
    return submitted if isinstance(submitted, dict) else {}
