"""The one async poll loop: a CFW wait on the triggerer, one event at the end.

:class:`CfwPollingTrigger` holds what every CFW trigger shares: its keyword arguments and their
checks, :meth:`~CfwPollingTrigger.serialize`, the spread of first polls, the loop over the wait
definition in :mod:`~airflow_provider_cfw.core.waits` (the same one the hook's sync loop reads), the
error event, ending the task on the triggerer with the XCom a worker would push
(:mod:`~airflow_provider_cfw.triggers.task_success`), and the scheduler-race hold before an event that
resumes a worker. A subclass says what it waits for and what its success and failure events carry.

The triggerer imports this module on its event loop: it stays light (the hook, and with it aiohttp,
is imported once per process off the loop).
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
import zlib
from abc import abstractmethod
from collections.abc import AsyncIterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

from airflow_provider_cfw.core.errors import CfwApiError, CfwConfigError, CfwError
from airflow_provider_cfw.core.poll_schedule import DEFAULT_POLL_CAP_SECONDS, PollSchedule
from airflow_provider_cfw.core.validation import show_value, validate_project_id, validate_region
from airflow_provider_cfw.core.waits import DEFAULT_MAX_TRANSIENT_ERRORS, Outcome, Reading, WaitKind, WaitPace
from airflow_provider_cfw.triggers.task_success import task_success_event

if TYPE_CHECKING:
    from airflow_provider_cfw.core.client import CfwClient
    from airflow_provider_cfw.hooks.cfw import CfwHook

_HOOK_MODULE = "airflow_provider_cfw.hooks.cfw"

#: How old a deferral must be before the trigger fires an event that resumes the task on a worker, for
#: a trigger serialized without ``scheduler_hold`` (by an earlier version of the provider); the
#: deferring task now passes the hold its deployment needs
#: (:func:`~airflow_provider_cfw.version_compat.configured_scheduler_hold_seconds`). Airflow 3.3.2's
#: scheduler fails a task that is queued again for its resume before it has drained the executor's
#: "success" of the try that deferred (apache/airflow#67287, #72716; see docs/troubleshooting.md). On a
#: real stack on 2 shared cores (load average up to 16) the scheduler drained that event 1.0-1.4 s
#: after the worker deferred at the median, 3.5 s at most, in 500 waits (tests/e2e/waits.py,
#: ``make race``). Only a wait that ends sooner than this after deferring waits.
SCHEDULER_HOLD_SECONDS = 5.0

# Looked up at each call, so that tests can observe the pauses and move the clock without waiting.
_sleep = asyncio.sleep
_time = time.time


class JobEventPayload(TypedDict):
    """A job's end: ``success`` or ``failed``, with the job (:meth:`CfwJob.to_dict`)."""

    status: Literal["success", "failed"]
    job_id: str
    message: str
    job: dict[str, Any]


class FirewallEventPayload(TypedDict):
    """A firewall's end: ``success`` (running) or ``failed`` (create failed), with the firewall."""

    status: Literal["success", "failed"]
    name: str
    message: str
    firewall: dict[str, Any]


class CreationEventPayload(JobEventPayload):
    """A firewall creation's end: the job's, with the firewall listed after its success (or ``None``)."""

    firewall: dict[str, Any] | None


class ErrorEventPayload(TypedDict):
    """A wait that could not be seen through: the error, as far as it is safe to say."""

    status: Literal["error"]
    message: str
    error_code: str | None
    request_id: str | None
    http_status: int | None
    retryable: bool
    #: The subject: ``job_id`` for a job's wait, ``name`` for a firewall's.
    job_id: NotRequired[str]
    name: NotRequired[str]
    #: The argument that cannot be right (a rendered template the trigger refused), if that was it.
    invalid_field: NotRequired[str]


class CfwPollingTrigger(BaseTrigger):
    """Poll a CFW wait until it ends, then fire exactly one event.

    Transient errors that survive the hook's retries do not end the wait: it backs off (doubling
    from ``poll_interval`` up to 5 minutes, or longer if the server asks) and tries again; only after
    ``max_transient_errors`` consecutive failed polls does it fire an ``error`` event with
    ``retryable=True``, so the task's retries apply. The task's timeout, enforced by Airflow on the
    deferral, usually ends the wait long before that. Only reads: a restarted triggerer can run it
    again from its kwargs.

    :param cfw_conn_id: the Airflow connection id.
    :param project_id: the project; ``None`` uses the connection's.
    :param region: overrides the connection's region.
    :param poll_interval: seconds between polls.
    :param max_transient_errors: consecutive transient failures tolerated before giving up.
    :param deferred_at: wall-clock time (``time.time()``) the task deferred; an event that resumes
        the task on a worker is not fired before it is ``scheduler_hold`` seconds old. ``None``
        (no deferring try, or a trigger serialized by an older version) holds nothing, nor does a
        trigger run without a task instance (``dag.test()``).
    :param scheduler_hold: that hold, in seconds, computed by the deferring task from its
        deployment's settings (:func:`~airflow_provider_cfw.version_compat.configured_scheduler_hold_seconds`);
        ``None`` (a trigger serialized by an older version) holds :data:`SCHEDULER_HOLD_SECONDS`.
    :param end_from_trigger: on success, end the task here, with the XCom ``return_value`` a worker
        would push (:func:`~airflow_provider_cfw.triggers.task_success.task_success_event`), instead of
        resuming it on a worker. Where only a worker can store that XCom (no task instance under
        ``dag.test()``, Airflow 3.0.0 to 3.0.4, a failed push) the task resumes, as does every other
        outcome (failure, errors, timeouts).
    :param return_value: the XCom ``return_value`` pushed when the trigger ends the task; ``None``
        pushes what the success event would carry (the job, the firewall). Plain JSON and never a
        secret: it is stored with the trigger's kwargs.
    :param do_xcom_push: whether the task pushes its return value at all (the task's own setting).
    :param poll_growth: once the wait has run long, pause this share of the time waited between polls
        instead of ``poll_interval`` (never shorter), jittered: fewer polls for long jobs, their end seen
        later (docs/capacity.md). ``0`` (the default) polls every ``poll_interval``.
    :param poll_cap: the longest pause ``poll_growth`` may reach, in seconds.
    :param resume_kwargs: what the deferring task's resume needs besides the event (the ids an
        operator sent), echoed in every event that resumes it, under ``resume_kwargs``: Airflow's
        ``dag.test()`` resumes a task with the event alone, without the deferral's own kwargs. Plain
        JSON, never a secret.

    Arguments may arrive as templates the triggerer rendered (``start_from_trigger``): they are
    checked in :meth:`run`, before any request, and a bad one ends the wait with an ``error`` event
    naming the field.
    """

    def __init__(
        self,
        *,
        cfw_conn_id: str = "cfw_default",
        project_id: str | None = None,
        region: str | None = None,
        poll_interval: float = 10.0,
        max_transient_errors: int = DEFAULT_MAX_TRANSIENT_ERRORS,
        deferred_at: float | None = None,
        scheduler_hold: float | None = None,
        end_from_trigger: bool = False,
        return_value: Any = None,
        do_xcom_push: bool = True,
        poll_growth: float = 0.0,
        poll_cap: float = DEFAULT_POLL_CAP_SECONDS,
        resume_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.cfw_conn_id = cfw_conn_id
        self.project_id = project_id
        self.region = region
        self.poll_interval = float(poll_interval)
        self.max_transient_errors = int(max_transient_errors)
        self.deferred_at = None if deferred_at is None else float(deferred_at)
        self.scheduler_hold = None if scheduler_hold is None else float(scheduler_hold)
        self.end_from_trigger = bool(end_from_trigger)
        self.return_value = return_value
        self.do_xcom_push = bool(do_xcom_push)
        self.poll_growth = float(poll_growth)
        self.poll_cap = float(poll_cap)
        self.resume_kwargs = resume_kwargs

    # ---- what a subclass says ------------------------------------------------------------------------

    @abstractmethod
    def own_kwargs(self) -> dict[str, Any]:
        """The subclass's own keyword arguments, plain JSON (never a credential)."""

    @abstractmethod
    def check_own_arguments(self) -> None:
        """Raise :class:`CfwConfigError` naming the first bad argument of the subclass's own."""

    @abstractmethod
    def wait_kind(self) -> WaitKind[Any]:
        """What the wait asks and how to read it; built once, at the first poll."""

    @property
    @abstractmethod
    def subject(self) -> dict[str, str]:
        """The key every payload carries to say what was waited for (``{"job_id": ...}``)."""

    @property
    @abstractmethod
    def what(self) -> str:
        """What is waited for, as log lines say it (``CFW job ...``)."""

    @abstractmethod
    def end_event(self, reading: Reading[Any]) -> TriggerEvent:
        """The event for a reading that ends the wait (``SUCCESS`` or ``FAILED``)."""

    @abstractmethod
    def error_summary(self, err: Exception) -> str:
        """The first words of an error event's message (``Could not read CFW job ...``)."""

    def task_result(self, event: TriggerEvent) -> Any:
        """What the task's resume on a worker would return for this success event: the XCom
        ``return_value`` pushed when the trigger ends the task. ``None`` when only a worker can tell
        (the task then resumes). By default ``return_value``, or what the event carries."""
        if self.return_value is not None:
            return self.return_value
        return next(v for k, v in event.payload.items() if k in ("job", "firewall"))

    def pace(self, kind: WaitKind[Any], **known: Any) -> WaitPace[Any]:
        """The wait's pace; a subclass adds what it knows (a not-found deadline, a last status)."""
        schedule = (
            PollSchedule(self.poll_interval, self.poll_growth, self.poll_cap) if self.poll_growth else None
        )
        return WaitPace(
            kind,
            self.log,
            poll_interval=self.poll_interval,
            max_transient_errors=self.max_transient_errors,
            schedule=schedule,
            **known,
        )

    # ---- shared ----------------------------------------------------------------------------------------

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain JSON only: ids, names and numbers, never a credential (kwargs reach logs and the UI)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **self.own_kwargs(),
                "project_id": self.project_id,
                "cfw_conn_id": self.cfw_conn_id,
                "poll_interval": self.poll_interval,
                "region": self.region,
                "max_transient_errors": self.max_transient_errors,
                "end_from_trigger": self.end_from_trigger,
                "return_value": self.return_value,
                "do_xcom_push": self.do_xcom_push,
                "deferred_at": self.deferred_at,
                "poll_growth": self.poll_growth,
                "poll_cap": self.poll_cap,
                "scheduler_hold": self.scheduler_hold,
                "resume_kwargs": self.resume_kwargs,
            },
        )

    @property
    def first_poll_delay(self) -> float:
        """A fraction of ``poll_interval`` derived from the subject: spread, yet the same on every run."""
        key = next(iter(self.subject.values()), "")
        return self.poll_interval * zlib.crc32(str(key).encode("utf-8")) / 2**32

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the wait ends; only idempotent reads, so a restart can simply run it again."""
        event = self._invalid_argument_event()
        if event is None:
            # Waits deferred together start together (a triggerer start, restart or deploy): spread
            # their first polls, and the connection lookups before them, over one interval.
            await _sleep(self.first_poll_delay)
            event = await self._poll()
        if not isinstance(event, TaskSuccessEvent):  # a TaskSuccessEvent resumes no worker
            if self.resume_kwargs is not None:
                event.payload["resume_kwargs"] = self.resume_kwargs
            await self._hold_for_scheduler()
        yield event

    async def _poll(self) -> TriggerEvent:
        kind = self.wait_kind()
        pace = self.pace(kind)
        hook = (await _hook_class())(self.cfw_conn_id, region=self.region, project_id=self.project_id)
        client: CfwClient | None = None
        project: str | None = None
        # The lease keeps the loop's shared connection pool (and IAM token) alive between polls.
        async with hook.async_session():
            while True:
                try:
                    # Looked up in the loop, so that an undefined connection ends in an error event too.
                    client = client or await hook.aclient()
                    project = project or await client.aproject_id(self.project_id)
                    step = pace.after(await client.arun(kind.poll(client.settings.endpoint, project)))
                except CfwError as err:
                    step = pace.after_error(err)
                except Exception as err:
                    # A bug or an Airflow error: an error event reaches the task log with a message; an
                    # exception here would only say "trigger failure".
                    self.log.exception("Unexpected error polling %s", kind.subject)
                    return self._error_event(err)
                if step.reading is not None:
                    return await self._ended(step.reading)
                if step.error is not None:
                    return self._error_event(step.error)
                # Not held through the pause: what lives a whole interval reaches the collector's oldest
                # generation, and enough of it sets off a full collection of the triggerer's heap.
                delay = step.delay
                del step
                await _sleep(delay)

    async def _ended(self, reading: Reading[Any]) -> TriggerEvent:
        """The wait's event: on success with ``end_from_trigger``, the one that ends the task here if
        its XCom can be stored as a worker would; otherwise the one that resumes it."""
        event = self.end_event(reading)
        if reading.outcome is not Outcome.SUCCESS or not self.end_from_trigger:
            return event
        value = self.task_result(event)
        if value is None:
            return event
        ended = await task_success_event(self, value, push=self.do_xcom_push)
        if ended is None:  # task_success_event said why
            return event
        # Said here because no worker will say it: this log is the task's only record of the end.
        self.log.info("%s; ending the task on the triggerer (end_from_trigger)", event.payload["message"])
        return ended

    def _invalid_argument_event(self) -> TriggerEvent | None:
        """An ``error`` event naming the first bad argument, or ``None``: checked before any request.

        The arguments may have been templates rendered on the triggerer (``start_from_trigger``), so
        the checks a task makes at its start are made again here.
        """
        try:
            self.check_own_arguments()
            if self.project_id is not None:
                validate_project_id(self.project_id)
            if self.region is not None:
                validate_region(self.region)
            if not isinstance(self.cfw_conn_id, str) or not self.cfw_conn_id.strip():
                raise CfwConfigError(
                    "cfw_conn_id", "an Airflow connection id", got=show_value(self.cfw_conn_id)
                )
            for field, value, expected in (
                # NaN too; 0 is allowed, as for the sensor's poke_interval
                ("poll_interval", self.poll_interval, "a number of seconds, 0 or more"),
                ("poll_growth", self.poll_growth, "a share of the time waited, 0 or more (0: fixed)"),
                ("poll_cap", self.poll_cap, "a number of seconds, 0 or more"),
            ):
                if not value >= 0:
                    raise CfwConfigError(field, expected, got=show_value(value))
        except CfwConfigError as err:
            event = self._error_event(err, f"Invalid {type(self).__name__} argument")
            event.payload["invalid_field"] = err.field
            return event
        return None

    def _error_event(self, err: Exception, summary: str | None = None) -> TriggerEvent:
        api = err if isinstance(err, CfwApiError) else None
        payload: ErrorEventPayload = {
            "status": "error",
            **self.subject,  # type: ignore[typeddict-item]  # job_id or name
            "message": f"{summary or self.error_summary(err)}: {type(err).__name__}: {err}",
            "error_code": api.error_code if api else None,
            "request_id": api.request_id if api else None,
            "http_status": api.http_status if api else None,
            "retryable": isinstance(err, CfwError) and err.retryable,
        }
        return TriggerEvent(payload)

    async def _hold_for_scheduler(self) -> None:
        """Wait until the deferral is ``scheduler_hold`` seconds old, so the scheduler has drained the
        deferring try's executor event before this event queues the task again (Airflow's race; see
        :data:`SCHEDULER_HOLD_SECONDS`). Only a wait that ends that soon after deferring waits."""
        if self.deferred_at is None or self.task_instance is None:
            # Without a task instance no triggerer hands the event to a scheduler (dag.test() runs the
            # trigger inline and resumes the task itself): there is no race to hold off.
            return
        hold = SCHEDULER_HOLD_SECONDS if self.scheduler_hold is None else self.scheduler_hold
        remaining = self.deferred_at + hold - _time()
        if remaining > 0:
            self.log.info(
                "%s ended %.1f s after the task deferred; firing its event in %.1f s, once Airflow's "
                "scheduler has taken in the deferral",
                self.what,
                hold - remaining,
                remaining,
            )
            await _sleep(remaining)


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
