"""Wait for a CFW job on the triggerer: one async poll per interval, one event at the end."""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
import zlib
from collections.abc import AsyncIterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

from airflow_provider_cfw.core.errors import CfwApiError, CfwConfigError, CfwError, CfwJobNotFound
from airflow_provider_cfw.core.models import CfwJob, CfwJobStatus
from airflow_provider_cfw.core.rate_limit import is_paced_throttle
from airflow_provider_cfw.core.validation import (
    show_value,
    validate_job_id,
    validate_project_id,
    validate_region,
)

if TYPE_CHECKING:
    from airflow_provider_cfw.core.client import CfwClient
    from airflow_provider_cfw.hooks.cfw import CfwHook

_HOOK_MODULE = "airflow_provider_cfw.hooks.cfw"

#: Longest pause between polls while riding out transient trouble.
MAX_BACKOFF_SECONDS = 300.0
#: Consecutive polls that may fail transiently (each after the hook's own retries) before giving up.
DEFAULT_MAX_TRANSIENT_ERRORS = 10
#: A wait whose status has not changed says it is still alive this often (one line per wait at most).
HEARTBEAT_SECONDS = 300.0
#: How old a deferral must be before the trigger fires an event that resumes the task on a worker.
#: Airflow 3.3.2's scheduler fails a task that is queued again for its resume before it has drained
#: the executor's "success" of the try that deferred (apache/airflow#67287, #72716; see
#: docs/troubleshooting.md). On a real stack on 2 shared cores (load average up to 16) the scheduler
#: drained that event 1.0-1.4 s after the worker deferred at the median, 3.5 s at most, in 500 waits
#: (tests/e2e/waits.py, ``make race``). Only a wait that ends sooner than this after deferring waits.
SCHEDULER_HOLD_SECONDS = 5.0

# Looked up at each call, so that tests can observe the pauses and move the clock without waiting.
_sleep = asyncio.sleep
_monotonic = time.monotonic
_time = time.time


class CfwJobTrigger(BaseTrigger):
    """Poll a CFW job until it succeeds or fails, then fire exactly one event.

    The event's payload is a dict whose ``status`` is ``success`` or ``failed`` (with ``job``, the
    :meth:`CfwJob.to_dict` of the final answer) or ``error`` (with ``message``, ``error_code``,
    ``request_id``, ``http_status`` and ``retryable``). Every payload carries ``job_id`` and ``message``.

    Transient errors that survive the hook's retries do not end the wait: the trigger backs off
    (doubling from ``poll_interval`` up to 5 minutes, or longer if the server asks) and tries again;
    only after ``max_transient_errors`` consecutive failed polls does it fire an ``error`` event with
    ``retryable=True``, so the task's retries apply. The task's timeout, enforced by Airflow on the
    deferral, usually ends the wait long before that.

    :param job_id: the CFW job id.
    :param project_id: the project the job belongs to; ``None`` uses the connection's.
    :param cfw_conn_id: the Airflow connection id.
    :param poll_interval: seconds between polls.
    :param not_found_deadline: wall-clock time (``time.time()``) until which "job not found" means
        "not visible yet"; after it, or when ``None``, not found ends the wait with an error event.
        Wall clock because the trigger may resume on another host after a triggerer restart.
    :param region: overrides the connection's region.
    :param max_transient_errors: consecutive transient failures tolerated before giving up.
    :param last_status: the status the deferring task read last, if it read one (the sensor's first
        poke): it has logged it, so the trigger logs only a change from it, and the heartbeat.
    :param not_found_grace_period: seconds from the trigger's first poll during which "job not found"
        means "not visible yet", when no task polled before (``not_found_deadline`` is ``None``): a
        wait started on the triggerer (``start_from_trigger``). A triggerer restart starts it again.
    :param end_from_trigger: on ``Success``, end the task here with a ``TaskSuccessEvent`` instead of
        resuming it on a worker. Every other outcome (``Failed``, errors, timeouts) still resumes it.
    :param return_value: the XCom ``return_value`` pushed when the trigger ends the task; ``None``
        pushes the job (:meth:`CfwJob.to_dict`), as the sensor's ``execute_complete`` returns it.
        Plain JSON and never a secret: it is stored with the trigger's kwargs.
    :param do_xcom_push: whether the task pushes its return value at all (the task's own setting).
    :param deferred_at: wall-clock time (``time.time()``) the task deferred; an event that resumes
        the task on a worker is not fired before it is :data:`SCHEDULER_HOLD_SECONDS` old.
        ``None`` (a trigger serialized by an older version) holds nothing.

    With ``start_from_trigger``, ``job_id``, ``project_id`` and ``cfw_conn_id`` may arrive as raw
    templates that the triggerer renders before :meth:`run`: they are checked there, before any
    request, and a bad one ends the wait with an ``error`` event naming the field.
    """

    def __init__(
        self,
        *,
        job_id: str,
        project_id: str | None = None,
        cfw_conn_id: str = "cfw_default",
        poll_interval: float = 10.0,
        not_found_deadline: float | None = None,
        region: str | None = None,
        max_transient_errors: int = DEFAULT_MAX_TRANSIENT_ERRORS,
        last_status: str | None = None,
        not_found_grace_period: float | None = None,
        end_from_trigger: bool = False,
        return_value: Any = None,
        do_xcom_push: bool = True,
        deferred_at: float | None = None,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.project_id = project_id
        self.cfw_conn_id = cfw_conn_id
        self.poll_interval = float(poll_interval)
        self.not_found_deadline = None if not_found_deadline is None else float(not_found_deadline)
        self.region = region
        self.max_transient_errors = int(max_transient_errors)
        self.last_status = last_status
        self.not_found_grace_period = (
            None if not_found_grace_period is None else float(not_found_grace_period)
        )
        self.end_from_trigger = bool(end_from_trigger)
        self.return_value = return_value
        self.do_xcom_push = bool(do_xcom_push)
        self.deferred_at = None if deferred_at is None else float(deferred_at)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain JSON only: ids and numbers, never a credential (kwargs reach logs and the UI)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "project_id": self.project_id,
                "cfw_conn_id": self.cfw_conn_id,
                "poll_interval": self.poll_interval,
                "not_found_deadline": self.not_found_deadline,
                "region": self.region,
                "max_transient_errors": self.max_transient_errors,
                "last_status": self.last_status,
                "not_found_grace_period": self.not_found_grace_period,
                "end_from_trigger": self.end_from_trigger,
                "return_value": self.return_value,
                "do_xcom_push": self.do_xcom_push,
                "deferred_at": self.deferred_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the job is terminal; only idempotent reads, so a restart can simply run it again."""
        invalid = self._invalid_argument_event()
        if invalid is not None:
            await self._hold_for_scheduler()
            yield invalid
            return
        progress = _Progress(self)
        # Waits deferred together start together (a triggerer start, restart or deploy): spread their
        # first polls, and the connection lookups before them, over one interval instead of one instant.
        await _sleep(self.first_poll_delay)
        if self.not_found_deadline is None and self.not_found_grace_period is not None:
            # No task polled before this trigger (start_from_trigger): the grace starts at its first poll.
            self.not_found_deadline = time.time() + self.not_found_grace_period
            self.log.info(
                "CFW job %s: the wait started on the triggerer, no worker polled first", self.job_id
            )
        hook = (await _hook_class())(self.cfw_conn_id, region=self.region, project_id=self.project_id)
        client: CfwClient | None = None
        warned_unknown = False
        transient_errors = 0
        # The lease keeps the loop's shared connection pool (and IAM token) alive between polls.
        async with hook.async_session():
            while True:
                progress.polls += 1
                try:
                    # Looked up in the loop, so that an undefined connection ends in an error event too.
                    client = client or await hook.aclient()
                    job = await client.aget_job(self.job_id, self.project_id)
                except CfwJobNotFound as err:
                    if self.not_found_deadline is not None and time.time() < self.not_found_deadline:
                        self.log.info("CFW job %s not visible yet; waiting", self.job_id)
                        await _sleep(self.poll_interval)
                        continue
                    await self._hold_for_scheduler()
                    yield self._error_event(err, f"CFW job {self.job_id} was not found")
                    return
                except CfwError as err:
                    if is_paced_throttle(err):
                        continue  # the account's limit, not a failure: the next poll waits its turn
                    if not err.retryable or transient_errors >= self.max_transient_errors:
                        await self._hold_for_scheduler()
                        yield self._error_event(err, f"Could not read CFW job {self.job_id}")
                        return
                    transient_errors += 1
                    delay = self._backoff(transient_errors, err)
                    self.log.warning(
                        "Transient error reading CFW job %s (%s/%s), next poll in %.1f s: %s",
                        self.job_id,
                        transient_errors,
                        self.max_transient_errors,
                        delay,
                        err,
                    )
                    await _sleep(delay)
                    continue
                except Exception as err:
                    # A bug or an Airflow error (e.g. the connection is not defined): an error event
                    # reaches the task log with a message; an exception here would only say "trigger failure".
                    self.log.exception("Unexpected error reading CFW job %s", self.job_id)
                    await self._hold_for_scheduler()
                    yield self._error_event(err, f"Could not read CFW job {self.job_id}")
                    return

                transient_errors = 0
                if job.status is CfwJobStatus.SUCCESS:
                    if not self.end_from_trigger:  # otherwise the task ends here: no worker resumes it
                        await self._hold_for_scheduler()
                    yield self._success_event(job)
                    return
                if job.status is CfwJobStatus.FAILED:
                    await self._hold_for_scheduler()
                    yield self._job_event("failed", job, f"CFW job {self.job_id} failed")
                    return
                progress.saw(job.status)
                if not job.status.is_known and not warned_unknown:
                    warned_unknown = True
                    self.log.warning(
                        "CFW job %s has unknown status %r; treating it as still running",
                        self.job_id,
                        job.status.value,
                    )
                # Not held through the pause: what lives a whole interval reaches the collector's oldest
                # generation, and enough of it sets off a full collection of the triggerer's heap.
                del job
                await _sleep(self.poll_interval)

    @property
    def first_poll_delay(self) -> float:
        """A fraction of ``poll_interval`` derived from the job id: spread, yet the same on every run."""
        return self.poll_interval * zlib.crc32(self.job_id.encode("utf-8")) / 2**32

    async def _hold_for_scheduler(self) -> None:
        """Wait until the deferral is :data:`SCHEDULER_HOLD_SECONDS` old, so the scheduler has drained
        the deferring try's executor event before this event queues the task again (Airflow's race;
        see :data:`SCHEDULER_HOLD_SECONDS`). Only a wait that ends that soon after deferring waits."""
        if self.deferred_at is None:
            return
        remaining = self.deferred_at + SCHEDULER_HOLD_SECONDS - _time()
        if remaining > 0:
            self.log.info(
                "CFW job %s ended %.1f s after the task deferred; firing its event in %.1f s, once "
                "Airflow's scheduler has taken in the deferral",
                self.job_id,
                SCHEDULER_HOLD_SECONDS - remaining,
                remaining,
            )
            await _sleep(remaining)

    def _backoff(self, attempt: int, err: CfwError) -> float:
        cap = max(self.poll_interval, MAX_BACKOFF_SECONDS)
        delay = min(self.poll_interval * 2 ** (attempt - 1), cap)
        retry_after = getattr(err, "retry_after", None)
        return max(delay, retry_after or 0.0)

    def _invalid_argument_event(self) -> TriggerEvent | None:
        """An ``error`` event naming the first bad argument, or ``None``: checked before any request.

        The arguments may have been templates rendered on the triggerer (``start_from_trigger``), so
        the checks a task makes at its start are made again here.
        """
        try:
            validate_job_id(self.job_id)
            if self.project_id is not None:
                validate_project_id(self.project_id)
            if self.region is not None:
                validate_region(self.region)
            if not isinstance(self.cfw_conn_id, str) or not self.cfw_conn_id.strip():
                raise CfwConfigError(
                    "cfw_conn_id", "an Airflow connection id", got=show_value(self.cfw_conn_id)
                )
            if not self.poll_interval >= 0:  # NaN too; 0 is allowed, as for the sensor's poke_interval
                raise CfwConfigError(
                    "poll_interval", "a number of seconds, 0 or more", got=show_value(self.poll_interval)
                )
        except CfwConfigError as err:
            event = self._error_event(err, "Invalid CfwJobTrigger argument")
            event.payload["invalid_field"] = err.field
            return event
        return None

    def _success_event(self, job: CfwJob) -> TriggerEvent:
        """The event for a job that succeeded: the task's end (``end_from_trigger``) or its resume."""
        if not self.end_from_trigger:
            return self._job_event("success", job, f"CFW job {self.job_id} succeeded")
        # Said here because no worker will say it: this log is the task's only record of the end.
        self.log.info(
            "CFW job %s succeeded in %s s; ending the task on the triggerer (end_from_trigger)",
            self.job_id,
            job.duration_seconds,
        )
        value = job.to_dict() if self.return_value is None else self.return_value
        return TaskSuccessEvent(xcoms={"return_value": value} if self.do_xcom_push else None)

    def _job_event(self, status: str, job: CfwJob, message: str) -> TriggerEvent:
        return TriggerEvent(
            {"status": status, "job_id": self.job_id, "message": message, "job": job.to_dict()}
        )

    def _error_event(self, err: Exception, summary: str) -> TriggerEvent:
        api = err if isinstance(err, CfwApiError) else None
        return TriggerEvent(
            {
                "status": "error",
                "job_id": self.job_id,
                "message": f"{summary}: {type(err).__name__}: {err}",
                "error_code": api.error_code if api else None,
                "request_id": api.request_id if api else None,
                "http_status": api.http_status if api else None,
                "retryable": isinstance(err, CfwError) and err.retryable,
            }
        )


class _Progress:
    """What a wait logs between its start and its event: the first status it reads (unless the
    deferring task read and logged it already), each change, and a heartbeat when the status has not
    changed for :data:`HEARTBEAT_SECONDS`, so a long wait shows signs of life without a line per poll.
    The final status has no line of its own: the triggerer logs the event, whose message says it."""

    def __init__(self, trigger: CfwJobTrigger) -> None:
        self.trigger = trigger
        self.started = self.last_line = _monotonic()
        self.polls = 0
        self.status: str | None = trigger.last_status

    def saw(self, status: CfwJobStatus) -> None:
        # Called on every poll, and most polls log nothing: the logger is only looked up to log.
        now = _monotonic()
        if status == self.status and now - self.last_line < HEARTBEAT_SECONDS:
            return
        log, job_id = self.trigger.log, self.trigger.job_id
        if self.status is None:
            log.info("CFW job %s is %s", job_id, status.value)
        elif status != self.status:
            log.info("CFW job %s is now %s (was %s)", job_id, status.value, self.status)
        else:
            minutes = (now - self.started) / 60
            log.info(
                "CFW job %s still %s after %.0f min, %d polls", job_id, status.value, minutes, self.polls
            )
        self.status = status.value
        self.last_line = now


#: One import of the hook module per process, shared by every trigger that starts before it ends.
_hook_import: Future[type[CfwHook]] | None = None
_hook_import_guard = threading.Lock()


def _import_hook_class(into: Future[type[CfwHook]]) -> None:
    try:
        # import_module returns only a fully initialised module (it waits on the import lock), unlike
        # a look into sys.modules, which may hold a half-initialised one while another thread imports it.
        into.set_result(importlib.import_module(_HOOK_MODULE).CfwHook)
    except BaseException as err:
        into.set_exception(err)


async def _hook_class() -> type[CfwHook]:
    """The hook class, imported once per process off the event loop.

    The triggerer imports a trigger's module on its event loop, and the hook's async transport pulls
    in aiohttp and its dependencies, so this module stays light. A (re)started triggerer
    starts hundreds of triggers in the same instant: they all await the same import.
    """
    global _hook_import
    with _hook_import_guard:  # held for microseconds; only a failed import is tried again
        if _hook_import is None or (_hook_import.done() and _hook_import.exception() is not None):
            _hook_import = Future()
            threading.Thread(
                target=_import_hook_class, args=(_hook_import,), name="cfw-hook-import", daemon=True
            ).start()
        pending = _hook_import
    if pending.done():
        return pending.result()
    return await asyncio.wrap_future(pending)
