"""Wait for a CFW asynchronous job: poke on a worker, or defer to :class:`CfwJobTrigger`."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)
from airflow.triggers.base import StartTriggerArgs

from airflow_provider_cfw.core.errors import CfwError, CfwJobNotFound
from airflow_provider_cfw.core.models import CfwJob
from airflow_provider_cfw.core.rate_limit import is_paced_throttle
from airflow_provider_cfw.core.waits import Outcome, job_outcome, validate_poll_growth
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from airflow_provider_cfw.triggers.events import job_from_event
from airflow_provider_cfw.version_compat import (
    configured_scheduler_hold_seconds,
    end_from_trigger_decision,
    start_from_trigger_fallback,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_cfw.hooks.cfw import CfwHook


class CfwJobSensor(BaseSensorOperator):
    """Wait until a CFW job succeeds; its XCom return value is the job (:meth:`CfwJob.to_dict`).

    A failed job raises ``AirflowFailException`` (no retries; ``soft_fail=True`` skips instead). A job
    that is not found is given ``not_found_grace_period`` from the sensor's first poke to appear, then
    fails the same way. Transient API trouble that the hook could not ride out raises an ordinary
    ``AirflowException`` so the task's retries apply. An unknown status is logged once and waited on.

    :param job_id: the CFW job id (templated).
    :param cfw_conn_id: the Airflow connection id (templated).
    :param project_id: the job's project; ``None`` uses the connection's (templated).
    :param region: overrides the connection's region.
    :param deferrable: wait on the triggerer instead of a worker slot.
    :param poke_interval: seconds between polls, in every mode (default 10 s, as Huawei's tooling).
    :param poll_interval: alias of ``poke_interval`` under the trigger's name; give one or the other.
    :param timeout: seconds before giving up with ``AirflowSensorTimeout`` (default 20 minutes).
    :param not_found_grace_period: seconds a job may stay invisible after the first poke (default 60).
    :param poll_growth: in deferrable mode, once the wait has run long, pause this share of the time
        waited (up to a minute) instead of ``poke_interval``: fewer polls for long jobs, their end seen
        later (docs/capacity.md). ``0`` (the default) polls every ``poke_interval``.
    :param end_from_trigger: in deferrable mode, let the triggerer end the task when the job succeeds,
        with the XCom a worker would push, so no worker resumes it (a failed job, an error or a
        timeout still resumes it, as before). ``None`` (the default) turns it on only when nothing
        else observable changes: no listeners, no ``on_success_callback`` or ``on_execute_callback``,
        no outlets, no downstream task mapped over the job, no override, and an Airflow whose
        triggerer can store the XCom as a worker does (2.x, 3.0.6 and later). Airflow refuses
        ``True`` in a DAG when listeners (OpenLineage) are installed. See docs/sensor.md.
    :param start_from_trigger: on Airflow 3.3 or later, start the wait on the triggerer: the
        scheduler creates the trigger and no worker pokes first. Needs ``deferrable=True``. An
        ``XComArg`` argument, a mapped task or an older Airflow start on a worker as before, and the
        task's log says why. The job id may be a template the triggerer renders (``params``,
        ``dag_run.conf``).
    """

    template_fields = ("job_id", "project_id", "cfw_conn_id")
    ui_color = "#fde2e2"
    #: Replaced per instance when ``start_from_trigger`` applies (Airflow reads both attributes).
    start_from_trigger = False
    start_trigger_args = StartTriggerArgs(
        trigger_cls=f"{CfwJobTrigger.__module__}.{CfwJobTrigger.__qualname__}",
        trigger_kwargs={"job_id": "", "project_id": None, "cfw_conn_id": ""},
        next_method="execute_complete",
        next_kwargs=None,
        timeout=None,
    )

    def __init__(
        self,
        *,
        job_id: str,
        cfw_conn_id: str = "cfw_default",
        project_id: str | None = None,
        region: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: timedelta | float | None = None,
        poll_interval: timedelta | float | None = None,
        timeout: timedelta | float = 20 * 60,
        not_found_grace_period: timedelta | float = 60,
        poll_growth: float = 0.0,
        end_from_trigger: bool | None = None,
        start_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        if poke_interval is not None and poll_interval is not None:
            raise ValueError("give poke_interval or poll_interval, not both: they are the same setting")
        interval = poll_interval if poll_interval is not None else poke_interval
        super().__init__(poke_interval=10 if interval is None else interval, timeout=timeout, **kwargs)
        self.job_id = job_id
        self.cfw_conn_id = cfw_conn_id
        self.project_id = project_id
        self.region = region
        self.deferrable = deferrable
        if isinstance(not_found_grace_period, timedelta):
            not_found_grace_period = not_found_grace_period.total_seconds()
        self.not_found_grace_period = float(not_found_grace_period)
        self.poll_growth = validate_poll_growth(poll_growth)
        self._started_at: float | None = None
        self._warned_unknown = False
        #: The status the last poke read (None: the job was not visible yet).
        self._last_status: str | None = None
        self.end_from_trigger = end_from_trigger
        #: Why a requested start on the triggerer did not happen (said in the task's log), or None.
        self._start_fallback: str | None = None
        if start_from_trigger:
            self._start_on_the_triggerer()

    def _start_on_the_triggerer(self) -> None:
        if not self.deferrable:
            raise ValueError("start_from_trigger=True needs deferrable=True: the wait is the trigger's")
        self._start_fallback = start_from_trigger_fallback(self)
        if self._start_fallback is not None:
            return
        # Decided here, when the DAG is parsed: no worker runs before the trigger does.
        end, _why = end_from_trigger_decision(self, self.end_from_trigger, CfwJobSensor)
        self.start_from_trigger = True
        # The kwargs live in the serialized DAG: ids and numbers, never a secret. job_id, project_id
        # and cfw_conn_id may be templates: the triggerer renders them (they are template_fields).
        self.start_trigger_args = dataclasses.replace(
            self.start_trigger_args,
            trigger_kwargs=self._trigger(not_found_deadline=None, end_from_trigger=end).serialize()[1],
            timeout=timedelta(seconds=self.timeout),
        )

    @cached_property
    def hook(self) -> CfwHook:
        # Imported when a task runs, not when a DAG file is parsed: the transports (aiohttp, requests)
        # would add about 12 % to every parse of a DAG that only builds this sensor.
        from airflow_provider_cfw.hooks.cfw import CfwHook

        return CfwHook(self.cfw_conn_id, region=self.region, project_id=self.project_id)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Read the job once; in deferrable mode a job that is not done yet hands the wait to the triggerer.

        Deferring from the first poke, rather than from an ``execute`` override, keeps
        ``BaseSensorOperator.execute`` the only ``execute``: Airflow 2 refuses (or warns about) an
        ``execute`` that calls another, and its soft_fail handling then covers both modes.
        """
        done = self._poke_once(context)
        if not done and self.deferrable:
            self._defer(context)
        return done

    def _poke_once(self, context: Context) -> bool | PokeReturnValue:
        started_at = self._first_poke_time(context)
        try:
            job = self.hook.get_job(self.job_id, self.project_id)
        except CfwJobNotFound as err:
            self._last_status = None
            waited = time.time() - started_at
            if waited < self.not_found_grace_period:
                self.log.info("CFW job %s not visible yet (%.0f s since the first poke)", self.job_id, waited)
                return False
            raise AirflowFailException(
                f"CFW job {self.job_id} was not found after {waited:.0f} s "
                f"(error code {err.error_code}, request id {err.request_id})"
            ) from err
        except CfwError as err:
            if is_paced_throttle(err):
                # The account's API limit, sent again in turn and still throttled: not a failure of the wait.
                self.log.info("CFW job %s: throttled by the account's API limit; poking again", self.job_id)
                return False
            # An ordinary failure, so the task's retries apply (the hook already retried transient ones).
            raise AirflowException(f"Could not read CFW job {self.job_id}: {err}") from err
        self._last_status = job.status.value
        return self._check(job)

    def _check(self, job: CfwJob) -> bool | PokeReturnValue:
        reading = job_outcome(job)
        if reading.outcome is Outcome.SUCCESS:
            self.log.info("CFW job %s succeeded in %s s", job.id, job.duration_seconds)
            return PokeReturnValue(is_done=True, xcom_value=job.to_dict())
        if reading.outcome is Outcome.FAILED:
            raise AirflowFailException(
                f"CFW job {job.id} failed (began {job.begin_time}, ended {job.end_time}, "
                f"request id {job.request_id})"
            )
        if not reading.known and not self._warned_unknown:
            self._warned_unknown = True
            self.log.warning("CFW job %s has unknown status %r; still waiting", job.id, job.status.value)
        return False

    def _first_poke_time(self, context: Context) -> float:
        # In reschedule mode this object is rebuilt for every poke, so ask Airflow when the first
        # poke ran, as BaseSensorOperator does for the timeout. Wall clock: pokes may run on other hosts.
        if self._started_at is None:
            first = None
            if self.reschedule and not self.deferrable:
                ti = context["ti"]
                getter = getattr(ti, "get_first_reschedule_date", None)  # Airflow 3
                first = getter(context) if getter else self._first_reschedule_date_airflow2(ti)
            self._started_at = first.timestamp() if first else time.time()
        return self._started_at

    def _first_reschedule_date_airflow2(self, ti: Any) -> datetime | None:
        # What Airflow 2's BaseSensorOperator.execute reads for its own timeout. If it cannot be read,
        # the grace period restarts at each poke and the sensor's timeout ends the wait instead.
        try:
            from airflow.models.taskreschedule import TaskReschedule
            from airflow.utils.session import create_session

            first_try = (ti.max_tries or 0) - (self.retries or 0) + 1
            with create_session() as session:
                stmt = TaskReschedule.stmt_for_task_instance(  # type: ignore[call-arg]  # Airflow 2's
                    ti, try_number=first_try, descending=False
                )
                first: datetime | None = session.scalar(
                    stmt.with_only_columns(TaskReschedule.start_date).limit(1)
                )
                return first
        except Exception:
            self.log.warning("Could not read the first reschedule date", exc_info=True)
            return None

    def _defer(self, context: Context) -> None:
        started_at = self._first_poke_time(context)
        end, why = end_from_trigger_decision(self, self.end_from_trigger, CfwJobSensor)
        self.log.info(
            "CFW job %s: %s (%s)",
            self.job_id,
            "on success the triggerer ends this task" if end else "the task resumes on a worker",
            why,
        )
        if self.start_from_trigger or self._start_fallback:
            self.log.info(
                "CFW job %s: start_from_trigger is set, but this wait started on a worker: %s",
                self.job_id,
                self._start_fallback or self._why_started_on_a_worker(context),
            )
        if self._last_status is not None:
            # Said here, on the worker, so the trigger need not say it again on the shared triggerer.
            self.log.info(
                "CFW job %s is %s; deferring to the triggerer, which polls it every %g s",
                self.job_id,
                self._last_status,
                self.poke_interval,
            )
        self.defer(
            trigger=self._trigger(
                not_found_deadline=started_at + self.not_found_grace_period,
                end_from_trigger=end,
                last_status=self._last_status,
                deferred_at=time.time(),
                # Computed here, on the worker: the triggerer's loop must not read configuration.
                scheduler_hold=configured_scheduler_hold_seconds(),
            ),
            method_name="execute_complete",
            # Airflow turns a deferral timeout into AirflowSensorTimeout: soft_fail applies, no retry.
            timeout=timedelta(seconds=self.timeout),
        )

    def _trigger(
        self,
        *,
        not_found_deadline: float | None,
        end_from_trigger: bool,
        last_status: str | None = None,
        deferred_at: float | None = None,
        scheduler_hold: float | None = None,
    ) -> CfwJobTrigger:
        return CfwJobTrigger(
            job_id=self.job_id,
            project_id=self.project_id,
            cfw_conn_id=self.cfw_conn_id,
            poll_interval=self.poke_interval,
            not_found_deadline=not_found_deadline,
            # Used only when no task poked first (start_from_trigger); a deadline wins otherwise.
            not_found_grace_period=None if not_found_deadline is not None else self.not_found_grace_period,
            region=self.region,
            last_status=last_status,
            end_from_trigger=end_from_trigger,
            do_xcom_push=self.do_xcom_push,
            poll_growth=self.poll_growth,
            deferred_at=deferred_at,
            scheduler_hold=scheduler_hold,
        )

    @staticmethod
    def _why_started_on_a_worker(context: Context) -> str:
        map_index = getattr(context["ti"], "map_index", -1)
        if map_index is not None and map_index >= 0:
            return (
                "a mapped task (Airflow does not start mapped tasks on the triggerer, apache/airflow#52141)"
            )
        return "the scheduler did not start it on the triggerer"

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        # Airflow 2 reports a deferral timeout as TaskDeferralError("Trigger timeout"), which would burn
        # the task's retries; Airflow 3 already raises AirflowSensorTimeout. Make both behave like 3.
        if next_method == "__fail__" and (next_kwargs or {}).get("error") == "Trigger timeout":
            timeout = AirflowSensorTimeout(f"CFW job {self.job_id}: sensor timed out after {self.timeout} s")
            if self.soft_fail:
                raise AirflowSkipException(f"Skipping due to soft_fail: {timeout}") from timeout
            raise timeout
        return super().resume_execution(next_method, next_kwargs, context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after :class:`CfwJobTrigger` fired; the event crossed the database, so check it."""
        job = job_from_event(event, self.job_id)
        self._check(job)  # raises AirflowFailException for a failed job, as poke mode does
        return job.to_dict()
