"""Wait for a CFW job on the triggerer: one async poll per interval, one event at the end."""

from __future__ import annotations

import time
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_cfw.core.errors import CfwJobNotFound
from airflow_provider_cfw.core.models import CfwJob
from airflow_provider_cfw.core.validation import validate_job_id
from airflow_provider_cfw.core.waits import JobWait, Outcome, Reading, WaitKind, WaitPace
from airflow_provider_cfw.triggers.base import SCHEDULER_HOLD_SECONDS, CfwPollingTrigger, JobEventPayload

__all__ = ["SCHEDULER_HOLD_SECONDS", "CfwJobTrigger"]


class CfwJobTrigger(CfwPollingTrigger):
    """Poll a CFW job until it succeeds or fails, then fire exactly one event.

    The event's payload is a dict whose ``status`` is ``success`` or ``failed`` (with ``job``, the
    :meth:`CfwJob.to_dict` of the final answer) or ``error`` (with ``message``, ``error_code``,
    ``request_id``, ``http_status`` and ``retryable``). Every payload carries ``job_id`` and ``message``.
    How it polls, backs off and holds its event is :class:`~airflow_provider_cfw.triggers.base.CfwPollingTrigger`'s.

    :param job_id: the CFW job id.
    :param not_found_deadline: wall-clock time (``time.time()``) until which "job not found" means
        "not visible yet"; after it, or when ``None``, not found ends the wait with an error event.
        Wall clock because the trigger may resume on another host after a triggerer restart.
    :param last_status: the status the deferring task read last, if it read one (the sensor's first
        poke): it has logged it, so the trigger logs only a change from it, and the heartbeat.
    :param not_found_grace_period: seconds from the trigger's first poll during which "job not found"
        means "not visible yet", when no task polled before (``not_found_deadline`` is ``None``): a
        wait started on the triggerer (``start_from_trigger``). A triggerer restart starts it again.
    :param kwargs: the arguments every CFW trigger takes (:class:`CfwPollingTrigger`): ``cfw_conn_id``,
        ``project_id``, ``region``, ``poll_interval``, ``max_transient_errors``, ``deferred_at``,
        ``end_from_trigger``, ``return_value`` (``None`` pushes the job), ``do_xcom_push``,
        ``poll_growth`` and ``poll_cap``.
    """

    def __init__(
        self,
        *,
        job_id: str,
        not_found_deadline: float | None = None,
        last_status: str | None = None,
        not_found_grace_period: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.not_found_deadline = None if not_found_deadline is None else float(not_found_deadline)
        self.last_status = last_status
        self.not_found_grace_period = (
            None if not_found_grace_period is None else float(not_found_grace_period)
        )

    def own_kwargs(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "not_found_deadline": self.not_found_deadline,
            "last_status": self.last_status,
            "not_found_grace_period": self.not_found_grace_period,
        }

    def check_own_arguments(self) -> None:
        validate_job_id(self.job_id)

    @property
    def subject(self) -> dict[str, str]:
        return {"job_id": self.job_id}

    @property
    def what(self) -> str:
        return f"CFW job {self.job_id}"

    def wait_kind(self) -> JobWait:
        return JobWait(self.job_id)

    def pace(self, kind: WaitKind[Any], **known: Any) -> WaitPace[Any]:
        if self.not_found_deadline is None and self.not_found_grace_period is not None:
            # No task polled before this trigger (start_from_trigger): the grace starts at its first poll.
            self.not_found_deadline = time.time() + self.not_found_grace_period
            self.log.info(
                "CFW job %s: the wait started on the triggerer, no worker polled first", self.job_id
            )
        return super().pace(
            kind, not_found_deadline=self.not_found_deadline, last_status=self.last_status, **known
        )

    def end_event(self, reading: Reading[CfwJob]) -> TriggerEvent:
        job = reading.value
        succeeded = reading.outcome is Outcome.SUCCESS
        payload: JobEventPayload = {
            "status": "success" if succeeded else "failed",
            "job_id": self.job_id,
            "message": f"CFW job {self.job_id} {'succeeded' if succeeded else 'failed'}",
            "job": job.to_dict(),
        }
        return TriggerEvent(payload)

    def error_summary(self, err: Exception) -> str:
        if isinstance(err, CfwJobNotFound):
            return f"CFW job {self.job_id} was not found"
        return f"Could not read CFW job {self.job_id}"
