"""What the firewall operators share: the hook, the look-ups, and waiting for a job or a firewall in the
worker or on the triggerer."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator

from airflow_provider_cfw.core.errors import JOB_NOT_FOUND_CODE, CfwApiError, CfwConfigError
from airflow_provider_cfw.core.firewalls import CREATING, DELETING, CfwFirewall, named, with_id
from airflow_provider_cfw.core.models import CfwJob, CfwJobStatus
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger

if TYPE_CHECKING:
    from airflow_provider_cfw.hooks.cfw import CfwHook

#: CFW's "object does not exist" (the same code for a job and for a firewall).
OBJECT_NOT_FOUND_CODE = JOB_NOT_FOUND_CODE
#: How long a fresh job may be invisible to List Job Status before "not found" is believed.
JOB_NOT_FOUND_GRACE_SECONDS = 60.0
_FIREWALL_IN_PROGRESS = frozenset({CREATING, DELETING})


def choice(value: str, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise CfwConfigError(field, " or ".join(map(repr, allowed)), got=repr(value))
    return value


def seconds(value: timedelta | float, field: str) -> float:
    amount = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
        raise CfwConfigError(field, "a non-negative number of seconds", got=repr(value))
    return float(amount)


def prepaid_reason(firewall: CfwFirewall) -> str:
    return (
        f"firewall {firewall.name!r} ({firewall.id}) is prePaid (yearly/monthly), which DeleteFirewall "
        "does not delete; unsubscribe it in the Huawei Cloud console"
    )


def prepaid_refusal(firewall: CfwFirewall, what: str) -> AirflowFailException:
    """DeleteFirewall "takes effect only for pay-per-use firewalls": say so before sending it."""
    return AirflowFailException(f"{what}: {prepaid_reason(firewall)}")


class CfwFirewallOperatorBase(BaseOperator):
    """The hook, the look-ups, and waiting for a job in the worker or on the triggerer.

    :param wait_for_completion: wait for the job to finish.
    :param deferrable: wait on the triggerer.
    :param poll_interval: seconds between polls.
    :param timeout: seconds to wait before the task fails (and may be retried).
    :param cfw_conn_id: the Airflow connection id.
    :param project_id: overrides the connection's project.
    :param region: overrides the connection's region.
    """

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
        self.poll_interval = seconds(poll_interval, "poll_interval")
        self.timeout = seconds(timeout, "timeout")
        self.cfw_conn_id = cfw_conn_id
        self.project_id = project_id
        self.region = region

    @cached_property
    def hook(self) -> CfwHook:
        # Imported when a task runs, not when a DAG file is parsed (the transports are heavy), as the sensor.
        from airflow_provider_cfw.hooks.cfw import CfwHook

        return CfwHook(self.cfw_conn_id, region=self.region, project_id=self.project_id)

    # ---- look-ups ---------------------------------------------------------------------------------

    def _find_by_id(self, firewall_id: str) -> CfwFirewall | None:
        """The firewall with this id, unless it is gone or listed as deleted (status 4)."""
        return with_id(
            self.hook.list_firewalls(key_word=firewall_id, project_id=self.project_id), firewall_id
        )

    def _find_by_name(self, name: str, enterprise_project_id: str | None) -> CfwFirewall | None:
        """The one firewall called exactly ``name`` (deleted ones left out); several fail the task."""
        found = self.hook.list_firewalls(
            key_word=name, enterprise_project_id=enterprise_project_id, project_id=self.project_id
        )
        matches = named(found, name)
        if len(matches) > 1:
            ids = ", ".join(f"{f.id} ({f.status_text})" for f in matches)
            raise AirflowFailException(f"Several firewalls are named {name!r}: {ids}; pick one by id")
        return matches[0] if matches else None

    # ---- jobs ---------------------------------------------------------------------------------------

    def _wait(self, job_id: str, what: str, resume: dict[str, Any]) -> CfwJob:
        """Wait for ``job_id`` in this worker; in deferrable mode, hand the wait to the triggerer."""
        if self.deferrable:
            self._defer_job(job_id, resume)
        return self._check_job(self._poll_job(job_id, what), what)

    def _defer_job(self, job_id: str, resume: dict[str, Any]) -> None:
        """Hand the wait for ``job_id`` to :class:`CfwJobTrigger`; resumes in ``execute_complete``."""
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

    def _poll_job(self, job_id: str, what: str) -> CfwJob:
        """Poll ``job_id`` in this worker until it succeeds or fails; the final job, unchecked."""
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
                    return job
                if not job.status.is_known and not warned_unknown:
                    warned_unknown = True
                    self.log.warning("Job %s has unknown status %r; still waiting", job_id, job.status.value)
            if time.monotonic() - started > self.timeout:
                raise AirflowException(f"{what}: job {job_id} did not finish within {self.timeout:.0f} s")
            time.sleep(self.poll_interval)

    def _check_job(self, job: CfwJob, what: str) -> CfwJob:
        if job.status is CfwJobStatus.FAILED:
            self._job_failed(job, what)
        self.log.info("%s: job %s succeeded in %s s", what, job.id, job.duration_seconds)
        return job

    def _job_failed(self, job: CfwJob, what: str) -> NoReturn:
        # Retrying the task would not make the job succeed: fail without using up retries.
        raise AirflowFailException(self._job_failure(job, what))

    @staticmethod
    def _job_failure(job: CfwJob, what: str) -> str:
        return (
            f"{what}: job {job.id} failed (began {job.begin_time}, ended {job.end_time}, "
            f"request id {job.request_id})"
        )

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
