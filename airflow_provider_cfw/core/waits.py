"""How a CFW wait polls: one definition, read by the two loops that run it.

A wait is a kind (:class:`JobWait`, :class:`FirewallWait`, :class:`CreationWait`: what to ask at each poll and what the
answer means) and a pace (:class:`WaitPace`: the interval, the backoff after transient errors, the
grace for a job not visible yet, the deadline, the log lines a long wait leaves). Neither does I/O.
The two loops that run them are the only poll loops of the provider:

- :meth:`CfwHook.wait <airflow_provider_cfw.hooks.cfw.CfwHook.wait>`, in a worker (requests);
- :meth:`CfwPollingTrigger.run <airflow_provider_cfw.triggers.base.CfwPollingTrigger.run>`, on the
  triggerer (aiohttp).

Each loop runs the kind's call through the client, hands the answer (or the error) to the pace, and
either sleeps the delay it returns or ends with the :class:`Reading` or the error it returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Generic, Protocol, TypeVar

from airflow_provider_cfw.core.calls import Call, Plan
from airflow_provider_cfw.core.errors import CfwConfigError, CfwError, CfwJobNotFound
from airflow_provider_cfw.core.firewalls import (
    CREATE_FAILED,
    CREATING,
    DELETING,
    RUNNING,
    CfwFirewall,
    list_plan,
    named,
    with_id,
)
from airflow_provider_cfw.core.jobs import job_call
from airflow_provider_cfw.core.models import CfwJob, CfwJobStatus
from airflow_provider_cfw.core.poll_schedule import PollSchedule
from airflow_provider_cfw.core.rate_limit import is_paced_throttle

T = TypeVar("T")


class WaitLog(Protocol):
    """Where a wait's lines go: the hook's or the trigger's logger."""

    # Positional-only: Airflow 3's structlog logger names its first parameter ``event``.
    def info(self, msg: Any, /, *args: Any) -> Any: ...
    def warning(self, msg: Any, /, *args: Any) -> Any: ...


#: Longest pause between polls while riding out transient trouble (unless the interval is longer).
MAX_BACKOFF_SECONDS = 300.0
#: Consecutive polls that may fail transiently (each after the client's own retries) before giving up.
DEFAULT_MAX_TRANSIENT_ERRORS = 10
#: How long a fresh job may be invisible to List Job Status before "not found" is believed.
JOB_NOT_FOUND_GRACE_SECONDS = 60.0
#: How long a firewall whose creation job succeeded may stay out of ListFirewallList before a
#: :class:`CreationWait` ends without it (and its caller looks it up the slow way, as before).
LISTING_GRACE_SECONDS = 60.0
#: A wait whose status has not changed says it is still alive this often (one line per wait at most).
HEARTBEAT_SECONDS = 300.0

# Looked up at each call, so that tests can move the clock without waiting.
_monotonic = time.monotonic
_time = time.time


class Outcome(Enum):
    """What one poll says of the wait."""

    WAITING = "waiting"
    SUCCESS = "success"
    FAILED = "failed"


@dataclass(frozen=True)
class Reading(Generic[T]):
    """One poll's answer, read.

    :param outcome: keep waiting, or the wait's end.
    :param value: what was read (the job; the firewall, ``None`` when none is listed).
    :param status: how it stands, for the log (``Running``, ``creating``, ``not listed``).
    :param known: ``False`` for a status this provider does not know: waited on, warned about once.
    """

    outcome: Outcome
    value: T
    status: str
    known: bool = True


class CfwWaitTimeout(CfwError):
    """A wait in a worker ran out of its time (on the triggerer, Airflow's deferral timeout ends it).

    :param subject: what was waited for, e.g. ``CFW job <id>``.
    :param status: how it stood at the last poll.
    :param timeout: the time it had, in seconds.
    """

    def __init__(self, subject: str, status: str | None, timeout: float) -> None:
        self.subject, self.status, self.timeout = subject, status, timeout
        state = f"still {status}" if status else "not read once"
        super().__init__(f"{subject}: {state} after {timeout:.0f} s")


class CfwFirewallNameConflict(CfwError):
    """Several firewalls carry the name a wait or an operator looks for: it cannot pick one.

    :param name: the name.
    :param firewalls: the firewalls of that name.
    """

    def __init__(self, name: str, firewalls: list[CfwFirewall]) -> None:
        self.name, self.firewalls = name, firewalls
        ids = ", ".join(f"{f.id} ({f.status_text})" for f in firewalls)
        super().__init__(f"Several firewalls are named {name!r}: {ids}")


# ---- what an answer means --------------------------------------------------------------------------


def job_outcome(job: CfwJob) -> Reading[CfwJob]:
    """``Success`` and ``Failed`` end a job's wait; anything else, an unknown status too, waits."""
    if job.status is CfwJobStatus.SUCCESS:
        return Reading(Outcome.SUCCESS, job, job.status.value)
    if job.status is CfwJobStatus.FAILED:
        return Reading(Outcome.FAILED, job, job.status.value)
    return Reading(Outcome.WAITING, job, job.status.value, known=job.status.is_known)


class FirewallGoal(StrEnum):
    """What a firewall wait waits for."""

    #: Running (success) or create failed (failed): a prePaid order paid at once has no job to follow.
    RUNNING = "running"
    #: Neither creating nor deleting, or gone (success): a firewall found mid-change, not made here.
    SETTLED = "settled"
    #: Listed at all (success): a new firewall may be listed a little after its job ends.
    LISTED = "listed"


def firewall_outcome(
    listed: list[CfwFirewall],
    goal: FirewallGoal,
    *,
    name: str | None = None,
    firewall_id: str | None = None,
) -> Reading[CfwFirewall | None]:
    """The firewall called exactly ``name`` (or with exactly ``firewall_id``) in a listing, and what
    it means for ``goal``. Deleted records are left out.

    :raises CfwFirewallNameConflict: several firewalls have the name.
    """
    if firewall_id is not None:
        found = with_id(listed, firewall_id)
    else:
        matches = named(listed, name or "")
        if len(matches) > 1:
            raise CfwFirewallNameConflict(name or "", matches)
        found = matches[0] if matches else None
    status = found.status_text if found is not None else "not listed"
    if goal is FirewallGoal.LISTED:
        done = found is not None
    elif goal is FirewallGoal.SETTLED:
        done = found is None or found.status not in (CREATING, DELETING)
    else:
        if found is not None and found.status == CREATE_FAILED:
            return Reading(Outcome.FAILED, found, status)
        done = found is not None and found.status == RUNNING
    return Reading(Outcome.SUCCESS if done else Outcome.WAITING, found, status)


# ---- kinds of wait -------------------------------------------------------------------------------------


class WaitKind(Protocol[T]):
    """What a wait asks at each poll and what the answer means."""

    @property
    def subject(self) -> str:
        """What is waited for, as log lines and messages name it (``CFW job <id>``)."""
        ...

    def poll(self, endpoint: str, project_id: str) -> Call[Any] | Plan[Any]:
        """The call (or plan) of one poll."""
        ...

    def read(self, answer: Any) -> Reading[T]:
        """What the poll's answer means."""
        ...

    def not_visible_yet(self, err: CfwError) -> bool:
        """Whether ``err`` may only mean "not visible yet" (waited on until the grace deadline)."""
        ...


class JobWait:
    """Wait for a CFW job to succeed or fail (List Job Status).

    :param job_id: the job, already validated.
    """

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self._call: Call[CfwJob] | None = None

    @property
    def subject(self) -> str:
        return f"CFW job {self.job_id}"

    def poll(self, endpoint: str, project_id: str) -> Call[CfwJob]:
        # One call for the whole wait: the client signs it from cached parts at every poll.
        if self._call is None or self._call.project_id != project_id:
            self._call = job_call(endpoint, project_id, self.job_id)
        return self._call

    def read(self, answer: CfwJob) -> Reading[CfwJob]:
        return job_outcome(answer)

    def not_visible_yet(self, err: CfwError) -> bool:
        # A job that was just started may be invisible to List Job Status for a moment.
        return isinstance(err, CfwJobNotFound)


class FirewallWait:
    """Wait for a firewall, by exact name or id (ListFirewallList), to reach ``goal``.

    :param goal: what to wait for.
    :param name: the firewall's exact name (or ``firewall_id``), already validated.
    :param firewall_id: the firewall's id.
    :param enterprise_project_id: look only in this enterprise project.
    """

    def __init__(
        self,
        goal: FirewallGoal,
        *,
        name: str | None = None,
        firewall_id: str | None = None,
        enterprise_project_id: str | None = None,
    ) -> None:
        if (name is None) == (firewall_id is None):
            raise ValueError("a firewall wait needs exactly one of name and firewall_id")
        self.goal = goal
        self.name = name
        self.firewall_id = firewall_id
        self.enterprise_project_id = enterprise_project_id

    @property
    def subject(self) -> str:
        return f"Firewall {self.name!r}" if self.name is not None else f"Firewall {self.firewall_id}"

    def poll(self, endpoint: str, project_id: str) -> Plan[list[CfwFirewall]]:
        return list_plan(
            endpoint,
            project_id,
            key_word=self.name if self.name is not None else self.firewall_id,
            enterprise_project_id=self.enterprise_project_id,
        )

    def read(self, answer: list[CfwFirewall]) -> Reading[CfwFirewall | None]:
        return firewall_outcome(answer, self.goal, name=self.name, firewall_id=self.firewall_id)

    def not_visible_yet(self, err: CfwError) -> bool:
        return False


def validate_poll_growth(value: object) -> float:
    """A task's ``poll_growth``: a share of the time waited, 0 (a fixed interval) or more."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise CfwConfigError(
            "poll_growth", "a share of the time waited, 0 or more (0: a fixed interval)", got=repr(value)
        )
    return float(value)


@dataclass(frozen=True)
class Creation:
    """A firewall creation as a :class:`CreationWait` last read it.

    :param job: the creation job.
    :param firewall: the firewall of that name, once listed after the job succeeded; ``None`` before,
        when the job failed, and when it was not listed in time or several carry the name (the caller
        then decides, as it would without this wait).
    """

    job: CfwJob
    firewall: CfwFirewall | None = None


class CreationWait:
    """Wait for a firewall's creation job, then until the new firewall is listed by its name.

    Each poll reads the job (List Job Status) and, once it has succeeded, in the same poll lists the
    firewalls of that name (ListFirewallList, in the same scope). A failed job ends the wait
    ``FAILED``; a listed firewall ends it ``SUCCESS``. A firewall still not listed
    :data:`LISTING_GRACE_SECONDS` after the job's success, or a name several firewalls carry, ends it
    ``SUCCESS`` without a firewall.

    :param job_id: the creation job, already validated.
    :param name: the firewall's exact name, already validated.
    :param enterprise_project_id: look only in this enterprise project.
    :param listing_grace: seconds a succeeded job's firewall may stay unlisted; ``None``:
        :data:`LISTING_GRACE_SECONDS`.
    """

    def __init__(
        self,
        job_id: str,
        name: str,
        *,
        enterprise_project_id: str | None = None,
        listing_grace: float | None = None,
    ) -> None:
        self.job_id = job_id
        self._job = JobWait(job_id)
        self.name = name
        self.enterprise_project_id = enterprise_project_id
        self.listing_grace = LISTING_GRACE_SECONDS if listing_grace is None else listing_grace
        #: Wall-clock time until which a succeeded job's firewall may be missing from the list.
        self.listed_by: float | None = None

    @property
    def subject(self) -> str:
        return f"CFW job {self.job_id}"

    def poll(self, endpoint: str, project_id: str) -> Plan[tuple[CfwJob, list[CfwFirewall] | None]]:
        # The job's call is built once for the wait (JobWait's): signed from cached parts at every poll.
        job: CfwJob = yield self._job.poll(endpoint, project_id)
        if job.status is not CfwJobStatus.SUCCESS:
            return job, None
        listed = yield from list_plan(
            endpoint, project_id, key_word=self.name, enterprise_project_id=self.enterprise_project_id
        )
        return job, listed

    def read(self, answer: tuple[CfwJob, list[CfwFirewall] | None]) -> Reading[Creation]:
        job, listed = answer
        reading = job_outcome(job)
        if reading.outcome is not Outcome.SUCCESS or listed is None:
            return Reading(reading.outcome, Creation(job), reading.status, reading.known)
        try:
            found = firewall_outcome(listed, FirewallGoal.LISTED, name=self.name).value
        except CfwFirewallNameConflict:
            return Reading(Outcome.SUCCESS, Creation(job), "Success, several firewalls of the name")
        if found is not None:
            return Reading(Outcome.SUCCESS, Creation(job, found), f"Success, {found.status_text}")
        now = _time()
        if self.listed_by is None:
            self.listed_by = now + self.listing_grace
        if now >= self.listed_by:
            return Reading(Outcome.SUCCESS, Creation(job), "Success, firewall not listed")
        return Reading(Outcome.WAITING, Creation(job), f"Success, firewall {self.name!r} not listed yet")

    def not_visible_yet(self, err: CfwError) -> bool:
        return isinstance(err, CfwJobNotFound)


# ---- the pace ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step(Generic[T]):
    """What a loop does after a poll: sleep ``delay`` and poll again, or end with ``reading`` or ``error``."""

    delay: float = 0.0
    reading: Reading[T] | None = None
    error: Exception | None = None

    @property
    def ends(self) -> bool:
        return self.reading is not None or self.error is not None


class WaitPace(Generic[T]):
    """The pace of one wait, and the lines it logs: shared by the sync and the async loop.

    - A throttle that the identity's limiter already retried and paced is neither a failure nor
      counted: the next poll simply waits its turn (:mod:`~airflow_provider_cfw.core.rate_limit`).
    - A transient error (one the client's own retries did not cure) does not end the wait: the next
      poll backs off, doubling from ``poll_interval`` up to :data:`MAX_BACKOFF_SECONDS` (or the
      interval, if longer), never shorter than a ``Retry-After``; only ``max_transient_errors``
      failed polls in a row end it. Any other error ends it at once.
    - "Not visible yet" (:meth:`WaitKind.not_visible_yet`) is waited on until ``not_found_deadline``
      (wall clock: a trigger may resume on another host), then ends the wait.
    - ``timeout`` (seconds from the first poll) ends a wait in a worker with :class:`CfwWaitTimeout`;
      on the triggerer Airflow's deferral timeout does that, and it is ``None``.
    - The log gets the first status (unless the deferring task logged it: ``last_status``), each
      change, one warning for an unknown status, and a heartbeat when nothing changed for
      :data:`HEARTBEAT_SECONDS`; never a line per poll. The end has no line: the caller says it.

    :param kind: what the wait asks and how to read it.
    :param log: where its lines go (the hook's or the trigger's logger).
    :param poll_interval: seconds between polls.
    :param max_transient_errors: transient failures in a row tolerated before giving up.
    :param not_found_deadline: wall-clock time until which "not visible yet" is waited on.
    :param timeout: seconds the wait may take, or ``None``.
    :param last_status: the status the deferring task read and logged already.
    :param schedule: a poll schedule that grows the pause with the time waited
        (:class:`~airflow_provider_cfw.core.poll_schedule.PollSchedule`); ``None``: every pause
        is ``poll_interval``.
    """

    def __init__(
        self,
        kind: WaitKind[T],
        log: WaitLog,
        *,
        poll_interval: float,
        max_transient_errors: int = DEFAULT_MAX_TRANSIENT_ERRORS,
        not_found_deadline: float | None = None,
        timeout: float | None = None,
        last_status: str | None = None,
        schedule: PollSchedule | None = None,
    ) -> None:
        self.kind = kind
        self.schedule = schedule
        self.log = log
        self.poll_interval = poll_interval
        self.max_transient_errors = max_transient_errors
        self.not_found_deadline = not_found_deadline
        self.timeout = timeout
        self.polls = 0
        self.transient_errors = 0
        self.status = last_status
        self._warned_unknown = False
        self.started = self._last_line = _monotonic()

    def after(self, answer: Any) -> Step[T]:
        """The step after a poll that was answered."""
        self.polls += 1
        self.transient_errors = 0
        reading = self.kind.read(answer)
        if reading.outcome is not Outcome.WAITING:
            return Step(reading=reading)
        self._log_progress(reading)
        return self._next(self._pause())

    def after_error(self, err: CfwError) -> Step[T]:
        """The step after a poll that failed with ``err``."""
        self.polls += 1
        subject = self.kind.subject
        if is_paced_throttle(err):
            # The account's API limit, not a failure of the wait: the next poll waits its turn.
            return self._next(0.0)
        if self.kind.not_visible_yet(err):
            if self.not_found_deadline is not None and _time() < self.not_found_deadline:
                self.log.info("%s not visible yet; waiting", subject)
                return self._next(self.poll_interval)
            return Step(error=err)
        if not err.retryable or self.transient_errors >= self.max_transient_errors:
            return Step(error=err)
        self.transient_errors += 1
        delay = self._backoff(err)
        self.log.warning(
            "Transient error polling %s (%s/%s), next poll in %.1f s: %s",
            subject,
            self.transient_errors,
            self.max_transient_errors,
            delay,
            err,
        )
        return self._next(delay)

    def _pause(self) -> float:
        if self.schedule is None:
            return self.poll_interval
        elapsed = _monotonic() - self.started
        remaining = None if self.timeout is None else self.timeout - elapsed
        return self.schedule.next_delay(elapsed, remaining=remaining)

    def _next(self, delay: float) -> Step[T]:
        if self.timeout is not None and _monotonic() - self.started + delay > self.timeout:
            return Step(error=CfwWaitTimeout(self.kind.subject, self.status, self.timeout))
        return Step(delay=delay)

    def _backoff(self, err: CfwError) -> float:
        cap = max(self.poll_interval, MAX_BACKOFF_SECONDS)
        delay = min(self.poll_interval * 2 ** (self.transient_errors - 1), cap)
        retry_after = getattr(err, "retry_after", None)
        return max(delay, retry_after or 0.0)

    def _log_progress(self, reading: Reading[T]) -> None:
        subject, status = self.kind.subject, reading.status
        if not reading.known and not self._warned_unknown:
            self._warned_unknown = True
            self.log.warning("%s has unknown status %r; treating it as still running", subject, status)
        # Called on every poll, and most polls log nothing.
        now = _monotonic()
        if status == self.status and now - self._last_line < HEARTBEAT_SECONDS:
            return
        if self.status is None:
            self.log.info("%s is %s", subject, status)
        elif status != self.status:
            self.log.info("%s is now %s (was %s)", subject, status, self.status)
        else:
            minutes = (now - self.started) / 60
            self.log.info("%s still %s after %.0f min, %d polls", subject, status, minutes, self.polls)
        self.status = status
        self._last_line = now
